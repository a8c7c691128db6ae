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
    edit_headers(Arc::new(move |h| {
        if h.path == victim && std::fs::remove_file(&abs).is_ok() {
            removed.store(true, Ordering::Release);
        }
    }))
}

/// A hook that changes every header of the manifest with `edit` before the
/// destination sees it (for example to announce an owner the destination
/// cannot give). The need list and the payload then carry the edited
/// headers, as they would carry what a real walk found.
pub fn edit_headers(edit: Arc<dyn Fn(&mut blit_api::FileHeader) + Send + Sync>) -> SourceHook {
    Arc::new(move |inner| Arc::new(EditHeaders { inner, edit: edit.clone() }) as Arc<dyn ManifestSource>)
}

struct EditHeaders {
    inner: Arc<dyn ManifestSource>,
    edit: Arc<dyn Fn(&mut blit_api::FileHeader) + Send + Sync>,
}

#[async_trait::async_trait]
impl ManifestSource for EditHeaders {
    async fn manifest(&self, options: &TransferOptions, out: ManifestSender) -> Result<()> {
        let (tx, mut rx) = manifest_channel();
        let walk = self.inner.manifest(options, tx);
        // `async move`: the receiver drops when forwarding stops, so a walker
        // blocked on a full channel sees it closed and stops too.
        let forward = async move {
            while let Some(mut item) = rx.recv().await {
                if let ManifestItem::Entry(h) = &mut item {
                    (self.edit)(h);
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
