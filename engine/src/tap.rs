//! Counting the event stream into a summary.

use blit_api::{Direction, Error, Events, FileFailure, ProgressEvent, ProgressSink, TransferSummary};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Forwards every event to the user's sink and counts them into a
/// [`TransferSummary`]. It also owns the first and the last event: it emits
/// `Started` when created and exactly one terminal event.
pub struct SummaryTap {
    inner: Events,
    started: Instant,
    state: Mutex<TransferSummary>,
}

impl std::fmt::Debug for SummaryTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SummaryTap").finish_non_exhaustive()
    }
}

impl SummaryTap {
    /// Emits `Started` and returns the tap to hand to the roles.
    pub fn start(inner: Events, direction: Direction, transport: &str, dry_run: bool) -> Arc<Self> {
        inner.emit(ProgressEvent::Started { direction, transport: transport.to_owned(), dry_run });
        let summary = TransferSummary {
            direction: Some(direction),
            transport: transport.to_owned(),
            dry_run,
            ..TransferSummary::default()
        };
        Arc::new(SummaryTap { inner, started: Instant::now(), state: Mutex::new(summary) })
    }

    /// Emits `Finished` with the summary and returns it.
    pub fn finish(&self) -> TransferSummary {
        let mut summary = self.lock().clone();
        summary.elapsed_secs = self.started.elapsed().as_secs_f64();
        self.inner.emit(ProgressEvent::Finished { summary: summary.clone() });
        summary
    }

    /// Emits `Failed` for a fatal error.
    pub fn fail(&self, error: &Error) {
        self.inner.emit(ProgressEvent::Failed { kind: error.kind(), message: error.to_string() });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TransferSummary> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ProgressSink for SummaryTap {
    fn emit(&self, event: ProgressEvent) {
        {
            let mut s = self.lock();
            match &event {
                ProgressEvent::FileDone { bytes, .. } => {
                    s.files_transferred += 1;
                    s.bytes_transferred += bytes;
                }
                // A dry run counts what it would transfer.
                ProgressEvent::Planned { size, .. } => {
                    s.files_transferred += 1;
                    s.bytes_transferred += size;
                }
                ProgressEvent::FileBytes { bytes, zero_copy: true, .. } => s.zero_copy_bytes += bytes,
                ProgressEvent::FileFailed { path, kind, message } => {
                    s.failures.push(FileFailure { path: path.clone(), kind: *kind, message: message.clone() })
                }
                ProgressEvent::Deleted { .. } => s.deleted += 1,
                ProgressEvent::ManifestComplete { entries, .. } => s.entries_scanned = *entries,
                _ => {}
            }
        }
        self.inner.emit(event);
    }
}
