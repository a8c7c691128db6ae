use super::*;
use proptest::prelude::*;
use std::io::Write;

fn file_with(bytes: &[u8]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f
}

/// Deterministic content that differs in every block.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed).collect()
}

/// `len` xorshift bytes from `seed`: no block of them repeats (for tests
/// that need every block unique, which [`content`] is not past 64 KiB).
pub(super) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Applies `plan` to `partial` the way a destination does: keep the partial
/// copy, cut at the source size, copy each copy from the partial copy as it
/// was, write each range from the source.
fn reassemble(partial: &[u8], source: &[u8], plan: &ResumePlan) -> Vec<u8> {
    let mut out = partial.to_vec();
    out.resize(source.len(), 0);
    for c in &plan.copies {
        let (to, from, len) = (c.to as usize, c.from as usize, c.len as usize);
        out[to..to + len].copy_from_slice(&partial[from..from + len]);
    }
    for r in &plan.ranges {
        out[r.start as usize..r.end as usize].copy_from_slice(&source[r.start as usize..r.end as usize]);
    }
    out
}

#[test]
fn block_size_grows_with_the_file() {
    assert_eq!(BlockMap::block_size_for(0), RESUME_BLOCK_MIN);
    assert_eq!(BlockMap::block_size_for(4 << 30), RESUME_BLOCK_MIN);
    assert_eq!(BlockMap::block_size_for(16 << 30), RESUME_BLOCK_MIN);
    assert_eq!(BlockMap::block_size_for((16 << 30) + 1), 2 * RESUME_BLOCK_MIN);
    assert_eq!(BlockMap::block_size_for(1 << 40), 64 * RESUME_BLOCK_MIN);
    assert!((1u64 << 40).div_ceil(BlockMap::block_size_for(1 << 40) as u64) <= RESUME_MAX_BLOCKS);
}

#[test]
fn sends_only_the_corrupt_block_and_the_missing_tail() {
    let mb = RESUME_BLOCK_MIN as usize;
    let source = content(10 * mb + 123, 0);
    let mut partial = source[..5 * mb + 7].to_vec();
    partial[2 * mb + 10] ^= 0xff;
    let map = BlockMap::hash_file(&file_with(&partial), source.len() as u64, partial.len() as u64).unwrap();
    assert_eq!(map.hashes().len(), 6);
    assert_eq!(map.block(5), 5 * mb as u64..5 * mb as u64 + 7);
    let plan = ranges_to_send(&file_with(&source), source.len() as u64, &map).unwrap();
    let (m, len) = (mb as u64, source.len() as u64);
    assert_eq!(plan.ranges, vec![2 * m..3 * m, 5 * m + 7..len]);
    assert_eq!(plan.reused, 4 * m + 7);
    assert_eq!(plan.reused + plan.bytes(), len);
    assert_eq!(reassemble(&partial, &source, &plan), source);
}

#[test]
fn a_partial_longer_than_the_source_is_cut() {
    let mb = RESUME_BLOCK_MIN as usize;
    let partial = content(3 * mb, 0);
    let source = partial[..mb + 5].to_vec();
    let map = BlockMap::hash_file(&file_with(&partial), partial.len() as u64, partial.len() as u64).unwrap();
    let plan = ranges_to_send(&file_with(&source), source.len() as u64, &map).unwrap();
    assert_eq!(plan.ranges, vec![mb as u64..mb as u64 + 5], "the block the source's end cuts is resent");
    assert_eq!(reassemble(&partial, &source, &plan), source);
}

#[test]
fn a_source_that_shrank_is_a_read_error() {
    let source = content(100, 0);
    let map = BlockMap::hash_file(&file_with(&source), 100, 100).unwrap();
    // The header still says 100 bytes; the file now holds 10.
    let short = file_with(&source[..10]);
    assert!(ranges_to_send(&short, 100, &map).is_err());
}

#[test]
fn refuses_malformed_maps() {
    assert!(BlockMap::new(RESUME_BLOCK_MIN, 3, vec![[0; 32]]).is_ok());
    assert!(BlockMap::new(RESUME_BLOCK_MIN, 0, vec![]).is_ok());
    for (bs, len, n) in [(1000, 3, 1), (1024, 3, 1), (RESUME_BLOCK_MIN, 3, 2), (RESUME_BLOCK_MIN, 1 << 21, 1)] {
        let e = BlockMap::new(bs, len, vec![[0; 32]; n]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{bs} {len} {n}");
    }
    assert!(BlockMap::new(4096, 4096 * (WIRE_MAX_BLOCKS + 1), vec![[0; 32]; WIRE_MAX_BLOCKS as usize + 1]).is_err());
    let two = || BlockMap::new(4096, 5000, vec![[0; 32]; 2]).unwrap();
    assert_eq!(two().with_weak(vec![1, 2]).unwrap().weak(), [1, 2]);
    assert!(two().with_weak(Vec::new()).unwrap().weak().is_empty());
    for n in [1, 3] {
        assert_eq!(two().with_weak(vec![0; n]).unwrap_err().kind(), ErrorKind::Protocol, "{n} weak sums");
    }
}

/// The plan for `source` against a delta map of `old` in blocks of `block`,
/// checked: reassembling it yields `source`, copies lie inside both files
/// and ranges and copies do not overlap.
fn delta_plan(old: &[u8], source: &[u8], block: u32) -> ResumePlan {
    let map = BlockMap::hash_delta(&file_with(old), block, old.len() as u64).unwrap();
    assert_eq!(map.weak().len(), map.hashes().len());
    let plan = ranges_to_send(&file_with(source), source.len() as u64, &map).unwrap();
    assert_eq!(plan.reused + plan.bytes(), source.len() as u64);
    let mut spans: Vec<Range<u64>> = plan.ranges.clone();
    for c in &plan.copies {
        assert!(c.from + c.len <= old.len() as u64 && c.to + c.len <= source.len() as u64, "{c:?}");
        spans.push(c.to..c.to + c.len);
    }
    spans.sort_by_key(|r| r.start);
    for w in spans.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap: {:?} {:?}", plan.ranges, plan.copies);
    }
    assert!(reassemble(old, source, &plan) == source, "the plan rebuilds the source");
    plan
}

