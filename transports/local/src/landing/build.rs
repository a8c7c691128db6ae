//! Delta transfer: landing a file built on the older version at its name
//! (see `basis`).

use super::{create_error, create_part, create_temp, refused, Staged};
use crate::basis::{copy_prefix, Basis, Prepared};
use crate::LocalDestination;
use blit_api::{Error, FileHeader, LandingFile, Result};
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
        if reused > basis.len().min(header.size) {
            return Err(refused(
                &target,
                format!("the source reuses {reused} bytes of an older version of {}", basis.len()),
            ));
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
        let copied = ready.is_some();
        let create_error = |e| create_error(&target, e);
        let (file, staged, part) = match ready {
            Some((file, part)) => (file, Staged::Temp(part), true),
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
        if !copied {
            copy_prefix(&old, &landing.file, basis.len().min(header.size))
                .and_then(|()| landing.file.set_len(header.size))
                .map_err(|e| Error::io("copy the older version of", landing.target.display(), e))?;
        }
        landing.part = part;
        landing.older = Some(old);
        Ok(Box::new(landing))
    }
}
