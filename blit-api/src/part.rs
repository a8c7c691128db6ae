//! One byte range of a file, landed into its partial copy: how a
//! distributed job spreads one huge file over several workers.
//!
//! # Design
//!
//! A transfer with [`crate::TransferOptions::part_range`] moves, of each
//! regular file the destination needs (normally exactly one, chosen with
//! the filter's `files_from`), only the bytes [`PartRange::span`] of it.
//! Nothing new travels: the source's [`crate::SourceFile::resume_plan`]
//! turns the range into a [`crate::ResumePlan`] of one range whose other
//! bytes are "not sent", exactly as a resumed file's kept blocks or a sparse
//! file's holes are, so every transport that carries resumes carries ranges
//! ([`crate::Capabilities::resume`]). The destination's [`crate::Landing`]
//! knows the range from the options and hands the file to
//! [`crate::PayloadWriter::land_range`] instead of resuming it: the writer
//! opens (or creates at the file's full size, the rest left as holes) the
//! file's stable partial copy, the one `--resume` keeps, writes the range
//! and leaves it there: no rename, no metadata, nothing outside the range
//! touched, never cut. Several such transfers of disjoint ranges may write
//! one partial copy at the same time (the local destination shares it
//! under a shared lock; see `landing/range.rs` in `blit-transport-local`).
//!
//! Once every range has landed, an ordinary transfer with `--resume` finds
//! the partial copy, hashes it block by block ([`crate::BlockMap`]), sends
//! only blocks that differ (none, or a range that failed) and commits it.
//!
//! # Events
//!
//! A range transfer accounts for the range alone, so its numbers add up
//! like any other transfer's: `NeedBatch` counts the range's bytes,
//! `FileStarted` announces them as the size, `FileBytes` add up to them,
//! and `FileDone` (with the same count) means "this range is in the partial
//! copy", not that the file has its name yet. The bytes outside the range
//! are neither reused nor landed by this transfer: no `FileResumed`.

use crate::{Error, ErrorKind, Result, ResumePlan};
use std::ops::Range;

/// The bytes `offset .. offset + len` of a file (see the module docs).
/// A file shorter than the range's end gives what it holds of it; one that
/// ends before `offset` gives nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartRange {
    /// First byte of the range.
    pub offset: u64,
    /// Bytes in the range (more than 0).
    pub len: u64,
}

impl PartRange {
    /// The range `offset .. offset + len`, validated ([`PartRange::check`]).
    pub fn new(offset: u64, len: u64) -> Result<Self> {
        let range = PartRange { offset, len };
        range.check()?;
        Ok(range)
    }

    /// Refuses an empty range and one whose end does not fit a `u64`
    /// ([`ErrorKind::InvalidInput`]); a peer's range goes through here.
    pub fn check(&self) -> Result<()> {
        if self.len == 0 {
            return Err(Error::new(ErrorKind::InvalidInput, "a part range of 0 bytes")
                .with_hint("give each part range at least one byte"));
        }
        if self.offset.checked_add(self.len).is_none() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("a part range of {} bytes at {} ends past the largest file offset", self.len, self.offset),
            ));
        }
        Ok(())
    }

    /// The bytes of a file of `size` bytes this range covers:
    /// `offset .. offset + len`, cut to the file (empty, at the file's end,
    /// when it ends before `offset`). Total even for an unchecked range.
    pub fn span(&self, size: u64) -> Range<u64> {
        let start = self.offset.min(size);
        start..self.offset.saturating_add(self.len).min(size)
    }

    /// How many bytes of a file of `size` bytes this range covers.
    pub fn bytes_of(&self, size: u64) -> u64 {
        let span = self.span(size);
        span.end - span.start
    }

    /// What the source sends of a file of `size` bytes: the span as the one
    /// range, every other byte not sent (`reused`, which the destination's
    /// [`crate::Landing`] checks against its own options).
    pub fn plan(&self, size: u64) -> ResumePlan {
        let span = self.span(size);
        let bytes = span.end - span.start;
        let ranges = if bytes == 0 { Vec::new() } else { vec![span] };
        ResumePlan { ranges, copies: Vec::new(), reused: size - bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_empty_and_overflowing_ranges() {
        assert!(PartRange::new(0, 1).is_ok());
        assert!(PartRange::new(u64::MAX - 1, 1).is_ok());
        assert_eq!(PartRange::new(5, 0).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(PartRange::new(u64::MAX, 1).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(PartRange::new(2, u64::MAX - 1).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn spans_are_cut_to_the_file() {
        let r = PartRange { offset: 10, len: 20 };
        assert_eq!(r.span(100), 10..30);
        assert_eq!(r.span(25), 10..25);
        assert_eq!(r.span(10), 10..10);
        assert_eq!(r.span(3), 3..3);
        assert_eq!(r.bytes_of(25), 15);
        // Unchecked: no overflow, no panic.
        assert_eq!(PartRange { offset: u64::MAX, len: u64::MAX }.span(7), 7..7);
    }

    #[test]
    fn plans_send_the_span_and_count_the_rest_as_not_sent() {
        let r = PartRange { offset: 10, len: 20 };
        let plan = r.plan(100);
        assert_eq!((plan.ranges.len(), plan.ranges[0].clone(), plan.reused), (1, 10..30, 80));
        let past = r.plan(5);
        assert!(past.ranges.is_empty() && past.reused == 5, "{past:?}");
        let whole = PartRange { offset: 0, len: 1 << 40 }.plan(64);
        assert_eq!((whole.ranges.len(), whole.ranges[0].clone(), whole.reused), (1, 0..64, 0));
    }
}
