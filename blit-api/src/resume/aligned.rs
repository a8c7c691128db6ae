//! Whether a source file's content moved against the destination's older
//! version, so that comparing blocks in place is not worth it.
//!
//! Where the file only changed in place, nearly every block is equal and
//! each must be hashed (BLAKE3), ideally by a `Prehash` that ran while the
//! destination hashed its version. After an insertion or a deletion near
//! the start, no block is where it was: hashing every block in place is
//! wasted (0.3 s of CPU per GiB here, or the wait for the prehash), and the
//! shift-tolerant search that follows hashes what it finds anyway. A few
//! blocks spread over the file tell which case this is, by the weak sums a
//! delta map carries ([`moved`]).

use super::rolling::weak_at;
use super::BlockMap;
use std::fs::File;
use std::io;

/// Blocks [`moved`] reads, spread over the file.
const SAMPLES: usize = 16;

/// Whether most of up to [`SAMPLES`] blocks spread over the first `whole`
/// blocks of `file` have a weak sum other than the map's at their offset:
/// the file's content moved (or changed nearly everywhere).
pub(super) fn moved(file: &File, map: &BlockMap, whole: usize) -> io::Result<bool> {
    let samples = whole.min(SAMPLES);
    let mut differ = 0;
    for k in 0..samples {
        let i = k * whole / samples;
        if weak_at(file, map.block(i))? != map.weak[i] {
            differ += 1;
        }
    }
    Ok(samples > 0 && differ * 2 > samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resume::tests::noise;
    use std::io::Write;

    fn file_of(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> File {
        let path = dir.path().join(name);
        File::create(&path).unwrap().write_all(bytes).unwrap();
        File::open(&path).unwrap()
    }

    #[test]
    fn a_shifted_file_is_moved_one_changed_in_place_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let old = noise(64 * 1024, 0x9e37_79b9_7f4a_7c15);
        let map = BlockMap::hash_delta(&file_of(&dir, "old", &old), 1024, old.len() as u64).unwrap();
        let whole = map.blocks().whole_within(old.len() as u64);

        let mut in_place = old.clone();
        in_place[10_000..30_000].iter_mut().for_each(|b| *b ^= 0x5a);
        assert!(!moved(&file_of(&dir, "in_place", &in_place), &map, whole).unwrap());

        let mut shifted = old.clone();
        shifted.splice(100..100, noise(7, 11));
        assert!(moved(&file_of(&dir, "shifted", &shifted), &map, whole).unwrap());
    }
}
