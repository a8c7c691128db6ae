//! Where a landing file's bytes wait until commit.
//!
//! Where the filesystem can make unnamed files (`O_TMPFILE`) and link them
//! in through `/proc/self/fd`, a file is written unnamed and linked in under
//! its final name on commit: the name appears only with the whole content,
//! a crash leaves nothing behind, and a new file costs one `linkat` instead
//! of a temporary name, its lock and a `renameat`. Only when something
//! already has the final name does the file get a locked temporary name,
//! renamed over it. Elsewhere (no `O_TMPFILE`, no `/proc`), files are created
//! under a locked temporary name from the start. Large files always land
//! under their `.part` name, which an interruption leaves for `--resume`.

use crate::beneath;
use crate::meta;
use crate::sweep;
use crate::temp::temp_name;
use rustix::fs::{AtFlags, Mode, OFlags};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};

// Read and write: `--verify` reads what was written before it is named.
const CREATE_FLAGS: OFlags = OFlags::RDWR.union(OFlags::CREATE).union(OFlags::EXCL).union(OFlags::NOFOLLOW);

/// Whether this process can link unnamed files in: not tried yet.
const UNTRIED: u8 = 0;
/// Linking an unnamed file in has worked.
const WORKS: u8 = 1;
/// Unnamed files cannot be made or linked in here.
const BROKEN: u8 = 2;

/// What this process learnt about unnamed files (one of the constants above).
static UNNAMED: AtomicU8 = AtomicU8::new(UNTRIED);

/// Where a landing file's bytes are until commit.
#[derive(Debug)]
pub(super) enum Staged {
    /// Unnamed (`O_TMPFILE`): [`link_in`] names it on commit.
    Unnamed,
    /// Under this temporary (or `.part`) name, renamed over the target on
    /// commit.
    Temp(CString),
    /// At its final name already (an empty file created with `O_EXCL`).
    Direct,
}

/// An unnamed file in `dir` with the final `mode` (less the umask), or
/// `None` where this process cannot link unnamed files in (or has not yet
/// seen it work: the first file goes through [`create_locked`], which
/// proves it).
pub(super) fn create_unnamed(dir: &OwnedFd, mode: u32) -> io::Result<Option<File>> {
    if UNNAMED.load(Ordering::Relaxed) != WORKS {
        return Ok(None);
    }
    let mode = Mode::from_raw_mode(mode & meta::MODE_MASK);
    // Readable too: `rescue` may have to copy it out.
    match rustix::fs::openat(dir, c".", OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC, mode) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => Ok(None),
        Err(e) => Err(crate::tree::errno(e)),
    }
}

/// Links the unnamed `file` into `dir` as `name`; `AlreadyExists` when
/// something has that name (nothing is replaced).
pub(super) fn link_in(file: &File, dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    let proc = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(rustix::fs::CWD, proc.as_str(), dir, name, AtFlags::SYMLINK_FOLLOW).map_err(crate::tree::errno)
}

/// This process stops making unnamed files (one could not be linked in).
pub(super) fn give_up_unnamed() {
    UNNAMED.store(BROKEN, Ordering::Relaxed);
}

/// When an unnamed file cannot be linked in after all (a filesystem that
/// makes unnamed files but refuses to link them): copies `file` into a new
/// locked temporary file in `dir` and returns it with its name.
pub(super) fn rescue(file: &File, dir: &OwnedFd, mode: u32) -> io::Result<(File, CString)> {
    let (mut named, name) = create_temp(dir, mode)?;
    let copied = (|| {
        let mut from = file.try_clone()?;
        std::io::Seek::seek(&mut from, std::io::SeekFrom::Start(0))?;
        std::io::copy(&mut from, &mut named).map(drop)
    })();
    if let Err(e) = copied {
        let _ = rustix::fs::unlinkat(dir, name.as_c_str(), AtFlags::empty());
        return Err(e);
    }
    Ok((named, name))
}

