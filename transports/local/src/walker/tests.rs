use super::*;
use crate::testutil::{walk, write};
use blit_api::{FileHeader, PayloadReader};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

fn entries(items: &[ManifestItem]) -> Vec<&FileHeader> {
    items.iter().filter_map(|i| if let ManifestItem::Entry(h) = i { Some(h) } else { None }).collect()
}

/// A tree wide and deep enough that several workers share it.
fn tree(root: &Path) {
    for a in 0..6 {
        for b in 0..5 {
            let dir = root.join(format!("d{a}/e{b}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..7 {
                write(&dir.join(format!("f{f}")), b"x", 0o644, 1);
            }
        }
        write(&root.join(format!("d{a}/top")), b"top", 0o600, 2);
    }
    std::fs::create_dir(root.join("empty")).unwrap();
    std::os::unix::fs::symlink("d0/top", root.join("link")).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_root_first_and_every_dir_before_its_children_then_dir_done() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let (walked, items) = walk(dir.path(), &TransferOptions::new()).await;
    walked.unwrap();
    assert!(matches!(&items[0], ManifestItem::Entry(h) if h.path.is_root() && h.kind == FileKind::Dir));
    assert!(matches!(items.last(), Some(ManifestItem::End)));
    // 1 root + 6 d + 30 e + 210 files + 6 top + empty + link.
    assert_eq!(entries(&items).len(), 1 + 6 + 30 + 210 + 6 + 1 + 1);

    let mut seen_dirs = HashSet::new();
    let mut done = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            ManifestItem::Entry(h) => {
                if let Some(parent) = h.path.parent() {
                    assert!(seen_dirs.contains(&parent), "{:?} came before its directory", h.path);
                    assert!(!done.contains(&parent), "{:?} came after DirDone of its directory", h.path);
                }
                if h.kind == FileKind::Dir {
                    seen_dirs.insert(h.path.clone());
                }
            }
            ManifestItem::DirDone(d) => {
                assert!(seen_dirs.contains(d), "DirDone({d:?}) before the directory's header");
                assert!(done.insert(d.clone()), "DirDone({d:?}) twice");
            }
            ManifestItem::End => assert_eq!(i, items.len() - 1, "End is last"),
            ManifestItem::Failed(f) => panic!("unexpected failure {f:?}"),
        }
    }
    assert_eq!(done, seen_dirs, "every directory gets exactly one DirDone");
    let link = entries(&items).into_iter().find(|h| h.path.as_bytes() == b"link").unwrap();
    assert_eq!((link.kind, link.link_target.as_deref(), link.size), (FileKind::Symlink, Some(&b"d0/top"[..]), 6));
    let top = entries(&items).into_iter().find(|h| h.path.as_bytes() == b"d3/top").unwrap();
    assert_eq!((top.kind, top.size, top.mode, top.mtime_ns, top.checksum), (FileKind::File, 3, 0o600, 2, None));
}

#[tokio::test]
async fn non_utf8_names_and_targets_survive() {
    let dir = tempfile::tempdir().unwrap();
    let weird_dir = dir.path().join(OsStr::from_bytes(b"d\xff\xfe"));
    std::fs::create_dir(&weird_dir).unwrap();
    write(&weird_dir.join(OsStr::from_bytes(b"caf\xe9 \n.txt")), b"1", 0o644, 1);
    std::os::unix::fs::symlink(OsStr::from_bytes(b"t\x80rget"), dir.path().join("l")).unwrap();
    let (walked, items) = walk(dir.path(), &TransferOptions::new()).await;
    walked.unwrap();
    let paths: HashSet<Vec<u8>> = entries(&items).iter().map(|h| h.path.as_bytes().to_vec()).collect();
    assert!(paths.contains(b"d\xff\xfe".as_slice()));
    assert!(paths.contains(b"d\xff\xfe/caf\xe9 \n.txt".as_slice()));
    let link = entries(&items).into_iter().find(|h| h.kind == FileKind::Symlink).unwrap();
    assert_eq!(link.link_target.as_deref(), Some(&b"t\x80rget"[..]));
}

#[tokio::test]
async fn missing_root_is_not_found_without_end() {
    let dir = tempfile::tempdir().unwrap();
    let (walked, items) = walk(&dir.path().join("nope"), &TransferOptions::new()).await;
    let e = walked.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.path().unwrap().ends_with("nope"), "{e}");
    assert!(e.hint().is_some(), "{e}");
    assert!(items.is_empty(), "{items:?}");
}

