//! Push and pull against a daemon running in this process: trees land
//! identical, reruns move nothing, mirror deletes, dry runs change nothing,
//! and the client sees the events a local run shows.

mod common;

use blit_api::{Direction, ProgressEvent, TransferOptions};
use common::{assert_same_events, build_tree, copy_local, pull, push, snapshot, Daemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_pull_land_identical_trees_and_reruns_move_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    build_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let options = TransferOptions::new();

    let (summary, _) = push(&src, &daemon.remote("m", "pushed"), &options).await;
    let summary = summary.unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.direction, Some(Direction::Push));
    assert_eq!(summary.transport, "grpc");
    assert_eq!(snapshot(&src), snapshot(&module.join("pushed")));
    let (again, events) = push(&src, &daemon.remote("m", "pushed"), &options).await;
    let again = again.unwrap();
    assert_eq!((again.entries_transferred, again.bytes_transferred), (0, 0), "{events:?}");

    let dst = t.path().join("pulled");
    let (summary, _) = pull(&daemon.remote("m", "pushed"), &dst, &options).await;
    let summary = summary.unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.direction, Some(Direction::Pull));
    assert_eq!(snapshot(&src), snapshot(&dst));
    let (again, _) = pull(&daemon.remote("m", "pushed"), &dst, &options).await;
    let again = again.unwrap();
    assert_eq!((again.entries_transferred, again.bytes_transferred), (0, 0));

    // One file as the transfer root, both ways.
    let (r, _) = push(&src.join("a/mid"), &daemon.remote("m", "one/mid"), &options).await;
    r.unwrap();
    assert_eq!(std::fs::read(module.join("one/mid")).unwrap(), std::fs::read(src.join("a/mid")).unwrap());
    let (r, _) = pull(&daemon.remote("m", "one/mid"), &t.path().join("mid"), &options).await;
    r.unwrap();
    assert_eq!(std::fs::read(t.path().join("mid")).unwrap(), std::fs::read(src.join("a/mid")).unwrap());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_deletes_extras_in_both_directions() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    build_tree(&src);
    std::fs::create_dir_all(module.join("dst/extra-dir/inner")).unwrap();
    std::fs::write(module.join("dst/extra-file"), b"x").unwrap();
    std::fs::write(module.join("dst/extra-dir/inner/f"), b"x").unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let mirror = TransferOptions::new().mirror(true);

    let (summary, _) = push(&src, &daemon.remote("m", "dst"), &mirror).await;
    let summary = summary.unwrap();
    assert_eq!(summary.deleted, 2, "extra-file and extra-dir");
    assert_eq!(snapshot(&src), snapshot(&module.join("dst")));

    let local = t.path().join("local");
    std::fs::create_dir_all(local.join("stale/deeper")).unwrap();
    std::fs::write(local.join("stale.txt"), b"old").unwrap();
    let (summary, _) = pull(&daemon.remote("m", "dst"), &local, &mirror).await;
    let summary = summary.unwrap();
    assert_eq!(summary.deleted, 2, "stale and stale.txt");
    assert_eq!(snapshot(&src), snapshot(&local));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_change_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    build_tree(&src);
    std::fs::create_dir_all(module.join("existing")).unwrap();
    std::fs::write(module.join("existing/keep"), b"keep").unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let dry = TransferOptions::new().dry_run(true).mirror(true);
    let before = snapshot(&module);

    let (summary, events) = push(&src, &daemon.remote("m", "existing"), &dry).await;
    let summary = summary.unwrap();
    assert!(summary.dry_run && summary.entries_transferred > 1000, "{summary:?}");
    assert_eq!(summary.deleted, 1, "would delete keep");
    assert!(events.iter().any(|e| matches!(e, ProgressEvent::Planned { .. })));
    assert!(!events.iter().any(|e| matches!(e, ProgressEvent::FileBytes { .. })));
    assert_eq!(snapshot(&module), before);

    let local = t.path().join("local");
    let (summary, _) = pull(&daemon.remote("m", "existing"), &local, &dry).await;
    assert!(summary.unwrap().dry_run);
    assert!(!local.exists(), "a dry-run pull creates nothing");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_see_the_events_of_a_local_run() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    build_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let options = TransferOptions::new();
    let (_, reference) = copy_local(&src, &t.path().join("reference"), &options).await;

    let (summary, pushed) = push(&src, &daemon.remote("m", "dst"), &options).await;
    summary.unwrap();
    assert!(
        matches!(&pushed[0], ProgressEvent::Started { direction: Direction::Push, transport, .. } if transport == "grpc")
    );
    assert!(matches!(pushed.last(), Some(ProgressEvent::Finished { .. })));
    assert_same_events("push", &pushed, &reference);

    let (summary, pulled) = pull(&daemon.remote("m", "dst"), &t.path().join("pulled"), &options).await;
    summary.unwrap();
    assert!(matches!(&pulled[0], ProgressEvent::Started { direction: Direction::Pull, .. }));
    assert_same_events("pull", &pulled, &reference);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_mode_finds_changes_that_size_and_mtime_miss() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&module).unwrap();
    std::fs::write(src.join("f"), b"before").unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let remote = daemon.remote("m", "dst");
    push(&src, &remote, &TransferOptions::new()).await.0.unwrap();
    let mtime = std::fs::metadata(src.join("f")).unwrap().modified().unwrap();
    std::fs::write(src.join("f"), b"after!").unwrap();
    let file = std::fs::File::options().write(true).open(src.join("f")).unwrap();
    file.set_modified(mtime).unwrap();
    let (quick, _) = push(&src, &remote, &TransferOptions::new()).await;
    assert_eq!(quick.unwrap().entries_transferred, 0, "same size and mtime look unchanged");
    let (thorough, _) = push(&src, &remote, &TransferOptions::new().checksum(true)).await;
    assert_eq!(thorough.unwrap().entries_transferred, 1);
    assert_eq!(std::fs::read(module.join("dst/f")).unwrap(), b"after!");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_walk_reports_as_in_a_local_run() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("module");
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let options = TransferOptions::new().mirror(true);
    let missing = t.path().join("missing");
    let reference = {
        let source = std::sync::Arc::new(blit_transport_local::LocalSource::new(missing.clone()));
        let destination = std::sync::Arc::new(blit_transport_local::LocalDestination::new(t.path().join("ref")));
        let transfer = blit_engine::LocalTransfer {
            source: blit_engine::SourceRoles { source: source.clone(), reader: source },
            destination: blit_engine::DestinationRoles { sink: destination.clone(), writer: destination },
            transport: std::sync::Arc::new(blit_transport_local::LocalTransport::new()),
            options: options.clone(),
        };
        let events = blit_api::RecordingSink::new();
        assert!(blit_engine::run_local(transfer, events.clone()).await.is_err());
        events.events()
    };
    let (r, pushed) = push(&missing, &daemon.remote("m", "dst"), &options).await;
    assert_eq!(r.unwrap_err().kind(), blit_api::ErrorKind::NotFound);
    assert_same_events("push", &pushed, &reference);
    let (r, pulled) = pull(&daemon.remote("m", "missing"), &t.path().join("dst"), &options).await;
    let e = r.unwrap_err();
    assert_eq!(e.kind(), blit_api::ErrorKind::NotFound);
    assert!(e.to_string().contains(":/m/missing"), "{e}");
    assert_same_events("pull", &pulled, &reference);
    daemon.stop().await;
}
