//! Auto-tuning from warm-up probe results: which stream count and chunk
//! size to use, and whether compression pays.
//!
//! Pure: the TCP data plane measures, this module decides. A cheaper
//! candidate (fewer streams, the default chunk) wins unless another is at
//! least [`MARGIN`] faster, because measurements of a few milliseconds are
//! noisy and every extra stream costs a connection and a thread on both
//! sides.

/// How much faster (as a fraction) a costlier candidate must be to win.
pub const MARGIN: f64 = 0.10;

/// What one probe round achieved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Connections used.
    pub streams: u32,
    /// Bytes per record.
    pub chunk: u32,
    /// Bytes per second, end to end (acknowledged by the receiver).
    pub bytes_per_sec: f64,
}

/// The best of `candidates`, given cheapest first: a later candidate
/// replaces the current choice only when it is more than [`MARGIN`] faster.
/// `None` when there are no candidates.
pub fn pick(candidates: &[Measurement]) -> Option<Measurement> {
    let mut best: Option<Measurement> = None;
    for m in candidates {
        if !m.bytes_per_sec.is_finite() {
            continue;
        }
        match best {
            Some(b) if m.bytes_per_sec <= b.bytes_per_sec * (1.0 + MARGIN) => {}
            _ => best = Some(*m),
        }
    }
    best
}

/// Whether compressing pays on a link of `link` bytes/s, with a compressor
/// that takes `compressor` raw bytes/s and shrinks data to `ratio` of its
/// size: the compressed pipeline moves `min(compressor, link / ratio)` raw
/// bytes/s and must beat the raw link by [`MARGIN`]. It never does on a link
/// faster than the compressor, so compression never slows a fast link.
pub fn compression_pays(link: f64, compressor: f64, ratio: f64) -> bool {
    if !(link > 0.0 && compressor > 0.0 && ratio > 0.0) {
        return false;
    }
    let compressed = compressor.min(link / ratio);
    compressed > link * (1.0 + MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(streams: u32, rate: f64) -> Measurement {
        Measurement { streams, chunk: 1 << 20, bytes_per_sec: rate }
    }

    #[test]
    fn cheaper_candidates_win_unless_clearly_slower() {
        assert_eq!(pick(&[]), None);
        assert_eq!(pick(&[m(1, 100.0), m(2, 105.0), m(4, 109.0)]).unwrap().streams, 1);
        assert_eq!(pick(&[m(1, 100.0), m(2, 150.0), m(4, 160.0)]).unwrap().streams, 2);
        assert_eq!(pick(&[m(1, 100.0), m(2, 150.0), m(4, 200.0)]).unwrap().streams, 4);
        assert_eq!(pick(&[m(1, f64::NAN), m(2, 1.0)]).unwrap().streams, 2);
    }

    #[test]
    fn compression_never_slows_a_fast_link() {
        // 1 GB/s link, 500 MB/s compressor: never.
        assert!(!compression_pays(1e9, 5e8, 0.3));
        // 10 MB/s link, 500 MB/s compressor, data halves: yes.
        assert!(compression_pays(1e7, 5e8, 0.5));
        // Incompressible data: no.
        assert!(!compression_pays(1e7, 5e8, 0.99));
        assert!(!compression_pays(0.0, 5e8, 0.5));
    }
}
