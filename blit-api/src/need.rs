//! The destination role: judge headers and stream back what is needed.

use crate::{Events, FileHeader, ManifestReceiver, Result, TransferOptions};
use tokio::sync::mpsc;

/// Most entries in one need batch.
pub const NEED_BATCH_MAX_ENTRIES: usize = 2_000;
/// Most header bytes in one need batch (3 MiB).
pub const NEED_BATCH_MAX_BYTES: usize = 3 * 1024 * 1024;

/// A batch of regular files the destination needs, in manifest order. An empty
/// batch (no files, no hints) ends the need list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedBatch {
    /// The needed files.
    pub files: Vec<FileHeader>,
    /// Files the destination is about to compare with the older version it
    /// holds, sent before it starts hashing: their need entries follow
    /// with the block map ([`FileHeader::resume`]), or without one if the
    /// comparison fails. A source may hash the same blocks of its own file
    /// meanwhile ([`crate::Prehash`]) instead of after the map arrives; a
    /// source may also ignore them. A batch of hints alone does not end the
    /// need list.
    pub ahead: Vec<Ahead>,
}

impl NeedBatch {
    /// Most hints one batch carries (a peer's batch with more is refused).
    pub const MAX_AHEAD: usize = 16;

    /// A batch of needed files.
    pub fn of(files: Vec<FileHeader>) -> NeedBatch {
        NeedBatch { files, ahead: Vec::new() }
    }

    /// Whether this is the final, empty batch.
    pub fn is_end(&self) -> bool {
        self.files.is_empty() && self.ahead.is_empty()
    }
}

/// A hint that the destination is hashing the older version it holds of a
/// needed file (see [`NeedBatch::ahead`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ahead {
    /// The file's header as the manifest sent it.
    pub header: FileHeader,
    /// Bytes of the older version: its map covers them in blocks of
    /// [`crate::BlockMap::delta_block_size`] of this length.
    pub basis_len: u64,
}

/// Sending half of a need list.
pub type NeedSender = mpsc::Sender<NeedBatch>;
/// Receiving half of a need list.
pub type NeedReceiver = mpsc::Receiver<NeedBatch>;

/// A bounded need-list channel (a few batches: the destination's judge pauses
/// when the source cannot keep up, and the pause reaches the walker).
pub fn need_channel() -> (NeedSender, NeedReceiver) {
    mpsc::channel(4)
}

/// The destination endpoint's judgement and final bookkeeping.
///
/// # Contract
///
/// `need_list` reads the manifest until it ends or closes. For each header it
/// decides whether the destination needs it: missing, size or mtime differ,
/// or (with `options.checksum`) BLAKE3 differs. Directories and symlinks it
/// needs it applies itself (they carry no payload); needed regular files go
/// into [`NeedBatch`]es of at most [`NEED_BATCH_MAX_ENTRIES`] entries or
/// [`NEED_BATCH_MAX_BYTES`] header bytes, sent as soon as one fills or shortly
/// after the last entry arrived. It ends the list with an empty batch and
/// returns. With `options.dry_run` it changes nothing and sends only the
/// empty final batch.
///
/// A link entry ([`FileHeader::hard_link`]) is never needed: the sink keeps
/// it and links it in `finish`, once its target has landed. Headers that
/// carry `uid`, `gid` or `xattrs` have them applied to what they describe.
///
/// `finish` runs once the payload is done. When the manifest ended with
/// [`crate::ManifestItem::End`] and carried no failures, and `options.mirror`
/// is set, it deletes what the source did not name. Then it sets directory
/// modes and mtimes, deepest first, so writing children does not disturb them.
/// It returns the number of deleted entries.
///
/// # Event order
///
/// `ManifestProgress` as headers arrive (coalesced), `NeedBatch` per sent batch,
/// `FileStarted`/`FileDone` for each directory or symlink it creates (or
/// `Planned` in dry-run), `ManifestComplete` when the manifest ends; in
/// `finish`, `Deleted` per removed entry; for link entries not yet linked,
/// one `NeedBatch` (their count, 0 bytes), then `FileStarted`/`FileDone`
/// (size and bytes 0) or `FileFailed` each; last, at most one `Warning` per
/// kind of metadata the destination could not set.
///
/// # Implementing
///
/// Implemented by the local destination (`blit-transport-local`), which runs
/// wherever the destination tree is (the daemon, for a push); a remote
/// session only carries its need batches. Prove it with `blit-conformance`.
#[async_trait::async_trait]
pub trait NeedListSink: Send + Sync {
    /// Judges the manifest and streams need batches into `needs`.
    async fn need_list(
        &self,
        options: &TransferOptions,
        manifest: ManifestReceiver,
        needs: NeedSender,
        events: Events,
    ) -> Result<()>;

    /// Applies mirror deletions and directory metadata after the payload.
    async fn finish(&self, options: &TransferOptions, events: Events) -> Result<u64>;
}
