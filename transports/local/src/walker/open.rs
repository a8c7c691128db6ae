//! The source's reader: opening a needed file strictly below the root for
//! the payload, never through a symlink.

use super::LocalSource;
use crate::meta;
use blit_api::{Error, ErrorKind, FileHeader, PayloadReader, Result, SourceFile};
use std::fs::File;
use std::os::fd::AsFd;

impl PayloadReader for LocalSource {
    /// Opens the file with `O_NOFOLLOW`, refuses anything but a regular file,
    /// and refreshes size, mtime and mode from `fstat` of the open descriptor.
    /// Opens files strictly below the root: no symlink is followed on the
    /// way (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`), so a need
    /// list from a peer can never read outside the tree.
    fn open(&self, header: &FileHeader) -> Result<SourceFile> {
        let path = self.tree.shown(&header.path);
        let opened = if header.path.is_root() {
            self.tree.anchor().open_root_file()
        } else {
            self.tree
                .root(false)
                .and_then(|root| crate::beneath::open_file(root.as_fd(), header.path.as_bytes()).map(File::from))
        };
        let file = opened.map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP | libc::EXDEV) => Error::new(
                ErrorKind::PermissionDenied,
                "refused: a symlink stands on the way to this file, or it became one since the walk",
            )
            .with_path(path.display().to_string())
            .with_hint("blit never follows symlinks below the transfer root; rerun to copy links as links")
            .with_source(e),
            _ => Error::io("open", path.display(), e),
        })?;
        let meta = file.metadata().map_err(|e| Error::io("read metadata", path.display(), e))?;
        if !meta.is_file() {
            return Err(Error::new(ErrorKind::Unsupported, "not a regular file any more")
                .with_path(path.display().to_string())
                .with_hint("the entry changed since the walk; rerun to pick up changes"));
        }
        let mut header = header.clone();
        header.size = meta.len();
        header.mtime_ns = meta::mtime_ns(&meta);
        header.mode = meta::mode(&meta);
        Ok(SourceFile { file, header })
    }
}
