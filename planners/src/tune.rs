//! Auto-tuning: how many streams to use ([`Ramp`], measured on the
//! transfer itself) and whether compression pays.
//!
//! Pure: the TCP data plane measures, this module decides. A costlier
//! choice (more streams, compression) wins only when it is at least
//! [`MARGIN`] faster, because measurements are noisy and every extra stream
//! costs a connection and a thread on both sides.

/// How much faster (as a fraction) a costlier candidate must be to win.
pub const MARGIN: f64 = 0.10;

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

/// Chooses the stream count on the transfer itself: starts with one stream,
/// doubles while the last step made the transfer at least [`MARGIN`] faster,
/// and settles on the best count seen. Each step is measured over a window
/// of real payload (the caller's), so the choice reflects whatever limits
/// the transfer: the network, the receiver's disk or its CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    max: u32,
    current: u32,
    /// The fastest count so far and its bytes per second.
    best: Option<(u32, f64)>,
    settled: bool,
}

impl Ramp {
    /// A ramp over 1, 2, 4, ... streams, never above `max` (at least 1).
    pub fn new(max: u32) -> Self {
        let max = max.max(1);
        Ramp { max, current: 1, best: None, settled: max == 1 }
    }

    /// The stream count to use now.
    pub fn current(&self) -> u32 {
        self.current
    }

    /// Whether the ramp made its choice (it then ignores measurements).
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// Records what the current count achieved over one window and returns
    /// the count to use next.
    pub fn record(&mut self, bytes_per_sec: f64) -> u32 {
        if self.settled {
            return self.current;
        }
        let better = match self.best {
            None => bytes_per_sec.is_finite(),
            Some((_, rate)) => bytes_per_sec.is_finite() && bytes_per_sec > rate * (1.0 + MARGIN),
        };
        if better {
            self.best = Some((self.current, bytes_per_sec));
        }
        let next = self.current.saturating_mul(2).min(self.max);
        if better && next > self.current {
            self.current = next;
        } else {
            self.settled = true;
            self.current = self.best.map_or(1, |(streams, _)| streams);
        }
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ramp_stops_where_more_streams_stop_paying() {
        // A receiver's disk is the limit: a second stream is no faster.
        let mut r = Ramp::new(4);
        assert_eq!((r.current(), r.settled()), (1, false));
        assert_eq!(r.record(1000.0), 2);
        assert_eq!(r.record(1050.0), 1);
        assert!(r.settled());
        assert_eq!(r.record(9999.0), 1, "settled: later windows change nothing");
        // A long fat network: every doubling pays until the last.
        let mut r = Ramp::new(4);
        assert_eq!(r.record(100.0), 2);
        assert_eq!(r.record(190.0), 4);
        assert_eq!(r.record(200.0), 2, "4 streams were not 10% better than 2");
        assert!(r.settled());
        // Each doubling pays, up to the connections open.
        let mut r = Ramp::new(3);
        assert_eq!(r.record(100.0), 2);
        assert_eq!(r.record(300.0), 3);
        assert_eq!(r.record(900.0), 3);
        assert!(r.settled());
        // One connection: nothing to choose.
        assert!(Ramp::new(1).settled());
        assert!(Ramp::new(0).settled());
        // A window that measured nothing usable keeps one stream.
        let mut r = Ramp::new(4);
        assert_eq!(r.record(f64::NAN), 1);
        assert!(r.settled());
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
