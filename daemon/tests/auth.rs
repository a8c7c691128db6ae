//! Shared secrets against a blitd running in this process: the right
//! secret opens modules, listings and transfers both ways; a missing or
//! wrong one is refused with `UNAUTHENTICATED` before anything in the
//! module is touched; a module's own secret overrides the daemon's.

mod common;

use blit_api::{ErrorKind, TransferOptions};
use common::{build_tree, pull_with, push_with, snapshot, with_secret, Daemon};
use std::path::Path;

fn secret_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A daemon with modules `open` (the daemon's secret) and `own` (its own
/// secret), both empty; returns it with their directories' parent.
async fn guarded() -> (Daemon, tempfile::TempDir) {
    let t = tempfile::tempdir().unwrap();
    for d in ["open", "own", "keys"] {
        std::fs::create_dir(t.path().join(d)).unwrap();
    }
    let daemon_secret = secret_file(&t.path().join("keys"), "daemon", "daemon-secret-0123456789\n");
    let module_secret = secret_file(&t.path().join("keys"), "module", "module-secret-0123456789\n");
    let (open, own) = (t.path().join("open"), t.path().join("own"));
    let daemon = Daemon::start_with(&[("open", &open, false), ("own", &own, false)], move |c| {
        c.auth_secret_file = Some(daemon_secret);
        c.modules[1].auth_secret_file = Some(module_secret);
    })
    .await;
    (daemon, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_secret_opens_modules_listings_pushes_and_pulls() {
    let (daemon, t) = guarded().await;
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    // A root mode the modules do not have: a push must not apply it to them.
    std::fs::set_permissions(src.path(), std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    let mode_of = |entry: &(Vec<u8>, String)| entry.1.split(' ').take(2).collect::<Vec<_>>().join(" ");
    for (module, secret) in [("open", "daemon-secret-0123456789"), ("own", "module-secret-0123456789")] {
        let config = with_secret(Some(secret));
        let root_before = snapshot(&t.path().join(module))[0].clone();
        let (pushed, _) = push_with(src.path(), &daemon.remote(module, ""), &TransferOptions::new(), &config).await;
        assert!(pushed.unwrap().failures.is_empty());
        // Everything below the module's root is the source's; the root
        // itself keeps its own mode (a push never sets its metadata).
        let pushed = snapshot(&t.path().join(module));
        assert_eq!(pushed[1..], snapshot(src.path())[1..], "{module}");
        assert_eq!(mode_of(&pushed[0]), mode_of(&root_before), "{module}: the module's own directory changed");
        assert_ne!(mode_of(&pushed[0]), mode_of(&snapshot(src.path())[0]));
        let dst = tempfile::tempdir().unwrap();
        let (pulled, _) = pull_with(&daemon.remote(module, ""), dst.path(), &TransferOptions::new(), &config).await;
        assert!(pulled.unwrap().failures.is_empty());
        assert_eq!(snapshot(dst.path()), pushed, "{module}");
        let mut names = Vec::new();
        blit_transport_grpc::list(&daemon.remote(module, ""), &config, |h| names.push(h.path.display().to_string()))
            .await
            .unwrap();
        assert!(names.contains(&"a".to_owned()), "{names:?}");
    }
    let modules =
        blit_transport_grpc::modules("127.0.0.1", daemon.addr.port(), &with_secret(Some("daemon-secret-0123456789")))
            .await
            .unwrap();
    assert_eq!(modules.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["open", "own"]);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_wrong_secrets_are_refused_before_anything_is_touched() {
    let (daemon, t) = guarded().await;
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path());
    let before = snapshot(t.path());
    let port = daemon.addr.port();
    // `own` takes only its own secret; the daemon's does not open it.
    let cases = [
        ("open", None, "module 'open' requires a secret"),
        ("open", Some("daemon-secreT"), "wrong secret for module 'open'"),
        ("open", Some("module-secret-0123456789"), "wrong secret for module 'open'"),
        ("own", None, "module 'own' requires a secret"),
        ("own", Some("daemon-secret-0123456789"), "wrong secret for module 'own'"),
        ("nope", None, "this blitd requires a secret"),
    ];
    for (module, secret, expect) in cases {
        let config = with_secret(secret);
        let what = format!("{module} with {secret:?}");
        let (pushed, _) =
            push_with(src.path(), &daemon.remote(module, "new/dir"), &TransferOptions::new(), &config).await;
        let dst = tempfile::tempdir().unwrap();
        let (pulled, _) =
            pull_with(&daemon.remote(module, ""), &dst.path().join("x"), &TransferOptions::new(), &config).await;
        let listed = blit_transport_grpc::list(&daemon.remote(module, ""), &config, |_| {}).await;
        for e in [pushed.unwrap_err(), pulled.unwrap_err(), listed.unwrap_err()] {
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{what}: {e}");
            let text = e.to_string();
            assert!(text.contains(expect) && text.contains(&format!("127.0.0.1:{port}")), "{what}: {text}");
        }
        assert!(!dst.path().join("x").exists(), "{what}: a refused pull creates nothing");
    }
    for secret in [None, Some("wrong")] {
        let e = blit_transport_grpc::modules("127.0.0.1", port, &with_secret(secret)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("BLIT_SECRET") || e.to_string().contains("wrong secret"), "{e}");
    }
    assert_eq!(snapshot(t.path()), before, "nothing was created or changed in any module");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_module_secrets_the_listing_is_open_and_other_modules_too() {
    let t = tempfile::tempdir().unwrap();
    let (free, guarded) = (t.path().join("free"), t.path().join("guarded"));
    std::fs::create_dir(&free).unwrap();
    std::fs::create_dir(&guarded).unwrap();
    let key = secret_file(t.path(), "key", "a-key-of-16-chars");
    let daemon = Daemon::start_with(&[("free", &free, false), ("guarded", &guarded, false)], move |c| {
        c.modules[1].auth_secret_file = Some(key);
    })
    .await;
    let modules = blit_transport_grpc::modules("127.0.0.1", daemon.addr.port(), &with_secret(None)).await.unwrap();
    assert_eq!(modules.len(), 2);
    blit_transport_grpc::list(&daemon.remote("free", ""), &with_secret(None), |_| {}).await.unwrap();
    let e = blit_transport_grpc::list(&daemon.remote("guarded", ""), &with_secret(None), |_| {}).await.unwrap_err();
    assert!(e.to_string().contains("module 'guarded' requires a secret"), "{e}");
    blit_transport_grpc::list(&daemon.remote("guarded", ""), &with_secret(Some("a-key-of-16-chars")), |_| {})
        .await
        .unwrap();
    daemon.stop().await;
}
