//! `--fsync`: what a transfer lands reaches stable storage before the
//! transfer reports it done.
//!
//! Each file is flushed (`fsync`: data and metadata) after its mode and
//! mtime are set and before it takes its final name, so a name never
//! points at content still in the page cache. A directory's entries change
//! until the end of the transfer (files linked in, mirror deletions, link
//! entries), so directories are flushed once, at the end: every directory of
//! the manifest, deepest first, then the directory that holds the root.
//! Files already up to date are not touched (nothing of theirs changed).

use crate::beneath;
use crate::judge::DirMeta;
use crate::tree::Tree;
use blit_api::{Error, RelPath};
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Whether a destination flushes, and how many flushes it made.
#[derive(Debug, Default)]
pub(crate) struct Flush {
    on: AtomicBool,
    done: AtomicU64,
}

impl Flush {
    /// Turns flushing on or off for the transfer starting now.
    pub(crate) fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Flushes `file` when flushing is on.
    pub(crate) fn file(&self, file: &File) -> io::Result<()> {
        if !self.on.load(Ordering::Relaxed) {
            return Ok(());
        }
        file.sync_all()?;
        self.done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Flushes every directory in `dirs` (deepest first) and the one that
    /// holds the root, when flushing is on; a directory that cannot be
    /// flushed is reported through `failed`.
    pub(crate) fn dirs(&self, tree: &Tree, dirs: &[DirMeta], mut failed: impl FnMut(&RelPath, Error)) {
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        for dir in dirs.iter().rev() {
            let flushed = tree.open_for_listing(dir.path.as_bytes()).and_then(|fd| File::from(fd).sync_all());
            match flushed {
                Ok(()) => {
                    self.done.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => failed(&dir.path, Error::io("flush to disk", tree.shown(&dir.path).display(), e)),
            }
        }
        // The root's own entry: best effort, as a module's parent may be
        // out of reach (and a module root's entry never changes).
        if let Ok(parent) = tree.anchor().parent(false) {
            let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY;
            if let Ok(fd) = beneath::openat(parent.dir.as_fd(), c".", flags, 0) {
                if File::from(fd).sync_all().is_ok() {
                    self.done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// How many files and directories were flushed so far.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}
