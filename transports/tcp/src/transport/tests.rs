use super::*;
use crate::config::Compression;
use blit_api::{ErrorKind, ProgressEvent, RecordingSink, TransferOptions};
use blit_engine::{run_local, DestinationRoles, LocalTransfer, SourceRoles};
use blit_transport_local::{LocalDestination, LocalSource};
use std::net::TcpStream;
use std::path::Path;

fn write(path: &Path, len: usize, seed: u8) {
    // xorshift: incompressible, so `--compress auto` has nothing to gain.
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(seed);
    let data: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Zero-byte, small (sharded) and multi-range files.
fn tree(root: &Path) {
    write(&root.join("zero"), 0, 0);
    for i in 0..300 {
        write(&root.join(format!("small/f{i:03}")), (i * 13) % 5000, i as u8);
    }
    write(&root.join("mid"), 700 * 1024, 7);
    write(&root.join("deep/big"), 5 * 1024 * 1024 + 17, 9);
    std::fs::write(root.join("text"), "compressible blit text ".repeat(90_000)).unwrap();
}

fn same(a: &Path, b: &Path) {
    let mut stack = vec![std::path::PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(a.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let r = rel.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                stack.push(r);
            } else {
                assert_eq!(std::fs::read(a.join(&r)).unwrap(), std::fs::read(b.join(&r)).unwrap(), "{r:?}");
            }
        }
    }
}

