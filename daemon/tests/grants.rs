//! One-time grants and relays against a real daemon on loopback, as a
//! hostile client would try them: a grant opens exactly one push into its
//! module and path with its options, once, before it expires, and nothing
//! else; read-only modules grant nothing; `Grant` and `Relay` need the
//! module's secret, and `Relay` needs `allow_relay`.

mod common;

use blit_api::{ErrorKind, TransferOptions};
use blit_daemon::DaemonConfig;
use blit_transport_grpc::{Grant, GrpcConfig, RelayTo};
use common::*;
use std::path::Path;
use std::time::Duration;

const SECRET: &str = "grant-test-secret-0123456789";

/// Modules `m` and `n` (writable) and `ro` (read-only), all requiring
/// [`SECRET`]; `m` allows relays.
async fn daemon(root: &Path, tune: impl FnOnce(&mut DaemonConfig)) -> Daemon {
    std::fs::create_dir_all(root).unwrap();
    let secret = root.join("secret");
    std::fs::write(&secret, SECRET).unwrap();
    for dir in ["m", "n", "ro"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let modules = [("m", &*root.join("m"), false), ("n", &*root.join("n"), false), ("ro", &*root.join("ro"), true)];
    Daemon::start_with(&modules, |config| {
        config.auth_secret_file = Some(secret);
        config.modules[0].allow_relay = true;
        tune(config);
    })
    .await
}

fn source(root: &Path) -> std::path::PathBuf {
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"payload").unwrap();
    src
}

async fn grant(d: &Daemon, module: &str, path: &str, options: &TransferOptions) -> blit_api::Result<Grant> {
    blit_transport_grpc::grant(&d.remote(module, path), options, &with_secret(Some(SECRET))).await
}

/// A client configuration that presents `grant` as its secret.
fn presenting(grant: &Grant) -> GrpcConfig {
    GrpcConfig::new().secret(Some(grant.as_secret()))
}

fn refused(result: &blit_api::Result<blit_api::TransferSummary>) -> String {
    let e = result.as_ref().expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    e.to_string()
}

#[tokio::test]
async fn a_grant_opens_one_push_into_its_path_once() {
    let t = tempfile::tempdir().unwrap();
    let d = daemon(t.path(), |_| {}).await;
    let src = source(t.path());
    let options = TransferOptions::new();
    let g = grant(&d, "m", "a", &options).await.unwrap();
    assert_eq!(g.valid, Duration::from_secs(60));
    let (first, _) = push_with(&src, &d.remote("m", "a"), &options, &presenting(&g)).await;
    first.unwrap();
    assert_eq!(std::fs::read(t.path().join("m/a/f")).unwrap(), b"payload");
    std::fs::remove_dir_all(t.path().join("m/a")).unwrap();
    let (second, _) = push_with(&src, &d.remote("m", "a"), &options, &presenting(&g)).await;
    assert!(refused(&second).contains("wrong secret"), "a used grant is no secret either");
    assert!(!t.path().join("m/a").exists(), "the second use lands nothing");
    d.stop().await;
}

#[tokio::test]
async fn a_grant_opens_no_other_path_module_options_or_request() {
    let t = tempfile::tempdir().unwrap();
    let d = daemon(t.path(), |_| {}).await;
    let src = source(t.path());
    let copy = TransferOptions::new();
    let tries = [
        ("m", "b", copy.clone()),
        ("m", "a/inner", copy.clone()),
        ("n", "a", copy.clone()),
        ("m", "a", TransferOptions::new().mirror(true)),
    ];
    for (module, path, options) in tries {
        let g = grant(&d, "m", "a", &copy).await.unwrap();
        let (r, _) = push_with(&src, &d.remote(module, path), &options, &presenting(&g)).await;
        assert!(refused(&r).contains("the grant is for a push into /m/a with other options"), "{module}/{path}");
        // The refused attempt used it up.
        let (again, _) = push_with(&src, &d.remote("m", "a"), &copy, &presenting(&g)).await;
        refused(&again);
    }
    for module in ["m", "n"] {
        assert!(std::fs::read_dir(t.path().join(module)).unwrap().next().is_none(), "nothing landed in {module}");
    }
    // Not a pull, not a listing.
    let g = grant(&d, "m", "", &copy).await.unwrap();
    let (r, _) = pull_with(&d.remote("m", ""), &t.path().join("out"), &copy, &presenting(&g)).await;
    assert!(refused(&r).contains("for a push, not a pull"));
    let g = grant(&d, "m", "", &copy).await.unwrap();
    let e = blit_transport_grpc::list(&d.remote("m", ""), &presenting(&g), |_| {}).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    d.stop().await;
}

