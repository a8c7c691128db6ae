//! Transfers over ssh with no daemon: the real `blit` binary against a real
//! OpenSSH server on loopback (started per test, see `common::sshd`), which
//! runs the same binary as `blit server` on the far side.

mod common;

use common::sshd::Sshd;
use common::*;
use std::ffi::{OsStr, OsString};
use std::path::Path;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// `127.0.0.1:PATH`, the ssh form of a local path.
fn at(path: &Path) -> OsString {
    let mut s = OsString::from("127.0.0.1:");
    s.push(path);
    s
}

/// `at(path)` with a trailing `/`.
fn at_slash(path: &Path) -> OsString {
    let mut s = at(path);
    s.push("/");
    s
}

/// Runs blit with `args` then the ssh arguments of `sshd`.
fn over(sshd: &Sshd, args: &[&OsStr]) -> std::process::Output {
    let mut all: Vec<OsString> = args.iter().map(|a| a.to_os_string()).collect();
    all.extend(sshd.args());
    let refs: Vec<&OsStr> = all.iter().map(OsString::as_os_str).collect();
    blit(&refs)
}

fn ok(sshd: &Sshd, args: &[&OsStr]) -> std::process::Output {
    let out = over(sshd, args);
    assert!(
        out.status.success(),
        "blit {args:?} failed: {:?}\nstderr: {}\nsshd: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        sshd.log()
    );
    out
}

#[test]
fn push_pull_and_mirror_over_ssh_give_the_same_tree_and_summary() {
    let sshd = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let (src, far, back) = (t.path().join("src"), t.path().join("far"), t.path().join("back"));
    awkward_tree(&src);
    std::fs::create_dir(&far).unwrap();
    let s = summary(&ok(&sshd, &[os("copy"), os("--json"), &slash(&src), &at_slash(&far.join("tree"))]));
    assert_eq!(s["direction"], "push", "{s}");
    assert!(s["entries_transferred"].as_u64().unwrap() > 5, "{s}");
    assert_same(&snapshot(&src), &snapshot(&far.join("tree")));
    let s = summary(&ok(&sshd, &[os("copy"), os("--json"), &slash(&src), &at_slash(&far.join("tree"))]));
    assert_eq!(s["entries_transferred"], 0, "a second push transfers nothing: {s}");
    // Pull without a trailing slash: the directory keeps its name.
    let s = summary(&ok(&sshd, &[os("copy"), os("--json"), &at(&far.join("tree")), back.as_os_str()]));
    assert_eq!(s["direction"], "pull", "{s}");
    assert_same(&snapshot(&src), &snapshot(&back.join("tree")));
    // Mirror deletes on the far side, and only what the source lacks.
    write(&far.join("tree/stale"), b"old", 0o644, 1_000, 0);
    ok(&sshd, &[os("mirror"), &slash(&src), &at_slash(&far.join("tree"))]);
    assert!(!far.join("tree/stale").exists(), "push mirror deletes over ssh");
    assert_same(&snapshot(&src), &snapshot(&far.join("tree")));
    // A single file, to a new name.
    ok(&sshd, &[os("copy"), &at(&far.join("tree/one")), t.path().join("one-copy").as_os_str()]);
    assert_eq!(std::fs::read(t.path().join("one-copy")).unwrap(), b"x");
}

#[test]
fn listing_and_filters_over_ssh() {
    let sshd = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let (src, far) = (t.path().join("src"), t.path().join("far"));
    write(&src.join("keep.txt"), b"keep", 0o644, 1_000, 0);
    write(&src.join("skip.log"), b"skip", 0o644, 1_000, 0);
    write(&src.join("sub/deep.txt"), b"deep", 0o644, 1_000, 0);
    std::fs::create_dir(&far).unwrap();
    ok(&sshd, &[os("copy"), os("--exclude"), os("*.log"), &slash(&src), &at_slash(&far)]);
    assert!(far.join("keep.txt").exists() && far.join("sub/deep.txt").exists());
    assert!(!far.join("skip.log").exists(), "--exclude applies over ssh");
    let out = ok(&sshd, &[os("ls"), os("-R"), &at(&far)]);
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().last()).collect();
    assert_eq!(names, ["keep.txt", "sub", "sub/deep.txt"], "{text}");
    // The admin verbs go the same way.
    let out = ok(&sshd, &[os("du"), os("--json"), os("-s"), &at(&far)]);
    let du: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(du["bytes"], 8, "keep.txt and sub/deep.txt: {du}");
    let out = ok(&sshd, &[os("df"), os("--json"), &at(&far)]);
    let df: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert!(df["total_bytes"].as_u64().unwrap() > 0, "{df}");
    ok(&sshd, &[os("rm"), os("-y"), &at(&far.join("sub"))]);
    assert!(!far.join("sub").exists() && far.join("keep.txt").exists(), "rm over ssh removes only what it names");
}

