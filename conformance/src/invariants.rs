//! The event-order rules every transfer must keep, checked one by one so a
//! failure names the rule it broke (see [`crate::rules`]).

use crate::failure::{rules, show_path, Failure};
use blit_api::{Direction, Error, FileKind, ProgressEvent, TransferSummary};
use std::collections::HashMap;

/// What the events of one transfer are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The direction the transfer was asked to run.
    pub direction: Direction,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// What the transfer returned.
    pub result: Result<&'a TransferSummary, &'a Error>,
    /// Entries and file bytes of the source tree when the walk began.
    pub source: (u64, u64),
}

/// Checks every rule in a fixed order and returns the first broken one.
pub fn check(events: &[ProgressEvent], expected: &Expected<'_>) -> Result<(), Failure> {
    one_start_first(events)?;
    nothing_after_terminal(events)?;
    one_terminal_last(events)?;
    start_matches_request(events, expected)?;
    terminal_matches_result(events, expected)?;
    per_file(events)?;
    // A transfer that stopped on a fatal error legitimately leaves needed
    // files unsent; then the error itself (`transfer-completes`) is the
    // finding, not the byte totals.
    if expected.result.is_ok() {
        bytes_match_need_list(events)?;
        manifest_matches_source(events, expected.source)?;
        summary_matches_events(events)?;
    }
    Ok(())
}

fn broken(rule: &str, events: &[ProgressEvent], at: usize, what: String) -> Failure {
    let from = at.saturating_sub(3);
    let to = (at + 4).min(events.len());
    let mut msg = format!("{what}\n    events {from}..{to} of {}:", events.len());
    for (i, e) in events.iter().enumerate().take(to).skip(from) {
        let mark = if i == at { ">" } else { " " };
        msg.push_str(&format!("\n    {mark}{i:>5}  {e:?}"));
    }
    Failure::new(rule, msg)
}

fn one_start_first(events: &[ProgressEvent]) -> Result<(), Failure> {
    if !matches!(events.first(), Some(ProgressEvent::Started { .. })) {
        return Err(Failure::new(
            rules::ONE_START_FIRST,
            format!("the first event is {:?}, not Started", events.first()),
        ));
    }
    if let Some(i) = events.iter().skip(1).position(|e| matches!(e, ProgressEvent::Started { .. })) {
        return Err(broken(rules::ONE_START_FIRST, events, i + 1, "a second Started event".into()));
    }
    Ok(())
}

fn nothing_after_terminal(events: &[ProgressEvent]) -> Result<(), Failure> {
    match events.iter().position(ProgressEvent::is_terminal) {
        Some(t) if t + 1 < events.len() => Err(broken(
            rules::NOTHING_AFTER_TERMINAL,
            events,
            t + 1,
            format!("{} event(s) follow the terminal event at {t}", events.len() - t - 1),
        )),
        _ => Ok(()),
    }
}

fn one_terminal_last(events: &[ProgressEvent]) -> Result<(), Failure> {
    let n = events.iter().filter(|e| e.is_terminal()).count();
    let last_is_terminal = events.last().is_some_and(ProgressEvent::is_terminal);
    if n == 1 && last_is_terminal {
        Ok(())
    } else {
        Err(Failure::new(
            rules::ONE_TERMINAL_LAST,
            format!("{n} terminal event(s); the last of {} events is {:?}", events.len(), events.last()),
        ))
    }
}

fn start_matches_request(events: &[ProgressEvent], expected: &Expected<'_>) -> Result<(), Failure> {
    if let Some(ProgressEvent::Started { direction, dry_run, .. }) = events.first() {
        if *direction != expected.direction || *dry_run != expected.dry_run {
            return Err(Failure::new(
                rules::START_MATCHES_REQUEST,
                format!(
                    "Started says direction={direction} dry_run={dry_run}; the request was direction={} dry_run={}",
                    expected.direction, expected.dry_run
                ),
            ));
        }
    }
    Ok(())
}

fn terminal_matches_result(events: &[ProgressEvent], expected: &Expected<'_>) -> Result<(), Failure> {
    let rule = rules::TERMINAL_MATCHES_RESULT;
    match (events.last(), expected.result) {
        (Some(ProgressEvent::Finished { summary }), Ok(returned)) => {
            let same = TransferSummary { elapsed_secs: returned.elapsed_secs, ..(**summary).clone() };
            if &same != returned {
                return Err(Failure::new(
                    rule,
                    format!("Finished carries {summary:?}\n    but the transfer returned {returned:?}"),
                ));
            }
            if summary.direction != Some(expected.direction) || summary.dry_run != expected.dry_run {
                return Err(Failure::new(
                    rule,
                    format!("the summary says direction={:?} dry_run={}", summary.direction, summary.dry_run),
                ));
            }
            Ok(())
        }
        (Some(ProgressEvent::Failed { kind, .. }), Err(e)) if *kind == e.kind() => Ok(()),
        (last, Ok(_)) => Err(Failure::new(rule, format!("the transfer succeeded but its last event is {last:?}"))),
        (last, Err(e)) => {
            Err(Failure::new(rule, format!("the transfer failed ({}: {e}) but its last event is {last:?}", e.kind())))
        }
    }
}

