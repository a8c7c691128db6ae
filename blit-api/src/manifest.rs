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

/// Sending half of a manifest stream (bounded: the walker waits when the
/// destination falls behind).
pub type ManifestSender = mpsc::Sender<ManifestItem>;
/// Receiving half of a manifest stream.
pub type ManifestReceiver = mpsc::Receiver<ManifestItem>;

/// A bounded manifest channel. 4,096 items keep both sides busy without letting
/// a fast walker run ahead of a slow destination.
pub fn manifest_channel() -> (ManifestSender, ManifestReceiver) {
    mpsc::channel(4096)
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
