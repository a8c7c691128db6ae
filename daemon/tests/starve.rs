//! Strangers cannot starve the daemon: a peer that has not proved the
//! secret holds no session slot, so real clients get in while strangers
//! hold streams open.

mod common;

use blit_api::TransferOptions;
use blit_proto::pb::{self, blit_client::BlitClient};
use blit_transport_grpc::{GrpcConfig, Secret};
use common::{build_tree, push_with, snapshot, Daemon};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const SECRET: &str = "a-real-client-secret-0123";

fn with(secret: &str) -> GrpcConfig {
    GrpcConfig::new().secret(Some(Secret::new(secret, "test").unwrap()))
}

/// Opens a `Transfer` stream that never sends a frame, with `secret` (or
/// none) in its metadata; keeps it open by holding the sender.
async fn stranger(daemon: &Daemon, secret: Option<&str>) -> mpsc::Sender<pb::Frame> {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.addr)).unwrap().connect().await.unwrap();
    let (tx, rx) = mpsc::channel(1);
    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    if let Some(s) = secret {
        request.metadata_mut().insert("authorization", format!("Bearer {s}").parse().unwrap());
    }
    let mut client = BlitClient::new(channel);
    // The call resolves once the daemon answers (a refusal) or never (it
    // waits for `Open`): either way the stream stays open from our side.
    tokio::spawn(async move {
        let _ = client.transfer(request).await;
        std::future::pending::<()>().await;
    });
    tx
}

async fn strangers_hold_streams_while_real_pushes_land(per_module: bool) {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("m"));
    build_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let key = t.path().join("key");
    std::fs::write(&key, SECRET).unwrap();
    let daemon = Daemon::start_with(&[("m", &module, false)], move |c| {
        c.max_sessions = 2;
        if per_module {
            c.modules[0].auth_secret_file = Some(key);
        } else {
            c.auth_secret_file = Some(key);
        }
    })
    .await;
    let mut held = Vec::new();
    for i in 0..12 {
        held.push(stranger(&daemon, (i % 2 == 1).then_some("a-wrong-guess-0123456789")).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for round in 0..4 {
        let dst = format!("r{round}");
        let (r, _) = push_with(&src, &daemon.remote("m", &dst), &TransferOptions::new(), &with(SECRET)).await;
        let r = r.unwrap_or_else(|e| panic!("round {round} with 12 strangers holding streams: {e}"));
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        assert_eq!(snapshot(&module.join(&dst))[1..], snapshot(&src)[1..]);
    }
    drop(held);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_without_the_daemon_secret_hold_no_slot() {
    strangers_hold_streams_while_real_pushes_land(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_without_a_module_secret_hold_no_slot() {
    strangers_hold_streams_while_real_pushes_land(true).await;
}
