//! Large files cut into ranges that travel side by side, so one file can
//! fill several streams.

/// Smallest range (256 KiB).
pub const RANGE_MIN: u64 = 256 * 1024;
/// Largest range (64 MiB).
pub const RANGE_MAX: u64 = 64 * 1024 * 1024;
/// Ranges per stream a file is cut into, so a faster stream takes more.
pub const RANGES_PER_STREAM: u64 = 4;

/// The range size for a file of `size` bytes over at most `streams`
/// streams, or `None` when it travels whole (one stream, or a file no
/// larger than one range). Ranges are multiples of 64 KiB.
pub fn range_size(size: u64, streams: u32) -> Option<u64> {
    if streams < 2 {
        return None;
    }
    let per = size.div_ceil(u64::from(streams) * RANGES_PER_STREAM);
    let range = per.clamp(RANGE_MIN, RANGE_MAX).next_multiple_of(64 * 1024);
    (size > range).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_larger_than_a_range_over_several_streams_are_cut() {
        assert_eq!(range_size(10 << 30, 1), None);
        assert_eq!(range_size(100 << 10, 4), None);
        assert_eq!(range_size(RANGE_MIN, 4), None, "one range is sent whole");
        assert_eq!(range_size(4 << 20, 4), Some(RANGE_MIN));
        assert_eq!(range_size(4 << 30, 4), Some(RANGE_MAX));
        // 2 GiB over 16 streams: 4 ranges each, 32 MiB apiece.
        assert_eq!(range_size(2 << 30, 16), Some(32 << 20));
        let odd = range_size(3 * (RANGE_MIN * 8) + 1, 2).unwrap();
        assert_eq!(odd % (64 * 1024), 0);
    }
}
