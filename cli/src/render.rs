//! Rendering progress events: the live bar (`-p`), one line per entry (`-v`),
//! and JSON lines (`--json -p`).

use blit_api::{FileKind, ProgressEvent, ProgressSink, TransferSummary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::progress_line::{human_bytes, Meter, Snapshot};

/// Version of the JSON event and summary schema.
pub(crate) const JSON_SCHEMA: u32 = 1;

/// Running totals the bar reads. The total only grows: it is the sum of the
/// need batches sent so far.
#[derive(Debug, Default)]
struct Counters {
    total_bytes: AtomicU64,
    done_bytes: AtomicU64,
    files_needed: AtomicU64,
    files_done: AtomicU64,
    entries_seen: AtomicU64,
    scan_done: AtomicBool,
}

impl Counters {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            done_bytes: self.done_bytes.load(Relaxed),
            total_bytes: self.total_bytes.load(Relaxed),
            files_done: self.files_done.load(Relaxed),
            files_needed: self.files_needed.load(Relaxed),
            scanned: self.entries_seen.load(Relaxed),
            scan_done: self.scan_done.load(Relaxed),
        }
    }
}

/// Failure messages remembered for [`Renderer::printed`].
const FAILURES_KEPT: usize = 64;

/// The CLI's progress sink.
pub(crate) struct Renderer {
    verbose: bool,
    quiet: bool,
    json_events: bool,
    counters: Arc<Counters>,
    meter: Arc<Mutex<Meter>>,
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    /// The messages of the last failures printed (at most
    /// [`FAILURES_KEPT`]), so a fatal error that is one of them is not
    /// printed twice.
    printed: Mutex<std::collections::VecDeque<String>>,
}

impl Renderer {
    /// `progress` draws the bar (or JSON lines when `json`), `verbose` prints
    /// a line per entry; `quiet` (`-q`) prints nothing but failures and
    /// wins over both.
    pub(crate) fn new(progress: bool, verbose: bool, json: bool, quiet: bool) -> Arc<Self> {
        let (progress, verbose) = (progress && !quiet, verbose && !quiet);
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let meter = Arc::new(Mutex::new(Meter::default()));
        let (bar, ticker) = if progress && !json {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
            bar.set_style(
                // One line, cut to the terminal's width so it never wraps.
                ProgressStyle::with_template("{elapsed_precise} [{bar:20}] {wide_msg}")
                    .expect("the bar template is valid")
                    .progress_chars("=> "),
            );
            let t = spawn_ticker(bar.clone(), counters.clone(), meter.clone(), stop.clone());
            (Some(bar), Some(t))
        } else {
            (None, None)
        };
        let json_events = progress && json;
        let ticker = Mutex::new(ticker);
        Arc::new(Renderer {
            verbose,
            quiet,
            json_events,
            counters,
            meter,
            bar,
            stop,
            ticker,
            printed: Mutex::default(),
        })
    }

    /// Whether a failure printed lately is the error `fatal` (which may
    /// carry the daemon's address in front).
    pub(crate) fn printed(&self, fatal: &str) -> bool {
        let same = |m: &String| match fatal.strip_suffix(m.as_str()) {
            Some(head) => head.is_empty() || head.ends_with(':') || head.ends_with(": "),
            None => false,
        };
        self.printed.lock().ok().is_some_and(|printed| printed.iter().any(same))
    }

    /// Stops the bar and leaves its last state on screen.
    pub(crate) fn close(&self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.ticker.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        if let Some(bar) = &self.bar {
            update_bar(bar, &self.counters, &self.meter);
            bar.finish();
        }
    }

    fn line(&self, text: &str) {
        let text = crate::escape::for_terminal(text);
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        }
    }
}

fn spawn_ticker(
    bar: ProgressBar,
    counters: Arc<Counters>,
    meter: Arc<Mutex<Meter>>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Relaxed) {
            update_bar(&bar, &counters, &meter);
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

fn update_bar(bar: &ProgressBar, c: &Counters, meter: &Mutex<Meter>) {
    let snapshot = c.snapshot();
    bar.set_length(snapshot.total_bytes);
    bar.set_position(snapshot.done_bytes);
    let line = meter.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).line(&snapshot, Instant::now());
    bar.set_message(line);
}

fn shown(path: &blit_api::RelPath, kind: FileKind) -> String {
    match kind {
        FileKind::Dir => format!("{path}/"),
        _ => path.to_string(),
    }
}

/// One event as a JSON object with the schema version.
pub(crate) fn event_json(event: &ProgressEvent) -> String {
    let mut v = serde_json::to_value(event).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("schema".into(), JSON_SCHEMA.into());
    }
    v.to_string()
}

