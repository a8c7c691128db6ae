//! Helpers for the end-to-end tests: run the real `blit` binary, build awkward
//! trees, and snapshot a tree (kind, content hash, mode, mtime in ns, link
//! target) without following symlinks.
#![allow(dead_code, unreachable_pub)]

pub mod daemon;
pub mod process;
pub mod sshd;
pub mod tmux;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What a snapshot records per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File { hash: [u8; 32], size: u64, mode: u32, mtime_ns: i64 },
    Dir { mode: u32, mtime_ns: i64 },
    Symlink { target: Vec<u8>, mtime_ns: i64 },
}

/// Relative path bytes -> node. The root has the empty path.
pub type Snapshot = BTreeMap<Vec<u8>, Node>;

pub fn blit(args: &[&OsStr]) -> Output {
    blit_with_env(args, &[])
}

/// Runs blit with extra environment variables (`BLIT_SECRET`, ...).
pub fn blit_with_env(args: &[&OsStr], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blit"));
    command.args(args).env_remove("BLIT_SECRET");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the blit binary runs")
}

pub fn blit_ok(args: &[&OsStr]) -> Output {
    let out = blit(args);
    assert!(
        out.status.success(),
        "blit {:?} failed: {:?}\nstdout: {}\nstderr: {}",
        args,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `SRC/` as an argument (copy the contents).
pub fn slash(p: &Path) -> std::ffi::OsString {
    let mut s = p.as_os_str().to_os_string();
    s.push("/");
    s
}

pub fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.mtime() * 1_000_000_000 + m.mtime_nsec()
}

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    walk(root, Vec::new(), &mut out);
    out
}

fn walk(path: &Path, rel: Vec<u8>, out: &mut Snapshot) {
    let m = std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ft = m.file_type();
    let node = if ft.is_symlink() {
        let t = std::fs::read_link(path).unwrap();
        Node::Symlink { target: t.as_os_str().as_bytes().to_vec(), mtime_ns: mtime_ns(&m) }
    } else if ft.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        for n in names {
            let mut r = rel.clone();
            if !r.is_empty() {
                r.push(b'/');
            }
            r.extend_from_slice(n.as_bytes());
            walk(&path.join(&n), r, out);
        }
        Node::Dir { mode: m.permissions().mode() & 0o7777, mtime_ns: mtime_ns(&m) }
    } else {
        let data = std::fs::read(path).unwrap();
        Node::File {
            hash: *blake3::hash(&data).as_bytes(),
            size: m.len(),
            mode: m.permissions().mode() & 0o7777,
            mtime_ns: mtime_ns(&m),
        }
    };
    out.insert(rel, node);
}

/// Asserts two snapshots are equal, naming the first differing path.
pub fn assert_same(src: &Snapshot, dst: &Snapshot) {
    for (p, n) in src {
        match dst.get(p) {
            None => panic!("missing at destination: {:?}", String::from_utf8_lossy(p)),
            Some(d) if d != n => panic!("differs: {:?}\n source: {n:?}\n dest:   {d:?}", String::from_utf8_lossy(p)),
            _ => {}
        }
    }
    for p in dst.keys() {
        assert!(src.contains_key(p), "extra at destination: {:?}", String::from_utf8_lossy(p));
    }
}

pub fn set_mtime(path: &Path, secs: i64, nsec: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let ts = [libc_ts(secs, nsec), libc_ts(secs, nsec)];
    // SAFETY: valid path and a two-element timespec array.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    assert_eq!(rc, 0, "utimensat {}", path.display());
}

fn libc_ts(secs: i64, nsec: i64) -> libc::timespec {
    libc::timespec { tv_sec: secs as libc::time_t, tv_nsec: nsec as _ }
}

pub fn write(path: &Path, data: &[u8], mode: u32, secs: i64, nsec: i64) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    set_mtime(path, secs, nsec);
}

/// A tree with every awkward thing the issue lists.
pub fn awkward_tree(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    write(&root.join("empty"), b"", 0o644, 1_000_000_000, 1);
    write(&root.join("one"), b"x", 0o600, 1_100_000_000, 999_999_999);
    write(&root.join("exec.sh"), b"#!/bin/sh\necho hi\n", 0o755, 1_200_000_000, 123_456_789);
    write(&root.join("readonly"), b"do not touch", 0o444, 1_300_000_000, 5);
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    write(&root.join("big.bin"), &big, 0o644, 1_400_000_000, 42);
    write(&root.join("with space and\nnewline"), b"odd name", 0o644, 1_500_000_000, 7);
    write(&root.join("unicodé-日本語-🦀"), b"unicode", 0o644, 1_500_000_001, 8);
    let raw = root.join(OsStr::from_bytes(b"non-utf8-\xff\xfe"));
    write(&raw, b"raw bytes name", 0o644, 1_500_000_002, 9);
    let long = "l".repeat(250);
    write(&root.join(&long), b"long name", 0o644, 1_500_000_003, 10);
    std::fs::create_dir_all(root.join("empty-dir")).unwrap();
    std::fs::create_dir_all(root.join("nested/a/b/c")).unwrap();
    write(&root.join("nested/a/b/c/leaf"), b"leaf", 0o644, 1_600_000_000, 11);
    let mut deep = root.join("deep");
    for i in 0..40 {
        deep.push(format!("d{i}"));
    }
    write(&deep.join("bottom"), b"bottom", 0o644, 1_600_000_001, 12);
    std::os::unix::fs::symlink("nested/a", root.join("link-rel")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("link-abs")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", root.join("link-dangling")).unwrap();
    set_mtime(&root.join("link-rel"), 1_650_000_000, 13);
    // A read-only directory: its mode must be set after its children land.
    write(&root.join("ro-dir/inside"), b"in a read-only dir", 0o644, 1_650_000_001, 14);
    std::fs::set_permissions(root.join("ro-dir"), std::fs::Permissions::from_mode(0o555)).unwrap();
    // Directory mtimes last, deepest first, since creating children changes them.
    let mut dirs: Vec<PathBuf> = Vec::new();
    collect_dirs(root, &mut dirs);
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for (i, d) in dirs.iter().enumerate() {
        set_mtime(d, 1_700_000_000 + i as i64, 500 + i as i64);
    }
}

fn collect_dirs(p: &Path, out: &mut Vec<PathBuf>) {
    out.push(p.to_path_buf());
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            collect_dirs(&e.path(), out);
        }
    }
}

/// Parses the `--json` summary printed on stdout.
pub fn summary(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no JSON on stdout; stderr: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}