#[test]
fn an_insertion_costs_about_a_block_not_the_rest_of_the_file() {
    let block = 16 * 1024;
    let old = content(1 << 20, 3);
    let mut source = old.clone();
    source.splice(5000..5000, content(1000, 99));
    let plan = delta_plan(&old, &source, block);
    assert!(plan.bytes() <= 2 * block as u64 + 1000, "{} bytes sent: {:?}", plan.bytes(), plan.ranges);
    assert_eq!(plan.copies.len(), 1, "the shifted blocks are one copy: {:?}", plan.copies);
    // For a medium without copies, the copies become ranges again.
    let plain = plan.clone().without_copies();
    assert!(plain.copies.is_empty() && plain.reused + plain.bytes() == source.len() as u64, "{plain:?}");
    assert!(plain.reused < plan.reused && plain.ranges.windows(2).all(|w| w[0].end < w[1].start));
    assert!(reassemble(&old, &source, &plain) == source);
    // Without weak sums (a partial copy's map) everything after it is sent.
    let map = BlockMap::hash_blocks(&file_with(&old), block, old.len() as u64).unwrap();
    let aligned = ranges_to_send(&file_with(&source), source.len() as u64, &map).unwrap();
    assert!(aligned.copies.is_empty() && aligned.bytes() == source.len() as u64);
}

#[test]
fn a_deletion_and_a_moved_region_travel_as_copies() {
    let block = 4096;
    let old = content(200_000, 5);
    // 777 bytes cut near the start, and a stretch moved to the end.
    let mut source = old.clone();
    source.drain(3000..3777);
    let moved: Vec<u8> = source.drain(50_000..90_000).collect();
    source.extend_from_slice(&moved);
    let plan = delta_plan(&old, &source, block);
    assert!(plan.bytes() <= 6 * block as u64, "{} bytes sent: {:?}", plan.bytes(), plan.ranges);
    // Zeros everywhere: a run of equal blocks still merges into few copies.
    let zeros = vec![0u8; 100_000];
    let mut source = zeros.clone();
    source.splice(10..10, [1u8; 10]);
    let plan = delta_plan(&zeros, &source, block);
    assert!(plan.copies.len() <= 3, "{:?}", plan.copies);
}

