use super::*;
use crate::testutil::{drop_dac_override_on_this_thread, header, mode, mtime, write};
use blit_api::{Landing, ProgressEvent, RecordingSink};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".blit."))
        .collect()
}

#[test]
fn landing_is_atomic_and_sets_metadata_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    write(&target, b"old", 0o644, 1);
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let mut landing = dest.begin(&header("f", FileKind::File, 3, 1_700_000_000_123_456_789, 0o444)).unwrap();
    landing.file().write_all(b"new").unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"old", "the final name keeps the old content until commit");
    assert!(temps(dir.path()).len() <= 1, "one temporary name at most");
    landing.commit().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
    assert_eq!((mode(&target), mtime(&target)), (0o444, 1_700_000_000_123_456_789));
    assert!(temps(dir.path()).is_empty());
}

#[test]
fn the_writer_applies_the_policy_to_the_header_the_peer_sent() {
    let dir = tempfile::tempdir().unwrap();
    let dest =
        LocalDestination::new(dir.path().to_path_buf()).with_policy(crate::DestinationPolicy::default().setid(false));
    // Not judged first: a peer may send any header with the payload.
    for (name, size) in [("f", 3), ("empty", 0)] {
        let mut landing = dest.begin(&header(name, FileKind::File, size, 5, 0o6755)).unwrap();
        landing.file().write_all(&b"abc"[..size as usize]).unwrap();
        landing.commit().unwrap();
        assert_eq!(mode(&dir.path().join(name)), 0o755, "{name}");
    }
    let trusting = LocalDestination::new(dir.path().to_path_buf());
    let mut landing = trusting.begin(&header("kept", FileKind::File, 3, 5, 0o4755)).unwrap();
    landing.file().write_all(b"abc").unwrap();
    landing.commit().unwrap();
    assert_eq!(mode(&dir.path().join("kept")), 0o4755);
}

#[test]
fn dropping_without_commit_removes_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    write(&target, b"old", 0o644, 1);
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let mut landing = dest.begin(&header("f", FileKind::File, 3, 5, 0o644)).unwrap();
    landing.file().write_all(b"new").unwrap();
    drop(landing);
    assert!(temps(dir.path()).is_empty());
    assert_eq!(std::fs::read(&target).unwrap(), b"old");
    assert_eq!(mtime(&target), 1);
}

#[test]
fn long_names_land_and_missing_parents_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let name = "n".repeat(255);
    let path = format!("a/b/{name}");
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let mut landing = dest.begin(&header(&path, FileKind::File, 2, 5, 0o600)).unwrap();
    landing.file().write_all(b"ok").unwrap();
    landing.commit().unwrap();
    assert_eq!(std::fs::read(dir.path().join(&path)).unwrap(), b"ok");
}

#[test]
fn a_directory_in_the_way_fails_with_a_hint_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    write(&dir.path().join("d/inside"), b"x", 0o644, 1);
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let landing = dest.begin(&header("d", FileKind::File, 0, 5, 0o644)).unwrap();
    let e = landing.commit().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
    assert!(e.hint().is_some() && e.to_string().contains('d'), "{e}");
    assert!(dir.path().join("d/inside").exists());
    assert!(temps(dir.path()).is_empty());
}

#[test]
fn a_read_only_directory_is_a_per_file_failure_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let dest: Arc<dyn PayloadWriter> = Arc::new(LocalDestination::new(dir.path().to_path_buf()));
    let events = RecordingSink::new();
    let landing = Landing::new(dest, events.clone());
    // Capabilities are per thread: the permission check is made on a thread
    // that lost the root override.
    let result = std::thread::spawn(move || {
        assert!(drop_dac_override_on_this_thread(), "cannot drop CAP_DAC_OVERRIDE for this test");
        landing.begin(&header("ro/f", FileKind::File, 1, 5, 0o644)).map(drop)
    })
    .join()
    .unwrap();
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains(&*ro.to_string_lossy()), "{e}");
    let events = events.events();
    assert!(matches!(&events[0], ProgressEvent::FileStarted { path, .. } if path.as_bytes() == b"ro/f"));
    assert!(
        matches!(&events[1], ProgressEvent::FileFailed { path, kind: ErrorKind::PermissionDenied, message }
            if path.as_bytes() == b"ro/f" && message.contains("permission")),
        "{events:?}"
    );
    assert!(temps(&ro).is_empty());
}

