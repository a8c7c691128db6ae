//! Shift-tolerant matching: finding the blocks of the destination's older
//! version at any offset of the source's file, as rsync does.
//!
//! The judge sends a weak rolling checksum of each block beside its BLAKE3
//! ([`BlockMap::hash_delta`]). Inside each run of bytes the aligned compare
//! found different, the source slides a window of one block over its file:
//! the window's weak sum moves by one byte in constant time ([`Rolling`]),
//! is looked up in a table of the map's weak sums, and a hit is confirmed by
//! the window's BLAKE3. A confirmed window becomes a copy within the old
//! version ([`BlockCopy`]) and the window jumps a whole block; otherwise it
//! moves one byte. What no window covers is sent as data.
//!
//! Everything is bounded by this side, whatever the map says: the file is
//! read through two cursors of [`CURSOR`] bytes each (never a whole run or
//! block), the table holds at most [`CANDIDATES`] distinct blocks per weak
//! sum, windows whose weak sum matched but whose BLAKE3 did not may hash at
//! most about the file's size (a map built to collide costs a second read,
//! not a read per byte), and a plan holds at most [`MAX_COPIES`] copies;
//! past a bound the rest is sent as data. `search` runs one [`Search`] per
//! share of a large file, side by side.

use super::hash::Digest;
use super::{strong, BlockCopy, BlockMap, ResumePlan};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

/// Bytes each read cursor holds.
const CURSOR: usize = 256 * 1024;
/// Most distinct blocks the table keeps per weak sum.
const CANDIDATES: usize = 16;
/// Most copies in one plan.
pub(super) const MAX_COPIES: usize = 1 << 16;
/// Bytes [`Rolling::extend`] sums side by side.
const LANES: usize = 32;
/// Bits of the filter that spares most windows a table lookup.
const FILTER_BITS: u32 = 20;

/// The filter bit of weak sum `weak` (its bits mixed, so both halves count).
fn filter_bit(weak: u32) -> usize {
    (weak.wrapping_mul(0x9e37_79b1) >> (32 - FILTER_BITS)) as usize
}

/// rsync's rolling checksum of a window: `a` is the sum of its bytes, `b`
/// the sum of the running values of `a`, both modulo 2^16.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rolling {
    a: u16,
    b: u16,
    /// The window's length, modulo 2^16.
    len: u16,
}

impl Rolling {
    /// The checksum of an empty window.
    const EMPTY: Rolling = Rolling { a: 0, b: 0, len: 0 };

    /// Grows the window by one byte at its end.
    fn push(&mut self, x: u8) {
        self.a = self.a.wrapping_add(u16::from(x));
        self.b = self.b.wrapping_add(self.a);
        self.len = self.len.wrapping_add(1);
    }

    /// Grows the window by `bytes` at its end: the same sum as
    /// [`Rolling::push`] of each byte, computed so that it compiles to
    /// vector code (the judge of a delta runs it over every byte of the old
    /// version). Byte `j` of each run of [`LANES`] goes to lane `j`: `s1`
    /// sums a lane's bytes, `s2` the running values of `s1`, with no
    /// multiplication and no dependency between lanes. Over `t` runs,
    /// pushing them would add `sum s1` to `a` and `m * a + LANES * sum s2 +
    /// sum (LANES - j) * s1[j]` to `b` (`m` the bytes taken). All of it is
    /// modulo 2^16, which wrapping `u16` lanes are.
    fn extend(&mut self, bytes: &[u8]) {
        let mut s1 = [0u16; LANES];
        let mut s2 = [0u16; LANES];
        let runs = bytes.chunks_exact(LANES);
        let tail = runs.remainder();
        for run in runs {
            for j in 0..LANES {
                s2[j] = s2[j].wrapping_add(s1[j]);
                s1[j] = s1[j].wrapping_add(u16::from(run[j]));
            }
        }
        let m = (bytes.len() - tail.len()) as u16;
        let mut b = m.wrapping_mul(self.a);
        for j in 0..LANES {
            self.a = self.a.wrapping_add(s1[j]);
            b = b
                .wrapping_add((LANES as u16).wrapping_mul(s2[j]))
                .wrapping_add(((LANES - j) as u16).wrapping_mul(s1[j]));
        }
        self.b = self.b.wrapping_add(b);
        self.len = self.len.wrapping_add(m);
        tail.iter().for_each(|x| self.push(*x));
    }

