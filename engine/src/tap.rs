//! Counting the event stream into a summary.

use blit_api::{Direction, Error, Events, FileFailure, ProgressEvent, ProgressSink, RelPath, TransferSummary};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Forwards every event to the user's sink and counts them into a
/// [`TransferSummary`]. It also owns the first and the last event: it emits
/// `Started` when created and exactly one terminal event.
pub struct SummaryTap {
    inner: Events,
    started: Instant,
    state: Mutex<TransferSummary>,
    /// Resumed files in flight and the bytes they keep: counted into
    /// `bytes_reused` only when the file lands.
    resumed: Mutex<HashMap<RelPath, u64>>,
    /// Whether `Started` went out.
    announced: AtomicBool,
}

/// What a remote session learned about its payload transport, for the
/// summary ([`SummaryTap::set_transport`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TransportReport {
    /// The transport that carried the payload (`tcp`, `grpc`, ...).
    pub transport: String,
    /// Payload streams used.
    pub streams: u32,
    /// Most bytes of file data per record.
    pub chunk_size: u64,
    /// `none` or `zstd:LEVEL`; empty when the transport does not compress.
    pub compression: String,
    /// How the above were chosen (`probe`, `pinned`, `default`).
    pub tuning: String,
    /// Why the session fell back from the transport it asked for.
    pub fallback: Option<String>,
    /// Bytes of the payload that crossed the network; `None` when the
    /// transport does not go over one.
    pub wire_bytes: Option<u64>,
}

impl TransportReport {
    /// A report naming only the transport.
    pub fn new(transport: impl Into<String>) -> Self {
        TransportReport { transport: transport.into(), ..TransportReport::default() }
    }
}

impl std::fmt::Debug for SummaryTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SummaryTap").finish_non_exhaustive()
    }
}

impl SummaryTap {
    /// Emits `Started` and returns the tap to hand to the roles.
    pub fn start(inner: Events, direction: Direction, transport: &str, dry_run: bool) -> Arc<Self> {
        let tap = Self::pending(inner, direction, transport, dry_run);
        tap.announce(transport);
        tap
    }

    /// A tap whose `Started` waits until the transport is known: a remote
    /// session negotiates it, and may fall back from the `planned` one.
    /// [`announce`](Self::announce) emits it; any event, `finish` or `fail`
    /// before that emits it with `planned`, so `Started` always comes first.
    pub fn pending(inner: Events, direction: Direction, planned: &str, dry_run: bool) -> Arc<Self> {
        let summary = TransferSummary {
            direction: Some(direction),
            transport: planned.to_owned(),
            dry_run,
            ..TransferSummary::default()
        };
        Arc::new(SummaryTap {
            inner,
            started: Instant::now(),
            state: Mutex::new(summary),
            resumed: Mutex::default(),
            announced: AtomicBool::new(false),
        })
    }

    /// Emits `Started` naming `transport` (the one that carries the
    /// payload), unless it went out already.
    pub fn announce(&self, transport: &str) {
        if self.announced.swap(true, Ordering::AcqRel) {
            return;
        }
        let (direction, dry_run) = {
            let mut s = self.lock();
            s.transport = transport.to_owned();
            (s.direction.unwrap_or(Direction::Local), s.dry_run)
        };
        self.inner.emit(ProgressEvent::Started { direction, transport: transport.to_owned(), dry_run });
    }

    /// `Started` with the planned transport, if nothing announced one yet.
    fn announce_planned(&self) {
        if !self.announced.load(Ordering::Acquire) {
            let planned = self.lock().transport.clone();
            self.announce(&planned);
        }
    }

    /// Records what the payload transport reported (call it before
    /// [`finish`](Self::finish)); the summary carries it.
    pub fn set_transport(&self, report: &TransportReport) {
        let mut s = self.lock();
        if !report.transport.is_empty() {
            s.transport = report.transport.clone();
        }
        s.streams = report.streams;
        s.chunk_size = report.chunk_size;
        s.compression = report.compression.clone();
        s.tuning = report.tuning.clone();
        s.fallback = report.fallback.clone();
        s.wire_bytes = report.wire_bytes;
    }

