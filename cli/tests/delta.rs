//! Delta transfer through the real `blit` binary and an in-process blitd:
//! a large file changed in a few places travels as its changed blocks
//! (the `--json` summary's `bytes_transferred` and `bytes_reused`), in both
//! directions and over both payload paths, and lands equal to the source;
//! `--whole-file` sends it whole; a local copy never builds on the old file.

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

const SIZE: usize = 24 * 1024 * 1024;
/// Bytes changed in the middle of the file.
const CHANGED: usize = 100 * 1024;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `SIZE` bytes that differ in every block (xorshift), seeded.
fn content(seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIZE);
    let mut x = seed | 1;
    while out.len() < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// The old version with `CHANGED` bytes rewritten at an odd offset in the
/// middle, and 5000 bytes appended: what changed is a few blocks and a
/// tail.
fn changed(old: &[u8]) -> Vec<u8> {
    let mut new = old.to_vec();
    let at = SIZE / 2 + 12_345;
    for (i, b) in new[at..at + CHANGED].iter_mut().enumerate() {
        *b ^= (i % 251) as u8 + 1;
    }
    new.extend(std::iter::repeat_n(7u8, 5000));
    new
}

/// Bytes inserted near the start by [`inserted`].
const INSERTED: usize = 1000;

/// The old version with [`INSERTED`] bytes inserted near its start: every
/// block after them sits that much later.
fn inserted(old: &[u8]) -> Vec<u8> {
    let mut new = old.to_vec();
    new.splice(10_007..10_007, (0..INSERTED).map(|i| (i % 241) as u8));
    new
}

/// Copies `src` to `dst` with `extra` flags; returns (moved, reused).
fn copy(extra: &[&str], src: &OsStr, dst: &OsStr) -> (u64, u64) {
    let mut args = vec![os("copy"), os("--json")];
    args.extend(extra.iter().map(|a| os(a)));
    args.extend([src, dst]);
    let s = summary(&blit_ok(&args));
    (s["bytes_transferred"].as_u64().unwrap(), s["bytes_reused"].as_u64().unwrap())
}

/// Lands version 1, changes the source to version 2 (newer mtime) and
/// copies again: only a little moves, the rest is reused, and the file
/// equals version 2.
fn second_copy_moves_a_little(extra: &[&str], src: &Path, src_arg: &OsStr, dst_arg: &OsStr, landed: &Path) {
    // The changed bytes cross at most two more blocks than they fill, and
    // the tail is new: a 24 MiB file has 32 KiB blocks.
    let most = CHANGED as u64 + 2 * 32 * 1024 + 5000 + 32 * 1024;
    second_copy_moves(extra, (src, landed), (src_arg, dst_arg), changed, CHANGED as u64..=most);
}

/// Lands version 1, makes the source `change(version 1)` (newer mtime) and
/// copies again: the bytes moved lie in `moves`, the rest is reused, and
/// the file equals the new version.
fn second_copy_moves(
    extra: &[&str],
    (src, landed): (&Path, &Path),
    (src_arg, dst_arg): (&OsStr, &OsStr),
    change: fn(&[u8]) -> Vec<u8>,
    moves: std::ops::RangeInclusive<u64>,
) {
    let old = content(0x5eed);
    write(src, &old, 0o644, 1_600_000_000, 0);
    copy(extra, src_arg, dst_arg);
    assert!(std::fs::read(landed).unwrap() == old, "version 1 landed");
    let new = change(&old);
    write(src, &new, 0o644, 1_700_000_000, 0);
    let (moved, reused) = copy(extra, src_arg, dst_arg);
    assert!(std::fs::read(landed).unwrap() == new, "the delta landed a file equal to the source");
    assert_eq!(moved + reused, new.len() as u64, "every byte is either moved or reused");
    assert!(moves.contains(&moved), "{moved} bytes moved (expected {moves:?})");
    let meta = std::fs::metadata(landed).unwrap();
    assert_eq!(mtime_ns(&meta), 1_700_000_000 * 1_000_000_000);
}

/// A temporary directory holding `module` (served as `m` by the returned
/// daemon) and an empty local directory `out`.
struct Setup {
    t: tempfile::TempDir,
    module: PathBuf,
    out: PathBuf,
    d: Daemon,
}

fn setup() -> Setup {
    let t = tempfile::tempdir().unwrap();
    let (module, out) = (t.path().join("module"), t.path().join("out"));
    std::fs::create_dir_all(&module).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let d = Daemon::modules(&[("m", &module, false)]);
    Setup { t, module, out, d }
}

/// Bytes inserted near the start cost about a block around them, not the
/// rest of the file: pushed over the data plane, pulled in-stream.
#[test]
fn an_insertion_moves_little_both_ways() {
    let Setup { t, module, out, d } = setup();
    // Three 32 KiB blocks and the inserted bytes at most.
    let moves = INSERTED as u64..=3 * 32 * 1024 + INSERTED as u64;
    let src = t.path().join("big.bin");
    let landed = module.join("big.bin");
    second_copy_moves(&[], (&src, &landed), (src.as_os_str(), &d.url("/m/")), inserted, moves.clone());
    let src = module.join("pulled.bin");
    let landed = out.join("pulled.bin");
    let (url, dst) = (d.url("/m/pulled.bin"), slash(&out));
    second_copy_moves(&["--transport", "grpc"], (&src, &landed), (&url, &dst), inserted, moves);
}

#[test]
fn push_sends_only_changed_blocks() {
    let Setup { t, module, d, .. } = setup();
    let src = t.path().join("big.bin");
    second_copy_moves_a_little(&[], &src, src.as_os_str(), &d.url("/m/"), &module.join("big.bin"));
}

