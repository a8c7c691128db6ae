use super::*;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

fn held(dir: &Path) -> Arc<OwnedFd> {
    Anchor::open_base(dir).unwrap()
}

fn rel(p: &str) -> RelPath {
    RelPath::from_bytes(p.as_bytes().to_vec()).unwrap()
}

/// A directory outside the tree with a file, whose state must never change.
fn canary(t: &Path) -> (PathBuf, Vec<(String, u32, i64)>) {
    let outside = t.join("outside");
    std::fs::create_dir_all(outside.join("sub")).unwrap();
    std::fs::write(outside.join("secret"), b"canary").unwrap();
    std::fs::write(outside.join("sub/deep"), b"canary").unwrap();
    std::fs::set_permissions(outside.join("secret"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let state = state(&outside);
    (outside, state)
}

fn state(dir: &Path) -> Vec<(String, u32, i64)> {
    let mut out = Vec::new();
    for p in [dir.to_path_buf(), dir.join("secret"), dir.join("sub"), dir.join("sub/deep")] {
        let m = std::fs::symlink_metadata(&p).unwrap();
        out.push((p.display().to_string(), m.mode(), m.mtime()));
    }
    out
}

#[test]
fn every_operation_refuses_a_directory_swapped_for_a_symlink() {
    let t = tempfile::tempdir().unwrap();
    let (outside, before) = canary(t.path());
    let root = t.path().join("m");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/f"), b"x").unwrap();
    let tree = Tree::new(Anchor::beneath(held(&root), Path::new("/m"), &RelPath::root()));
    // `d` becomes a symlink to the outside after the tree was anchored.
    std::fs::rename(root.join("d"), root.join("d.real")).unwrap();
    symlink(&outside, root.join("d")).unwrap();
    let e = tree.at(&rel("d/secret")).unwrap_err();
    assert!(beneath::is_in_the_way(&e), "{e}");
    assert!(tree.dir(b"d", true).is_err(), "never creates through a symlink");
    assert!(tree.open_for_listing(b"d").is_err());
    // The symlink itself, reached by name: every call acts on the link.
    let link = tree.at(&rel("d")).unwrap();
    assert!(link.stat().unwrap().unwrap().is_symlink());
    assert!(link.set_mode(0o777).is_err(), "a mode is never set through a symlink");
    let _ = link.set_mtime(1);
    assert!(link.open_file().is_err());
    link.remove_all().unwrap();
    assert!(std::fs::symlink_metadata(root.join("d")).is_err(), "the link itself is gone");
    assert_eq!(state(&outside), before, "nothing outside changed");
}

#[test]
fn remove_all_never_follows_symlinks_inside_the_tree() {
    let t = tempfile::tempdir().unwrap();
    let (outside, before) = canary(t.path());
    let root = t.path().join("m");
    std::fs::create_dir_all(root.join("gone/a/b")).unwrap();
    std::fs::write(root.join("gone/a/b/f"), b"x").unwrap();
    symlink(&outside, root.join("gone/a/escape")).unwrap();
    symlink(outside.join("secret"), root.join("gone/file-link")).unwrap();
    let tree = Tree::new(Anchor::path(root.clone()));
    tree.at(&rel("gone")).unwrap().remove_all().unwrap();
    assert!(!root.join("gone").exists());
    assert_eq!(state(&outside), before);
    assert_eq!(std::fs::read(outside.join("sub/deep")).unwrap(), b"canary");
}

#[test]
fn a_held_root_is_protected_and_outlives_a_rename() {
    let t = tempfile::tempdir().unwrap();
    let (outside, before) = canary(t.path());
    let root = t.path().join("m");
    std::fs::create_dir_all(root.join("in")).unwrap();
    let base = held(&root);
    let anchor = Anchor::beneath(base.clone(), Path::new("/m"), &RelPath::root());
    assert!(anchor.is_protected());
    assert_eq!(anchor.parent(true).unwrap_err().kind(), io::ErrorKind::PermissionDenied);
    assert!(!Anchor::beneath(base.clone(), Path::new("/m"), &rel("in")).is_protected());
    // The module's path now leads outside; the held descriptor does not.
    std::fs::rename(&root, t.path().join("moved")).unwrap();
    symlink(&outside, &root).unwrap();
    let tree = Tree::new(Anchor::beneath(base, Path::new("/m"), &rel("in/new")));
    let (dir, _) = tree.dir(b"x", true).unwrap();
    At::new(dir, b"f").unwrap().mkdir(0o700).unwrap();
    assert!(t.path().join("moved/in/new/x/f").is_dir());
    assert_eq!(state(&outside), before);
    assert_eq!(tree.shown(&rel("x/f")), Path::new("/m/in/new/x/f"));
}

#[test]
fn anchor_remove_takes_entries_below_a_held_root_never_the_root_nor_a_link_target() {
    let t = tempfile::tempdir().unwrap();
    let (outside, before) = canary(t.path());
    let root = t.path().join("m");
    std::fs::create_dir_all(root.join("tree/a/b")).unwrap();
    std::fs::write(root.join("tree/a/b/f"), b"x").unwrap();
    std::fs::write(root.join("file"), b"x").unwrap();
    symlink(&outside, root.join("tree/a/escape")).unwrap();
    symlink(&outside, root.join("link")).unwrap();
    let base = held(&root);
    let at = |p: &str| Anchor::beneath(base.clone(), Path::new("/m"), &rel(p));
    assert_eq!(at("file").remove().unwrap(), blit_api::FileKind::File);
    assert_eq!(at("link").remove().unwrap(), blit_api::FileKind::Symlink);
    assert_eq!(at("tree").remove().unwrap(), blit_api::FileKind::Dir);
    for gone in ["file", "link", "tree"] {
        assert!(std::fs::symlink_metadata(root.join(gone)).is_err(), "{gone} is gone");
    }
    assert_eq!(at("tree").remove().unwrap_err().kind(), io::ErrorKind::NotFound);
    let e = Anchor::beneath(base.clone(), Path::new("/m"), &RelPath::root()).remove().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
    assert!(root.is_dir(), "the held root stays");
    assert_eq!(state(&outside), before, "nothing outside changed");
}

#[test]
fn anchor_space_is_the_statvfs_of_the_held_directory() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("m");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/f"), b"x").unwrap();
    let base = held(&root);
    let expected = rustix::fs::statvfs(&root).unwrap();
    for p in ["", "d", "d/f"] {
        let path = RelPath::from_bytes(p.as_bytes().to_vec()).unwrap();
        let space = Anchor::beneath(base.clone(), Path::new("/m"), &path).space().unwrap();
        assert_eq!(space.total_bytes, expected.f_blocks * expected.f_frsize, "{p}");
        assert!(space.total_bytes > 0 && space.free_bytes <= space.total_bytes, "{p}: {space:?}");
        assert!(space.available_bytes <= space.total_bytes, "{p}: {space:?}");
    }
    let e = Anchor::beneath(base, Path::new("/m"), &rel("missing")).space().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

#[test]
fn remove_if_removes_only_what_is_still_as_expected() {
    use blit_api::{Expect, FileKind};
    let t = tempfile::tempdir().unwrap();
    let root = held(t.path());
    std::fs::write(t.path().join("f"), b"12345").unwrap();
    std::fs::create_dir_all(t.path().join("full/inner")).unwrap();
    std::fs::create_dir(t.path().join("empty")).unwrap();
    symlink("f", t.path().join("link")).unwrap();
    let m = std::fs::symlink_metadata(t.path().join("f")).unwrap();
    let mtime_ns = m.mtime() * 1_000_000_000 + m.mtime_nsec();
    let at = |p: &str| Anchor::beneath(root.clone(), Path::new("/t"), &rel(p));
    let file = |size, mtime_ns| Expect::Entry { kind: FileKind::File, size, mtime_ns };
    // Another size or mtime, or another kind: kept.
    assert!(!at("f").remove_if(file(4, mtime_ns)).unwrap());
    assert!(!at("f").remove_if(file(5, mtime_ns + 1)).unwrap());
    assert!(!at("link").remove_if(file(5, mtime_ns)).unwrap(), "a symlink is not the file it names");
    assert!(!at("full").remove_if(Expect::EmptyDir).unwrap(), "a directory with something in it stays");
    assert!(!at("missing").remove_if(file(5, mtime_ns)).unwrap());
    assert!(!Anchor::beneath(root.clone(), Path::new("/t"), &RelPath::root()).remove_if(Expect::EmptyDir).unwrap());
    assert!(t.path().join("f").exists() && t.path().join("full/inner").exists());
    // As expected: removed, a symlink as the link.
    assert!(at("f").remove_if(file(5, mtime_ns)).unwrap());
    let l = std::fs::symlink_metadata(t.path().join("link")).unwrap();
    let link = Expect::Entry { kind: FileKind::Symlink, size: 1, mtime_ns: l.mtime() * 1_000_000_000 + l.mtime_nsec() };
    assert!(at("link").remove_if(link).unwrap());
    assert!(at("empty").remove_if(Expect::EmptyDir).unwrap());
    assert!(!t.path().join("f").exists() && !t.path().join("link").exists() && !t.path().join("empty").exists());
}
