//! A hand-written malicious peer: a raw gRPC client that speaks the protocol
//! directly and sends what no blit would. Every attempt is refused or timed
//! out, nothing is written outside the module, and the daemon keeps serving
//! honest clients.
//!
//! The tar shards here are built byte by byte (the `tar` crate refuses to
//! write `..`), so the daemon's reader sees exactly what an attacker would
//! send: escaping names in the header, in a PAX `path` record and in a GNU
//! long name, absolute names, symlink and hard-link entries, and sizes that
//! lie.

mod common;

use blit_api::{ErrorKind, TransferOptions};
use blit_proto::pb::{self, blit_client::BlitClient, frame::Body, payload_record::Record};
use common::{listing, push, snapshot, Daemon};
use prost::bytes::Bytes;
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

async fn raw(addr: SocketAddr) -> BlitClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    BlitClient::new(channel)
}

fn open(path: &[u8], role: pb::Role, window: pb::Window) -> pb::Frame {
    let open = pb::Open {
        protocol_version: blit_proto::PROTOCOL_VERSION,
        module: "m".into(),
        path: Bytes::copy_from_slice(path),
        role: role as i32,
        transport: "grpc".into(),
        window: Some(window),
        ..Default::default()
    };
    frame(Body::Open(open))
}

const WINDOW: pb::Window = pb::Window { manifest_items: 64, need_batches: 4, takes_ahead: false };

fn frame(body: Body) -> pb::Frame {
    pb::Frame { body: Some(body) }
}

fn header(path: &[u8], kind: pb::Kind, size: u64) -> pb::Header {
    pb::Header { path: Bytes::copy_from_slice(path), kind: kind as i32, size, mode: 0o644, ..Default::default() }
}

fn entries(headers: Vec<pb::Header>) -> Vec<pb::ManifestItem> {
    use pb::manifest_item::Item;
    let mut items: Vec<_> = headers.into_iter().map(|h| pb::ManifestItem { item: Some(Item::Entry(h)) }).collect();
    items.push(pb::ManifestItem { item: Some(Item::DirDone(Bytes::new())) });
    items.push(pb::ManifestItem { item: Some(Item::End(pb::End {})) });
    items
}

fn records(records: Vec<Record>) -> pb::Frame {
    frame(Body::Payload(pb::Payload {
        records: records.into_iter().map(|r| pb::PayloadRecord { record: Some(r) }).collect(),
    }))
}

fn close(stream: pb::Stream) -> pb::Frame {
    frame(Body::Close(pb::Close { stream: stream as i32 }))
}