async fn copy(src: &Path, dst: &Path, transport: Arc<TcpTransport>) -> (blit_api::TransferSummary, Vec<ProgressEvent>) {
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
    (summary, events.events())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lands_every_kind_of_file_over_four_streams_with_ranges() {
    let t = tempfile::tempdir().unwrap();
    tree(&t.path().join("src"));
    let config = TcpConfig::new().streams(Some(4)).range_size(Some(256 * 1024));
    let transport = Arc::new(TcpTransport::loopback(config).unwrap());
    let (summary, events) = copy(&t.path().join("src"), &t.path().join("dst"), transport.clone()).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    same(&t.path().join("src"), &t.path().join("dst"));
    let tuning = transport.tuning().unwrap();
    assert_eq!((tuning.streams, tuning.how.as_str(), tuning.compression.as_str()), (4, "pinned", "none"));
    let zero_copy: u64 = events
        .iter()
        .map(|e| match e {
            ProgressEvent::FileBytes { bytes, zero_copy: true, .. } => *bytes,
            _ => 0,
        })
        .sum();
    assert!(zero_copy >= 5 * 1024 * 1024, "sendfile carried the large bodies: {zero_copy}");
    assert_eq!(summary.zero_copy_bytes, zero_copy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_chunks_larger_than_a_compressed_record_travel_in_parts() {
    let t = tempfile::tempdir().unwrap();
    tree(&t.path().join("src"));
    let config = TcpConfig::new().streams(Some(1)).compression(Compression::Zstd(1)).chunk_size(Some(8 << 20));
    let transport = Arc::new(TcpTransport::loopback(config).unwrap());
    let (summary, _) = copy(&t.path().join("src"), &t.path().join("dst"), transport).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    same(&t.path().join("src"), &t.path().join("dst"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_round_trips_and_is_not_zero_copy() {
    let t = tempfile::tempdir().unwrap();
    tree(&t.path().join("src"));
    let config = TcpConfig::new().streams(Some(2)).compression(Compression::Zstd(3)).chunk_size(Some(64 * 1024));
    let transport = Arc::new(TcpTransport::loopback(config).unwrap());
    let (summary, _) = copy(&t.path().join("src"), &t.path().join("dst"), transport.clone()).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    same(&t.path().join("src"), &t.path().join("dst"));
    assert_eq!(summary.zero_copy_bytes, 0);
    let tuning = transport.tuning().unwrap();
    assert_eq!((tuning.compression.as_str(), tuning.chunk_size, tuning.how.as_str()), ("zstd:3", 65536, "pinned"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_first_file_ramps_the_stream_count_from_one() {
    let t = tempfile::tempdir().unwrap();
    write(&t.path().join("src/big"), 3 * 1024 * 1024, 1);
    let config = TcpConfig::new().probe_min_bytes(1024 * 1024).compression(Compression::Auto);
    let transport = Arc::new(TcpTransport::loopback(config).unwrap());
    let (summary, _) = copy(&t.path().join("src"), &t.path().join("dst"), transport.clone()).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    same(&t.path().join("src"), &t.path().join("dst"));
    let tuning = transport.tuning().unwrap();
    assert_eq!(tuning.how, "ramp");
    // 3 MiB take less than one measuring window: the first stream carried it.
    assert_eq!((tuning.streams, tuning.chunk_size), (1, 1024 * 1024), "{tuning:?}");
    assert_eq!(tuning.compression, "none", "loopback is faster than the compressor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_half_runs_once_and_through_the_trait_object() {
    let transport: Arc<dyn PayloadTransport> = Arc::new(TcpTransport::new(Vec::new(), TcpConfig::new(), "peer"));
    assert_eq!(transport.name(), "tcp");
    assert!(transport.capabilities().payload_zero_copy);
    let (_tx, rx) = blit_api::plan_channel();
    let reader: Arc<dyn PayloadReader> = Arc::new(LocalSource::new(std::env::temp_dir()));
    // No connections: the half fails with a clear error instead of hanging.
    let e = transport.send(rx, reader).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let (_tx, rx) = blit_api::plan_channel();
    let reader: Arc<dyn PayloadReader> = Arc::new(LocalSource::new(std::env::temp_dir()));
    let e = transport.send(rx, reader).await.unwrap_err();
    assert!(e.to_string().contains("already ran"), "{e}");
}

const _: fn() = || {
    fn implements<T: PayloadTransport>() {}
    implements::<TcpTransport>();
};

/// A connected pair of sockets: (ours, the peer's).
fn pair() -> (TcpStream, TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    (listener.accept().unwrap().0, peer)
}

async fn receive_from(bytes: Vec<u8>, idle: Duration) -> blit_api::Error {
    use std::io::Write;
    let t = tempfile::tempdir().unwrap();
    let (ours, mut peer) = pair();
    let writer = std::thread::spawn(move || {
        let _ = peer.write_all(&bytes);
        // Keep the connection open (silent) until the receiver gives up.
        let mut sink = [0u8; 1];
        let _ = std::io::Read::read(&mut peer, &mut sink);
    });
    let transport = TcpTransport::new(vec![ours.into()], TcpConfig::new().idle_timeout(idle), "sender 192.0.2.1:9");
    let destination = Arc::new(LocalDestination::new(t.path().to_path_buf()));
    let landing = Landing::new(destination, Arc::new(blit_api::NullSink));
    let e = transport.receive(landing).await.unwrap_err();
    writer.join().unwrap();
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0, "nothing landed");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_records_stop_the_receiver_naming_the_peer() {
    use crate::frame::{encode_prefix, Tag};
    let e = receive_from(encode_prefix(Tag::Data, 0, 0, u64::MAX).to_vec(), Duration::from_secs(5)).await;
    assert_eq!(e.kind(), ErrorKind::Protocol);
    let text = e.to_string();
    assert!(text.contains("192.0.2.1:9") && text.contains("data bytes"), "{text}");
    let e = receive_from(encode_prefix(Tag::File, 0, 100_000, 0).to_vec(), Duration::from_secs(5)).await;
    assert!(e.to_string().contains("record header of 100000 bytes"), "{e}");
    let e = receive_from(vec![0xEE; 16], Duration::from_secs(5)).await;
    assert!(e.to_string().contains("unknown record tag"), "{e}");
    // A file announced as 3 bytes that carries 5.
    let mut bytes = Vec::new();
    let mut h = crate::frame::Enc::default();
    h.file_header(&blit_api::FileHeader {
        path: blit_api::RelPath::from_bytes(b"f".to_vec()).unwrap(),
        size: 3,
        mode: 0o644,
        ..Default::default()
    });
    bytes.extend(encode_prefix(Tag::File, 0, h.0.len(), 0));
    bytes.extend(&h.0);
    bytes.extend(encode_prefix(Tag::Data, 0, 0, 5));
    bytes.extend(b"12345");
    let e = receive_from(bytes, Duration::from_secs(5)).await;
    assert!(e.to_string().contains("more bytes than announced"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_sender_is_timed_out() {
    let started = std::time::Instant::now();
    let e = receive_from(Vec::new(), Duration::from_secs(1)).await;
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("no data for 1 s"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_waiting_for_its_first_plan_keeps_the_connections_alive() {
    let t = tempfile::tempdir().unwrap();
    write(&t.path().join("src/f"), 5000, 3);
    let (a, b) = pair();
    let idle = Duration::from_secs(1);
    let sender = TcpTransport::new(vec![a.into()], TcpConfig::new().idle_timeout(idle), "receiver");
    let receiver = TcpTransport::new(vec![b.into()], TcpConfig::new().idle_timeout(idle), "sender");
    let (tx, rx) = blit_api::plan_channel();
    let reader: Arc<dyn PayloadReader> = Arc::new(LocalSource::new(t.path().join("src")));
    let destination = Arc::new(LocalDestination::new(t.path().join("dst")));
    std::fs::create_dir(t.path().join("dst")).unwrap();
    let landing = Landing::new(destination, Arc::new(blit_api::NullSink));
    let plans = async move {
        // Longer than the receiver's idle timeout before anything is needed.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let header = LocalSource::new(t.path().join("src")).open(&file_header("f", 5000)).unwrap().header;
        tx.send(blit_api::PayloadPlan::File(header)).await.unwrap();
        drop(tx);
        t
    };
    let (sent, received, t) = tokio::join!(sender.send(rx, reader), receiver.receive(landing), plans);
    sent.unwrap();
    received.unwrap();
    assert_eq!(std::fs::read(t.path().join("dst/f")).unwrap(), std::fs::read(t.path().join("src/f")).unwrap());
}

fn file_header(path: &str, size: u64) -> blit_api::FileHeader {
    blit_api::FileHeader {
        path: blit_api::RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
        kind: blit_api::FileKind::File,
        size,
        mtime_ns: 0,
        mode: 0o644,
        link_target: None,
        checksum: None,
        ..Default::default()
    }
}

/// A reader that remembers the files it opens.
struct CountingReader(LocalSource, std::sync::Mutex<Vec<String>>);

impl PayloadReader for CountingReader {
    fn open(&self, header: &blit_api::FileHeader) -> blit_api::Result<blit_api::SourceFile> {
        self.1.lock().unwrap().push(header.path.display());
        self.0.open(header)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_files_are_sent_without_being_opened() {
    let t = tempfile::tempdir().unwrap();
    for name in ["e1", "e2", "e3"] {
        write(&t.path().join("src").join(name), 0, 0);
    }
    write(&t.path().join("src/full"), 5000, 3);
    let (a, b) = pair();
    let sender = TcpTransport::new(vec![a.into()], TcpConfig::new(), "receiver");
    let receiver = TcpTransport::new(vec![b.into()], TcpConfig::new(), "sender");
    let (tx, rx) = blit_api::plan_channel();
    let reader = Arc::new(CountingReader(LocalSource::new(t.path().join("src")), Default::default()));
    std::fs::create_dir(t.path().join("dst")).unwrap();
    let landing = Landing::new(Arc::new(LocalDestination::new(t.path().join("dst"))), Arc::new(blit_api::NullSink));
    let e1 = blit_api::FileHeader { mode: 0o600, mtime_ns: 5_000_000_123, ..file_header("e1", 0) };
    tx.send(blit_api::PayloadPlan::File(e1)).await.unwrap();
    let shard = vec![file_header("e2", 0), file_header("full", 5000), file_header("e3", 0)];
    tx.send(blit_api::PayloadPlan::Shard(shard)).await.unwrap();
    drop(tx);
    let (sent, received) = tokio::join!(sender.send(rx, reader.clone()), receiver.receive(landing));
    sent.unwrap();
    received.unwrap();
    assert_eq!(*reader.1.lock().unwrap(), ["full"], "only the file with bytes is opened");
    assert_eq!(std::fs::read(t.path().join("dst/full")).unwrap(), std::fs::read(t.path().join("src/full")).unwrap());
    use std::os::unix::fs::MetadataExt;
    for (name, mode, mtime) in [("e1", 0o600, (5, 123)), ("e2", 0o644, (0, 0)), ("e3", 0o644, (0, 0))] {
        let m = std::fs::metadata(t.path().join("dst").join(name)).unwrap();
        assert_eq!((m.len(), m.mode() & 0o7777, (m.mtime(), m.mtime_nsec())), (0, mode, mtime), "{name}");
    }
}
