//! The TCP data plane between the client and a blitd running in this
//! process: push and pull land identical trees with the events of a local
//! run, the token refuses strangers, `auto` falls back to in-stream gRPC by
//! itself and says so, `tcp` fails instead, and compression round-trips.

#![cfg(feature = "tcp-data-plane")]

mod common;

use blit_api::{ErrorKind, ProgressEvent, RecordingSink, Result, TransferOptions, TransferSummary};
use blit_engine::{DestinationRoles, SourceRoles};
use blit_proto::pb;
use blit_proto::pb::blit_client::BlitClient;
use blit_proto::pb::frame::Body;
use blit_transport_grpc::{GrpcConfig, RemoteSpec, TransportMode};
use blit_transport_local::{LocalDestination, LocalSource};
use common::{assert_same_events, build_tree, copy_local, snapshot, Daemon};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn tcp() -> GrpcConfig {
    GrpcConfig::new().transport(TransportMode::Tcp)
}

async fn push(src: &Path, remote: &RemoteSpec, config: &GrpcConfig) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    let source = Arc::new(LocalSource::new(src.to_path_buf()));
    let events = RecordingSink::new();
    let roles = SourceRoles { source: source.clone(), reader: source };
    let options = TransferOptions::new();
    let r = blit_transport_grpc::push(remote, roles, &options, config, events.clone()).await;
    (r, events.events())
}

async fn pull(remote: &RemoteSpec, dst: &Path, config: &GrpcConfig) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    let destination = Arc::new(LocalDestination::new(dst.to_path_buf()));
    let events = RecordingSink::new();
    let roles = DestinationRoles { sink: destination.clone(), writer: destination };
    let options = TransferOptions::new();
    let r = blit_transport_grpc::pull(remote, roles, &options, config, events.clone()).await;
    (r, events.events())
}

/// `build_tree` plus a 5 MiB file: over 4 connections it travels in 20
/// ranges of 256 KiB.
fn tree(root: &Path) {
    build_tree(root);
    let data: Vec<u8> = (0..5 * 1024 * 1024 + 3).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(root.join("a/ranged"), data).unwrap();
}