    /// Moves the window one byte on: `out` leaves it, `into` enters it.
    fn roll(&mut self, out: u8, into: u8) {
        self.a = self.a.wrapping_sub(u16::from(out)).wrapping_add(u16::from(into));
        self.b = self.b.wrapping_sub(self.len.wrapping_mul(u16::from(out))).wrapping_add(self.a);
    }

    /// Both halves in one word (`a` low, `b` high).
    fn sum(self) -> u32 {
        u32::from(self.a) | u32::from(self.b) << 16
    }
}

/// The weak rolling checksum of one block, as a map carries it.
#[cfg(test)]
pub(super) fn weak_sum(bytes: &[u8]) -> u32 {
    let mut r = Rolling::EMPTY;
    r.extend(bytes);
    r.sum()
}

/// BLAKE3 and the weak sum of each block, as a delta map carries them
/// ([`BlockMap::hash_delta`]), fed in pieces.
pub(super) struct StrongAndWeak;

impl Digest for StrongAndWeak {
    type State = (blake3::Hasher, Rolling);
    type Out = ([u8; 32], u32);

    fn start(&self) -> Self::State {
        (blake3::Hasher::new(), Rolling::EMPTY)
    }

    fn update(&self, (strong, weak): &mut Self::State, bytes: &[u8]) {
        strong.update(bytes);
        weak.extend(bytes);
    }

    fn finish(&self, (strong, weak): Self::State) -> Self::Out {
        (*strong.finalize().as_bytes(), weak.sum())
    }
}

/// Reads a file forward through a bounded buffer.
struct Cursor<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    start: u64,
    /// Where the file's bytes end for this search (never read past).
    end: u64,
}

impl<'f> Cursor<'f> {
    fn new(file: &'f File, end: u64) -> Self {
        Cursor { file, buf: Vec::with_capacity(CURSOR), start: 0, end }
    }

    /// The bytes from `at` (below `end`) that the buffer holds: at least one.
    fn from(&mut self, at: u64) -> io::Result<&[u8]> {
        if at < self.start || at - self.start >= self.buf.len() as u64 {
            let want = (self.end - at).min(CURSOR as u64) as usize;
            self.buf.resize(want, 0);
            self.file.read_exact_at(&mut self.buf, at)?;
            self.start = at;
        }
        Ok(&self.buf[(at - self.start) as usize..])
    }
}

/// Rolls `weak` over the pairs of bytes leaving (`outs`) and entering
/// (`ins`) the window until the filter may hold its sum; returns how many
/// bytes it moved on. The hot loop: no reads, no lookups.
fn skim(weak: &mut Rolling, outs: &[u8], ins: &[u8], filter: &[u64]) -> usize {
    for (k, (out, into)) in outs.iter().zip(ins).enumerate() {
        weak.roll(*out, *into);
        if may_hold(filter, weak.sum()) {
            return k + 1;
        }
    }
    outs.len().min(ins.len())
}

/// Whether a table with `filter` may hold weak sum `weak`.
fn may_hold(filter: &[u64], weak: u32) -> bool {
    filter[filter_bit(weak) / 64] & 1 << (filter_bit(weak) % 64) != 0
}

/// The map's whole blocks by weak sum, and a filter over those sums: built
/// once per file, shared by every [`Search`] over it.
pub(super) struct Table {
    /// Weak sum to the whole blocks that have it (distinct BLAKE3s).
    blocks: HashMap<u32, Vec<u32>>,
    /// One bit per [`filter_bit`] of the table's weak sums.
    filter: Vec<u64>,
}