    /// Emits `Finished` with the summary and returns it.
    pub fn finish(&self) -> TransferSummary {
        self.announce_planned();
        let mut summary = self.lock().clone();
        summary.elapsed_secs = self.started.elapsed().as_secs_f64();
        self.inner.emit(ProgressEvent::Finished { summary: Box::new(summary.clone()) });
        summary
    }

    /// Emits `Failed` for a fatal error.
    pub fn fail(&self, error: &Error) {
        self.announce_planned();
        self.inner.emit(ProgressEvent::Failed { kind: error.kind(), message: error.to_string() });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TransferSummary> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ProgressSink for SummaryTap {
    fn emit(&self, event: ProgressEvent) {
        self.announce_planned();
        {
            let mut s = self.lock();
            match &event {
                ProgressEvent::FileDone { path, bytes, kind } => {
                    s.count(*kind);
                    s.bytes_transferred += bytes;
                    if let Some(reused) = self.resumed.lock().unwrap_or_else(|p| p.into_inner()).remove(path) {
                        s.bytes_reused += reused;
                    }
                }
                ProgressEvent::FileResumed { path, bytes } => {
                    self.resumed.lock().unwrap_or_else(|p| p.into_inner()).insert(path.clone(), *bytes);
                }
                // A dry run counts what it would transfer.
                ProgressEvent::Planned { size, kind, .. } => {
                    s.count(*kind);
                    s.bytes_transferred += size;
                }
                ProgressEvent::FileBytes { bytes, zero_copy, .. } => {
                    if *zero_copy {
                        s.zero_copy_bytes += bytes;
                    }
                    if s.first_byte_secs.is_none() && *bytes > 0 {
                        s.first_byte_secs = Some(self.started.elapsed().as_secs_f64());
                    }
                }
                ProgressEvent::FileFailed { path, kind, message } => {
                    self.resumed.lock().unwrap_or_else(|p| p.into_inner()).remove(path);
                    s.failures.push(FileFailure { path: path.clone(), kind: *kind, message: message.clone() })
                }
                ProgressEvent::Deleted { .. } => s.deleted += 1,
                ProgressEvent::DeletionsSkipped { count, reason } => {
                    s.deletions_skipped += count;
                    s.deletions_skipped_reason = Some(reason.clone());
                }
                ProgressEvent::ManifestComplete { entries, .. } => s.entries_scanned = *entries,
                _ => {}
            }
        }
        self.inner.emit(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::RecordingSink;

    fn started(events: &[ProgressEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                ProgressEvent::Started { transport, .. } => Some(transport.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn started_names_the_announced_transport_once_and_comes_first() {
        let sink = RecordingSink::new();
        let tap = SummaryTap::pending(sink.clone(), Direction::Push, "tcp", false);
        assert!(sink.events().is_empty(), "nothing before the transport is known");
        tap.announce("grpc");
        tap.announce("tcp");
        tap.emit(ProgressEvent::Deleted { path: RelPath::root(), kind: blit_api::FileKind::File });
        let summary = tap.finish();
        assert_eq!(started(&sink.events()), ["grpc"]);
        assert_eq!(summary.transport, "grpc");
        assert_eq!(summary.deleted, 1);
    }

    #[test]
    fn an_unannounced_tap_starts_with_the_planned_transport() {
        let sink = RecordingSink::new();
        let tap = SummaryTap::pending(sink.clone(), Direction::Pull, "tcp", true);
        tap.fail(&Error::new(blit_api::ErrorKind::Io, "unreachable"));
        let events = sink.events();
        assert_eq!(started(&events), ["tcp"]);
        assert!(matches!(events.first(), Some(ProgressEvent::Started { dry_run: true, .. })));
        assert!(matches!(events.last(), Some(ProgressEvent::Failed { .. })));
    }
}
