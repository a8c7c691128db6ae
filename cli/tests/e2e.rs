//! End-to-end: the real `blit` binary on real temporary trees.

mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[test]
fn copy_preserves_an_awkward_tree() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    awkward_tree(&src);
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    assert_same(&snapshot(&src), &snapshot(&dst));
}

#[test]
fn second_run_transfers_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    awkward_tree(&src);
    let first = summary(&blit_ok(&[os("copy"), os("--json"), &slash(&src), dst.as_os_str()]));
    assert!(first["entries_transferred"].as_u64().unwrap() > 10, "{first}");
    let second = summary(&blit_ok(&[os("copy"), os("--json"), &slash(&src), dst.as_os_str()]));
    assert_eq!(second["entries_transferred"], 0, "{second}");
    assert_eq!(second["bytes_transferred"], 0, "{second}");
    assert_eq!(second["entries_scanned"], first["entries_scanned"]);
    assert_same(&snapshot(&src), &snapshot(&dst));
}

#[test]
fn updates_changed_files_by_size_mtime_and_checksum() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    write(&src.join("size"), b"aaaa", 0o644, 1_000, 0);
    write(&src.join("mtime"), b"bbbb", 0o644, 1_000, 0);
    write(&src.join("sneaky"), b"cccc", 0o644, 1_000, 0);
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    write(&src.join("size"), b"aaaaa", 0o644, 1_000, 0);
    write(&src.join("mtime"), b"BBBB", 0o644, 2_000, 0);
    // Same size and mtime, different content: only --checksum sees it.
    write(&src.join("sneaky"), b"CCCC", 0o644, 1_000, 0);
    let s = summary(&blit_ok(&[os("copy"), os("--json"), &slash(&src), dst.as_os_str()]));
    assert_eq!(s["entries_transferred"], 2, "{s}");
    assert_eq!(std::fs::read(dst.join("sneaky")).unwrap(), b"cccc");
    let s = summary(&blit_ok(&[os("copy"), os("--json"), os("-c"), &slash(&src), dst.as_os_str()]));
    assert_eq!(s["entries_transferred"], 1, "{s}");
    assert_same(&snapshot(&src), &snapshot(&dst));
}

#[test]
fn dry_run_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    awkward_tree(&src);
    let out = blit_ok(&[os("copy"), os("-n"), os("-v"), &slash(&src), dst.as_os_str()]);
    assert!(!dst.exists(), "dry run created the destination");
    assert!(String::from_utf8_lossy(&out.stdout).contains("big.bin"), "dry run lists what it would copy");
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    write(&src.join("one"), b"changed", 0o600, 5, 5);
    std::fs::remove_file(src.join("empty")).unwrap();
    let before = snapshot(&dst);
    let s = summary(&blit_ok(&[os("mirror"), os("-n"), os("--json"), &slash(&src), dst.as_os_str()]));
    assert_eq!(s["dry_run"], true);
    assert_eq!(s["entries_transferred"], 1, "{s}");
    assert_eq!(s["deleted"], 1, "{s}");
    assert_eq!(snapshot(&dst), before, "dry run changed the destination");
}

#[test]
fn mirror_deletes_files_dirs_and_symlinks_copy_keeps_them() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    write(&src.join("keep"), b"k", 0o644, 1_000, 0);
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    write(&dst.join("extra-file"), b"x", 0o644, 1_000, 0);
    write(&dst.join("extra-dir/sub/f"), b"x", 0o644, 1_000, 0);
    std::os::unix::fs::symlink("keep", dst.join("extra-link")).unwrap();
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    assert!(dst.join("extra-file").exists() && dst.join("extra-dir/sub/f").exists());
    let out = blit_ok(&[os("mirror"), os("-v"), &slash(&src), dst.as_os_str()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleting extra-dir/"), "{out:?}");
    assert!(std::fs::symlink_metadata(dst.join("extra-link")).is_err());
    assert_same(&snapshot(&src), &snapshot(&dst));
    // `copy --delete` is the same as mirror.
    write(&dst.join("again"), b"x", 0o644, 1_000, 0);
    blit_ok(&[os("copy"), os("--delete"), &slash(&src), dst.as_os_str()]);
    assert!(!dst.join("again").exists());
}

#[test]
fn trailing_slash_copies_directory_or_contents() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("photos");
    write(&src.join("a.jpg"), b"jpg", 0o644, 1_000, 0);
    let dst = t.path().join("backup");
    blit_ok(&[os("copy"), src.as_os_str(), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("photos/a.jpg")).unwrap(), b"jpg");
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("a.jpg")).unwrap(), b"jpg");
    // A single file: to a path, or into a directory.
    blit_ok(&[os("copy"), src.join("a.jpg").as_os_str(), t.path().join("single.jpg").as_os_str()]);
    assert_eq!(std::fs::read(t.path().join("single.jpg")).unwrap(), b"jpg");
}

#[test]
fn fatal_errors_name_the_path_and_exit_1() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("no-such-source");
    let out = blit(&[os("copy"), missing.as_os_str(), t.path().join("d").as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-source") && err.contains("does not exist"), "{err}");

    let src = t.path().join("src");
    write(&src.join("f"), b"f", 0o644, 1_000, 0);
    let out = blit(&[os("copy"), &slash(&src), src.join("inner").as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the source"), "{out:?}");
    assert!(!src.join("inner").exists());

    // /proc/self refuses new entries even to root.
    let out = blit(&[os("copy"), &slash(&src), os("/proc/self/blit-dst")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not writable") && err.contains("/proc/self"), "{err}");
}

#[test]
fn per_file_failures_are_listed_and_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    write(&src.join("good"), b"good", 0o644, 1_000, 0);
    // A FIFO cannot be transferred: a per-file failure, the rest completes.
    let fifo = std::ffi::CString::new(src.join("pipe").as_os_str().to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let out = blit(&[os("copy"), os("--json"), &slash(&src), dst.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("pipe"), "{out:?}");
    let s = summary(&out);
    assert_eq!(s["failures"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["failures"][0]["path"], "pipe");
    assert_eq!(std::fs::read(dst.join("good")).unwrap(), b"good");
}

#[test]
fn json_progress_events_are_ordered_lines() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    for i in 0..50 {
        write(&src.join(format!("d{}/f{i}", i % 5)), &vec![b'x'; i * 100], 0o644, 1_000, 0);
    }
    let out = blit_ok(&[os("copy"), os("-p"), os("--json"), &slash(&src), dst.as_os_str()]);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(events.first().unwrap()["event"], "started");
    assert_eq!(events.last().unwrap()["event"], "finished");
    assert!(events.iter().all(|e| e["schema"] == 2));
    let done = events.iter().filter(|e| e["event"] == "file_done" && e["kind"] == "file").count();
    assert_eq!(done, 50);
    let bytes: u64 = events.iter().filter(|e| e["event"] == "file_bytes").map(|e| e["bytes"].as_u64().unwrap()).sum();
    assert_eq!(bytes, (0..50u64).map(|i| i * 100).sum::<u64>());
    assert_eq!(summary(&out)["bytes_transferred"], bytes);
}

#[test]
fn read_only_files_are_replaced_atomically() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    write(&src.join("ro"), b"v1", 0o444, 1_000, 0);
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    write(&src.join("ro"), b"v2-longer", 0o444, 2_000, 0);
    std::fs::set_permissions(src.join("ro"), std::fs::Permissions::from_mode(0o444)).unwrap();
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("ro")).unwrap(), b"v2-longer");
    let leftovers: Vec<_> = std::fs::read_dir(&dst).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "temporary files left behind: {leftovers:?}");
}