/// Per-path state while walking the log.
struct Open {
    kind: FileKind,
    size: u64,
    bytes: u64,
    /// Kept from a partial copy (`FileResumed`).
    reused: u64,
}

/// `files-end-once`, `bytes-inside-file` and `bytes-match-size` in one pass.
fn per_file(events: &[ProgressEvent]) -> Result<(), Failure> {
    let mut open: HashMap<&[u8], Open> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let fail = |rule: &str, what: String| Err(broken(rule, events, i, what));
        match e {
            ProgressEvent::FileStarted { path, kind, size } => {
                let o = Open { kind: *kind, size: *size, bytes: 0, reused: 0 };
                if open.insert(path.as_bytes(), o).is_some() {
                    return fail(
                        rules::FILES_END_ONCE,
                        format!("{} started again before it ended", show_path(path.as_bytes())),
                    );
                }
            }
            ProgressEvent::FileBytes { path, bytes, .. } => match open.get_mut(path.as_bytes()) {
                None => {
                    return fail(
                        rules::BYTES_INSIDE_FILE,
                        format!(
                            "{bytes} bytes for {}, which is not between its start and its end",
                            show_path(path.as_bytes())
                        ),
                    )
                }
                Some(o) => o.bytes += bytes,
            },
            ProgressEvent::FileResumed { path, bytes } => match open.get_mut(path.as_bytes()) {
                Some(o) if o.kind == FileKind::File && o.bytes == 0 && o.reused == 0 && *bytes <= o.size => {
                    o.reused = *bytes
                }
                _ => {
                    return fail(
                        rules::BYTES_INSIDE_FILE,
                        format!(
                            "{} resumed with {bytes} bytes kept, not right after its start or beyond its size",
                            show_path(path.as_bytes())
                        ),
                    )
                }
            },
            ProgressEvent::FileDone { path, kind, bytes } => {
                let Some(o) = open.remove(path.as_bytes()) else {
                    return fail(
                        rules::FILES_END_ONCE,
                        format!("{} done without a start (or done twice)", show_path(path.as_bytes())),
                    );
                };
                let ok = match o.kind {
                    FileKind::File => o.bytes == *bytes && *bytes + o.reused == o.size,
                    FileKind::Dir | FileKind::Symlink => o.bytes == 0 && *bytes == 0,
                };
                if !ok || *kind != o.kind {
                    return fail(
                        rules::BYTES_MATCH_SIZE,
                        format!(
                            "{}: started as {:?} of {} bytes, {} bytes recorded, done as {kind:?} with {bytes} bytes",
                            show_path(path.as_bytes()),
                            o.kind,
                            o.size,
                            o.bytes
                        ),
                    );
                }
            }
            ProgressEvent::FileFailed { path, .. } => {
                let Some(o) = open.remove(path.as_bytes()) else {
                    return fail(
                        rules::FILES_END_ONCE,
                        format!("{} failed without a start (or ended twice)", show_path(path.as_bytes())),
                    );
                };
                if o.bytes + o.reused > o.size {
                    return fail(
                        rules::BYTES_MATCH_SIZE,
                        format!(
                            "{}: {} bytes recorded, more than the {} announced",
                            show_path(path.as_bytes()),
                            o.bytes,
                            o.size
                        ),
                    );
                }
            }
            e if e.is_terminal() && !open.is_empty() => {
                let mut names: Vec<String> = open.keys().map(|p| show_path(p)).collect();
                names.sort();
                names.truncate(10);
                return fail(
                    rules::FILES_END_ONCE,
                    format!("{} file(s) never ended: {}", open.len(), names.join(", ")),
                );
            }
            _ => {}
        }
    }
    Ok(())
}

