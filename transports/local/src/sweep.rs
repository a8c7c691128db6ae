//! Removing the temporary files of crashed runs.
//!
//! A run that is killed (SIGKILL, power loss, OOM) between creating
//! `.blit.<pid>.<n>.tmp` and renaming it leaves the temporary file behind;
//! the file under its final name still holds its old version. The next run
//! that lands a file in (or replaces a symlink in) that directory sweeps it
//! first: it removes every `.blit.<pid>.<n>.tmp` whose writer is gone. A
//! directory is swept once per run, on first use, so the cost is one
//! directory listing per directory that receives files.
//!
//! "Gone" must never mean "busy elsewhere": another blit may be landing into
//! the same directory right now. For regular files the writer's lock alone
//! decides: every writer holds an exclusive `flock` on its file from before
//! its name appears (the file is made unnamed, locked, then linked in; see
//! `landing::create`) until it is renamed or removed, and the kernel
//! drops the lock when the writer dies. A leftover whose lock can be taken
//! is abandoned. Process ids are not consulted: a recycled pid, or a writer
//! in another pid namespace (a containerised blitd), would fool them.
//!
//! Symlinks (a symlink replaced atomically goes through a temporary name as
//! well) cannot be locked; they exist for microseconds, so for them the
//! process id in the name decides (`kill(pid, 0)` answers `ESRCH`).
//!
//! The `.blit.<hash>.part` files large files land in (see `partial`) carry
//! no process id: the lock alone decides, and a transfer with `--resume`
//! keeps them all, since its judge may still offer them for resuming.

use crate::beneath::openat;
use crate::partial::is_part_name;
use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::io;
#[cfg(test)]
use std::os::fd::AsFd;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// The shape of every temporary name: `.blit.<pid>.<n>.tmp`.
const PREFIX: &[u8] = b".blit.";
const SUFFIX: &[u8] = b".tmp";

/// The process id in a temporary name, or `None` when `name` is not one.
pub(crate) fn temp_pid(name: &[u8]) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let dot = rest.iter().position(|b| *b == b'.')?;
    let (pid, counter) = (&rest[..dot], &rest[dot + 1..]);
    let digits = |s: &[u8]| !s.is_empty() && s.len() <= 20 && s.iter().all(u8::is_ascii_digit);
    if !digits(pid) || !digits(counter) {
        return None;
    }
    std::str::from_utf8(pid).ok()?.parse().ok()
}

/// Takes the lock every writer holds on its temporary file (best effort:
/// a filesystem without `flock` leaves the process check alone).
pub(crate) fn lock_temp(file: &std::fs::File) {
    // SAFETY: `file` is an open descriptor.
    let _ = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
}

/// Whether process `pid` exists (in this pid namespace).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Whether the leftover `name` in `dir` is abandoned: its writer is gone.
/// A `.part` (no `pid`) is decided by its lock alone.
fn abandoned(dir: BorrowedFd<'_>, name: &CStr, pid: Option<u32>) -> bool {
    let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    match openat(dir, name, flags, 0) {
        // The lock alone decides for a file (our own writers hold it too).
        // SAFETY: `fd` is open; the lock (if taken) goes with it.
        Ok(fd) => unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 },
        // A symlink (no lock): its writer's process decides.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            !pid.is_some_and(|pid| pid == std::process::id() || alive(pid))
        }
        // A file this process may not open, or gone meanwhile.
        _ => false,
    }
}

/// The names in `dir` that look like temporary files, with the process id
/// in the name (`None` for a `.part`, listed only unless `keep_parts`).
fn temp_names(dir: BorrowedFd<'_>, keep_parts: bool) -> io::Result<Vec<(CString, Option<u32>)>> {
    let mut names = Vec::new();
    // `dir` may be an `O_PATH` descriptor, which cannot be listed.
    let fd = openat(dir, c".", rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY, 0)?;
    let mut entries = rustix::fs::Dir::new(fd).map_err(crate::tree::errno)?;
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(crate::tree::errno)?;
        let name = entry.file_name();
        if let Some(pid) = temp_pid(name.to_bytes()) {
            names.push((name.to_owned(), Some(pid)));
        } else if !keep_parts && is_part_name(name.to_bytes()) {
            names.push((name.to_owned(), None));
        }
    }
    Ok(names)
}

