use super::*;
use crate::partial::Partials;
use crate::testutil::header;
use crate::tree::Tree;
use blit_api::{Landing, PartRange, PayloadWriter, ProgressEvent, RecordingSink, RESUME_MIN};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

const SIZE: u64 = RESUME_MIN + 4097;

fn part_path(dir: &Path) -> PathBuf {
    dir.join(std::ffi::OsStr::from_bytes(&part_name(b"big")))
}

fn big() -> FileHeader {
    header("big", FileKind::File, SIZE, 1_700_000_000_000_000_000, 0o644)
}

/// A destination as the need list of a part-range transfer leaves it:
/// its sweep keeps `.part` files.
fn ranged(dir: &Path) -> LocalDestination {
    let dest = LocalDestination::new(dir.to_path_buf());
    dest.sweeper.keep_parts(true);
    dest
}

/// A directory descriptor as the sweep gets it.
fn dir_fd(dir: &Path) -> OwnedFd {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap()
}

/// `len` bytes of `byte` at `at` of a landing's file.
fn fill(file: &mut Box<dyn LandingFile>, at: u64, len: u64, byte: u8) {
    file.file().write_all_at(&vec![byte; len as usize], at).unwrap();
}

#[test]
fn two_range_writers_share_the_part_and_nothing_else_can_take_it_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two destinations: as two processes (flock locks belong to open
    // files, not to processes).
    let (a, b) = (ranged(d), ranged(d));
    let half = SIZE / 2;
    let mut first = a.land_range(&big(), 0..half).unwrap();
    let mut second = b.land_range(&big(), half..SIZE).unwrap();
    assert_eq!(std::fs::metadata(part_path(d)).unwrap().len(), SIZE, "created at the file's full size");
    fill(&mut first, 0, half, 1);
    fill(&mut second, half, SIZE - half, 2);
    // While they write: a sweep without --resume leaves it, a judge offers
    // it to no one, and an ordinary landing of the file goes elsewhere.
    assert_eq!(crate::sweep::sweep(dir_fd(d).as_fd(), false), 0);
    let mut judged = big();
    Partials::default().offer(&Tree::new(crate::Anchor::path(d.to_path_buf())), &mut judged);
    assert!(judged.resume.is_none(), "a .part range writers hold is not offered");
    let whole = LocalDestination::new(d.to_path_buf()).begin(&header("big", FileKind::File, 3, 5, 0o644)).unwrap();
    drop(whole);
    first.commit().unwrap();
    // A failed range gives up only itself: the other range stays.
    second.discard();
    assert!(!d.join("big").exists(), "a range is never committed");
    let held = std::fs::read(part_path(d)).unwrap();
    assert_eq!(held.len() as u64, SIZE);
    assert!(held[..half as usize].iter().all(|b| *b == 1) && held[half as usize..].iter().all(|b| *b == 2));
    // Once they let go, the resuming transfer can have it.
    Partials::default().offer(&Tree::new(crate::Anchor::path(d.to_path_buf())), &mut judged);
    assert_eq!(judged.resume.expect("offered once free").partial_len(), SIZE);
}

#[test]
fn a_range_keeps_every_byte_outside_it_and_never_cuts_the_part() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dest = ranged(d);
    // A shorter .part (an earlier range, say) grows; its bytes stay.
    std::fs::write(part_path(d), vec![7u8; 1000]).unwrap();
    let mut range = dest.land_range(&big(), 2000..3000).unwrap();
    fill(&mut range, 2000, 1000, 9);
    range.commit().unwrap();
    let held = std::fs::read(part_path(d)).unwrap();
    assert_eq!(held.len() as u64, SIZE);
    assert!(held[..1000].iter().all(|b| *b == 7), "the earlier bytes are kept");
    assert!(held[1000..2000].iter().chain(&held[3000..]).all(|b| *b == 0), "the rest is holes");
    assert!(held[2000..3000].iter().all(|b| *b == 9));
    // A longer one (another version's) is not cut either: the resuming
    // transfer sizes it on commit.
    std::fs::write(part_path(d), vec![5u8; (SIZE + 10) as usize]).unwrap();
    dest.land_range(&big(), 0..10).unwrap().commit().unwrap();
    assert_eq!(std::fs::metadata(part_path(d)).unwrap().len(), SIZE + 10);
}

#[test]
fn a_part_held_exclusively_fails_the_range_and_small_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(part_path(d), b"half").unwrap();
    // The judge of a resuming transfer holds it until its landing.
    let holder = Partials::default();
    let mut judged = big();
    holder.offer(&Tree::new(crate::Anchor::path(d.to_path_buf())), &mut judged);
    assert!(judged.resume.is_some());
    let e = ranged(d).land_range(&big(), 0..10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("another transfer holds"), "{e}");
    assert_eq!(std::fs::read(part_path(d)).unwrap(), b"half", "untouched");
    let small = header("small", FileKind::File, RESUME_MIN - 1, 5, 0o644);
    let e = ranged(d).land_range(&small, 0..10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[test]
fn the_landing_accounts_for_the_range_alone_and_checks_what_the_source_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let sink = RecordingSink::new();
    let dest: Arc<dyn PayloadWriter> = Arc::new(LocalDestination::new(dir.path().to_path_buf()));
    let range = PartRange::new(100, 1000).unwrap();
    let landing = Landing::new(dest, sink.clone()).part_range(Some(range));
    let mut incoming = landing.resume(&big(), SIZE - 1000).unwrap();
    incoming.file().write_all_at(&[3; 1000], 100).unwrap();
    incoming.record(1000);
    incoming.commit().unwrap();
    let path = big().path;
    let want = vec![
        ProgressEvent::FileStarted { path: path.clone(), kind: FileKind::File, size: 1000 },
        ProgressEvent::FileBytes { path: path.clone(), bytes: 1000, zero_copy: false },
        ProgressEvent::FileDone { path: path.clone(), kind: FileKind::File, bytes: 1000 },
    ];
    assert_eq!(sink.events(), want);
    // A source that leaves other bytes out, or sends the file whole, is refused.
    assert_eq!(landing.resume(&big(), SIZE - 999).unwrap_err().kind(), ErrorKind::Protocol);
    assert_eq!(landing.begin(&big()).unwrap_err().kind(), ErrorKind::Protocol);
    assert!(!dir.path().join("big").exists());
}
