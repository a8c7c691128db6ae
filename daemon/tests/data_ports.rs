//! `data_ports`: the TCP data plane listens only on the configured ports,
//! so a firewall can let exactly those through; with every one of them in
//! use, `auto` goes in-stream and `tcp` is refused with a message naming
//! the range.

#![cfg(feature = "tcp-data-plane")]

mod common;

use blit_api::{RecordingSink, TransferOptions};
use blit_daemon::DaemonConfig;
use blit_engine::SourceRoles;
use blit_proto::pb;
use blit_proto::pb::blit_client::BlitClient;
use blit_proto::pb::frame::Body;
use blit_transport_grpc::{GrpcConfig, PortRange, TransportMode};
use blit_transport_local::LocalSource;
use common::{build_tree, open_frame, snapshot, Daemon};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Opens a pull of module `m` asking for `transport`; returns the first
/// answer: the offer of `Opened`, or the refusal.
async fn offer(
    daemon: &Daemon,
    transport: &str,
) -> (Result<Option<pb::DataPlaneOffer>, tonic::Status>, mpsc::Sender<pb::Frame>) {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.addr)).unwrap().connect().await.unwrap();
    let (tx, rx) = mpsc::channel(4);
    tx.send(open_frame(pb::Role::Pull, transport, 64)).await.unwrap();
    let answer = match BlitClient::new(channel).transfer(ReceiverStream::new(rx)).await {
        Ok(stream) => match stream.into_inner().message().await {
            Ok(Some(pb::Frame { body: Some(Body::Opened(opened)) })) => Ok(opened.data_plane),
            Ok(other) => panic!("expected Opened, got {other:?}"),
            Err(status) => Err(status),
        },
        Err(status) => Err(status),
    };
    (answer, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_plane_listens_only_on_the_configured_ports() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    build_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let port = free_port();
    let range = PortRange::new(port, port).unwrap();
    let daemon = Daemon::start_with(&[("m", &module, false)], |c: &mut DaemonConfig| c.data_ports = Some(range)).await;

    // A push over the data plane works through the one port.
    let source = Arc::new(LocalSource::new(src.clone()));
    let roles = SourceRoles { source: source.clone(), reader: source };
    let config = GrpcConfig::new().transport(TransportMode::Tcp);
    let summary = blit_transport_grpc::push(
        &daemon.remote("m", "in"),
        roles,
        &TransferOptions::new(),
        &config,
        RecordingSink::new(),
    )
    .await
    .unwrap();
    assert_eq!(summary.transport, "tcp");
    assert_eq!(snapshot(&src), snapshot(&module.join("in")));

    // The offer names that port; while its listener waits for the client,
    // the range is full: `tcp` is refused naming the range, `auto` gets no
    // offer and goes in-stream.
    let (first, _held) = offer(&daemon, "tcp").await;
    assert_eq!(first.unwrap().expect("an offer").port, u32::from(port));
    let (refused, _) = offer(&daemon, "tcp").await;
    let status = refused.expect_err("no port left");
    assert!(status.message().contains(&range.to_string()), "{status:?}");
    let (auto, _) = offer(&daemon, "auto").await;
    assert_eq!(auto.unwrap(), None, "auto goes in-stream");
    daemon.stop().await;
}

#[test]
fn data_ports_parse_from_the_file_and_bad_ranges_are_located() {
    let base = std::path::Path::new("/");
    let c = DaemonConfig::from_toml("data_ports = \"40000-40099\"\n", base).unwrap();
    assert_eq!(c.data_ports, Some(PortRange::new(40000, 40099).unwrap()));
    assert_eq!(DaemonConfig::from_toml("", base).unwrap().data_ports, None);
    let e = DaemonConfig::from_toml("listen = \"127.0.0.1:9031\"\ndata_ports = \"9-1\"\n", base).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("line 2") && text.contains("not a port range"), "{text}");
}
