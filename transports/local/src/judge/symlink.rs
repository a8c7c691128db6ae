//! Symlinks at the destination: made by the judge itself, as they carry no
//! payload. An existing link with the same target and mtime is kept; one
//! that differs, or a file in the way, is replaced atomically.

use super::Judge;
use crate::landing::dir_in_the_way;
use crate::temp::temp_name;
use crate::tree::At;
use blit_api::{Error, ErrorKind, FileHeader, FileKind};
use std::io;

impl Judge {
    /// Makes sure the symlink `h` describes stands at its path.
    pub(super) fn symlink(&mut self, h: &FileHeader, fresh_parent: bool) {
        let abs = self.tree.shown(&h.path);
        let Some(target) = h.link_target.as_deref() else {
            let e = Error::new(ErrorKind::Protocol, "symlink header without a target");
            return self.fail(&h.path, FileKind::Symlink, h.size, e.with_path(abs.display().to_string()));
        };
        // Where it goes: its name in its directory (the root's parent for the root).
        let at = match self.place(&h.path) {
            Ok(Some(at)) => Ok(at),
            Ok(None) => self.tree.anchor().parent(!self.options.dry_run),
            Err(e) => Err(e),
        };
        let at = match at {
            Ok(at) => at,
            Err(e) if self.options.dry_run && e.kind() == io::ErrorKind::NotFound => return self.planned(h, true),
            Err(e) => {
                return self.fail(&h.path, FileKind::Symlink, h.size, Error::io("open directory", abs.display(), e))
            }
        };
        let existing = match if fresh_parent { Ok(None) } else { at.stat() } {
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
            // With --checksum the target decides, as content does for files:
            // a link that only has another mtime gets it in place.
            let same_mtime = m.mtime_ns == h.mtime_ns;
            if m.is_symlink() && (same_mtime || self.options.checksum) && at.read_link().is_ok_and(|t| t == target) {
                if !self.options.dry_run {
                    if !same_mtime {
                        if let Err(e) = at.set_mtime(h.mtime_ns) {
                            let e = Error::io("set mtime", abs.display(), e);
                            return self.fail(&h.path, FileKind::Symlink, h.size, e);
                        }
                    }
                    self.keep_meta(&at, h, Some(m));
                    self.in_place(h);
                }
                return;
            }
        }
        if self.options.dry_run {
            return self.planned(h, existing.is_none());
        }
        let result = if existing.is_none() {
            at.symlink(target).and_then(|()| at.set_mtime(h.mtime_ns))
        } else {
            // Replacing goes through a temporary name: clear the directory
            // of the ones a crashed run left (as landing a file does).
            let key = if h.path.is_root() { &b"/"[..] } else { crate::tree::split(h.path.as_bytes()).0 };
            self.sweeper.once(key, std::os::fd::AsFd::as_fd(&*at.dir));
            match &self.backup {
                Some(backup) => backup.keep_linked(&at.dir, &at.name, &h.path),
                None => Ok(()),
            }
            .and_then(|()| replace_symlink(target, &at, h.mtime_ns))
        };
        if result.is_ok() {
            self.keep_meta(&at, h, None);
        }
        self.applied(h, result, "create symlink", &abs);
    }
}

/// Replaces whatever stands at `at` with a symlink, atomically: the link is
/// built under a temporary name in the same directory, then renamed.
fn replace_symlink(target: &[u8], at: &At, mtime_ns: i64) -> io::Result<()> {
    let temp = At::new(at.dir.clone(), &temp_name())?;
    temp.symlink(target)?;
    let placed = temp.set_mtime(mtime_ns).and_then(|()| at.rename_from(&temp.name));
    if placed.is_err() {
        let _ = temp.unlink();
    }
    placed
}
