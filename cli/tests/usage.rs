//! Usage errors have their own exit code (64), never the partial-failure
//! code (2), and a command typed as for rsync gets the blit form.

mod common;

use common::blit;
use std::ffi::OsStr;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn usage_errors_exit_64_and_do_nothing() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("a"), b"x").unwrap();
    let dst = t.path().join("dst");
    let src = t.path().join("a");
    let unknown = blit(&[OsStr::new("copy"), OsStr::new("--bogus"), src.as_os_str(), dst.as_os_str()]);
    assert_eq!(unknown.status.code(), Some(64), "{}", stderr(&unknown));
    assert!(stderr(&unknown).contains("--bogus"), "{}", stderr(&unknown));
    let missing = blit(&[OsStr::new("copy"), src.as_os_str()]);
    assert_eq!(missing.status.code(), Some(64), "{}", stderr(&missing));
    let bare = blit(&[]);
    assert_eq!(bare.status.code(), Some(64), "no command at all");
    assert!(!dst.exists(), "nothing was copied");
}

#[test]
fn a_command_without_a_verb_suggests_copy() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("src")).unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    let out = blit(&[src.as_os_str(), dst.as_os_str()]);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    let want = format!("`blit copy {} {}`", src.display(), dst.display());
    assert!(err.contains(&want), "{err}");
    assert!(!dst.exists());
}

#[test]
fn help_and_version_exit_0() {
    for flag in ["--help", "-h", "--version", "-V"] {
        let out = blit(&[OsStr::new(flag)]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(!out.stdout.is_empty(), "{flag} prints to stdout");
    }
    let out = blit(&[OsStr::new("copy"), OsStr::new("--help")]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.split_whitespace().collect::<Vec<_>>().join(" ").contains("64 the command line was wrong"), "{help}");
}

#[test]
fn an_ssh_style_destination_goes_over_ssh_and_never_becomes_a_local_directory() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("src")).unwrap();
    std::fs::write(t.path().join("src/f"), b"x").unwrap();
    // A stand-in for ssh that notes what it was asked to run and fails as
    // ssh does when it cannot connect.
    let log = t.path().join("rsh.log");
    let rsh = format!("sh -c 'echo \"$@\" >> {}; echo no route to host >&2; exit 255' rsh", log.display());
    for (dst, login, far) in [
        ("server:backup/", "server", "--root ."),
        ("user@host:path", "user@host", "--root ."),
        ("user@host:/srv/x", "user@host", "--root /srv"),
        ("ssh://host:2222/x", "-p 2222 host", "--root /"),
    ] {
        std::fs::remove_file(&log).ok();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_blit"))
            .current_dir(t.path())
            .args(["copy", "src/", dst, "-e", &rsh])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{dst}: {err}");
        assert!(err.contains("no route to host") && err.contains("::MODULE/path"), "{dst}: {err}");
        let ran = std::fs::read_to_string(&log).unwrap();
        assert_eq!(ran.trim(), format!("{login} blit server {far}"), "{dst}");
        let mut left: Vec<_> = std::fs::read_dir(t.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, ["rsh.log", "src"], "{dst}: nothing created locally");
    }
    // `./` keeps a colon name local.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_blit"))
        .current_dir(t.path())
        .args(["copy", "src/", "./server:backup/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(t.path().join("server:backup/f")).unwrap(), b"x");
}
