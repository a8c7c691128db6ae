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

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicBool, Ordering};

/// Flags of every directory descriptor opened here (used only as `dirfd`).
#[cfg(target_os = "linux")]
const DIR_FLAGS: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
#[cfg(not(target_os = "linux"))]
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;

/// Cleared when the kernel refuses `openat2`.
#[cfg(target_os = "linux")]
static OPENAT2: AtomicBool = AtomicBool::new(true);

pub(crate) fn c_bytes(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

fn check(fd: libc::c_long) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// `openat(dir, name)` with `flags`.
pub(crate) fn openat(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and `dir` is an open descriptor.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, libc::c_uint::from(mode)) };
    check(fd as libc::c_long)
}

/// `openat2(dir, rel, flags)` resolving strictly below `dir` with no symlink
/// on the way; `None` when the kernel lacks `openat2` (then remembered).
#[cfg(target_os = "linux")]
fn openat2_beneath(dir: BorrowedFd<'_>, rel: &[u8], flags: libc::c_int) -> Option<io::Result<OwnedFd>> {
    if !OPENAT2.load(Ordering::Relaxed) {
        return None;
    }
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow { flags: flags as u64, mode: 0, resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS };
    let path = match c_bytes(rel) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    // SAFETY: openat2 reads `size_of::<OpenHow>()` bytes of `how` (the
    // kernel's `struct open_how`) and the NUL-terminated path.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    match check(fd) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM | libc::E2BIG)) => {
            OPENAT2.store(false, Ordering::Relaxed);
            None
        }
        other => Some(other),
    }
}

#[cfg(not(target_os = "linux"))]
fn openat2_beneath(_: BorrowedFd<'_>, _: &[u8], _: libc::c_int) -> Option<io::Result<OwnedFd>> {
    None
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
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
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
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    if let Some(result) = openat2_beneath(dir, rel, flags) {
        return result;
    }
    let (parent, name) = match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (&b""[..], rel),
    };
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
        let next = match openat(cur.as_fd(), &name, DIR_FLAGS | libc::O_NOFOLLOW, 0) {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                // SAFETY: `name` is NUL-terminated and `cur` is open.
                if unsafe { libc::mkdirat(cur.as_raw_fd(), name.as_ptr(), 0o777) } != 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::AlreadyExists {
                        return Err(e);
                    }
                }
                openat(cur.as_fd(), &name, DIR_FLAGS | libc::O_NOFOLLOW, 0)?
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
