use super::*;
use crate::testutil::{header, judge, mode, mtime, snapshot, walk_and_judge, write};
use blit_api::{manifest_channel, need_channel, FileFailure, RecordingSink};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

fn root_dir() -> ManifestItem {
    ManifestItem::Entry(header("", FileKind::Dir, 0, 1_000, 0o755))
}

fn deleted(events: &[ProgressEvent]) -> Vec<String> {
    let mut v: Vec<_> = events
        .iter()
        .filter_map(|e| if let ProgressEvent::Deleted { path, .. } = e { Some(path.display()) } else { None })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn splits_thousands_of_needed_files_into_capped_batches() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().join("fresh"));
    let mut items = vec![root_dir()];
    items.extend((0..4_500).map(|i| ManifestItem::Entry(header(&format!("f{i}"), FileKind::File, 2, 1, 0o644))));
    items.push(ManifestItem::End);
    let judged = judge(&dest, &TransferOptions::new(), items).await;
    let sizes: Vec<usize> = judged.batches.iter().map(|b| b.files.len()).collect();
    assert_eq!(sizes, [2_000, 2_000, 500, 0]);
    assert_eq!(judged.needed()[..3], ["f0", "f1", "f2"]);
    let events = judged.events();
    let batch_events: Vec<_> = events.iter().filter(|e| matches!(e, ProgressEvent::NeedBatch { .. })).collect();
    assert_eq!(
        batch_events,
        [
            &ProgressEvent::NeedBatch { files: 2_000, bytes: 4_000 },
            &ProgressEvent::NeedBatch { files: 2_000, bytes: 4_000 },
            &ProgressEvent::NeedBatch { files: 500, bytes: 1_000 },
        ]
    );
    let progress: Vec<u64> = events
        .iter()
        .filter_map(|e| if let ProgressEvent::ManifestProgress { entries, .. } = e { Some(*entries) } else { None })
        .collect();
    assert!(progress.len() >= 4 && progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&4_501));
    let complete: Vec<_> = events.iter().filter(|e| matches!(e, ProgressEvent::ManifestComplete { .. })).collect();
    assert_eq!(complete, [&ProgressEvent::ManifestComplete { entries: 4_501, bytes: 9_000, complete: true }]);
}

#[tokio::test]
async fn a_partial_batch_goes_out_when_the_manifest_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let (mtx, mrx) = manifest_channel();
    let (ntx, mut nrx) = need_channel();
    let options = TransferOptions::new();
    let judging = dest.need_list(&options, mrx, ntx, Arc::new(blit_api::NullSink));
    let drive = async {
        mtx.send(root_dir()).await.unwrap();
        for i in 0..3 {
            mtx.send(ManifestItem::Entry(header(&format!("f{i}"), FileKind::File, 1, 1, 0o644))).await.unwrap();
        }
        // The manifest stays open: the batch must come out on its own.
        let batch = tokio::time::timeout(Duration::from_secs(5), nrx.recv()).await.expect("flushed while idle");
        assert_eq!(batch.unwrap().files.len(), 3);
        drop(mtx);
        assert!(nrx.recv().await.unwrap().is_end());
    };
    let (judged, ()) = tokio::join!(judging, drive);
    judged.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slowly_filling_batch_goes_out_without_waiting_for_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().join("fresh"));
    let (mtx, mrx) = manifest_channel();
    let (ntx, mut nrx) = need_channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let feed = tokio::spawn(async move {
        mtx.send(root_dir()).await.unwrap();
        // A steady trickle: never idle for FLUSH_AFTER, never a full batch.
        for i in 0..100 {
            mtx.send(ManifestItem::Entry(header(&format!("f{i}"), FileKind::File, 1, 1, 0o644))).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = done_rx.await;
    });
    let options = TransferOptions::new();
    let judging = dest.need_list(&options, mrx, ntx, Arc::new(blit_api::NullSink));
    let check = async {
        let first = tokio::time::timeout(Duration::from_secs(5), nrx.recv()).await.expect("a batch").unwrap();
        assert!(!first.is_end() && first.files.len() < 100, "{} files", first.files.len());
        done_tx.send(()).unwrap();
        while nrx.recv().await.is_some() {}
    };
    let (judged, ()) = tokio::join!(judging, check);
    judged.unwrap();
    feed.await.unwrap();
}

#[tokio::test]
async fn returns_promptly_when_the_source_side_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().join("fresh"));
    let (mtx, mrx) = manifest_channel();
    let (ntx, nrx) = need_channel();
    drop(nrx);
    let feed = tokio::spawn(async move {
        let _ = mtx.send(root_dir()).await;
        for i in 0.. {
            let h = header(&format!("f{i}"), FileKind::File, 1, 1, 0o644);
            if mtx.send(ManifestItem::Entry(h)).await.is_err() {
                break;
            }
        }
    });
    let options = TransferOptions::new();
    tokio::time::timeout(Duration::from_secs(20), dest.need_list(&options, mrx, ntx, Arc::new(blit_api::NullSink)))
        .await
        .expect("need_list stops when nobody takes batches")
        .unwrap();
    feed.await.unwrap();
}

