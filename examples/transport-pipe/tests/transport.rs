//! The pipe transport's halves on their own: chunks, failures that stay
//! with their file, a volume error that stops both halves.

use blit_api::{
    plan_channel, Error, ErrorKind, FileHeader, FileKind, Landing, LandingFile, PayloadPlan, PayloadReader,
    PayloadTransport, PayloadWriter, ProgressEvent, RecordingSink, RelPath, Result, SourceFile,
};
use blit_transport_pipe::{PipeConfig, PipeTransport};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("blit-pipe-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("dst")).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Opens files below a directory; `grow` adds bytes to the announced size of
/// files whose name starts with `shrunk`, as if they shrank after the walk.
struct DirReader {
    root: PathBuf,
    grow: u64,
}

impl PayloadReader for DirReader {
    fn open(&self, header: &FileHeader) -> Result<SourceFile> {
        let path = header.path.to_path(&self.root);
        let file = File::open(&path).map_err(|e| Error::io("open", path.display(), e))?;
        let mut header = header.clone();
        header.size = file.metadata().unwrap().len();
        if header.path.as_bytes().starts_with(b"shrunk") {
            header.size += self.grow;
        }
        Ok(SourceFile { file, header })
    }
}

/// Lands files below a directory, or refuses with `refuse`.
struct DirWriter {
    root: PathBuf,
    refuse: Option<ErrorKind>,
}

#[derive(Debug)]
struct Plain(File, PathBuf, PathBuf);

impl LandingFile for Plain {
    fn file(&mut self) -> &mut File {
        &mut self.0
    }

    fn commit(self: Box<Self>) -> Result<()> {
        std::fs::rename(&self.1, &self.2).map_err(|e| Error::io("rename", self.2.display(), e))
    }
}

impl PayloadWriter for DirWriter {
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn LandingFile>> {
        if let Some(kind) = self.refuse {
            return Err(Error::new(kind, "refused"));
        }
        let target = header.path.to_path(&self.root);
        let temp = target.with_extension("part");
        let file = File::create(&temp).map_err(|e| Error::io("create", temp.display(), e))?;
        Ok(Box::new(Plain(file, temp, target)))
    }
}

fn header(name: &str, size: u64) -> FileHeader {
    FileHeader {
        path: RelPath::from_bytes(name.as_bytes().to_vec()).unwrap(),
        kind: FileKind::File,
        size,
        mtime_ns: 0,
        mode: 0o644,
        link_target: None,
        checksum: None,
        ..Default::default()
    }
}

fn write(dir: &Path, name: &str, len: usize) -> FileHeader {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join(name), &data).unwrap();
    header(name, len as u64)
}

/// Runs both halves over `plans`; returns (send, receive, events).
async fn run(
    transport: Box<dyn PayloadTransport>,
    plans: Vec<PayloadPlan>,
    reader: DirReader,
    writer: DirWriter,
) -> (Result<()>, Result<()>, Vec<ProgressEvent>) {
    let (tx, rx) = plan_channel();
    let events = RecordingSink::new();
    let landing = Landing::new(Arc::new(writer), events.clone());
    let feed = async move {
        for plan in plans {
            if tx.send(plan).await.is_err() {
                break;
            }
        }
    };
    let (_, sent, received) = tokio::join!(feed, transport.send(rx, Arc::new(reader)), transport.receive(landing));
    (sent, received, events.events())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lands_files_and_shards_in_chunks_through_box_dyn() {
    let s = Scratch::new("chunks");
    let src = s.0.join("src");
    let plans = vec![
        PayloadPlan::File(write(&src, "big", 100_000)),
        PayloadPlan::Shard(vec![write(&src, "empty", 0), write(&src, "one", 1)]),
    ];
    let config = PipeConfig::default().with_chunk_size(4096).unwrap();
    let transport: Box<dyn PayloadTransport> = Box::new(PipeTransport::with_config(config).unwrap());
    let reader = DirReader { root: src.clone(), grow: 0 };
    let writer = DirWriter { root: s.0.join("dst"), refuse: None };
    let (sent, received, events) = run(transport, plans, reader, writer).await;
    sent.unwrap();
    received.unwrap();
    for name in ["big", "empty", "one"] {
        assert_eq!(std::fs::read(s.0.join("dst").join(name)).unwrap(), std::fs::read(src.join(name)).unwrap());
    }
    let chunks =
        events.iter().filter(|e| matches!(e, ProgressEvent::FileBytes { path, .. } if path.as_bytes() == b"big"));
    assert_eq!(chunks.count(), 25, "100,000 bytes in 4,096-byte chunks");
    assert_eq!(events.iter().filter(|e| matches!(e, ProgressEvent::FileDone { .. })).count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_failures_and_shrunk_files_fail_alone() {
    let s = Scratch::new("failures");
    let src = s.0.join("src");
    let plans = vec![
        PayloadPlan::File(header("missing", 5)),
        PayloadPlan::File(write(&src, "shrunk", 10)),
        PayloadPlan::File(write(&src, "fine", 3)),
    ];
    let transport = PipeTransport::new().unwrap();
    let reader = DirReader { root: src, grow: 1 };
    let writer = DirWriter { root: s.0.join("dst"), refuse: None };
    let (sent, received, events) = run(Box::new(transport), plans, reader, writer).await;
    sent.unwrap();
    received.unwrap();
    let failed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::FileFailed { path, kind, .. } => Some((path.display(), *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(failed, vec![("missing".into(), ErrorKind::NotFound), ("shrunk".into(), ErrorKind::Io)]);
    assert!(!s.0.join("dst/shrunk").exists(), "a broken-off file never lands");
    assert_eq!(std::fs::read(s.0.join("dst/fine")).unwrap(), std::fs::read(s.0.join("src/fine")).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_error_stops_both_halves() {
    let s = Scratch::new("volume");
    let src = s.0.join("src");
    let plans: Vec<_> = (0..64).map(|i| PayloadPlan::File(write(&src, &format!("f{i}"), 50_000))).collect();
    let reader = DirReader { root: src, grow: 0 };
    let writer = DirWriter { root: s.0.join("dst"), refuse: Some(ErrorKind::NoSpace) };
    let (sent, received, events) = run(Box::new(PipeTransport::new().unwrap()), plans, reader, writer).await;
    assert_eq!(received.unwrap_err().kind(), ErrorKind::NoSpace);
    assert_eq!(sent.unwrap_err().kind(), ErrorKind::Cancelled, "3 MiB cannot fit in the pipe");
    assert_eq!(events.iter().filter(|e| matches!(e, ProgressEvent::FileStarted { .. })).count(), 1);
}

#[tokio::test]
async fn each_half_runs_once() {
    let t = PipeTransport::new().unwrap();
    let landing = Landing::new(Arc::new(DirWriter { root: PathBuf::new(), refuse: None }), RecordingSink::new());
    // A send with no plans closes the write end: the first receive sees a clean end.
    let (tx, rx) = plan_channel();
    drop(tx);
    let reader = Arc::new(DirReader { root: PathBuf::new(), grow: 0 });
    t.send(rx, reader.clone()).await.unwrap();
    t.receive(landing.clone()).await.unwrap();
    assert_eq!(t.receive(landing).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    let (_, rx) = plan_channel();
    assert_eq!(t.send(rx, reader).await.unwrap_err().kind(), ErrorKind::InvalidInput);
}
