//! Landing files atomically: the content is written where no reader sees it
//! and appears under its final name whole, on commit.
//!
//! A new file is written unnamed and linked in on commit; one that replaces
//! something is renamed over it from a temporary name (see `create`).
//! Temporary names are short and never hold the target's name
//! (`.blit.<pid>.<counter>.tmp`), so a file whose name is already 255 bytes
//! still lands. Large files land under a stable `.blit.<hash>.part` name
//! instead, which an interrupted run leaves for `--resume` (see `partial`).
//! The process id in the prefix lets a mirroring destination tell this run's
//! temporary files from the leftovers of a crashed run, which it deletes like
//! any other extraneous entry. Files are not fsynced by default: an interrupted run
//! leaves at worst a stale temporary file and a rerun finishes the job
//! (`--fsync` flushes each file before its rename: see `flush`).
//!
//! The file's directory is opened below the root without following symlinks
//! (see `beneath`), and the temporary file is created and renamed relative to
//! that descriptor, so a symlink planted in the destination can never redirect
//! a write. A small cache keeps the descriptors of the directories being
//! filled, so a file costs no extra system call for its directory.

use crate::backup::Backup;
use crate::beneath::{self, c_bytes};
use crate::flush::Flush;
use crate::meta;
use crate::ownership::{self, MetaWarnings};
use crate::partial::{part_name, resumable, Offered};
use crate::tree::Got;
use crate::verify;
use crate::LocalDestination;
use blit_api::{Error, ErrorKind, FileHeader, FileKind, LandingFile, PayloadWriter, RelPath, Result};
use create::{create_direct, create_locked, create_temp, create_unnamed, Staged};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

mod build;
mod create;
mod range;
use std::sync::{Arc, PoisonError};

