//! Failure containment with the real `blit` binary, locally and against a
//! real blitd process (this test binary re-executed; `common::process`).
//!
//! - Per-file failures (an unreadable source file, a source file that
//!   vanishes, a destination path that cannot be written) are reported with
//!   the path and the reason, the rest of the tree is transferred, and blit
//!   exits with 2.
//! - Volume errors (no space left, a read-only file system) stop the
//!   transfer with a clear error (exit 1) and leave no torn file: every file
//!   under its final name is complete, and no temporary file stays.
//!
//! Root reads a mode-000 file anyway, so when these tests run as root the
//! process that reads the source (blit for local copies and pushes, the
//! daemon for pulls) runs as `nobody` instead. Volumes are small tmpfs
//! mounts in a private mount namespace (as root, or inside a user
//! namespace otherwise); when neither is possible those tests fail, saying
//! why.

mod common;

use blit_api::{ManifestItem, ManifestSender, ManifestSource, RelPath, TransferOptions};
use common::process::{is_root, runnable_by_others, DaemonProcess, Tmpfs, NOBODY};
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::sync::Arc;

fn main() -> ExitCode {
    if common::process::serve_if_asked() {
        return ExitCode::SUCCESS;
    }
    let args = libtest_mimic::Arguments::from_args();
    let mut trials = Vec::new();
    for way in [Way::Local, Way::Push, Way::Pull] {
        let name = way.name();
        trials.push(libtest_mimic::Trial::test(format!("per_file::unreadable_source::{name}"), move || {
            unreadable_source(way);
            Ok(())
        }));
        trials.push(libtest_mimic::Trial::test(format!("per_file::unwritable_destination::{name}"), move || {
            unwritable_destination(way);
            Ok(())
        }));
        trials.push(libtest_mimic::Trial::test(format!("volume::no_space::{name}"), move || {
            no_space(way);
            Ok(())
        }));
        trials.push(libtest_mimic::Trial::test(format!("volume::read_only::{name}"), move || {
            read_only(way);
            Ok(())
        }));
    }
    trials.push(libtest_mimic::Trial::test("volume::read_only::push_directories_only", || {
        read_only_directories_only();
        Ok(())
    }));
    trials.push(libtest_mimic::Trial::test("volume::no_space::single_file", || {
        no_space_single_file();
        Ok(())
    }));
    trials.push(libtest_mimic::Trial::test("per_file::vanished_source::pull", || {
        vanished_source_pull();
        Ok(())
    }));
    libtest_mimic::run(&args, trials).exit_code()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Local,
    Push,
    Pull,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Local => "local",
            Way::Push => "push",
            Way::Pull => "pull",
        }
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// A scratch directory every user can traverse (the tests may drop to
/// `nobody`), on tmpfs when the machine has one.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let t = match tempfile::Builder::new().prefix("blit-failures-").tempdir_in(shm) {
        Ok(dir) if shm.is_dir() => dir,
        _ => tempfile::tempdir().unwrap(),
    };
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

/// Runs blit with `args`.
fn blit(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blit")).args(args).output().expect("the blit binary runs")
}

