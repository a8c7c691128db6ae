//! `--bwlimit`: the real `blit` binary keeps to the limit in every direction
//! (local, push, pull) and over every transport (local, grpc, tcp), and the
//! tree still arrives intact. These are behaviour bounds, not benchmarks:
//! each run must take at least the time the limit allows (less the limiter's
//! 0.1 s burst) and finish well before a broken limiter would let it.

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

/// One large file (ranges or whole-file payloads) and small files (tar
/// shards): `large` bytes plus 64 files of 16 KiB (1 MiB).
fn tree(root: &Path, large: usize) {
    let data: Vec<u8> = (0..large).map(|i| (i * 7 + i / 4096) as u8).collect();
    write(&root.join("big.bin"), &data, 0o644, 1_000, 0);
    for i in 0..64 {
        write(&root.join(format!("small/f{i}")), &vec![i as u8; 16 << 10], 0o644, 1_000, 0);
    }
}

/// Runs blit with `args` and returns how long it took.
fn timed(args: &[&OsStr]) -> Duration {
    let start = Instant::now();
    blit_ok(args);
    start.elapsed()
}

fn assert_paced(took: Duration, bytes: usize, rate: usize, most: Duration, what: &str) {
    let least = Duration::from_secs_f64((bytes as f64 - rate as f64 * 0.1) / rate as f64 * 0.9);
    assert!(took >= least, "{what}: {took:?} for {bytes} bytes at {rate} B/s; the limit allows no less than {least:?}");
    assert!(took < most, "{what}: {took:?}, far slower than the limit asks");
}

#[test]
fn a_local_copy_keeps_to_the_limit_and_lands_the_whole_tree() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    tree(&src, 5 * MIB);
    let took = timed(&[OsStr::new("copy"), OsStr::new("--bwlimit"), OsStr::new("2M"), &slash(&src), dst.as_os_str()]);
    assert_paced(took, 6 * MIB, 2 * MIB, Duration::from_secs(6), "local copy at 2M");
    assert_same(&snapshot(&src), &snapshot(&dst));
    // Without the limit the same copy is quick: the bound above measured the limit.
    let again = t.path().join("again");
    let quick = timed(&[OsStr::new("copy"), &slash(&src), again.as_os_str()]);
    assert!(quick < Duration::from_millis(2_500), "an unlimited copy took {quick:?}");
}

#[test]
fn pushes_and_pulls_keep_to_the_limit_over_every_transport() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    tree(&src, 2 * MIB);
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = Daemon::serve(config);
    let os = OsStr::new;
    for transport in ["grpc", "tcp"] {
        let remote = d.url(&format!("/m/{transport}/"));
        let args = [os("copy"), os("--bwlimit"), os("2M"), os("--transport"), os(transport)];
        let took = timed(&[&args[..], &[&slash(&src), &remote]].concat());
        assert_paced(took, 3 * MIB, 2 * MIB, Duration::from_secs(8), &format!("push over {transport}"));
        assert_same(&snapshot(&src), &snapshot(&module.join(transport)));
        let back = t.path().join(format!("back-{transport}"));
        let took = timed(&[&args[..], &[&remote, back.as_os_str()]].concat());
        assert_paced(took, 3 * MIB, 2 * MIB, Duration::from_secs(8), &format!("pull over {transport}"));
        assert_same(&snapshot(&src), &snapshot(&back));
    }
}

#[test]
fn bad_rates_are_refused_with_an_example() {
    let t = tempfile::tempdir().unwrap();
    let out = blit(&[
        OsStr::new("copy"),
        OsStr::new("--bwlimit"),
        OsStr::new("fast"),
        t.path().as_os_str(),
        t.path().join("d").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(64), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`fast` is not a rate") && err.contains("e.g. 500K"), "{err}");
    assert!(!t.path().join("d").exists(), "nothing was copied");
}