fn bytes_match_need_list(events: &[ProgressEvent]) -> Result<(), Failure> {
    let (mut need_files, mut need_bytes) = (0u64, 0u64);
    let (mut done_files, mut done_bytes, mut started_files, mut failed) = (0u64, 0u64, 0u64, 0u64);
    // Bytes kept from partial copies count as landed once their file is done.
    let mut resumed: HashMap<&[u8], u64> = HashMap::new();
    for e in events {
        match e {
            ProgressEvent::FileResumed { path, bytes } => {
                resumed.insert(path.as_bytes(), *bytes);
            }
            ProgressEvent::NeedBatch { files, bytes } => {
                (need_files, need_bytes) = (need_files + files, need_bytes + bytes)
            }
            ProgressEvent::FileStarted { kind: FileKind::File, .. } => started_files += 1,
            ProgressEvent::FileDone { kind: FileKind::File, bytes, path } => {
                let kept = resumed.remove(path.as_bytes()).unwrap_or(0);
                (done_files, done_bytes) = (done_files + 1, done_bytes + bytes + kept)
            }
            ProgressEvent::FileFailed { .. } => failed += 1,
            _ => {}
        }
    }
    // Without failures every needed file lands; with failures some needed
    // files end failed and some failures were never needed.
    let ok = if failed == 0 {
        need_files == done_files && need_bytes == done_bytes
    } else {
        done_files <= need_files && need_files <= started_files
    };
    if ok {
        return Ok(());
    }
    Err(Failure::new(
        rules::BYTES_MATCH_NEED_LIST,
        format!(
            "need batches total {need_files} files / {need_bytes} bytes; {done_files} files / {done_bytes} bytes landed, \
             {started_files} files started, {failed} failures"
        ),
    ))
}

fn manifest_matches_source(events: &[ProgressEvent], (entries, bytes): (u64, u64)) -> Result<(), Failure> {
    let rule = rules::MANIFEST_MATCHES_SOURCE;
    let mut last = (0u64, 0u64);
    let mut complete = Vec::new();
    for (i, e) in events.iter().enumerate() {
        match e {
            ProgressEvent::ManifestProgress { entries, bytes } => {
                if *entries < last.0 || *bytes < last.1 {
                    return Err(broken(rule, events, i, "manifest progress shrank".into()));
                }
                last = (*entries, *bytes);
            }
            ProgressEvent::ManifestComplete { entries, bytes, .. } => complete.push((i, *entries, *bytes)),
            _ => {}
        }
    }
    match complete[..] {
        [(_, e, b)] if e == entries && b == bytes && last.0 <= e && last.1 <= b => Ok(()),
        [(i, e, b)] => Err(broken(
            rule,
            events,
            i,
            format!(
                "the manifest counted {e} entries / {b} bytes (progress reached {} / {}); \
                 the source holds {entries} entries / {bytes} bytes",
                last.0, last.1
            ),
        )),
        _ => Err(Failure::new(rule, format!("{} ManifestComplete events, expected exactly one", complete.len()))),
    }
}

fn summary_matches_events(events: &[ProgressEvent]) -> Result<(), Failure> {
    let Some(ProgressEvent::Finished { summary }) = events.last() else { return Ok(()) };
    let mut counted = TransferSummary { ..TransferSummary::default() };
    let mut failures = Vec::new();
    let mut resumed: HashMap<&[u8], u64> = HashMap::new();
    for e in events {
        match e {
            ProgressEvent::FileResumed { path, bytes } => {
                resumed.insert(path.as_bytes(), *bytes);
            }
            ProgressEvent::FileDone { bytes, path, kind } => {
                counted.bytes_reused += resumed.remove(path.as_bytes()).unwrap_or(0);
                counted.count(*kind);
                counted.bytes_transferred += bytes;
            }
            ProgressEvent::Planned { size, kind, .. } => {
                counted.count(*kind);
                counted.bytes_transferred += size;
            }
            ProgressEvent::Deleted { .. } => counted.deleted += 1,
            ProgressEvent::ManifestComplete { entries, .. } => counted.entries_scanned = *entries,
            ProgressEvent::FileFailed { path, kind, .. } => failures.push((path.as_bytes().to_vec(), *kind)),
            _ => {}
        }
    }
    let mut reported: Vec<_> = summary.failures.iter().map(|f| (f.path.as_bytes().to_vec(), f.kind)).collect();
    failures.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.as_str().cmp(b.1.as_str())));
    reported.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.as_str().cmp(b.1.as_str())));
    let fields = |s: &TransferSummary| {
        let kinds = (s.files_transferred, s.dirs_transferred, s.symlinks_transferred);
        (s.entries_scanned, s.entries_transferred, kinds, s.bytes_transferred, s.bytes_reused, s.deleted)
    };
    if fields(&counted) == fields(summary) && failures == reported {
        return Ok(());
    }
    Err(Failure::new(
        rules::SUMMARY_MATCHES_EVENTS,
        format!(
            "the summary says (scanned, entries, (files, dirs, symlinks), bytes, reused, deleted) = {:?} with {} failure(s); \
             the events count {:?} with {} failure(s)",
            fields(summary),
            reported.len(),
            fields(&counted),
            failures.len()
        ),
    ))
}

#[cfg(test)]
mod tests;