/// A destination with extra entries, an out-of-date file and a stale
/// temporary file, and a source that names part of it.
fn mirror_fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
    write(&src.join("keep"), b"keep", 0o644, 5);
    write(&src.join("sub/keep"), b"k", 0o644, 5);
    write(&src.join("changed"), b"new!", 0o644, 5);
    std::fs::create_dir(src.join("newdir")).unwrap();
    std::os::unix::fs::symlink("keep", src.join("link")).unwrap();
    write(&dst.join("keep"), b"keep", 0o644, 5);
    write(&dst.join("sub/keep"), b"k", 0o644, 5);
    write(&dst.join("sub/extra"), b"x", 0o644, 5);
    write(&dst.join("changed"), b"old", 0o644, 5);
    write(&dst.join("extra_dir/deep/f"), b"x", 0o644, 5);
    std::os::unix::fs::symlink("/nowhere", dst.join("extra_link")).unwrap();
    write(&dst.join(".blit.1.7.tmp"), b"stale", 0o600, 5);
    (dir, src, dst)
}

#[tokio::test]
async fn dry_run_changes_nothing_and_reports_what_it_would_do() {
    let (_dir, src, dst) = mirror_fixture();
    let before = snapshot(&dst);
    let dest = LocalDestination::new(dst.clone());
    let options = TransferOptions::new().mirror(true).dry_run(true);
    let judged = walk_and_judge(&src, &dest, &options).await;
    assert_eq!(judged.batches, [NeedBatch::default()], "only the final empty batch");
    let events = RecordingSink::new();
    let count = dest.finish(&options, events.clone()).await.unwrap();
    assert_eq!(snapshot(&dst), before, "a dry run leaves the destination untouched");
    let mut planned: Vec<_> = judged
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::Planned { path, kind, size, .. } => Some((path.display(), kind, size)),
            _ => None,
        })
        .collect();
    planned.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        planned,
        [
            ("changed".to_owned(), FileKind::File, 4),
            ("link".to_owned(), FileKind::Symlink, 4),
            ("newdir".to_owned(), FileKind::Dir, 0),
        ]
    );
    assert_eq!(count, 4);
    assert_eq!(deleted(&events.events()), [".blit.1.7.tmp", "extra_dir", "extra_link", "sub/extra"]);
}

#[tokio::test]
async fn mirror_deletes_extraneous_entries_after_a_complete_manifest() {
    let (_dir, src, dst) = mirror_fixture();
    let dest = LocalDestination::new(dst.clone());
    let options = TransferOptions::new().mirror(true);
    let judged = walk_and_judge(&src, &dest, &options).await;
    assert_eq!(judged.needed(), ["changed"]);
    let events = RecordingSink::new();
    assert_eq!(dest.finish(&options, events.clone()).await.unwrap(), 4);
    assert_eq!(deleted(&events.events()), [".blit.1.7.tmp", "extra_dir", "extra_link", "sub/extra"]);
    let mut left: Vec<String> = snapshot(&dst).iter().map(|l| l.split(' ').next().unwrap().to_owned()).collect();
    left.sort();
    assert_eq!(left, ["changed", "keep", "link", "newdir", "sub", "sub/keep"]);
    assert!(src.join("keep").exists() && dst.join("keep").exists());
}

#[tokio::test]
async fn mirror_deletes_nothing_after_an_incomplete_manifest() {
    for broken in ["failure", "no end"] {
        let (_dir, src, dst) = mirror_fixture();
        let names = |root: &Path| -> Vec<String> {
            snapshot(root).iter().map(|l| l.split(' ').next().unwrap_or_default().to_owned()).collect()
        };
        let before = names(&dst);
        let dest = LocalDestination::new(dst.clone());
        let options = TransferOptions::new().mirror(true);
        let (walked, mut items) = crate::testutil::walk(&src, &options).await;
        walked.unwrap();
        assert!(matches!(items.pop(), Some(ManifestItem::End)));
        if broken == "failure" {
            let path = RelPath::from_bytes(b"vanished".to_vec()).unwrap();
            items.push(ManifestItem::Failed(FileFailure { path, kind: ErrorKind::NotFound, message: "gone".into() }));
            items.push(ManifestItem::End);
        }
        judge(&dest, &options, items).await;
        let events = RecordingSink::new();
        assert_eq!(dest.finish(&options, events.clone()).await.unwrap(), 0, "{broken}");
        assert!(deleted(&events.events()).is_empty(), "{broken}");
        let after = names(&dst);
        for name in &before {
            assert!(after.contains(name), "{broken}: {name} was deleted");
        }
        assert!(after.contains(&"extra_dir/deep/f".to_owned()));
    }
}

