//! Opening directories below the destination root without following
//! symlinks.
//!
//! Payload headers may come from a peer (a pull from a daemon, a push into
//! one), and a destination may hold symlinks from earlier runs. Landing
//! `a/x` where `a` is a symlink to `/etc` must not write into `/etc`, so the
//! writer resolves a file's directory with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` relative to a descriptor of the root, then creates
//! and renames relative to that directory. Kernels without `openat2` (before
//! 5.6, or behind a seccomp filter that refuses it) get the same guarantee
//! from a walk of `openat(O_NOFOLLOW | O_DIRECTORY)`, one component at a time.
//! The calls are rustix's safe wrappers.

use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Flags of every directory descriptor opened here (used only as `dirfd`).
const DIR_FLAGS: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

/// Cleared when the kernel refuses `openat2`.
static OPENAT2: AtomicBool = AtomicBool::new(true);

pub(crate) fn c_bytes(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

fn errno(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// `openat(dir, name)` with `flags` (and `O_CLOEXEC`).
pub(crate) fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: OFlags, mode: u32) -> io::Result<OwnedFd> {
    rustix::fs::openat(dir, name, flags | OFlags::CLOEXEC, Mode::from_raw_mode(mode)).map_err(errno)
}

/// `openat2(dir, rel, flags)` resolving strictly below `dir` with no symlink
/// on the way; `None` when the kernel lacks `openat2` (then remembered).
fn openat2_beneath(dir: BorrowedFd<'_>, rel: &[u8], flags: OFlags) -> Option<io::Result<OwnedFd>> {
    if !OPENAT2.load(Ordering::Relaxed) {
        return None;
    }
    let path = match c_bytes(rel) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
    match rustix::fs::openat2(dir, path.as_c_str(), flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM | rustix::io::Errno::TOOBIG) => {
            OPENAT2.store(false, Ordering::Relaxed);
            None
        }
        other => Some(other.map_err(errno)),
    }
}

/// Opens the directory `rel` (raw bytes, `/`-separated, empty for `dir`
/// itself) below `dir`, refusing symlinks and escapes on every component.
pub(crate) fn open_dir(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    let rel = if rel.is_empty() { &b"."[..] } else { rel };
    if let Some(result) = openat2_beneath(dir, rel, DIR_FLAGS) {
        return result;
    }
    walk(dir, rel, false)
}

/// Like [`open_dir`], but readable: for listing the directory's entries.
pub(crate) fn open_dir_readable(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW;
    let rel = if rel.is_empty() { &b"."[..] } else { rel };
    if let Some(result) = openat2_beneath(dir, rel, flags) {
        return result;
    }
    let held = walk(dir, rel, false)?;
    openat(held.as_fd(), c".", flags, 0)
}

/// Opens the regular file `rel` (non-empty) below `dir` for reading, with no
/// symlink followed on the way or at the end. A peer that names
/// `link/secret` (with `link -> /etc` inside the tree) gets `ELOOP`/`EXDEV`,
/// never the file outside.
pub(crate) fn open_file(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW;
    if let Some(result) = openat2_beneath(dir, rel, flags) {
        return result;
    }
    let (parent, name) = crate::tree::split(rel);
    let parent = walk(dir, if parent.is_empty() { &b"."[..] } else { parent }, false)?;
    openat(parent.as_fd(), &c_bytes(name)?, flags, 0)
}

/// Like [`open_dir`], creating missing directories (mode 0777 less umask).
pub(crate) fn create_dir(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    walk(dir, if rel.is_empty() { &b"."[..] } else { rel }, true)
}

/// Opens `rel` one component at a time with `O_NOFOLLOW`.
fn walk(dir: BorrowedFd<'_>, rel: &[u8], create: bool) -> io::Result<OwnedFd> {
    let mut cur = openat(dir, c".", DIR_FLAGS, 0)?;
    for comp in rel.split(|b| *b == b'/') {
        if comp.is_empty() || comp == b"." {
            continue;
        }
        if comp == b".." {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        let name = c_bytes(comp)?;
        let next = match openat(cur.as_fd(), &name, DIR_FLAGS | OFlags::NOFOLLOW, 0) {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                match rustix::fs::mkdirat(&cur, name.as_c_str(), Mode::from_raw_mode(0o777)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(errno(e)),
                }
                openat(cur.as_fd(), &name, DIR_FLAGS | OFlags::NOFOLLOW, 0)?
            }
            other => other?,
        };
        cur = next;
    }
    Ok(cur)
}

/// Whether `e` means a symlink or a non-directory stood in the path.
pub(crate) fn is_in_the_way(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR | libc::EXDEV))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(dir: &std::path::Path) -> OwnedFd {
        std::fs::File::open(dir).unwrap().into()
    }

    #[test]
    fn opens_real_directories_and_refuses_symlinks_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), dir.path().join("a/evil")).unwrap();
        std::os::unix::fs::symlink("b", dir.path().join("a/rel")).unwrap();
        let r = root(dir.path());
        for fallback in [false, true] {
            let open = |rel: &[u8]| if fallback { walk(r.as_fd(), rel, false) } else { open_dir(r.as_fd(), rel) };
            open(b"").unwrap();
            open(b"a/b").unwrap();
            for bad in [&b"a/evil"[..], b"a/rel", b"a/evil/x", b"../x"] {
                let e = open(bad).unwrap_err();
                assert!(is_in_the_way(&e), "fallback {fallback}, {:?}: {e}", String::from_utf8_lossy(bad));
            }
        }
        assert!(create_dir(r.as_fd(), b"a/evil/new").is_err(), "never creates through a symlink");
        std::fs::write(dir.path().join("outside/secret"), b"s").unwrap();
        std::fs::write(dir.path().join("a/b/f"), b"f").unwrap();
        std::os::unix::fs::symlink("b/f", dir.path().join("a/flink")).unwrap();
        assert!(open_file(r.as_fd(), b"a/b/f").is_ok());
        for bad in [&b"a/evil/secret"[..], b"a/flink", b"../outside/secret"] {
            assert!(open_file(r.as_fd(), bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(!dir.path().join("outside/new").exists());
        create_dir(r.as_fd(), b"a/new/deeper").unwrap();
        assert!(dir.path().join("a/new/deeper").is_dir());
    }
}
