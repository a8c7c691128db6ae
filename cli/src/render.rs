//! Rendering progress events: the live bar (`-p`), one line per entry (`-v`
//! names, `-i` rsync's change codes), JSON lines (`--json -p`), the log file
//! (`--log-file`), and at the end the summary (see [`crate::report`]).
//!
//! Where output goes: with `--json`, stdout holds only JSON (the summary,
//! or the fatal error as a `failed` event) and everything else goes to
//! stderr; without it, entry lines and `--stats` go to stdout and the bar,
//! warnings, failures and the summary line to stderr.

use crate::log_file::LogFile;
use crate::progress_line::{self, Meter, Snapshot};
use crate::{names, report, TransferArgs};
use blit_api::{Error, FileKind, ProgressEvent, ProgressSink, RelPath, TransferSummary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the command line asked to see.
#[derive(Debug, Clone, Default)]
pub(crate) struct Output {
    /// The bar (or JSON events with `json`): `-p`, `-P`, `--info=progress2`.
    pub(crate) progress: bool,
    /// A line per entry naming it (`-v`).
    pub(crate) verbose: bool,
    /// A line per entry with rsync's change codes (`-i`).
    pub(crate) itemize: bool,
    /// The summary as JSON on stdout (`--json`).
    pub(crate) json: bool,
    /// Nothing but errors (`-q`); wins over the three above.
    pub(crate) quiet: bool,
    /// The full summary block (`--stats`).
    pub(crate) stats: bool,
    /// Append changes, failures and the summary here (`--log-file`).
    pub(crate) log_file: Option<PathBuf>,
}

impl Output {
    /// What `args` ask for.
    pub(crate) fn from_args(args: &TransferArgs) -> Output {
        Output {
            progress: args.progress || args.rsync.progress(),
            verbose: args.verbose,
            itemize: args.rsync.itemize_changes,
            json: args.json,
            quiet: args.quiet,
            stats: args.rsync.stats,
            log_file: args.rsync.log_file.clone(),
        }
    }
}

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
    output: Output,
    started: Instant,
    /// Milliseconds from `started` to the last event (for `--timeout`).
    last_event_ms: AtomicU64,
    counters: Arc<Counters>,
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    log: Option<LogFile>,
    /// The messages of the last failures printed (at most
    /// [`FAILURES_KEPT`]), so a fatal error that is one of them is not
    /// printed twice.
    printed: Mutex<std::collections::VecDeque<String>>,
}

impl Renderer {
    /// A renderer for `output`; fails when the log file cannot be opened.
    pub(crate) fn new(output: &Output) -> blit_api::Result<Arc<Self>> {
        let mut output = output.clone();
        if output.quiet {
            (output.progress, output.verbose, output.itemize) = (false, false, false);
        }
        let log = output.log_file.as_deref().map(LogFile::open).transpose()?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let meter = Arc::new(Mutex::new(Meter::default()));
        let started = Instant::now();
        let (bar, ticker) = if output.progress && !output.json {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
            // The whole line is ours: it is built to fit the terminal.
            bar.set_style(ProgressStyle::with_template("{msg}").expect("the bar template is valid"));
            let t = spawn_ticker(bar.clone(), counters.clone(), meter.clone(), stop.clone(), started);
            (Some(bar), Some(t))
        } else {
            (None, None)
        };
        Ok(Arc::new(Renderer {
            output,
            started,
            last_event_ms: AtomicU64::new(0),
            counters,
            bar,
            stop,
            ticker: Mutex::new(ticker),
            log,
            printed: Mutex::default(),
        }))
    }