#[test]
fn a_missing_far_side_program_or_directory_is_named_with_what_to_do() {
    let sshd = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write(&src.join("a"), b"a", 0o644, 1_000, 0);
    // No blit at the named path: ssh's shell says 127.
    let out = blit(&[
        os("copy"),
        &slash(&src),
        &at_slash(&t.path().join("far")),
        os("-e"),
        os(&sshd.rsh()),
        os("--blit-path"),
        os("/nonexistent/blit"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("127.0.0.1") && err.contains("--blit-path"), "{err}");
    // The directory above the remote path does not exist.
    let out = over(&sshd, &[os("copy"), &slash(&src), &at_slash(&t.path().join("nope/far"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nope") && err.contains("exists on the far side"), "{err}");
    assert!(!t.path().join("nope").exists(), "nothing was created");
    // ssh that cannot connect: a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let rsh = sshd.rsh().replace(&format!("-p {}", sshd.port), &format!("-p {closed}"));
    let out = blit(&[os("copy"), &slash(&src), &at_slash(&t.path().join("far")), os("-e"), os(&rsh)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ssh could not connect") && err.contains("::MODULE"), "{err}");
    // The TCP data plane needs a daemon.
    let out = over(&sshd, &[os("copy"), os("--transport"), os("tcp"), &slash(&src), &at_slash(&t.path().join("far"))]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--transport tcp needs a blitd daemon"), "{err}");
}

#[test]
fn the_ssh_command_comes_from_blit_rsh_and_paths_may_be_home_relative() {
    let sshd = Sshd::start();
    let t = tempfile::tempdir().unwrap();
    let (src, far) = (t.path().join("src"), t.path().join("far"));
    write(&src.join("a"), b"a", 0o644, 1_000, 0);
    std::fs::create_dir(&far).unwrap();
    // A relative path is relative to where the far side starts; `cd` in
    // --blit-path stands in for a home directory here.
    let blit_path = format!("cd {} && {}", far.display(), env!("CARGO_BIN_EXE_blit"));
    let out = blit_with_env(
        &[os("copy"), &slash(&src), os("127.0.0.1:inbox/"), os("--blit-path"), os(&blit_path)],
        &[("BLIT_RSH", &sshd.rsh())],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(far.join("inbox/a")).unwrap(), b"a");
}

#[test]
fn a_far_side_blit_without_server_mode_is_told_apart() {
    let t = tempfile::tempdir().unwrap();
    // An older blit: a usage error, whose last line is only advice.
    let old = t.path().join("old-blit");
    std::fs::write(
        &old,
        "#!/bin/sh\necho \"error: unrecognized subcommand 'server'\" >&2\necho >&2\necho \"For more information, try '--help'.\" >&2\nexit 64\n",
    )
    .unwrap();
    std::fs::set_permissions(&old, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // A stand-in for ssh that runs the far side's command here.
    let rsh = "sh -c 'shift; exec sh -c \"$1\"' rsh";
    let out = blit(&[os("ls"), &at(t.path()), os("-e"), os(rsh), os("--blit-path"), old.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unrecognized subcommand 'server'") && err.contains("install this release"), "{err}");
    // The same stand-in with this blit works: any command that runs the
    // far side's line will do.
    let blit_path = env!("CARGO_BIN_EXE_blit");
    std::fs::write(t.path().join("here"), b"x").unwrap();
    let out = blit(&[os("ls"), &at(t.path()), os("-e"), os(rsh), os("--blit-path"), os(blit_path)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("here"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn what_the_far_side_says_is_bounded() {
    let t = tempfile::tempdir().unwrap();
    // A far side that writes 8 MiB on one line, then fails.
    let loud = t.path().join("loud");
    std::fs::write(&loud, "#!/bin/sh\nhead -c 8388608 /dev/zero | tr '\\0' x >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&loud, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let rsh = "sh -c 'shift; exec sh -c \"$1\"' rsh";
    let out = blit(&[os("ls"), &at(t.path()), os("-e"), os(rsh), os("--blit-path"), loud.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", &err[..err.len().min(300)]);
    assert!(err.contains("xxxx") && err.len() < 2048, "kept to a bounded line: {} bytes", err.len());
}
