//! Containment under races: while real pushes, mirrors and pulls run
//! against an in-process blitd (over in-stream gRPC and over the TCP data
//! plane), a second party inside the module keeps swapping the directories
//! being transferred for symlinks to a "canary" tree outside the module,
//! and back, as fast as it can. Whatever the transfers report, the canary
//! must stay byte-, mode- and mtime-identical with nothing added, and no
//! byte of it may reach a pulling client.
//!
//! `BLIT_RACE_ATTEMPTS` (default 10) sets the transfers per scenario;
//! `bench/race.sh` runs many more.

mod common;

use blit_api::{ProgressEvent, RecordingSink, Result, TransferOptions, TransferSummary};
use blit_engine::{DestinationRoles, SourceRoles};
use blit_transport_grpc::{GrpcConfig, RemoteSpec, TransportMode};
use blit_transport_local::{LocalDestination, LocalSource};
use common::{snapshot, Daemon};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Bytes every canary file holds; a pulled file that contains them was
/// read outside the module.
const MARKER: &[u8] = b"CANARY-7f3a9c-outside-the-module";

fn attempts() -> usize {
    std::env::var("BLIT_RACE_ATTEMPTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10)
}

/// The tree outside the module: files, a subdirectory, a symlink, modes and
/// times no transfer would give them.
fn plant_canary(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    for (i, name) in ["f0", "f1", "sub/f2", "sub/deeper/f3", "x"].iter().enumerate() {
        let mut data = MARKER.to_vec();
        data.extend_from_slice(format!(" {i}").as_bytes());
        std::fs::write(dir.join(name), data).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    symlink("f0", dir.join("link")).unwrap();
    for d in ["sub/deeper", "sub", ""] {
        std::fs::set_permissions(dir.join(d), std::fs::Permissions::from_mode(0o711)).unwrap();
        let t = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890);
        std::fs::File::open(dir.join(d)).unwrap().set_modified(t).unwrap();
    }
}

/// The source: two directories of small files (the names the swapper
/// races on), a file big enough to take a few records, modes to apply.
fn build_source(src: &Path) {
    for d in ["d", "d/sub", "e"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    for i in 0..60 {
        std::fs::write(src.join(format!("d/f{i:02}")), format!("inside {i}")).unwrap();
        std::fs::write(src.join(format!("d/sub/g{i:02}")), format!("inside sub {i}")).unwrap();
        std::fs::write(src.join(format!("e/h{i:02}")), format!("inside e {i}")).unwrap();
    }
    // These names also exist in the canary: a write through a swapped
    // directory would overwrite them.
    std::fs::write(src.join("d/f0"), b"inside f0").unwrap();
    std::fs::write(src.join("d/x"), b"inside x").unwrap();
    std::fs::write(src.join("d/big"), vec![7u8; 3 * 1024 * 1024 + 11]).unwrap();
    for d in ["d", "d/sub", "e"] {
        std::fs::set_permissions(src.join(d), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
}

/// Keeps replacing `victims` (directories inside the module) with symlinks
/// to the canary, alternating absolute and relative targets, and putting
/// them back, until stopped. Counts the swaps it made.
struct Swapper {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Swapper {
    fn start(victims: Vec<PathBuf>, canary: PathBuf) -> Swapper {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let (s, n) = (stop.clone(), swaps.clone());
        let thread = std::thread::spawn(move || {
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                for v in &victims {
                    let away = v.with_extension("away");
                    if std::fs::rename(v, &away).is_err() {
                        // Not there (yet, or a transfer removed it): plant a link anyway.
                        let _ = std::fs::remove_file(v);
                    }
                    let target = if i.is_multiple_of(2) { canary.clone() } else { relative_to(v, &canary) };
                    if symlink(&target, v).is_ok() {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                    // Each state lasts a little, alternating short and long,
                    // so both the transfers' checks and their uses land in it.
                    let hold = Duration::from_micros(if i.is_multiple_of(3) { 300 } else { 20 });
                    std::thread::sleep(hold);
                    let _ = std::fs::remove_file(v);
                    let _ = std::fs::rename(&away, v);
                    std::thread::sleep(hold);
                    i += 1;
                }
            }
        });
        Swapper { stop, swaps, thread: Some(thread) }
    }

    /// Stops, puts every victim back as a directory, returns the swap count.
    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.swaps.load(Ordering::Relaxed)
    }
}

/// A relative symlink target from `link`'s directory to `to`, through `..`.
fn relative_to(link: &Path, to: &Path) -> PathBuf {
    let depth = link.parent().unwrap().components().count();
    let mut p = PathBuf::new();
    for _ in 0..depth {
        p.push("..");
    }
    p.join(to.strip_prefix("/").unwrap())
}

fn config(mode: TransportMode) -> GrpcConfig {
    GrpcConfig::new().transport(mode)
}

async fn push(src: &Path, remote: &RemoteSpec, o: &TransferOptions, c: &GrpcConfig) -> Result<TransferSummary> {
    let source = Arc::new(LocalSource::new(src.to_path_buf()));
    let roles = SourceRoles { source: source.clone(), reader: source };
    blit_transport_grpc::push(remote, roles, o, c, RecordingSink::new()).await
}

async fn pull(remote: &RemoteSpec, dst: &Path, c: &GrpcConfig) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    let destination = Arc::new(LocalDestination::new(dst.to_path_buf()));
    let roles = DestinationRoles { sink: destination.clone(), writer: destination };
    let events = RecordingSink::new();
    let r = blit_transport_grpc::pull(remote, roles, &TransferOptions::new(), c, events.clone()).await;
    (r, events.events())
}

/// Names only the canary has: listing it is reading outside too.
const CANARY_ONLY: [&str; 5] = ["f1", "f2", "f3", "deeper", "link"];

/// Entries below `dir` (never through a symlink, `dir` itself included: a
/// pulled symlink is a link, not a read) that came from the canary: regular
/// files holding the marker, or names only the canary has.
fn leaked(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if CANARY_ONLY.iter().any(|n| e.file_name() == *n) {
                out.push(path.clone());
            }
            let Ok(m) = std::fs::symlink_metadata(&path) else { continue };
            if m.is_dir() {
                stack.push(path);
            } else if m.is_file() {
                let data = std::fs::read(&path).unwrap_or_default();
                if data.windows(MARKER.len()).any(|w| w == MARKER) {
                    out.push(path);
                }
            }
        }
    }
    out
}

struct Scene {
    _t: tempfile::TempDir,
    src: PathBuf,
    module: PathBuf,
    canary: PathBuf,
    before: Vec<(Vec<u8>, String)>,
    daemon: Daemon,
}

async fn scene() -> Scene {
    let t = tempfile::tempdir().unwrap();
    let (src, module, canary) = (t.path().join("src"), t.path().join("module"), t.path().join("outside"));
    build_source(&src);
    std::fs::create_dir(&module).unwrap();
    plant_canary(&canary);
    let before = snapshot(&canary);
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    Scene { _t: t, src, module, canary, before, daemon }
}

impl Scene {
    fn assert_canary_intact(&self, what: &str) {
        let after = snapshot(&self.canary);
        if after != self.before {
            let changed: Vec<_> = after
                .iter()
                .filter(|e| !self.before.contains(e))
                .chain(self.before.iter().filter(|e| !after.contains(e)))
                .map(|(p, d)| format!("{}: {d}", String::from_utf8_lossy(p)))
                .collect();
            panic!("{what}: the canary outside the module changed:\n{}", changed.join("\n"));
        }
    }
}

/// Pushes (plain and mirror) race the swapper on the directories they
/// write, judge and delete in.
async fn pushes_race(mode: TransportMode) {
    let s = scene().await;
    let c = config(mode);
    let root = s.module.join("t");
    // Extraneous entries for the mirror to delete, in every victim.
    for d in ["d", "d/sub", "gone"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    for d in ["d", "d/sub", "gone"] {
        std::fs::write(root.join(d).join("extra"), b"extra").unwrap();
    }
    let victims = vec![root.join("d"), root.join("d/sub"), root.join("gone")];
    let swapper = Swapper::start(victims, s.canary.clone());
    for i in 0..attempts() {
        let options = TransferOptions::new().mirror(!i.is_multiple_of(2));
        let _ = push(&s.src, &s.daemon.remote("m", "t"), &options, &c).await;
    }
    let swaps = swapper.finish();
    assert!(swaps > 0, "the swapper never swapped");
    s.assert_canary_intact(&format!("{mode:?} pushes and mirrors with {swaps} swaps"));
    eprintln!("race: {mode:?} pushes and mirrors: {} attempts, {swaps} swaps, canary intact", attempts());
    // Without the race, a push still lands the whole tree.
    let done = push(&s.src, &s.daemon.remote("m", "t"), &TransferOptions::new().mirror(true), &c).await.unwrap();
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    assert_eq!(std::fs::read(root.join("d/f0")).unwrap(), b"inside f0");
    s.daemon.stop().await;
}

/// Pulls race the swapper on the directories the daemon walks and reads.
async fn pulls_race(mode: TransportMode) {
    let s = scene().await;
    let c = config(mode);
    let served = s.module.join("t");
    std::fs::create_dir(&served).unwrap();
    for d in ["d", "e"] {
        std::fs::rename(s.src.join(d), served.join(d)).unwrap();
    }
    let victims = vec![served.join("d"), served.join("d/sub"), served.join("e")];
    let swapper = Swapper::start(victims, s.canary.clone());
    let dst = s.module.parent().unwrap().join("pulled");
    for _ in 0..attempts() {
        let _ = pull(&s.daemon.remote("m", "t"), &dst, &c).await;
        let leaks = leaked(&dst);
        assert!(leaks.is_empty(), "{mode:?}: a pull received files from outside the module: {leaks:?}");
    }
    let swaps = swapper.finish();
    assert!(swaps > 0, "the swapper never swapped");
    s.assert_canary_intact(&format!("{mode:?} pulls with {swaps} swaps"));
    eprintln!("race: {mode:?} pulls: {} attempts, {swaps} swaps, canary intact, nothing outside read", attempts());
    let (done, _) = pull(&s.daemon.remote("m", "t"), &dst, &c).await;
    assert!(done.unwrap().failures.is_empty());
    assert_eq!(std::fs::read(dst.join("d/f0")).unwrap(), b"inside f0");
    s.daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_pushes_and_mirrors_never_leave_the_module() {
    pushes_race(TransportMode::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_pushes_and_mirrors_never_leave_the_module() {
    pushes_race(TransportMode::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_pulls_never_read_outside_the_module() {
    pulls_race(TransportMode::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_pulls_never_read_outside_the_module() {
    pulls_race(TransportMode::Tcp).await;
}

/// The transfer root itself swapped between `Open` and use: the client's
/// path names a directory that keeps turning into a symlink to the canary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_root_swapped_after_open_leads_nowhere() {
    let s = scene().await;
    let c = config(TransportMode::Auto);
    std::fs::create_dir(s.module.join("root")).unwrap();
    let swapper = Swapper::start(vec![s.module.join("root")], s.canary.clone());
    let dst = s.module.parent().unwrap().join("pulled-root");
    for i in 0..attempts() {
        let options = TransferOptions::new().mirror(i.is_multiple_of(2));
        let _ = push(&s.src, &s.daemon.remote("m", "root"), &options, &c).await;
        // A fresh destination each time: a pulled root may be the symlink
        // itself, which a later run into the same name would follow (the
        // user's own destination path is followed, as with rsync).
        let _ = std::fs::remove_file(&dst).or_else(|_| std::fs::remove_dir_all(&dst));
        let _ = pull(&s.daemon.remote("m", "root"), &dst, &c).await;
        assert!(leaked(&dst).is_empty(), "a pull of a swapped root received the canary");
    }
    let swaps = swapper.finish();
    s.assert_canary_intact("a swapped transfer root");
    eprintln!("race: swapped transfer root: {} attempts, {swaps} swaps, canary intact", attempts());
    s.daemon.stop().await;
}

/// A push into the module's root applies nothing to the module's own
/// directory: not the source root's mode, not its mtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_module_root_keeps_its_own_mode_and_times() {
    let s = scene().await;
    std::fs::set_permissions(&s.module, std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::set_permissions(&s.src, std::fs::Permissions::from_mode(0o777)).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::open(&s.src).unwrap().set_modified(old).unwrap();
    let done = push(&s.src, &s.daemon.remote("m", ""), &TransferOptions::new(), &GrpcConfig::default()).await.unwrap();
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    let m = std::fs::metadata(&s.module).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o750, "the module's mode changed");
    assert_ne!(m.modified().unwrap(), old, "the module took the source root's mtime");
    assert_eq!(std::fs::read(s.module.join("d/f0")).unwrap(), b"inside f0");
    s.daemon.stop().await;
}
