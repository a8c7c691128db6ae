//! Recursive delete that never follows a symlink and never leaves the
//! descriptor tree: each directory is opened with `O_NOFOLLOW` relative to
//! its parent's descriptor, emptied through that descriptor, then removed
//! by name from its parent. A symlink (or anything else) swapped in for a
//! directory is unlinked as the link it is; what it points to is untouched.
//!
//! Depth costs a stack of descriptors (one per level), not recursion, so a
//! deep tree cannot exhaust the thread's stack; a tree deeper than
//! [`MAX_DEPTH`] is refused with an error rather than half-walked.

use super::errno;
use rustix::fs::{AtFlags, Dir, Mode, OFlags};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Levels of directories held open at once.
const MAX_DEPTH: usize = 512;

fn open_child(dir: BorrowedFd<'_>, name: &CStr) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Removes `name` in `dir`: unlinks a non-directory, empties and removes a
/// directory. A missing entry is an error (`NotFound`).
pub(super) fn remove_all(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        // Linux answers EISDIR for a directory; POSIX allows EPERM.
        Err(rustix::io::Errno::ISDIR | rustix::io::Errno::PERM) => {}
        Err(e) => return Err(errno(e)),
    }
    empty(dir, name)?;
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(errno)
}

/// Empties the directory `name` in `dir`.
fn empty(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let top = match open_child(dir, name) {
        Ok(fd) => fd,
        // Not a directory any more (swapped): unlink it as what it is.
        Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(errno)?;
            return Ok(());
        }
        Err(e) => return Err(errno(e)),
    };
    // Each level: its descriptor and the name it has in the level above.
    let mut stack: Vec<(OwnedFd, Option<CString>)> = vec![(top, None)];
    while let Some((fd, _)) = stack.last() {
        let mut descend = None;
        let mut reader = Dir::read_from(fd).map_err(errno)?;
        while let Some(entry) = reader.read() {
            let entry = entry.map_err(errno)?;
            let child = entry.file_name();
            if child == c"." || child == c".." {
                continue;
            }
            match rustix::fs::unlinkat(fd, child, AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(rustix::io::Errno::ISDIR | rustix::io::Errno::PERM) => {
                    match rustix::fs::unlinkat(fd, child, AtFlags::REMOVEDIR) {
                        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                        Err(rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => {
                            descend = Some(child.to_owned());
                            break;
                        }
                        Err(e) => return Err(errno(e)),
                    }
                }
                Err(e) => return Err(errno(e)),
            }
        }
        match descend {
            Some(child) if stack.len() < MAX_DEPTH => {
                let opened = open_child(fd.as_fd(), &child);
                match opened {
                    Ok(sub) => stack.push((sub, Some(child))),
                    Err(rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP) => {
                        rustix::fs::unlinkat(fd, &child, AtFlags::empty()).map_err(errno)?;
                    }
                    Err(e) => return Err(errno(e)),
                }
            }
            Some(_) => {
                return Err(io::Error::other(format!("more than {MAX_DEPTH} levels of directories to delete")));
            }
            None => {
                let (_, name) = stack.pop().expect("the stack is not empty");
                remove_level(&stack, name)?;
            }
        }
    }
    Ok(())
}

/// Removes the emptied level `name` from the level above it (the top level
/// is removed by the caller). Something that appeared in it meanwhile is
/// found when the level above is read again.
fn remove_level(stack: &[(OwnedFd, Option<CString>)], name: Option<CString>) -> io::Result<()> {
    let (Some(name), Some((parent, _))) = (name, stack.last()) else { return Ok(()) };
    match rustix::fs::unlinkat(parent, &name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => Err(errno(e)),
    }
}
