//! Resuming partial files: the destination's block map of what it already
//! holds, and the one comparison every transport's sending half uses to
//! decide what to send.
//!
//! # Design
//!
//! A destination lands a file of at least [`RESUME_MIN`] bytes under a stable
//! temporary name (for the local destination `.blit.<hash of the name>.part`)
//! that survives an interrupted run. With [`crate::TransferOptions::resume`],
//! the destination's judge hashes that partial copy in fixed blocks
//! ([`BlockMap::hash_file`]) and attaches the map to the need entry
//! ([`crate::FileHeader::resume`]). The source hashes the same blocks of its
//! file and sends only the blocks that differ, plus everything past the
//! partial length ([`ranges_to_send`]). The destination's
//! [`crate::Landing::resume`] reopens the partial copy, the transport writes
//! the ranges at their offsets, and the file is committed as usual.
//!
//! Both sides hash exactly the same byte ranges: block `i` covers
//! `i * block_size .. min((i + 1) * block_size, partial_len)`, so a short
//! last block compares like any other. Blocks are at least
//! [`RESUME_BLOCK_MIN`] (1 MiB) and grow with the file so a map never holds
//! more than [`RESUME_MAX_BLOCKS`] hashes (512 KiB): a 4 GiB file has 4096
//! blocks, 128 KiB of hashes.
//!
//! # Delta transfer
//!
//! The same comparison sends only the changed blocks of a file the
//! destination holds an older version of ([`crate::TransferOptions::delta`]):
//! the judge hashes the old version instead of a partial copy, with smaller
//! blocks ([`BlockMap::delta_block_size`]: about the square root of 32 times
//! the size, so the map's hashes and the bytes a change costs balance), and
//! the destination's [`crate::Landing::resume`] starts the new file as a copy
//! of the old one. Blocks are first compared where they stand: a change that
//! keeps the other bytes in place (a database page, a disk image, an
//! appended log) costs the blocks it touches. A delta map also holds a weak
//! rolling checksum of each block ([`BlockMap::hash_delta`]), and inside
//! every run of bytes that differ the source looks for the old version's
//! blocks at any offset (see `rolling`): bytes inserted or removed cost
//! about a block around the change, and what moved travels as copies within
//! the old version ([`BlockCopy`]), not as data.

use crate::{Error, ErrorKind, Result};
use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Range;

mod ahead;
mod aligned;
mod hash;
mod rolling;
mod search;

#[cfg(test)]
use hash::hash_range;
use hash::{hash_each, read_range, run_idle, strong, Blocks, Pace, Strong};

pub use ahead::Prehash;

/// Files at least this large (8 MiB) land under a stable temporary name that
/// an interrupted run leaves behind for `--resume`; smaller files are cheap
/// to send again.
pub const RESUME_MIN: u64 = 8 * 1024 * 1024;
/// Files at least this large (8 MiB) travel as a delta against the older
/// version the destination holds ([`crate::TransferOptions::delta`]);
/// smaller files cost less to send whole than to hash on both sides.
pub const DELTA_MIN: u64 = RESUME_MIN;
/// The smallest block a delta map compares (16 KiB).
const DELTA_BLOCK_MIN: u32 = 16 * 1024;
/// The smallest block a [`BlockMap`] compares (1 MiB).
pub const RESUME_BLOCK_MIN: u32 = 1024 * 1024;
/// Most blocks a map made by [`BlockMap::block_size_for`] holds.
pub const RESUME_MAX_BLOCKS: u64 = 16 * 1024;
/// Most blocks a peer's map may hold (a peer could pick smaller blocks).
const WIRE_MAX_BLOCKS: u64 = 64 * 1024;
/// Smallest and largest block size a peer's map may use.
const WIRE_BLOCK_SIZES: Range<u32> = 4096..(1 << 30) + 1;

/// BLAKE3 of each fixed-size block of a partial copy or older version the
/// destination kept, and for a delta map a weak rolling checksum of each.
#[derive(Clone, PartialEq, Eq)]
pub struct BlockMap {
    block_size: u32,
    partial_len: u64,
    hashes: Vec<[u8; 32]>,
    /// Empty, or the weak rolling checksum of each block.
    weak: Vec<u32>,
}

impl fmt::Debug for BlockMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockMap")
            .field("block_size", &self.block_size)
            .field("partial_len", &self.partial_len)
            .field("blocks", &self.hashes.len())
            .field("weak", &!self.weak.is_empty())
            .finish()
    }
}

fn bad(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, what)
}

