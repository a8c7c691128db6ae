use super::*;

#[test]
fn rolling_equals_the_sum_of_each_window() {
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for len in [1usize, 7, 4096] {
        let mut r = Rolling::EMPTY;
        bytes[..len].iter().for_each(|x| r.push(*x));
        for p in 0..bytes.len() - len {
            assert_eq!(r.sum(), weak_sum(&bytes[p..p + len]), "window {p}+{len}");
            r.roll(bytes[p], bytes[p + len]);
        }
    }
    // Order matters: `b` tells a shuffled window from the original.
    assert_eq!(weak_sum(b"abcd"), 0x03d4_018a);
    assert_ne!(weak_sum(b"abcd"), weak_sum(b"dcba"));
    assert_eq!(weak_sum(b"abcd") & 0xffff, weak_sum(b"dcba") & 0xffff);
}

#[test]
fn weak_at_reads_a_block_larger_than_its_cursor_whole() {
    use std::io::Write;
    let bytes: Vec<u8> = (0..3 * CURSOR + 777).map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8).collect();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&bytes).unwrap();
    let n = bytes.len() as u64;
    assert_eq!(weak_at(&file, 0..n).unwrap(), weak_sum(&bytes));
    assert_eq!(weak_at(&file, 5..n - 9).unwrap(), weak_sum(&bytes[5..bytes.len() - 9]));
}

proptest::proptest! {
    /// Extending by whole slices, split anywhere, sums like pushing
    /// every byte, over lengths past 2^16 where the halves wrap.
    #[test]
    fn extend_sums_like_pushing_each_byte(
        bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..70_000),
        cut in 0usize..70_000,
        start in proptest::num::u8::ANY,
    ) {
        let cut = cut.min(bytes.len());
        let mut pushed = Rolling::EMPTY;
        pushed.push(start);
        bytes.iter().for_each(|x| pushed.push(*x));
        let mut extended = Rolling::EMPTY;
        extended.extend(&[start]);
        extended.extend(&bytes[..cut]);
        extended.extend(&bytes[cut..]);
        proptest::prop_assert_eq!(pushed.sum(), extended.sum());
        proptest::prop_assert_eq!(pushed.len, extended.len);
    }
}
