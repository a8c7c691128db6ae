//! The result of a transfer.

use crate::{Direction, ErrorKind, RelPath};

/// One entry that failed while the rest went on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileFailure {
    /// The entry's path relative to the transfer root.
    pub path: RelPath,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened and what to do.
    pub message: String,
}

/// What a transfer did. The same fields in every direction.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TransferSummary {
    /// Which way the bytes flowed.
    pub direction: Option<Direction>,
    /// Transport that carried the payload.
    pub transport: String,
    /// Entries the source listed.
    pub entries_scanned: u64,
    /// Entries (files, directories, symlinks) created or updated: the sum
    /// of the three counts below.
    pub entries_transferred: u64,
    /// Regular files created or updated (a hard-linked name counts as one).
    pub files_transferred: u64,
    /// Directories created or updated.
    pub dirs_transferred: u64,
    /// Symlinks created or updated.
    pub symlinks_transferred: u64,
    /// Payload bytes written.
    pub bytes_transferred: u64,
    /// Bytes of resumed files that were kept from the partial copies an
    /// interrupted run left (`--resume`) instead of being sent again.
    pub bytes_reused: u64,
    /// Bytes the kernel moved without a user-space copy.
    pub zero_copy_bytes: u64,
    /// Payload bytes that crossed the network (after compression, with
    /// framing); `None` when nothing went over a network (a local copy).
    pub wire_bytes: Option<u64>,
    /// Entries deleted by mirror.
    pub deleted: u64,
    /// Entries mirror would have deleted but left in place.
    pub deletions_skipped: u64,
    /// Why deletions were skipped; `None` when none were.
    pub deletions_skipped_reason: Option<String>,
    /// Entries that failed.
    pub failures: Vec<FileFailure>,
    /// Wall time in seconds.
    pub elapsed_secs: f64,
    /// Nothing was changed.
    pub dry_run: bool,
    /// Payload streams (connections) the transport used; 0 when it has no
    /// notion of streams.
    pub streams: u32,
    /// Most bytes of file data per payload record the transport chose; 0
    /// when it does not say.
    pub chunk_size: u64,
    /// Payload compression: `none`, `zstd:LEVEL`, or empty when the
    /// transport does not compress.
    pub compression: String,
    /// How streams, chunk size and compression were chosen (`probe`,
    /// `pinned`, `default`); empty when the transport has nothing to tune.
    pub tuning: String,
    /// Why the transfer fell back from the transport it asked for (for
    /// example the TCP data plane to in-stream gRPC); `None` when it did not.
    pub fallback: Option<String>,
    /// Seconds from the start until the first payload byte landed; `None`
    /// when no payload byte moved.
    pub first_byte_secs: Option<f64>,
}

impl TransferSummary {
    /// Counts one entry of `kind` created or updated.
    pub fn count(&mut self, kind: crate::FileKind) {
        self.entries_transferred += 1;
        match kind {
            crate::FileKind::File => self.files_transferred += 1,
            crate::FileKind::Dir => self.dirs_transferred += 1,
            crate::FileKind::Symlink => self.symlinks_transferred += 1,
        }
    }

    /// Whether some entries failed.
    pub fn has_failures(&self) -> bool {
        !self.failures.is_empty()
    }
}
