//! The rsync flags people type, end to end through the real binary: each
//! does what rsync's does (or is refused with its own message).

mod common;

use common::*;
use std::ffi::{OsStr, OsString};
use std::path::Path;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn run(args: &[&OsStr]) -> (Option<i32>, String, String) {
    let out = blit(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `src/` with `a` (old, 1 byte) and `b` (2 bytes), and `dst/` as given.
fn pair(t: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (src, dst) = (t.join("src"), t.join("dst"));
    write(&src.join("a"), b"A", 0o644, 1_000_000, 0);
    write(&src.join("b"), b"BB", 0o644, 1_000_000, 0);
    std::fs::create_dir_all(&dst).unwrap();
    (src, dst)
}

#[test]
fn update_skips_files_newer_at_the_destination() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    write(&dst.join("a"), b"newer", 0o644, 2_000_000, 0);
    write(&dst.join("b"), b"old", 0o644, 500_000, 0);
    blit_ok(&[os("copy"), os("-u"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("a")).unwrap(), b"newer", "-u keeps the newer destination file");
    assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"BB", "an older destination file is replaced");
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("a")).unwrap(), b"A", "without -u it is replaced");
}

#[test]
fn ignore_existing_and_size_only() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    write(&dst.join("a"), b"other content", 0o644, 1_000_000, 0);
    blit_ok(&[os("copy"), os("--ignore-existing"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("a")).unwrap(), b"other content");
    assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"BB", "what does not exist is copied");
    // Same size, other content and time: --size-only calls them the same.
    write(&dst.join("b"), b"XX", 0o644, 7, 0);
    blit_ok(&[os("copy"), os("--size-only"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"XX");
    assert_eq!(std::fs::read(dst.join("a")).unwrap(), b"A", "a file of another size is copied");
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"BB", "without --size-only the time tells");
}

