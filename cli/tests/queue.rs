//! Distributed jobs against a real `nats-server -js` on loopback and real
//! `blit worker` processes: several workers land the same tree a single
//! machine does (push to a daemon, and local), a worker killed with
//! SIGKILL mid-item and a submitting command killed mid-job lose nothing
//! (the job resumes), a rerun of a finished job rewrites nothing, a mirror
//! deletes only at the end.

mod common;

use blit_queue::testing::NatsServer;
use common::daemon::Daemon;
use common::{assert_same, blit, blit_ok, slash, snapshot, summary};
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `blit worker` process, killed when dropped; its stderr in `log`.
struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn start(nats: &NatsServer, name: &str, dir: &Path) -> Worker {
        Worker::with_lease(nats, name, dir, 2)
    }

    fn with_lease(nats: &NatsServer, name: &str, dir: &Path, lease: u64) -> Worker {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_blit"))
            .args(["worker", &nats.url(), "--name", name, "--lease", &lease.to_string()])
            .env_remove("BLIT_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("blit worker starts");
        Worker { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Items this worker landed, and the files they held.
    fn items(&self) -> (usize, u64) {
        let lines: Vec<String> =
            self.log().lines().filter(|l| l.contains(" of job ") && l.contains(" files, ")).map(String::from).collect();
        // "... item N of job J: F files, B bytes in T s"
        let files =
            lines.iter().map(|l| l.split(": ").last().unwrap().split(' ').next().unwrap().parse::<u64>().unwrap());
        (lines.len(), files.sum())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed and reaped when dropped (a failing test leaves
/// nothing running).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn many_files(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        std::fs::write(dir.join(format!("f{i:05}")), format!("file {i}\n").repeat(i % 7 + 1)).unwrap();
    }
}

fn files_in(snap: &common::Snapshot) -> u64 {
    snap.values().filter(|n| matches!(n, common::Node::File { .. })).count() as u64
}

#[test]
fn several_workers_land_the_tree_a_single_copy_lands() {
    let nats = NatsServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::awkward_tree(&src);
    // More entries than one item holds: the job is split.
    many_files(&src.join("many"), 5000);
    let module = tmp.path().join("module");
    std::fs::create_dir(&module).unwrap();
    let daemon = Daemon::modules(&[("m", &module, false)]);
    let workers: Vec<_> = (1..=3).map(|i| Worker::start(&nats, &format!("w{i}"), tmp.path())).collect();

    let out = blit_ok(&[
        OsStr::new("copy"),
        OsStr::new("--queue"),
        OsStr::new(&nats.url()),
        OsStr::new("--json"),
        &slash(&src),
        &daemon.url("/m/dst/"),
    ]);
    let s = summary(&out);
    let want = snapshot(&src);
    assert_same(&want, &snapshot(&module.join("dst")));
    assert_eq!(s["files_transferred"], files_in(&want), "{s}");
    let (items, files) = workers.iter().map(Worker::items).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert!(items >= 2, "the job was split into items: {items}");
    let logs: Vec<String> = workers.iter().map(Worker::log).collect();
    assert_eq!(
        files,
        files_in(&want),
        "the workers copied every file (the last pass none): {}\n{logs:?}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same job on one machine without the queue lands the same tree.
    let single = tmp.path().join("single");
    blit_ok(&[OsStr::new("copy"), &slash(&src), single.as_os_str()]);
    assert_same(&snapshot(&single), &snapshot(&module.join("dst")));
}

/// Waits until `done` holds, for at most `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Any regular file (a partial copy counts) below `dir`.
fn any_file(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let t = e.file_type().unwrap();
        (t.is_file() && e.metadata().is_ok_and(|m| m.len() > 0)) || (t.is_dir() && any_file(&e.path()))
    })
}

fn inodes(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root).unwrap().flatten() {
        out.push((e.path(), e.metadata().unwrap().ino()));
    }
    out.sort();
    out
}

#[test]
fn killed_workers_and_a_killed_submitter_lose_nothing_and_a_rerun_rewrites_nothing() {
    let nats = NatsServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for i in 0..4 {
        let data: Vec<u8> =
            (0..24 << 20).map(|j: u32| (j.wrapping_mul(2654435761).wrapping_add(i) >> 13) as u8).collect();
        std::fs::write(src.join(format!("big{i}")), data).unwrap();
    }
    let dst = tmp.path().join("dst");
    let job = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_blit"));
        c.args(["copy", "--queue", &nats.url(), "--bwlimit", "16M"]).args(extra).arg(slash(&src)).arg(&dst);
        c
    };
    // One worker takes the first item (three files, 72 MiB at 16 MiB/s).
    let a = Worker::start(&nats, "a", tmp.path());
    let mut submitted = Reaped(job(&[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    wait_until(Duration::from_secs(30), "the first bytes land", || any_file(&dst));
    // Kill the worker mid-item and the submitting command mid-job.
    let mut a = a;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    submitted.0.kill().unwrap();
    submitted.0.wait().unwrap();
    let b = Worker::start(&nats, "b", tmp.path());
    // The rerun resumes the job: it ends only once every item has a done
    // record, so the killed worker's item must have come back to `b`.
    let rerun = job(&["--json"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    assert!(rerun.status.success(), "rerun failed: {stderr}");
    assert!(stderr.contains("resuming job"), "the rerun resumed: {stderr}");
    assert!(b.log().contains("item 1 of job"), "the killed worker's item went to b: {}", b.log());
    assert_same(&snapshot(&src), &snapshot(&dst));

    // A finished job's rerun plans nothing and rewrites nothing.
    let before = inodes(&dst);
    let again = job(&["--json"]).output().unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let s = summary(&again);
    assert_eq!(s["files_transferred"], 0, "{s}");
    assert_eq!(s["bytes_transferred"], 0, "{s}");
    assert_eq!(inodes(&dst), before, "no file was replaced");
}

#[test]
fn a_worker_stopped_with_sigterm_gives_its_item_back_at_once() {
    let nats = NatsServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let data: Vec<u8> = (0..48u32 << 20).map(|j| (j.wrapping_mul(2654435761) >> 11) as u8).collect();
    std::fs::write(src.join("big"), data).unwrap();
    let dst = tmp.path().join("dst");
    // A lease far longer than the test: only giving back can hand the item on.
    let mut a = Worker::with_lease(&nats, "a", tmp.path(), 600);
    let mut submitted = Reaped(
        Command::new(env!("CARGO_BIN_EXE_blit"))
            .args(["copy", "--queue", &nats.url(), "--bwlimit", "8M", "--json"])
            .arg(slash(&src))
            .arg(&dst)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(Duration::from_secs(30), "the first bytes land", || any_file(&dst));
    // SAFETY: kill(2) on a child we started and have not reaped.
    assert_eq!(unsafe { libc::kill(a.child.id() as i32, libc::SIGTERM) }, 0);
    let stopped = Instant::now();
    wait_until(Duration::from_secs(10), "the worker stops", || a.child.try_wait().unwrap().is_some());
    assert!(a.child.wait().unwrap().success(), "a stopped worker exits 0");
    assert!(a.log().contains("gave item 1 of job"), "{}", a.log());
    let b = Worker::with_lease(&nats, "b", tmp.path(), 600);
    let ended = Instant::now();
    while submitted.0.try_wait().unwrap().is_none() {
        assert!(ended.elapsed() < Duration::from_secs(120), "the job did not end; b: {}", b.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(submitted.0.wait().unwrap().success());
    assert!(stopped.elapsed() < Duration::from_secs(100), "the item did not wait for a lease to run out");
    assert_same(&snapshot(&src), &snapshot(&dst));
}

#[test]
fn a_mirror_deletes_once_every_item_landed() {
    let nats = NatsServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    many_files(&src.join("d"), 50);
    let dst = tmp.path().join("dst");
    many_files(&dst.join("d"), 3);
    std::fs::write(dst.join("d/extra"), b"not in the source").unwrap();
    let _w = Worker::start(&nats, "w", tmp.path());
    let out = blit_ok(&[
        OsStr::new("mirror"),
        OsStr::new("--queue"),
        OsStr::new(&nats.url()),
        OsStr::new("--json"),
        &slash(&src),
        dst.as_os_str(),
    ]);
    assert_eq!(summary(&out)["deleted"], 1);
    assert_same(&snapshot(&src), &snapshot(&dst));
}

#[test]
fn what_cannot_be_spread_is_refused_and_an_unreachable_queue_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    many_files(&src, 2);
    let dst = tmp.path().join("dst");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("nats://127.0.0.1:{port}");
    let out = blit(&[OsStr::new("copy"), OsStr::new("--queue"), OsStr::new(&url), &slash(&src), dst.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&url) && err.contains("nats-server"), "{err}");
    assert!(!dst.exists(), "nothing was copied");

    let out = blit(&[
        OsStr::new("copy"),
        OsStr::new("-H"),
        OsStr::new("--queue"),
        OsStr::new(&url),
        &slash(&src),
        dst.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("-H cannot be spread"), "{err}");
    let out =
        blit(&[OsStr::new("copy"), OsStr::new("--queue"), OsStr::new("localhost:4222"), &slash(&src), dst.as_os_str()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nats://HOST:PORT"));
    assert!(!dst.exists(), "nothing was copied");
}

/// A nats-server, a temporary directory, a source of 20 files in it and
/// the path of a destination beside it.
fn queue_and_twenty_files() -> (NatsServer, tempfile::TempDir, PathBuf, PathBuf) {
    let nats = NatsServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    many_files(&src, 20);
    let dst = tmp.path().join("dst");
    (nats, tmp, src, dst)
}

/// The arguments of `blit copy --queue NATS EXTRA... SRC/ DST`.
fn queued_copy(nats: &NatsServer, extra: &[&str], src: &Path, dst: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["copy", "--queue", &nats.url()].map(Into::into).into();
    args.extend(extra.iter().map(Into::into));
    args.extend([slash(src), dst.as_os_str().to_owned()]);
    args
}

#[test]
fn without_workers_timeout_stops_following_and_a_rerun_picks_the_job_up() {
    let (nats, tmp, src, dst) = queue_and_twenty_files();
    let copy = |extra: &[&str]| {
        let args = queued_copy(&nats, extra, &src, &dst);
        blit(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>())
    };
    let started = Instant::now();
    let out = copy(&["--timeout", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no progress for 2 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let _w = Worker::start(&nats, "late", tmp.path());
    let out = copy(&["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming job"));
    assert_same(&snapshot(&src), &snapshot(&dst));
}

#[test]
fn items_purged_from_the_queue_are_left_to_the_last_pass_not_waited_for() {
    let (nats, tmp, src, dst) = queue_and_twenty_files();
    let args = |extra: &[&str]| queued_copy(&nats, extra, &src, &dst);
    // Planned, with no worker to take the items; then an operator purges
    // the work stream.
    let out = blit(&args(&["--timeout", "2"]).iter().map(|a| a.as_os_str()).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    nats.purge("BLIT_WORK");

    // Resumed, it must not wait for items that will never come (bounded
    // here: a hang fails the test instead of stalling it).
    let log = tmp.path().join("resume.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_blit"))
        .args(args(&[]))
        .env_remove("BLIT_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("still following lost items after 90 s: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("resuming job"), "{err}");
    assert!(err.contains("left the queue without being done"), "{err}");
    assert_same(&snapshot(&src), &snapshot(&dst));
}

#[test]
fn a_large_file_goes_out_in_ranges_and_lands_once() {
    let nats = NatsServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let size = (18 << 20) + 12345;
    let data: Vec<u8> = (0..size as u32).map(|j| (j.wrapping_mul(2654435761) >> 9) as u8).collect();
    std::fs::write(src.join("big"), &data).unwrap();
    std::fs::write(src.join("small"), b"small file").unwrap();
    let dst = tmp.path().join("dst");
    let workers: Vec<_> = (1..=2).map(|i| Worker::start(&nats, &format!("r{i}"), tmp.path())).collect();
    let out = blit_ok(&[
        OsStr::new("copy"),
        OsStr::new("--queue"),
        OsStr::new(&nats.url()),
        OsStr::new("--item-size"),
        OsStr::new("4M"),
        OsStr::new("--json"),
        &slash(&src),
        dst.as_os_str(),
    ]);
    assert_same(&snapshot(&src), &snapshot(&dst));
    let s = summary(&out);
    // Five ranges of the big file and one item for the small one; each
    // byte moved once, each file counted once.
    let items: usize = workers.iter().map(|w| w.items().0).sum();
    assert_eq!(items, 6, "{}", workers.iter().map(Worker::log).collect::<String>());
    assert_eq!(s["bytes_transferred"], size + 10, "{s}");
    assert_eq!(s["files_transferred"], 2, "{s}");
    assert!(std::fs::read_dir(&dst).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".part")));
}
