//! `blit check`: two trees compared by content, locally, with a daemon
//! both ways and over ssh, with the same differences in every direction.

mod common;

use common::daemon::Daemon;
use common::sshd::Sshd;
use common::*;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::Path;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// SRC and DST with one of each difference, and equal files that differ
/// only in their times and modes (which check does not compare).
fn pair(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (a, b) = (root.join("a"), root.join("b"));
    write(&a.join("same"), b"same", 0o644, 1_000, 0);
    write(&b.join("same"), b"same", 0o600, 2_000, 0);
    write(&a.join("diff"), b"one", 0o644, 1_000, 0);
    write(&b.join("diff"), b"two", 0o644, 1_000, 0);
    write(&a.join("sub/missing"), b"m", 0o644, 1_000, 0);
    write(&b.join("sub/extra"), b"e", 0o644, 1_000, 0);
    write(&a.join("skip.log"), b"log", 0o644, 1_000, 0);
    std::os::unix::fs::symlink("t1", a.join("link")).unwrap();
    std::os::unix::fs::symlink("t2", b.join("link")).unwrap();
    std::os::unix::fs::symlink("same-target", a.join("link2")).unwrap();
    std::os::unix::fs::symlink("same-target", b.join("link2")).unwrap();
    (a, b)
}

/// The `(difference, path)` pairs of a `--json` run, and its final counts.
fn found(out: &std::process::Output) -> (BTreeSet<(String, String)>, serde_json::Value) {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = lines.pop().expect("a final object");
    let set = lines.iter().map(|v| (v["difference"].as_str().unwrap().into(), v["path"].as_str().unwrap().into()));
    (set.collect(), last)
}

fn expected() -> BTreeSet<(String, String)> {
    [("differs", "diff"), ("differs", "link"), ("missing", "sub/missing"), ("extra", "sub/extra")]
        .iter()
        .map(|(d, p)| (d.to_string(), p.to_string()))
        .collect()
}

fn check(args: &[&OsStr]) -> std::process::Output {
    let mut all = vec![os("check"), os("--json"), os("--exclude"), os("*.log")];
    all.extend_from_slice(args);
    blit(&all)
}

#[test]
fn local_check_names_each_difference_and_exits_3() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = pair(t.path());
    let before = snapshot(&b);
    let out = check(&[a.as_os_str(), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let (set, last) = found(&out);
    assert_eq!(set, expected());
    assert_eq!((last["same"].as_bool(), last["differs"].as_u64()), (Some(false), Some(2)), "{last}");
    assert_eq!(snapshot(&b), before, "check changes nothing");
    // Equal content: exit 0, whatever the times and modes.
    let out = blit(&[os("check"), &slash(&a.join("sub")), &slash(&a.join("sub"))]);
    assert_eq!(out.status.code(), Some(1), "a directory compared with itself is refused like a copy");
    std::fs::remove_file(b.join("sub/extra")).unwrap();
    let out = blit(&[os("check"), a.join("same").as_os_str(), b.join("same").as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no differences"));
    // Human form: one line per difference on stdout.
    let out = blit(&[os("check"), a.as_os_str(), b.as_os_str(), os("--exclude"), os("*.log")]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines, ["differs diff", "differs link", "missing sub/missing"], "{text}");
}

#[test]
fn check_against_a_daemon_both_ways_and_over_ssh_finds_the_same() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = pair(t.path());
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", t.path().display())).unwrap();
    let d = Daemon::serve(config);
    // Push direction: local SRC, the daemon's DST.
    let out = check(&[a.as_os_str(), &d.url("/m/b")]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(found(&out).0, expected());
    // Pull direction: the daemon's SRC, local DST.
    let out = check(&[&d.url("/m/a"), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(found(&out).0, expected());
    // Over ssh.
    let sshd = Sshd::start();
    let mut far = OsString::from("127.0.0.1:");
    far.push(&b);
    let mut args = vec![a.as_os_str(), &far];
    let extra = sshd.args();
    args.extend(extra.iter().map(OsString::as_os_str));
    let out = check(&args);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(found(&out).0, expected());
    assert!(b.join("diff").exists() && !b.join("sub/missing").exists(), "nothing was copied");
}
