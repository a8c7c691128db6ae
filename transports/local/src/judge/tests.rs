use super::*;
use crate::meta;
use crate::testutil::{header, judge, mode, mtime, write};
use crate::LocalDestination;
use blit_api::{FileFailure, ManifestItem, NeedListSink};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

fn root_dir() -> ManifestItem {
    ManifestItem::Entry(header("", FileKind::Dir, 0, 1_000, 0o755))
}

fn file(path: &str, size: u64, mtime_ns: i64, mode: u32) -> ManifestItem {
    ManifestItem::Entry(header(path, FileKind::File, size, mtime_ns, mode))
}

fn link(path: &str, target: &str, mtime_ns: i64) -> ManifestItem {
    let mut h = header(path, FileKind::Symlink, target.len() as u64, mtime_ns, 0o777);
    h.link_target = Some(target.as_bytes().to_vec());
    ManifestItem::Entry(h)
}

fn failures(events: &[ProgressEvent]) -> Vec<(String, ErrorKind)> {
    events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::FileFailed { path, kind, .. } => Some((path.display(), *kind)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn files_are_needed_when_missing_or_size_or_mtime_differ_and_mode_is_fixed_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("same"), b"abc", 0o644, 10);
    write(&d.join("size"), b"abcd", 0o644, 10);
    write(&d.join("mtime"), b"abc", 0o644, 11);
    write(&d.join("mode"), b"abc", 0o600, 10);
    std::os::unix::fs::symlink("same", d.join("was_link")).unwrap();
    std::fs::create_dir(d.join("was_dir")).unwrap();
    let dest = LocalDestination::new(d.to_path_buf());
    let items = vec![
        root_dir(),
        file("same", 3, 10, 0o644),
        file("size", 3, 10, 0o644),
        file("mtime", 3, 10, 0o644),
        file("mode", 3, 10, 0o640),
        file("missing", 3, 10, 0o644),
        file("was_link", 3, 10, 0o644),
        file("was_dir", 3, 10, 0o644),
        ManifestItem::End,
    ];
    let judged = judge(&dest, &TransferOptions::new(), items).await;
    assert_eq!(judged.needed(), ["size", "mtime", "missing", "was_link"]);
    assert_eq!(mode(&d.join("mode")), 0o640, "mode-only difference is fixed in place");
    assert_eq!(std::fs::read(d.join("mode")).unwrap(), b"abc");
    assert_eq!(failures(&judged.events()), [("was_dir".to_owned(), ErrorKind::AlreadyExists)]);
    assert!(d.join("was_dir").is_dir(), "a directory in the way is never removed");
}

#[tokio::test]
async fn checksum_mode_compares_content() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("differs"), b"abc", 0o644, 10);
    write(&d.join("equal"), b"xyz", 0o644, 99);
    let dest = LocalDestination::new(d.to_path_buf());
    let with_sum = |path: &str, content: &[u8]| {
        let mut h = header(path, FileKind::File, content.len() as u64, 10, 0o644);
        h.checksum = Some(*blake3::hash(content).as_bytes());
        ManifestItem::Entry(h)
    };
    let items = || vec![root_dir(), with_sum("differs", b"ABC"), with_sum("equal", b"xyz"), ManifestItem::End];

    // Without checksum mode, equal size and mtime mean equal.
    let judged = judge(&dest, &TransferOptions::new(), items()[..2].to_vec()).await;
    assert!(judged.needed().is_empty());

    let judged = judge(&dest, &TransferOptions::new().checksum(true), items()).await;
    assert_eq!(judged.needed(), ["differs"], "same size, same mtime, other content is needed");
    assert_eq!(mtime(&d.join("equal")), 10, "equal content only gets its mtime fixed");
    assert_eq!(std::fs::read(d.join("equal")).unwrap(), b"xyz");
}