#[tokio::test]
async fn finish_sets_directory_modes_and_mtimes_deepest_first() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("dst");
    let dest = LocalDestination::new(dst.clone());
    let items = vec![
        ManifestItem::Entry(header("", FileKind::Dir, 0, 1_111_111_111_123_456_789, 0o755)),
        ManifestItem::Entry(header("ro", FileKind::Dir, 0, 2_000_000_000_000_000_001, 0o555)),
        ManifestItem::Entry(header("ro/locked", FileKind::Dir, 0, 3_000_000_000_000_000_002, 0o500)),
        ManifestItem::End,
    ];
    let options = TransferOptions::new();
    judge(&dest, &options, items).await;
    // Writing into the directories changes their mtimes before finish.
    write(&dst.join("ro/locked/f"), b"x", 0o644, 1);
    assert_eq!(dest.finish(&options, Arc::new(blit_api::NullSink)).await.unwrap(), 0);
    assert_eq!((mode(&dst), mtime(&dst)), (0o755, 1_111_111_111_123_456_789));
    assert_eq!((mode(&dst.join("ro")), mtime(&dst.join("ro"))), (0o555, 2_000_000_000_000_000_001));
    let locked = dst.join("ro/locked");
    assert_eq!((mode(&locked), mtime(&locked)), (0o500, 3_000_000_000_000_000_002));
    std::fs::set_permissions(dst.join("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A mirror with a filter: what the filter excludes stays at the
/// destination, unless excluded entries are deleted too.
#[tokio::test]
async fn mirror_keeps_what_the_filter_excludes_unless_told_to_delete_it() {
    use blit_api::FilterSpec;
    for delete_excluded in [false, true] {
        let (_dir, src, dst) = mirror_fixture();
        write(&src.join("skip.log"), b"src log", 0o644, 5);
        write(&dst.join("old.log"), b"dst log", 0o644, 5);
        write(&dst.join("big"), &[7; 100], 0o644, 5);
        let spec = FilterSpec::new().exclude("*.log").exclude("extra_dir/").max_size(Some(50));
        let options = TransferOptions::new().mirror(true).filter(spec.delete_excluded(delete_excluded));
        let dest = LocalDestination::new(dst.clone());
        let judged = walk_and_judge(&src, &dest, &options).await;
        assert_eq!(judged.needed(), ["changed"], "skip.log is excluded at the source");
        let events = RecordingSink::new();
        dest.finish(&options, events.clone()).await.unwrap();
        let deleted = deleted(&events.events());
        if delete_excluded {
            assert_eq!(deleted, [".blit.1.7.tmp", "big", "extra_dir", "extra_link", "old.log", "sub/extra"]);
        } else {
            // `extra_link` and `sub/extra` are extraneous and not excluded.
            assert_eq!(deleted, [".blit.1.7.tmp", "extra_link", "sub/extra"]);
            assert!(dst.join("old.log").exists() && dst.join("big").exists() && dst.join("extra_dir/deep/f").exists());
        }
        assert!(!dst.join("skip.log").exists());
    }
}

#[tokio::test]
async fn fsync_flushes_every_landed_file_and_directory_and_only_when_asked() {
    use blit_api::PayloadWriter;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(&src.join("a/one"), b"1", 0o644, 5);
    write(&src.join("a/two"), b"22", 0o644, 5);
    write(&src.join("top"), b"", 0o644, 5);
    for (fsync, name) in [(true, "synced"), (false, "plain")] {
        let dest = LocalDestination::new(dir.path().join(name));
        let options = TransferOptions::new().fsync(fsync);
        let judged = walk_and_judge(&src, &dest, &options).await;
        for h in judged.batches.iter().flat_map(|b| b.files.iter()) {
            let mut landing = dest.begin(h).unwrap();
            let content = std::fs::read(h.path.to_path(&src)).unwrap();
            std::io::Write::write_all(landing.file(), &content).unwrap();
            landing.commit().unwrap();
        }
        dest.finish(&options, RecordingSink::new() as Events).await.unwrap();
        assert_eq!(snapshot(&dir.path().join(name)), snapshot(&src));
        // Three files, two directories (the root and `a`), and the
        // directory holding the root.
        let want = if fsync { 6 } else { 0 };
        assert_eq!(dest.flush.count(), want, "fsync {fsync}");
    }
    // A module's policy flushes even when the client does not ask.
    let dest = LocalDestination::new(dir.path().join("module"))
        .with_policy(crate::DestinationPolicy::default().always_fsync(true));
    let options = TransferOptions::new();
    walk_and_judge(&src, &dest, &options).await;
    dest.finish(&options, RecordingSink::new() as Events).await.unwrap();
    assert_eq!(dest.flush.count(), 3, "two directories and the root's parent; no file was landed");
}
