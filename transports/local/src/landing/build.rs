//! Delta transfer: landing a file built on the older version at its name
//! (see `basis`).

use super::{create_error, create_part, create_temp, refused, LocalLandingFile, Staged};
use crate::basis::{copy_older_version, copy_range, unshare, Basis, Prepared};
use crate::LocalDestination;
use blit_api::{Error, FileHeader, LandingFile, Result};
use std::fs::File;
use std::path::PathBuf;

impl LocalDestination {
    /// Starts landing `header` from `basis`, the older version the judge
    /// hashed for it: a new temporary file (the stable `.part` where it can
    /// be had) that starts as a copy of the older version, cut to the new
    /// size (made ahead in `prepared`, or here); the transport then writes
    /// the blocks the source sent over it. Refuses when the older version
    /// changed since it was hashed (during the copy included), or when the
    /// source reuses more than it held.
    pub(super) fn build_on(
        &self,
        basis: Basis,
        prepared: Option<Prepared>,
        header: &FileHeader,
        reused: u64,
        target: PathBuf,
    ) -> Result<Box<dyn LandingFile>> {
        // Copies within the older version (`copy_from_older`) may reuse
        // more than it holds (a block repeated); never more than the file.
        if reused > header.size {
            return Err(refused(&target, format!("the source reuses {reused} bytes of a file of {}", header.size)));
        }
        let (dir, name) = self.parent_of(header, &target)?;
        let ready = match prepared.map(Prepared::take) {
            Some(Ok(ready)) => Some(ready),
            Some(Err(e)) => {
                tracing::debug!("copying the older version of {} again: {e}", target.display());
                None
            }
            None => None,
        };
        let copied = ready.as_ref().map(|(_, _, shared)| *shared);
        let create_error = |e| create_error(&target, e);
        let (file, staged, part) = match ready {
            Some((file, part, _)) => (file, Staged::Temp(part), true),
            None => match create_part(&dir, &name, header.mode).map_err(create_error)? {
                Some((file, part)) => (file, Staged::Temp(part), true),
                None => {
                    let (file, temp) = create_temp(&dir, header.mode).map_err(create_error)?;
                    (file, Staged::Temp(temp), false)
                }
            },
        };
        // Not a `.part` yet: until it holds the older version's bytes, a
        // failure removes it.
        let mut landing = self.landing_file(header, file, dir, staged, name, target);
        let old = basis
            .reopen(&landing.dir, &landing.name)
            .map_err(|e| Error::io("reopen the older version of", landing.target.display(), e))?
            .ok_or_else(|| {
                refused(&landing.target, "the file changed at the destination while it was being compared".into())
            })?;
        let shared = match copied {
            Some(shared) => shared,
            None => copy_older_version(&old, &landing.file, basis.len().min(header.size))
                .and_then(|shared| landing.file.set_len(header.size).map(|()| shared))
                .map_err(|e| Error::io("copy the older version of", landing.target.display(), e))?,
        };
        landing.part = part;
        landing.older = Some(Older { file: old, basis, copied: false, shared });
        Ok(Box::new(landing))
    }
}

/// The older version a delta file is built on, open for the copies the
/// source sends ([`LandingFile::copy_from_older`]).
#[derive(Debug)]
pub(super) struct Older {
    file: File,
    basis: Basis,
    /// A copy was made from it: on commit it must still be the version
    /// that was hashed.
    copied: bool,
    /// The new file started as a clone of it (shares its blocks).
    shared: bool,
}

impl LocalLandingFile {
    /// Copies `len` bytes at `from` of the older version to `to` (see
    /// [`LandingFile::copy_from_older`]); refuses a copy from beyond its
    /// end, and any copy for a file not built on an older version.
    pub(super) fn copy_older(&mut self, from: u64, to: u64, len: u64) -> Result<()> {
        let Some(older) = self.older.as_mut() else {
            return Err(refused(&self.target, "a copy within an older version for a file built on none".into()));
        };
        if from.checked_add(len).is_none_or(|end| end > older.basis.len()) {
            let why = format!("a copy of {len} bytes at {from} of an older version of {}", older.basis.len());
            return Err(refused(&self.target, why));
        }
        older.copied = true;
        if older.shared && from != to {
            unshare(&self.file, to, len);
        }
        copy_range(&older.file, from, &self.file, to, len)
            .map_err(|e| Error::io("copy within the older version of", self.target.display(), e))
    }

    /// Before commit: an older version copies were made from must still be
    /// the one that was hashed (a write since could have torn them).
    pub(super) fn check_older(&self) -> Result<()> {
        let Some(older) = self.older.as_ref().filter(|o| o.copied) else { return Ok(()) };
        match older.basis.is(&older.file) {
            Ok(true) => Ok(()),
            Ok(false) => {
                Err(refused(&self.target, "the file changed at the destination while it was being built".into()))
            }
            Err(e) => Err(Error::io("read metadata of the older version of", self.target.display(), e)),
        }
    }
}