    /// How long since the last event (or the start).
    pub(crate) fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_event_ms.load(Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// Whether a failure printed lately is the error `fatal` (which may
    /// carry the daemon's address in front).
    fn printed(&self, fatal: &str) -> bool {
        let same = |m: &String| match fatal.strip_suffix(m.as_str()) {
            Some(head) => head.is_empty() || head.ends_with(':') || head.ends_with(": "),
            None => false,
        };
        self.printed.lock().ok().is_some_and(|printed| printed.iter().any(same))
    }

    /// Stops the bar: its last frame (with the average rate of the whole
    /// run, as the summary has) stays on screen, and the line is ended.
    pub(crate) fn close(&self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.ticker.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
        if let Some(bar) = &self.bar {
            let snapshot = self.counters.snapshot();
            bar.set_message(progress_line::last_line(&snapshot, self.started.elapsed(), progress_line::width()));
            bar.finish();
            // The bar leaves the cursor at the end of its line: end it, so
            // what follows starts on a line of its own.
            if !bar.is_hidden() {
                eprintln!();
            }
        }
    }

    /// Prints the summary where the command line asked for it.
    pub(crate) fn summary(&self, summary: &TransferSummary) {
        if let Some(log) = &self.log {
            log.line(&report::summary_line(summary));
        }
        let o = &self.output;
        if o.json {
            println!("{}", report::json(summary));
        }
        if o.stats {
            let block = report::stats(summary);
            if o.json {
                eprint!("{block}");
            } else {
                print!("{block}");
            }
        } else if (o.progress || o.verbose) && !o.json {
            let line = report::summary_line(summary);
            let line = match progress_line::terminal_width() {
                Some(width) => report::wrap(&line, width),
                None => line,
            };
            eprintln!("blit: {line}");
        }
    }

    /// Prints a fatal error (once: a file failure printed above is named,
    /// not repeated); with `--json`, also as a `failed` event on stdout.
    pub(crate) fn fatal(&self, e: &Error) {
        let text = e.to_string();
        if let Some(log) = &self.log {
            log.line(&format!("error: {text}"));
        }
        if self.output.json {
            let ev = ProgressEvent::Failed { kind: e.kind(), message: text.clone() };
            println!("{}", event_json(&ev));
        }
        if self.printed(&text) {
            eprintln!("blit: error: the failure above stopped the transfer");
        } else {
            eprintln!("blit: error: {}", crate::escape::for_terminal(&text));
        }
    }

    /// A line on stderr, above the bar when there is one.
    fn err_line(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// A line of the command's listing on stdout, around the bar.
    pub(crate) fn line(&self, text: &str) {
        self.entry_line(text);
    }

    /// An entry line (`-v`, `-i`): stdout, or stderr with `--json`.
    fn entry_line(&self, text: &str) {
        let text = crate::escape::for_terminal(text);
        if self.output.json {
            return self.err_line(&text);
        }
        let print = || {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        };
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// `-v` and `-i` lines, and the log, for an entry that changed.
    fn changed(&self, code: &str, path: &RelPath, kind: FileKind) {
        let name = shown(path, kind);
        if let Some(log) = &self.log {
            log.line(&format!("{code} {name}"));
        }
        if self.output.itemize {
            self.entry_line(&format!("{code} {name}"));
        } else if self.output.verbose {
            match code {
                "*deleting" => self.entry_line(&format!("deleting {name}")),
                _ => self.entry_line(&name),
            }
        }
    }
}

fn spawn_ticker(
    bar: ProgressBar,
    counters: Arc<Counters>,
    meter: Arc<Mutex<Meter>>,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Relaxed) {
            let snapshot = counters.snapshot();
            let mut meter = meter.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let line = meter.line(&snapshot, Instant::now(), started.elapsed(), progress_line::width());
            drop(meter);
            bar.set_message(line);
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

/// An entry's name as printed: a directory ends with `/`.
fn shown(path: &RelPath, kind: FileKind) -> String {
    match kind {
        FileKind::Dir => format!("{path}/"),
        _ => path.to_string(),
    }
}

/// rsync's itemize code for an entry that landed (or would).
fn code(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => ">f",
        FileKind::Dir => "cd",
        FileKind::Symlink => "cL",
    }
}

/// One event as a JSON object with the schema version (and `path_b64`
/// when its path is not UTF-8).
pub(crate) fn event_json(event: &ProgressEvent) -> String {
    let mut v = match event {
        ProgressEvent::Finished { summary } => {
            serde_json::json!({"event": "finished", "summary": report::json(summary)})
        }
        _ => serde_json::to_value(event).unwrap_or_default(),
    };
    if let Some(path) = event.path() {
        names::add_b64(&mut v, path);
    }
    if let Some(obj) = v.as_object_mut() {
        obj.insert("schema".into(), report::JSON_SCHEMA.into());
    }
    v.to_string()
}

impl ProgressSink for Renderer {
    fn emit(&self, event: ProgressEvent) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_event_ms.fetch_max(now, Relaxed);
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
                self.changed(code(*kind), path, *kind);
            }
            ProgressEvent::Planned { path, kind, .. } => self.changed(code(*kind), path, *kind),
            ProgressEvent::Deleted { path, kind } => self.changed("*deleting", path, *kind),
            ProgressEvent::FileFailed { path, message, .. } => {
                if let Ok(mut printed) = self.printed.lock() {
                    if printed.len() == FAILURES_KEPT {
                        printed.pop_front();
                    }
                    printed.push_back(message.clone());
                }
                let text = failure_text(path, message);
                if let Some(log) = &self.log {
                    log.line(&format!("failed: {text}"));
                }
                self.err_line(&format!("blit: failed: {}", crate::escape::for_terminal(&text)));
            }
            // Once per transfer and kind of trouble: printed even without -v.
            ProgressEvent::Warning { message } => {
                if let Some(log) = &self.log {
                    log.line(&format!("warning: {message}"));
                }
                if !self.output.quiet {
                    self.err_line(&format!("blit: warning: {}", crate::escape::for_terminal(message)));
                }
            }
            ProgressEvent::DeletionsSkipped { count, reason } => {
                let text = format!("{} skipped: {reason}", report::count(*count, "deletion", "deletions"));
                if let Some(log) = &self.log {
                    log.line(&format!("warning: {text}"));
                }
                self.err_line(&format!("blit: warning: {}", crate::escape::for_terminal(&text)));
            }
            _ => {}
        }
        if self.output.progress && self.output.json {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", event_json(&event));
        }
    }
}

/// `path: message`, or only the message when it already starts with the
/// path (errors carry the path they concern).
pub(crate) fn failure_text(path: &RelPath, message: &str) -> String {
    if path.is_root() && !message.is_empty() {
        // The root (a single file) is named by the message itself, by its
        // full path, never as `.`.
        return message.to_owned();
    }
    let shown = path.to_string();
    match message.strip_prefix(shown.as_str()) {
        Some(rest) if rest.starts_with(": ") => message.to_owned(),
        _ => format!("{shown}: {message}"),
    }
}

#[cfg(test)]
mod tests;
