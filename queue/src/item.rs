//! Work items and done records, and how they are decoded: with a size
//! bound first, then validated like a peer's message.

use blit_api::{Error, ErrorKind, RelPath, Result, TransferSummary};
use blit_proto::pb;
use blit_session::error::{error_from_report, report_from_error};
use blit_session::wire::{failure_from_wire, failure_to_wire};
use prost::Message;

/// Most entries one work item lists.
pub const MAX_ITEM_ENTRIES: usize = 4096;
/// Most bytes of paths one work item lists (well under a NATS message).
pub const MAX_ITEM_BYTES: usize = 512 * 1024;

/// A protocol error in something read from the queue.
pub(crate) fn bad(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, format!("the queue holds {}", what.into())).with_hint(
        "something other than blit published on the queue's subjects, or another blit release: check who can publish on the server",
    )
}

/// Decodes `bytes` as `M` after checking its length.
pub(crate) fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M> {
    if bytes.len() > crate::MAX_MESSAGE {
        return Err(bad(format!("a {what} of {} bytes (the limit is {})", bytes.len(), crate::MAX_MESSAGE)));
    }
    M::decode(bytes).map_err(|e| bad(format!("a {what} that does not decode: {e}")))
}

/// One share of a job: entries to copy, or one range of one large file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// The job's id ([`crate::JobSpec::id`]).
    pub job: String,
    /// The run it belongs to; items of older runs are dropped.
    pub run: u64,
    /// Its number in the run, from 1.
    pub seq: u64,
    /// Entries relative to the source root (files and symlinks; at most
    /// [`MAX_ITEM_ENTRIES`], [`MAX_ITEM_BYTES`] of paths).
    pub paths: Vec<RelPath>,
    /// The bytes the plan expects it to move.
    pub bytes: u64,
    /// `(offset, len)`: only this range of the one file in `paths` lands,
    /// into its partial copy.
    pub range: Option<(u64, u64)>,
}

impl WorkItem {
    /// The encoded item.
    pub fn encode(&self) -> Vec<u8> {
        let (offset, len) = self.range.unwrap_or((0, 0));
        pb::QueueItem {
            job: self.job.clone(),
            run: self.run,
            seq: self.seq,
            paths: self.paths.iter().map(|p| p.as_bytes().to_vec().into()).collect(),
            bytes: self.bytes,
            offset,
            len,
        }
        .encode_to_vec()
    }

    /// An item from the queue, validated: a job id of hex digits, at most
    /// [`MAX_ITEM_ENTRIES`] paths and each a clean relative path, a range
    /// only over exactly one path.
    pub fn decode(bytes: &[u8]) -> Result<WorkItem> {
        let item: pb::QueueItem = decode(bytes, "work item")?;
        if item.job.is_empty() || item.job.len() > 64 || !item.job.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("a work item with a malformed job id"));
        }
        if item.paths.is_empty() || item.paths.len() > MAX_ITEM_ENTRIES {
            return Err(bad(format!("a work item of {} entries", item.paths.len())));
        }
        let paths = item
            .paths
            .iter()
            .map(|p| RelPath::from_bytes(p.to_vec()).map_err(|e| bad(format!("a work item path: {}", e.message()))))
            .collect::<Result<Vec<_>>>()?;
        if paths.iter().any(RelPath::is_root) {
            return Err(bad("a work item naming the source root"));
        }
        let range = match (item.offset, item.len) {
            (0, 0) => None,
            (_, 0) => return Err(bad("a work item with an empty range")),
            (offset, len) if offset.checked_add(len).is_none() => {
                return Err(bad(format!("a work item range {offset}+{len} past 2^64")))
            }
            _ if paths.len() != 1 => return Err(bad("a range item over several paths")),
            (offset, len) => Some((offset, len)),
        };
        Ok(WorkItem { job: item.job, run: item.run, seq: item.seq, paths, bytes: item.bytes, range })
    }
}

/// What one item did.
#[derive(Debug, Clone)]
pub struct ItemDone {
    /// Its run.
    pub run: u64,
    /// Its number.
    pub seq: u64,
    /// The worker that landed it.
    pub worker: String,
    /// Its counts and per-entry failures (the other fields are unset).
    pub summary: TransferSummary,
    /// The item failed as a whole, after its last attempt.
    pub error: Option<Error>,
}

impl ItemDone {
    /// The encoded record.
    pub fn encode(&self) -> Vec<u8> {
        let s = &self.summary;
        pb::QueueDone {
            run: self.run,
            seq: self.seq,
            worker: self.worker.clone(),
            counts: Some(pb::QueueCounts {
                files: s.files_transferred,
                dirs: s.dirs_transferred,
                symlinks: s.symlinks_transferred,
                bytes: s.bytes_transferred,
                reused: s.bytes_reused,
                zero_copy: s.zero_copy_bytes,
                wire_bytes: s.wire_bytes,
                deleted: s.deleted,
                transport: s.transport.clone(),
            }),
            failures: s.failures.iter().map(failure_to_wire).collect(),
            error: self.error.as_ref().map(report_from_error),
        }
        .encode_to_vec()
    }