#[tokio::test]
async fn creates_directories_and_symlinks_and_replaces_what_is_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("file_where_dir_goes"), b"x", 0o644, 1);
    std::os::unix::fs::symlink("old", d.join("retarget")).unwrap();
    std::os::unix::fs::symlink("keep", d.join("same")).unwrap();
    meta::set_mtime_nofollow(&d.join("same"), 5).unwrap();
    let same_ino = std::fs::symlink_metadata(d.join("same")).unwrap().ino();
    std::fs::create_dir(d.join("dir_where_link_goes")).unwrap();
    let dest = LocalDestination::new(d.to_path_buf());
    let items = vec![
        root_dir(),
        ManifestItem::Entry(header("new", FileKind::Dir, 0, 7, 0o555)),
        file("new/child", 1, 1, 0o644),
        link("new/l", "../x", 123_456_789),
        ManifestItem::Entry(header("file_where_dir_goes", FileKind::Dir, 0, 7, 0o755)),
        link("retarget", "new", 42),
        link("same", "keep", 5),
        link("dir_where_link_goes", "x", 5),
        ManifestItem::End,
    ];
    let judged = judge(&dest, &TransferOptions::new(), items).await;
    assert_eq!(judged.needed(), ["new/child"]);
    assert!(d.join("new").is_dir());
    assert_eq!(mode(&d.join("new")), 0o700, "writable until finish sets the final mode");
    assert!(d.join("file_where_dir_goes").is_dir());
    assert_eq!(std::fs::read_link(d.join("new/l")).unwrap(), Path::new("../x"));
    assert_eq!(mtime(&d.join("new/l")), 123_456_789);
    assert_eq!(std::fs::read_link(d.join("retarget")).unwrap(), Path::new("new"));
    assert_eq!(mtime(&d.join("retarget")), 42);
    assert_eq!(std::fs::symlink_metadata(d.join("same")).unwrap().ino(), same_ino, "an equal link is left alone");
    assert_eq!(failures(&judged.events()), [("dir_where_link_goes".to_owned(), ErrorKind::AlreadyExists)]);
    let done: Vec<_> = judged
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::FileDone { path, kind, bytes } => Some((path.display(), kind, bytes)),
            _ => None,
        })
        .collect();
    assert_eq!(
        done,
        [
            ("new".to_owned(), FileKind::Dir, 0),
            ("new/l".to_owned(), FileKind::Symlink, 0),
            ("file_where_dir_goes".to_owned(), FileKind::Dir, 0),
            ("retarget".to_owned(), FileKind::Symlink, 0),
        ]
    );
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().as_bytes().starts_with(b".blit."))
        .collect();
    assert!(leftovers.is_empty(), "no temporary symlink is left behind");
}

#[tokio::test]
async fn a_missing_root_is_created_with_its_parents() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/dest");
    let dest = LocalDestination::new(root.clone());
    let judged =
        judge(&dest, &TransferOptions::new(), vec![root_dir(), file("f", 1, 1, 0o644), ManifestItem::End]).await;
    assert!(root.is_dir());
    assert_eq!(judged.needed(), ["f"]);
}

#[tokio::test]
async fn source_failures_are_reported_and_make_the_manifest_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let failure = FileFailure {
        path: RelPath::from_bytes(b"sock".to_vec()).unwrap(),
        kind: ErrorKind::Unsupported,
        message: "a socket is not copied".to_owned(),
    };
    let items = vec![root_dir(), ManifestItem::Failed(failure), ManifestItem::End];
    let judged = judge(&dest, &TransferOptions::new(), items).await;
    let events = judged.events();
    let started =
        events.iter().position(|e| matches!(e, ProgressEvent::FileStarted { path, .. } if path.as_bytes() == b"sock"));
    let failed =
        events.iter().position(|e| matches!(e, ProgressEvent::FileFailed { path, .. } if path.as_bytes() == b"sock"));
    assert!(started.unwrap() < failed.unwrap());
    assert!(events.contains(&ProgressEvent::ManifestComplete { entries: 1, bytes: 0, complete: false }));
}

#[tokio::test]
async fn entries_outside_announced_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (d, outside) = (dir.path().join("dst"), dir.path().join("outside"));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir(&d).unwrap();
    let dest = LocalDestination::new(d.clone());
    let items = vec![
        root_dir(),
        // A hostile manifest: a symlink, then entries "inside" it.
        link("evil", outside.to_str().unwrap(), 1),
        file("evil/passwd", 1, 1, 0o644),
        ManifestItem::Entry(header("evil/sub", FileKind::Dir, 0, 1, 0o755)),
        link("never/announced", "x", 1),
        ManifestItem::Entry(header("done", FileKind::Dir, 0, 1, 0o755)),
        ManifestItem::DirDone(RelPath::from_bytes(b"done".to_vec()).unwrap()),
        file("done/late", 1, 1, 0o644),
        ManifestItem::End,
    ];
    let judged = judge(&dest, &TransferOptions::new(), items).await;
    assert!(judged.needed().is_empty(), "{:?}", judged.needed());
    let mut failed = failures(&judged.events());
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        failed,
        [
            ("done/late".to_owned(), ErrorKind::Protocol),
            ("evil/passwd".to_owned(), ErrorKind::Protocol),
            ("evil/sub".to_owned(), ErrorKind::Protocol),
            ("never/announced".to_owned(), ErrorKind::Protocol),
        ]
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing was written through the symlink");
}

#[tokio::test]
async fn children_of_a_directory_that_cannot_be_made_fail_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dest = LocalDestination::new(d.to_path_buf());
    // A NUL-free name that mkdir refuses: longer than NAME_MAX. A peer's
    // manifest cannot carry it (RelPath::from_bytes refuses it), so it is
    // built with `join`, as a local walker would.
    let long = "x".repeat(300);
    let path = RelPath::root().join(long.as_bytes());
    let dir_header = FileHeader { path: path.clone(), ..header("d", FileKind::Dir, 0, 1, 0o755) };
    let file_header = FileHeader { path: path.join(b"f"), ..header("f", FileKind::File, 1, 1, 0o644) };
    let items = vec![root_dir(), ManifestItem::Entry(dir_header), ManifestItem::Entry(file_header), ManifestItem::End];
    let judged = judge(&dest, &TransferOptions::new(), items).await;
    assert!(judged.needed().is_empty());
    let failed = failures(&judged.events());
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[1], (format!("{long}/f"), ErrorKind::NotFound));
}

