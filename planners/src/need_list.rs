//! Need-list batching: cap each batch by entries and by header bytes.

use blit_api::{FileHeader, NeedBatch, NEED_BATCH_MAX_BYTES, NEED_BATCH_MAX_ENTRIES};

/// Collects needed headers into batches of at most `max_entries` entries or
/// `max_bytes` encoded header bytes, whichever fills first.
#[derive(Debug)]
pub struct NeedBatcher {
    max_entries: usize,
    max_bytes: usize,
    files: Vec<FileHeader>,
    bytes: usize,
}

impl Default for NeedBatcher {
    fn default() -> Self {
        Self::new(NEED_BATCH_MAX_ENTRIES, NEED_BATCH_MAX_BYTES)
    }
}

impl NeedBatcher {
    /// A batcher with explicit caps (both at least 1).
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        NeedBatcher { max_entries: max_entries.max(1), max_bytes: max_bytes.max(1), files: Vec::new(), bytes: 0 }
    }

    /// Adds a header. Returns a full batch when this header filled one; a
    /// header that would overflow the byte cap starts the next batch instead.
    pub fn push(&mut self, header: FileHeader) -> Option<NeedBatch> {
        let len = header.encoded_len();
        let full = |b: &Self| b.files.len() >= b.max_entries || b.bytes >= b.max_bytes;
        // A waiting batch that is full, or that this header would overflow, goes first.
        if !self.files.is_empty() && (full(self) || self.bytes + len > self.max_bytes) {
            let out = self.take();
            self.bytes = len;
            self.files.push(header);
            return out;
        }
        self.bytes += len;
        self.files.push(header);
        if full(self) {
            return self.take();
        }
        None
    }

    /// Whether headers are waiting.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Takes the waiting headers as a batch, if any.
    pub fn take(&mut self) -> Option<NeedBatch> {
        if self.files.is_empty() {
            return None;
        }
        self.bytes = 0;
        Some(NeedBatch::of(std::mem::take(&mut self.files)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{FileKind, RelPath};
    use proptest::prelude::*;

    fn header(name_len: usize) -> FileHeader {
        FileHeader {
            // One long name, unchecked: these tests are about byte caps.
            path: RelPath::root().join(&vec![b'a'; name_len]),
            kind: FileKind::File,
            size: 1,
            mtime_ns: 0,
            mode: 0o644,
            link_target: None,
            checksum: None,
            ..Default::default()
        }
    }

    #[test]
    fn caps_by_entries() {
        let mut b = NeedBatcher::default();
        let mut sizes = Vec::new();
        for _ in 0..4_500 {
            if let Some(batch) = b.push(header(8)) {
                sizes.push(batch.files.len());
            }
        }
        sizes.extend(b.take().map(|x| x.files.len()));
        assert_eq!(sizes, vec![2_000, 2_000, 500]);
        assert!(b.take().is_none());
    }

    #[test]
    fn caps_by_bytes() {
        // 4,000-byte names: 3 MiB holds 782 of them (each ~4,032 bytes).
        let mut b = NeedBatcher::default();
        let first = (0..2_000).find_map(|_| b.push(header(4_000))).unwrap();
        let total: usize = first.files.iter().map(FileHeader::encoded_len).sum();
        assert!(total <= NEED_BATCH_MAX_BYTES, "{total}");
        assert!(total + 4_032 > NEED_BATCH_MAX_BYTES, "batch closed early at {total}");
    }

    proptest! {
        #[test]
        fn batches_keep_order_and_caps(lens in proptest::collection::vec(1usize..300, 0..400), max_e in 1usize..50, max_b in 1usize..3000) {
            let mut b = NeedBatcher::new(max_e, max_b);
            let mut out = Vec::new();
            for (i, len) in lens.iter().enumerate() {
                let mut h = header(*len);
                h.size = i as u64;
                if let Some(batch) = b.push(h) { out.push(batch); }
            }
            out.extend(b.take());
            let flat: Vec<u64> = out.iter().flat_map(|x| x.files.iter().map(|h| h.size)).collect();
            prop_assert_eq!(flat, (0..lens.len() as u64).collect::<Vec<_>>());
            for batch in &out {
                prop_assert!(!batch.files.is_empty());
                prop_assert!(batch.files.len() <= max_e);
                let bytes: usize = batch.files.iter().map(FileHeader::encoded_len).sum();
                // A batch exceeds the byte cap only when it is a single oversized header.
                prop_assert!(bytes <= max_b || batch.files.len() == 1);
            }
        }
    }
}
