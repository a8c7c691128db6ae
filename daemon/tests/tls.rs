//! TLS between the client and a blitd running in this process, with
//! certificates made at run time: push and pull over the in-stream gRPC
//! payload and over the TCP data plane land identical trees; a client
//! without TLS, or trusting another CA, fails with a message that says so.

mod common;

use blit_api::{ErrorKind, TransferOptions};
use blit_tls::testing::TestPki;
use blit_transport_grpc::{ClientTls, GrpcConfig, TransportMode};
use common::{build_tree, pull_with, push_with, snapshot, Daemon};

/// A TLS daemon serving an empty module `m`; its CA and the module dir.
async fn tls_daemon() -> (Daemon, TestPki, tempfile::TempDir) {
    let t = tempfile::tempdir().unwrap();
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    std::fs::create_dir(t.path().join("pki")).unwrap();
    let [_, cert, key] = pki.write(&t.path().join("pki"));
    let module = t.path().join("m");
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start_with(&[("m", &module, false)], move |c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    })
    .await;
    (daemon, pki, t)
}

fn trusting(pki: &TestPki) -> ClientTls {
    ClientTls::from_ca_pem(pki.ca_pem.as_bytes(), "--tls-ca ca.pem").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_over_tls_land_identical_trees_on_both_planes() {
    let (daemon, pki, t) = tls_daemon().await;
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    // A file large enough to travel in ranges on the data plane.
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(src.path().join("a/big"), &big).unwrap();
    for (mode, transport) in [(TransportMode::Tcp, "tcp"), (TransportMode::Grpc, "grpc")] {
        let config = GrpcConfig::new().transport(mode).tls(Some(trusting(&pki)));
        let dir = format!("via-{transport}");
        let (pushed, _) = push_with(src.path(), &daemon.remote("m", &dir), &TransferOptions::new(), &config).await;
        let pushed = pushed.unwrap_or_else(|e| panic!("push over {transport}: {e}"));
        assert!(pushed.failures.is_empty(), "{:?}", pushed.failures);
        assert_eq!(pushed.transport, transport);
        assert_eq!(snapshot(&t.path().join("m").join(&dir)), snapshot(src.path()), "push {transport}");
        let dst = tempfile::tempdir().unwrap();
        let (pulled, _) = pull_with(&daemon.remote("m", &dir), dst.path(), &TransferOptions::new(), &config).await;
        let pulled = pulled.unwrap_or_else(|e| panic!("pull over {transport}: {e}"));
        assert_eq!(pulled.transport, transport);
        assert_eq!(snapshot(dst.path()), snapshot(src.path()), "pull {transport}");
        // Over TLS the kernel cannot move the bytes by itself.
        assert_eq!((pushed.zero_copy_bytes, pulled.zero_copy_bytes), (0, 0), "{transport}");
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_client_and_a_client_trusting_another_ca_are_refused_clearly() {
    let (daemon, _pki, t) = tls_daemon().await;
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    let port = daemon.addr.port();

    let plain = GrpcConfig::new().connect_timeout(std::time::Duration::from_secs(3));
    let (pushed, _) = push_with(src.path(), &daemon.remote("m", ""), &TransferOptions::new(), &plain).await;
    let e = pushed.unwrap_err();
    assert!(e.to_string().contains("--tls"), "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    let e = blit_transport_grpc::modules("127.0.0.1", port, &plain).await.unwrap_err();
    assert!(e.to_string().contains("--tls"), "{e}");

    let other = TestPki::new(&["127.0.0.1", "localhost"]);
    let wrong_ca =
        GrpcConfig::new().tls(Some(ClientTls::from_ca_pem(other.ca_pem.as_bytes(), "--tls-ca other.pem").unwrap()));
    for host in ["127.0.0.1", "localhost"] {
        let e = blit_transport_grpc::modules(host, port, &wrong_ca).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        let text = e.to_string();
        assert!(text.contains(&format!("TLS certificate of `{host}` refused")), "{text}");
        assert!(text.contains("invalid peer certificate") && text.contains("--tls-ca other.pem"), "{text}");
    }
    assert_eq!(std::fs::read_dir(t.path().join("m")).unwrap().count(), 0, "nothing landed");
    daemon.stop().await;
}