#[test]
fn max_delete_stops_deleting_and_says_so() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    for name in ["x1", "x2", "x3"] {
        std::fs::write(dst.join(name), b"extra").unwrap();
    }
    let out = blit(&[os("mirror"), os("--max-delete"), os("1"), os("--json"), &slash(&src), dst.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "deletions left undone are a partial result: {out:?}");
    let s = summary(&out);
    assert_eq!((s["deleted"].as_u64(), s["deletions_skipped"].as_u64()), (Some(1), Some(2)), "{s}");
    assert_eq!(s["deletions_skipped_reason"], "--max-delete 1 reached");
    assert_eq!(s["ok"], false);
    let left = ["x1", "x2", "x3"].iter().filter(|n| dst.join(n).exists()).count();
    assert_eq!(left, 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 deletions skipped: --max-delete 1 reached"), "{out:?}");
}

#[test]
fn a_mirror_that_skips_deletions_after_a_source_error_says_so() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    std::fs::write(dst.join("extra"), b"x").unwrap();
    let fifo = std::ffi::CString::new(src.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let (code, _, err) = run(&[os("mirror"), &slash(&src), dst.as_os_str()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(dst.join("extra").exists(), "nothing is deleted after a source error");
    assert!(err.contains("1 deletion skipped: the source was not read completely"), "{err}");
}

#[test]
fn several_sources_go_into_the_destination() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    let other = t.path().join("other");
    write(&other.join("c"), b"C", 0o644, 1_000_000, 0);
    let out = blit_ok(&[
        os("copy"),
        os("--json"),
        src.join("a").as_os_str(),
        src.join("b").as_os_str(),
        other.as_os_str(),
        dst.as_os_str(),
    ]);
    assert_eq!(std::fs::read(dst.join("a")).unwrap(), b"A");
    assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"BB");
    assert_eq!(std::fs::read(dst.join("other/c")).unwrap(), b"C");
    let s = summary(&out);
    assert_eq!((s["files_transferred"].as_u64(), s["dirs_transferred"].as_u64()), (Some(3), Some(1)), "{s}");
    let (code, _, err) = run(&[os("mirror"), src.join("a").as_os_str(), other.as_os_str(), dst.as_os_str()]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("mirror takes one source"), "{err}");
}

#[test]
fn itemize_stats_and_log_file() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    std::os::unix::fs::symlink("a", src.join("l")).unwrap();
    let log = t.path().join("blit.log");
    let (code, out, err) =
        run(&[os("copy"), os("-i"), os("--stats"), os("--log-file"), log.as_os_str(), &slash(&src), dst.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    let mut lines: Vec<&str> = out.lines().take_while(|l| l.len() < 3 || !l.contains("  ")).collect();
    lines.sort_unstable();
    assert_eq!(lines, [">f a", ">f b", "cL l"], "{out}");
    for field in ["files copied", "symlinks made", "file data", "on the wire", "deletions skipped", "rate"] {
        assert!(out.contains(field), "--stats lacks {field}: {out}");
    }
    assert!(out.contains("files copied                 2\n"), "{out}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.lines().any(|l| l.ends_with("] >f a")), "{logged}");
    assert!(logged.lines().any(|l| l.contains("] copied 2 files, 1 symlink (3 B)")), "{logged}");
}

#[test]
fn archive_flags_are_accepted_and_h_alone_is_help() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    let (code, _, err) =
        run(&[os("copy"), os("-avhPz"), os("-rlt"), os("--perms"), os("--partial"), &slash(&src), dst.as_os_str()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"BB");
    let (code, out, _) = run(&[os("copy"), os("-h")]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Usage: blit copy"), "{out}");
    let (code, out, _) = run(&[os("copy"), os("--info=progress2"), &slash(&src), dst.as_os_str()]);
    assert_eq!(code, Some(0), "{out}");
    let (code, _, err) = run(&[os("copy"), os("--info=name2"), &slash(&src), dst.as_os_str()]);
    assert_eq!(code, Some(64));
    assert!(err.contains("no --info=name2"), "{err}");
}

#[test]
fn rsync_flags_blit_lacks_are_answered_specifically() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    for (flag, said) in [
        ("--inplace", "renamed into place"),
        ("--rsync-path=/usr/bin/rsync", "--blit-path"),
        ("--compare-dest=/snap", "--compare-dest is not supported yet"),
        ("--chmod=u+x", "keeps each entry's permissions"),
        ("-avL", "never follows them"),
        ("--delete-before", "only after the whole source was read"),
    ] {
        let (code, _, err) = run(&[os("copy"), os(flag), &slash(&src), dst.as_os_str()]);
        assert_eq!(code, Some(64), "{flag}: {err}");
        assert!(err.contains(said), "{flag}: {err}");
        assert!(!err.contains("tip:") && !err.contains("-- "), "{flag}: clap's tip: {err}");
    }
    assert!(!dst.join("a").exists(), "nothing was copied");
    let (code, _, err) = run(&[os("copy"), &slash(&src), dst.as_os_str(), os("--compress")]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("rsync's --compress is -z here"), "{err}");
}

#[test]
fn json_stdout_is_only_json_whatever_else_is_asked() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    let out = blit_ok(&[os("copy"), os("--json"), os("-v"), os("-i"), os("--stats"), &slash(&src), dst.as_os_str()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["files_transferred"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains(">f a"), "the entry lines went to stderr");
}

#[test]
fn names_that_are_not_utf8_are_printed_losslessly() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    std::fs::create_dir(&src).unwrap();
    let odd = OsStr::from_bytes(b"bad\xffname");
    std::fs::write(src.join(odd), b"x").unwrap();
    std::fs::write(src.join("bad\\xffname"), b"y").unwrap();
    let out = blit_ok(&[os("copy"), os("-v"), &slash(&src), dst.as_os_str()]);
    let text = String::from_utf8(out.stdout).expect("-v prints UTF-8");
    assert!(text.lines().any(|l| l == "bad\\xffname"), "{text}");
    assert!(text.lines().any(|l| l == "bad\\\\xffname"), "the two names print differently: {text}");
    let events = blit_ok(&[os("copy"), os("-p"), os("--json"), &slash(&src), t.path().join("d2").as_os_str()]);
    let done: Vec<serde_json::Value> = String::from_utf8_lossy(&events.stderr)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "file_done" && e["kind"] == "file")
        .collect();
    let odd_event = done.iter().find(|e| e.get("path_b64").is_some()).expect("an event with path_b64");
    assert_eq!(odd_event["path_b64"], "YmFk/25hbWU=");
    assert_eq!(odd_event["path"], "bad\\xffname");
    let plain = done.iter().find(|e| e.get("path_b64").is_none()).unwrap();
    assert_eq!(plain["path"], "bad\\xffname", "the UTF-8 name is exact in JSON");
}

#[test]
fn timeout_stops_a_transfer_that_makes_no_progress() {
    // A peer that accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for _ in 0..4 {
            match listener.accept() {
                Ok((s, _)) => kept.push(s),
                Err(_) => break,
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(20));
        drop(kept);
    });
    let t = tempfile::tempdir().unwrap();
    let (src, _) = pair(t.path());
    let started = std::time::Instant::now();
    let target: OsString = format!("127.0.0.1:{port}:/m/").into();
    let (code, _, err) = run(&[os("copy"), os("--timeout"), os("2"), &slash(&src), &target]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no progress for 2 s (--timeout 2)"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "took {:?}", started.elapsed());
    drop(held);
}