#[test]
fn never_writes_through_a_symlink_in_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let (dst, outside) = (dir.path().join("dst"), dir.path().join("outside"));
    std::fs::create_dir_all(dst.join("real")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, dst.join("evil")).unwrap();
    std::os::unix::fs::symlink("real", dst.join("alias")).unwrap();
    let dest = LocalDestination::new(dst.clone());
    for path in ["evil/f", "evil/new/f", "alias/f"] {
        let e = dest.begin(&header(path, FileKind::File, 1, 5, 0o644)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{path}: {e}");
        assert!(e.hint().unwrap().contains("symlink"), "{e}");
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(dst.join("real")).unwrap().count(), 0);
    // The same directory through its real name works, and stays cached.
    for _ in 0..2 {
        let mut landing = dest.begin(&header("real/f", FileKind::File, 1, 5, 0o644)).unwrap();
        landing.file().write_all(b"1").unwrap();
        landing.commit().unwrap();
    }
    assert_eq!(std::fs::read(dst.join("real/f")).unwrap(), b"1");
}

#[test]
fn a_file_as_the_root_lands_at_the_root_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("new/parent/file.txt");
    let dest = LocalDestination::new(root.clone());
    let mut landing = dest.begin(&header("", FileKind::File, 2, 9, 0o600)).unwrap();
    landing.file().write_all(b"hi").unwrap();
    landing.commit().unwrap();
    assert_eq!(std::fs::read(&root).unwrap(), b"hi");
    assert_eq!((mode(&root), mtime(&root)), (0o600, 9));
}

#[test]
fn landing_removes_the_temporary_files_of_a_crashed_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    for name in [format!("d/.blit.{dead}.3.tmp"), format!(".blit.{dead}.4.tmp")] {
        std::fs::write(dir.path().join(name), b"torn").unwrap();
    }
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let mut landing = dest.begin(&header("d/f", FileKind::File, 2, 5, 0o644)).unwrap();
    let dead_name = format!(".blit.{dead}.");
    assert!(!temps(&dir.path().join("d")).iter().any(|n| n.starts_with(&dead_name)), "the crashed run's file went");
    landing.file().write_all(b"ok").unwrap();
    landing.commit().unwrap();
    assert!(temps(&dir.path().join("d")).is_empty());
    assert_eq!(temps(dir.path()).len(), 1, "a directory nothing lands in is left alone");
}

#[test]
fn temporary_files_are_locked_before_their_name_appears() {
    let dir = tempfile::tempdir().unwrap();
    let fd: OwnedFd = std::fs::File::open(dir.path()).unwrap().into();
    let (_file, name) = create_temp(&fd, 0o644).unwrap();
    let (_part, part) = create_part(&fd, c"big", 0o644).unwrap().unwrap();
    assert!(dir.path().join(std::ffi::OsStr::from_bytes(name.to_bytes())).exists());
    assert_eq!(crate::sweep::sweep(fd.as_fd(), false), 0, "a live writer's files stay");
    drop((_file, _part));
    assert_eq!(crate::sweep::sweep(fd.as_fd(), false), 2, "abandoned once their writer lets go");
    assert!(!dir.path().join(std::ffi::OsStr::from_bytes(part.to_bytes())).exists());
    assert!(create_part(&fd, c"big", 0o644).unwrap().is_some(), "the name is free again");
}

#[test]
fn a_new_file_has_no_name_until_commit_and_a_replacement_is_renamed_over() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    // The first landing of a process proves that unnamed files link in.
    for (i, name) in ["a", "b"].into_iter().enumerate() {
        let mut landing = dest.begin(&header(name, FileKind::File, 2, 5, 0o640)).unwrap();
        landing.file().write_all(b"ok").unwrap();
        if i == 1 {
            let expect = if create::links_unnamed() { 0 } else { 1 };
            assert_eq!(temps(dir.path()).len(), expect, "unnamed where the filesystem allows");
            assert!(!dir.path().join(name).exists(), "no name before commit");
        }
        landing.commit().unwrap();
        assert_eq!(std::fs::read(dir.path().join(name)).unwrap(), b"ok");
        assert_eq!((mode(&dir.path().join(name)), mtime(&dir.path().join(name))), (0o640, 5));
    }
    // Something has the name: the new content replaces it on commit only.
    let mut landing = dest.begin(&header("a", FileKind::File, 3, 7, 0o644)).unwrap();
    landing.file().write_all(b"new").unwrap();
    assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"ok");
    landing.commit().unwrap();
    assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"new");
    // A directory in the way fails on commit and leaves no temporary file.
    std::fs::create_dir(dir.path().join("c")).unwrap();
    let mut landing = dest.begin(&header("c", FileKind::File, 1, 7, 0o644)).unwrap();
    landing.file().write_all(b"x").unwrap();
    let err = landing.commit().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    // Dropped without commit: nothing is left.
    let mut landing = dest.begin(&header("d", FileKind::File, 1, 7, 0o644)).unwrap();
    landing.file().write_all(b"x").unwrap();
    drop(landing);
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c"], "no temporary file and no `d`");
}