fn check_tcp(summary: &TransferSummary, streams: u32) {
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.transport, "tcp");
    assert_eq!(summary.streams, streams);
    assert_eq!((summary.compression.as_str(), summary.fallback.as_deref()), ("none", None));
    assert!(summary.zero_copy_bytes >= 5 * 1024 * 1024, "sendfile carried the large files: {summary:?}");
    assert!(summary.first_byte_secs.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_over_tcp_land_identical_trees_with_local_events() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    tree(&src);
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let (_, reference) = copy_local(&src, &t.path().join("local"), &TransferOptions::new()).await;

    let config = tcp().streams(Some(4));
    let (summary, events) = push(&src, &daemon.remote("m", "pushed"), &config).await;
    check_tcp(&summary.unwrap(), 4);
    assert_eq!(snapshot(&src), snapshot(&module.join("pushed")));
    assert_same_events("push over tcp", &events, &reference);

    let dst = t.path().join("pulled");
    let (summary, events) = pull(&daemon.remote("m", "pushed"), &dst, &config).await;
    check_tcp(&summary.unwrap(), 4);
    assert_eq!(snapshot(&src), snapshot(&dst));
    assert_same_events("pull over tcp", &events, &reference);

    // Auto with the probe's candidates open: the same tree, a rerun moves nothing.
    let auto = GrpcConfig::new().transport(TransportMode::Auto);
    let (summary, _) = push(&src, &daemon.remote("m", "pushed"), &auto).await;
    let summary = summary.unwrap();
    assert_eq!((summary.entries_transferred, summary.transport.as_str()), (0, "tcp"));
    let (summary, events) = pull(&daemon.remote("m", "pushed"), &t.path().join("auto"), &auto).await;
    let summary = summary.unwrap();
    assert_eq!((summary.transport.as_str(), summary.streams, summary.tuning.as_str()), ("tcp", 4, "default"));
    assert_same_events("pull over auto", &events, &reference);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_round_trips_both_ways() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    tree(&src);
    std::fs::write(src.join("text"), "blit compresses text ".repeat(200_000)).unwrap();
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let config = tcp().streams(Some(2)).compress("zstd:3");
    let (summary, _) = push(&src, &daemon.remote("m", "z"), &config).await;
    let summary = summary.unwrap();
    assert_eq!((summary.compression.as_str(), summary.zero_copy_bytes), ("zstd:3", 0));
    assert_eq!(snapshot(&src), snapshot(&module.join("z")));
    let (summary, _) = pull(&daemon.remote("m", "z"), &t.path().join("back"), &config).await;
    let summary = summary.unwrap();
    assert_eq!((summary.compression.as_str(), summary.streams), ("zstd:3", 2));
    assert_eq!(snapshot(&src), snapshot(&t.path().join("back")));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_to_grpc_and_says_so_while_tcp_fails() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    build_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    // A port nobody listens on stands for a data port a firewall blocks.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let auto = GrpcConfig::new().transport(TransportMode::Auto).data_plane_addr(Some(closed));
    let (summary, events) = push(&src, &daemon.remote("m", "fallback"), &auto).await;
    let summary = summary.unwrap();
    assert_eq!(summary.transport, "grpc");
    // Progress names the transport used from its first event on.
    let Some(ProgressEvent::Started { transport, .. }) = events.first() else { panic!("{:?}", events.first()) };
    assert_eq!(transport, "grpc", "Started names the transport after the fallback");
    let why = summary.fallback.expect("the summary says why");
    assert!(why.contains("not reachable") && why.contains("in-stream"), "{why}");
    assert_eq!(snapshot(&src), snapshot(&module.join("fallback")));
    let (summary, _) = pull(&daemon.remote("m", "fallback"), &t.path().join("back"), &auto).await;
    assert_eq!(summary.unwrap().transport, "grpc");
    assert_eq!(snapshot(&src), snapshot(&t.path().join("back")));

    let strict = tcp().data_plane_addr(Some(closed));
    let (result, events) = push(&src, &daemon.remote("m", "strict"), &strict).await;
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("cannot reach the data plane"), "{e}");
    assert!(matches!(events.last(), Some(ProgressEvent::Failed { .. })));
    assert!(matches!(events.first(), Some(ProgressEvent::Started { .. })), "Started first even when the session fails");
    let (result, _) = pull(&daemon.remote("m", "fallback"), &t.path().join("strict"), &strict).await;
    assert!(result.unwrap_err().to_string().contains("--transport grpc"));
    daemon.stop().await;
}

fn open(transport: &str) -> pb::Frame {
    open_as(pb::Role::Pull, transport)
}

fn open_as(role: pb::Role, transport: &str) -> pb::Frame {
    common::open_frame(role, transport, 64)
}

/// Presents `token` (index 0 of `count`) on a raw connection; returns the
/// bytes the daemon sent back before it closed the connection.
fn present(addr: std::net::SocketAddr, token: &[u8], count: u8) -> Vec<u8> {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else { return Vec::new() };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = token.to_vec();
    hello.extend([0, count]);
    let _ = s.write_all(&hello);
    let mut back = Vec::new();
    let mut byte = [0u8];
    // The daemon answers one byte when it admits a connection, and keeps it.
    if let Ok(1) = s.read(&mut byte) {
        back.push(byte[0]);
    }
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_replays_and_late_comers_get_no_byte() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("f"), b"secret").unwrap();
    let daemon = Daemon::start(&[("m", t.path(), false)]).await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.addr)).unwrap().connect().await.unwrap();
    let (tx, rx) = mpsc::channel(4);
    tx.send(open("tcp")).await.unwrap();
    let mut stream = BlitClient::new(channel).transfer(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let Some(Body::Opened(opened)) = stream.message().await.unwrap().and_then(|f| f.body) else { panic!("Opened") };
    let offer = opened.data_plane.expect("a tcp session gets an offer");
    assert_eq!(offer.token.len(), 32);
    let addr = std::net::SocketAddr::new(daemon.addr.ip(), offer.port as u16);
    let token = offer.token.to_vec();
    let raw = move |token: Vec<u8>| tokio::task::spawn_blocking(move || present(addr, &token, 1));

    let mut wrong = token.clone();
    wrong[5] ^= 1;
    assert_eq!(raw(wrong).await.unwrap(), b"", "a wrong token");
    assert_eq!(raw(token[..31].to_vec()).await.unwrap(), b"", "a short token");
    let admitted = raw(token.clone());
    assert_eq!(admitted.await.unwrap(), [0xB1], "the right token is admitted once");
    // The set is complete (1 of 1): the listener closed, the token is spent.
    assert_eq!(raw(token.clone()).await.unwrap(), b"", "a replayed token");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_session_gets_no_offer() {
    let t = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&[("m", t.path(), false)]).await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.addr)).unwrap().connect().await.unwrap();
    let (tx, rx) = mpsc::channel(4);
    tx.send(open("grpc")).await.unwrap();
    let mut stream = BlitClient::new(channel).transfer(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let Some(Body::Opened(opened)) = stream.message().await.unwrap().and_then(|f| f.body) else { panic!("Opened") };
    assert!(opened.data_plane.is_none());
    drop(tx);
    daemon.stop().await;
}