/// Runs blit with `args` as `uid` (or as this user); `scratch` holds a copy
/// of the binary when `uid` could not run it where it is.
fn blit_as(uid: Option<u32>, scratch: &Path, args: &[&OsStr]) -> Output {
    let Some(uid) = uid else { return blit(args) };
    let exe = runnable_by_others(Path::new(env!("CARGO_BIN_EXE_blit")), scratch);
    Command::new(exe).args(args).uid(uid).gid(uid).output().expect("the blit binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A small tree: `keep/a`, `keep/b`, `c`.
fn good_files(src: &Path) {
    common::write(&src.join("keep/a"), b"alpha", 0o644, 1_000, 0);
    common::write(&src.join("keep/b"), &vec![7u8; 200_000], 0o644, 1_000, 0);
    common::write(&src.join("c"), b"charlie", 0o644, 1_000, 0);
}

fn assert_good_files_landed(dst: &Path) {
    assert_eq!(std::fs::read(dst.join("keep/a")).unwrap(), b"alpha");
    assert_eq!(std::fs::read(dst.join("keep/b")).unwrap(), vec![7u8; 200_000]);
    assert_eq!(std::fs::read(dst.join("c")).unwrap(), b"charlie");
}

/// Exit 2, one failure naming `path`, with `reason` on stderr.
fn assert_one_failure(out: &Output, path: &str, kind: &str, reason: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(out));
    let s = common::summary(out);
    let failures = s["failures"].as_array().unwrap_or_else(|| panic!("no failures in {s}"));
    assert_eq!(failures.len(), 1, "{s}");
    assert_eq!(failures[0]["path"], path, "{s}");
    assert_eq!(failures[0]["kind"], kind, "{s}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(path) && err.contains(reason), "names the path and the reason: {}", text(out));
}

fn chown_tree(root: &Path, uid: u32) {
    std::os::unix::fs::lchown(root, Some(uid), Some(uid)).unwrap();
    if std::fs::symlink_metadata(root).unwrap().is_dir() {
        for e in std::fs::read_dir(root).unwrap() {
            chown_tree(&e.unwrap().path(), uid);
        }
    }
}

fn unreadable_source(way: Way) {
    let t = scratch();
    let (module, local) = (t.path().join("module"), t.path().join("local"));
    let src = match way {
        Way::Pull => module.join("tree"),
        _ => local.join("src"),
    };
    good_files(&src);
    common::write(&src.join("secret"), b"no one may read this", 0o000, 1_000, 0);
    std::fs::create_dir_all(&module).unwrap();
    // Root reads mode 000 files: the reading side drops to nobody.
    let reader = is_root().then_some(NOBODY);
    let out = match way {
        Way::Local => {
            let dst = t.path().join("dst");
            std::fs::create_dir(&dst).unwrap();
            if let Some(uid) = reader {
                chown_tree(&dst, uid);
            }
            let out = blit_as(reader, t.path(), &[os("copy"), os("--json"), &common::slash(&src), dst.as_os_str()]);
            assert_good_files_landed(&dst);
            out
        }
        Way::Push => {
            let d = DaemonProcess::start(&module);
            let out = blit_as(reader, t.path(), &[os("copy"), os("--json"), &common::slash(&src), &d.url("/m/tree/")]);
            assert_good_files_landed(&module.join("tree"));
            out
        }
        Way::Pull => {
            let d = match reader {
                Some(uid) => DaemonProcess::start_as(&module, uid, t.path()),
                None => DaemonProcess::start(&module),
            };
            let dst = t.path().join("dst");
            let out = blit(&[os("copy"), os("--json"), &d.url("/m/tree/"), dst.as_os_str()]);
            assert_good_files_landed(&dst);
            out
        }
    };
    assert_one_failure(&out, "secret", "permission_denied", "Permission denied");
}

fn unwritable_destination(way: Way) {
    let t = scratch();
    let (module, src) = (t.path().join("module"), t.path().join("src"));
    good_files(&src);
    common::write(&src.join("blocked"), b"cannot land", 0o644, 1_000, 0);
    std::fs::create_dir_all(&module).unwrap();
    // A directory stands where the file `blocked` must land.
    let plant = |dst: &Path| common::write(&dst.join("blocked/inside"), b"keep me", 0o644, 1_000, 0);
    let (out, dst) = match way {
        Way::Local => {
            let dst = t.path().join("dst");
            plant(&dst);
            (blit(&[os("copy"), os("--json"), &common::slash(&src), dst.as_os_str()]), dst)
        }
        Way::Push => {
            let d = DaemonProcess::start(&module);
            plant(&module.join("tree"));
            (blit(&[os("copy"), os("--json"), &common::slash(&src), &d.url("/m/tree/")]), module.join("tree"))
        }
        Way::Pull => {
            std::fs::rename(&src, module.join("tree")).unwrap();
            let d = DaemonProcess::start(&module);
            let dst = t.path().join("dst");
            plant(&dst);
            (blit(&[os("copy"), os("--json"), &d.url("/m/tree/"), dst.as_os_str()]), dst)
        }
    };
    assert_one_failure(&out, "blocked", "already_exists", "a directory is in the way");
    assert_good_files_landed(&dst);
    assert_eq!(std::fs::read(dst.join("blocked/inside")).unwrap(), b"keep me", "the directory is left alone");
}

/// A source a 1 MiB volume cannot hold: six files of 300 KiB.
fn big_files(src: &Path) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = (0..6u8)
        .map(|i| (format!("f{i}"), (0..300 * 1024).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i)).collect()))
        .collect();
    for (name, data) in &files {
        common::write(&src.join(name), data, 0o644, 1_000, 0);
    }
    files
}