#[tokio::test]
async fn a_destination_root_that_is_a_symlink_to_a_directory_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    write(&real.join("extra"), b"x", 0o644, 1);
    let link_root = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link_root).unwrap();
    let dest = LocalDestination::new(link_root.clone());
    let options = TransferOptions::new().mirror(true);
    let items = vec![
        root_dir(),
        ManifestItem::Entry(header("sub", FileKind::Dir, 0, 1, 0o755)),
        ManifestItem::DirDone(RelPath::from_bytes(b"sub".to_vec()).unwrap()),
        ManifestItem::DirDone(RelPath::root()),
        ManifestItem::End,
    ];
    judge(&dest, &options, items).await;
    assert!(std::fs::symlink_metadata(&link_root).unwrap().file_type().is_symlink(), "the root link stays");
    assert!(real.join("sub").is_dir());
    let events = blit_api::RecordingSink::new();
    assert_eq!(dest.finish(&options, events.clone()).await.unwrap(), 1);
    assert!(!real.join("extra").exists(), "mirror works through the root link");
    assert_eq!(mtime(&real), 1_000, "the root's metadata lands on the directory");
}

#[tokio::test]
async fn a_policy_without_set_id_clears_the_bits_in_place_on_directories_and_in_needs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Up to date but for its mode, which an earlier, trusting run kept.
    write(&d.join("same"), b"abc", 0o4755, 10);
    let strict = crate::DestinationPolicy::default().setid(false).owner(false);
    let dest = LocalDestination::new(d.to_path_buf()).with_policy(strict);
    let mut owned = header("new", FileKind::File, 3, 10, 0o6750);
    owned.uid = Some(4321);
    let items = vec![
        root_dir(),
        file("same", 3, 10, 0o4755),
        ManifestItem::Entry(header("shared", FileKind::Dir, 0, 1, 0o3775)),
        ManifestItem::Entry(owned),
        ManifestItem::End,
    ];
    let options = TransferOptions::new();
    let judged = judge(&dest, &options, items).await;
    assert_eq!(judged.needed(), ["new"], "a mode difference alone is fixed in place");
    let needed = &judged.batches[0].files[0];
    assert_eq!((needed.mode, needed.uid), (0o750, None), "the need list carries the admitted header");
    assert_eq!(mode(&d.join("same")), 0o755);
    dest.finish(&options, blit_api::RecordingSink::new()).await.unwrap();
    assert_eq!(mode(&d.join("shared")), 0o1775, "set-group-ID cleared, sticky kept");

    // The default policy keeps every bit.
    let trusting = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(trusting.path().to_path_buf());
    let items = vec![root_dir(), ManifestItem::Entry(header("shared", FileKind::Dir, 0, 1, 0o3775)), ManifestItem::End];
    judge(&dest, &options, items).await;
    dest.finish(&options, blit_api::RecordingSink::new()).await.unwrap();
    assert_eq!(mode(&trusting.path().join("shared")), 0o3775);
}

/// Feeds `items` to `dest.need_list`; the judge's own result.
async fn judge_result(
    dest: &LocalDestination,
    options: &TransferOptions,
    items: Vec<ManifestItem>,
) -> blit_api::Result<()> {
    let (mtx, mrx) = blit_api::manifest_channel();
    let (ntx, mut nrx) = blit_api::need_channel();
    let feed = tokio::spawn(async move {
        for item in items {
            if mtx.send(item).await.is_err() {
                break;
            }
        }
    });
    let drain = tokio::spawn(async move { while nrx.recv().await.is_some() {} });
    let result = dest.need_list(options, mrx, ntx, blit_api::RecordingSink::new() as Events).await;
    feed.abort();
    drain.abort();
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_that_never_finish_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let options = TransferOptions::new().dry_run(true);
    let name = |i: usize| format!("{i:0>250}");
    let n = budget::MAX_PENDING_BYTES / (250 + budget::ENTRY_COST) + 10;
    let hostile: Vec<_> = std::iter::once(root_dir())
        .chain((0..n).map(|i| ManifestItem::Entry(header(&name(i), FileKind::Dir, 0, 1, 0o755))))
        .collect();
    let e = judge_result(&dest, &options, hostile).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(e.to_string().contains("DirDone"), "{e}");
    // The same directories, each finished before the next: nothing held.
    let honest: Vec<_> = std::iter::once(root_dir())
        .chain((0..n).flat_map(|i| {
            let h = header(&name(i), FileKind::Dir, 0, 1, 0o755);
            [ManifestItem::Entry(h.clone()), ManifestItem::DirDone(h.path)]
        }))
        .chain([ManifestItem::DirDone(RelPath::root()), ManifestItem::End])
        .collect();
    judge_result(&dest, &options, honest).await.unwrap();
}