/// Creates the `.part` of the file named `name` in `dir` (see `partial`),
/// locked; `None` when one is there already (a live writer's, or one the
/// judge offered for resuming): the file then lands under a fresh name.
pub(crate) fn create_part(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<Option<(File, CString)>> {
    let part = c_bytes(&part_name(name.to_bytes()))?;
    match create_locked(dir, &part, mode) {
        Ok(file) => Ok(Some((file, part))),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error for a temporary file that cannot be created beside `target`.
fn create_error(target: &Path, e: io::Error) -> Error {
    Error::io("create temporary file", target.parent().unwrap_or(target).display(), e)
}

/// The error for a resumed or delta file the destination cannot build.
fn refused(target: &Path, why: String) -> Error {
    Error::new(ErrorKind::Protocol, why)
        .with_path(target.display().to_string())
        .with_hint("rerun; the file is then sent whole if its partial copy is gone")
}

/// The error for a directory standing where a file must land.
pub(crate) fn dir_in_the_way(target: &Path) -> Error {
    Error::new(ErrorKind::AlreadyExists, "a directory is in the way of a file")
        .with_path(target.display().to_string())
        .with_hint("remove or rename that directory, then rerun")
}

impl LocalDestination {
    /// The directory that holds `header`'s file, and the file's name in it.
    fn parent_of(&self, header: &FileHeader, target: &Path) -> Result<(Arc<OwnedFd>, CString)> {
        if header.path.is_root() {
            // A directory root (a daemon's module, say) can never become
            // this file: refuse before anything, a `.part` that survives an
            // interruption included, is created beside the root.
            let at = self.tree.anchor().parent(true).map_err(|e| {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    dir_in_the_way(target)
                } else {
                    Error::io("open directory", target.parent().unwrap_or(target).display(), e)
                }
            })?;
            if at.stat().ok().flatten().is_some_and(|m| m.is_dir()) {
                return Err(dir_in_the_way(target));
            }
            // No relative path is `/`: the key of the root's parent.
            self.sweeper.once(b"/", at.dir.as_fd());
            return Ok((at.dir, at.name));
        }
        let (parent, name) = crate::tree::split(header.path.as_bytes());
        let name = c_bytes(name).map_err(|e| Error::io("name", target.display(), e))?;
        let dir_path = target.parent().unwrap_or(target);
        let (fd, got) = self.tree.dir(parent, true).map_err(|e| {
            if beneath::is_in_the_way(&e) {
                Error::new(ErrorKind::AlreadyExists, "a symlink or file stands where a directory of this path belongs")
                    .with_path(dir_path.display().to_string())
                    .with_hint("blit never writes through symlinks in the destination; remove it, then rerun")
                    .with_source(e)
            } else {
                Error::io("open directory", dir_path.display(), e)
            }
        })?;
        if got != Got::Made {
            // An existing directory may hold the leftovers of a crashed run
            // (swept once per transfer; the judge may have opened it first).
            self.sweeper.once(parent, fd.as_fd());
        }
        Ok((fd, name))
    }
}

impl LocalDestination {
    /// A landing of `header` staged in `file` as `staged`, to be named
    /// `name` in `dir`: not a `.part`, its mode set only where the umask
    /// would strip it, the file it replaces kept with `--backup`.
    fn landing_file(
        &self,
        header: &FileHeader,
        file: File,
        dir: Arc<OwnedFd>,
        staged: Staged,
        name: CString,
        target: PathBuf,
    ) -> LocalLandingFile {
        LocalLandingFile {
            file,
            dir,
            staged,
            name,
            target,
            mode: header.mode,
            mtime_ns: header.mtime_ns,
            committed: false,
            part: false,
            chmod: false,
            owned: Owned::of(header, &self.warnings),
            backup: self.backup_for(header),
            flush: self.flush.clone(),
            verify: self.expected.take(&header.path),
            older: None,
        }
    }

    /// With `--backup`: what landing `header` needs to keep the file it
    /// replaces.
    fn backup_for(&self, header: &FileHeader) -> Option<(Arc<Backup>, RelPath)> {
        let backup = self.backup.lock().unwrap_or_else(PoisonError::into_inner).clone()?;
        Some((backup, header.path.clone()))
    }
}

impl PayloadWriter for LocalDestination {
    /// Creates `.blit.<pid>.<n>.tmp` (or, for a large file, its
    /// `.blit.<hash>.part`) in the file's directory, which is opened below
    /// the root without following symlinks (and created if missing). A
    /// symlink or file on the way is a per-file `AlreadyExists` failure; a
    /// directory at the final name fails on commit.
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn LandingFile>> {
        // The peer sent this header: the destination's policy applies again.
        let header = &*self.policy.admit(header);
        let target = self.tree.shown(&header.path);
        if header.kind != FileKind::File {
            return Err(Error::new(ErrorKind::InvalidInput, "only regular files carry a payload")
                .with_path(target.display().to_string()));
        }
        let (dir, name) = self.parent_of(header, &target)?;
        // An empty file has no bytes that could be torn: when nothing stands
        // at its name, create it there directly (O_EXCL never replaces
        // anything) and skip the rename.
        if header.size == 0 {
            if let Ok(file) = create_direct(&dir, &name, header.mode) {
                let mut landing = self.landing_file(header, file, dir, Staged::Direct, name, target);
                // Created where nothing stood: nothing to back up.
                landing.backup = None;
                return Ok(Box::new(landing));
            }
        }
        let create_error = |e| create_error(&target, e);
        let part =
            if resumable(header.size) { create_part(&dir, &name, header.mode).map_err(create_error)? } else { None };
        let is_part = part.is_some();
        let (file, staged) = match part {
            Some((file, part)) => (file, Staged::Temp(part)),
            None => match create_unnamed(&dir, header.mode).map_err(create_error)? {
                Some(file) => (file, Staged::Unnamed),
                None => {
                    let (file, temp) = create_temp(&dir, header.mode).map_err(create_error)?;
                    (file, Staged::Temp(temp))
                }
            },
        };
        let mut landing = self.landing_file(header, file, dir, staged, name, target);
        landing.part = is_part;
        Ok(Box::new(landing))
    }

    /// Reopens the `.part` the judge offered for `header` (still locked
    /// since), cut to the header's size, or builds on the older version it
    /// offered (see `build`); refuses `reused` beyond what either holds.
    /// For a file it offered nothing for, the bytes not sent are holes: a
    /// new file of the full size ([`blit_api::land_with_holes`]).
    fn resume(&self, header: &FileHeader, reused: u64) -> Result<Box<dyn LandingFile>> {
        let header = &*self.policy.admit(header);
        let target = self.tree.shown(&header.path);
        let refused = |why: String| refused(&target, why);
        let file = match self.partials.take(&header.path) {
            Some(Offered::Part(file)) => file,
            Some(Offered::Basis(basis, prepared)) => return self.build_on(basis, prepared, header, reused, target),
            // Offered nothing: the bytes not sent are holes.
            None => return blit_api::land_with_holes(self, header),
        };
        let held = file.metadata().map_err(|e| Error::io("read metadata", target.display(), e))?.len();
        if reused > held.min(header.size) {
            return Err(refused(format!("the source reuses {reused} bytes of a partial copy of {held}")));
        }
        let (dir, name) = self.parent_of(header, &target)?;
        let part = c_bytes(&part_name(name.to_bytes())).map_err(|e| Error::io("name", target.display(), e))?;
        file.set_len(header.size).map_err(|e| Error::io("resize the partial copy", target.display(), e))?;
        let mut landing = self.landing_file(header, file, dir, Staged::Temp(part), name, target);
        (landing.part, landing.chmod) = (true, true);
        Ok(Box::new(landing))
    }

    /// Writes the range into the file's `.part`, shared with the other
    /// ranges' writers and never committed (see `range`).
    fn land_range(&self, header: &FileHeader, span: std::ops::Range<u64>) -> Result<Box<dyn LandingFile>> {
        self.land_range_in_part(header, span)
    }
}

/// A file being landed by [`LocalDestination`].
#[derive(Debug)]
struct LocalLandingFile {
    file: File,
    dir: Arc<OwnedFd>,
    /// Where the bytes are until commit (see `create`).
    staged: Staged,
    name: CString,
    target: PathBuf,
    mode: u32,
    mtime_ns: i64,
    committed: bool,
    /// The temporary file is a `.part`: dropping it without commit (an
    /// interrupted transfer) keeps it for `--resume`; `discard` removes it.
    part: bool,
    /// The file existed before (a resumed `.part`): its mode is set on
    /// commit whatever the umask.
    chmod: bool,
    /// Ownership and extended attributes to set before the rename.
    owned: Option<Owned>,
    /// `--backup`: where the file it replaces is kept, and its path.
    backup: Option<(Arc<Backup>, RelPath)>,
    /// `--fsync`: flushed before it takes its name.
    flush: Arc<Flush>,
    /// `--verify`: the hash its content must have before it is named.
    verify: Option<[u8; 32]>,
    /// A delta: the older version it is built on (see `build`), held open
    /// past the rename, so that freeing the replaced file (its blocks and
    /// cached pages: half a second for 1 GiB) happens after, on another
    /// thread.
    older: Option<build::Older>,
}

/// What a header asks beyond mode and mtime (only when it asks anything, so
/// a plain file carries no extra allocation).
#[derive(Debug)]
struct Owned {
    header: FileHeader,
    warnings: Arc<MetaWarnings>,
}

impl Owned {
    fn of(h: &FileHeader, warnings: &Arc<MetaWarnings>) -> Option<Owned> {
        (h.uid.is_some() || h.gid.is_some() || !h.xattrs.is_empty()).then(|| Owned {
            header: FileHeader { uid: h.uid, gid: h.gid, xattrs: h.xattrs.clone(), ..FileHeader::default() },
            warnings: warnings.clone(),
        })
    }
}

fn renameat(dir: &OwnedFd, from: &CStr, to: &CStr) -> io::Result<()> {
    rustix::fs::renameat(dir, from, dir, to).map_err(crate::tree::errno)
}

impl LandingFile for LocalLandingFile {
    fn file(&mut self) -> &mut File {
        &mut self.file
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        if let Err(e) = self.check_older() {
            // Not a partial copy worth resuming either.
            self.part = false;
            return Err(e);
        }
        if let Some(want) = self.verify.take() {
            let same = verify::matches(&self.file, &want)
                .map_err(|e| Error::io("read back (--verify)", self.target.display(), e))?;
            if !same {
                // Not a partial copy worth resuming either.
                self.part = false;
                return Err(Error::new(ErrorKind::Io, "the landed content differs from the source's hash (--verify)")
                    .with_path(self.target.display().to_string())
                    .with_hint(
                        "the old version is kept; the file may have changed at the source while it was sent: rerun",
                    ));
            }
        }
        // Before the mode: a change of owner clears set-user-ID bits.
        let chowned = self.owned.as_ref().is_some_and(|o| o.header.uid.is_some() || o.header.gid.is_some());
        if let Some(owned) = &self.owned {
            ownership::apply_fd(&self.file, &owned.header, &owned.warnings);
        }
        if self.chmod || meta::umask_strips(self.mode) || (chowned && self.mode & 0o6000 != 0) {
            let perms = std::os::unix::fs::PermissionsExt::from_mode(self.mode & meta::MODE_MASK);
            self.file.set_permissions(perms).map_err(|e| Error::io("set mode", self.target.display(), e))?;
        }
        meta::set_fd_mtime(&self.file, self.mtime_ns).map_err(|e| Error::io("set mtime", self.target.display(), e))?;
        self.flush.file(&self.file).map_err(|e| Error::io("flush to disk", self.target.display(), e))?;
        if let Staged::Unnamed = self.staged {
            match create::link_in(&self.file, &self.dir, &self.name) {
                // Nothing had the name: nothing to back up or replace.
                Ok(()) => {
                    self.committed = true;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let temp = create::name_unnamed(&self.file, &self.dir)
                        .map_err(|e| Error::io("name a temporary file beside", self.target.display(), e))?;
                    self.staged = Staged::Temp(temp);
                }
                Err(e) => {
                    tracing::debug!("cannot link an unnamed file in beside {}: {e}", self.target.display());
                    create::give_up_unnamed();
                    let (file, temp) = create::rescue(&self.file, &self.dir, self.mode)
                        .map_err(|e| Error::io("create temporary file", self.target.display(), e))?;
                    self.file = file;
                    self.staged = Staged::Temp(temp);
                    // Its metadata again, on the copy.
                    return self.commit();
                }
            }
        }
        if let Staged::Temp(temp) = &self.staged {
            if let Some((backup, path)) = &self.backup {
                backup
                    .keep_linked(&self.dir, &self.name, path)
                    .map_err(|e| Error::io("keep a backup of", self.target.display(), e))?;
            }
            renameat(&self.dir, temp, &self.name).map_err(|e| match e.raw_os_error() {
                Some(libc::EISDIR | libc::ENOTEMPTY | libc::EEXIST) => dir_in_the_way(&self.target).with_source(e),
                _ => Error::io("rename into place", self.target.display(), e),
            })?;
        }
        self.committed = true;
        if let Some(older) = self.older.take() {
            // If no thread can be had, the closure drops it here.
            let _ = std::thread::Builder::new().name("blit-release".into()).spawn(move || drop(older));
        }
        Ok(())
    }

    fn discard(mut self: Box<Self>) {
        self.part = false;
    }

    fn shown(&self) -> Option<String> {
        Some(self.target.display().to_string())
    }

    fn copy_from_older(&mut self, from: u64, to: u64, len: u64) -> Result<()> {
        self.copy_older(from, to, len)
    }
}

impl Drop for LocalLandingFile {
    fn drop(&mut self) {
        if self.committed || self.part {
            return;
        }
        // Either the temporary file, or the empty file this run created at
        // its final name (O_EXCL: nothing was there before); an unnamed file
        // goes with its descriptor.
        let name = match &self.staged {
            Staged::Unnamed => return,
            Staged::Temp(temp) => temp,
            Staged::Direct => &self.name,
        };
        if let Err(e) = rustix::fs::unlinkat(&*self.dir, name.as_c_str(), rustix::fs::AtFlags::empty()) {
            tracing::warn!("could not remove a temporary file beside {}: {e}", self.target.display());
        }
    }
}

#[cfg(test)]
mod tests;
