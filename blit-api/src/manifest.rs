//! The source role: stream headers as the walk finds them.

use crate::{FileFailure, FileHeader, RelPath, Result, TransferOptions};
use tokio::sync::mpsc;

/// One item of the manifest stream.
#[derive(Debug, Clone)]
pub enum ManifestItem {
    /// An entry the source found. A directory's header always comes before
    /// the headers of its children.
    Entry(FileHeader),
    /// Every child of this directory has been sent (its subdirectories may
    /// still be open). Lets a mirroring destination judge extraneous entries
    /// one directory at a time instead of holding the whole tree.
    DirDone(RelPath),
    /// An entry that could not be read (vanished, unreadable, unsupported
    /// kind). The walk goes on; a manifest with failures never triggers
    /// mirror deletions.
    Failed(FileFailure),
    /// The walk finished without a fatal error. A manifest channel that closes
    /// without `End` is incomplete.
    End,
}

/// Items per batch a sender should gather before [`ManifestSender::send_all`].
pub const MANIFEST_BATCH: usize = 32;

/// Batches the channel holds: with full batches, 4,096 items, which keep
/// both sides busy without letting a fast walker run ahead of a slow
/// destination.
const CHANNEL_BATCHES: usize = 4096 / MANIFEST_BATCH;

/// Sending half of a manifest stream (bounded: the walker waits when the
/// destination falls behind). Items travel in batches: a walker that sends
/// a directory's entries together with [`ManifestSender::send_all`] wakes
/// the destination once per batch rather than once per entry, which on a
/// tree of small files (a no-change re-run above all) is most of the cost
/// of the handover. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ManifestSender(mpsc::Sender<Vec<ManifestItem>>);

/// Receiving half of a manifest stream: yields the items one at a time,
/// in the order they were sent.
#[derive(Debug)]
pub struct ManifestReceiver {
    rx: mpsc::Receiver<Vec<ManifestItem>>,
    ready: std::collections::VecDeque<ManifestItem>,
}

/// The receiver is gone; what could not be sent is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestClosed;

impl std::fmt::Display for ManifestClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the manifest's receiver is gone")
    }
}

impl std::error::Error for ManifestClosed {}

/// Why [`ManifestReceiver::try_recv`] returned nothing.
pub type ManifestTryRecvError = mpsc::error::TryRecvError;

impl ManifestSender {
    /// Sends one item, waiting while the channel is full.
    pub async fn send(&self, item: ManifestItem) -> std::result::Result<(), ManifestClosed> {
        self.0.send(vec![item]).await.map_err(|_| ManifestClosed)
    }

    /// Sends one item from a thread outside the runtime, blocking while the
    /// channel is full.
    pub fn blocking_send(&self, item: ManifestItem) -> std::result::Result<(), ManifestClosed> {
        self.0.blocking_send(vec![item]).map_err(|_| ManifestClosed)
    }

    /// Sends `items` as one batch (nothing when empty), waiting while the
    /// channel is full. Keep batches to about [`MANIFEST_BATCH`] items so
    /// the channel's bound holds.
    pub async fn send_all(&self, items: Vec<ManifestItem>) -> std::result::Result<(), ManifestClosed> {
        if items.is_empty() {
            return Ok(());
        }
        self.0.send(items).await.map_err(|_| ManifestClosed)
    }

    /// [`ManifestSender::send_all`] from a thread outside the runtime.
    pub fn blocking_send_all(&self, items: Vec<ManifestItem>) -> std::result::Result<(), ManifestClosed> {
        if items.is_empty() {
            return Ok(());
        }
        self.0.blocking_send(items).map_err(|_| ManifestClosed)
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    /// Waits until the receiver is gone.
    pub async fn closed(&self) {
        self.0.closed().await
    }
}

impl ManifestReceiver {
    /// The next item; `None` once every sender is gone and all was read.
    pub async fn recv(&mut self) -> Option<ManifestItem> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            self.ready.extend(self.rx.recv().await?);
        }
    }

    /// [`ManifestReceiver::recv`] from a thread outside the runtime.
    pub fn blocking_recv(&mut self) -> Option<ManifestItem> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            self.ready.extend(self.rx.blocking_recv()?);
        }
    }

    /// The next item if one is there now.
    pub fn try_recv(&mut self) -> std::result::Result<ManifestItem, ManifestTryRecvError> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Ok(item);
            }
            self.ready.extend(self.rx.try_recv()?);
        }
    }

    /// Closes the channel: senders fail from now on; what was sent can
    /// still be read.
    pub fn close(&mut self) {
        self.rx.close();
    }
}

/// A bounded manifest channel (see [`ManifestSender`]).
pub fn manifest_channel() -> (ManifestSender, ManifestReceiver) {
    manifest_channel_holding(CHANNEL_BATCHES * MANIFEST_BATCH)
}

/// A manifest channel that holds about `items` items (batches of up to
/// [`MANIFEST_BATCH`]; at least one batch), for a receiver that must bound
/// what waits in it more tightly or loosely than [`manifest_channel`].
pub fn manifest_channel_holding(items: usize) -> (ManifestSender, ManifestReceiver) {
    let (tx, rx) = mpsc::channel((items / MANIFEST_BATCH).max(1));
    (ManifestSender(tx), ManifestReceiver { rx, ready: std::collections::VecDeque::new() })
}

/// The source endpoint's walk.
///
/// # Contract
///
/// `manifest` sends every entry under the source root into `out` as it is
/// found, the root itself first (with the empty path), and a directory before
/// its children; it never collects the tree. When `options.checksum` is set,
/// regular files carry their BLAKE3 in [`FileHeader::checksum`]; with
/// `options.owner`, `group` or `xattrs` headers carry those. With
/// `options.hard_links`, a regular file whose inode was already sent under
/// another name is sent as a link entry ([`FileHeader::hard_link`] naming
/// that earlier entry), always after it. An entry that
/// cannot be read becomes [`ManifestItem::Failed`] and the walk continues.
/// After the last entry it sends [`ManifestItem::End`] and returns `Ok`. A
/// fatal error (the root is missing) returns `Err` without `End`. If `out` is
/// closed (the destination gave up) it stops and returns `Ok`.
///
/// # Event order
///
/// The source emits no progress events: the destination reports what it
/// receives, so every direction reports the same way.
///
/// # Implementing
///
/// Implemented by the local walker (`blit-transport-local`), which runs
/// wherever the source tree is (the daemon, for a pull); a remote session
/// only carries its items. Prove an implementation with `blit-conformance`.
#[async_trait::async_trait]
pub trait ManifestSource: Send + Sync {
    /// Walks the source, sending headers into `out`.
    async fn manifest(&self, options: &TransferOptions, out: ManifestSender) -> Result<()>;
}
