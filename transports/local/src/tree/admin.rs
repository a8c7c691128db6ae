//! What `blit rm` and `blit df` do to a tree's root, through the same held
//! descriptors as every transfer.

use super::Anchor;
use blit_api::{Expect, FileKind, Space};
use std::io;
use std::os::fd::AsFd;

impl Anchor {
    /// Removes the entry at the root: a file or a symlink (the link itself,
    /// never what it points to) is unlinked, a directory emptied depth-first
    /// and removed, each level relative to its parent's descriptor, nothing
    /// followed (the same delete mirror runs). Returns what the entry was.
    ///
    /// A held directory itself (a module's root) is never removed:
    /// `PermissionDenied`. A missing entry is `NotFound`.
    pub fn remove(&self) -> io::Result<FileKind> {
        if self.is_protected() {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "the root of a module is never removed"));
        }
        let at = self.parent(false)?;
        let kind = at.stat()?.ok_or(io::ErrorKind::NotFound)?.kind().unwrap_or(FileKind::File);
        at.remove_all()?;
        Ok(kind)
    }

    /// Removes the entry at the root only if it is still what `expect`
    /// says (`blit move`): a file or symlink of that kind, size and mtime
    /// (unlinked, never followed), or an empty directory (`rmdir`). Returns
    /// false, changing nothing, when it differs, is missing or (a
    /// directory) is not empty; a held root is never removed.
    pub fn remove_if(&self, expect: Expect) -> io::Result<bool> {
        if self.is_protected() {
            return Ok(false);
        }
        let at = self.parent(false)?;
        let Some(now) = at.stat()? else { return Ok(false) };
        let removed = match expect {
            Expect::Entry { kind, size, mtime_ns } => {
                let same = now.kind() == Some(kind) && kind != FileKind::Dir && now.mtime_ns == mtime_ns;
                // A symlink's size is its target's length wherever it was read.
                if !same || (kind == FileKind::File && now.size != size) {
                    return Ok(false);
                }
                at.unlink()
            }
            Expect::EmptyDir if now.is_dir() => at.rmdir(),
            Expect::EmptyDir => return Ok(false),
        };
        match removed {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST) | Some(libc::ENOENT)) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The size and free space of the file system that holds the root
    /// (`fstatvfs` on a descriptor opened beneath the held directory; for a
    /// root that is not a directory, on its parent's). `NotFound` when
    /// nothing stands at the root.
    pub fn space(&self) -> io::Result<Space> {
        let st = match self.root_kind()? {
            None => return Err(io::ErrorKind::NotFound.into()),
            Some(FileKind::Dir) => rustix::fs::fstatvfs(self.open_root(false)?),
            Some(_) => rustix::fs::fstatvfs(self.parent(false)?.dir.as_fd()),
        }
        .map_err(super::errno)?;
        let bytes = |blocks: u64| blocks.saturating_mul(st.f_frsize);
        Ok(Space {
            total_bytes: bytes(st.f_blocks),
            free_bytes: bytes(st.f_bfree),
            available_bytes: bytes(st.f_bavail),
            total_inodes: st.f_files,
            free_inodes: st.f_ffree,
            available_inodes: st.f_favail,
        })
    }
}
