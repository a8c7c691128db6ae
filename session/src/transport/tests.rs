use super::*;
use crate::receive::receive_all;
use crate::CHUNK_SIZE;
use blit_api::ErrorKind;
use blit_api::{
    plan_channel, FileHeader, FileKind, PayloadPlan, ProgressEvent, RecordingSink, RelPath, TransferOptions,
};
use blit_engine::{run_local, DestinationRoles, LocalTransfer, SourceRoles};
use blit_proto::pb::payload_record::Record;
use blit_transport_local::{LocalDestination, LocalSource};
use prost::bytes::Bytes;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

const _: fn() = || {
    fn is_transport<T: PayloadTransport>() {}
    is_transport::<GrpcTransport>();
};

fn write(path: &Path, len: usize, seed: u8) {
    let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
    std::fs::write(path, data).unwrap();
}

/// A tree with every kind of entry the payload cares about.
fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("small")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for i in 0..40 {
        write(&root.join(format!("small/f{i}")), i * 97, i as u8);
    }
    write(&root.join("zero"), 0, 0);
    write(&root.join("big"), 3 * CHUNK_SIZE + 123, 7);
    write(&root.join(std::ffi::OsStr::from_bytes(b"odd \xff\n")), 10, 1);
    symlink("small/f1", root.join("link")).unwrap();
    std::fs::set_permissions(root.join("zero"), std::fs::Permissions::from_mode(0o640)).unwrap();
}

/// Kind, mode, mtime, content or target of every entry, sorted.
fn snapshot(root: &Path) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().as_os_str().as_bytes().to_vec();
            let what = if m.is_dir() {
                stack.push(path.clone());
                format!("dir {:o} {}.{}", m.mode() & 0o7777, m.mtime(), m.mtime_nsec())
            } else if m.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).unwrap())
            } else {
                let sum = blake3::hash(&std::fs::read(&path).unwrap());
                format!("file {:o} {}.{} {sum}", m.mode() & 0o7777, m.mtime(), m.mtime_nsec())
            };
            out.push((rel, what));
        }
    }
    out.sort();
    out
}

async fn copy(src: &Path, dst: &Path, transport: Arc<dyn PayloadTransport>) -> Vec<ProgressEvent> {
    let source = Arc::new(LocalSource::new(src.to_path_buf()));
    let destination = Arc::new(LocalDestination::new(dst.to_path_buf()));
    let transfer = LocalTransfer {
        source: SourceRoles { source: source.clone(), reader: source },
        destination: DestinationRoles { sink: destination.clone(), writer: destination },
        transport,
        options: TransferOptions::new(),
    };
    let events = RecordingSink::new();
    let summary = run_local(transfer, events.clone()).await.unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    events.events()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_lands_an_identical_tree() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    tree(&src);
    let events = copy(&src, &t.path().join("dst"), Arc::new(GrpcTransport::loopback())).await;
    assert_eq!(snapshot(&src), snapshot(&t.path().join("dst")));
    let bytes =
        |events: &[ProgressEvent]| events.iter().filter(|e| matches!(e, ProgressEvent::FileBytes { .. })).count();
    // The big file arrives in 1 MiB steps.
    assert!(bytes(&events) >= 4, "{events:?}");
    let events = copy(&src, &t.path().join("dst"), Arc::new(GrpcTransport::loopback())).await;
    assert_eq!(bytes(&events), 0, "a second run transfers nothing");
}

fn landing(dst: &Path) -> (Landing, Arc<RecordingSink>) {
    let events = RecordingSink::new();
    (Landing::new(Arc::new(LocalDestination::new(dst.to_path_buf())), events.clone()), events)
}

fn file_header(path: &[u8], size: u64) -> FileHeader {
    FileHeader {
        path: RelPath::from_bytes(path.to_vec()).unwrap(),
        kind: FileKind::File,
        size,
        mtime_ns: 1_000_000_007,
        mode: 0o644,
        link_target: None,
        checksum: None,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_shard_files_fail_alone() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    write(&src.join("a"), 5, 1);
    write(&src.join("c"), 5, 2);
    let reader: Arc<dyn PayloadReader> = Arc::new(LocalSource::new(src.clone()));
    let (plans_tx, plans_rx) = plan_channel();
    let shard = vec![file_header(b"a", 5), file_header(b"missing", 5), file_header(b"c", 5)];
    plans_tx.send(PayloadPlan::Shard(shard)).await.unwrap();
    drop(plans_tx);
    let transport = GrpcTransport::loopback();
    let (landing, events) = landing(&t.path().join("dst"));
    let (s, r) = tokio::join!(transport.send(plans_rx, reader), transport.receive(landing));
    s.unwrap();
    r.unwrap();
    assert_eq!(std::fs::read(t.path().join("dst/c")).unwrap(), std::fs::read(src.join("c")).unwrap());
    let failed = failed_paths(&events);
    assert_eq!(failed, ["missing"]);
}

/// The paths of the `FileFailed` events `events` saw, in order.
fn failed_paths(events: &RecordingSink) -> Vec<String> {
    events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::FileFailed { path, .. } => Some(path.display()),
            _ => None,
        })
        .collect()
}