/// Presents `hello` as the whole hello on a raw connection (see [`present`]).
fn present_raw(addr: std::net::SocketAddr, hello: &[u8]) -> Vec<u8> {
    present(addr, &hello[..hello.len() - 2], hello[hello.len() - 1])
}

/// A hostile client of a push session's data plane: a silent connection,
/// a wrong token, a count above the limit, the right token, then a replay
/// and one connection too many. Each is refused (no acknowledgement) or
/// closed by the daemon's deadline; nothing lands anywhere; the daemon
/// then serves a normal push over the data plane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_data_plane_client_is_refused_and_the_daemon_keeps_serving() {
    let t = tempfile::tempdir().unwrap();
    let (module, beside) = (t.path().join("module"), t.path().join("beside"));
    std::fs::create_dir(&module).unwrap();
    std::fs::create_dir(&beside).unwrap();
    std::fs::write(module.join("kept"), b"kept").unwrap();
    let before = snapshot(t.path());
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.addr)).unwrap().connect().await.unwrap();
    let (tx, rx) = mpsc::channel(4);
    tx.send(open_as(pb::Role::Push, "tcp")).await.unwrap();
    let mut stream = BlitClient::new(channel).transfer(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let Some(Body::Opened(opened)) = stream.message().await.unwrap().and_then(|f| f.body) else { panic!("Opened") };
    let offer = opened.data_plane.expect("a tcp session gets an offer");
    let addr = std::net::SocketAddr::new(daemon.addr.ip(), offer.port as u16);
    let token = offer.token.to_vec();

    // (d) A connection that never sends anything is closed at the hello deadline.
    let silent = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(9))).unwrap();
        let started = std::time::Instant::now();
        let read = s.read(&mut [0u8; 1]);
        (read.map_err(|e| e.kind()), started.elapsed())
    });
    let (read, waited) = silent.await.unwrap();
    assert!(matches!(read, Ok(0) | Err(std::io::ErrorKind::ConnectionReset)), "{read:?}");
    assert!(waited < Duration::from_secs(8), "closed by the daemon after {waited:?}, not by our timeout");

    let raw = move |hello: Vec<u8>| tokio::task::spawn_blocking(move || present_raw(addr, &hello));
    let hello = |token: &[u8], index: u8, count: u8| [token, &[index, count]].concat();
    // (a) A wrong token.
    let mut wrong = token.clone();
    wrong[0] ^= 0x80;
    assert_eq!(raw(hello(&wrong, 0, 1)).await.unwrap(), b"", "a wrong token");
    // (c) More connections than a session may have.
    assert_eq!(raw(hello(&token, 0, 17)).await.unwrap(), b"", "17 connections");
    // The right token is admitted, once.
    assert_eq!(raw(hello(&token, 0, 1)).await.unwrap(), [0xB1], "the right token");
    // (b) Replayed after use, and (c) one connection beyond the announced set.
    assert_eq!(raw(hello(&token, 0, 1)).await.unwrap(), b"", "a replayed token");
    assert_eq!(raw(hello(&token, 1, 2)).await.unwrap(), b"", "a connection beyond the set");
    drop(tx);
    while let Ok(Some(_)) = stream.message().await {}
    assert_eq!(snapshot(t.path()), before, "nothing landed, in the module or beside it");

    // The daemon keeps serving: a normal push over the data plane.
    let src = t.path().join("src");
    build_tree(&src);
    let (summary, _) = push(&src, &daemon.remote("m", "after"), &tcp()).await;
    assert_eq!(summary.unwrap().transport, "tcp");
    assert_eq!(snapshot(&src), snapshot(&module.join("after")));
    daemon.stop().await;
}
