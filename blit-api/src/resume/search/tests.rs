use super::*;
use crate::resume::tests::noise;
use std::io::Write;

fn file_of(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> File {
    let path = dir.path().join(name);
    File::create(&path).unwrap().write_all(bytes).unwrap();
    File::open(&path).unwrap()
}

/// Rebuilds `new` inside `runs` from what `plan` sends (taken from `new`)
/// and copies (taken from `old`); every byte of the runs must be covered
/// exactly once, and nothing outside them.
fn rebuilt(old: &[u8], new: &[u8], runs: &[Range<u64>], plan: &ResumePlan) -> Vec<u8> {
    let mut out = new.to_vec();
    let mut covered = vec![0u8; new.len()];
    for r in runs {
        out[r.start as usize..r.end as usize].fill(0xAA);
    }
    for r in &plan.ranges {
        out[r.start as usize..r.end as usize].copy_from_slice(&new[r.start as usize..r.end as usize]);
        covered[r.start as usize..r.end as usize].iter_mut().for_each(|c| *c += 1);
    }
    for c in &plan.copies {
        let (to, from, len) = (c.to as usize, c.from as usize, c.len as usize);
        out[to..to + len].copy_from_slice(&old[from..from + len]);
        covered[to..to + len].iter_mut().for_each(|c| *c += 1);
    }
    for (i, c) in covered.iter().enumerate() {
        let inside = runs.iter().any(|r| r.contains(&(i as u64)));
        assert_eq!(*c, u8::from(inside), "byte {i} covered {c} times (inside a run: {inside})");
    }
    out
}

fn search(old: &[u8], new: &[u8], block: u32, runs: &[Range<u64>], shares: usize) -> ResumePlan {
    let dir = tempfile::tempdir().unwrap();
    let old_file = file_of(&dir, "old", old);
    let new_file = file_of(&dir, "new", new);
    let map = BlockMap::hash_delta(&old_file, block, old.len() as u64).unwrap();
    find_copies_in(&new_file, new.len() as u64, &map, runs, shares).unwrap()
}

#[test]
fn split_cuts_runs_into_shares_of_equal_bytes() {
    let (parts, cuts) = split(&[0..10, 20..50], 2);
    assert_eq!(parts, vec![vec![0..10, 20..30], vec![30..50]]);
    assert_eq!(cuts, vec![(30, 20..50)]);
    // A share that ends with a run needs no cut.
    let (parts, cuts) = split(&[0..10, 20..30], 2);
    assert_eq!(parts, vec![vec![0..10], vec![20..30]]);
    assert!(cuts.is_empty());
    let (parts, cuts) = split(std::slice::from_ref(&(0..100)), 3);
    assert_eq!(parts, vec![vec![0..34], vec![34..68], vec![68..100]]);
    assert_eq!(cuts, vec![(34, 0..100), (68, 0..100)]);
}

#[test]
fn an_insertion_found_in_shares_sends_what_one_search_sends() {
    let block = 1024u32;
    let old = noise(300_000, 7);
    let mut new = old[..12_345].to_vec();
    new.extend(noise(1000, 9));
    new.extend(&old[12_345..]);
    let runs: Vec<Range<u64>> = std::iter::once(0..new.len() as u64).collect();
    let one = search(&old, &new, block, &runs, 1);
    assert_eq!(rebuilt(&old, &new, &runs, &one), new);
    for shares in 2..=4 {
        let plan = search(&old, &new, block, &runs, shares);
        assert_eq!(rebuilt(&old, &new, &runs, &plan), new, "{shares} shares");
        // The cuts fall inside blocks of the old version: the stitch finds
        // those that straddle them.
        assert_eq!(plan.bytes(), one.bytes(), "{shares} shares send what one search sends");
        assert_eq!(plan.copies, one.copies, "{shares} shares");
    }
}

#[test]
fn runs_with_gaps_are_shared_and_stitched_inside_each_run() {
    let block = 512u32;
    let old = noise(100_000, 3);
    let mut new = old.clone();
    // The old version's first 20 KB moved 700 bytes on, past 300 new bytes.
    new.splice(0..0, noise(700, 5));
    new.truncate(old.len());
    let runs = vec![0..40_000, 45_000..90_000, 95_000..new.len() as u64];
    let one = search(&old, &new, block, &runs, 1);
    for shares in 1..=4 {
        let plan = search(&old, &new, block, &runs, shares);
        assert_eq!(rebuilt(&old, &new, &runs, &plan), new, "{shares} shares");
        assert_eq!(plan.bytes(), one.bytes(), "{shares} shares");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Whatever the edits and however many shares, the plan rebuilds the
    /// new file, covers each byte of the runs once, and sends at most a
    /// block per cut more than one search.
    #[test]
    fn shares_rebuild_any_edit(
        len in 2_000usize..40_000,
        seed in 1u64..u64::MAX,
        edits in proptest::collection::vec((0usize..40_000, 0usize..3_000, 0u8..3), 1..6),
        shares in 2usize..5,
        block in proptest::sample::select(vec![64u32, 256, 1024]),
    ) {
        let old = noise(len, seed);
        let mut new = old.clone();
        for (i, (at, n, kind)) in edits.into_iter().enumerate() {
            let at = at % (new.len() + 1);
            match kind {
                0 => { new.splice(at..at, noise(n, seed ^ i as u64)); }
                1 => { let end = (at + n).min(new.len()); new.drain(at..end); }
                // A repeat of old bytes elsewhere (a block found twice).
                _ => { let from = n % old.len(); let end = (from + n).min(old.len()); new.splice(at..at, old[from..end].to_vec()); }
            }
        }
        let runs: Vec<Range<u64>> = std::iter::once(0..new.len() as u64).collect();
        let one = search(&old, &new, block, &runs, 1);
        let plan = search(&old, &new, block, &runs, shares);
        proptest::prop_assert_eq!(rebuilt(&old, &new, &runs, &plan), new.clone());
        proptest::prop_assert!(plan.bytes() <= one.bytes() + (shares as u64 - 1) * u64::from(block),
            "{} shares sent {} bytes, one search {}", shares, plan.bytes(), one.bytes());
    }
}