fn record(r: Record) -> blit_proto::pb::PayloadRecord {
    blit_proto::pb::PayloadRecord { record: Some(r) }
}

/// Feeds `records` to a receiving half and returns its result.
async fn receive(dst: &Path, records: Vec<Record>) -> Result<()> {
    let (tx, rx) = mpsc::channel(records.len() + 1);
    for r in records {
        tx.send(record(r)).await.unwrap();
    }
    drop(tx);
    let (landing, _) = landing(dst);
    tokio::task::spawn_blocking(move || receive_all(rx, &landing, "peer")).await.unwrap()
}

fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<Record> {
    let mut tar = tar::Builder::new(Vec::new());
    build(&mut tar);
    let bytes = tar.into_inner().unwrap();
    vec![
        Record::ShardBegin(blit_proto::pb::ShardBegin { files: 1 }),
        Record::Data(Bytes::from(bytes)),
        Record::ShardEnd(blit_proto::pb::ShardEnd {}),
        Record::Done(blit_proto::pb::PayloadDone {}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_hostile_payloads() {
    let t = tempfile::tempdir().unwrap();
    let dst = t.path().join("dst");
    // A symlink entry inside a shard.
    let records = tar_of(|tar| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        tar.append_link(&mut h, "evil", "/etc").unwrap();
    });
    assert_eq!(receive(&dst, records).await.unwrap_err().kind(), ErrorKind::Protocol);
    // A path that climbs out (written raw: the tar crate refuses to build it).
    let records = tar_of(|tar| {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..5].copy_from_slice(b"../x\0");
        h.set_size(1);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, &b"x"[..]).unwrap();
    });
    let e = receive(&dst, records).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(!t.path().join("x").exists());
    // More bytes than the header announced.
    let records = vec![
        Record::FileBegin(crate::convert::header_to_pb(&file_header(b"f", 1))),
        Record::Data(Bytes::from_static(b"toolong")),
    ];
    assert_eq!(receive(&dst, records).await.unwrap_err().kind(), ErrorKind::Protocol);
    // A stream that stops mid-file.
    let records = vec![Record::FileBegin(crate::convert::header_to_pb(&file_header(b"f", 1)))];
    assert_eq!(receive(&dst, records).await.unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(!dst.join("f").exists());
}

/// A reader that counts the files it opens.
struct CountingReader(LocalSource, std::sync::Mutex<Vec<String>>);

impl PayloadReader for CountingReader {
    fn open(&self, header: &FileHeader) -> Result<blit_api::SourceFile> {
        self.1.lock().unwrap().push(header.path.display());
        self.0.open(header)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_files_are_sent_without_being_opened() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for name in ["e1", "e2", "e3"] {
        write(&src.join(name), 0, 0);
    }
    write(&src.join("full"), 5, 3);
    let reader = Arc::new(CountingReader(LocalSource::new(src.clone()), Default::default()));
    let (plans_tx, plans_rx) = plan_channel();
    let e1 = FileHeader { mode: 0o600, ..file_header(b"e1", 0) };
    plans_tx.send(PayloadPlan::File(e1)).await.unwrap();
    let shard = vec![file_header(b"e2", 0), file_header(b"full", 5), file_header(b"e3", 0)];
    plans_tx.send(PayloadPlan::Shard(shard)).await.unwrap();
    drop(plans_tx);
    let transport = GrpcTransport::loopback();
    let (landing, _) = landing(&t.path().join("dst"));
    let (s, r) = tokio::join!(transport.send(plans_rx, reader.clone()), transport.receive(landing));
    s.unwrap();
    r.unwrap();
    assert_eq!(*reader.1.lock().unwrap(), ["full"], "only the file with bytes is opened");
    let dst = t.path().join("dst");
    assert_eq!(std::fs::read(dst.join("full")).unwrap(), std::fs::read(src.join("full")).unwrap());
    for (name, mode) in [("e1", 0o600), ("e2", 0o644), ("e3", 0o644)] {
        let m = std::fs::metadata(dst.join(name)).unwrap();
        assert_eq!((m.len(), m.mode() & 0o7777, m.mtime_nsec()), (0, mode, 7), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_breaks_off_fails_the_file_under_way() {
    let t = tempfile::tempdir().unwrap();
    let dst = t.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    let (tx, rx) = mpsc::channel(4);
    tx.send(record(Record::FileBegin(crate::convert::header_to_pb(&file_header(b"half", 8))))).await.unwrap();
    tx.send(record(Record::Data(Bytes::from_static(b"1234")))).await.unwrap();
    drop(tx);
    let (landing, events) = landing(&dst);
    let e = tokio::task::spawn_blocking(move || receive_all(rx, &landing, "peer")).await.unwrap().unwrap_err();
    assert_eq!(e.kind(), blit_api::ErrorKind::Cancelled, "{e}");
    let failed = failed_paths(&events);
    assert_eq!(failed, ["half"], "the file under way is reported, not dropped silently");
    assert!(!dst.join("half").exists(), "nothing torn under the final name");
}