impl Table {
    /// The table of `map`'s whole blocks (at most [`CANDIDATES`] per weak
    /// sum).
    pub(super) fn of(map: &BlockMap) -> Table {
        let block = u64::from(map.block_size);
        let mut blocks: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut filter = vec![0u64; (1 << FILTER_BITS) / 64];
        for (i, (weak, hash)) in map.weak.iter().zip(&map.hashes).enumerate() {
            if map.block(i).end - map.block(i).start < block {
                continue;
            }
            filter[filter_bit(*weak) / 64] |= 1 << (filter_bit(*weak) % 64);
            let same = blocks.entry(*weak).or_default();
            if same.len() < CANDIDATES && !same.iter().any(|j| map.hashes[*j as usize] == *hash) {
                same.push(i as u32);
            }
        }
        Table { blocks, filter }
    }
}

/// A search over runs of one source file, in file order.
pub(super) struct Search<'a> {
    file: &'a File,
    map: &'a BlockMap,
    table: &'a Table,
    /// Bytes failed confirmations may still hash.
    budget: u64,
    /// Most copies this search may find.
    max_copies: usize,
    scratch: Vec<u8>,
    plan: ResumePlan,
}

impl<'a> Search<'a> {
    /// A search of `file` for `map`'s blocks (`table`) whose failed
    /// confirmations may hash `budget` bytes and which finds at most
    /// `max_copies` copies.
    pub(super) fn new(file: &'a File, map: &'a BlockMap, table: &'a Table, budget: u64, max_copies: usize) -> Self {
        Search { file, map, table, budget, max_copies, scratch: Vec::new(), plan: ResumePlan::default() }
    }

    /// What the runs searched so far send and copy.
    pub(super) fn into_plan(self) -> ResumePlan {
        self.plan
    }
}