#[test]
fn z_compresses_and_the_summary_counts_wire_bytes() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    // 8 MiB that compress well, in a few files.
    for i in 0..4 {
        write(&src.join(format!("f{i}")), &b"compressible ".repeat(160_000), 0o644, 1_000_000, 0);
    }
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = common::daemon::Daemon::serve(config);
    let size = 4 * 13 * 160_000u64;
    let s = summary(&blit_ok(&[os("copy"), os("-z"), os("--json"), &slash(&src), &d.url("/m/z/")]));
    assert_eq!((s["transport"].as_str(), s["bytes_transferred"].as_u64()), (Some("tcp"), Some(size)), "{s}");
    assert!(s["compression"].as_str().unwrap().starts_with("zstd"), "{s}");
    let wire = s["wire_bytes"].as_u64().unwrap();
    assert!(wire > 0 && wire < size / 10, "-z sends far less than the data: {s}");
    let s = summary(&blit_ok(&[os("copy"), os("--json"), &slash(&src), &d.url("/m/plain/")]));
    let wire = s["wire_bytes"].as_u64().unwrap();
    assert!(wire >= size && wire < size + size / 10, "uncompressed, the wire carries the data and framing: {s}");
    let s =
        summary(&blit_ok(&[os("copy"), os("--json"), os("--transport"), os("grpc"), &slash(&src), &d.url("/m/g/")]));
    let wire = s["wire_bytes"].as_u64().unwrap();
    assert!(wire >= size && wire < size + size / 10, "in-stream payload frames are counted: {s}");
    let local = summary(&blit_ok(&[os("copy"), os("-z"), os("--json"), &slash(&src), t.path().join("l").as_os_str()]));
    assert_eq!(local["wire_bytes"], serde_json::Value::Null, "{local}");
    assert_eq!(local["files_transferred"], 4);
}

#[test]
fn one_file_system_makes_a_mount_point_but_does_not_enter_it() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write(&src.join("d/f"), b"F", 0o644, 1_000_000, 0);
    std::fs::create_dir(src.join("mnt")).unwrap();
    // A tmpfs mounted inside the source, in a mount namespace of our own
    // (a user namespace too, so this needs no privilege).
    let script = format!(
        "mount -t tmpfs none {src}/mnt && echo inner > {src}/mnt/inner && {blit} copy -x {src}/ {t}/x/ && {blit} copy {src}/ {t}/all/",
        src = src.display(),
        t = t.path().display(),
        blit = env!("CARGO_BIN_EXE_blit"),
    );
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare (util-linux) runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(t.path().join("x/d/f")).unwrap(), b"F");
    assert!(t.path().join("x/mnt").is_dir(), "the mount point itself is made");
    assert!(!t.path().join("x/mnt/inner").exists(), "-x does not enter another file system");
    assert!(t.path().join("all/mnt/inner").exists(), "without -x it does");
}

