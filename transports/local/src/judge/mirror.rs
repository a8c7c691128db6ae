//! Mirror: the entries of the destination that the source did not name.
//!
//! The judge collects the names the source sent for each directory in
//! flight (see the parent module); when a directory is done, whatever else
//! it holds is queued for deletion, which `finish` applies once the whole
//! manifest arrived without error. A source failure turns deletions off.
//!
//! An extraneous entry the transfer's filter excludes is kept (the source
//! never sent it, so its absence means nothing), unless the filter deletes
//! excluded entries too.

use super::{lstat, DirState, Judge};
use crate::landing::temp_prefix;
use crate::partial::is_part_name;
use blit_api::{Error, FileFailure, FileKind, ProgressEvent, RelPath};
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

impl Judge {
    /// A source entry that could not be read: report it, give up on mirror.
    pub(crate) fn source_failed(&mut self, f: FileFailure) {
        self.failed = true;
        self.children = HashMap::new();
        self.deletions = Vec::new();
        self.emit(ProgressEvent::FileStarted { path: f.path.clone(), kind: FileKind::File, size: 0 });
        self.emit(ProgressEvent::FileFailed { path: f.path, kind: f.kind, message: f.message });
    }

    /// Every child of `dir` was judged: with mirror, queue what the source
    /// did not name.
    pub(crate) fn dir_done(&mut self, dir: RelPath) {
        let state = self.open.remove(dir.as_bytes());
        let names = self.children.remove(dir.as_bytes()).unwrap_or_default();
        if state != Some(DirState::Existing) || !self.options.mirror || self.failed {
            return;
        }
        let abs = dir.to_path(&self.root);
        // The root may be a symlink to a directory (the user named it).
        let found = if dir.is_root() { std::fs::metadata(&abs).map(Some) } else { lstat(&abs) };
        match found {
            Ok(Some(m)) if m.is_dir() => {}
            // Nothing there (dry run): nothing extraneous.
            Ok(_) => return,
            Err(e) => return self.fail(&dir, FileKind::Dir, 0, Error::io("read metadata", abs.display(), e)),
        }
        let entries = match std::fs::read_dir(&abs) {
            Ok(entries) => entries,
            Err(e) => return self.fail(&dir, FileKind::Dir, 0, Error::io("list directory", abs.display(), e)),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return self.fail(&dir, FileKind::Dir, 0, Error::io("list directory", abs.display(), e)),
            };
            let name = entry.file_name();
            let name = name.as_bytes();
            // `.part` files are the sweep's (or the next `--resume`'s).
            if names.contains(name) || name.starts_with(temp_prefix()) || is_part_name(name) {
                continue;
            }
            let kind = match entry.file_type() {
                Ok(t) if t.is_dir() => FileKind::Dir,
                Ok(t) if t.is_symlink() => FileKind::Symlink,
                _ => FileKind::File,
            };
            let path = dir.join(name);
            if self.keeps(&path, kind, &entry) {
                continue;
            }
            self.deletions.push((path, kind));
        }
    }

    /// Mirror: whether the filter keeps the extraneous entry `path` (the
    /// source would exclude it, so its absence from the manifest says
    /// nothing). Its size is read only when the filter could care.
    fn keeps(&self, path: &RelPath, kind: FileKind, entry: &std::fs::DirEntry) -> bool {
        if self.filter.selects_all() || self.filter.delete_excluded() {
            return false;
        }
        let size = if kind == FileKind::File { entry.metadata().map_or(0, |m| m.len()) } else { 0 };
        !self.filter.includes(path, kind, size)
    }
}