#[tokio::test]
async fn root_file_and_root_symlink_are_single_entries_with_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    write(&f, b"hello", 0o640, 7);
    let (walked, items) = walk(&f, &TransferOptions::new().checksum(true)).await;
    walked.unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let h = entries(&items)[0];
    assert!(h.path.is_root());
    assert_eq!((h.kind, h.size, h.mode, h.mtime_ns), (FileKind::File, 5, 0o640, 7));
    assert_eq!(h.checksum, Some(*blake3::hash(b"hello").as_bytes()));

    let l = dir.path().join("l");
    std::os::unix::fs::symlink("f", &l).unwrap();
    let (walked, items) = walk(&l, &TransferOptions::new().checksum(true)).await;
    walked.unwrap();
    let h = entries(&items)[0];
    assert_eq!((h.kind, h.link_target.as_deref(), h.checksum), (FileKind::Symlink, Some(&b"f"[..]), None));
    assert!(matches!(items[1], ManifestItem::End));
}

#[tokio::test]
async fn special_files_fail_and_the_walk_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    write(&dir.path().join("ok"), b"1", 0o644, 1);
    let (walked, items) = walk(dir.path(), &TransferOptions::new()).await;
    walked.unwrap();
    let failed: Vec<_> =
        items.iter().filter_map(|i| if let ManifestItem::Failed(f) = i { Some(f) } else { None }).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].path.as_bytes(), b"fifo");
    assert_eq!(failed[0].kind, ErrorKind::Unsupported);
    assert!(failed[0].message.contains("FIFO"), "{}", failed[0].message);
    assert!(entries(&items).iter().any(|h| h.path.as_bytes() == b"ok"));
    assert!(matches!(items.last(), Some(ManifestItem::End)));
}

#[tokio::test(flavor = "multi_thread")]
async fn stops_when_the_receiver_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    for d in 0..20 {
        for f in 0..20 {
            write(&dir.path().join(format!("d{d}/f{f}")), b"", 0o644, 0);
        }
    }
    // A one-item channel: every worker soon blocks on a send and must notice
    // the receiver is gone (and wake the idle ones) instead of hanging.
    let (tx, mut rx) = blit_api::manifest_channel_holding(1);
    let source = LocalSource::new(dir.path().to_path_buf());
    let opts = TransferOptions::new();
    let walk = source.manifest(&opts, tx);
    let read_some = async move {
        for _ in 0..10 {
            rx.recv().await.unwrap();
        }
        drop(rx);
    };
    let (walked, ()) =
        tokio::time::timeout(std::time::Duration::from_secs(20), async { tokio::join!(walk, read_some) })
            .await
            .expect("the walker stops promptly");
    walked.unwrap();
}