/// After a volume error: no temporary file, and every file under its final
/// name is complete.
fn assert_no_torn_files(dst: &Path, files: &[(String, Vec<u8>)]) -> usize {
    let mut complete = 0;
    for e in std::fs::read_dir(dst).unwrap_or_else(|e| panic!("{}: {e}", dst.display())) {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".blit."), "a temporary file stayed: {name}");
        let (_, want) = files.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("unexpected {name}"));
        assert!(std::fs::read(e.path()).unwrap() == *want, "{name} is torn");
        complete += 1;
    }
    complete
}

fn assert_stopped(out: &Output, reason: &str) {
    assert_eq!(out.status.code(), Some(1), "a volume error stops the transfer: {}", text(out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("blit: error:") && err.contains(reason), "says why: {}", text(out));
    // Each error once: the fatal one is not a repeat of a file failure above
    // (workers that hit the volume at the same time each name their own file;
    // a daemon's error carries its address in front).
    let said: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(reason))
        .map(|l| l.trim_start_matches("blit: failed: ").trim_start_matches("blit: error: "))
        .collect();
    for (i, a) in said.iter().enumerate() {
        for (j, b) in said.iter().enumerate() {
            assert!(i == j || !a.ends_with(b), "printed twice: {}", text(out));
        }
    }
}

fn no_space(way: Way) {
    let t = scratch();
    let (module, src, mnt) = (t.path().join("module"), t.path().join("src"), t.path().join("mnt"));
    std::fs::create_dir_all(&mnt).unwrap();
    let files = big_files(&src);
    let (out, landed) = match way {
        Way::Local => {
            let volume = Tmpfs::mount(&mnt, "size=1m", "");
            let dst = volume.path().join("dst");
            let out = blit(&[os("copy"), &common::slash(&src), dst.as_os_str()]);
            (out, assert_no_torn_files(&dst, &files))
        }
        Way::Push => {
            let d = DaemonProcess::start_on_tmpfs(&mnt, "size=1m", "");
            let out = blit(&[os("copy"), &common::slash(&src), &d.url("/m/tree/")]);
            (out, assert_no_torn_files(&d.view(&mnt.join("tree")), &files))
        }
        Way::Pull => {
            std::fs::create_dir_all(&module).unwrap();
            std::fs::rename(&src, module.join("tree")).unwrap();
            let d = DaemonProcess::start(&module);
            let volume = Tmpfs::mount(&mnt, "size=1m", "");
            let dst = volume.path().join("dst");
            let out = blit(&[os("copy"), &d.url("/m/tree/"), dst.as_os_str()]);
            (out, assert_no_torn_files(&dst, &files))
        }
    };
    assert_stopped(&out, "No space left on device");
    assert!(String::from_utf8_lossy(&out.stderr).contains("free space"), "says what to do: {}", text(&out));
    assert!(landed < files.len(), "{landed} files fit on a 1 MiB volume?");
}

/// A single file that does not fit is named by its full destination path,
/// never as `.` (the transfer root).
fn no_space_single_file() {
    let t = scratch();
    let (src, mnt) = (t.path().join("big.bin"), t.path().join("mnt"));
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::write(&src, vec![5u8; 3 << 20]).unwrap();
    let volume = Tmpfs::mount(&mnt, "size=1m", "");
    for dst in [volume.path().join("renamed.bin"), volume.path().to_path_buf()] {
        let out = blit(&[os("copy"), src.as_os_str(), dst.as_os_str()]);
        assert_stopped(&out, "No space left on device");
        let err = String::from_utf8_lossy(&out.stderr);
        let target = if dst == volume.path() { dst.join("big.bin") } else { dst.clone() };
        assert!(err.contains(&format!("blit: failed: {}: write failed", target.display())), "{err}");
        assert!(!err.contains(" .:") && !err.contains("failed: .:"), "named as the root: {err}");
        assert!(!target.exists(), "no torn file under the final name");
    }
}