impl BlockMap {
    /// A map from its parts, validated: the block size is a power of two
    /// between 4 KiB and 1 GiB and there is exactly one hash per block of
    /// `partial_len` bytes (at most 65,536 blocks). A peer's map goes through
    /// here, so a malformed one is a [`ErrorKind::Protocol`] error.
    pub fn new(block_size: u32, partial_len: u64, hashes: Vec<[u8; 32]>) -> Result<Self> {
        if !block_size.is_power_of_two() || !WIRE_BLOCK_SIZES.contains(&block_size) {
            return Err(bad(format!("a block map with blocks of {block_size} bytes")));
        }
        let blocks = partial_len.div_ceil(block_size as u64);
        if blocks > WIRE_MAX_BLOCKS || blocks != hashes.len() as u64 {
            return Err(bad(format!(
                "a block map of {} hashes for {partial_len} bytes in blocks of {block_size}",
                hashes.len()
            )));
        }
        Ok(BlockMap { block_size, partial_len, hashes, weak: Vec::new() })
    }

    /// The map with a weak rolling checksum for each block (see
    /// [`BlockMap::hash_delta`]), validated: exactly one per block, or none
    /// ([`ErrorKind::Protocol`] otherwise, as for [`BlockMap::new`]).
    pub fn with_weak(mut self, weak: Vec<u32>) -> Result<Self> {
        if !weak.is_empty() && weak.len() != self.hashes.len() {
            return Err(bad(format!("{} weak checksums for a block map of {} blocks", weak.len(), self.hashes.len())));
        }
        self.weak = weak;
        Ok(self)
    }

    /// The block size for a file of `size` bytes: [`RESUME_BLOCK_MIN`], or
    /// the power of two that keeps the map within [`RESUME_MAX_BLOCKS`].
    pub fn block_size_for(size: u64) -> u32 {
        let per = size.div_ceil(RESUME_MAX_BLOCKS).next_power_of_two();
        per.clamp(RESUME_BLOCK_MIN as u64, 1 << 30) as u32
    }

    /// The block size a delta map of an old version of `len` bytes uses:
    /// the power of two nearest above the square root of `32 * len` (one
    /// 32-byte hash per block: the map and the bytes one changed block
    /// costs stay in balance; 256 KiB for 1 GiB), at least 16 KiB and never
    /// so small that the map holds more than [`RESUME_MAX_BLOCKS`] hashes.
    pub fn delta_block_size(len: u64) -> u32 {
        let balanced = ((len as f64 * 32.0).sqrt() as u64).next_power_of_two();
        let bounded = len.div_ceil(RESUME_MAX_BLOCKS).next_power_of_two();
        balanced.max(bounded).clamp(DELTA_BLOCK_MIN as u64, 1 << 30) as u32
    }

    /// Hashes the first `partial_len` bytes of `file` (a partial copy of a
    /// file of `size` bytes) with [`BlockMap::block_size_for`]`(size)`.
    /// Reads at offsets; the file position does not move.
    pub fn hash_file(file: &File, size: u64, partial_len: u64) -> io::Result<Self> {
        Self::hash_blocks(file, Self::block_size_for(size), partial_len)
    }

    /// Hashes the first `partial_len` bytes of `file` in blocks of `block_size` (a
    /// power of two of at least 4 KiB, as from [`BlockMap::block_size_for`]
    /// or [`BlockMap::delta_block_size`]). Reads at offsets; the file
    /// position does not move.
    pub fn hash_blocks(file: &File, block_size: u32, partial_len: u64) -> io::Result<Self> {
        let blocks = partial_len.div_ceil(block_size as u64) as usize;
        let mut map = BlockMap { block_size, partial_len, hashes: Vec::new(), weak: Vec::new() };
        map.hashes = hash_each(file, blocks, |i| map.block(i), &Strong, None)?;
        Ok(map)
    }

    /// Like [`BlockMap::hash_blocks`], with the weak rolling checksum of
    /// each block too, in the same read: the map of an older version a
    /// delta is built from, whose blocks the source then finds at any
    /// offset of its file ([`ranges_to_send`]).
    pub fn hash_delta(file: &File, block_size: u32, len: u64) -> io::Result<Self> {
        let blocks = len.div_ceil(block_size as u64) as usize;
        let mut map = BlockMap { block_size, partial_len: len, hashes: Vec::new(), weak: Vec::new() };
        let both = hash_each(file, blocks, |i| map.block(i), &rolling::StrongAndWeak, None)?;
        (map.hashes, map.weak) = both.into_iter().unzip();
        Ok(map)
    }

    /// Bytes per block (the last block may be shorter).
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// Bytes of the partial copy the blocks cover.
    pub fn partial_len(&self) -> u64 {
        self.partial_len
    }

    /// The hash of each block, in order.
    pub fn hashes(&self) -> &[[u8; 32]] {
        &self.hashes
    }

    /// The weak rolling checksum of each block, in order (a delta map), or
    /// nothing (the map of a partial copy: its blocks are compared only
    /// where they stand).
    pub fn weak(&self) -> &[u32] {
        &self.weak
    }

    /// The byte range block `i` covers.
    pub fn block(&self, i: usize) -> Range<u64> {
        self.blocks().block(i)
    }

    fn blocks(&self) -> Blocks {
        Blocks { size: self.block_size, len: self.partial_len }
    }

    /// Approximate encoded size (for need-batch byte caps).
    pub fn encoded_len(&self) -> usize {
        16 + self.hashes.len() * 32 + self.weak.len() * 4
    }
}