#[test]
fn the_flags_hold_for_push_and_pull_too() {
    let t = tempfile::tempdir().unwrap();
    let (src, _) = pair(t.path());
    let module = t.path().join("module");
    write(&module.join("a"), b"newer", 0o644, 2_000_000, 0);
    write(&module.join("x"), b"extra", 0o644, 2_000_000, 0);
    write(&module.join("y"), b"extra", 0o644, 2_000_000, 0);
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = common::daemon::Daemon::serve(config);
    // Push: the daemon's judge honours -u.
    blit_ok(&[os("copy"), os("-u"), &slash(&src), &d.url("/m/")]);
    assert_eq!(std::fs::read(module.join("a")).unwrap(), b"newer");
    assert_eq!(std::fs::read(module.join("b")).unwrap(), b"BB");
    // Pull with --max-delete: the local judge stops after one deletion.
    let back = t.path().join("back");
    write(&back.join("z1"), b"z", 0o644, 1, 0);
    write(&back.join("z2"), b"z", 0o644, 1, 0);
    let out = blit(&[os("mirror"), os("--max-delete"), os("1"), os("--json"), &d.url("/m/"), &slash(&back)]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(summary(&out)["deletions_skipped"], 1);
    // Push mirror with --max-delete 0: the daemon deletes nothing and says so.
    let out = blit(&[os("mirror"), os("--max-delete"), os("0"), os("--json"), &slash(&src), &d.url("/m/")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let s = summary(&out);
    assert_eq!((s["deleted"].as_u64(), s["deletions_skipped"].as_u64()), (Some(0), Some(2)), "{s}");
    assert!(module.join("x").exists() && module.join("y").exists());
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().ino()
}

#[test]
fn link_dest_makes_snapshots_that_share_unchanged_files() {
    let t = tempfile::tempdir().unwrap();
    let (src, _) = pair(t.path());
    write(&src.join("d/deep"), b"deep", 0o600, 1_000_000, 0);
    let snaps = t.path().join("snaps");
    blit_ok(&[os("copy"), &slash(&src), snaps.join("one").as_os_str()]);
    write(&src.join("b"), b"changed", 0o644, 1_500_000, 0);
    // A relative --link-dest is relative to the destination, as in rsync.
    let out = blit_ok(&[
        os("copy"),
        os("--json"),
        os("--link-dest"),
        os("../one"),
        &slash(&src),
        snaps.join("two").as_os_str(),
    ]);
    let s = summary(&out);
    assert_eq!(s["bytes_transferred"], 7, "only the changed file is sent: {s}");
    assert_eq!(s["files_transferred"], 3, "linked files count as files landed: {s}");
    assert_eq!(inode(&snaps.join("one/a")), inode(&snaps.join("two/a")), "unchanged: one inode");
    assert_eq!(inode(&snaps.join("one/d/deep")), inode(&snaps.join("two/d/deep")));
    assert_ne!(inode(&snaps.join("one/b")), inode(&snaps.join("two/b")), "changed: a file of its own");
    assert_eq!(std::fs::read(snaps.join("two/b")).unwrap(), b"changed");
    assert_eq!(std::fs::read(snaps.join("one/b")).unwrap(), b"BB", "the previous snapshot is untouched");
    // A file whose mode differs is not linked (the link would change it).
    std::fs::set_permissions(src.join("a"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    blit_ok(&[
        os("copy"),
        os("--link-dest"),
        snaps.join("one").as_os_str(),
        &slash(&src),
        snaps.join("three").as_os_str(),
    ]);
    assert_ne!(inode(&snaps.join("one/a")), inode(&snaps.join("three/a")));
    assert_eq!(inode(&snaps.join("one/d/deep")), inode(&snaps.join("three/d/deep")), "an absolute DIR works too");
}

#[test]
fn link_dest_on_a_daemon_stays_inside_the_module() {
    let t = tempfile::tempdir().unwrap();
    let (src, _) = pair(t.path());
    let module = t.path().join("module");
    std::fs::create_dir(&module).unwrap();
    let outside = t.path().join("outside");
    blit_ok(&[os("copy"), &slash(&src), outside.as_os_str()]);
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = common::daemon::Daemon::serve(config);
    blit_ok(&[os("copy"), &slash(&src), &d.url("/m/one/")]);
    blit_ok(&[os("copy"), os("--link-dest"), os("one"), &slash(&src), &d.url("/m/two/")]);
    assert_eq!(inode(&module.join("one/a")), inode(&module.join("two/a")), "linked inside the module");
    for escape in ["../outside", "/etc", "one/../../outside"] {
        let (code, _, err) = run(&[os("copy"), os("--link-dest"), os(escape), &slash(&src), &d.url("/m/three/")]);
        assert_eq!(code, Some(1), "{escape}: {err}");
        assert!(err.contains("bad --link-dest") && err.contains("inside the module"), "{escape}: {err}");
    }
    assert!(!module.join("three").exists(), "nothing landed");
    // A symlink in the module pointing out is never followed.
    std::os::unix::fs::symlink(&outside, module.join("sneaky")).unwrap();
    blit_ok(&[os("copy"), os("--link-dest"), os("sneaky"), &slash(&src), &d.url("/m/four/")]);
    assert_ne!(inode(&outside.join("a")), inode(&module.join("four/a")), "the link-dest symlink was followed");
    assert_eq!(std::fs::read(module.join("four/a")).unwrap(), b"A");
}

#[test]
fn backups_keep_what_is_replaced_or_deleted() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    blit_ok(&[os("copy"), &slash(&src), dst.as_os_str()]);
    write(&src.join("b"), b"new b", 0o644, 1_500_000, 0);
    std::os::unix::fs::symlink("a", src.join("l")).unwrap();
    std::os::unix::fs::symlink("old target", dst.join("l")).unwrap();
    blit_ok(&[os("copy"), os("-b"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"new b");
    assert_eq!(std::fs::read(dst.join("b~")).unwrap(), b"BB", "the replaced file is kept as b~");
    assert_eq!(std::fs::read_link(dst.join("l~")).unwrap(), Path::new("old target"), "a replaced symlink too");
    assert!(!dst.join("a~").exists(), "an unchanged file needs no backup");
    // Mirror into a backup directory: replaced and deleted files go there.
    write(&src.join("a"), b"new a", 0o644, 1_600_000, 0);
    std::fs::write(dst.join("extra"), b"extra").unwrap();
    write(&dst.join("gone/deep"), b"deep", 0o644, 1, 0);
    let out = blit_ok(&[os("mirror"), os("--json"), os("--backup-dir"), os("../bak"), &slash(&src), dst.as_os_str()]);
    let bak = t.path().join("bak");
    assert_eq!(std::fs::read(bak.join("a")).unwrap(), b"A");
    assert_eq!(std::fs::read(bak.join("extra")).unwrap(), b"extra", "a deleted file is moved to the backup");
    assert_eq!(std::fs::read(bak.join("gone/deep")).unwrap(), b"deep", "a deleted directory too");
    assert!(!dst.join("extra").exists() && !dst.join("gone").exists());
    assert!(summary(&out)["deleted"].as_u64().unwrap() >= 2);
    // --suffix names the backups.
    write(&src.join("a"), b"newer a", 0o644, 1_700_000, 0);
    blit_ok(&[os("copy"), os("--suffix"), os(".old"), os("-b"), &slash(&src), dst.as_os_str()]);
    assert_eq!(std::fs::read(dst.join("a.old")).unwrap(), b"new a");
    let (code, _, err) = run(&[os("copy"), os("--suffix"), os("x/y"), os("-b"), &slash(&src), dst.as_os_str()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("bad --suffix"), "{err}");
}

#[test]
fn backups_on_a_daemon_stay_inside_the_module() {
    let t = tempfile::tempdir().unwrap();
    let (src, _) = pair(t.path());
    let module = t.path().join("module");
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = common::daemon::Daemon::serve(config);
    blit_ok(&[os("copy"), &slash(&src), &d.url("/m/tree/")]);
    write(&src.join("a"), b"changed", 0o644, 1_800_000, 0);
    blit_ok(&[os("copy"), os("--backup-dir"), os("bak"), &slash(&src), &d.url("/m/tree/")]);
    assert_eq!(std::fs::read(module.join("bak/a")).unwrap(), b"A", "kept inside the module");
    assert_eq!(std::fs::read(module.join("tree/a")).unwrap(), b"changed");
    let (code, _, err) = run(&[os("copy"), os("--backup-dir"), os("../out"), &slash(&src), &d.url("/m/tree/")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("bad --backup-dir"), "{err}");
    assert!(!t.path().join("out").exists());
}

#[test]
fn ls_names_are_lossless_too() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("module");
    std::fs::create_dir(&module).unwrap();
    std::fs::write(module.join(OsStr::from_bytes(b"bad\xffname")), b"x").unwrap();
    std::os::unix::fs::symlink(OsStr::from_bytes(b"to\xfe"), module.join("link")).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = common::daemon::Daemon::serve(config);
    let out = blit_ok(&[os("ls"), &d.url("/m/")]);
    let text = String::from_utf8(out.stdout).expect("ls prints UTF-8");
    assert!(text.lines().any(|l| l.ends_with(" bad\\xffname")), "{text}");
    assert!(text.lines().any(|l| l.ends_with(" link -> to\\xfe")), "{text}");
    let out = blit_ok(&[os("ls"), os("--json"), &d.url("/m/")]);
    let entries: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let odd = entries.iter().find(|e| e["path"] == "bad\\xffname").expect("the odd name");
    assert_eq!(odd["path_b64"], "YmFk/25hbWU=");
    let link = entries.iter().find(|e| e["path"] == "link").unwrap();
    assert_eq!((link["link_target"].as_str(), link["link_target_b64"].as_str()), (Some("to\\xfe"), Some("dG/+")));
}

#[test]
fn fsync_lands_the_same_tree_locally_into_a_daemon_and_from_a_flushing_module() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    write(&src.join("a/one"), b"1", 0o644, 1_000_000, 0);
    write(&src.join("a/empty"), b"", 0o600, 1_000_000, 0);
    write(&src.join("big"), &vec![7u8; 300_000], 0o644, 1_000_000, 0);
    std::fs::create_dir(&module).unwrap();
    let local = t.path().join("local");
    let s = summary(&blit_ok(&[os("copy"), os("--fsync"), os("--json"), &slash(&src), &slash(&local)]));
    assert_eq!(s["files_transferred"], 3, "{s}");
    assert_eq!(snapshot(&local), snapshot(&src));
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}:rw,fsync", module.display())).unwrap();
    assert!(config.modules[0].fsync, "the module flag parses");
    let d = common::daemon::Daemon::serve(config);
    blit_ok(&[os("copy"), os("--fsync"), &slash(&src), &d.url("/m/asked/")]);
    blit_ok(&[os("copy"), &slash(&src), &d.url("/m/module/")]);
    assert_eq!(snapshot(&module.join("asked")), snapshot(&src));
    assert_eq!(snapshot(&module.join("module")), snapshot(&src));
    let pulled = t.path().join("pulled");
    blit_ok(&[os("copy"), os("--fsync"), &d.url("/m/asked/"), &slash(&pulled)]);
    assert_eq!(snapshot(&pulled), snapshot(&src));
}

#[test]
fn a_backup_dir_inside_a_mirrored_destination_is_kept_run_after_run() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = pair(t.path());
    let mirror = || blit(&[os("mirror"), os("--backup-dir"), os("bak"), &slash(&src), &slash(&dst)]);
    assert_eq!(mirror().status.code(), Some(0));
    std::fs::remove_file(src.join("a")).unwrap();
    let out = mirror();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(dst.join("bak/a")).unwrap(), b"A", "the deleted file went to the backup directory");
    assert!(!dst.join("a").exists());
    // The next run neither deletes the backup directory nor moves it into itself.
    let out = mirror();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(dst.join("bak/a")).unwrap(), b"A");
    assert!(!dst.join("bak/bak").exists());
}
