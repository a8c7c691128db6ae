use super::*;
use crate::testutil::{header, write};
use crate::{LocalDestination, LocalSource};
use blit_api::ErrorKind;
use blit_api::{plan_channel, FileKind, LandingFile, PayloadWriter, ProgressEvent, RecordingSink};
use std::sync::atomic::AtomicUsize;

const _: fn() = || {
    fn is_transport<T: PayloadTransport>() {}
    is_transport::<LocalTransport>();
};

async fn run(
    transport: &LocalTransport,
    plans: Vec<PayloadPlan>,
    reader: Arc<dyn PayloadReader>,
    landing: Landing,
) -> (Result<()>, Result<()>) {
    let (tx, rx) = plan_channel();
    let feed = async move {
        for plan in plans {
            if tx.send(plan).await.is_err() {
                break;
            }
        }
    };
    let (sent, received, ()) = tokio::join!(transport.send(rx, reader), transport.receive(landing), feed);
    (sent, received)
}

#[tokio::test(flavor = "multi_thread")]
async fn lands_files_and_shards_and_reports_unreadable_sources() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    for i in 0..50 {
        write(&src.join(format!("f{i}")), format!("content {i}").as_bytes(), 0o640, 1_000 + i);
    }
    let h = |i: i64| header(&format!("f{i}"), FileKind::File, format!("content {i}").len() as u64, 1_000 + i, 0o640);
    let mut plans: Vec<PayloadPlan> = (0..20).map(|i| PayloadPlan::File(h(i))).collect();
    plans.push(PayloadPlan::Shard((20..50).map(h).collect()));
    plans.push(PayloadPlan::File(header("missing", FileKind::File, 3, 1, 0o644)));
    let events = RecordingSink::new();
    let landing = Landing::new(Arc::new(LocalDestination::new(dst.clone())), events.clone());
    let transport = LocalTransport::new();
    let (sent, received) = run(&transport, plans, Arc::new(LocalSource::new(src)), landing).await;
    sent.unwrap();
    received.unwrap();
    for i in 0..50 {
        let f = dst.join(format!("f{i}"));
        assert_eq!(std::fs::read(&f).unwrap(), format!("content {i}").as_bytes());
        assert_eq!(crate::testutil::mtime(&f), 1_000 + i);
    }
    let events = events.events();
    let done = events.iter().filter(|e| matches!(e, ProgressEvent::FileDone { .. })).count();
    assert_eq!(done, 50);
    let failed: Vec<_> = events.iter().filter(|e| matches!(e, ProgressEvent::FileFailed { .. })).collect();
    assert!(
        matches!(failed[..], [ProgressEvent::FileFailed { path, kind: ErrorKind::NotFound, .. }] if path.as_bytes() == b"missing"),
        "{failed:?}"
    );
    assert!(transport.send(plan_channel().1, Arc::new(LocalSource::new(dir.path().into()))).await.is_err());
}

/// A writer whose volume fills up after a few files.
#[derive(Debug, Default)]
struct FullDisk {
    begun: AtomicUsize,
}

impl PayloadWriter for FullDisk {
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn LandingFile>> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        Err(Error::io("create temporary file", header.path.display(), std::io::Error::from_raw_os_error(libc::ENOSPC)))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_volume_error_stops_both_halves() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..300 {
        write(&dir.path().join(format!("f{i}")), b"", 0o644, 0);
    }
    let plans = (0..300).map(|i| PayloadPlan::File(header(&format!("f{i}"), FileKind::File, 0, 0, 0o644))).collect();
    let writer = Arc::new(FullDisk::default());
    let landing = Landing::new(writer.clone(), Arc::new(blit_api::NullSink));
    let transport = LocalTransport::new();
    let reader = Arc::new(LocalSource::new(dir.path().to_path_buf()));
    let (sent, received) = tokio::time::timeout(Duration::from_secs(30), run(&transport, plans, reader, landing))
        .await
        .expect("both halves stop");
    sent.unwrap();
    assert_eq!(received.unwrap_err().kind(), ErrorKind::NoSpace);
    let begun = writer.begun.load(Ordering::SeqCst);
    assert!(begun <= RECEIVE_WORKERS, "kept writing after the volume filled: {begun} files begun");
}

#[test]
fn capabilities_describe_a_local_only_transport() {
    let caps = LocalTransport::default().capabilities();
    assert!(caps.directions.local && !caps.directions.push && !caps.directions.pull);
    assert!(caps.payload_shard && caps.payload_zero_copy && caps.symlink && caps.path_non_utf8);
    assert!(caps.mtime_ns && caps.checksum && caps.mirror && caps.per_file_errors);
    assert_eq!(caps.payload_max_streams, 8);
    assert_eq!(LocalTransport::new().name(), "local");
}