/// The daemon, about to hash the older version, tells the pushing command
/// so over the real link (`Need.ahead`), before the map comes: the
/// command's session log shows the hint for that file, and the file lands
/// as the delta it is.
#[test]
fn a_push_hears_which_older_version_the_daemon_hashes() {
    let Setup { t, module, d, .. } = setup();
    let src = t.path().join("big.bin");
    let old = content(0x5eed);
    write(&src, &old, 0o644, 1_600_000_000, 0);
    copy(&[], src.as_os_str(), &d.url("/m/"));
    let new = changed(&old);
    write(&src, &new, 0o644, 1_700_000_000, 0);
    let args = [os("copy"), os("--json"), src.as_os_str(), &d.url("/m/")];
    let out = blit_with_env(&args, &[("BLIT_LOG", "blit_session=debug")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // The file is the root of the source (path `.`); the hint carries the
    // older version's length.
    let basis = format!("basis_len={SIZE}");
    let hinted = |l: &&str| l.contains("the peer hashes an older version") && l.contains(&basis);
    assert_eq!(err.lines().filter(hinted).count(), 1, "one hint for the one changed file: {err}");
    assert!(std::fs::read(module.join("big.bin")).unwrap() == new);
    assert!(summary(&out)["bytes_reused"].as_u64().unwrap() > (SIZE / 2) as u64);
}

#[test]
fn pull_in_stream_sends_only_changed_blocks() {
    let Setup { t: _t, module, out: dst, d } = setup();
    let src = module.join("big.bin");
    second_copy_moves_a_little(
        &["--transport", "grpc"],
        &src,
        &d.url("/m/big.bin"),
        &slash(&dst),
        &dst.join("big.bin"),
    );
}

#[test]
fn whole_file_and_local_copies_send_everything() {
    let Setup { t, module, out: local, d } = setup();
    let src = t.path().join("big.bin");
    let old = content(7);
    write(&src, &old, 0o644, 1_600_000_000, 0);
    copy(&[], src.as_os_str(), &d.url("/m/"));
    copy(&[], src.as_os_str(), &slash(&local));
    let new = changed(&old);
    write(&src, &new, 0o644, 1_700_000_000, 0);
    assert_eq!(copy(&["-W"], src.as_os_str(), &d.url("/m/")), (new.len() as u64, 0), "--whole-file sends all");
    assert_eq!(copy(&[], src.as_os_str(), &slash(&local)), (new.len() as u64, 0), "a local copy sends all");
    assert!(std::fs::read(module.join("big.bin")).unwrap() == new);
    assert!(std::fs::read(local.join("big.bin")).unwrap() == new);
}

#[test]
fn verify_checks_every_landed_file_including_deltas() {
    let Setup { t, module, out, d } = setup();
    let src = t.path().join("src");
    let old = content(11);
    write(&src.join("big.bin"), &old, 0o644, 1_600_000_000, 0);
    write(&src.join("small.txt"), b"hello", 0o644, 1_600_000_000, 0);
    copy(&["--verify"], &slash(&src), &d.url("/m/tree/"));
    copy(&["--verify"], &d.url("/m/tree/"), &slash(&out));
    assert_same(&snapshot(&src), &snapshot(&module.join("tree")));
    assert_same(&snapshot(&src), &snapshot(&out));
    // A delta is verified as well, both ways.
    write(&src.join("big.bin"), &changed(&old), 0o644, 1_700_000_000, 0);
    let (moved, _) = copy(&["--verify"], &slash(&src), &d.url("/m/tree/"));
    assert!(moved < SIZE as u64 / 8, "the push was a delta ({moved} bytes moved)");
    let (moved, _) = copy(&["--verify", "--transport", "grpc"], &d.url("/m/tree/"), &slash(&out));
    assert!(moved < SIZE as u64 / 8, "the pull was a delta ({moved} bytes moved)");
    assert_same(&snapshot(&src), &snapshot(&module.join("tree")));
    assert_same(&snapshot(&src), &snapshot(&out));
}

/// A 64 MiB file with 8 KiB of data: pushed and pulled, it lands equal,
/// its holes are not sent (the summary's `wire_bytes`) and stay holes.
#[test]
fn sparse_files_keep_their_holes_both_ways() {
    use std::os::unix::fs::{FileExt, MetadataExt};
    let Setup { t, module, out, d } = setup();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let img = src.join("disk.img");
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(64 << 20).unwrap();
    f.write_all_at(&[7; 4096], 20 << 20).unwrap();
    f.write_all_at(&[9; 4096], (50 << 20) + 100).unwrap();
    drop(f);
    let sparse_here = std::fs::metadata(&img).unwrap().blocks() * 512 < 1 << 20;
    for (args, landed) in [
        (vec![os("copy"), os("--json"), img.as_os_str(), &d.url("/m/")], module.join("disk.img")),
        (
            vec![os("copy"), os("--json"), os("--transport"), os("grpc"), &d.url("/m/disk.img"), &slash(&out)],
            out.join("disk.img"),
        ),
    ] {
        let s = summary(&blit_ok(&args));
        assert_eq!(s["bytes_transferred"].as_u64(), Some(64 << 20), "holes count as landed bytes: {s}");
        assert!(std::fs::read(&landed).unwrap() == std::fs::read(&img).unwrap(), "{} differs", landed.display());
        if sparse_here {
            let wire = s["wire_bytes"].as_u64().unwrap();
            assert!(wire < 1 << 20, "{wire} bytes crossed the wire for 8 KiB of data: {s}");
            let allocated = std::fs::metadata(&landed).unwrap().blocks() * 512;
            assert!(allocated < 1 << 20, "{} allocates {allocated} bytes", landed.display());
        }
    }
}
