//! The text of the live progress line (`-p`): bytes, files, rate and ETA.
//!
//! The renderer samples its counters ten times a second and hands them to a
//! [`Meter`], which keeps the last few seconds of samples: the rate is the
//! bytes moved over that window, so it follows a transfer that speeds up or
//! slows down (a `--bwlimit`, a slow disk) within seconds instead of
//! averaging over the whole run, and the ETA is the bytes still to move at
//! that rate. Time comes in as an argument so tests drive it with a fake
//! clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the rate looks.
const WINDOW: Duration = Duration::from_secs(5);

/// The counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Bytes landed so far.
    pub(crate) done_bytes: u64,
    /// Bytes the need list asked for so far (grows while scanning).
    pub(crate) total_bytes: u64,
    /// Files landed.
    pub(crate) files_done: u64,
    /// Files the need list asked for so far.
    pub(crate) files_needed: u64,
    /// Source entries scanned.
    pub(crate) scanned: u64,
    /// Whether the scan of the source is complete.
    pub(crate) scan_done: bool,
}

/// Recent samples of the bytes done, for the rate.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    samples: VecDeque<(Instant, u64)>,
}

impl Meter {
    /// Records `snapshot` at `now` and returns the progress line.
    pub(crate) fn line(&mut self, snapshot: &Snapshot, now: Instant) -> String {
        self.samples.push_back((now, snapshot.done_bytes));
        while self.samples.len() > 2 && self.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > WINDOW) {
            self.samples.pop_front();
        }
        line(snapshot, self.rate())
    }

    /// Bytes per second over the window; `None` until two samples at
    /// different instants exist.
    fn rate(&self) -> Option<f64> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let secs = last.0.duration_since(first.0).as_secs_f64();
        (secs > 0.0).then(|| last.1.saturating_sub(first.1) as f64 / secs)
    }
}

/// `12.0 MiB/40.0 MiB  3/10 files  2.0 MiB/s  ETA 0:14`, then `scanning
/// (N entries)` while the source is still being read.
pub(crate) fn line(s: &Snapshot, rate: Option<f64>) -> String {
    let remaining = s.total_bytes.saturating_sub(s.done_bytes);
    let rate_text = rate.map_or_else(|| "-".to_owned(), |r| format!("{}/s", human_bytes(r as u64)));
    let eta = match rate {
        _ if remaining == 0 && s.scan_done => "done".to_owned(),
        Some(r) if r >= 1.0 => clock(Duration::from_secs_f64((remaining as f64 / r).min(360_000.0))),
        _ => "--:--".to_owned(),
    };
    let mut text = format!(
        "{}/{}  {}/{} files  {rate_text}  ETA {eta}",
        human_bytes(s.done_bytes),
        human_bytes(s.total_bytes),
        s.files_done,
        s.files_needed
    );
    if !s.scan_done {
        text.push_str(&format!("  scanning ({} entries)", s.scanned));
    }
    text
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn clock(d: Duration) -> String {
    let secs = d.as_secs_f64().round() as u64;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Bytes in binary units, one decimal: `5 B`, `3.0 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    // 1023.96 KiB shows as 1.0 MiB, never as "1024.0 KiB".
    while v >= 1023.95 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn at(done_bytes: u64, files_done: u64) -> Snapshot {
        Snapshot { done_bytes, total_bytes: 40 * MIB, files_done, files_needed: 10, scanned: 25, scan_done: true }
    }

    #[test]
    fn the_line_shows_bytes_files_rate_and_eta() {
        let t0 = Instant::now();
        let mut meter = Meter::default();
        assert_eq!(meter.line(&at(0, 0), t0), "0 B/40.0 MiB  0/10 files  -  ETA --:--");
        // 2 MiB/s for 4 s: 8 MiB done, 32 MiB to go, 16 s left.
        let mut line = String::new();
        for tick in 1..=40u64 {
            line = meter.line(&at(tick * MIB / 5, tick / 10), t0 + Duration::from_millis(tick * 100));
        }
        assert_eq!(line, "8.0 MiB/40.0 MiB  4/10 files  2.0 MiB/s  ETA 0:16");
    }

    #[test]
    fn the_rate_follows_the_last_seconds_only() {
        let t0 = Instant::now();
        let mut meter = Meter::default();
        // 10 s at 4 MiB/s, then 10 s at 1 MiB/s: the line shows 1 MiB/s.
        let mut done = 0;
        for tick in 1..=200u64 {
            done += if tick <= 100 { 4 * MIB / 10 } else { MIB / 10 };
            meter.line(&at(done, 0), t0 + Duration::from_millis(tick * 100));
        }
        let line = meter.line(&at(done, 0), t0 + Duration::from_millis(20_000));
        assert!(line.contains("  1.0 MiB/s  "), "{line}");
    }

    #[test]
    fn scanning_and_finished_transfers_say_so() {
        let scanning = Snapshot { total_bytes: 3 * MIB, files_needed: 2, scanned: 1234, ..Default::default() };
        let text = line(&scanning, Some(MIB as f64));
        assert_eq!(text, "0 B/3.0 MiB  0/2 files  1.0 MiB/s  ETA 0:03  scanning (1234 entries)");
        let done =
            Snapshot { done_bytes: MIB, total_bytes: MIB, files_done: 1, files_needed: 1, scanned: 1, scan_done: true };
        assert!(line(&done, None).ends_with("ETA done"), "{}", line(&done, None));
        assert_eq!(clock(Duration::from_secs(3 * 3600 + 62)), "3:01:02");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(5), "5 B");
        assert_eq!(human_bytes(3 * MIB), "3.0 MiB");
        assert_eq!(human_bytes(MIB - 10), "1.0 MiB");
        assert_eq!(human_bytes(1023), "1023 B");
    }
}
