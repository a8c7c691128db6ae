//! End-to-end `-H` (hard links) and `-X` (extended attributes): the real
//! `blit` binary, locally and against a real blitd on 127.0.0.1:0.

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn ino(p: &Path) -> (u64, u64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.ino(), m.nlink())
}

/// `a/one` with names `b/two` and `three`; `twin` has the same bytes but is
/// another file.
fn linked_tree(src: &Path) {
    write(&src.join("a/one"), b"shared bytes", 0o644, 1_000, 5);
    write(&src.join("twin"), b"shared bytes", 0o644, 1_000, 5);
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::hard_link(src.join("a/one"), src.join("b/two")).unwrap();
    std::fs::hard_link(src.join("a/one"), src.join("three")).unwrap();
}

fn assert_linked(dst: &Path) {
    let (one, nlink) = ino(&dst.join("a/one"));
    assert_eq!(nlink, 3, "a/one has {nlink} names");
    assert_eq!(ino(&dst.join("b/two")).0, one);
    assert_eq!(ino(&dst.join("three")).0, one);
    assert_eq!(ino(&dst.join("twin")).1, 1, "an equal but separate file must stay separate");
}

#[test]
fn hard_links_flag_keeps_links_locally_and_a_rerun_is_idle() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst, plain) = (t.path().join("src"), t.path().join("dst"), t.path().join("plain"));
    linked_tree(&src);
    let s = summary(&blit_ok(&[os("copy"), os("-H"), os("--json"), &slash(&src), dst.as_os_str()]));
    assert_linked(&dst);
    // The linked bytes travel once: "shared bytes" for one and for twin.
    assert_eq!(s["bytes_transferred"], 24, "{s}");
    assert_same(&snapshot(&src), &snapshot(&dst));
    let s = summary(&blit_ok(&[os("copy"), os("--hard-links"), os("--json"), &slash(&src), dst.as_os_str()]));
    assert_eq!((s["entries_transferred"].as_u64(), s["bytes_transferred"].as_u64()), (Some(0), Some(0)), "{s}");
    // Without -H the names land as separate files.
    blit_ok(&[os("copy"), &slash(&src), plain.as_os_str()]);
    assert_eq!(ino(&plain.join("a/one")).1, 1);
}

#[test]
fn hard_links_flag_keeps_links_in_push_and_pull() {
    let t = tempfile::tempdir().unwrap();
    let (src, module, back) = (t.path().join("src"), t.path().join("module"), t.path().join("back"));
    linked_tree(&src);
    std::fs::create_dir(&module).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let d = Daemon::serve(config);
    blit_ok(&[os("copy"), os("-H"), &slash(&src), &d.url("/m/tree/")]);
    assert_linked(&module.join("tree"));
    blit_ok(&[os("mirror"), os("-H"), &d.url("/m/tree/"), back.as_os_str()]);
    assert_linked(&back);
    assert_same(&snapshot(&src), &snapshot(&back));
}

#[test]
fn xattrs_flag_carries_user_attributes() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    write(&src.join("f"), b"x", 0o644, 1_000, 0);
    if blit_transport_local::xattr::set_path(&src.join("f"), b"user.e2e", b"v\n1").is_err() {
        eprintln!("skipped: {} stores no user.* extended attributes", t.path().display());
        return;
    }
    blit_ok(&[os("copy"), os("-X"), &slash(&src), dst.as_os_str()]);
    let got = blit_transport_local::xattr::list(&dst.join("f")).unwrap();
    assert!(got.contains(&(b"user.e2e".to_vec(), b"v\n1".to_vec())), "{got:?}");
}
