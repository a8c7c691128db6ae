//! Symlinks at the destination: made by the judge itself, as they carry no
//! payload. An existing link with the same target and mtime is kept; one
//! that differs, or a file in the way, is replaced atomically.

use super::{create_root_parent, lstat, split, Judge};
use crate::landing::{dir_in_the_way, temp_path};
use crate::meta;
use blit_api::{Error, ErrorKind, FileHeader, FileKind};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

impl Judge {
    /// Makes sure the symlink `h` describes stands at its path.
    pub(super) fn symlink(&mut self, h: &FileHeader, fresh_parent: bool) {
        let abs = h.path.to_path(&self.root);
        let Some(target) = h.link_target.as_deref() else {
            let e = Error::new(ErrorKind::Protocol, "symlink header without a target");
            return self.fail(&h.path, FileKind::Symlink, h.size, e.with_path(abs.display().to_string()));
        };
        let existing = match if fresh_parent { Ok(None) } else { lstat(&abs) } {
            Ok(m) => m,
            Err(e) => {
                return self.fail(&h.path, FileKind::Symlink, h.size, Error::io("read metadata", abs.display(), e))
            }
        };
        if let Some(m) = &existing {
            if m.is_dir() {
                let e = dir_in_the_way(&abs).with_hint("a directory is where a symlink goes; remove it, then rerun");
                return self.fail(&h.path, FileKind::Symlink, h.size, e);
            }
            if m.file_type().is_symlink()
                && meta::mtime_ns(m) == h.mtime_ns
                && std::fs::read_link(&abs).is_ok_and(|t| t.as_os_str().as_bytes() == target)
            {
                if !self.options.dry_run {
                    self.keep_meta(&abs, h, Some(m));
                }
                return;
            }
        }
        if self.options.dry_run {
            return self.planned(h);
        }
        let result = if existing.is_none() {
            make_symlink(target, &abs, h.mtime_ns, h.path.is_root())
        } else {
            // Replacing goes through a temporary name: clear the directory
            // of the ones a crashed run left (as landing a file does).
            if let Some(dir) = abs.parent() {
                let key = if h.path.is_root() { &b"/"[..] } else { split(&h.path).0 };
                self.sweeper.once_at(key, dir);
            }
            replace_symlink(target, &abs, h.mtime_ns)
        };
        if result.is_ok() {
            self.keep_meta(&abs, h, None);
        }
        self.applied(h, result, "create symlink", &abs);
    }
}

/// Creates a symlink where nothing stands, and sets its mtime.
fn make_symlink(target: &[u8], abs: &Path, mtime_ns: i64, is_root: bool) -> io::Result<()> {
    if is_root {
        create_root_parent(abs)?;
    }
    std::os::unix::fs::symlink(OsStr::from_bytes(target), abs)?;
    meta::set_mtime_nofollow(abs, mtime_ns)
}

/// Replaces whatever stands at `abs` with a symlink, atomically: the link is
/// built under a temporary name in the same directory, then renamed.
fn replace_symlink(target: &[u8], abs: &Path, mtime_ns: i64) -> io::Result<()> {
    let dir = abs.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    let temp = temp_path(dir);
    std::os::unix::fs::symlink(OsStr::from_bytes(target), &temp)?;
    let placed = meta::set_mtime_nofollow(&temp, mtime_ns).and_then(|()| std::fs::rename(&temp, abs));
    if placed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    placed
}