/// A raw session of `role` at `path` in module `m`; returns the sender and
/// the daemon's stream after `Opened`.
async fn session(
    addr: SocketAddr,
    path: &[u8],
    role: pb::Role,
) -> (mpsc::Sender<pb::Frame>, tonic::Streaming<pb::Frame>) {
    let (tx, rx) = mpsc::channel(16);
    tx.send(open(path, role, WINDOW)).await.unwrap();
    let mut stream = raw(addr).await.transfer(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let opened = stream.message().await.unwrap().unwrap();
    assert!(matches!(opened.body, Some(Body::Opened(_))), "{opened:?}");
    (tx, stream)
}

/// What the daemon said until it ended the session.
#[derive(Debug, Default)]
struct Outcome {
    error: Option<pb::ErrorReport>,
    done: bool,
    failed_paths: Vec<Vec<u8>>,
    status: Option<tonic::Status>,
}

/// Reads the daemon's frames until `Done`, `Error` or the end (10 s at most).
async fn outcome(stream: &mut tonic::Streaming<pb::Frame>) -> Outcome {
    let mut out = Outcome::default();
    let read = async {
        loop {
            match stream.message().await {
                Ok(Some(f)) => match f.body {
                    Some(Body::Error(report)) => out.error = Some(report),
                    Some(Body::Done(_)) => out.done = true,
                    Some(Body::Events(e)) => {
                        for event in e.events {
                            if let Some(pb::event::Event::FileFailed(f)) = event.event {
                                out.failed_paths.push(f.path.to_vec());
                            }
                        }
                    }
                    _ => {}
                },
                Ok(None) => return,
                Err(status) => {
                    out.status = Some(status);
                    return;
                }
            }
            if out.error.is_some() || out.done {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the daemon answers within 10 s");
    out
}

/// A push session that announced `files` (regular files in the root) and
/// closed its manifest; ready for payload.
async fn push_with_manifest(
    addr: SocketAddr,
    files: &[(&[u8], u64)],
) -> (mpsc::Sender<pb::Frame>, tonic::Streaming<pb::Frame>) {
    let (tx, stream) = session(addr, b"", pb::Role::Push).await;
    let mut headers = vec![header(b"", pb::Kind::Dir, 0)];
    headers.extend(files.iter().map(|(p, size)| header(p, pb::Kind::File, *size)));
    tx.send(frame(Body::Manifest(pb::Manifest { items: entries(headers) }))).await.unwrap();
    tx.send(close(pb::Stream::Manifest)).await.unwrap();
    (tx, stream)
}

/// Sends `shard` (raw tar bytes) as one shard, then ends the payload.
async fn send_shard(tx: &mpsc::Sender<pb::Frame>, shard: Vec<u8>) {
    let recs = vec![
        Record::ShardBegin(pb::ShardBegin { files: 1 }),
        Record::Data(Bytes::from(shard)),
        Record::ShardEnd(pb::ShardEnd {}),
        Record::Done(pb::PayloadDone {}),
    ];
    // The daemon may already have refused the shard and closed the stream.
    let _ = tx.send(records(recs)).await;
    let _ = tx.send(close(pb::Stream::Payload)).await;
    let _ = tx.send(frame(Body::Done(pb::Done {}))).await;
}

// --- tar, byte by byte ----------------------------------------------------

const REGULAR: u8 = b'0';
const HARD_LINK: u8 = b'1';
const SYMLINK: u8 = b'2';
const PAX: u8 = b'x';
const GNU_LONG_NAME: u8 = b'L';

fn octal(field: &mut [u8], value: u64) {
    let n = field.len() - 1;
    let text = format!("{value:0n$o}");
    field[..n].copy_from_slice(text.as_bytes());
    field[n] = 0;
}

/// One tar header (ustar layout, GNU magic) whose size field claims `size`.
fn tar_header(name: &[u8], kind: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 1_600_000_000);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// An entry: header, data, padding to 512.
fn tar_entry(name: &[u8], kind: u8, data: &[u8], link: &[u8]) -> Vec<u8> {
    let mut out = tar_header(name, kind, data.len() as u64, link).to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn tar_end(mut tar: Vec<u8>) -> Vec<u8> {
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

/// A PAX extended header record `len key=value\n`.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = 1 + key.len() + 1 + value.len() + 1;
    let mut len = body_len + 1;
    while len.to_string().len() + body_len != len {
        len += 1;
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

fn outside_untouched(outside: &Path, before: &[std::path::PathBuf]) {
    assert_eq!(listing(outside), before, "nothing was written outside the module");
}

fn no_temporary_files(dir: &Path) {
    let temps: Vec<_> = listing(dir).into_iter().filter(|p| p.to_string_lossy().contains(".blit.")).collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// An honest push still works (the daemon kept serving).
async fn still_serves(daemon: &Daemon, f: &Fixture) {
    let src = f.module.parent().unwrap().join("honest");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f"), b"honest").unwrap();
    let (r, _) = push(&src, &daemon.remote("m", "honest"), &TransferOptions::new()).await;
    assert!(r.unwrap().failures.is_empty());
    assert_eq!(snapshot(&src), snapshot(&f.module.join("honest")));
}

struct Fixture {
    _t: tempfile::TempDir,
    module: std::path::PathBuf,
    outside: std::path::PathBuf,
    before: Vec<std::path::PathBuf>,
}

fn fixture() -> Fixture {
    let t = tempfile::tempdir().unwrap();
    let (module, outside) = (t.path().join("m"), t.path().join("outside"));
    std::fs::create_dir_all(&module).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    let before = listing(&outside);
    Fixture { _t: t, module, outside, before }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tar_shard_entries_that_escape_or_are_not_files_are_refused() {
    let f = fixture();
    let daemon = Daemon::start(&[("m", &f.module, false)]).await;
    let outside = f.outside.to_str().unwrap().as_bytes().to_vec();
    let escape = [b"../".as_slice(), b"outside/evil"].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("`..` in the name", tar_entry(&escape, REGULAR, b"evil", b"")),
        ("`..` inside the name", tar_entry(b"a/../../outside/evil", REGULAR, b"evil", b"")),
        ("an absolute name", tar_entry(&[&outside[..], b"/evil"].concat(), REGULAR, b"evil", b"")),
        ("a symlink entry", tar_entry(b"link", SYMLINK, b"", &outside)),
        ("a hard-link entry", tar_entry(b"hard", HARD_LINK, b"", &[&outside[..], b"/secret"].concat())),
        ("an empty name", tar_entry(b"", REGULAR, b"x", b"")),
        ("a PAX path that escapes", {
            let mut tar = tar_entry(b"PaxHeaders/x", PAX, &pax_record("path", &escape), b"");
            tar.extend(tar_entry(b"harmless", REGULAR, b"evil", b""));
            tar
        }),
        ("a GNU long name that escapes", {
            let long = [b"../".repeat(60).as_slice(), b"outside/evil\0"].concat();
            let mut tar = tar_entry(b"././@LongLink", GNU_LONG_NAME, &long, b"");
            tar.extend(tar_entry(b"harmless", REGULAR, b"evil", b""));
            tar
        }),
        ("a size that runs past the shard", {
            let mut tar = tar_header(b"big", REGULAR, 1 << 32, b"").to_vec();
            tar.extend_from_slice(b"only a few bytes");
            tar
        }),
        ("garbage instead of a header", vec![0x5a; 1536]),
    ];
    for (what, tar) in cases {
        let (tx, mut stream) = push_with_manifest(daemon.addr, &[(b"harmless", 4)]).await;
        send_shard(&tx, tar_end(tar)).await;
        let out = outcome(&mut stream).await;
        let report = out.error.unwrap_or_else(|| panic!("{what}: no error; {:?}", out.status));
        assert_eq!(report.kind, pb::ErrorKind::Protocol as i32, "{what}: {report:?}");
        outside_untouched(&f.outside, &f.before);
        for name in ["evil", "link", "hard", "big"] {
            assert!(std::fs::symlink_metadata(f.module.join(name)).is_err(), "{what}: `{name}` landed");
        }
    }
    // A name that is not UTF-8 is a name like any other: it lands inside.
    let (tx, mut stream) = push_with_manifest(daemon.addr, &[(b"odd\xff", 3)]).await;
    send_shard(&tx, tar_end(tar_entry(b"odd\xff", REGULAR, b"odd", b""))).await;
    let out = outcome(&mut stream).await;
    assert!(out.done && out.error.is_none(), "{out:?}");
    let odd = f.module.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"odd\xff"));
    assert_eq!(std::fs::read(odd).unwrap(), b"odd");
    // Let the sessions wind down, then check nothing was left half-written.
    drop((tx, stream));
    daemon.idle().await;
    no_temporary_files(&f.module);
    outside_untouched(&f.outside, &f.before);
    still_serves(&daemon, &f).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_never_land_through_a_symlink_the_peer_planted() {
    let f = fixture();
    let daemon = Daemon::start(&[("m", &f.module, false)]).await;
    let target = Bytes::copy_from_slice(f.outside.to_str().unwrap().as_bytes());
    let link = pb::Header { link_target: Some(target), ..header(b"d", pb::Kind::Symlink, 0) };
    // The manifest plants `d -> outside`, then the payload aims at `d/x`,
    // once as a whole file and once inside a shard.
    let (tx, mut stream) = session(daemon.addr, b"", pb::Role::Push).await;
    let headers = vec![header(b"", pb::Kind::Dir, 0), link, header(b"d/x", pb::Kind::File, 4)];
    tx.send(frame(Body::Manifest(pb::Manifest { items: entries(headers) }))).await.unwrap();
    tx.send(close(pb::Stream::Manifest)).await.unwrap();
    // The judge has planted the link once the need list ends.
    let judged = async {
        while let Some(f) = stream.message().await.unwrap() {
            if let Some(Body::Close(c)) = f.body {
                assert_eq!(c.stream, pb::Stream::Need as i32);
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), judged).await.expect("the need list ends");
    let recs = vec![
        Record::FileBegin(header(b"d/x", pb::Kind::File, 4)),
        Record::Data(Bytes::from_static(b"evil")),
        Record::FileEnd(pb::FileEnd {}),
        Record::ShardBegin(pb::ShardBegin { files: 1 }),
        Record::Data(Bytes::from(tar_end(tar_entry(b"d/y", REGULAR, b"evil", b"")))),
        Record::ShardEnd(pb::ShardEnd {}),
        Record::Done(pb::PayloadDone {}),
    ];
    tx.send(records(recs)).await.unwrap();
    tx.send(close(pb::Stream::Payload)).await.unwrap();
    tx.send(frame(Body::Done(pb::Done {}))).await.unwrap();
    let out = outcome(&mut stream).await;
    assert!(out.error.is_none(), "per-file failures, not a fatal error: {out:?}");
    let mut failed = out.failed_paths.clone();
    failed.sort();
    failed.dedup();
    assert!(failed.contains(&b"d/x".to_vec()) && failed.contains(&b"d/y".to_vec()), "{out:?}");
    assert!(std::fs::symlink_metadata(f.module.join("d")).unwrap().file_type().is_symlink());
    outside_untouched(&f.outside, &f.before);
    drop((tx, stream));
    // The module's own path through a symlink, as a push root.
    symlink(&f.outside, f.module.join("up")).unwrap();
    let (tx, rx) = mpsc::channel(1);
    tx.send(open(b"up/inner", pb::Role::Push, WINDOW)).await.unwrap();
    let status = raw(daemon.addr).await.transfer(ReceiverStream::new(rx)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    outside_untouched(&f.outside, &f.before);
    still_serves(&daemon, &f).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn need_lists_and_manifests_that_escape_are_refused() {
    let f = fixture();
    std::fs::write(f.module.join("inside"), b"inside").unwrap();
    symlink(f.outside.join("secret"), f.module.join("flink")).unwrap();
    let daemon = Daemon::start(&[("m", &f.module, false)]).await;
    for bad in [&b"../outside/secret"[..], b"/etc/passwd", b"a//b", b"nul\0byte", b"."] {
        let (tx, mut stream) = session(daemon.addr, b"", pb::Role::Pull).await;
        tx.send(frame(Body::Need(pb::Need { files: vec![header(bad, pb::Kind::File, 6)], ahead: vec![] })))
            .await
            .unwrap();
        let out = outcome(&mut stream).await;
        let report = out.error.unwrap_or_else(|| panic!("{:?}: accepted", String::from_utf8_lossy(bad)));
        assert_eq!(report.kind, pb::ErrorKind::Protocol as i32, "{report:?}");
        assert!(report.message.contains("unsafe relative path"), "{report:?}");
    }
    // A need naming a symlink to a file outside: refused per file, never read.
    let (tx, mut stream) = session(daemon.addr, b"", pb::Role::Pull).await;
    let files = vec![header(b"flink", pb::Kind::File, 6), header(b"inside", pb::Kind::File, 6)];
    tx.send(frame(Body::Need(pb::Need { files, ahead: vec![] }))).await.unwrap();
    tx.send(frame(Body::Need(pb::Need { files: vec![], ahead: vec![] }))).await.unwrap();
    let (mut refused, mut served) = (false, false);
    let read = async {
        while let Some(frame) = stream.message().await.unwrap() {
            let Some(Body::Payload(p)) = frame.body else { continue };
            for record in p.records.into_iter().filter_map(|r| r.record) {
                match record {
                    Record::SourceFailed(sf) => {
                        assert_eq!(sf.header.unwrap().path, &b"flink"[..]);
                        assert_eq!(sf.failure.unwrap().kind, pb::ErrorKind::PermissionDenied as i32);
                        refused = true;
                    }
                    Record::Data(d) => {
                        assert!(!d.windows(6).any(|w| w == b"secret"), "leaked the file outside");
                        served |= d.windows(6).any(|w| w == b"inside");
                    }
                    Record::Done(_) => return,
                    _ => {}
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.unwrap();
    assert!(refused && served);
    drop((tx, stream));
    // Manifests (push) that climb out, in entries, `DirDone` and symlink
    // targets' directories.
    use pb::manifest_item::Item;
    let bad_items = [
        Item::Entry(header(b"../evil", pb::Kind::Dir, 0)),
        Item::Entry(header(b"/abs", pb::Kind::File, 0)),
        Item::DirDone(Bytes::from_static(b"..")),
        Item::Failed(pb::Failure { path: Bytes::from_static(b"../x"), kind: 1, message: String::new() }),
    ];
    for item in bad_items {
        let (tx, mut stream) = session(daemon.addr, b"", pb::Role::Push).await;
        let items = vec![
            pb::ManifestItem { item: Some(Item::Entry(header(b"", pb::Kind::Dir, 0))) },
            pb::ManifestItem { item: Some(item.clone()) },
        ];
        tx.send(frame(Body::Manifest(pb::Manifest { items }))).await.unwrap();
        let report = outcome(&mut stream).await.error.unwrap_or_else(|| panic!("{item:?}: accepted"));
        assert_eq!(report.kind, pb::ErrorKind::Protocol as i32, "{report:?}");
    }
    outside_untouched(&f.outside, &f.before);
    assert!(!f.module.parent().unwrap().join("evil").exists());
    still_serves(&daemon, &f).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lengths_that_lie_are_refused_without_torn_files() {
    let f = fixture();
    std::fs::write(f.module.join("f"), b"old").unwrap();
    let daemon = Daemon::start(&[("m", &f.module, false)]).await;
    // More bytes than the header announced.
    let (tx, mut stream) = push_with_manifest(daemon.addr, &[(b"f", 3)]).await;
    let recs = vec![
        Record::FileBegin(header(b"f", pb::Kind::File, 3)),
        Record::Data(Bytes::from_static(b"much longer than three bytes")),
    ];
    tx.send(records(recs)).await.unwrap();
    let report = outcome(&mut stream).await.error.expect("refused");
    assert_eq!(report.kind, pb::ErrorKind::Protocol as i32, "{report:?}");
    assert!(report.message.contains("more bytes than announced"), "{report:?}");
    drop((tx, stream));
    // Fewer bytes than announced (u64::MAX): the file fails, the old version stays.
    let (tx, mut stream) = push_with_manifest(daemon.addr, &[(b"f", 3)]).await;
    let recs = vec![
        Record::FileBegin(header(b"f", pb::Kind::File, u64::MAX)),
        Record::Data(Bytes::from_static(b"ab")),
        Record::FileEnd(pb::FileEnd {}),
        Record::Done(pb::PayloadDone {}),
    ];
    tx.send(records(recs)).await.unwrap();
    tx.send(close(pb::Stream::Payload)).await.unwrap();
    tx.send(frame(Body::Done(pb::Done {}))).await.unwrap();
    let out = outcome(&mut stream).await;
    assert!(out.failed_paths.contains(&b"f".to_vec()), "{out:?}");
    drop((tx, stream));
    // Windows of no room or absurd room are refused at `Open`.
    for window in [
        pb::Window { manifest_items: 0, need_batches: 1, takes_ahead: false },
        pb::Window { manifest_items: 1, need_batches: 1 << 30, takes_ahead: false },
    ] {
        let (tx, rx) = mpsc::channel(1);
        tx.send(open(b"", pb::Role::Push, window)).await.unwrap();
        let status = raw(daemon.addr).await.transfer(ReceiverStream::new(rx)).await.unwrap_err();
        assert!(status.message().contains("invalid window"), "{status:?}");
    }
    // Manifest items far beyond the credit the daemon granted.
    let (tx, mut stream) = session(daemon.addr, b"", pb::Role::Push).await;
    let many: Vec<_> = (0..5000).map(|i| header(format!("f{i}").as_bytes(), pb::Kind::File, 1)).collect();
    let items = many.into_iter().map(|h| pb::ManifestItem { item: Some(pb::manifest_item::Item::Entry(h)) });
    tx.send(frame(Body::Manifest(pb::Manifest { items: items.collect() }))).await.unwrap();
    let report = outcome(&mut stream).await.error.expect("refused");
    assert!(report.message.contains("beyond its credit"), "{report:?}");
    drop((tx, stream));
    daemon.idle().await;
    assert_eq!(std::fs::read(f.module.join("f")).unwrap(), b"old", "no torn file under the final name");
    no_temporary_files(&f.module);
    outside_untouched(&f.outside, &f.before);
    still_serves(&daemon, &f).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_peers_are_timed_out_and_the_daemon_keeps_serving() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("m"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f"), b"honest").unwrap();
    std::fs::create_dir(&module).unwrap();
    let idle = Duration::from_millis(600);
    let daemon = Daemon::start_with(&[("m", &module, false)], |c| {
        c.set_idle_timeout(idle).unwrap();
        c.set_max_sessions(2).unwrap();
    })
    .await;

    // A TCP connection that never sends a byte is closed.
    let addr = daemon.addr;
    let (read, waited) = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let started = Instant::now();
        let mut silent = std::net::TcpStream::connect(addr).unwrap();
        silent.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let read = silent.read(&mut [0u8; 64]).map_err(|e| e.kind());
        (read, started.elapsed())
    })
    .await
    .unwrap();
    let closed = matches!(read, Ok(0) | Err(std::io::ErrorKind::ConnectionReset));
    assert!(closed, "a silent connection is still open after {waited:?}: {read:?}");
    assert!(waited >= idle, "{waited:?}");

    // A session that never sends `Open`.
    let (tx, rx) = mpsc::channel::<pb::Frame>(1);
    let started = Instant::now();
    let status = raw(daemon.addr).await.transfer(ReceiverStream::new(rx)).await.unwrap_err();
    assert!(status.message().contains("no `Open` within"), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(tx);

    // Sessions that open and then fall silent, pushing and pulling, take
    // both slots; they are ended after the idle timeout and give them back.
    let (push_tx, mut push_stream) = session(daemon.addr, b"p", pb::Role::Push).await;
    let (pull_tx, mut pull_stream) = session(daemon.addr, b"", pb::Role::Pull).await;
    let (r, _) = push(&src, &daemon.remote("m", "busy"), &TransferOptions::new()).await;
    let e = r.unwrap_err();
    assert!(e.to_string().contains("blitd is busy (2 sessions); retry later"), "{e}");
    assert!(e.is_retryable() && e.kind() == ErrorKind::Io, "{e:?}");
    let started = Instant::now();
    for stream in [&mut push_stream, &mut pull_stream] {
        let out = outcome(stream).await;
        let Some(status) = out.status else { panic!("ends with a status: {out:?}") };
        assert!(status.message().contains("idle for 0.6 s"), "{status:?}");
        let e = blit_transport_grpc::error_from_status(&status, "blitd");
        assert!(e.is_retryable(), "{e}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    drop((push_tx, pull_tx));

    // Honest clients are served again: the slots come back when the
    // sessions' readers stop, a moment after the idle error.
    daemon.idle().await;
    let (r, _) = push(&src, &daemon.remote("m", "fine"), &TransferOptions::new()).await;
    assert!(r.unwrap().failures.is_empty());
    assert_eq!(snapshot(&src), snapshot(&module.join("fine")));
    daemon.stop().await;
}

/// Regression (found by the payload record fuzz target): a file announced at
/// the root of a push into a module, which is a directory, was landed
/// through a temporary file in the module's parent directory, and a large
/// one's `.part` stayed there when the client went away. Now the file
/// fails and nothing appears beside the module.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_at_the_module_root_writes_nothing_beside_the_module() {
    let f = fixture();
    let parent = f.module.parent().unwrap().to_path_buf();
    let names = || {
        let mut names: Vec<_> = std::fs::read_dir(&parent).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    let before = names();
    let daemon = Daemon::start(&[("m", &f.module, false)]).await;
    for size in [4, blit_api::RESUME_MIN + 4] {
        let (tx, mut stream) = push_with_manifest(daemon.addr, &[(b"harmless", 4)]).await;
        let recs =
            vec![Record::FileBegin(header(b"", pb::Kind::File, size)), Record::Data(Bytes::from_static(b"evil"))];
        tx.send(records(recs)).await.unwrap();
        // The client goes away in the middle of the file.
        drop(tx);
        let _ = outcome(&mut stream).await;
        drop(stream);
        daemon.idle().await;
        assert_eq!(names(), before, "a {size}-byte file at the root wrote beside the module");
    }
    no_temporary_files(&f.module);
    outside_untouched(&f.outside, &f.before);
    still_serves(&daemon, &f).await;
    daemon.stop().await;
}
