//! Crash consistency: the real `blit` binary and a real blitd process,
//! one of them killed with SIGKILL at a random moment of a push or a pull.
//!
//! After every kill the destination is checked: every regular file under
//! its final name holds its old or its new content, never a mix or a
//! prefix. Then the transfer is run again to completion, and the
//! destination must equal the source, with no temporary file
//! (`.blit.<pid>.<n>.tmp`, or `.blit.<hash>.part` for a file large enough to
//! resume) left: a plain rerun removes those of the dead process (see
//! `blit-transport-local`'s `sweep`), and every other rerun runs with
//! `--resume`, which continues the `.part` files instead.
//!
//! The daemon is this test binary itself, re-executed (it then serves a
//! directory as module `m` with `blit_daemon::run`, prints its port and
//! serves until killed or until its stdin closes; see
//! `common::process`), so it is a separate process that SIGKILL can hit.
//!
//! Knobs (environment):
//! - `BLIT_CRASH_POINTS`: kill points per direction (default 30; the bench
//!   runs 100, see `bench/crash.sh`);
//! - `BLIT_CRASH_SEED`: the seed of the tree and of every kill point
//!   (default: from the clock); printed at the start and on failure.

mod common;

use common::process::DaemonProcess;

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    if common::process::serve_if_asked() {
        return ExitCode::SUCCESS;
    }
    let args = libtest_mimic::Arguments::from_args();
    let trials = [Direction::Push, Direction::Pull]
        .into_iter()
        .map(|d| libtest_mimic::Trial::test(format!("crash::{}", d.name()), move || run(d).map_err(Into::into)))
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Push,
    Pull,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Push => "push",
            Direction::Pull => "pull",
        }
    }
}

/// xorshift64*: small, seedable, good enough for kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

/// What one path holds before (old) and after (new) a complete transfer.
#[derive(Debug, Default)]
struct Versions {
    old: BTreeMap<Vec<u8>, blake3::Hash>,
    new: BTreeMap<Vec<u8>, blake3::Hash>,
}

fn data(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Builds the source tree and returns the old versions to plant at the
/// destination: files of many sizes (a few multi-MiB, so kills land
/// mid-file), changed and unchanged ones, new ones, a changed symlink.
fn build_source(src: &Path, rng: &mut Rng) -> Vec<(PathBuf, Vec<u8>, i64)> {
    let mut old = Vec::new();
    let mut files: Vec<(String, usize)> = Vec::new();
    for i in 0..90 {
        files.push((format!("small/d{}/s{i:03}", i % 3), 1 + rng.below(12 * 1024) as usize));
    }
    for i in 0..5 {
        files.push((format!("medium/m{i}"), 100 * 1024 + rng.below(400 * 1024) as usize));
    }
    for (i, mib) in [3usize, 2, 2].into_iter().enumerate() {
        files.push((format!("large/l{i}"), (mib << 20) + rng.below(64 * 1024) as usize));
    }
    // Large enough to land through a resumable `.part` file.
    files.push(("large/resumable".to_owned(), (9 << 20) + rng.below(64 * 1024) as usize));
    files.push(("empty".to_owned(), 0));
    for (n, (rel, len)) in files.iter().enumerate() {
        let content = data(rng, *len);
        let mtime = 1_600_000_000 + n as i64;
        common::write(&src.join(rel), &content, 0o644, mtime, 7);
        match n % 3 {
            // Changed: an old version of another size and content.
            0 => old.push((PathBuf::from(rel), data(rng, (len / 2).max(1) + 3), 1_500_000_000)),
            // Unchanged: already up to date.
            1 => old.push((PathBuf::from(rel), content, mtime)),
            // New at the destination.
            _ => {}
        }
    }
    std::os::unix::fs::symlink("large/l0", src.join("link")).unwrap();
    common::set_mtime(&src.join("link"), 1_650_000_000, 0);
    old
}

/// Plants the old destination: `dst` is removed and rebuilt.
fn plant_old(dst: &Path, old: &[(PathBuf, Vec<u8>, i64)]) {
    if dst.exists() {
        std::fs::remove_dir_all(dst).unwrap();
    }
    std::fs::create_dir_all(dst).unwrap();
    for (rel, content, mtime) in old {
        common::write(&dst.join(rel), content, 0o644, *mtime, 7);
    }
    std::os::unix::fs::symlink("old-target", dst.join("link")).unwrap();
}

/// A landing's temporary file: `.blit.*.tmp`, or `.blit.*.part` for a file
/// large enough to be resumed.
fn is_temp(name: &[u8]) -> bool {
    name.starts_with(b".blit.") && (name.ends_with(b".tmp") || name.ends_with(b".part"))
}

/// Every path below `root`, relative, with its metadata.
fn walk(root: &Path) -> Vec<(Vec<u8>, std::fs::Metadata)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            // A concurrent rename may have taken it; the next walk sees it.
            let Ok(m) = std::fs::symlink_metadata(&path) else { continue };
            if m.is_dir() {
                stack.push(path.clone());
            }
            out.push((path.strip_prefix(root).unwrap().as_os_str().as_bytes().to_vec(), m));
        }
    }
    out
}

