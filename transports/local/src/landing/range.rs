//! Part-range transfers: landing one byte range of a file into its stable
//! partial copy (the `.part` `--resume` keeps, see `partial`), which other
//! transfers may be writing other ranges of at the same time (see
//! [`blit_api::PartRange`]).
//!
//! # Sharing one `.part`
//!
//! Every other writer of a `.part` holds it exclusively (`flock`), and
//! whatever removes or replaces one does so only while it holds that lock:
//! the sweep of abandoned temporary files (`sweep`), a landing that fails
//! (it removes its `.part`) or commits (it renames it into place), the
//! judge offering it for `--resume` (`partial`, which keeps it locked until
//! the landing). A range writer holds it *shared*: any number of them write
//! at once, and while one does, none of those can take the lock, so nothing
//! removes, replaces or offers the `.part` under it. An ordinary landing of
//! the same file meanwhile finds the name taken and lands under a fresh
//! temporary name ([`super::create_part`]).
//!
//! A range writer gets its `.part` so:
//!
//! 1. it creates one unnamed, locked shared and already of the file's size
//!    (the rest holes), and links it in; or, when one is there,
//! 2. it opens that one, takes the shared lock (trying again for a short
//!    while when an exclusive holder has it: a sweep probing it lets go at
//!    once), then checks that the name still names the file it locked. One
//!    removed or replaced between the open and the lock is tried again
//!    from 1;
//! 3. it grows it to the file's size when it is shorter: never cut.
//!
//! The source writes only its range, so no other byte changes. Commit
//! leaves the `.part` where it is (flushed with `--fsync`): no name, no
//! metadata. A failed or interrupted range leaves it too: other ranges'
//! bytes are in it. The peer's writes are not confined to the range here (a
//! transport writes at the offsets it receives), but they only ever reach
//! this `.part`, every block of which the resuming transfer that finishes
//! the file compares with the source before it gives the file its name; a
//! range that failed half-written is sent again then.
//!
//! Files below [`blit_api::RESUME_MIN`] never land under a `.part` (a
//! resuming transfer does not look for one), so a range of one is refused.
//! A transfer without `--resume` sweeps a `.part` no one holds, as always:
//! the transfer that finishes the file must resume.

use super::create::{create_held, Hold};
use crate::beneath::{self, c_bytes};
use crate::flush::Flush;
use crate::partial::{part_name, resumable, try_share};
use crate::LocalDestination;
use blit_api::{Error, ErrorKind, FileHeader, FileKind, LandingFile, Result};
use rustix::fs::{AtFlags, OFlags};
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often a range writer tries to get its shared hold.
const ATTEMPTS: u32 = 50;
/// How long it waits between two tries while another writer holds the
/// `.part` exclusively.
const PAUSE: Duration = Duration::from_millis(20);

impl LocalDestination {
    /// [`blit_api::PayloadWriter::land_range`]: the `.part` of `header`'s
    /// file, shared with other range writers (see the module docs).
    pub(super) fn land_range_in_part(&self, header: &FileHeader, span: Range<u64>) -> Result<Box<dyn LandingFile>> {
        let header = &*self.policy.admit(header);
        let target = self.tree.shown(&header.path);
        if header.kind != FileKind::File {
            return Err(Error::new(ErrorKind::InvalidInput, "only regular files carry a payload")
                .with_path(target.display().to_string()));
        }
        if !resumable(header.size) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "a part range of a file of {} bytes: only files of at least {} bytes land in a partial copy",
                    header.size,
                    blit_api::RESUME_MIN
                ),
            )
            .with_path(target.display().to_string())
            .with_hint("send files this small whole, without a part range"));
        }
        let (dir, name) = self.parent_of(header, &target)?;
        let part = c_bytes(&part_name(name.to_bytes())).map_err(|e| Error::io("name", target.display(), e))?;
        // Readable and writable by its owner whatever the file's mode (a
        // read-only file's other range writers and the resuming transfer
        // reopen it); the resuming transfer sets the final mode on commit.
        let mode = (header.mode & 0o777) | 0o600;
        let file = match open_shared(&dir, &part, mode, header.size) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Error::new(
                ErrorKind::Io,
                "another transfer holds the partial copy of this file",
            )
            .with_path(target.display().to_string())
            .with_hint(
                "a transfer is landing or finishing the whole file; retry the range once it ended, if still needed",
            )),
            Err(e) => return Err(Error::io("open the partial copy of", target.display(), e)),
        };
        Ok(Box::new(RangeFile { file, target, span, flush: self.flush.clone() }))
    }
}

/// Opens or creates the `.part` `part` in `dir` held shared, at least
/// `size` bytes long (see the module docs). `WouldBlock` when an exclusive
/// holder kept it all along.
fn open_shared(dir: &OwnedFd, part: &CStr, mode: u32, size: u64) -> io::Result<File> {
    for _ in 0..ATTEMPTS {
        match create_held(dir, part, mode, Hold::Shared(size)) {
            Ok(file) => return Ok(file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let file = match beneath::openat(dir.as_fd(), part, OFlags::RDWR | OFlags::NOFOLLOW, 0) {
            Ok(fd) => File::from(fd),
            // Removed since: create it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the partial copy is not a regular file"));
        }
        if !try_share(&file) {
            std::thread::sleep(PAUSE);
            continue;
        }
        // Held: nothing removes or replaces it from now on. Was it
        // removed or replaced between the open and the lock?
        match rustix::fs::statat(dir, part, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_dev == meta.dev() && st.st_ino == meta.ino() => {}
            Ok(_) => continue,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(crate::tree::errno(e)),
        }
        if file.metadata()?.len() < size {
            file.set_len(size)?;
        }
        return Ok(file);
    }
    Err(io::Error::from(io::ErrorKind::WouldBlock))
}

/// One range being written into a shared `.part`.
#[derive(Debug)]
struct RangeFile {
    file: File,
    target: PathBuf,
    /// The bytes of the file this transfer lands.
    span: Range<u64>,
    /// `--fsync`: flushed on commit.
    flush: Arc<Flush>,
}

impl LandingFile for RangeFile {
    fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Flushes the range with `--fsync`; the `.part` keeps its name and
    /// waits for the transfer that finishes the file.
    fn commit(self: Box<Self>) -> Result<()> {
        self.flush.file(&self.file).map_err(|e| {
            let what = format!("flush bytes {}..{} of the partial copy of", self.span.start, self.span.end);
            Error::io(&what, self.target.display(), e)
        })
    }

    /// Keeps the `.part`: other ranges' bytes are in it.
    fn discard(self: Box<Self>) {}

    fn shown(&self) -> Option<String> {
        Some(self.target.display().to_string())
    }
}

#[cfg(test)]
mod tests;
