//! `--verify`: each landed file is read back and compared with the hash the
//! source computed as it walked, before the file takes its name.
//!
//! The source's walk hashes every regular file (BLAKE3) into its header
//! ([`blit_api::FileHeader::checksum`]). The judge keeps the hash of each
//! file it needs in [`Expected`]; the landing takes it when the file begins
//! and, on commit, reads the whole temporary file back through its own
//! descriptor and compares. A mismatch fails the file (a per-file failure
//! that names it) and leaves the old version in place: a flipped bit on the
//! way, a bad disk or a file that changed at the source after it was
//! hashed all show here.
//!
//! Memory: one path and 32 bytes per file judged needed and not yet begun,
//! which the need list's bounds keep to a few thousand.

use blit_api::RelPath;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::sync::{Mutex, PoisonError};

/// The source's hashes of needed files, until their landing begins.
#[derive(Debug, Default)]
pub(crate) struct Expected {
    sums: Mutex<HashMap<Vec<u8>, [u8; 32]>>,
}

impl Expected {
    /// The judge: `path` is needed and its content must hash to `sum`.
    pub(crate) fn expect(&self, path: &RelPath, sum: [u8; 32]) {
        self.lock().insert(path.as_bytes().to_vec(), sum);
    }

    /// The landing: the hash `path` must have, if the judge kept one.
    pub(crate) fn take(&self, path: &RelPath) -> Option<[u8; 32]> {
        self.lock().remove(path.as_bytes())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, [u8; 32]>> {
        self.sums.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether `file` (read from its start) hashes to `want`.
pub(crate) fn matches(mut file: &File, want: &[u8; 32]) -> io::Result<bool> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    Ok(crate::meta::blake3_reader(file, &mut buf)? == *want)
}
