//! The judge's directories: made, kept or refused as the manifest reaches
//! them.

use super::{DirMeta, DirState, Judge};
use crate::tree::At;
use blit_api::{Error, FileHeader, FileKind, RelPath};
use std::io;
use std::path::Path;

impl Judge {
    /// The entry of `path` once it is a directory: the root directory
    /// itself, or its name in its parent.
    fn dir_entry(&self, path: &RelPath) -> io::Result<At> {
        self.tree.entry(path)
    }

    pub(super) fn dir(&mut self, h: FileHeader, fresh_parent: bool) {
        let abs = self.tree.shown(&h.path);
        let state = self.make_dir(&h, &abs, fresh_parent);
        if state == DirState::Fresh {
            self.made.add(h.path.as_bytes());
        }
        if self.open.insert(h.path.as_bytes().to_vec(), state).is_none() {
            self.hold(h.path.as_bytes().len());
        }
        // A held root (a module) keeps its own metadata.
        let protected = h.path.is_root() && self.tree.anchor().is_protected();
        if state != DirState::Broken && !self.options.dry_run && !protected {
            // `finish` sets the mode afterwards.
            if let Ok(at) = self.dir_entry(&h.path) {
                self.keep_meta(&at, &h, None);
            }
            self.dirs.push(DirMeta { path: h.path, mode: h.mode, mtime_ns: h.mtime_ns });
        }
    }

    /// Makes sure a real directory stands at `h.path`.
    fn make_dir(&mut self, h: &FileHeader, abs: &Path, fresh_parent: bool) -> DirState {
        let existing = if fresh_parent { Ok(None) } else { self.lstat(&h.path) };
        match existing {
            Err(e) => {
                self.fail(&h.path, FileKind::Dir, 0, Error::io("read metadata", abs.display(), e));
                DirState::Broken
            }
            Ok(Some(m)) if m.is_dir() => {
                // Children must be writable while the transfer runs; `finish`
                // restores the source's mode. If this fails (not the owner),
                // each child reports its own error and `finish` the mode's.
                let protected = h.path.is_root() && self.tree.anchor().is_protected();
                if !self.options.dry_run && !protected && m.mode() & 0o700 != 0o700 {
                    if let Err(e) = self.dir_entry(&h.path).and_then(|at| at.set_mode(m.mode() | 0o700)) {
                        tracing::debug!("could not make {} writable for the transfer: {e}", abs.display());
                    }
                }
                DirState::Existing
            }
            Ok(existing) => {
                if self.options.dry_run {
                    self.planned(h, existing.is_none());
                    return DirState::Fresh;
                }
                let made = (|| {
                    let at = match self.place(&h.path)? {
                        Some(at) => at,
                        None => self.tree.anchor().parent(true)?,
                    };
                    if existing.is_some() {
                        // A file or symlink stands where the directory goes.
                        at.unlink()?;
                    }
                    at.mkdir(0o700)
                })();
                let state = if made.is_ok() { DirState::Fresh } else { DirState::Broken };
                self.applied(h, made, "create directory", abs);
                state
            }
        }
    }
}