impl ProgressSink for Renderer {
    fn emit(&self, event: ProgressEvent) {
        let c = &self.counters;
        match &event {
            ProgressEvent::ManifestProgress { entries, .. } => {
                c.entries_seen.fetch_max(*entries, Relaxed);
            }
            ProgressEvent::ManifestComplete { entries, .. } => {
                c.entries_seen.fetch_max(*entries, Relaxed);
                c.scan_done.store(true, Relaxed);
            }
            ProgressEvent::NeedBatch { files, bytes } => {
                c.files_needed.fetch_add(*files, Relaxed);
                c.total_bytes.fetch_add(*bytes, Relaxed);
            }
            ProgressEvent::FileBytes { bytes, .. } => {
                c.done_bytes.fetch_add(*bytes, Relaxed);
            }
            // Kept bytes never move: the bar counts only what is sent.
            ProgressEvent::FileResumed { bytes, .. } => {
                let _ = c.total_bytes.fetch_update(Relaxed, Relaxed, |t| Some(t.saturating_sub(*bytes)));
            }
            ProgressEvent::FileDone { path, kind, .. } => {
                if *kind == FileKind::File {
                    c.files_done.fetch_add(1, Relaxed);
                }
                if self.verbose {
                    self.line(&shown(path, *kind));
                }
            }
            ProgressEvent::Planned { path, kind, .. } if self.verbose => self.line(&shown(path, *kind)),
            ProgressEvent::Deleted { path, kind } if self.verbose => {
                self.line(&format!("deleting {}", shown(path, *kind)))
            }
            ProgressEvent::FileFailed { path, message, .. } => {
                if let Ok(mut printed) = self.printed.lock() {
                    if printed.len() == FAILURES_KEPT {
                        printed.pop_front();
                    }
                    printed.push_back(message.clone());
                }
                let line = format!("blit: failed: {}", crate::escape::for_terminal(&failure_text(path, message)));
                if let Some(bar) = &self.bar {
                    bar.suspend(|| eprintln!("{line}"));
                } else {
                    eprintln!("{line}");
                }
            }
            // Once per transfer and kind of trouble: printed even without -v.
            ProgressEvent::Warning { message } if !self.quiet => {
                let line = format!("blit: warning: {}", crate::escape::for_terminal(message));
                if let Some(bar) = &self.bar {
                    bar.suspend(|| eprintln!("{line}"));
                } else {
                    eprintln!("{line}");
                }
            }
            _ => {}
        }
        if self.json_events {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", event_json(&event));
        }
    }
}

/// A one-line human summary.
pub(crate) fn summary_line(s: &TransferSummary) -> String {
    let secs = s.elapsed_secs.max(1e-9);
    let verb = if s.dry_run { "would transfer" } else { "transferred" };
    let mut line = format!(
        "{verb} {} entries, {} in {:.2} s ({}/s); scanned {}",
        s.files_transferred,
        human_bytes(s.bytes_transferred),
        s.elapsed_secs,
        human_bytes((s.bytes_transferred as f64 / secs) as u64),
        s.entries_scanned
    );
    if s.deleted > 0 {
        line.push_str(&format!("; {} {}", if s.dry_run { "would delete" } else { "deleted" }, s.deleted));
    }
    if !s.failures.is_empty() {
        line.push_str(&format!("; {} failed", s.failures.len()));
    }
    if let Some(how) = transport_text(s) {
        line.push_str("; ");
        line.push_str(&how);
    }
    line
}

/// How a remote transfer carried its payload: transport, streams, chunk
/// size, compression, how they were chosen, zero-copy bytes, the time to
/// the first payload byte, and why it fell back, if it did. `None` for a
/// local transfer.
pub(crate) fn transport_text(s: &TransferSummary) -> Option<String> {
    if s.streams == 0 {
        return None;
    }
    let mut text = format!("over {}", s.transport);
    if s.transport == "tcp" {
        let how = if s.tuning.is_empty() { String::new() } else { format!(", {}", s.tuning) };
        text.push_str(&format!(
            " ({} streams, {} chunks, compression {}{how})",
            s.streams,
            human_bytes(s.chunk_size),
            s.compression
        ));
    }
    if s.zero_copy_bytes > 0 {
        text.push_str(&format!(", {} zero-copy", human_bytes(s.zero_copy_bytes)));
    }
    if let Some(first) = s.first_byte_secs {
        text.push_str(&format!(", first byte after {:.1} ms", first * 1000.0));
    }
    if let Some(why) = &s.fallback {
        text.push_str(&format!(" (fell back: {why})"));
    }
    Some(text)
}

/// `path: message`, or only the message when it already starts with the
/// path (errors carry the path they concern).
pub(crate) fn failure_text(path: &blit_api::RelPath, message: &str) -> String {
    let shown = path.to_string();
    match message.strip_prefix(shown.as_str()) {
        Some(rest) if rest.starts_with(": ") => message.to_owned(),
        _ => format!("{shown}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_events_carry_schema_and_tag() {
        let e = ProgressEvent::NeedBatch { files: 3, bytes: 9 };
        let v: serde_json::Value = serde_json::from_str(&event_json(&e)).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["event"], "need_batch");
        assert_eq!(v["files"], 3);
    }

    #[test]
    fn failures_name_their_path_once() {
        let p = blit_api::RelPath::from_bytes(b"d/f".to_vec()).unwrap();
        assert_eq!(failure_text(&p, "d/f: write failed"), "d/f: write failed");
        assert_eq!(failure_text(&p, "/abs/d/f: open failed"), "d/f: /abs/d/f: open failed");
        assert_eq!(failure_text(&p, "d/fx: other"), "d/f: d/fx: other");
    }

    #[test]
    fn remote_summaries_say_how_the_payload_travelled() {
        let mut s = TransferSummary { transport: "tcp".into(), streams: 2, chunk_size: 1 << 20, ..Default::default() };
        s.compression = "zstd:1".into();
        s.tuning = "probe".into();
        s.first_byte_secs = Some(0.0125);
        let text = transport_text(&s).unwrap();
        assert_eq!(text, "over tcp (2 streams, 1.0 MiB chunks, compression zstd:1, probe), first byte after 12.5 ms");
        let grpc = TransferSummary {
            transport: "grpc".into(),
            streams: 1,
            fallback: Some("port closed".into()),
            ..Default::default()
        };
        assert_eq!(transport_text(&grpc).unwrap(), "over grpc (fell back: port closed)");
        assert!(summary_line(&grpc).ends_with("over grpc (fell back: port closed)"));
        assert_eq!(transport_text(&TransferSummary::default()), None);
    }
}
