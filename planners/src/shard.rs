//! Payload planning: small files grouped into shards, large files alone,
//! and files larger than a range cut into ranges when the transport has
//! several streams ([`crate::ranges`]).

use crate::ranges::range_size;
use blit_api::{FileHeader, PayloadPlan};

/// Files at most this large travel in shards (when the transport supports them).
pub const SHARD_FILE_MAX: u64 = 256 * 1024;
/// Most files in one shard.
pub const SHARD_MAX_FILES: usize = 512;
/// Most payload bytes in one shard (8 MiB).
pub const SHARD_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// Turns needed files, in need-list order, into payload plans.
#[derive(Debug)]
pub struct PayloadPlanner {
    shards: bool,
    streams: u32,
    pending: Vec<FileHeader>,
    pending_bytes: u64,
}

impl PayloadPlanner {
    /// A planner; `shards` says whether the transport carries
    /// [`PayloadPlan::Shard`], `streams` how many streams it may use at most
    /// ([`blit_api::Capabilities::payload_max_streams`]).
    pub fn new(shards: bool, streams: u32) -> Self {
        PayloadPlanner { shards, streams, pending: Vec::new(), pending_bytes: 0 }
    }

    /// Adds a needed file; returns the plans it completes (zero, one or two).
    /// A file the destination resumes is planned whole: which of its ranges
    /// travel is known only once the source compares it. So is a file of
    /// which one part range travels ([`FileHeader::part_range`]), whatever
    /// its size: shards carry whole files only.
    pub fn push(&mut self, header: FileHeader) -> Vec<PayloadPlan> {
        let ranged = header.resume.is_some() || header.part_range.is_some();
        if let Some(range) = range_size(header.size, self.streams).filter(|_| !ranged) {
            return vec![PayloadPlan::Ranges { header, range }];
        }
        if !self.shards || header.size > SHARD_FILE_MAX || ranged {
            return vec![PayloadPlan::File(header)];
        }
        let mut out = Vec::new();
        if !self.pending.is_empty() && self.pending_bytes + header.size > SHARD_MAX_BYTES {
            out.extend(self.flush());
        }
        self.pending_bytes += header.size;
        self.pending.push(header);
        if self.pending.len() >= SHARD_MAX_FILES {
            out.extend(self.flush());
        }
        out
    }

    /// Emits the partly filled shard, if any (a shard of one file is sent as
    /// a plain file).
    pub fn flush(&mut self) -> Option<PayloadPlan> {
        self.pending_bytes = 0;
        match self.pending.len() {
            0 => None,
            1 => self.pending.pop().map(PayloadPlan::File),
            _ => Some(PayloadPlan::Shard(std::mem::take(&mut self.pending))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{FileKind, RelPath};

    fn file(i: usize, size: u64) -> FileHeader {
        FileHeader {
            path: RelPath::from_bytes(format!("f{i}")).unwrap(),
            kind: FileKind::File,
            size,
            mtime_ns: 0,
            mode: 0o644,
            link_target: None,
            checksum: None,
            ..Default::default()
        }
    }

    #[test]
    fn small_files_shard_large_files_alone() {
        let mut p = PayloadPlanner::new(true, 1);
        let mut plans = Vec::new();
        plans.extend(p.push(file(0, 10)));
        plans.extend(p.push(file(1, SHARD_FILE_MAX + 1)));
        plans.extend(p.push(file(2, SHARD_FILE_MAX)));
        plans.extend(p.flush());
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0], PayloadPlan::File(file(1, SHARD_FILE_MAX + 1)));
        assert_eq!(plans[1].files().len(), 2);
    }

    #[test]
    fn shards_cap_files_and_bytes_and_keep_every_file() {
        let mut p = PayloadPlanner::new(true, 1);
        let mut plans = Vec::new();
        for i in 0..2_000 {
            plans.extend(p.push(file(i, 100 * 1024)));
        }
        plans.extend(p.flush());
        let mut n = 0;
        for plan in &plans {
            let bytes: u64 = plan.files().iter().map(|h| h.size).sum();
            assert!(bytes <= SHARD_MAX_BYTES && plan.files().len() <= SHARD_MAX_FILES);
            n += plan.files().len();
        }
        assert_eq!(n, 2_000);
    }

    #[test]
    fn large_files_are_cut_into_ranges_only_over_several_streams() {
        let big = file(0, 8 << 20);
        assert_eq!(PayloadPlanner::new(true, 1).push(big.clone()), vec![PayloadPlan::File(big.clone())]);
        let plans = PayloadPlanner::new(true, 4).push(big.clone());
        assert_eq!(plans, vec![PayloadPlan::Ranges { header: big.clone(), range: 512 * 1024 }]);
        assert_eq!(plans[0].files(), std::slice::from_ref(&big));
        // Small files still shard; a resumed file stays whole.
        let mut p = PayloadPlanner::new(true, 4);
        assert!(p.push(file(1, 10)).is_empty());
        let map = blit_api::BlockMap::new(blit_api::BlockMap::block_size_for(8 << 20), 0, Vec::new()).unwrap();
        let resumed = FileHeader { resume: Some(std::sync::Arc::new(map)), ..big };
        assert_eq!(p.push(resumed.clone()), vec![PayloadPlan::File(resumed)]);
    }

    #[test]
    fn a_part_range_file_travels_alone_whatever_its_size() {
        let part = Some(blit_api::PartRange { offset: 3, len: 4 });
        let mut p = PayloadPlanner::new(true, 4);
        assert!(p.push(file(1, 10)).is_empty(), "an ordinary small file waits for its shard");
        for size in [0, 10, 8 << 20] {
            let ranged = FileHeader { part_range: part, ..file(2, size) };
            assert_eq!(p.push(ranged.clone()), vec![PayloadPlan::File(ranged)]);
        }
    }

    #[test]
    fn without_shard_support_every_file_is_alone() {
        let mut p = PayloadPlanner::new(false, 1);
        let plans: Vec<_> = (0..10).flat_map(|i| p.push(file(i, 1))).collect();
        assert_eq!(plans.len(), 10);
        assert!(p.flush().is_none());
    }
}
