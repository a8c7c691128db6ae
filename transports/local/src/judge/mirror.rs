//! Mirror: the entries of the destination that the source did not name.
//!
//! The judge collects the names the source sent for each directory in
//! flight (see the parent module); when a directory is done, whatever else
//! it holds is queued for deletion, which `finish` applies once the whole
//! manifest arrived without error. A source failure turns deletions off:
//! from then on extraneous entries are only counted, so the summary can say
//! how many deletions were skipped.
//!
//! An extraneous entry the transfer's filter excludes is kept (the source
//! never sent it, so its absence means nothing), unless the filter deletes
//! excluded entries too.

use super::{DirState, Judge};
use crate::partial::is_part_name;
use crate::temp::temp_prefix;
use crate::tree::{At, Stat};
use blit_api::{Error, FileFailure, FileKind, ProgressEvent, RelPath};
use rustix::fs::{Dir, FileType};
use std::sync::Arc;

impl Judge {
    /// A source entry that could not be read: report it, give up on mirror
    /// deletions (the names keep being collected, to count what is skipped).
    pub(crate) fn source_failed(&mut self, f: FileFailure) {
        self.failed = true;
        self.deletions_skipped += std::mem::take(&mut self.deletions).len() as u64;
        self.emit(ProgressEvent::FileStarted { path: f.path.clone(), kind: FileKind::File, size: 0 });
        self.emit(ProgressEvent::FileFailed { path: f.path, kind: f.kind, message: f.message });
    }

    /// Every child of `dir` was judged: with mirror, queue what the source
    /// did not name.
    pub(crate) fn dir_done(&mut self, dir: RelPath) {
        let state = self.open.remove(dir.as_bytes());
        self.made.remove(dir.as_bytes());
        if state.is_some() {
            self.budget.give(dir.as_bytes().len());
        }
        let names = self.children.remove(dir.as_bytes()).unwrap_or_default();
        if !names.is_empty() {
            self.budget.give(dir.as_bytes().len());
            for name in &names {
                self.budget.give(name.len());
            }
        }
        if state != Some(DirState::Existing) || !self.options.mirror {
            return;
        }
        let abs = self.tree.shown(&dir);
        let fail = |judge: &Self, op: &str, e: std::io::Error| {
            judge.fail(&dir, FileKind::Dir, 0, Error::io(op, abs.display(), e))
        };
        // The directory as it stands now, opened beneath the root with no
        // symlink on the way: a directory swapped for a symlink since it
        // was judged is not listed (and nothing outside is ever deleted).
        let fd = match self.tree.open_for_listing(dir.as_bytes()) {
            Ok(fd) => Arc::new(fd),
            // Nothing there (dry run): nothing extraneous.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => return fail(self, "list directory", e),
        };
        let mut entries = match Dir::read_from(&*fd) {
            Ok(entries) => entries,
            Err(e) => return fail(self, "list directory", std::io::Error::from_raw_os_error(e.raw_os_error())),
        };
        while let Some(entry) = entries.read() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return fail(self, "list directory", std::io::Error::from_raw_os_error(e.raw_os_error())),
            };
            let name = entry.file_name().to_bytes();
            // `.part` files are the sweep's (or the next `--resume`'s).
            if name == b"."
                || name == b".."
                || names.contains(name)
                || name.starts_with(temp_prefix())
                || is_part_name(name)
            {
                continue;
            }
            let Ok(at) = At::new(fd.clone(), name) else { continue };
            let stat = match entry.file_type() {
                FileType::Unknown => at.stat().ok().flatten(),
                _ => None,
            };
            let kind = match (entry.file_type(), &stat) {
                (FileType::Directory, _) => FileKind::Dir,
                (FileType::Symlink, _) => FileKind::Symlink,
                (FileType::Unknown, Some(st)) if st.is_dir() => FileKind::Dir,
                (FileType::Unknown, Some(st)) if st.is_symlink() => FileKind::Symlink,
                _ => FileKind::File,
            };
            let path = dir.join(name);
            if self.keeps(&path, kind, &at, stat) || self.is_backup_dir(kind, &at, stat) {
                continue;
            }
            if self.failed {
                self.deletions_skipped += 1;
            } else {
                self.deletions.push((path, kind));
            }
        }
    }

    /// Whether the extraneous directory at `at` is `--backup-dir` itself,
    /// inside the destination: it holds what earlier runs kept and is never
    /// deleted (or moved into itself).
    fn is_backup_dir(&self, kind: FileKind, at: &At, stat: Option<Stat>) -> bool {
        let Some(backup) = self.backup.as_ref().filter(|_| kind == FileKind::Dir) else { return false };
        match stat.map_or_else(|| at.stat(), |st| Ok(Some(st))) {
            Ok(Some(st)) => backup.is_backup_dir(&st),
            _ => false,
        }
    }

    /// Mirror: whether the filter keeps the extraneous entry `path` (the
    /// source would exclude it, so its absence from the manifest says
    /// nothing). Its size is read only when the filter could care.
    fn keeps(&self, path: &RelPath, kind: FileKind, at: &At, stat: Option<Stat>) -> bool {
        if self.filter.selects_all() || self.filter.delete_excluded() {
            return false;
        }
        let size = match (kind, stat) {
            (FileKind::File, Some(st)) => st.size,
            (FileKind::File, None) => at.stat().ok().flatten().map_or(0, |st| st.size),
            _ => 0,
        };
        !self.filter.includes(path, kind, size)
    }
}
