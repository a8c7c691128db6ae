//! `blit move`: sources go once their entries are in place at the
//! destination, locally, with a daemon both ways and over ssh; an entry
//! that failed stays.

mod common;

use common::daemon::Daemon;
use common::sshd::Sshd;
use common::*;
use std::ffi::{OsStr, OsString};
use std::path::Path;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A source tree, and its snapshot.
fn tree(root: &Path) -> Snapshot {
    write(&root.join("a"), b"alpha", 0o644, 1_000, 0);
    write(&root.join("sub/b"), b"beta", 0o600, 2_000, 5);
    write(&root.join("sub/deep/c"), b"gamma", 0o644, 3_000, 0);
    std::os::unix::fs::symlink("a", root.join("link")).unwrap();
    std::fs::create_dir(root.join("empty")).unwrap();
    snapshot(root)
}

fn moved(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_local_move_removes_the_source_once_everything_is_in_place() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let before = tree(&src);
    // One file is already equal at the destination: it goes from the source too.
    write(&dst.join("src/a"), b"alpha", 0o644, 1_000, 0);
    let out = blit_ok(&[os("move"), src.as_os_str(), &slash(&dst)]);
    assert!(moved(&out).contains("removed 8 source entries"), "{}", moved(&out));
    assert!(!src.exists(), "the source directory itself goes without a trailing slash");
    assert_same(&before, &snapshot(&dst.join("src")));
    // With a trailing slash the directory stays, empty.
    let src2 = t.path().join("src2");
    let before = tree(&src2);
    blit_ok(&[os("move"), &slash(&src2), &slash(&t.path().join("dst2"))]);
    assert!(src2.is_dir() && std::fs::read_dir(&src2).unwrap().next().is_none(), "contents moved, directory kept");
    assert_same(&before, &snapshot(&t.path().join("dst2")));
    // A symlink named without `/` moves as the link; what it points to stays.
    let real = t.path().join("real");
    let kept = tree(&real);
    std::os::unix::fs::symlink(&real, t.path().join("alias")).unwrap();
    blit_ok(&[os("move"), t.path().join("alias").as_os_str(), &slash(&t.path().join("dst3"))]);
    assert!(std::fs::symlink_metadata(t.path().join("dst3/alias")).unwrap().file_type().is_symlink());
    assert!(std::fs::symlink_metadata(t.path().join("alias")).is_err(), "the link left the source");
    assert_eq!(snapshot(&real), kept, "the directory it points to is untouched");
}

#[test]
fn an_entry_that_fails_stays_in_the_source_and_the_exit_code_says_so() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    tree(&src);
    // A directory where the file `a` must go: `a` fails, the rest moves.
    std::fs::create_dir_all(dst.join("a/blocker")).unwrap();
    let out = blit(&[os("move"), &slash(&src), &slash(&dst)]);
    assert_eq!(out.status.code(), Some(2), "{}", moved(&out));
    assert_eq!(std::fs::read(src.join("a")).unwrap(), b"alpha", "the failed file stays");
    assert!(!src.join("sub/b").exists() && !src.join("link").exists(), "what landed is gone");
    assert!(src.join("sub").is_dir(), "directories stay when something failed");
}

#[test]
fn push_pull_and_ssh_moves_remove_on_the_side_that_holds_the_source() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("module");
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    config.add_module_spec(&format!("ro={}:ro", module.display())).unwrap();
    let d = Daemon::serve(config);
    // Push: the local source goes.
    let src = t.path().join("src");
    let before = tree(&src);
    blit_ok(&[os("move"), &slash(&src), &d.url("/m/pushed/")]);
    assert_same(&before, &snapshot(&module.join("pushed")));
    assert!(std::fs::read_dir(&src).unwrap().next().is_none(), "pushed entries left the source");
    // Pull from a read-only module: the copy lands, nothing is removed there.
    let out = blit(&[os("move"), &d.url("/ro/pushed/"), &slash(&t.path().join("from-ro"))]);
    assert_eq!(out.status.code(), Some(2), "{}", moved(&out));
    assert!(moved(&out).contains("read-only"), "{}", moved(&out));
    assert_same(&before, &snapshot(&module.join("pushed")));
    // Pull: the daemon's entries go, the directory named without `/` too.
    blit_ok(&[os("move"), &d.url("/m/pushed"), &slash(&t.path().join("pulled"))]);
    assert_same(&before, &snapshot(&t.path().join("pulled/pushed")));
    assert!(!module.join("pushed").exists(), "the daemon's source is gone");
    // Over ssh, pulling.
    let sshd = Sshd::start();
    let far = t.path().join("far");
    let before = tree(&far);
    let mut from = OsString::from("127.0.0.1:");
    from.push(&far);
    // Counts the ssh connections: the listing, the transfer and the
    // removals share one.
    let count = t.path().join("ssh-count");
    let rsh = format!("sh -c 'echo >> {}; exec \"$@\"' rsh {}", count.display(), sshd.rsh());
    let blit_path = env!("CARGO_BIN_EXE_blit");
    let args: Vec<OsString> = vec![
        "move".into(),
        from,
        slash(&t.path().join("by-ssh")),
        "-e".into(),
        rsh.into(),
        "--blit-path".into(),
        blit_path.into(),
    ];
    let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    blit_ok(&refs);
    assert_same(&before, &snapshot(&t.path().join("by-ssh/far")));
    assert!(!far.exists(), "the far side's source is gone");
    assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 1, "one ssh connection");
}
