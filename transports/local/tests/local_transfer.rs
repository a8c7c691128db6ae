//! End to end: walker -> need list -> plans -> transport -> finish, wired by
//! hand, on a tree with every kind of entry this transport carries.

use blit_api::{
    manifest_channel, need_channel, plan_channel, Landing, ManifestSource, NeedListSink, PayloadPlan, PayloadReader,
    PayloadTransport, PayloadWriter, ProgressEvent, RecordingSink, TransferOptions,
};
use blit_transport_local::{LocalDestination, LocalSource, LocalTransport};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

// The public types implement the roles they claim.
const _: fn() = || {
    fn is_transport<T: PayloadTransport + 'static>() {}
    fn is_source<T: ManifestSource + PayloadReader + 'static>() {}
    fn is_destination<T: NeedListSink + PayloadWriter + 'static>() {}
    is_transport::<LocalTransport>();
    is_source::<LocalSource>();
    is_destination::<LocalDestination>();
};

/// Sets mtime (with nanoseconds) without following symlinks.
fn set_mtime(path: &Path, ns: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let times = [
        libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        libc::timespec { tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000 },
    ];
    // SAFETY: a valid C path and two timespecs.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

fn file(path: &Path, content: &[u8], mode: u32, mtime: i64) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    set_mtime(path, mtime);
}