#[test]
fn an_unnamed_file_that_cannot_be_linked_in_is_copied_to_a_named_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let fd: OwnedFd = std::fs::File::open(dir.path()).unwrap().into();
    // Unnamed, as `create_unnamed` makes it (readable and writable).
    let raw = rustix::fs::openat(
        &fd,
        c".",
        rustix::fs::OFlags::TMPFILE | rustix::fs::OFlags::RDWR,
        rustix::fs::Mode::from_raw_mode(0o600),
    );
    let Ok(raw) = raw else { return assert!(temps(dir.path()).is_empty()) };
    let mut unnamed = std::fs::File::from(raw);
    unnamed.write_all(b"content written unnamed").unwrap();
    let (_named, name) = create::rescue(&unnamed, &fd, 0o600).unwrap();
    let path = dir.path().join(std::ffi::OsStr::from_bytes(name.to_bytes()));
    assert_eq!(std::fs::read(&path).unwrap(), b"content written unnamed");
    assert_eq!(temps(dir.path()), [name.to_str().unwrap()], "one locked temporary name, nothing else");
}

/// An old version of `DELTA_MIN + 3` bytes at `f`, offered as a basis for a
/// new version of `size` bytes; returns the header with its block map.
fn offer_basis(dest: &LocalDestination, dir: &Path, size: u64) -> (FileHeader, Vec<u8>) {
    let old: Vec<u8> = (0..blit_api::DELTA_MIN + 3).map(|i| (i % 253) as u8).collect();
    write(&dir.join("f"), &old, 0o644, 1);
    let mut h = header("f", FileKind::File, size, 2, 0o600);
    let hinted = std::cell::Cell::new(None);
    dest.partials.offer_basis(&dest.tree, &mut h, &|h, len| hinted.set(Some((h.path.display(), len))));
    // The source hears of the hashing before it starts, with the length
    // the map covers; here no map means nothing was hashed, so no hint.
    let want = h.resume.as_ref().map(|map| ("f".to_string(), map.partial_len()));
    assert_eq!(hinted.take(), want);
    (h, old)
}

#[test]
fn a_delta_starts_from_the_old_version_which_stays_whole_until_commit() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let size = blit_api::DELTA_MIN + 10;
    let (h, old) = offer_basis(&dest, dir.path(), size);
    let map = h.resume.clone().expect("the old version is offered");
    assert_eq!(map.partial_len(), old.len() as u64);
    assert_eq!(temps(dir.path()).len(), 1, "the copy the new version is built on starts at once");
    let mut landing = dest.resume(&h, old.len() as u64 - 7).unwrap();
    // The source sends what changed: one byte in place, and the new tail.
    landing.file().write_all_at(b"X", 5).unwrap();
    landing.file().write_all_at(&[9; 10], old.len() as u64).unwrap();
    assert!(std::fs::read(dir.path().join("f")).unwrap() == old, "the old version is whole until commit");
    landing.commit().unwrap();
    let mut want = old.clone();
    want[5] = b'X';
    want.extend_from_slice(&[9; 10]);
    assert!(std::fs::read(dir.path().join("f")).unwrap() == want, "the new version is the old one and the changes");
    assert_eq!(mode(&dir.path().join("f")), 0o600);
    assert!(temps(dir.path()).is_empty());
}

#[test]
fn a_delta_refuses_an_old_version_that_changed_or_a_peer_that_reuses_too_much() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let size = blit_api::DELTA_MIN * 2;
    // Changed in place after it was hashed (same size, new content).
    let (h, old) = offer_basis(&dest, dir.path(), size);
    assert!(h.resume.is_some());
    std::fs::OpenOptions::new().write(true).open(dir.path().join("f")).unwrap().write_all_at(b"zz", 9).unwrap();
    let e = dest.resume(&h, 0).unwrap_err();
    assert!(e.message().contains("changed at the destination"), "{e}");
    // Replaced by a symlink after it was hashed.
    let (h, _) = offer_basis(&dest, dir.path(), size);
    std::fs::remove_file(dir.path().join("f")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("f")).unwrap();
    assert!(dest.resume(&h, 0).is_err(), "a symlink at the name is never built on");
    std::fs::remove_file(dir.path().join("f")).unwrap();
    // A source that claims to reuse more than the file holds (copies
    // within the old version may reuse more than the old version holds).
    let (h, _) = offer_basis(&dest, dir.path(), size);
    let e = dest.resume(&h, size + 1).unwrap_err();
    assert!(e.message().contains("reuses"), "{e}");
    assert!(old.len() as u64 + 1 < size);
    // Nothing offered: a new file whose unsent bytes are holes.
    let landing = dest.resume(&h, 0).unwrap();
    assert!(landing.holes());
    landing.discard();
    assert!(temps(dir.path()).is_empty(), "no temporary file is left: {:?}", temps(dir.path()));
}