fn read_only(way: Way) {
    let t = scratch();
    let (module, src, mnt) = (t.path().join("module"), t.path().join("src"), t.path().join("mnt"));
    std::fs::create_dir_all(&mnt).unwrap();
    let files = big_files(&src);
    let freeze = "mkdir \"$0/tree\" && mount -o remount,ro \"$0\"";
    let (out, dst_files) = match way {
        Way::Local => {
            let volume = Tmpfs::mount(&mnt, "size=4m", freeze);
            let dst = volume.path().join("tree");
            let out = blit(&[os("copy"), &common::slash(&src), dst.as_os_str()]);
            (out, assert_no_torn_files(&dst, &files))
        }
        Way::Push => {
            let d = DaemonProcess::start_on_tmpfs(&mnt, "size=4m", freeze);
            let out = blit(&[os("copy"), &common::slash(&src), &d.url("/m/tree/")]);
            (out, assert_no_torn_files(&d.view(&mnt.join("tree")), &files))
        }
        Way::Pull => {
            std::fs::create_dir_all(&module).unwrap();
            std::fs::rename(&src, module.join("tree")).unwrap();
            let d = DaemonProcess::start(&module);
            let volume = Tmpfs::mount(&mnt, "size=4m", freeze);
            let dst = volume.path().join("tree");
            let out = blit(&[os("copy"), &d.url("/m/tree/"), dst.as_os_str()]);
            (out, assert_no_torn_files(&dst, &files))
        }
    };
    assert_stopped(&out, "read-only");
    assert_eq!(dst_files, 0);
}

/// A push whose files all sit in directories: the first directory the
/// daemon cannot create stops the transfer (rather than failing every entry
/// below it one by one).
fn read_only_directories_only() {
    let t = scratch();
    let (src, mnt) = (t.path().join("src"), t.path().join("mnt"));
    std::fs::create_dir_all(&mnt).unwrap();
    for i in 0..50 {
        common::write(&src.join(format!("d{}/f{i}", i % 5)), b"nested", 0o644, 1_000, 0);
    }
    let d = DaemonProcess::start_on_tmpfs(&mnt, "size=1m", "mkdir \"$0/tree\" && mount -o remount,ro \"$0\"");
    let out = blit(&[os("copy"), os("--json"), &common::slash(&src), &d.url("/m/tree/")]);
    assert_stopped(&out, "Read-only file system");
    let s = common::summary(&out);
    assert_eq!(s["event"], "failed", "a fatal error, not a list of per-file failures: {s}");
    assert_eq!(s["kind"], "read_only", "{s}");
    assert_eq!(std::fs::read_dir(d.view(&mnt.join("tree"))).unwrap().count(), 0);
}

/// Removes `vanish` from the source right after the walk reports it, so the
/// payload finds it gone.
struct Vanish {
    inner: Arc<dyn ManifestSource>,
    root: PathBuf,
}

#[async_trait::async_trait]
impl ManifestSource for Vanish {
    async fn manifest(&self, options: &TransferOptions, out: ManifestSender) -> blit_api::Result<()> {
        let (tx, mut rx) = blit_api::manifest_channel();
        let walk = self.inner.manifest(options, tx);
        let vanish = RelPath::from_bytes(b"vanish".to_vec()).expect("a valid path");
        let relay = async {
            while let Some(item) = rx.recv().await {
                if matches!(&item, ManifestItem::Entry(h) if h.path == vanish) {
                    std::fs::remove_file(self.root.join("vanish")).expect("the file goes away");
                }
                if out.send(item).await.is_err() {
                    break;
                }
            }
        };
        let (walked, ()) = tokio::join!(walk, relay);
        walked
    }
}

fn vanished_source_pull() {
    let t = scratch();
    let (module, dst) = (t.path().join("module"), t.path().join("dst"));
    let src = module.join("tree");
    good_files(&src);
    common::write(&src.join("vanish"), b"here during the walk only", 0o644, 1_000, 0);
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    let root = src.clone();
    config.source_wrap = Some(blit_daemon::SourceWrap::new(move |inner| {
        Arc::new(Vanish { inner, root: root.clone() }) as Arc<dyn ManifestSource>
    }));
    let daemon = common::daemon::Daemon::serve(config);
    let url = OsString::from(format!("127.0.0.1:{}:/m/tree/", daemon.port));
    let out = blit(&[os("copy"), os("--json"), &url, dst.as_os_str()]);
    drop(daemon);
    assert_one_failure(&out, "vanish", "not_found", "No such file");
    assert_good_files_landed(&dst);
    assert!(!dst.join("vanish").exists());
}
