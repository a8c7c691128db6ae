//! The shift-tolerant search (see `rolling`) over a large file, on several
//! threads.
//!
//! After an insertion near the start of a large file, the aligned compare
//! finds nothing in place and the search rolls over the whole file: a
//! BLAKE3 and a weak sum of every block, on one thread 0.33 s per GiB here,
//! all of it between the map's arrival and the first byte the destination
//! can land. Runs of [`PARALLEL_MIN`] bytes or more are cut into shares of
//! at least [`SHARE_MIN`], one per core (at most [`PARALLEL_MAX`]), each
//! searched on its own thread with its own cursors and bounds.
//!
//! A share starts rolling afresh at its cut, so a block of the old version
//! that straddles a cut is in neither share's copies. Once all are done,
//! the bytes around each cut that neither share copied (at most a block on
//! each side) are searched again on this thread: whatever a single search
//! would have copied across the cut is found there. What no copy covers is
//! sent, as with one search.

use super::rolling::{Search, Table, MAX_COPIES};
use super::{BlockCopy, BlockMap, ResumePlan};
use std::fs::File;
use std::io;
use std::ops::Range;

/// Runs of fewer bytes in all (8 MiB) are searched on one thread.
const PARALLEL_MIN: u64 = 8 << 20;
/// Fewest bytes a thread's share holds (4 MiB).
const SHARE_MIN: u64 = 4 << 20;
/// Most threads searching one file.
const PARALLEL_MAX: usize = 4;

/// Looks for `map`'s blocks in each of `runs` (sorted, disjoint ranges of
/// the source `file` of `size` bytes that the aligned compare found
/// different) and returns the plan: what is not found, as ranges to send,
/// and what is, as copies. `reused` is left for the caller.
pub(super) fn find_copies(file: &File, size: u64, map: &BlockMap, runs: &[Range<u64>]) -> io::Result<ResumePlan> {
    let total: u64 = runs.iter().map(|r| r.end - r.start).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shares = if total < PARALLEL_MIN { 1 } else { cores.clamp(1, PARALLEL_MAX).min((total / SHARE_MIN) as usize) };
    find_copies_in(file, size, map, runs, shares)
}

/// [`find_copies`] in `shares` shares (one thread each when more than one).
fn find_copies_in(
    file: &File,
    size: u64,
    map: &BlockMap,
    runs: &[Range<u64>],
    shares: usize,
) -> io::Result<ResumePlan> {
    let table = Table::of(map);
    let block = u64::from(map.block_size);
    let bytes = |rs: &[Range<u64>]| rs.iter().map(|r| r.end - r.start).sum::<u64>();
    let (parts, cuts) = split(runs, shares.max(1));
    // Each share and each stitch has its own bounds; together they stay
    // within one search's (which a single share has whole).
    let max_copies = if parts.len() <= 1 { MAX_COPIES } else { MAX_COPIES / (2 * parts.len()) };
    let search = |rs: &[Range<u64>]| -> io::Result<ResumePlan> {
        let mut search = Search::new(file, map, &table, bytes(rs).saturating_add(16 * block), max_copies);
        for r in rs {
            search.run(r.clone(), size)?;
        }
        Ok(search.into_plan())
    };
    if parts.len() <= 1 {
        return search(runs);
    }
    let plans: Vec<io::Result<ResumePlan>> = std::thread::scope(|s| {
        let search = &search;
        let handles: Vec<_> = parts.iter().map(|part| s.spawn(move || search(part))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("a search thread stopped"))))
            .collect()
    });
    // Shares are in file order and each plan's copies sorted by `to`.
    let mut copies: Vec<BlockCopy> = Vec::new();
    for plan in plans {
        copies.extend(plan?.copies);
    }
    for (cut, run) in cuts {
        let at = copies.partition_point(|c| c.to < cut);
        let start = copies[..at].last().map_or(run.start, |c| (c.to + c.len).max(run.start));
        let end = copies.get(at).map_or(run.end, |c| c.to.min(run.end));
        let around = start.max(cut.saturating_sub(block))..end.min(cut.saturating_add(block));
        if around.end.saturating_sub(around.start) >= block {
            let found = search(std::slice::from_ref(&around))?.copies;
            copies.splice(at..at, found);
        }
    }
    Ok(plan_of(runs, copies))
}

/// A cut inside a run: its offset, and that run.
type Cut = (u64, Range<u64>);

/// Cuts `runs` into at most `shares` parts of about equal bytes, and says
/// where a cut fell inside a run.
fn split(runs: &[Range<u64>], shares: usize) -> (Vec<Vec<Range<u64>>>, Vec<Cut>) {
    let total: u64 = runs.iter().map(|r| r.end - r.start).sum();
    let share = total.div_ceil(shares as u64).max(1);
    let mut parts: Vec<Vec<Range<u64>>> = vec![Vec::new()];
    let mut cuts = Vec::new();
    let mut room = share;
    for run in runs {
        let mut start = run.start;
        while start < run.end {
            if room == 0 {
                parts.push(Vec::new());
                room = share;
            }
            let end = run.end.min(start + room);
            parts.last_mut().expect("never empty").push(start..end);
            room -= end - start;
            if room == 0 && end < run.end {
                cuts.push((end, run.clone()));
            }
            start = end;
        }
    }
    (parts, cuts)
}

/// The plan that copies `copies` (sorted by `to`, disjoint, inside `runs`)
/// and sends the rest of `runs`: adjacent copies of adjacent old bytes
/// become one.
fn plan_of(runs: &[Range<u64>], copies: Vec<BlockCopy>) -> ResumePlan {
    let mut merged: Vec<BlockCopy> = Vec::with_capacity(copies.len());
    for c in copies {
        match merged.last_mut() {
            Some(last) if last.to + last.len == c.to && last.from + last.len == c.from => last.len += c.len,
            _ => merged.push(c),
        }
    }
    let mut ranges = Vec::new();
    let mut next = 0;
    for run in runs {
        let mut at = run.start;
        while let Some(c) = merged.get(next).filter(|c| c.to < run.end) {
            if c.to > at {
                ranges.push(at..c.to);
            }
            at = c.to + c.len;
            next += 1;
        }
        if at < run.end {
            ranges.push(at..run.end);
        }
    }
    ResumePlan { ranges, copies: merged, reused: 0 }
}

#[cfg(test)]
mod tests;
