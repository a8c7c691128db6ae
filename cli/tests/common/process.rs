//! Real processes for the tests that need them: a blitd process (the test
//! binary itself, re-executed), optionally as another user or inside a
//! mount namespace with a small tmpfs, and tmpfs mounts a test can reach
//! from outside through `/proc/<pid>/root`.
//!
//! A test binary that uses [`DaemonProcess`] must be `harness = false` and
//! call [`serve_if_asked`] first thing in `main`.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Set on the re-executed test binary: the directory to serve as module `m`.
const DAEMON_ENV: &str = "BLIT_TEST_DAEMON_MODULE";

/// In the re-executed test binary: serves `$BLIT_TEST_DAEMON_MODULE` as
/// module `m` on 127.0.0.1:0, prints the port, and serves until killed or
/// until stdin closes. Returns `false` in a normal test run.
pub fn serve_if_asked() -> bool {
    let Some(module) = std::env::var_os(DAEMON_ENV) else { return false };
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", Path::new(&module).display())).expect("a valid module");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("{}", listener.local_addr().expect("address").port());
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await;
        };
        blit_daemon::run(listener, config, stdin_closed).await.expect("the daemon serves");
    });
    true
}

/// Whether this process runs as root (some tests then drop privileges).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The user tests drop to when they run as root.
pub const NOBODY: u32 = 65534;

/// `exe`, or a copy of it in `scratch` when another user could not run it
/// where it is (a checkout below a private home directory).
pub fn runnable_by_others(exe: &Path, scratch: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let open = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0);
    if exe.ancestors().all(open) {
        return exe.to_path_buf();
    }
    let copy = scratch.join(exe.file_name().expect("a file name"));
    if !copy.exists() {
        std::fs::copy(exe, &copy).expect("copy the executable");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    copy
}

/// A blitd process serving one module as `m`.
pub struct DaemonProcess {
    child: Child,
    pub port: u16,
}

impl DaemonProcess {
    /// Serves `module`.
    pub fn start(module: &Path) -> DaemonProcess {
        Self::spawn(Self::command(module))
    }

    /// Serves `module` as user `uid` (and group `uid`); `scratch` (a
    /// directory every user can read) holds a copy of this test binary when
    /// `uid` could not run it where it is.
    pub fn start_as(module: &Path, uid: u32, scratch: &Path) -> DaemonProcess {
        let exe = runnable_by_others(&std::env::current_exe().expect("this test binary"), scratch);
        let mut c = Command::new(exe);
        c.env(DAEMON_ENV, module).uid(uid).gid(uid);
        Self::spawn(c)
    }

    /// Serves `module`, on which a small tmpfs is mounted first in a new
    /// mount namespace (see [`Tmpfs`]); reach its files through
    /// [`DaemonProcess::view`].
    pub fn start_on_tmpfs(module: &Path, options: &str, prepare: &str) -> DaemonProcess {
        let exe = std::env::current_exe().expect("this test binary");
        let mut errors = Vec::new();
        for unshare in unshare_variants() {
            let mut c = Command::new("unshare");
            c.args(unshare).arg("sh").arg("-c").arg(mount_script(options, prepare, "exec \"$@\""));
            c.arg(module).arg(&exe).env(DAEMON_ENV, module);
            match Self::try_spawn(c) {
                Ok(d) => return d,
                Err(e) => errors.push(format!("unshare {}: {e}", unshare.join(" "))),
            }
        }
        panic!("cannot serve a module on a small tmpfs; this test needs a mount namespace: {}", errors.join("; "))
    }

    fn command(module: &Path) -> Command {
        let mut c = Command::new(std::env::current_exe().expect("this test binary"));
        c.env(DAEMON_ENV, module);
        c
    }

    fn spawn(c: Command) -> DaemonProcess {
        Self::try_spawn(c).unwrap_or_else(|e| panic!("the daemon process: {e}"))
    }

    fn try_spawn(mut c: Command) -> Result<DaemonProcess, String> {
        let mut child =
            c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| e.to_string())?;
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
        match line.trim().parse() {
            Ok(port) => {
                // Keep stderr flowing so a chatty daemon never blocks.
                let mut err = child.stderr.take().expect("stderr");
                std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::stderr()));
                Ok(DaemonProcess { child, port })
            }
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                let _ = child.stderr.take().expect("stderr").read_to_string(&mut err);
                let _ = child.wait();
                Err(format!("printed {line:?}, not a port: {}", err.trim()))
            }
        }
    }

    /// `127.0.0.1:PORT:rest`.
    pub fn url(&self, rest: &str) -> OsString {
        OsString::from(format!("127.0.0.1:{}:{rest}", self.port))
    }

    /// `path` as this process sees it (inside its mount namespace).
    pub fn view(&self, path: &Path) -> PathBuf {
        proc_root(self.child.id(), path)
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process still runs.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `path` inside the mount namespace of process `pid`.
fn proc_root(pid: u32, path: &Path) -> PathBuf {
    let rel = path.strip_prefix("/").expect("an absolute path");
    PathBuf::from(format!("/proc/{pid}/root")).join(rel)
}

/// How to get a private mount namespace: as root directly, else (or when
/// that is refused) inside a user namespace.
fn unshare_variants() -> Vec<&'static [&'static str]> {
    if is_root() {
        vec![&["-m"], &["-r", "-m"]]
    } else {
        vec![&["-r", "-m"]]
    }
}

/// Mounts a tmpfs with `options` on `$0`, runs `prepare`, says `ready`
/// when it serves a test reading stdout, then `then`.
fn mount_script(options: &str, prepare: &str, then: &str) -> String {
    let prepare = if prepare.is_empty() { String::new() } else { format!("{prepare} && ") };
    format!("mount -t tmpfs -o {options} tmpfs \"$0\" && {prepare}{then}")
}

/// A small tmpfs mounted on a directory in a private mount namespace, held
/// by a process for as long as this value lives. Other processes reach it
/// through [`Tmpfs::path`] (`/proc/<holder>/root/<dir>`), so nothing is
/// mounted where the rest of the machine could see it, and nothing stays
/// mounted if the test dies.
///
/// Panics, saying why, when no mount namespace can be had (neither as root
/// nor through a user namespace): the tests that need one must fail loudly
/// rather than pass without testing anything.
pub struct Tmpfs {
    holder: Child,
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (e.g. `size=1m`) on `dir` (which must
    /// exist), then runs the shell command `prepare` with the mount point
    /// as `$0` (e.g. `mkdir "$0/d" && mount -o remount,ro "$0"`).
    pub fn mount(dir: &Path, options: &str, prepare: &str) -> Tmpfs {
        let mut errors = Vec::new();
        for unshare in unshare_variants() {
            let mut child = Command::new("unshare")
                .args(unshare)
                .arg("sh")
                .arg("-c")
                .arg(mount_script(options, prepare, "echo ready && exec cat"))
                .arg(dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("unshare runs (util-linux)");
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
            if line.trim() == "ready" {
                return Tmpfs { holder: child, dir: dir.to_path_buf() };
            }
            let mut err = String::new();
            let _ = child.stderr.take().expect("stderr").read_to_string(&mut err);
            let _ = child.wait();
            errors.push(format!("unshare {}: {}", unshare.join(" "), err.trim()));
        }
        panic!("cannot mount a small tmpfs for this test (it needs root or user namespaces): {}", errors.join("; "))
    }

    /// The mount point, as other processes reach it.
    pub fn path(&self) -> PathBuf {
        proc_root(self.holder.id(), &self.dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Closing stdin ends `cat`, the holder, and with it the namespace.
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
    }
}
