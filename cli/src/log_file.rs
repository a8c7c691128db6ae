//! `--log-file FILE`: what a transfer changed, appended to a file, one line
//! each, in the form `2026/12/04 09:10:11 [PID] TEXT` (rsync's layout; UTC).
//! TEXT is an entry with `-i`'s change code (`>f name`, `*deleting name`),
//! `failed: ...`, `warning: ...`, `error: ...` or the summary line. Names
//! are escaped as everywhere else (see [`blit_api::text`]).

use blit_api::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// An open log file. Lines are buffered and written when it is dropped or
/// the summary is logged.
#[derive(Debug)]
pub(crate) struct LogFile {
    out: Mutex<BufWriter<File>>,
}

impl LogFile {
    /// Opens `path` for appending (creating it).
    pub(crate) fn open(path: &Path) -> Result<LogFile> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
            Error::io("open log file", path.display(), e).with_hint("name a writable file for --log-file")
        })?;
        Ok(LogFile { out: Mutex::new(BufWriter::new(file)) })
    }

    /// Appends one line with the time and the process id.
    pub(crate) fn line(&self, text: &str) {
        let text = crate::escape::for_terminal(text);
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{} [{}] {text}", stamp(SystemTime::now()), std::process::id());
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        let _ = self.out.get_mut().map(|out| out.flush());
    }
}

/// `YYYY/MM/DD HH:MM:SS` in UTC.
fn stamp(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    format!("{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

/// The calendar date `days` after 1970-01-01 (proleptic Gregorian).
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    // Shifted so the year starts in March: leap days fall at its end.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(stamp(UNIX_EPOCH), "1970/01/01 00:00:00");
        // 2000-02-29 (a leap day of a century year) and 2026-12-04 09:10:11.
        assert_eq!(stamp(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000/02/29 00:00:00");
        assert_eq!(stamp(UNIX_EPOCH + Duration::from_secs(1_796_375_411)), "2026/12/04 09:10:11");
        assert_eq!(stamp(UNIX_EPOCH + Duration::from_secs(1_709_251_199)), "2024/02/29 23:59:59");
    }

    #[test]
    fn lines_are_appended_with_time_and_pid() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("blit.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let log = LogFile::open(&path).unwrap();
        log.line(">f a\nb");
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("earlier"));
        let line = lines.next().unwrap();
        assert!(line.ends_with(&format!("[{}] >f a\\nb", std::process::id())), "{line}");
        assert_eq!(lines.next(), None);
    }
}
