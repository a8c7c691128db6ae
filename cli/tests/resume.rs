//! `--resume` after a real kill: the real `blit` binary copies a 64 MiB file
//! (slowed by `--bwlimit`) and is killed with SIGKILL about halfway; the
//! partial copy (`.blit.<hash>.part`) stays beside the target, and a plain
//! rerun (no flag: resuming is always on) lands the file equal to the source while moving only
//! what the partial copy lacked (the `--json` summary's `bytes_transferred`
//! and `bytes_reused`). Local copies and pushes to an in-process blitd (which
//! outlives the killed client, so it is the daemon's landing that keeps the
//! partial copy when its peer vanishes).

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SIZE: u64 = 64 * 1024 * 1024;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Content that differs in every block (so a wrong offset shows).
fn content() -> Vec<u8> {
    let mut out = Vec::with_capacity(SIZE as usize);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while (out.len() as u64) < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// The `.part` a large file named `name` lands under in `dir`.
fn part(dir: &Path, name: &str) -> PathBuf {
    dir.join(OsStr::from_bytes(&blit_transport_local::part_name(name.as_bytes())))
}

/// Starts `blit copy --bwlimit 24M SRC DST` and SIGKILLs it once `part`
/// holds between 30 % and 70 % of the file; returns the length it had.
fn copy_and_kill(src: &Path, dst: &OsStr, part: &Path) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blit"))
        .args([os("copy"), os("--bwlimit"), os("24M"), src.as_os_str(), dst])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("blit starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let len = std::fs::metadata(part).map_or(0, |m| m.len());
        if len >= SIZE * 3 / 10 {
            child.kill().expect("SIGKILL blit");
            child.wait().expect("reap blit");
            assert!(
                len <= SIZE * 7 / 10,
                "the copy ran past 70 % ({len} bytes) before the kill; --bwlimit not applied?"
            );
            return len;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            panic!("blit ended ({status}) before it was killed: {err}");
        }
        assert!(Instant::now() < deadline, "no partial copy at {} within 60 s", part.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The rerun: lands the file whole, moves less than the file, and leaves
/// no partial copy.
fn rerun_and_check(src: &Path, dst: &OsStr, landed: &Path, part: &Path, killed_at: u64) {
    // What the partial copy holds now that nobody writes it: with several
    // streams, ranges land at their offsets and leave holes, so count the
    // 1 MiB blocks (the last one may be short) that equal the source's.
    let partial = std::fs::read(part).expect("the partial copy is readable");
    let source = content();
    let reusable: u64 = partial
        .chunks(1 << 20)
        .enumerate()
        .filter(|(i, block)| source.get(i * (1 << 20)..i * (1 << 20) + block.len()) == Some(*block))
        .map(|(_, block)| block.len() as u64)
        .sum();
    assert!(reusable > 0, "the killed run left nothing reusable ({} bytes at the kill)", killed_at);
    // No flag needed: partial copies are always kept and reused.
    let s = summary(&blit_ok(&[os("copy"), os("--json"), src.as_os_str(), dst]));
    let data = std::fs::read(landed).expect("the file landed");
    assert!(data == content(), "the resumed file differs from the source");
    let (moved, reused) = (s["bytes_transferred"].as_u64().unwrap(), s["bytes_reused"].as_u64().unwrap());
    assert_eq!(moved + reused, SIZE, "{s}");
    // Exactly the blocks of the partial copy that match the source are kept.
    assert_eq!(reused, reusable, "reused bytes differ from the matching blocks of the partial copy: {s}");
    assert!(!part.exists(), "the partial copy is gone after the resumed run");
}

#[test]
fn local_copy_resumes_after_sigkill() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("big.bin"), t.path().join("out"));
    std::fs::write(&src, content()).unwrap();
    std::fs::create_dir(&dst).unwrap();
    let part = part(&dst, "big.bin");
    let mut dst_arg = OsString::from(dst.as_os_str());
    dst_arg.push("/");
    let killed_at = copy_and_kill(&src, &dst_arg, &part);
    assert!(part.exists(), "SIGKILL leaves the partial copy");
    rerun_and_check(&src, &dst_arg, &dst.join("big.bin"), &part, killed_at);
}

#[test]
fn push_resumes_after_the_client_is_killed() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("big.bin"), t.path().join("module"));
    std::fs::write(&src, content()).unwrap();
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = Daemon::serve(config);
    let part = part(&module, "big.bin");
    let killed_at = copy_and_kill(&src, &d.url("/m/"), &part);
    // The daemon notices the vanished peer and drops (not fails) the file.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::OpenOptions::new().read(true).open(&part).is_ok_and(|f| locked(&f)) {
        assert!(Instant::now() < deadline, "the daemon still holds the partial copy 10 s after the client died");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(part.exists(), "the daemon keeps the partial copy when its client vanishes");
    rerun_and_check(&src, &d.url("/m/"), &module.join("big.bin"), &part, killed_at);
}

/// Whether a writer still holds `f`'s lock.
fn locked(f: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: `f` is open; a lock taken here goes with it.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) != 0 }
}
