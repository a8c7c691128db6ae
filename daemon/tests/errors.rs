//! Bad input gets a clear error, nothing is written outside a module, and
//! the daemon keeps serving.

mod common;

use blit_api::{ErrorKind, RelPath, TransferOptions};
use blit_proto::pb::{self, blit_client::BlitClient, frame::Body, payload_record::Record};
use blit_transport_grpc::{GrpcConfig, RemoteSpec};
use common::{build_tree, listing, pull, push, Daemon};
use prost::bytes::Bytes;
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

async fn raw(addr: SocketAddr) -> BlitClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    BlitClient::new(channel)
}

fn open(version: u32, module: &str, path: &[u8], role: pb::Role) -> pb::Frame {
    let open = pb::Open {
        protocol_version: version,
        module: module.into(),
        path: Bytes::copy_from_slice(path),
        role: role as i32,
        options: None,
        transport: "grpc".into(),
        window: Some(pb::Window { manifest_items: 64, need_batches: 4, takes_ahead: false }),
    };
    pb::Frame { body: Some(Body::Open(open)) }
}

fn frame(body: Body) -> pb::Frame {
    pb::Frame { body: Some(body) }
}

/// Opens a raw session; returns the sender and the stream after `Opened`.
async fn session(addr: SocketAddr, first: pb::Frame) -> (mpsc::Sender<pb::Frame>, tonic::Streaming<pb::Frame>) {
    let (tx, rx) = mpsc::channel(16);
    tx.send(first).await.unwrap();
    let mut stream = raw(addr).await.transfer(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let opened = stream.message().await.unwrap().unwrap();
    assert!(matches!(opened.body, Some(Body::Opened(_))), "{opened:?}");
    (tx, stream)
}

/// Reads frames until the daemon reports an error; returns it.
async fn next_error(stream: &mut tonic::Streaming<pb::Frame>) -> pb::ErrorReport {
    let read = async {
        loop {
            match stream.message().await.unwrap().and_then(|f| f.body) {
                Some(Body::Error(report)) => return report,
                Some(_) => {}
                None => panic!("the stream ended without an error"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("an error within 10 s")
}

fn header(path: &[u8], kind: pb::Kind, size: u64) -> pb::Header {
    pb::Header { path: Bytes::copy_from_slice(path), kind: kind as i32, size, mode: 0o644, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_unknown_modules_refuse_before_writing() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("ro"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f"), b"data").unwrap();
    std::fs::create_dir(&module).unwrap();
    std::fs::write(module.join("keep"), b"keep").unwrap();
    let before = listing(&module);
    let daemon = Daemon::start(&[("ro", &module, true), ("rw", &src, false)]).await;
    let options = TransferOptions::new().mirror(true);

    let (r, events) = push(&src, &daemon.remote("ro", "dst"), &options).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    let text = e.to_string();
    assert!(text.contains("module `ro` is read-only") && text.contains(&daemon.addr.to_string()), "{text}");
    assert_eq!(events.len(), 2, "Started, then Failed: {events:?}");
    assert_eq!(listing(&module), before, "nothing written");
    let (r, _) = push(&src, &daemon.remote("ro", ""), &options).await;
    assert_eq!(r.unwrap_err().kind(), ErrorKind::ReadOnly);
    assert_eq!(listing(&module), before, "mirror deleted nothing");

    let (r, _) = pull(&daemon.remote("ro", ""), &t.path().join("copy"), &options).await;
    r.unwrap();
    assert_eq!(std::fs::read(t.path().join("copy/keep")).unwrap(), b"keep");

    let (r, _) = push(&src, &daemon.remote("nope", ""), &options).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("no module `nope`; this blitd serves: ro, rw"), "{e}");

    let modules = blit_transport_grpc::modules("127.0.0.1", daemon.addr.port(), &GrpcConfig::default()).await.unwrap();
    let names: Vec<_> = modules.iter().map(|m| (m.name.as_str(), m.comment.as_str(), m.read_only)).collect();
    assert_eq!(names, [("ro", "the ro module", true), ("rw", "the rw module", false)]);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_escapes_are_refused_and_nothing_leaves_the_module() {
    let t = tempfile::tempdir().unwrap();
    let (src, module, outside) = (t.path().join("src"), t.path().join("m"), t.path().join("outside"));
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/f"), b"data").unwrap();
    std::fs::create_dir_all(&module).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    symlink(&outside, module.join("escape")).unwrap();
    symlink(&outside, module.join("d")).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let options = TransferOptions::new();
    let outside_before = listing(&outside);

    for bad in [&b"../x"[..], b"/etc", b"a/../../x"] {
        let (tx, rx) = mpsc::channel(1);
        tx.send(open(1, "m", bad, pb::Role::Push)).await.unwrap();
        let status = raw(daemon.addr).await.transfer(ReceiverStream::new(rx)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
        assert!(status.message().contains("refused the path"), "{status:?}");
    }
    for path in ["escape", "escape/x"] {
        let (r, _) = push(&src, &daemon.remote("m", path), &options).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains(&format!("/m/{path}")), "{e}");
        assert!(!e.to_string().contains(t.path().to_str().unwrap()), "hides the daemon's paths: {e}");
    }
    let (r, _) = pull(&daemon.remote("m", "escape/secret"), &t.path().join("got"), &options).await;
    assert_eq!(r.unwrap_err().kind(), ErrorKind::PermissionDenied);
    let e = blit_transport_grpc::list(&daemon.remote("m", "escape/secret"), &GrpcConfig::default(), |_| {}).await;
    assert_eq!(e.unwrap_err().kind(), ErrorKind::PermissionDenied);
    // A pushed tree whose directory `d` is a symlink to outside in the
    // module: the symlink is replaced by a directory, never written through.
    let (r, _) = push(&src, &daemon.remote("m", ""), &options).await;
    r.unwrap();
    assert_eq!(std::fs::read(module.join("d/f")).unwrap(), b"data");
    assert!(std::fs::symlink_metadata(module.join("d")).unwrap().is_dir());
    assert_eq!(listing(&outside), outside_before, "nothing written outside the module");

    // A pull whose need list names a file through the symlink.
    let (tx, mut stream) = session(daemon.addr, open(1, "m", b"", pb::Role::Pull)).await;
    let need = pb::Need { files: vec![header(b"escape/secret", pb::Kind::File, 6)], ahead: vec![] };
    tx.send(frame(Body::Need(need))).await.unwrap();
    tx.send(frame(Body::Need(pb::Need { files: vec![], ahead: vec![] }))).await.unwrap();
    let mut refused = false;
    let read = async {
        while let Some(frame) = stream.message().await.unwrap() {
            let Some(Body::Payload(p)) = frame.body else { continue };
            for record in p.records.into_iter().filter_map(|r| r.record) {
                match record {
                    Record::SourceFailed(sf) => {
                        let f = sf.failure.unwrap();
                        assert_eq!(f.kind, pb::ErrorKind::PermissionDenied as i32, "{f:?}");
                        refused = true;
                    }
                    Record::Data(d) => assert!(!d.windows(6).any(|w| w == b"secret"), "leaked"),
                    Record::Done(_) => return,
                    _ => {}
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.unwrap();
    assert!(refused);
    drop((tx, stream));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_daemons_fail_fast_naming_host_and_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let src = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let remote = RemoteSpec::new("127.0.0.1", port, "m", RelPath::root());
    let (r, _) = push(src.path(), &remote, &TransferOptions::new()).await;
    let e = r.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let text = e.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")) && text.contains("blitd --module"), "{text}");

    let config = GrpcConfig::default().connect_timeout(Duration::from_secs(1));
    let started = Instant::now();
    let e = blit_transport_grpc::modules("no-such-host.invalid", 9031, &config).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(e.to_string().contains("no-such-host.invalid:9031"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_protocol_versions_are_refused_naming_both() {
    let t = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&[("m", t.path(), false)]).await;
    let mut client = raw(daemon.addr).await;
    let status = client.modules(pb::ModulesRequest { protocol_version: 99 }).await.unwrap_err();
    let (tx, rx) = mpsc::channel(1);
    tx.send(open(99, "m", b"", pb::Role::Pull)).await.unwrap();
    let status2 = client.transfer(ReceiverStream::new(rx)).await.unwrap_err();
    let list = pb::ListRequest { protocol_version: 99, module: "m".into(), path: Bytes::new() };
    let status3 = client.list(list).await.unwrap_err();
    for s in [status, status2, status3] {
        assert_eq!(s.code(), tonic::Code::FailedPrecondition);
        let e = blit_transport_grpc::error_from_status(&s, "peer");
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(s.message().contains("version 99") && s.message().contains("version 1"), "{s:?}");
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_keeps_serving_after_clients_misbehave() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("m"));
    build_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;

    // A message over the size limit, as the first frame and inside a session.
    let (tx, rx) = mpsc::channel(1);
    tx.send(open(1, "m", &vec![b'a'; 5 << 20], pb::Role::Push)).await.unwrap();
    let status = raw(daemon.addr).await.transfer(ReceiverStream::new(rx)).await.unwrap_err();
    assert!(status.message().contains("too large"), "{status:?}");
    let (tx, mut stream) = session(daemon.addr, open(1, "m", b"big", pb::Role::Push)).await;
    let huge = pb::Manifest {
        items: vec![pb::ManifestItem {
            item: Some(pb::manifest_item::Item::Entry(header(&vec![b'x'; 5 << 20], pb::Kind::Dir, 0))),
        }],
    };
    tx.send(frame(Body::Manifest(huge))).await.unwrap();
    let report = next_error(&mut stream).await;
    assert_eq!(report.kind, pb::ErrorKind::Protocol as i32);
    assert!(report.message.contains("too large"), "{report:?}");

    // A path that climbs out, inside the manifest.
    let (tx, mut stream) = session(daemon.addr, open(1, "m", b"", pb::Role::Push)).await;
    let items = [header(b"", pb::Kind::Dir, 0), header(b"../evil", pb::Kind::Dir, 0)]
        .map(|h| pb::ManifestItem { item: Some(pb::manifest_item::Item::Entry(h)) });
    tx.send(frame(Body::Manifest(pb::Manifest { items: items.to_vec() }))).await.unwrap();
    let report = next_error(&mut stream).await;
    assert_eq!(report.kind, pb::ErrorKind::Protocol as i32);
    assert!(report.message.contains("unsafe relative path"), "{report:?}");
    assert!(!t.path().join("evil").exists());

    // Payload sent to a daemon that is the source.
    let (tx, mut stream) = session(daemon.addr, open(1, "m", b"", pb::Role::Pull)).await;
    tx.send(frame(Body::Payload(pb::Payload { records: vec![] }))).await.unwrap();
    assert_eq!(next_error(&mut stream).await.kind, pb::ErrorKind::Protocol as i32);

    // A client that goes away in the middle of a push.
    let (tx, stream) = session(daemon.addr, open(1, "m", b"dropped", pb::Role::Push)).await;
    let items = [header(b"", pb::Kind::Dir, 0), header(b"f", pb::Kind::File, 10)]
        .map(|h| pb::ManifestItem { item: Some(pb::manifest_item::Item::Entry(h)) });
    tx.send(frame(Body::Manifest(pb::Manifest { items: items.to_vec() }))).await.unwrap();
    drop((tx, stream));

    // Well-behaved clients are still served.
    let (r, _) = push(&src, &daemon.remote("m", "fine"), &TransferOptions::new()).await;
    assert!(r.unwrap().failures.is_empty());
    assert_eq!(common::snapshot(&src), common::snapshot(&module.join("fine")));
    let mut names = Vec::new();
    blit_transport_grpc::list(&daemon.remote("m", "fine/a"), &GrpcConfig::default(), |h| names.push(h.path.display()))
        .await
        .unwrap();
    names.sort();
    assert_eq!(names, ["b", "mid", "odd-link"]);
    daemon.stop().await;
}
