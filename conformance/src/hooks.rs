//! Source hooks: wrappers around a [`ManifestSource`] that act at a precise
//! point of the walk, so that cases about races run deterministically.

use crate::harness::SourceHook;
use blit_api::{manifest_channel, ManifestItem, ManifestSender, ManifestSource, RelPath, Result, TransferOptions};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A hook that deletes the file at `abs` (named `victim` in the manifest)
/// right after the walk produced its header and before the destination sees
/// it. The destination needs the file, and the source cannot open it any
/// more: a per-file failure with the header's size already announced.
///
/// `removed` is set once the file is gone, so a case can prove the hook ran.
pub fn remove_after_header(victim: RelPath, abs: PathBuf, removed: Arc<AtomicBool>) -> SourceHook {
    Arc::new(move |inner| {
        Arc::new(RemoveAfterHeader { inner, victim: victim.clone(), abs: abs.clone(), removed: removed.clone() })
            as Arc<dyn ManifestSource>
    })
}

struct RemoveAfterHeader {
    inner: Arc<dyn ManifestSource>,
    victim: RelPath,
    abs: PathBuf,
    removed: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl ManifestSource for RemoveAfterHeader {
    async fn manifest(&self, options: &TransferOptions, out: ManifestSender) -> Result<()> {
        let (tx, mut rx) = manifest_channel();
        let walk = self.inner.manifest(options, tx);
        // `async move`: the receiver drops when forwarding stops, so a walker
        // blocked on a full channel sees it closed and stops too.
        let forward = async move {
            while let Some(item) = rx.recv().await {
                if let ManifestItem::Entry(h) = &item {
                    if h.path == self.victim && std::fs::remove_file(&self.abs).is_ok() {
                        self.removed.store(true, Ordering::Release);
                    }
                }
                if out.send(item).await.is_err() {
                    break;
                }
            }
        };
        let (walked, ()) = tokio::join!(walk, forward);
        walked
    }
}
