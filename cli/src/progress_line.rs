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
    /// Records `snapshot` at `now` and returns the progress line for a
    /// terminal `width` columns wide, `elapsed` after the start.
    pub(crate) fn line(&mut self, snapshot: &Snapshot, now: Instant, elapsed: Duration, width: usize) -> String {
        self.samples.push_back((now, snapshot.done_bytes));
        while self.samples.len() > 2 && self.samples.front().is_some_and(|(t, _)| now.duration_since(*t) > WINDOW) {
            self.samples.pop_front();
        }
        fit(snapshot, self.rate(), elapsed, width)
    }

    /// Bytes per second over the window; `None` until two samples at
    /// different instants exist.
    fn rate(&self) -> Option<f64> {
        let (first, last) = (self.samples.front()?, self.samples.back()?);
        let secs = last.0.duration_since(first.0).as_secs_f64();
        (secs > 0.0).then(|| last.1.saturating_sub(first.1) as f64 / secs)
    }
}

/// The last frame: the rate is the average over the whole run, computed as
/// the summary computes it ([`rate`]).
pub(crate) fn last_line(snapshot: &Snapshot, elapsed: Duration, width: usize) -> String {
    let average = rate(snapshot.done_bytes, elapsed.as_secs_f64()).map(|r| r as f64);
    fit(snapshot, average, elapsed, width)
}

/// Average bytes per second of `bytes` over `secs`; `None` when no time
/// passed.
pub(crate) fn rate(bytes: u64, secs: f64) -> Option<u64> {
    (secs > 0.0).then(|| (bytes as f64 / secs) as u64)
}

/// Columns of the terminal on stderr (80 when it is not a terminal).
pub(crate) fn width() -> usize {
    terminal_width().unwrap_or(80)
}

/// Columns of the terminal on stderr; `None` when stderr is not one.
pub(crate) fn terminal_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize; fd 2 may be anything, and a
    // failure leaves the zeroed struct, read as "unknown".
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// The bar's line in at most `width - 1` columns (the last column is left
/// free, so a terminal never wraps it): the parts that fit, whole, most
/// important first (bytes, rate, ETA, files, scanning, elapsed), in a fixed
/// order, and a bar in the room left over.
pub(crate) fn fit(s: &Snapshot, rate: Option<f64>, elapsed: Duration, width: usize) -> String {
    let room = width.saturating_sub(1);
    let text = line(s, rate);
    let parts: Vec<(usize, String)> = vec![
        (5, clock(elapsed)),
        (0, text.bytes),
        (3, text.files),
        (1, text.rate),
        (2, text.eta),
        (4, text.scanning.unwrap_or_default()),
    ];
    let mut keep: Vec<bool> = parts.iter().map(|(_, p)| !p.is_empty()).collect();
    let used = |keep: &[bool]| -> usize {
        let shown: Vec<usize> =
            parts.iter().zip(keep).filter(|(_, k)| **k).map(|((_, p), _)| p.chars().count()).collect();
        shown.iter().sum::<usize>() + 2 * shown.len().saturating_sub(1)
    };
    // Drop the least important parts until the rest fits.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(parts[*i].0));
    for i in order {
        if used(&keep) <= room {
            break;
        }
        if parts[i].0 > 0 {
            keep[i] = false;
        }
    }
    let shown: Vec<&str> = parts.iter().zip(&keep).filter(|(_, k)| **k).map(|((_, p), _)| p.as_str()).collect();
    let mut out = String::new();
    // The bar goes after the elapsed time when it gets at least 10 columns.
    let free = room.saturating_sub(used(&keep) + 2);
    let bar_width = free.min(32);
    for (n, part) in shown.iter().enumerate() {
        if n > 0 {
            out.push_str("  ");
        }
        out.push_str(part);
        if n == 0 && keep[0] && bar_width >= 10 {
            out.push_str("  ");
            out.push_str(&bar(s, bar_width));
        }
    }
    out
}

/// `[=====>    ]`, `width` columns in all.
fn bar(s: &Snapshot, width: usize) -> String {
    let inner = width.saturating_sub(2);
    let filled = if s.total_bytes == 0 {
        if s.scan_done {
            inner
        } else {
            0
        }
    } else {
        ((s.done_bytes.min(s.total_bytes) as f64 / s.total_bytes as f64) * inner as f64) as usize
    };
    let mut out = String::with_capacity(width);
    out.push('[');
    for i in 0..inner {
        out.push(match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal if filled < inner => '>',
            _ => ' ',
        });
    }
    out.push(']');
    out
}

/// The pieces of the line.
pub(crate) struct Parts {
    bytes: String,
    files: String,
    rate: String,
    eta: String,
    scanning: Option<String>,
}

/// The parts of `12.0 MiB/40.0 MiB  3/10 files  2.0 MiB/s  ETA 0:14`, and
/// `scanning (N entries)` while the source is still being read.
pub(crate) fn line(s: &Snapshot, rate: Option<f64>) -> Parts {
    let remaining = s.total_bytes.saturating_sub(s.done_bytes);
    let rate_text = rate.map_or_else(|| "-".to_owned(), |r| format!("{}/s", human_bytes(r as u64)));
    let eta = match rate {
        _ if remaining == 0 && s.scan_done => "done".to_owned(),
        Some(r) if r >= 1.0 => clock(Duration::from_secs_f64((remaining as f64 / r).min(360_000.0))),
        _ => "--:--".to_owned(),
    };
    let files = if s.files_needed == 1 { "file" } else { "files" };
    Parts {
        bytes: format!("{}/{}", human_bytes(s.done_bytes), human_bytes(s.total_bytes)),
        files: format!("{}/{} {files}", s.files_done, s.files_needed),
        rate: rate_text,
        eta: format!("ETA {eta}"),
        scanning: (!s.scan_done).then(|| format!("scanning ({} entries)", s.scanned)),
    }
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
mod tests;