/// Gives the unnamed `file` a fresh temporary name in `dir`, locked before
/// the name appears (see `sweep`).
pub(super) fn name_unnamed(file: &File, dir: &OwnedFd) -> io::Result<CString> {
    sweep::lock_temp(file);
    fresh_name(|name| link_in(file, dir, name))
}

/// Creates the new, empty file `name` in `dir`, already locked when its
/// name appears (see `sweep`: the lock alone tells a live writer's file
/// from a crashed run's). The file is made unnamed (`O_TMPFILE`), locked,
/// then linked in under `name`; where the filesystem cannot make unnamed
/// files, it is created under `name` and locked at once. The final mode
/// (less the umask) is set from the start: the open descriptor can write
/// whatever the mode, and commit then needs no `fchmod` unless the umask
/// took bits away. `AlreadyExists` when something has that name.
pub(super) fn create_locked(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<File> {
    create_held(dir, name, mode, Hold::Exclusive)
}

/// How a new file is held from before its name appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hold {
    /// Exclusively, as every writer holds its temporary file.
    Exclusive,
    /// Shared, and already `len` bytes long (holes): a partial copy that
    /// part-range writers share (see `range`).
    Shared(u64),
}

/// [`create_locked`], held as `hold` says.
pub(super) fn create_held(dir: &OwnedFd, name: &CStr, mode: u32, hold: Hold) -> io::Result<File> {
    let take = |file: &File| match hold {
        Hold::Exclusive => {
            sweep::lock_temp(file);
            Ok(())
        }
        Hold::Shared(len) => {
            crate::partial::try_share(file);
            file.set_len(len)
        }
    };
    if UNNAMED.load(Ordering::Relaxed) != BROKEN {
        let raw = Mode::from_raw_mode(mode & meta::MODE_MASK);
        match rustix::fs::openat(dir, c".", OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC, raw) {
            Ok(fd) => {
                let file = File::from(fd);
                take(&file)?;
                match link_in(&file, dir, name) {
                    Ok(()) => {
                        UNNAMED.store(WORKS, Ordering::Relaxed);
                        return Ok(file);
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
                    // No /proc, or a filesystem that will not link it.
                    Err(_) => UNNAMED.store(BROKEN, Ordering::Relaxed),
                }
            }
            Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
                UNNAMED.store(BROKEN, Ordering::Relaxed)
            }
            Err(e) => return Err(crate::tree::errno(e)),
        }
    }
    let file = File::from(beneath::openat(dir.as_fd(), name, CREATE_FLAGS, mode & meta::MODE_MASK)?);
    if let Err(e) = take(&file) {
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
        return Err(e);
    }
    Ok(file)
}

/// Creates `name` in `dir` directly (`O_EXCL`: never replaces anything).
pub(super) fn create_direct(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<File> {
    beneath::openat(dir.as_fd(), name, CREATE_FLAGS, mode & meta::MODE_MASK).map(File::from)
}

/// Creates a new, empty temporary file in `dir`, locked (see
/// [`create_locked`]).
pub(super) fn create_temp(dir: &OwnedFd, mode: u32) -> io::Result<(File, CString)> {
    let mut file = None;
    let name = fresh_name(|name| {
        file = Some(create_locked(dir, name, mode)?);
        Ok(())
    })?;
    Ok((file.expect("created"), name))
}

/// Runs `make` with fresh temporary names until one is free. A name can
/// only clash with a leftover of an earlier process that had the same pid;
/// a few fresh counters get past it.
fn fresh_name(mut make: impl FnMut(&CStr) -> io::Result<()>) -> io::Result<CString> {
    let mut last = None;
    for _ in 0..4 {
        let name = beneath::c_bytes(&temp_name())?;
        match make(&name) {
            Ok(()) => return Ok(name),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// Whether this process links unnamed files in.
#[cfg(test)]
pub(super) fn links_unnamed() -> bool {
    UNNAMED.load(Ordering::Relaxed) == WORKS
}
