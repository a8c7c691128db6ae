//! `--backup`: a file the transfer replaces or deletes is kept under a
//! backup name instead of being lost: `NAME~` beside it (`--suffix`), or
//! the same relative path below a backup directory (`--backup-dir`).
//!
//! A replaced file's backup is a hard link to it made just before the new
//! version is renamed over the name, so the name always holds the old or
//! the new file and the backup holds the old one. A deleted entry (mirror)
//! is renamed to its backup name. An existing backup of the same name is
//! replaced. When no backup can be made (another file system for the
//! backup directory, no permission), the file is not replaced or deleted:
//! it fails with the reason.
//!
//! The backup directory is a [`Tree`] like the destination: reached through
//! held descriptors with no symlink followed below its root, and for a
//! daemon only inside the module (see `Anchor::link_dest`, which resolves
//! both).

use crate::temp::temp_name;
use crate::tree::{split, At, Tree};
use blit_api::{Error, ErrorKind, RelPath, Result, TransferOptions};
use std::ffi::CStr;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Where backups go.
#[derive(Debug)]
pub(crate) struct Backup {
    suffix: Vec<u8>,
    dir: Option<Tree>,
}

impl Backup {
    /// The backups `options` ask for, for a destination rooted at `tree`;
    /// `None` without `--backup`. A suffix is checked here, on the side
    /// that makes the names: no `/`, no NUL, at most 64 bytes, and not
    /// empty without a backup directory (the backup would be the file).
    pub(crate) fn new(options: &TransferOptions, tree: &Tree) -> Result<Option<Arc<Backup>>> {
        if !options.backup && options.backup_dir.is_none() {
            return Ok(None);
        }
        let dir = match &options.backup_dir {
            Some(spec) => Some(Tree::new(tree.anchor().other("--backup-dir", spec)?)),
            None => None,
        };
        let suffix =
            options.backup_suffix.clone().unwrap_or_else(|| if dir.is_some() { Vec::new() } else { b"~".to_vec() });
        let bad = |why: &str| {
            Error::new(ErrorKind::InvalidInput, format!("bad --suffix: {why}"))
                .with_hint("use a short suffix such as ~ or .bak")
        };
        if suffix.len() > 64 || suffix.contains(&b'/') || suffix.contains(&0) {
            return Err(bad("it must be at most 64 bytes, with no / and no NUL"));
        }
        if suffix.is_empty() && dir.is_none() {
            return Err(bad("an empty suffix needs --backup-dir, or the backup would be the file itself"));
        }
        Ok(Some(Arc::new(Backup { suffix, dir })))
    }

    /// Whether `st` is the backup directory itself (so a mirror whose
    /// backup directory lies inside its destination never deletes it).
    pub(crate) fn is_backup_dir(&self, st: &crate::tree::Stat) -> bool {
        let Some(tree) = &self.dir else { return false };
        match tree.root_dir().and_then(|at| at.stat()) {
            Ok(Some(own)) => own.dev == st.dev && own.ino == st.ino,
            _ => false,
        }
    }

    /// The backup name of `name` (in `dir`), whose transfer path is `path`.
    fn place(&self, dir: &Arc<OwnedFd>, name: &CStr, path: &RelPath) -> io::Result<At> {
        let backup_name = [name.to_bytes(), &self.suffix].concat();
        match &self.dir {
            None => At::new(dir.clone(), &backup_name),
            Some(tree) => {
                let parent = if path.is_root() { &b""[..] } else { split(path.as_bytes()).0 };
                let (fd, _) = tree.dir(parent, true)?;
                At::new(fd, &backup_name)
            }
        }
    }

    /// Before `name` in `dir` is replaced: links what stands there now (a
    /// file or a symlink; nothing to do for nothing or a directory) to its
    /// backup name.
    pub(crate) fn keep_linked(&self, dir: &Arc<OwnedFd>, name: &CStr, path: &RelPath) -> io::Result<()> {
        let current = At::new(dir.clone(), name.to_bytes())?;
        match current.stat()? {
            None => return Ok(()),
            Some(st) if st.is_dir() => return Ok(()),
            Some(_) => {}
        }
        let backup = self.place(dir, name, path)?;
        let temp = At::new(backup.dir.clone(), &temp_name())?;
        temp.link_to(&current)?;
        let placed = backup.rename_from(&temp.name);
        if placed.is_err() {
            let _ = temp.unlink();
        }
        placed
    }

    /// Instead of deleting the entry at `at` (transfer path `path`): moves
    /// it to its backup name, replacing an older backup there.
    pub(crate) fn keep_moved(&self, at: &At, path: &RelPath) -> io::Result<()> {
        let backup = self.place(&at.dir, &at.name, path)?;
        if let Some(st) = backup.stat()? {
            if st.is_dir() {
                backup.remove_all()?;
            }
        }
        at.rename_to(&backup)
    }
}
