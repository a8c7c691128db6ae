//! Rendering progress events: the live bar (`-p`), one line per entry (`-v`),
//! and JSON lines (`--json -p`).

use blit_api::{FileKind, ProgressEvent, ProgressSink, TransferSummary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
}

/// The CLI's progress sink.
pub(crate) struct Renderer {
    verbose: bool,
    json_events: bool,
    counters: Arc<Counters>,
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
}

impl Renderer {
    /// `progress` draws the bar (or JSON lines when `json`), `verbose` prints
    /// a line per entry.
    pub(crate) fn new(progress: bool, verbose: bool, json: bool) -> Arc<Self> {
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (bar, ticker) = if progress && !json {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
                )
                .expect("the bar template is valid")
                .progress_chars("=> "),
            );
            let t = spawn_ticker(bar.clone(), counters.clone(), stop.clone());
            (Some(bar), Some(t))
        } else {
            (None, None)
        };
        Arc::new(Renderer { verbose, json_events: progress && json, counters, bar, stop, ticker: Mutex::new(ticker) })
    }

    /// Stops the bar and leaves its last state on screen.
    pub(crate) fn close(&self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.ticker.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        if let Some(bar) = &self.bar {
            update_bar(bar, &self.counters);
            bar.finish();
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        }
    }
}

fn spawn_ticker(bar: ProgressBar, counters: Arc<Counters>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Relaxed) {
            update_bar(&bar, &counters);
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

fn update_bar(bar: &ProgressBar, c: &Counters) {
    bar.set_length(c.total_bytes.load(Relaxed));
    bar.set_position(c.done_bytes.load(Relaxed));
    bar.set_message(format!(
        "files {}/{} (scanned {})",
        c.files_done.load(Relaxed),
        c.files_needed.load(Relaxed),
        c.entries_seen.load(Relaxed)
    ));
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
            ProgressEvent::ManifestProgress { entries, .. } | ProgressEvent::ManifestComplete { entries, .. } => {
                c.entries_seen.fetch_max(*entries, Relaxed);
            }
            ProgressEvent::NeedBatch { files, bytes } => {
                c.files_needed.fetch_add(*files, Relaxed);
                c.total_bytes.fetch_add(*bytes, Relaxed);
            }
            ProgressEvent::FileBytes { bytes, .. } => {
                c.done_bytes.fetch_add(*bytes, Relaxed);
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
                if let Some(bar) = &self.bar {
                    bar.suspend(|| eprintln!("blit: failed: {path}: {message}"));
                } else {
                    eprintln!("blit: failed: {path}: {message}");
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
    line
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
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

    #[test]
    fn json_events_carry_schema_and_tag() {
        let e = ProgressEvent::NeedBatch { files: 3, bytes: 9 };
        let v: serde_json::Value = serde_json::from_str(&event_json(&e)).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["event"], "need_batch");
        assert_eq!(v["files"], 3);
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(5), "5 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