impl Search<'_> {
    /// Whether the search goes on (no bound reached).
    fn open(&self) -> bool {
        self.budget > 0 && self.plan.copies.len() < self.max_copies
    }

    /// Searches the source bytes `run` (after any run searched before);
    /// the source ends at `size`.
    pub(super) fn run(&mut self, run: Range<u64>, size: u64) -> io::Result<()> {
        let block = u64::from(self.map.block_size);
        let mut literal = run.start;
        if self.open() && run.end - run.start >= block {
            let (mut out, mut into) = (Cursor::new(self.file, run.end), Cursor::new(self.file, run.end));
            let mut p = run.start;
            let mut weak = window(&mut into, p, block)?;
            loop {
                if let Some(from) = self.confirm(weak.sum(), p)? {
                    self.literal(literal..p);
                    self.copy(BlockCopy { to: p, from, len: block });
                    p += block;
                    literal = p;
                    if p + block > run.end || !self.open() {
                        break;
                    }
                    weak = window(&mut into, p, block)?;
                    continue;
                }
                if p + block >= run.end || !self.open() {
                    break;
                }
                let rolls = (run.end - p - block).min(CURSOR as u64) as usize;
                let outs = out.from(p)?;
                let ins = into.from(p + block)?;
                p += skim(&mut weak, &outs[..rolls.min(outs.len())], &ins[..rolls.min(ins.len())], &self.table.filter)
                    as u64;
            }
        }
        let end = if run.end == size { self.tail(literal..run.end)? } else { run.end };
        self.literal(literal..end);
        Ok(())
    }

    /// The old version's offset of a block equal to the window at `p`
    /// whose weak sum is `weak`, if the table has one: the block that
    /// follows the last copy's source when that copy ends at `p` (so the
    /// copies merge), else the first candidate whose BLAKE3 matches.
    fn confirm(&mut self, weak: u32, p: u64) -> io::Result<Option<u64>> {
        if !may_hold(&self.table.filter, weak) {
            return Ok(None);
        }
        let Some(candidates) = self.table.blocks.get(&weak) else { return Ok(None) };
        let block = u64::from(self.map.block_size);
        let hash = hash_at(self.file, p..p + block, &mut self.scratch)?;
        let next = self.plan.copies.last().filter(|c| c.to + c.len == p).map(|c| (c.from + c.len) / block);
        let next = next.filter(|&i| {
            let i = i as usize;
            let whole = |i| self.map.block(i).end - self.map.block(i).start == block;
            i < self.map.hashes.len() && whole(i) && self.map.weak[i] == weak && self.map.hashes[i] == hash
        });
        let found =
            next.or_else(|| candidates.iter().find(|&&i| self.map.hashes[i as usize] == hash).map(|&i| u64::from(i)));
        if found.is_none() {
            self.budget = self.budget.saturating_sub(block);
        }
        Ok(found.map(|i| i * block))
    }

    /// The unmatched end of the file, `tail`: when it ends with the map's
    /// short last block, that becomes a copy. Returns where the data left
    /// to send ends.
    fn tail(&mut self, tail: Range<u64>) -> io::Result<u64> {
        let Some(last) = self.map.hashes.len().checked_sub(1) else { return Ok(tail.end) };
        let short = self.map.block(last);
        let len = short.end - short.start;
        if self.map.weak.is_empty() || len >= u64::from(self.map.block_size) || tail.end - tail.start < len {
            return Ok(tail.end);
        }
        if !self.open() || hash_at(self.file, tail.end - len..tail.end, &mut self.scratch)? != self.map.hashes[last] {
            return Ok(tail.end);
        }
        self.copy(BlockCopy { to: tail.end - len, from: short.start, len });
        Ok(tail.end - len)
    }

    fn literal(&mut self, r: Range<u64>) {
        if r.is_empty() {
            return;
        }
        match self.plan.ranges.last_mut() {
            Some(last) if last.end == r.start => last.end = r.end,
            _ => self.plan.ranges.push(r),
        }
    }

    fn copy(&mut self, c: BlockCopy) {
        match self.plan.copies.last_mut() {
            Some(last) if last.to + last.len == c.to && last.from + last.len == c.from => last.len += c.len,
            _ => self.plan.copies.push(c),
        }
    }
}

/// The weak sum of `range` of `file`, read through a cursor of at most
/// [`CURSOR`] bytes (however large the peer's blocks).
pub(super) fn weak_at(file: &File, range: Range<u64>) -> io::Result<u32> {
    let mut cursor = Cursor::new(file, range.end);
    Ok(window(&mut cursor, range.start, range.end - range.start)?.sum())
}

/// The weak sum of the `block` bytes at `p`, read through `cursor`.
fn window(cursor: &mut Cursor<'_>, p: u64, block: u64) -> io::Result<Rolling> {
    let mut r = Rolling::EMPTY;
    let mut at = p;
    while at < p + block {
        let bytes = cursor.from(at)?;
        let bytes = &bytes[..bytes.len().min((p + block - at) as usize)];
        r.extend(bytes);
        at += bytes.len() as u64;
    }
    Ok(r)
}

/// BLAKE3 of `range` of `file`, read in pieces of at most [`CURSOR`] bytes
/// through `scratch`.
fn hash_at(file: &File, range: Range<u64>, scratch: &mut Vec<u8>) -> io::Result<[u8; 32]> {
    if range.end - range.start <= CURSOR as u64 {
        return super::read_range(file, range, scratch).map(strong);
    }
    let mut hasher = blake3::Hasher::new();
    scratch.resize(CURSOR, 0);
    let mut at = range.start;
    while at < range.end {
        let want = (range.end - at).min(CURSOR as u64) as usize;
        file.read_exact_at(&mut scratch[..want], at)?;
        hasher.update(&scratch[..want]);
        at += want as u64;
    }
    Ok(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests;