#[test]
fn open_refreshes_the_header_and_refuses_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("f"), b"grown content", 0o604, 99);
    std::os::unix::fs::symlink("f", dir.path().join("l")).unwrap();
    let source = LocalSource::new(dir.path().to_path_buf());
    let stale = crate::testutil::header("f", FileKind::File, 1, 5, 0o644);
    let opened = source.open(&stale).unwrap();
    assert_eq!((opened.header.size, opened.header.mtime_ns, opened.header.mode), (13, 99, 0o604));
    let e = source.open(&crate::testutil::header("l", FileKind::File, 1, 5, 0o644)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    // A directory on the way that is a symlink is refused too (a peer's need
    // list can name any path; nothing below the root is followed).
    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::fs::write(dir.path().join("real/inner"), b"x").unwrap();
    std::os::unix::fs::symlink("real", dir.path().join("via")).unwrap();
    let e = source.open(&crate::testutil::header("via/inner", FileKind::File, 1, 5, 0o644)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(source.open(&crate::testutil::header("real/inner", FileKind::File, 1, 5, 0o644)).is_ok());
    let e = source.open(&crate::testutil::header("gone", FileKind::File, 1, 5, 0o644)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("gone"), "{e}");
    std::fs::create_dir(dir.path().join("d")).unwrap();
    let e = source.open(&crate::testutil::header("d", FileKind::File, 0, 5, 0o644)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
}

/// Walks on a thread without root's permission bypass (workers inherit it),
/// so an unreadable directory fails if the walk ever lists it.
fn walk_unprivileged(root: &Path, spec: &blit_api::FilterSpec) -> Vec<ManifestItem> {
    let (tx, mut rx) = blit_api::manifest_channel();
    let (root, filter) = (root.to_path_buf(), Filter::new(spec).unwrap());
    let walker = std::thread::spawn(move || {
        assert!(crate::testutil::drop_dac_override_on_this_thread(), "cannot drop CAP_DAC_OVERRIDE for this test");
        super::walk(
            &Tree::new(Anchor::path(root)),
            2,
            false,
            false,
            &filter,
            Preserve::new(&TransferOptions::new()),
            &tx,
        )
        .unwrap();
    });
    let mut items = Vec::new();
    while let Some(item) = rx.blocking_recv() {
        items.push(item);
    }
    walker.join().unwrap();
    items
}

#[test]
fn an_excluded_directory_is_never_read_and_excluded_entries_are_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("keep/a.rs"), b"a", 0o644, 1);
    write(&dir.path().join("keep/b.log"), b"b", 0o644, 1);
    write(&dir.path().join("secret/inside"), b"s", 0o644, 1);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path().join("secret"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let failed = |items: &[ManifestItem]| items.iter().any(|i| matches!(i, ManifestItem::Failed(_)));
    // The control: walking into `secret` fails.
    assert!(failed(&walk_unprivileged(dir.path(), &blit_api::FilterSpec::new())));

    let items = walk_unprivileged(dir.path(), &blit_api::FilterSpec::new().exclude("secret").exclude("*.log"));
    std::fs::set_permissions(dir.path().join("secret"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(!failed(&items), "{items:?}");
    let mut paths: Vec<_> = entries(&items).iter().map(|h| h.path.display()).collect();
    paths.sort();
    assert_eq!(paths, ["", "keep", "keep/a.rs"]);
    assert!(!items.iter().any(|i| matches!(i, ManifestItem::DirDone(d) if d.as_bytes() == b"secret")));
    assert!(matches!(items.last(), Some(ManifestItem::End)));
}

#[tokio::test]
async fn an_invalid_pattern_fails_the_walk_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = TransferOptions::new().filter(blit_api::FilterSpec::new().include("src/[a"));
    let (walked, items) = walk(dir.path(), &options).await;
    let err = walked.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("`src/[a`"), "{err}");
    assert!(items.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn hard_links_first_name_comes_first_and_only_linked_files_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    // Names of one file spread over directories that different workers read.
    let mut groups = Vec::new();
    for a in 0..6 {
        let first = dir.path().join(format!("d{a}/e0/f0"));
        let names: Vec<String> = (1..5).map(|b| format!("d{}/e{b}/link{a}", (a + b) % 6)).collect();
        for n in &names {
            std::fs::hard_link(&first, dir.path().join(n)).unwrap();
        }
        groups.push((format!("d{a}/e0/f0"), names));
    }
    let options = TransferOptions::new().hard_links(true);
    let (walked, items) = walk(dir.path(), &options).await;
    walked.unwrap();
    let all = entries(&items);
    let pos = |p: &str| all.iter().position(|h| h.path.as_bytes() == p.as_bytes()).unwrap();
    let mut linked = 0;
    for (first, names) in &groups {
        let mut group: Vec<&str> = names.iter().map(String::as_str).collect();
        group.push(first);
        // Exactly one name of the group goes without a link: the one met
        // first; every other name links to it and comes after it.
        let plain: Vec<&&str> = group.iter().filter(|p| all[pos(p)].hard_link.is_none()).collect();
        assert_eq!(plain.len(), 1, "{group:?}");
        for p in &group {
            if let Some(target) = &all[pos(p)].hard_link {
                assert_eq!(target.as_bytes(), plain[0].as_bytes());
                assert!(pos(plain[0]) < pos(p), "{p} links to {} before it was sent", plain[0]);
                linked += 1;
            }
        }
    }
    assert_eq!(linked, 6 * 4);
    // Files with one name are never marked; without the option nothing is.
    assert_eq!(all.iter().filter(|h| h.hard_link.is_some()).count(), linked);
    let (_, items) = walk(dir.path(), &TransferOptions::new()).await;
    assert!(entries(&items).iter().all(|h| h.hard_link.is_none() && h.uid.is_none() && h.xattrs.is_empty()));
}
