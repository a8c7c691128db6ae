//! Flow control and shutdown, seen from a raw client.

mod common;

use blit_proto::pb::{self, blit_client::BlitClient, frame::Body};
use common::Daemon;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Opens a pull of the module root announcing room for `window` manifest
/// items; returns the sender and the stream after `Opened`.
async fn open_pull(daemon: &Daemon, window: u32) -> (mpsc::Sender<pb::Frame>, tonic::Streaming<pb::Frame>) {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.addr)).unwrap().connect().await.unwrap();
    let (tx, rx) = mpsc::channel(4);
    tx.send(common::open_frame(pb::Role::Pull, "grpc", window)).await.unwrap();
    let mut stream = BlitClient::new(channel).transfer(ReceiverStream::new(rx)).await.unwrap().into_inner();
    let opened = stream.message().await.unwrap().unwrap();
    assert!(matches!(opened.body, Some(Body::Opened(_))));
    (tx, stream)
}

/// Counts the manifest items that arrive until the stream stays quiet for
/// `quiet`.
async fn manifest_items_until_quiet(stream: &mut tonic::Streaming<pb::Frame>, quiet: Duration) -> usize {
    let mut items = 0;
    while let Ok(frame) = tokio::time::timeout(quiet, stream.message()).await {
        match frame.unwrap().and_then(|f| f.body) {
            Some(Body::Manifest(m)) => items += m.items.len(),
            Some(other) => panic!("unexpected frame {other:?}"),
            None => break,
        }
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_no_more_manifest_than_the_client_has_room_for() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..300 {
        std::fs::write(t.path().join(format!("f{i}")), b"x").unwrap();
    }
    let daemon = Daemon::start(&[("m", t.path(), false)]).await;
    let (tx, mut stream) = open_pull(&daemon, 64).await;
    let quiet = Duration::from_millis(300);
    assert_eq!(manifest_items_until_quiet(&mut stream, quiet).await, 64, "the window, then a pause");
    let credit = |n| pb::Frame { body: Some(Body::Credit(pb::Credit { manifest_items: n, need_batches: 0 })) };
    tx.send(credit(40)).await.unwrap();
    assert_eq!(manifest_items_until_quiet(&mut stream, quiet).await, 40, "exactly the credit granted");
    // Credit beyond the announced window breaks the protocol.
    tx.send(credit(100)).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(10), stream.message()).await.unwrap().unwrap();
    let Some(Body::Error(report)) = frame.and_then(|f| f.body) else { panic!("an error frame") };
    assert_eq!(report.kind, pb::ErrorKind::Protocol as i32, "{report:?}");
    drop((tx, stream));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_lingering_sessions_and_tells_their_clients() {
    let t = tempfile::tempdir().unwrap();
    for i in 0..10 {
        std::fs::write(t.path().join(format!("f{i}")), b"x").unwrap();
    }
    let daemon = Daemon::start(&[("m", t.path(), false)]).await;
    // A client that never grants credit nor sends its need list.
    let (tx, mut stream) = open_pull(&daemon, 1).await;
    let stopping = tokio::spawn(daemon.stop());
    let report = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), stream.message()).await.unwrap().unwrap();
        match frame.and_then(|f| f.body) {
            Some(Body::Error(report)) => break report,
            Some(_) => {}
            None => panic!("the session ended without telling the client"),
        }
    };
    assert_eq!(report.kind, pb::ErrorKind::Cancelled as i32);
    assert!(report.message.contains("shutting down"), "{report:?}");
    drop((tx, stream));
    stopping.await.unwrap();
}
