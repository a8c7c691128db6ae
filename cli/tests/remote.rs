//! End-to-end push and pull: the real `blit` binary against a real blitd
//! serving on 127.0.0.1:0 in this process.

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::time::Duration;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn push_and_pull_round_trip_an_awkward_tree() {
    let t = tempfile::tempdir().unwrap();
    let (src, module, back) = (t.path().join("src"), t.path().join("module"), t.path().join("back"));
    awkward_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let d = Daemon::modules(&[("m", &module, false)]);
    let s = summary(&blit_ok(&[os("copy"), os("--json"), &slash(&src), &d.url("/m/tree/")]));
    assert_eq!(s["direction"], "push", "{s}");
    assert_same(&snapshot(&src), &snapshot(&module.join("tree")));
    let s = summary(&blit_ok(&[os("copy"), os("--json"), &slash(&src), &d.url("/m/tree/")]));
    assert_eq!(s["entries_transferred"], 0, "a second push transfers nothing: {s}");
    let s = summary(&blit_ok(&[os("copy"), os("--json"), &d.url("/m/tree/"), back.as_os_str()]));
    assert_eq!(s["direction"], "pull", "{s}");
    assert_same(&snapshot(&src), &snapshot(&back));
    // Without a trailing slash the remote directory keeps its name.
    blit_ok(&[os("copy"), &d.url("/m/tree"), t.path().join("named").as_os_str()]);
    assert_same(&snapshot(&src), &snapshot(&t.path().join("named/tree")));
    // A single remote file to a new path.
    blit_ok(&[os("copy"), &d.url("/m/tree/one"), t.path().join("one-copy").as_os_str()]);
    assert_eq!(std::fs::read(t.path().join("one-copy")).unwrap(), b"x");
}

#[test]
fn mirror_both_ways_and_listing() {
    let t = tempfile::tempdir().unwrap();
    let (src, module, back) = (t.path().join("src"), t.path().join("module"), t.path().join("back"));
    write(&src.join("keep"), b"keep", 0o644, 1_000, 0);
    write(&module.join("t/stale"), b"old", 0o644, 1_000, 0);
    write(&back.join("stale-local"), b"old", 0o644, 1_000, 0);
    let d = Daemon::modules(&[("m", &module, false)]);
    blit_ok(&[os("mirror"), &slash(&src), &d.url("/m/t/")]);
    assert!(!module.join("t/stale").exists(), "push mirror deletes on the daemon");
    blit_ok(&[os("mirror"), &d.url("/m/t/"), &slash(&back)]);
    assert!(!back.join("stale-local").exists(), "pull mirror deletes locally");
    assert_eq!(std::fs::read(back.join("keep")).unwrap(), b"keep");
    let out = blit_ok(&[os("ls"), &d.url("/m/t")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("keep") && text.starts_with("-rw-r--r--"), "{text}");
    let out = blit_ok(&[os("modules"), os(&format!("127.0.0.1:{}", d.port))]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("m "), "{out:?}");
}

#[test]
fn remote_errors_are_clear_and_fatal() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    write(&src.join("f"), b"f", 0o644, 1_000, 0);
    std::fs::create_dir(&module).unwrap();
    let d = Daemon::modules(&[("ro", &module, true)]);
    let out = blit(&[os("copy"), &slash(&src), &d.url("/ro/x/")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"), "{out:?}");
    assert_eq!(std::fs::read_dir(&module).unwrap().count(), 0, "nothing written to a read-only module");
    let out = blit(&[os("copy"), &slash(&src), &d.url("/nope/x/")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.contains("ro"), "names the module and the ones available: {err}");
    // Nothing listens on the port of a stopped daemon.
    let port = d.port;
    drop(d);
    let started = std::time::Instant::now();
    let out = blit(&[os("copy"), &slash(&src), os(&format!("127.0.0.1:{port}:/ro/x/"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(6), "gives up within 5 s");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")) && err.contains("blitd"), "{err}");
}

#[test]
fn ls_sorts_recurses_and_names_a_single_file() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("module");
    for (path, body) in [("b", "2"), ("a", "1"), ("d/z", "3"), ("d/e/f", "4"), ("c/x", "5")] {
        write(&module.join("t").join(path), body.as_bytes(), 0o644, 1_000, 0);
    }
    let d = Daemon::modules(&[("m", &module, false)]);
    let names = |args: &[&OsStr]| -> Vec<String> {
        let out = blit_ok(args);
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.rsplit(' ').next().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&[os("ls"), &d.url("/m/t")]), ["a", "b", "c", "d"], "sorted by name");
    assert_eq!(names(&[os("ls"), os("-l"), &d.url("/m/t/")]), ["a", "b", "c", "d"], "-l is the long form");
    assert_eq!(
        names(&[os("ls"), os("-R"), &d.url("/m/t")]),
        ["a", "b", "c", "c/x", "d", "d/e", "d/e/f", "d/z"],
        "depth first, each entry by its path below the listed directory"
    );
    assert_eq!(names(&[os("ls"), &d.url("/m/t/d/e/f")]), ["f"], "a file by its own name");
    let out = blit_ok(&[os("ls"), os("-R"), os("--json"), &d.url("/m/t/d")]);
    let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["e", "e/f", "z"]);
}
