//! The directories this run made, shared with the stat-ahead threads.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// Directories this run made whose `DirDone` has not arrived: every file in
/// them is new. Shared with the threads that stat files ahead of the judge
/// (`need_list::ahead`), which skip them.
#[derive(Debug, Default)]
pub(crate) struct MadeDirs(Mutex<HashSet<Vec<u8>>>);

impl MadeDirs {
    /// Whether this run made `dir` (and has not finished it).
    pub(crate) fn has(&self, dir: &[u8]) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).contains(dir)
    }

    /// Records that this run made `dir`.
    pub(crate) fn add(&self, dir: &[u8]) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(dir.to_vec());
    }

    /// Forgets `dir` (its `DirDone` arrived).
    pub(crate) fn remove(&self, dir: &[u8]) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(dir);
    }
}
