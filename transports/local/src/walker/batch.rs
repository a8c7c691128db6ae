//! The walker's batches: a listing's items go to the destination in
//! batches of [`blit_api::MANIFEST_BATCH`], one wake-up each, instead of one
//! item at a time (on a tree of small files, most of a no-change run's cost
//! was that handover).

use super::Walker;
use blit_api::{ManifestItem, RelPath};

/// Items of one listing waiting to be sent, and the subdirectories among
/// them, queued for listing once their headers are sent.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) items: Vec<ManifestItem>,
    pub(super) subdirs: Vec<RelPath>,
}

impl Walker<'_> {
    /// Adds `item` to `out`, sending the batch when it is full; false once
    /// the receiver is gone.
    pub(super) fn add(&self, out: &mut Batch, item: ManifestItem) -> bool {
        out.items.push(item);
        out.items.len() < blit_api::MANIFEST_BATCH || self.flush(out)
    }

    /// Sends what `out` holds, then queues the subdirectories whose headers
    /// it carried; false once the receiver is gone.
    pub(super) fn flush(&self, out: &mut Batch) -> bool {
        if !out.items.is_empty() && self.out.blocking_send_all(std::mem::take(&mut out.items)).is_err() {
            self.close();
            return false;
        }
        for sub in out.subdirs.drain(..) {
            self.push(sub);
        }
        true
    }
}
