//! End-to-end filters: the real `blit` binary with --exclude, --include,
//! --*-from, --min/max-size and --delete-excluded, locally and against a
//! blitd serving on 127.0.0.1:0 in this process (push and pull).

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::{OsStr, OsString};
use std::path::Path;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// keep.txt a.log src/main.rs src/notes.txt src/deep/lib.rs
/// build/out.rs cache/blob(5000 B) empty(0 B)
fn tree(root: &Path) {
    write(&root.join("keep.txt"), b"keep", 0o644, 1_000, 0);
    write(&root.join("a.log"), b"log", 0o644, 1_000, 0);
    write(&root.join("src/main.rs"), b"fn main() {}", 0o644, 1_000, 0);
    write(&root.join("src/notes.txt"), b"notes", 0o644, 1_000, 0);
    write(&root.join("src/deep/lib.rs"), b"pub fn f() {}", 0o644, 1_000, 0);
    write(&root.join("build/out.rs"), b"generated", 0o644, 1_000, 0);
    write(&root.join("cache/blob"), &[9; 5000], 0o644, 1_000, 0);
    write(&root.join("empty"), b"", 0o644, 1_000, 0);
}

/// Every path below `root`, sorted, directories included.
fn paths(root: &Path) -> Vec<String> {
    snapshot(root).keys().filter(|p| !p.is_empty()).map(|p| String::from_utf8_lossy(p).into_owned()).collect()
}

fn args<'a>(list: &'a [&'a str]) -> Vec<&'a OsStr> {
    list.iter().map(|s| os(s)).collect()
}

fn run(cmd: &str, flags: &[&str], src: impl AsRef<OsStr>, dst: impl AsRef<OsStr>) -> std::process::Output {
    let mut all = vec![os(cmd), os("-v")];
    all.extend(args(flags));
    all.push(src.as_ref());
    all.push(dst.as_ref());
    blit_ok(&all)
}

#[test]
fn include_before_a_catch_all_exclude_copies_matching_files_at_any_depth() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    tree(&src);
    let out = run("copy", &["--include", "*.rs", "--exclude", "build/", "--exclude", "*"], slash(&src), &dst);
    assert_eq!(paths(&dst), ["cache", "src", "src/deep", "src/deep/lib.rs", "src/main.rs"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(!listed.contains("keep.txt") && !listed.contains("build"), "excluded entries are not reported: {listed}");
    // The order given matters: the catch-all first excludes everything.
    let other = t.path().join("other");
    run("copy", &["--exclude", "*", "--include", "*.rs"], slash(&src), &other);
    assert_eq!(paths(&other), Vec::<String>::new());
}

#[test]
fn pattern_files_list_files_and_sizes() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    tree(&src);
    let pats = t.path().join("pats");
    std::fs::write(&pats, "# logs and caches\n*.log\n\ncache/\n").unwrap();
    run("copy", &["--exclude-from", pats.to_str().unwrap(), "--min-size", "1"], slash(&src), &dst);
    assert_eq!(
        paths(&dst),
        ["build", "build/out.rs", "keep.txt", "src", "src/deep", "src/deep/lib.rs", "src/main.rs", "src/notes.txt"]
    );
    let list = t.path().join("list");
    std::fs::write(&list, "src/deep/lib.rs\n./keep.txt\ncache\n").unwrap();
    let listed = t.path().join("listed");
    run("copy", &["--files-from", list.to_str().unwrap(), "--max-size", "4K"], slash(&src), &listed);
    assert_eq!(paths(&listed), ["cache", "keep.txt", "src", "src/deep", "src/deep/lib.rs"]);
}

#[test]
fn local_mirror_keeps_excluded_entries_unless_delete_excluded() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    tree(&src);
    run("copy", &[], slash(&src), &dst);
    write(&dst.join("extra.txt"), b"x", 0o644, 1_000, 0);
    write(&dst.join("src/old.log"), b"x", 0o644, 1_000, 0);
    run("mirror", &["--exclude", "*.log", "--exclude", "cache/"], slash(&src), &dst);
    assert!(!dst.join("extra.txt").exists(), "an extraneous entry the filter selects is deleted");
    for kept in ["a.log", "src/old.log", "cache/blob"] {
        assert!(dst.join(kept).exists(), "{kept} is excluded, so mirror keeps it");
    }
    run("mirror", &["--exclude", "*.log", "--exclude", "cache/", "--delete-excluded"], slash(&src), &dst);
    for gone in ["a.log", "src/old.log", "cache"] {
        assert!(!dst.join(gone).exists(), "--delete-excluded deletes {gone}");
    }
    assert!(dst.join("keep.txt").exists());
}