/// Removes the abandoned temporary files in `dir` (and abandoned `.part`
/// files unless `keep_parts`); returns how many.
pub(crate) fn sweep(dir: BorrowedFd<'_>, keep_parts: bool) -> usize {
    let names = match temp_names(dir, keep_parts) {
        Ok(names) => names,
        Err(e) => {
            tracing::debug!("could not list a directory for leftover temporary files: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for (name, pid) in names {
        if !abandoned(dir, &name, pid) {
            continue;
        }
        // SAFETY: `name` is NUL-terminated and `dir` is open.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } == 0 {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!("removed {removed} temporary file(s) left by an interrupted run");
    }
    removed
}

/// Sweeps each directory once per transfer.
#[derive(Debug, Default)]
pub(crate) struct Sweeper {
    swept: Mutex<HashSet<Vec<u8>>>,
    /// `--resume`: `.part` files stay for the judge to offer.
    keep_parts: AtomicBool,
}

impl Sweeper {
    /// Keeps (`--resume`) or removes abandoned `.part` files from now on.
    pub(crate) fn keep_parts(&self, keep: bool) {
        self.keep_parts.store(keep, Ordering::Relaxed);
    }

    /// Sweeps `dir` (the directory `key` below the root) unless this
    /// transfer already did.
    pub(crate) fn once(&self, key: &[u8], dir: BorrowedFd<'_>) {
        if self.first(key) {
            sweep(dir, self.keep_parts.load(Ordering::Relaxed));
        }
    }

    fn first(&self, key: &[u8]) -> bool {
        self.swept.lock().unwrap_or_else(PoisonError::into_inner).insert(key.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;

    #[test]
    fn parses_temporary_names_only() {
        assert_eq!(temp_pid(b".blit.123.0.tmp"), Some(123));
        assert_eq!(temp_pid(b".blit.7.99999.tmp"), Some(7));
        for other in [&b".blit..0.tmp"[..], b".blit.1..tmp", b".blit.1.2", b"blit.1.2.tmp", b".blit.x.2.tmp", b"f"] {
            assert_eq!(temp_pid(other), None, "{:?}", String::from_utf8_lossy(other));
        }
    }

    /// A process id that no process has: a child that already exited and
    /// was reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!alive(pid));
        pid
    }

    /// A directory descriptor opened `O_PATH`, like those the tree holds.
    fn path_fd(dir: &std::path::Path) -> OwnedFd {
        use rustix::fs::{Mode, OFlags};
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).unwrap()
    }

    #[test]
    fn removes_leftovers_of_dead_writers_only() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let dead = dead_pid();
        let me = std::process::id();
        let names = [
            format!(".blit.{dead}.0.tmp"),
            format!(".blit.{dead}.1.tmp"),
            format!(".blit.{me}.0.tmp"),
            format!(".blit.{}.0.tmp", 1),
            format!(".blit.{dead}.2.tmp"),
            "keep".to_owned(),
            ".blit.notes".to_owned(),
        ];
        for n in &names[..4] {
            std::fs::write(d.join(n), b"partial").unwrap();
        }
        std::os::unix::fs::symlink("target", d.join(&names[4])).unwrap();
        std::fs::write(d.join("keep"), b"k").unwrap();
        std::fs::write(d.join(".blit.notes"), b"n").unwrap();
        // A live writer in another pid namespace: its id looks dead here, but
        // it holds the lock.
        let held = std::fs::File::open(d.join(&names[1])).unwrap();
        lock_temp(&held);
        // As in a transfer: the tree holds directories as O_PATH descriptors.
        let fd = path_fd(d);
        // The lock alone decides for files: unlocked ones go whatever the
        // pid in their name says (this process, or a live pid 1 that a
        // recycled id would look like); the symlink goes by its pid.
        assert_eq!(sweep(fd.as_fd(), false), 4);
        let mut left: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        let mut want: Vec<std::ffi::OsString> = [1, 5, 6].map(|i| names[i].clone().into()).to_vec();
        want.sort();
        assert_eq!(left, want, "kept only the locked file and what is not a temporary file");
        drop(held);
        assert_eq!(sweep(fd.as_fd(), false), 1, "the lock went with its holder");
        let sweeper = Sweeper::default();
        std::fs::write(d.join(&names[0]), b"again").unwrap();
        sweeper.once(b"", fd.as_fd());
        assert!(!d.join(&names[0]).exists());
        std::fs::write(d.join(&names[0]), b"again").unwrap();
        sweeper.once(b"", fd.as_fd());
        assert!(d.join(&names[0]).exists(), "a directory is swept once per transfer");
    }

    #[test]
    fn removes_unlocked_parts_unless_resuming() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let free = std::ffi::OsString::from(std::str::from_utf8(&crate::partial::part_name(b"a")).unwrap());
        let held = std::ffi::OsString::from(std::str::from_utf8(&crate::partial::part_name(b"b")).unwrap());
        std::fs::write(d.join(&free), b"half").unwrap();
        std::fs::write(d.join(&held), b"half").unwrap();
        let holder = std::fs::File::open(d.join(&held)).unwrap();
        lock_temp(&holder);
        let fd = path_fd(d);
        assert_eq!(sweep(fd.as_fd(), true), 0, "--resume keeps every .part");
        assert!(d.join(&free).exists());
        assert_eq!(sweep(fd.as_fd(), false), 1);
        assert!(!d.join(&free).exists(), "an unlocked .part is stale");
        assert!(d.join(&held).exists(), "a live writer's .part stays");
    }
}