#[test]
fn a_delta_copies_within_the_old_version_and_refuses_copies_that_do_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let size = blit_api::DELTA_MIN + 10;
    let (h, old) = offer_basis(&dest, dir.path(), size);
    let len = old.len() as u64;
    let mut landing = dest.resume(&h, len - 7).unwrap();
    // The old version's first 10 bytes, again at its end.
    landing.copy_from_older(0, len, 10).unwrap();
    for (from, to, n) in [(len - 5, 0, 6), (u64::MAX, 0, 2), (1, 0, u64::MAX)] {
        let e = landing.copy_from_older(from, to, n).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{from}+{n}: {e}");
    }
    landing.commit().unwrap();
    let mut want = old.clone();
    want.extend_from_slice(&old[..10]);
    assert!(std::fs::read(dir.path().join("f")).unwrap() == want, "the copy landed at its offset");
    // A new file, and a landing with holes, are built on nothing.
    let mut plain = dest.begin(&header("g", FileKind::File, 10, 2, 0o600)).unwrap();
    let e = plain.copy_from_older(0, 0, 1).unwrap_err();
    assert!(e.kind() == ErrorKind::Protocol && e.message().contains("older version"), "{e}");
    plain.discard();
    let mut holes = dest.resume(&header("g", FileKind::File, 10, 2, 0o600), 5).unwrap();
    assert_eq!(holes.copy_from_older(0, 0, 1).unwrap_err().kind(), ErrorKind::Protocol);
    holes.discard();
    // The old version written to after a copy: the new one is not named.
    let (h, _) = offer_basis(&dest, dir.path(), size);
    let mut landing = dest.resume(&h, len - 7).unwrap();
    landing.copy_from_older(0, 3, 10).unwrap();
    std::fs::OpenOptions::new().write(true).open(dir.path().join("f")).unwrap().write_all_at(b"zz", 9).unwrap();
    let e = landing.commit().unwrap_err();
    assert!(e.message().contains("changed at the destination"), "{e}");
    assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
}

#[test]
fn a_copy_made_ahead_for_a_file_that_never_lands_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let (h, old) = offer_basis(&dest, dir.path(), blit_api::DELTA_MIN * 2);
    assert!(h.resume.is_some());
    assert_eq!(temps(dir.path()).len(), 1, "a copy is being made");
    drop(dest);
    assert!(temps(dir.path()).is_empty(), "the copy went with the destination: {:?}", temps(dir.path()));
    assert!(std::fs::read(dir.path().join("f")).unwrap() == old, "the old version is untouched");
}

#[test]
fn no_basis_is_offered_for_small_files_symlinks_or_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let (small, _) = offer_basis(&dest, dir.path(), blit_api::DELTA_MIN - 1);
    assert!(small.resume.is_none(), "a small new version is sent whole");
    std::os::unix::fs::symlink("f", dir.path().join("link")).unwrap();
    let mut h = header("link", FileKind::File, blit_api::DELTA_MIN, 2, 0o644);
    dest.partials.offer_basis(&dest.tree, &mut h, &|_, _| panic!("no hint for a symlink"));
    assert!(h.resume.is_none(), "a symlink is not followed to an old version");
    write(&dir.path().join("empty"), b"", 0o644, 1);
    let mut h = header("empty", FileKind::File, blit_api::DELTA_MIN, 2, 0o644);
    dest.partials.offer_basis(&dest.tree, &mut h, &|_, _| panic!("no hint for an empty file"));
    assert!(h.resume.is_none(), "an empty old version gives nothing to build on");
}

#[test]
fn verify_names_a_file_only_when_its_content_has_the_sources_hash() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("f");
    write(&target, b"old", 0o644, 1);
    let dest = LocalDestination::new(dir.path().to_path_buf());
    let h = header("f", FileKind::File, 3, 2, 0o644);
    // The source hashed "new"; the bytes that arrived are "nex".
    dest.expected.expect(&h.path, *blake3::hash(b"new").as_bytes());
    let mut landing = dest.begin(&h).unwrap();
    landing.file().write_all(b"nex").unwrap();
    let e = landing.commit().unwrap_err();
    assert!(e.to_string().contains("differs from the source's hash"), "{e}");
    assert_eq!(std::fs::read(&target).unwrap(), b"old", "the old version is kept");
    assert!(temps(dir.path()).is_empty(), "no temporary file is left");
    // The right bytes land; a file with no expectation lands unchecked.
    dest.expected.expect(&h.path, *blake3::hash(b"new").as_bytes());
    let mut landing = dest.begin(&h).unwrap();
    landing.file().write_all(b"new").unwrap();
    landing.commit().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
    let mut landing = dest.begin(&h).unwrap();
    landing.file().write_all(b"any").unwrap();
    landing.commit().unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"any");
}