#[test]
fn a_moved_file_keeps_in_place_what_the_search_finds_where_it_stands() {
    let block = 4096;
    // No block repeats (`content` repeats every 64 KiB).
    let old = noise(200_000, 0x2545_f491_4f6c_dd1d);
    // 1000 bytes in near the start and 1000 out at 150 KB: the first three
    // quarters moved, the rest is back where it was.
    let mut source = old.clone();
    source.splice(100..100, content(1000, 42));
    source.drain(150_000..151_000);
    let map = BlockMap::hash_delta(&file_with(&old), block, old.len() as u64).unwrap();
    let whole = map.blocks().whole_within(source.len() as u64);
    assert!(aligned::moved(&file_with(&source), &map, whole).unwrap());
    let plan = delta_plan(&old, &source, block);
    assert!(plan.copies.iter().all(|c| c.from != c.to), "in place is kept, not copied: {:?}", plan.copies);
    let end = plan.copies.iter().map(|c| c.to + c.len).max().unwrap();
    assert!(end <= 151_000, "the blocks back in place are no copy: {:?}", plan.copies);
    assert!(plan.bytes() <= 3 * block as u64 + 1000, "{} bytes sent: {:?}", plan.bytes(), plan.ranges);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the partial copy holds (a prefix, garbage, longer or shorter
    /// than the source), applying the plan yields exactly the source, and
    /// every reused byte comes from a block whose hash matched.
    #[test]
    fn any_partial_reassembles_the_source(
        source_len in 0usize..40_000,
        partial_len in 0usize..48_000,
        flips in proptest::collection::vec((0usize..48_000, 1u8..=255), 0..4),
        seed in any::<u8>(),
    ) {
        let source = content(source_len, seed);
        let mut partial = content(partial_len, seed);
        for (at, x) in flips {
            if at < partial.len() {
                partial[at] ^= x;
            }
        }
        // Small blocks so a few KiB hold many of them.
        let block = 4096u32;
        let blocks = (partial_len as u64).div_ceil(block as u64) as usize;
        let f = file_with(&partial);
        let mut buf = Vec::new();
        let mut hashes = Vec::new();
        for i in 0..blocks {
            let start = (i * block as usize) as u64;
            let end = (start + block as u64).min(partial_len as u64);
            hashes.push(hash_range(&f, start..end, &mut buf).unwrap());
        }
        let map = BlockMap::new(block, partial_len as u64, hashes).unwrap();
        prop_assert_eq!(&map, &BlockMap::hash_blocks(&f, block, partial_len as u64).unwrap());
        let plan = ranges_to_send(&file_with(&source), source_len as u64, &map).unwrap();
        prop_assert_eq!(plan.reused + plan.bytes(), source_len as u64);
        for w in plan.ranges.windows(2) {
            prop_assert!(w[0].end < w[1].start, "sorted, disjoint, merged: {:?}", plan.ranges);
        }
        prop_assert_eq!(reassemble(&partial, &source, &plan), source);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever bytes are inserted, removed or changed, anywhere, applying
    /// the plan (aligned reuse, copies, ranges) yields exactly the source.
    #[test]
    fn any_edit_reassembles_the_source(
        old_len in 0usize..60_000,
        edits in proptest::collection::vec((0usize..60_000, 0usize..6000, 0usize..3000), 0..5),
        seed in any::<u8>(),
    ) {
        let old = content(old_len, seed);
        let mut source = old.clone();
        for (k, (at, cut, insert)) in edits.into_iter().enumerate() {
            let at = at.min(source.len());
            let cut = cut.min(source.len() - at);
            source.splice(at..at + cut, content(insert, seed ^ (k as u8 + 1)));
        }
        let plan = delta_plan(&old, &source, 4096);
        for w in plan.ranges.windows(2) {
            prop_assert!(w[0].end < w[1].start, "sorted, disjoint, merged: {:?}", plan.ranges);
        }
        for w in plan.copies.windows(2) {
            prop_assert!(w[0].to + w[0].len <= w[1].to, "sorted: {:?}", plan.copies);
        }
    }
}

#[test]
fn delta_blocks_balance_the_map_against_a_changed_block() {
    // 1 GiB: sqrt(32 GiB) is 181 KiB, so 256 KiB blocks, 4096 hashes.
    assert_eq!(BlockMap::delta_block_size(1 << 30), 256 * 1024);
    // Small old versions still get blocks of at least 16 KiB.
    assert_eq!(BlockMap::delta_block_size(1 << 20), 16 * 1024);
    // Huge files: the map never holds more than RESUME_MAX_BLOCKS hashes.
    let huge = 1u64 << 40;
    let block = BlockMap::delta_block_size(huge) as u64;
    assert!(huge.div_ceil(block) <= RESUME_MAX_BLOCKS, "{block}-byte blocks for 1 TiB");
    for len in [1u64, 4095, 8 << 20, 3 << 30, 1 << 40] {
        let b = BlockMap::delta_block_size(len);
        assert!(b.is_power_of_two() && b >= 16 * 1024, "{b} for {len}");
        // A map of these blocks passes the wire's checks.
        let blocks = len.div_ceil(b as u64) as usize;
        if blocks <= 4096 {
            assert!(BlockMap::new(b, len, vec![[0; 32]; blocks]).is_ok(), "{b} for {len}");
        }
    }
}

#[test]
fn a_map_built_to_collide_costs_bounded_work() {
    // Every window of the source has the weak sum of every block of the
    // map, and no BLAKE3 matches: without a bound that is a BLAKE3 of a
    // block per byte of the source (minutes here); with it, a second read.
    let block = 4096u32;
    let source = vec![0u8; 16 << 20];
    let weak = rolling::weak_sum(&source[..block as usize]);
    let blocks = 64;
    let map = BlockMap::new(block, blocks * u64::from(block), vec![[1; 32]; blocks as usize])
        .unwrap()
        .with_weak(vec![weak; blocks as usize])
        .unwrap();
    let started = std::time::Instant::now();
    let plan = ranges_to_send(&file_with(&source), source.len() as u64, &map).unwrap();
    assert_eq!(plan.ranges, vec![0..source.len() as u64]);
    assert!(plan.copies.is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn a_large_file_hashed_on_several_threads_keeps_its_block_order() {
    // Past PARALLEL_MIN, so hashed on every core (interleaved blocks), with
    // a short last block; each block differs from every other.
    let len = (9 << 20) + 123;
    let bytes = content(len, 11);
    let f = file_with(&bytes);
    let block = 64 * 1024u32;
    let map = BlockMap::hash_blocks(&f, block, len as u64).unwrap();
    let mut buf = Vec::new();
    let want: Vec<[u8; 32]> = (0..(len as u64).div_ceil(block as u64))
        .map(|i| hash_range(&f, i * block as u64..((i + 1) * block as u64).min(len as u64), &mut buf).unwrap())
        .collect();
    assert_eq!(map.hashes(), want.as_slice());
}