/// After a kill: every regular file under its final name is its old or its
/// new version. Returns the number of temporary files seen.
fn check_old_or_new(dst: &Path, versions: &Versions, what: &str) -> Result<usize, String> {
    let mut temps = 0;
    for (rel, m) in walk(dst) {
        let name = rel.rsplit(|b| *b == b'/').next().unwrap_or(&rel);
        if is_temp(name) {
            temps += 1;
            continue;
        }
        if !m.is_file() {
            continue;
        }
        let shown = String::from_utf8_lossy(&rel).into_owned();
        let Ok(content) = std::fs::read(dst.join(OsStr::from_bytes(&rel))) else { continue };
        let hash = blake3::hash(&content);
        let old = versions.old.get(&rel);
        let new = versions.new.get(&rel);
        if old.is_none() && new.is_none() {
            return Err(format!("{what}: unexpected file {shown:?} at the destination"));
        }
        if old != Some(&hash) && new != Some(&hash) {
            return Err(format!(
                "{what}: {shown:?} holds neither its old nor its new version ({} bytes)",
                content.len()
            ));
        }
    }
    Ok(temps)
}

/// The first path where `got` differs from `want`, described.
fn first_difference(want: &common::Snapshot, got: &common::Snapshot) -> Option<String> {
    let show = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
    for (p, n) in want {
        match got.get(p) {
            None => return Some(format!("{:?} is missing at the destination", show(p))),
            Some(g) if g != n => return Some(format!("{:?} differs: want {n:?}, got {g:?}", show(p))),
            _ => {}
        }
    }
    got.keys().find(|p| !want.contains_key(*p)).map(|p| format!("{:?} is extra at the destination", show(p)))
}

fn leftover_temps(dst: &Path) -> Vec<String> {
    walk(dst)
        .into_iter()
        .filter(|(rel, _)| is_temp(rel.rsplit(|b| *b == b'/').next().unwrap_or(rel)))
        .map(|(rel, _)| String::from_utf8_lossy(&rel).into_owned())
        .collect()
}

/// One transfer with the real binary; stderr goes to `log`.
fn blit(args: &[&OsStr], log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_blit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("the blit binary runs")
}

fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A scratch directory, on tmpfs when the machine has one.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = tempfile::Builder::new().prefix("blit-crash-").tempdir_in(shm);
    match builder {
        Ok(dir) if shm.is_dir() => dir,
        _ => tempfile::tempdir().unwrap(),
    }
}

fn run(direction: Direction) -> Result<(), String> {
    let points = env_u64("BLIT_CRASH_POINTS").unwrap_or(30);
    let base = env_u64("BLIT_CRASH_SEED").unwrap_or_else(|| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        t.as_nanos() as u64
    });
    eprintln!("crash::{}: BLIT_CRASH_SEED={base}, {points} kill points", direction.name());
    let seed = (base ^ (direction as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)).max(1);
    let fail = |e: String| format!("{e}\n(rerun with BLIT_CRASH_SEED={base} to reproduce)");
    run_points(direction, points, seed).map_err(fail)
}

