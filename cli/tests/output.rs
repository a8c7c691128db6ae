//! Output habits of the real `blit` binary: `-q` prints nothing but errors,
//! `NO_COLOR` and `--color never` leave no ANSI escapes anywhere, and
//! `--color always` does colour (so the checks above can fail).

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::process::{Command, Output};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// blit with `env` set (and NO_COLOR unset unless `env` sets it).
fn blit_env(args: &[&OsStr], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blit"));
    cmd.args(args).env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the blit binary runs")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn quiet_prints_nothing_on_success_and_still_reports_errors() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write(&src.join("a"), b"data", 0o644, 1_000, 0);
    write(&src.join("d/b"), b"more", 0o644, 1_000, 0);
    // -p and -v would print; -q wins.
    let loud = blit(&[os("copy"), os("-v"), &slash(&src), t.path().join("loud").as_os_str()]);
    assert!(!loud.stdout.is_empty(), "without -q, -v lists the entries");
    let out = blit(&[os("copy"), os("-q"), os("-p"), os("-v"), &slash(&src), t.path().join("dst").as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "quiet success prints nothing: {}", text(&out));
    assert_same(&snapshot(&src), &snapshot(&t.path().join("dst")));
    // A fatal error still prints, with what to do, and exits 1.
    let missing = t.path().join("missing");
    let out = blit(&[os("copy"), os("--quiet"), missing.as_os_str(), t.path().join("x").as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("blit: error:") && err.contains("missing"), "{err}");
    assert!(out.stdout.is_empty());
    // A remote that refuses: the same.
    let out = blit(&[os("copy"), os("-q"), &slash(&src), os("127.0.0.1:1:/m/")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("blit: error:"), "{}", text(&out));
}

#[test]
fn data_plane_flags_a_local_copy_cannot_use_are_named_once() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write(&src.join("a"), b"data", 0o644, 1_000, 0);
    let out = blit(&[
        os("copy"),
        os("--streams"),
        os("4"),
        os("--compress"),
        os("zstd"),
        &slash(&src),
        t.path().join("dst").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let warned: Vec<_> = err.lines().filter(|l| l.starts_with("blit: warning:")).collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(warned[0].contains("--streams and --compress are ignored: a local copy"), "{err}");
    assert_same(&snapshot(&src), &snapshot(&t.path().join("dst")));
    let plain = blit(&[os("copy"), &slash(&src), t.path().join("dst2").as_os_str()]);
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("warning"), "{}", text(&plain));
}

#[test]
fn no_color_leaves_no_escapes_and_color_always_colours() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    write(&src.join("a"), b"data", 0o644, 1_000, 0);
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = Daemon::serve(config);
    // Debug logs, progress, a listing and a failure: everything blit prints.
    let push = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args: Vec<&OsStr> = vec![os("copy"), os("-p"), os("-v")];
        args.extend(extra.iter().map(|s| os(s)));
        let remote = d.url("/m/");
        let src = slash(&src);
        args.push(&src);
        args.push(&remote);
        blit_env(&args, env)
    };
    let coloured = push(&["--color", "always"], &[("BLIT_LOG", "debug"), ("NO_COLOR", "1")]);
    assert!(coloured.status.success(), "{}", text(&coloured));
    assert!(text(&coloured).contains('\x1b'), "--color always colours the log lines even under NO_COLOR");
    for (extra, env) in [
        (&[][..], &[("BLIT_LOG", "debug"), ("NO_COLOR", "1")][..]),
        (&["--color", "never"][..], &[("BLIT_LOG", "debug")][..]),
        // Not a terminal: auto means no colour.
        (&[][..], &[("BLIT_LOG", "debug")][..]),
    ] {
        let out = push(extra, env);
        assert!(out.status.success(), "{}", text(&out));
        let all = text(&out);
        assert!(all.contains("DEBUG"), "the run logged something: {all}");
        assert!(!all.contains('\x1b'), "{extra:?} {env:?}: no ANSI escapes: {all:?}");
    }
    // Usage errors and failures too.
    let out = blit_env(&[os("copy"), os("--no-such-flag")], &[("NO_COLOR", "1")]);
    assert_eq!(out.status.code(), Some(64), "a usage error");
    assert!(!text(&out).contains('\x1b'), "{:?}", text(&out));
    let out = blit_env(&[os("ls"), &d.url("/nope/")], &[("NO_COLOR", "1"), ("BLIT_LOG", "debug")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out).contains('\x1b'), "{:?}", text(&out));
}

#[test]
fn names_with_control_characters_print_escaped_on_one_line() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let evil = OsStr::from_bytes(b"evil\x1b[2J\nname");
    write(&src.join(evil), b"data", 0o644, 1_000, 0);
    let out = blit(&[os("copy"), os("-v"), &slash(&src), t.path().join("dst").as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains('\x1b'), "no raw escape reaches the terminal: {stdout:?}");
    assert!(stdout.lines().any(|l| l == "evil\\x1b[2J\\nname"), "one escaped line per entry: {stdout:?}");
    // The file itself keeps its real name.
    assert_eq!(std::fs::read(t.path().join("dst").join(evil)).unwrap(), b"data");
}