    /// A record from the queue, validated (paths, bounded texts); `from`
    /// names the queue in errors the record carries.
    pub fn decode(bytes: &[u8], from: &str) -> Result<ItemDone> {
        let done: pb::QueueDone = decode(bytes, "done record")?;
        if done.worker.len() > 256 {
            return Err(bad("a done record with an overlong worker name"));
        }
        let c = done.counts.unwrap_or_default();
        let failures = done.failures.into_iter().map(failure_from_wire).collect::<Result<Vec<_>>>()?;
        let summary = TransferSummary {
            entries_transferred: c.files.saturating_add(c.dirs).saturating_add(c.symlinks),
            files_transferred: c.files,
            dirs_transferred: c.dirs,
            symlinks_transferred: c.symlinks,
            bytes_transferred: c.bytes,
            bytes_reused: c.reused,
            zero_copy_bytes: c.zero_copy,
            wire_bytes: c.wire_bytes,
            deleted: c.deleted,
            transport: c.transport.chars().take(64).collect(),
            failures,
            ..TransferSummary::default()
        };
        let worker = format!("worker {}", done.worker);
        let error = done.error.map(|report| error_from_report(&report, &format!("{from} ({worker})")));
        Ok(ItemDone { run: done.run, seq: done.seq, worker: done.worker, summary, error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> WorkItem {
        WorkItem {
            job: "0123456789abcdef0123".into(),
            run: 2,
            seq: 7,
            paths: vec![RelPath::from_bytes(b"a/b".to_vec()).unwrap(), RelPath::from_bytes(b"c\xff".to_vec()).unwrap()],
            bytes: 99,
            range: None,
        }
    }

    #[test]
    fn items_round_trip_with_raw_names() {
        let it = item();
        assert_eq!(WorkItem::decode(&it.encode()).unwrap(), it);
        let ranged = WorkItem { paths: it.paths[..1].to_vec(), range: Some((4096, 1 << 30)), ..item() };
        assert_eq!(WorkItem::decode(&ranged.encode()).unwrap(), ranged);
    }

    #[test]
    fn hostile_items_are_refused() {
        let mut raw = pb::QueueItem::decode(&*item().encode()).unwrap();
        let refused = |raw: &pb::QueueItem| WorkItem::decode(&raw.encode_to_vec()).unwrap_err().kind();
        raw.paths.push(b"../etc/passwd".to_vec().into());
        assert_eq!(refused(&raw), ErrorKind::Protocol);
        raw.paths.pop();
        raw.paths.push(b"/etc/passwd".to_vec().into());
        assert_eq!(refused(&raw), ErrorKind::Protocol);
        raw.paths.pop();
        raw.job = "../../x".into();
        assert_eq!(refused(&raw), ErrorKind::Protocol);
        raw.job = "abc".into();
        raw.offset = 1;
        raw.len = 5;
        assert_eq!(refused(&raw), ErrorKind::Protocol, "a range over two paths");
        raw.offset = u64::MAX;
        raw.paths.truncate(1);
        assert_eq!(refused(&raw), ErrorKind::Protocol, "a range past 2^64");
        raw.offset = 0;
        raw.len = 0;
        raw.paths = (0..=MAX_ITEM_ENTRIES).map(|i| format!("f{i}").into_bytes().into()).collect();
        assert_eq!(refused(&raw), ErrorKind::Protocol, "too many entries");
        assert_eq!(WorkItem::decode(&vec![0u8; crate::MAX_MESSAGE + 1]).unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn done_records_carry_counts_failures_and_errors() {
        let summary = TransferSummary {
            files_transferred: 3,
            bytes_transferred: 1000,
            failures: vec![blit_api::FileFailure {
                path: RelPath::from_bytes(b"x".to_vec()).unwrap(),
                kind: ErrorKind::PermissionDenied,
                message: "x: permission denied".into(),
            }],
            ..TransferSummary::default()
        };
        let done = ItemDone {
            run: 1,
            seq: 4,
            worker: "w1".into(),
            summary,
            error: Some(Error::new(ErrorKind::Io, "daemon gone")),
        };
        let back = ItemDone::decode(&done.encode(), "nats://q:1").unwrap();
        assert_eq!(back.summary.files_transferred, 3);
        assert_eq!(back.summary.entries_transferred, 3);
        assert_eq!(back.summary.failures, done.summary.failures);
        let e = back.error.unwrap();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.path().unwrap().contains("worker w1"), "{e}");
    }
}