fn big() -> Vec<u8> {
    (0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// Builds the source tree. Directory metadata is set last, after children.
fn source_tree(src: &Path) {
    std::fs::create_dir_all(src.join("a/b/c")).unwrap();
    std::fs::create_dir_all(src.join("empty/nested_empty")).unwrap();
    std::fs::create_dir(src.join("locked")).unwrap();
    std::fs::create_dir(src.join(OsStr::from_bytes(b"caf\xe9"))).unwrap();
    file(&src.join("a/readonly"), b"read only", 0o444, 1_600_000_000_111_111_111);
    file(&src.join("a/exec"), b"#!/bin/sh\necho hi\n", 0o755, 1_600_000_000_222_222_222);
    file(&src.join("a/b/private"), b"secret", 0o600, 1_600_000_000_333_333_333);
    file(&src.join("a/b/c/big"), &big(), 0o644, 1_600_000_000_444_444_444);
    file(&src.join("a/b/c/empty_file"), b"", 0o644, 1_600_000_000_555_555_555);
    file(&src.join("locked/inside"), b"in a 0555 dir", 0o640, 1_600_000_000_666_666_666);
    file(&src.join(OsStr::from_bytes(b"caf\xe9/n\xffme")), b"latin-1", 0o644, 1_600_000_000_777_777_777);
    let links: [(&str, &[u8]); 4] = [
        ("a/rel_link", b"../a/exec"),
        ("a/b/dangling", b"does/not/exist"),
        ("abs_link", b"/"),
        ("a/bin_link", b"t\x80rget"),
    ];
    for (i, (name, target)) in links.iter().enumerate() {
        let p = src.join(name);
        std::os::unix::fs::symlink(OsStr::from_bytes(target), &p).unwrap();
        set_mtime(&p, 1_500_000_000_000_000_001 + i as i64);
    }
    let dirs = [
        ("a/b/c", 0o755, 1_400_000_000_000_000_003),
        ("a/b", 0o700, 1_400_000_000_000_000_002),
        ("a", 0o755, 1_400_000_000_000_000_001),
        ("empty/nested_empty", 0o750, 1_400_000_000_000_000_005),
        ("empty", 0o755, 1_400_000_000_000_000_004),
        ("locked", 0o555, 1_400_000_000_000_000_006),
        ("", 0o755, 1_400_000_000_000_000_007),
    ];
    for (name, mode, mtime) in dirs {
        let p = if name.is_empty() { src.to_path_buf() } else { src.join(name) };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        set_mtime(&p, mtime);
    }
}

/// Every entry (and the root) as kind, mode, mtime and content or target.
fn describe(root: &Path) -> BTreeMap<Vec<u8>, String> {
    fn visit(path: &Path, rel: Vec<u8>, out: &mut BTreeMap<Vec<u8>, String>) {
        let m = std::fs::symlink_metadata(path).unwrap();
        let times = format!("{:o} {}.{:09}", m.mode() & 0o7777, m.mtime(), m.mtime_nsec());
        if m.file_type().is_symlink() {
            let target = std::fs::read_link(path).unwrap();
            out.insert(rel, format!("link {:?} {}.{:09}", target.as_os_str().as_bytes(), m.mtime(), m.mtime_nsec()));
        } else if m.is_file() {
            let content = std::fs::read(path).unwrap();
            out.insert(rel, format!("file {times} {}", blake3::hash(&content)));
        } else {
            out.insert(rel.clone(), format!("dir {times}"));
            for entry in std::fs::read_dir(path).unwrap() {
                let entry = entry.unwrap();
                let mut child = rel.clone();
                if !child.is_empty() {
                    child.push(b'/');
                }
                child.extend_from_slice(entry.file_name().as_bytes());
                visit(&entry.path(), child, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    visit(root, Vec::new(), &mut out);
    out
}

/// One transfer; returns the events, the number of needed files and the
/// number of deletions.
async fn transfer(src: &Path, dst: &Path, options: &TransferOptions) -> (Vec<ProgressEvent>, usize, u64) {
    let source = Arc::new(LocalSource::new(src.to_path_buf()));
    let dest = Arc::new(LocalDestination::new(dst.to_path_buf()));
    let transport: Arc<dyn PayloadTransport> = Arc::new(LocalTransport::new());
    let events = RecordingSink::new();
    let (mtx, mrx) = manifest_channel();
    let (ntx, mut nrx) = need_channel();
    let (ptx, prx) = plan_channel();
    let plan = async move {
        let mut needed = 0;
        while let Some(batch) = nrx.recv().await {
            if batch.is_end() {
                break;
            }
            for header in batch.files {
                needed += 1;
                ptx.send(PayloadPlan::File(header)).await.unwrap();
            }
        }
        needed
    };
    let landing = Landing::new(dest.clone(), events.clone());
    let (walked, judged, needed, sent, received) = tokio::join!(
        source.manifest(options, mtx),
        dest.need_list(options, mrx, ntx, events.clone()),
        plan,
        transport.send(prx, source.clone()),
        transport.receive(landing),
    );
    walked.unwrap();
    judged.unwrap();
    sent.unwrap();
    received.unwrap();
    let deleted = dest.finish(options, events.clone()).await.unwrap();
    (events.events(), needed, deleted)
}

/// Every started entry ends exactly once, and nothing failed.
fn check_events(events: &[ProgressEvent]) {
    let mut open = HashMap::new();
    for e in events {
        match e {
            ProgressEvent::FileStarted { path, .. } => {
                assert!(open.insert(path.clone(), ()).is_none(), "{path:?} twice")
            }
            ProgressEvent::FileDone { path, .. } => assert!(open.remove(path).is_some(), "{path:?} done, not started"),
            ProgressEvent::FileFailed { path, message, .. } => panic!("{path:?} failed: {message}"),
            _ => {}
        }
    }
    assert!(open.is_empty(), "never finished: {open:?}");
    let complete = events.iter().filter(|e| matches!(e, ProgressEvent::ManifestComplete { complete: true, .. }));
    assert_eq!(complete.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copies_a_tree_exactly_and_a_second_run_needs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("out/dst"));
    std::fs::create_dir(&src).unwrap();
    source_tree(&src);
    let expected = describe(&src);
    assert_eq!(expected.len(), 19, "{expected:?}");

    let options = TransferOptions::new();
    let (events, needed, _) = transfer(&src, &dst, &options).await;
    check_events(&events);
    assert_eq!(needed, 7, "every regular file");
    assert_eq!(describe(&dst), expected);
    let zero_copy: u64 = events
        .iter()
        .map(|e| match e {
            ProgressEvent::FileBytes { bytes, zero_copy: true, .. } => *bytes,
            _ => 0,
        })
        .sum();
    assert!(zero_copy >= big().len() as u64, "copy_file_range carried the payload ({zero_copy} bytes)");

    let (events, needed, _) = transfer(&src, &dst, &options).await;
    check_events(&events);
    assert_eq!(needed, 0);
    assert!(!events.iter().any(|e| matches!(e, ProgressEvent::FileStarted { .. })), "{events:?}");
    assert_eq!(describe(&dst), expected);

    // A change inside the read-only directory, an extra entry, checksum and
    // mirror: the destination converges again.
    let locked = src.join("locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    file(&locked.join("inside"), b"changed, same mtime", 0o640, 1_600_000_000_666_666_666);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    set_mtime(&locked, 1_400_000_000_000_000_006);
    std::fs::write(dst.join("a/extra"), b"extra").unwrap();
    let options = TransferOptions::new().checksum(true).mirror(true);
    let (events, needed, deleted) = transfer(&src, &dst, &options).await;
    check_events(&events);
    assert_eq!((needed, deleted), (1, 1));
    assert_eq!(describe(&dst), describe(&src));
}
