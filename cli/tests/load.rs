//! Load: many real `blit` processes against one blitd at once.
//!
//! The daemon runs in this test process (on its own runtime); the clients
//! are separate processes, so this process's peak resident memory (VmHWM)
//! is the daemon's plus a small, fixed test harness. That is what the
//! memory checks measure: the growth of the daemon's peak over three rounds
//! of 32 concurrent sessions (bounded), and its resident memory at rest
//! after each round (it stops climbing once the allocator's arenas are
//! warm; ten rounds plateau near 60 MiB on the reference machine).

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Serves `module` as `m` with a session limit.
fn start(module: &Path, max_sessions: usize) -> Daemon {
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    config.set_max_sessions(max_sessions).unwrap();
    Daemon::serve(config)
}

/// A `/proc/self/status` figure in KiB (`VmHWM`: peak resident memory,
/// `VmRSS`: resident memory now).
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("{key} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A small tree: 40 files of up to 16 KiB, and one of 1 MiB.
fn tree(root: &Path, seed: u8) {
    for i in 0..40u32 {
        let data: Vec<u8> =
            (0..(i * 397) % 16_384).map(|j| (j as u8).wrapping_mul(seed | 1).wrapping_add(i as u8)).collect();
        write(&root.join(format!("d{}/f{i}", i % 4)), &data, 0o644, 1_000 + i64::from(i), 0);
    }
    let big: Vec<u8> = (0..1 << 20).map(|j: u32| (j >> 3) as u8 ^ seed).collect();
    write(&root.join("big"), &big, 0o600, 2_000, 5);
}

fn spawn(args: &[&OsStr]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_blit"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the blit binary runs")
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// One round: 16 pushes into distinct directories and 16 pulls of the
/// shared tree, all started at once. Every one must succeed.
fn round(d: &Daemon, t: &Path, module: &Path, n: usize) {
    let mut children = Vec::new();
    for i in 0..16 {
        let src = t.join(format!("src{i}"));
        let dst = d.url(&format!("/m/pushed/r{n}-{i}/"));
        children.push((format!("push {i}"), spawn(&[os("copy"), &slash(&src), &dst])));
        let into = t.join(format!("pulled/r{n}-{i}"));
        children.push((format!("pull {i}"), spawn(&[os("copy"), &d.url("/m/shared/"), into.as_os_str()])));
    }
    for (what, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{what}: {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let shared = snapshot(&module.join("shared"));
    for i in 0..16 {
        assert_same(&snapshot(&t.join(format!("src{i}"))), &snapshot(&module.join(format!("pushed/r{n}-{i}"))));
        assert_same(&shared, &snapshot(&t.join(format!("pulled/r{n}-{i}"))));
    }
}

/// One test, two phases in order: the memory phase must see this process's
/// peak before any other daemon in it raised it (VmHWM never goes down).
#[test]
fn load_thirty_two_clients_then_the_session_limit() {
    thirty_two_concurrent_clients_push_and_pull_with_bounded_daemon_memory();
    sessions_beyond_the_limit_are_told_to_retry();
}

fn thirty_two_concurrent_clients_push_and_pull_with_bounded_daemon_memory() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("module");
    tree(&module.join("shared"), 0);
    for i in 0..16u8 {
        tree(&t.path().join(format!("src{i}")), i + 1);
    }
    let d = start(&module, 64);
    let before = status_kib("VmHWM:");
    let mut peaks = Vec::new();
    let mut at_rest = Vec::new();
    for n in 1..=3 {
        round(&d, t.path(), &module, n);
        peaks.push(status_kib("VmHWM:"));
        at_rest.push(status_kib("VmRSS:"));
    }
    let mib = |v: &[u64]| v.iter().map(|k| format!("{}", k / 1024)).collect::<Vec<_>>().join(", ");
    eprintln!(
        "daemon process: peak RSS {} MiB before, {} MiB after each round of 32 concurrent sessions; \
         RSS at rest after each round {} MiB",
        before / 1024,
        mib(&peaks),
        mib(&at_rest)
    );
    // Each session holds at most a few MiB of queues (8 payload records
    // and 8 frames of at most 1 MiB, and what the allocator keeps); 32 at
    // once must stay far below what unbounded buffering would take.
    let growth = peaks[2] - before;
    assert!(growth < 512 * 1024, "32 sessions at a time raised the daemon's peak by {} MiB", growth / 1024);
    // What the sessions took is given back or reused: once the allocator's
    // arenas are warm (after the first rounds), resident memory at rest no
    // longer climbs; a leak of 1 MiB per session would add 32 MiB a round.
    let creep = at_rest[2].saturating_sub(at_rest[1]);
    assert!(creep < 24 * 1024, "resident memory at rest grew by {} MiB in the third round", creep / 1024);
}

fn sessions_beyond_the_limit_are_told_to_retry() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("module");
    let src = t.path().join("src");
    tree(&src, 9);
    // Big enough that sixteen transfers started together overlap.
    write(&src.join("more"), &vec![3u8; 6 << 20], 0o644, 3_000, 0);
    std::fs::create_dir_all(&module).unwrap();
    let d = start(&module, 2);
    let children: Vec<_> = (0..16).map(|i| spawn(&[os("copy"), &slash(&src), &d.url(&format!("/m/c{i}/"))])).collect();
    let (mut ok, mut busy) = (0, 0);
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            ok += 1;
            assert_same(&snapshot(&src), &snapshot(&module.join(format!("c{i}"))));
        } else {
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains("blitd is busy (2 sessions); retry later"), "{err}");
            busy += 1;
        }
    }
    assert!(ok >= 2 && busy >= 1, "{ok} served, {busy} told to retry");
    // Once the others are done, a retry is served.
    let out = spawn(&[os("copy"), &slash(&src), &d.url("/m/retry/")]).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
