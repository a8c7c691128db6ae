//! `blit check SRC DST`: compares two trees by content (BLAKE3) without
//! copying anything, in every direction a copy can run (local, a daemon,
//! over ssh), and names each difference.
//!
//! It is the engine's own dry run of `mirror --checksum`: the source
//! hashes each file it walks, the destination's judge hashes its copy of
//! each file of the same size, and what the dry run would send (`Planned`)
//! or delete (`Deleted`) is the difference:
//!
//! - `differs PATH`: both have it, with other content (or another kind, or
//!   a symlink with another target);
//! - `missing PATH`: SRC has it, DST does not;
//! - `extra PATH`: DST has it, SRC does not (reported only when the whole
//!   source was read, as mirror deletes only then).
//!
//! SRC and DST are compared as they are named (`blit check photos
//! backup/photos` compares the two directories; no trailing-slash rule).
//! Modes, times and owners are not compared. Exit codes: 0 the trees hold
//! the same content; 3 they differ; 2 some entries could not be compared
//! (each is named), which wins over 3; 1 a fatal error; 64 a command-line
//! error.

use crate::render::{Output, Renderer};
use crate::{names, report, transfer, TransferArgs, EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE};
use blit_api::{FileKind, ProgressEvent, ProgressSink, RelPath, TransferSummary};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Exit code of `blit check`: the trees differ.
pub const EXIT_DIFFER: u8 = 3;

/// Runs `blit check` and returns the exit code.
pub(crate) fn run(mut args: TransferArgs) -> u8 {
    if args.src.len() > 1 {
        eprintln!("blit: check compares one source with one destination");
        return EXIT_USAGE;
    }
    args.src = args.src.iter().map(|src| itself(src)).collect();
    // The differences are the listing: no per-entry lines of a copy.
    let output = Output { verbose: false, itemize: false, stats: false, ..Output::from_args(&args) };
    let renderer = match Renderer::new(&output) {
        Ok(renderer) => renderer,
        Err(e) => {
            eprintln!("blit: error: {}", crate::escape::for_terminal(&e.to_string()));
            return EXIT_FATAL;
        }
    };
    if let Err(e) = transfer::endpoints(&args) {
        renderer.fatal(&e);
        renderer.close();
        return EXIT_USAGE;
    }
    let found = Arc::new(Differences { renderer: renderer.clone(), json: args.json, counts: Default::default() });
    let started = std::time::Instant::now();
    let result = transfer::options(&args, true).and_then(|options| {
        // Nothing is written: no backups, links or deletion limits apply.
        let options = options.dry_run(true).checksum(true).max_delete(None).backup(false, None, None).link_dest(None);
        transfer::execute(&args, options, found.clone(), &renderer).map(|(summary, _)| summary)
    });
    renderer.close();
    match result {
        Ok(mut summary) => {
            summary.elapsed_secs = started.elapsed().as_secs_f64();
            found.finish(&summary, args.quiet)
        }
        Err(e) => {
            renderer.fatal(&e);
            EXIT_FATAL
        }
    }
}

/// SRC as a copy's source that lands on DST itself: a directory (or any
/// remote path) with a trailing `/`, so `blit check a b` compares `a` with
/// `b`, not with `b/a`. A remote file with one is still that file.
fn itself(src: &std::ffi::OsStr) -> std::ffi::OsString {
    let mut src = src.to_os_string();
    let remote = matches!(crate::remote::parse(&src), Ok(Some(_)));
    let is_dir = std::fs::metadata(&src).is_ok_and(|m| m.is_dir());
    // `HOST:` (the home over ssh) already names a directory's contents.
    let bare_host = src.as_encoded_bytes().ends_with(b":");
    if (remote || is_dir) && !bare_host && !crate::endpoints::ends_with_slash(&src) {
        src.push("/");
    }
    src
}

/// What kind of difference.
#[derive(Debug, Clone, Copy)]
enum Difference {
    Differs,
    Missing,
    Extra,
}

impl Difference {
    fn word(self) -> &'static str {
        match self {
            Difference::Differs => "differs",
            Difference::Missing => "missing",
            Difference::Extra => "extra",
        }
    }
}

/// Prints each difference as it is found and counts them; every other
/// event goes to the renderer (the bar, failures, warnings).
struct Differences {
    renderer: Arc<Renderer>,
    json: bool,
    /// Differs, missing, extra.
    counts: [AtomicU64; 3],
}

impl Differences {
    fn found(&self, what: Difference, path: &RelPath, kind: FileKind) {
        self.counts[what as usize].fetch_add(1, Relaxed);
        if self.json {
            let mut v = serde_json::json!({
                "schema": report::JSON_SCHEMA, "difference": what.word(), "path": path, "kind": kind,
            });
            names::add_b64(&mut v, path);
            let _ = writeln!(std::io::stdout().lock(), "{v}");
        } else {
            let name = if kind == FileKind::Dir { format!("{path}/") } else { path.to_string() };
            self.renderer.line(&format!("{} {name}", what.word()));
        }
    }

    /// Says what was found and returns the exit code.
    fn finish(&self, summary: &TransferSummary, quiet: bool) -> u8 {
        let [differs, missing, extra] = [0, 1, 2].map(|i| self.counts[i].load(Relaxed));
        let total = differs + missing + extra;
        let failed = summary.failures.len() as u64;
        if self.json {
            let v = serde_json::json!({
                "schema": report::JSON_SCHEMA, "same": total == 0 && failed == 0,
                "differs": differs, "missing": missing, "extra": extra,
                "entries_compared": summary.entries_scanned, "failures": failed,
                "elapsed_secs": summary.elapsed_secs,
            });
            let _ = writeln!(std::io::stdout().lock(), "{v}");
        } else if !quiet {
            let compared = report::count(summary.entries_scanned, "entry", "entries");
            let line = match total {
                0 => format!("blit: check: no differences among {compared}"),
                _ => format!(
                    "blit: check: {} ({differs} differ, {missing} missing from DST, {extra} only in DST) among {compared}",
                    report::count(total, "difference", "differences"),
                ),
            };
            eprintln!("{line}");
        }
        if failed > 0 {
            eprintln!("blit: {} could not be compared; each is named above", report::count(failed, "entry", "entries"));
            EXIT_PARTIAL
        } else if total > 0 {
            EXIT_DIFFER
        } else {
            EXIT_OK
        }
    }
}

impl ProgressSink for Differences {
    fn emit(&self, event: ProgressEvent) {
        match &event {
            ProgressEvent::Planned { path, kind, new, .. } => {
                let what = if *new { Difference::Missing } else { Difference::Differs };
                self.found(what, path, *kind);
            }
            ProgressEvent::Deleted { path, kind } => self.found(Difference::Extra, path, *kind),
            _ => {}
        }
        self.renderer.emit(event);
    }
}