fn run_points(direction: Direction, points: u64, seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed);
    let t = scratch();
    let (module, src_parent, local) = (t.path().join("module"), t.path().join("srcs"), t.path().join("local"));
    std::fs::create_dir_all(&module).unwrap();
    // A push reads `srcs/tree` and writes `module/tree`; a pull reads
    // `module/tree` and writes `local`.
    let (src, dst) = match direction {
        Direction::Push => (src_parent.join("tree"), module.join("tree")),
        Direction::Pull => (module.join("tree"), local.clone()),
    };
    let old = build_source(&src, &mut rng);
    let mut versions = Versions::default();
    for (rel, m) in walk(&src) {
        if m.is_file() {
            versions.new.insert(rel.clone(), blake3::hash(&std::fs::read(src.join(OsStr::from_bytes(&rel))).unwrap()));
        }
    }
    for (rel, content, _) in &old {
        versions.old.insert(rel.as_os_str().as_bytes().to_vec(), blake3::hash(content));
    }
    let want = common::snapshot(&src);
    let log = t.path().join("blit.log");
    let mut daemon = DaemonProcess::start(&module);
    let args = |d: &DaemonProcess, resume: bool| -> Vec<OsString> {
        let mut a: Vec<OsString> = match direction {
            Direction::Push => vec!["copy".into(), common::slash(&src), d.url("/m/tree/")],
            Direction::Pull => vec!["copy".into(), d.url("/m/tree/"), dst.clone().into_os_string()],
        };
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let complete = |d: &DaemonProcess, what: &str, resume: bool| -> Result<Duration, String> {
        let started = Instant::now();
        let a = args(d, resume);
        let mut child = blit(&a.iter().map(OsString::as_os_str).collect::<Vec<_>>(), &log);
        match wait_for(&mut child, Duration::from_secs(60)) {
            Some(s) if s.success() => Ok(started.elapsed()),
            other => Err(format!(
                "{what}: the transfer did not complete ({other:?}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )),
        }
    };

    // Calibrate: how long an uninterrupted transfer takes here (the
    // fastest of three, so a slow first run does not stretch the span).
    let mut full = Duration::MAX;
    for _ in 0..3 {
        plant_old(&dst, &old);
        full = full.min(complete(&daemon, "calibration", false)?);
        if let Some(diff) = first_difference(&want, &common::snapshot(&dst)) {
            return Err(format!("calibration: {diff}"));
        }
    }
    let span = full.as_micros() as u64 * 11 / 10;
    let (mut daemon_kills, mut client_kills, mut temps_seen, mut mid_transfer, mut resumed) = (0, 0, 0, 0, 0);
    for point in 0..points {
        plant_old(&dst, &old);
        if !daemon.is_alive() {
            daemon = DaemonProcess::start(&module);
        }
        let delay = Duration::from_micros(rng.below(span));
        let kill_daemon = rng.below(2) == 0;
        let what = format!(
            "point {point}: kill the {} after {:.1} ms",
            if kill_daemon { "daemon" } else { "client" },
            delay.as_secs_f64() * 1e3
        );
        let a = args(&daemon, false);
        let mut child = blit(&a.iter().map(OsString::as_os_str).collect::<Vec<_>>(), &log);
        std::thread::sleep(delay);
        let finished_first = child.try_wait().expect("wait").is_some();
        if kill_daemon {
            daemon.kill();
            daemon_kills += 1;
            // The client notices and exits (it may also have finished).
            if wait_for(&mut child, Duration::from_secs(30)).is_none() {
                return Err(format!("{what}: the client hung after the daemon died"));
            }
        } else {
            let _ = child.kill();
            let _ = child.wait();
            client_kills += 1;
        }
        if !finished_first {
            mid_transfer += 1;
        }
        temps_seen += check_old_or_new(&dst, &versions, &what)?;
        // The rerun completes and leaves the source's tree, nothing else;
        // every other rerun resumes what the killed run left (the others
        // remove it).
        if !daemon.is_alive() {
            daemon = DaemonProcess::start(&module);
        }
        let resume = point % 2 == 1;
        resumed += u64::from(resume);
        complete(&daemon, &format!("{what}, rerun{}", if resume { " with --resume" } else { "" }), resume)?;
        let got = common::snapshot(&dst);
        if let Some(diff) = first_difference(&want, &got) {
            return Err(format!("{what}: after the rerun, {diff}"));
        }
        // The daemon may still be dropping the files of the killed client's
        // session (its own temporary files); give it a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = leftover_temps(&dst);
            if left.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!("{what}: temporary files left after the rerun: {left:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if mid_transfer * 4 < points {
        return Err(format!(
            "only {mid_transfer} of {points} kills hit a running transfer; the kill points test nothing"
        ));
    }
    eprintln!(
        "crash::{}: {points} kills survived ({daemon_kills} daemon, {client_kills} client, {mid_transfer} \
         mid-transfer), {temps_seen} temporary files left by kills and removed or resumed by reruns ({resumed} \
         reruns with --resume); a full transfer took {:.0} ms",
        direction.name(),
        full.as_secs_f64() * 1e3
    );
    Ok(())
}