/// What the source sends of a file the destination resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumePlan {
    /// The byte ranges to send, sorted, disjoint and not adjacent.
    pub ranges: Vec<Range<u64>>,
    /// Regions of the file the destination's older version holds at
    /// another offset: it copies them within the old version. Sorted by
    /// `to`, disjoint from each other and from `ranges`; empty unless the
    /// map has weak checksums ([`BlockMap::weak`]).
    pub copies: Vec<BlockCopy>,
    /// Bytes not sent: kept from the partial copy or older version where
    /// they stand, or copied within it (`copies`); the file size less the
    /// bytes of `ranges`.
    pub reused: u64,
}

/// Bytes of the new file that the older version holds elsewhere: `len`
/// bytes at `from` of the old version land at `to` of the new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCopy {
    /// Offset in the new file.
    pub to: u64,
    /// Offset in the older version.
    pub from: u64,
    /// Bytes copied.
    pub len: u64,
}

impl ResumePlan {
    /// Bytes the ranges hold.
    pub fn bytes(&self) -> u64 {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }

    /// The same plan with its copies sent as ranges instead (for a medium
    /// that cannot carry copies): ranges sorted and merged again, `reused`
    /// less the copied bytes.
    pub fn without_copies(mut self) -> ResumePlan {
        if self.copies.is_empty() {
            return self;
        }
        let size = self.reused + self.bytes();
        let mut all = std::mem::take(&mut self.ranges);
        all.extend(self.copies.drain(..).map(|c| c.to..c.to + c.len));
        all.sort_by_key(|r| r.start);
        for r in all {
            match self.ranges.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => self.ranges.push(r),
            }
        }
        self.reused = size - self.bytes();
        self
    }
}

/// Compares the source `file` (`size` bytes as of opening) with the
/// destination's `map`, block by block, and returns the ranges to send: the
/// blocks whose BLAKE3 differs, the blocks the source's end cuts short, and
/// everything from the partial length on. When the map has weak checksums
/// (a delta), it then looks for the map's blocks at any offset inside each
/// run of those bytes (see `rolling`) and sends what it finds as copies
/// ([`ResumePlan::copies`]) instead; when most blocks sampled over the file
/// are not where the map has them (content moved), it skips the compare in
/// place and searches the whole file, keeping in place what it finds where
/// it stands. Every transport's sending half uses
/// this one function. Reads at offsets; the file position does not
/// move. A read error (the file shrank or became unreadable) is returned;
/// report it like any other read failure of the file.
pub fn ranges_to_send(file: &File, size: u64, map: &BlockMap) -> io::Result<ResumePlan> {
    ranges_to_send_after(file, size, map, None)
}

/// [`ranges_to_send`], taking the block hashes from `prehash` when it
/// hashed the same blocks of this very file, unchanged since
/// ([`Prehash::hashes_for`]); otherwise hashing them here.
pub fn ranges_to_send_after(
    file: &File,
    size: u64,
    map: &BlockMap,
    prehash: Option<&Prehash>,
) -> io::Result<ResumePlan> {
    let mut ranges: Vec<Range<u64>> = Vec::new();
    let mut push = |r: Range<u64>| match ranges.last_mut() {
        Some(last) if last.end == r.start => last.end = r.end,
        _ => ranges.push(r),
    };
    let whole = map.blocks().whole_within(size);
    if !map.weak.is_empty() && aligned::moved(file, map, whole)? {
        // Nothing is where it was: comparing in place would hash every
        // block for nothing. The search covers the whole file instead, and
        // what it finds where it stands is kept there (the destination's
        // new file starts as the older version).
        if let Some(prehash) = prehash {
            prehash.stop();
        }
        let mut plan = search::find_copies(file, size, map, std::slice::from_ref(&(0..size)))?;
        plan.copies.retain(|c| c.from != c.to);
        plan.reused = size - plan.bytes();
        return Ok(plan);
    }
    // The blocks the source holds whole are compared by hash; one its end
    // cuts short is sent.
    let ours = match prehash.and_then(|p| p.hashes_for(file, map)) {
        Some(ours) => ours,
        None => map.blocks().hash_whole(file, size, None)?,
    };
    for (i, (want, have)) in map.hashes.iter().zip(&ours).enumerate() {
        if want != have {
            push(map.block(i));
        }
    }
    if let Some(cut) = Some(map.block(whole)).filter(|b| whole < map.hashes.len() && b.start < size) {
        push(cut.start..size);
    }
    let covered = map.partial_len.min(size);
    if covered < size {
        push(covered..size);
    }
    let mut plan = if map.weak.is_empty() || ranges.is_empty() {
        ResumePlan { ranges, copies: Vec::new(), reused: 0 }
    } else {
        search::find_copies(file, size, map, &ranges)?
    };
    plan.reused = size - plan.bytes();
    Ok(plan)
}

#[cfg(test)]
mod tests;