#[tokio::test]
async fn an_expired_grant_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = daemon(t.path(), |c| c.grant_lifetime = Duration::from_millis(200)).await;
    let src = source(t.path());
    let g = grant(&d, "m", "a", &TransferOptions::new()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (r, _) = push_with(&src, &d.remote("m", "a"), &TransferOptions::new(), &presenting(&g)).await;
    refused(&r);
    assert!(!t.path().join("m/a").exists());
    d.stop().await;
}

#[tokio::test]
async fn grants_need_the_secret_and_a_writable_module() {
    let t = tempfile::tempdir().unwrap();
    let d = daemon(t.path(), |_| {}).await;
    let options = TransferOptions::new();
    let e = grant(&d, "ro", "", &options).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    assert!(e.to_string().contains("module `ro` is read-only"), "{e}");
    let wrong = with_secret(Some("a-guess-that-is-long-enough"));
    let e = blit_transport_grpc::grant(&d.remote("m", ""), &options, &wrong).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let e = blit_transport_grpc::grant(&d.remote("m", ""), &options, &GrpcConfig::new()).await.unwrap_err();
    assert!(e.to_string().contains("requires a secret"), "{e}");
    d.stop().await;
}

/// Relays from `m` on `a` to `n` on `b`; `config` proves (or not) the
/// source's secret.
async fn relay(a: &Daemon, b: &Daemon, config: &GrpcConfig) -> blit_api::Result<blit_api::TransferSummary> {
    let options = TransferOptions::new();
    let to = b.remote("n", "copy");
    let grant = blit_transport_grpc::grant(&to, &options, &with_secret(Some(SECRET))).await?;
    let to = RelayTo { remote: to, grant, tls: None };
    let events = blit_api::RecordingSink::new();
    blit_transport_grpc::relay(&a.remote("m", "tree"), &to, &options, config, events).await
}

#[tokio::test]
async fn a_relay_needs_the_source_modules_secret_and_allow_relay() {
    let t = tempfile::tempdir().unwrap();
    let (ta, tb) = (t.path().join("a"), t.path().join("b"));
    let a = daemon(&ta, |_| {}).await;
    let b = daemon(&tb, |_| {}).await;
    std::fs::create_dir_all(ta.join("m/tree")).unwrap();
    std::fs::write(ta.join("m/tree/f"), b"payload").unwrap();
    let e = relay(&a, &b, &with_secret(Some("a-guess-that-is-long-enough"))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("wrong secret for module 'm'"), "{e}");
    assert!(!tb.join("n/copy").exists());
    let summary = relay(&a, &b, &with_secret(Some(SECRET))).await.unwrap();
    assert_eq!(summary.entries_transferred, 2, "{summary:?}");
    assert_eq!(std::fs::read(tb.join("n/copy/f")).unwrap(), b"payload");
    // `n` on `a` does not allow relays.
    let to = b.remote("n", "other");
    let grant = blit_transport_grpc::grant(&to, &TransferOptions::new(), &with_secret(Some(SECRET))).await.unwrap();
    let to = RelayTo { remote: to, grant, tls: None };
    let events = blit_api::RecordingSink::new();
    let from = a.remote("n", "");
    let e = blit_transport_grpc::relay(&from, &to, &TransferOptions::new(), &with_secret(Some(SECRET)), events)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("module `n` does not allow copies to another daemon"), "{e}");
    assert!(!tb.join("n/other").exists());
    a.stop().await;
    b.stop().await;
}

#[test]
fn allow_relay_without_a_secret_is_refused_where_it_is_set() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("blitd.toml");
    std::fs::create_dir(t.path().join("m")).unwrap();
    std::fs::write(&file, "[[module]]\nname = \"m\"\npath = \"m\"\nallow_relay = true\n").unwrap();
    let config = DaemonConfig::load(&file).unwrap();
    let e = blit_daemon::check_config(&config, Some(&file)).unwrap_err();
    assert!(e.to_string().contains("sets allow_relay but requires no secret"), "{e}");
    assert!(e.to_string().contains("line 4"), "{e}");
}
