//! The bound on what a manifest may make the judge hold.
//!
//! The judge keeps, per session, the directories announced but not yet done
//! (`DirDone`), the names the source sent for each of them (mirror only)
//! and the hard-link entries waiting for `finish`. An honest walk keeps
//! these small (the walker's queue of directories, the entries of the
//! directories in flight); a hostile peer could announce directories
//! forever and never finish one. Each held entry costs its bytes plus
//! [`ENTRY_COST`]; beyond [`MAX_PENDING_BYTES`] the transfer stops with a
//! protocol error that says so, whatever the transport.

use blit_api::{Error, ErrorKind};

/// Bytes the judge may hold for directories in flight, their names and
/// pending hard links (64 MiB: about 500,000 directories of 64-byte paths
/// in flight at once, far beyond an honest walk's queue).
pub(crate) const MAX_PENDING_BYTES: usize = 64 << 20;

/// What one held entry costs beyond its bytes (map slots, allocation).
pub(crate) const ENTRY_COST: usize = 64;

/// The running total.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    held: usize,
}

impl Budget {
    /// Accounts `bytes` of a new entry; the error once the total is beyond
    /// the bound.
    pub(crate) fn take(&mut self, bytes: usize) -> Result<(), Error> {
        self.held = self.held.saturating_add(bytes + ENTRY_COST);
        if self.held <= MAX_PENDING_BYTES {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "the source announced more than {} MiB of directories that it has not finished (DirDone) and \
                 links still to make",
                MAX_PENDING_BYTES >> 20
            ),
        )
        .with_hint("an honest blit never does this; if the tree really holds such a directory, copy it in parts"))
    }

    /// Gives back what an entry of `bytes` took.
    pub(crate) fn give(&mut self, bytes: usize) {
        self.held = self.held.saturating_sub(bytes + ENTRY_COST);
    }
}