fn daemon(module: &Path) -> Daemon {
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    Daemon::serve(config)
}

#[test]
fn pull_applies_the_filters_in_the_daemons_walk() {
    let t = tempfile::tempdir().unwrap();
    let (module, back) = (t.path().join("module"), t.path().join("back"));
    tree(&module.join("tree"));
    let d = daemon(&module);
    let list = t.path().join("list");
    std::fs::write(&list, "src\ncache/blob\n").unwrap();
    let flags = ["--files-from", list.to_str().unwrap(), "--exclude", "notes.*", "--max-size", "1K"];
    let out = run("copy", &flags, d.url("/m/tree/"), &back);
    assert_eq!(paths(&back), ["cache", "src", "src/deep", "src/deep/lib.rs", "src/main.rs"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("notes"));
    // Mirror pull: the local extraneous excluded file stays, the other goes.
    write(&back.join("mine.log"), b"x", 0o644, 1_000, 0);
    write(&back.join("stray"), b"x", 0o644, 1_000, 0);
    run("mirror", &["--exclude", "*.log", "--exclude", "/build"], d.url("/m/tree/"), &back);
    assert!(back.join("mine.log").exists() && !back.join("stray").exists());
    assert!(back.join("keep.txt").exists() && !back.join("build").exists() && !back.join("a.log").exists());
}

#[test]
fn push_mirror_keeps_excluded_entries_on_the_daemon_unless_delete_excluded() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    tree(&src);
    std::fs::create_dir(&module).unwrap();
    let d = daemon(&module);
    let dest: OsString = d.url("/m/t/");
    run("copy", &["--exclude", "cache/"], slash(&src), &dest);
    assert!(!module.join("t/cache").exists(), "push leaves the excluded directory out");
    write(&module.join("t/theirs.log"), b"x", 0o644, 1_000, 0);
    write(&module.join("t/stray"), b"x", 0o644, 1_000, 0);
    run("mirror", &["--exclude", "*.log"], slash(&src), &dest);
    assert!(module.join("t/theirs.log").exists() && !module.join("t/stray").exists());
    assert!(module.join("t/a.log").exists(), "the copy before sent a.log; the mirror keeps it");
    run("mirror", &["--exclude", "*.log", "--delete-excluded"], slash(&src), &dest);
    assert!(!module.join("t/theirs.log").exists() && !module.join("t/a.log").exists());
    assert!(module.join("t/cache/blob").exists(), "cache is no longer excluded, so it was sent");
}

#[test]
fn bad_filters_fail_before_anything_moves_with_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    tree(&src);
    let cases: [(&[&str], &str); 4] = [
        (&["copy", "--exclude", "src/[a"], "`src/[a`"),
        (&["copy", "--files-from", "/nonexistent/list"], "/nonexistent/list"),
        (&["copy", "--delete-excluded"], "--delete-excluded"),
        (&["mirror", "--min-size", "2K", "--max-size", "1K"], "--min-size"),
    ];
    for (flags, named) in cases {
        let mut all = args(flags);
        let s = slash(&src);
        all.extend([s.as_os_str(), dst.as_os_str()]);
        let out = blit(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
        assert!(stderr.contains(named), "{flags:?}: the error names {named}: {stderr}");
        assert!(!dst.exists(), "{flags:?}: nothing was created");
    }
}
