//! A token bucket that caps bytes per second across threads (`--bwlimit`).
//!
//! The destination's [`crate::Landing`] holds one [`RateLimit`] per transfer
//! and charges it from [`crate::Incoming::record`], which every transport
//! calls for every run of bytes it lands. That one point sees all streams of
//! every transport in every direction, so the limit is enforced once, here,
//! and holds for all of them together; a slowed receiver slows the sender
//! through the transports' own back-pressure.
//!
//! Bytes are charged after they were written, so a caller may run ahead by
//! one write; it then sleeps until the bucket has paid for it. The bucket
//! holds at most a tenth of a second of bytes, so an idle spell does not buy
//! a long burst afterwards. Callers run on blocking threads (landing is
//! blocking I/O), which may sleep.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many seconds of bytes the bucket holds when full.
const BURST_SECS: f64 = 0.1;

/// Caps the rate of bytes charged to it, from any number of threads.
#[derive(Debug)]
pub struct RateLimit {
    bucket: Mutex<Bucket>,
}

impl RateLimit {
    /// A limit of `bytes_per_sec` (at least 1), starting with a full bucket.
    pub fn new(bytes_per_sec: u64) -> Self {
        RateLimit { bucket: Mutex::new(Bucket::new(bytes_per_sec, Instant::now())) }
    }

    /// The limit in bytes per second.
    pub fn bytes_per_sec(&self) -> u64 {
        self.lock().rate as u64
    }

    /// Charges `n` bytes and sleeps until the rate allows them. Blocks the
    /// calling thread: call it from a blocking thread, never from an async
    /// task.
    pub fn charge(&self, n: u64) {
        let wait = self.lock().take(n, Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // A panic while holding the lock leaves plain numbers behind; go on.
        self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The bucket's arithmetic, with the clock passed in so tests can drive it.
#[derive(Debug, Clone)]
struct Bucket {
    /// Bytes per second.
    rate: f64,
    /// Most bytes the bucket holds.
    capacity: f64,
    /// Bytes available; negative when callers ran ahead (a debt).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Bucket {
    fn new(bytes_per_sec: u64, now: Instant) -> Self {
        let rate = bytes_per_sec.max(1) as f64;
        let capacity = (rate * BURST_SECS).max(1.0);
        Bucket { rate, capacity, tokens: capacity, updated: now }
    }

    /// Takes `n` bytes at `now`; returns how long the caller must wait for
    /// them to be paid for (zero when the bucket had them).
    fn take(&mut self, n: u64, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.updated = self.updated.max(now);
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn a_full_bucket_lets_a_tenth_of_a_second_through_then_waits() {
        let t0 = Instant::now();
        let mut b = Bucket::new(10 * MIB, t0);
        assert_eq!(b.take(MIB, t0), Duration::ZERO, "one tenth of a second of bytes is free");
        let wait = b.take(MIB, t0);
        assert!((secs(wait) - 0.1).abs() < 1e-6, "the next MiB costs 0.1 s: {wait:?}");
        // Two callers at the same instant queue behind each other.
        let wait = b.take(MIB, t0);
        assert!((secs(wait) - 0.2).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn a_steady_stream_gets_exactly_the_rate() {
        // A fake clock: the caller sleeps exactly as told, in 64 KiB writes.
        let t0 = Instant::now();
        let rate = 2 * MIB;
        let mut b = Bucket::new(rate, t0);
        let mut now = t0;
        let total = 6 * MIB;
        let mut sent = 0;
        while sent < total {
            now += b.take(64 << 10, now);
            sent += 64 << 10;
        }
        let took = secs(now - t0);
        let ideal = (total as f64 - rate as f64 * BURST_SECS) / rate as f64;
        assert!((took - ideal).abs() < 1e-3, "took {took} s, ideal {ideal} s");
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = Bucket::new(MIB, t0);
        assert!(b.take(MIB, t0) > Duration::ZERO);
        // A long pause pays the debt and refills, but only to capacity.
        let later = t0 + Duration::from_secs(60);
        let burst = (MIB as f64 * BURST_SECS) as u64;
        assert_eq!(b.take(burst, later), Duration::ZERO);
        assert!(b.take(1024, later) > Duration::ZERO, "nothing beyond the burst was saved up");
    }

    #[test]
    fn a_clock_that_goes_back_is_harmless_and_tiny_rates_work() {
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut b = Bucket::new(0, t0);
        assert_eq!(b.rate, 1.0, "a zero rate is taken as 1 B/s, never a division by zero");
        assert_eq!(b.take(1, t0), Duration::ZERO);
        let wait = b.take(2, t0 - Duration::from_secs(1));
        assert!((secs(wait) - 2.0).abs() < 1e-6, "{wait:?}");
    }

    #[test]
    fn threads_share_one_limit() {
        let limit = std::sync::Arc::new(RateLimit::new(4 * MIB));
        assert_eq!(limit.bytes_per_sec(), 4 * MIB);
        let start = Instant::now();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let limit = limit.clone();
                std::thread::spawn(move || {
                    for _ in 0..8 {
                        limit.charge(64 << 10);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // 2 MiB at 4 MiB/s, less the 0.1 s burst: about 0.4 s in all.
        let took = start.elapsed().as_secs_f64();
        assert!(took >= 0.35, "four threads together kept to the limit: {took} s");
        assert!(took < 3.0, "{took} s");
    }
}
