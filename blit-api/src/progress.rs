//! One progress event stream for every direction and transport.

use crate::{Direction, Error, ErrorKind, FileKind, RelPath, TransferSummary};
use std::sync::{Arc, Mutex};

/// A progress event. The same enum, in the same order rules, whichever way the
/// bytes flow: `-p` and `-v` render these, `--json` serialises them, and the
/// conformance suite compares them across transports.
///
/// # Event order
///
/// `Started` comes first and exactly one terminal event (`Finished` or
/// `Failed`) comes last. Every `FileStarted` is followed, for the same path, by
/// at most one `FileResumed` (right after it), any number of `FileBytes` and
/// exactly one `FileDone` or `FileFailed`. Events
/// of different files interleave. `ManifestProgress` totals never shrink.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProgressEvent {
    /// The transfer began.
    Started {
        /// Which way the bytes flow.
        direction: Direction,
        /// Transport name.
        transport: String,
        /// Nothing will be changed.
        dry_run: bool,
    },
    /// Running totals of the manifest as the destination receives it.
    ManifestProgress {
        /// Entries seen so far.
        entries: u64,
        /// Bytes of regular files seen so far.
        bytes: u64,
    },
    /// A need batch was sent: the transfer total grows by these amounts.
    NeedBatch {
        /// Files in the batch.
        files: u64,
        /// Bytes in the batch.
        bytes: u64,
    },
    /// The manifest ended; `complete` is false if it broke off or had failures.
    ManifestComplete {
        /// Entries in the manifest.
        entries: u64,
        /// Bytes of regular files in the manifest.
        bytes: u64,
        /// Whether it ended cleanly (required for mirror deletions).
        complete: bool,
    },
    /// Dry run: this entry would be transferred.
    Planned {
        /// Entry path.
        path: RelPath,
        /// Entry kind.
        kind: FileKind,
        /// Size in bytes.
        size: u64,
        /// The destination holds nothing at this path (false: it holds
        /// something that differs, or a hard link would be made).
        #[serde(default)]
        new: bool,
    },
    /// An entry started landing.
    FileStarted {
        /// Entry path.
        path: RelPath,
        /// Entry kind.
        kind: FileKind,
        /// Size the header announced.
        size: u64,
    },
    /// Bytes of a file were written.
    FileBytes {
        /// File path.
        path: RelPath,
        /// Bytes in this step.
        bytes: u64,
        /// The kernel moved them without a user-space copy.
        zero_copy: bool,
    },
    /// A file is landing over the partial copy an interrupted run left
    /// (`--resume`): `bytes` of it stay as they are and are never sent, so
    /// its `FileBytes` add up to its size less these.
    FileResumed {
        /// File path.
        path: RelPath,
        /// Bytes kept from the partial copy.
        bytes: u64,
    },
    /// An entry landed under its final name.
    FileDone {
        /// Entry path.
        path: RelPath,
        /// Entry kind.
        kind: FileKind,
        /// Bytes written.
        bytes: u64,
    },
    /// With `remove_source` (`blit move`): a file or symlink is in place at
    /// the destination, landed now or already equal, as its header said:
    /// the source may remove it if it still has this kind, size and mtime.
    InPlace {
        /// Entry path.
        path: RelPath,
        /// Entry kind.
        kind: FileKind,
        /// Size the header announced.
        size: u64,
        /// Modification time the header announced (ns since the epoch).
        mtime_ns: i64,
    },
    /// An entry failed; the transfer goes on.
    FileFailed {
        /// Entry path.
        path: RelPath,
        /// What kind of failure.
        kind: ErrorKind,
        /// What happened and what to do.
        message: String,
    },
    /// Mirror removed an entry the source does not have (or would, in dry run).
    Deleted {
        /// Entry path.
        path: RelPath,
        /// Entry kind.
        kind: FileKind,
    },
    /// Mirror left entries the source lacks in place: `count` of them,
    /// because of `reason` (the source was not read completely, or
    /// `--max-delete` was reached). Sent once, at the end.
    DeletionsSkipped {
        /// How many deletions were not done.
        count: u64,
        /// Why.
        reason: String,
    },
    /// Something the destination could not keep, reported once per
    /// transfer and kind of trouble rather than per entry (for example
    /// ownership without the privilege to set it, or extended attributes
    /// the destination filesystem does not store). The entries still land.
    Warning {
        /// What was not kept, why, and what to do.
        message: String,
    },
    /// Terminal: the transfer ran to the end (per-file failures are listed).
    Finished {
        /// The result (boxed: it is far larger than every other event).
        summary: Box<TransferSummary>,
    },
    /// Terminal: the transfer stopped on a fatal error.
    Failed {
        /// What kind of failure.
        kind: ErrorKind,
        /// What happened and what to do.
        message: String,
    },
}

impl ProgressEvent {
    /// The path the event is about, if it is about one entry.
    pub fn path(&self) -> Option<&RelPath> {
        match self {
            ProgressEvent::Planned { path, .. }
            | ProgressEvent::FileStarted { path, .. }
            | ProgressEvent::FileBytes { path, .. }
            | ProgressEvent::FileResumed { path, .. }
            | ProgressEvent::FileDone { path, .. }
            | ProgressEvent::InPlace { path, .. }
            | ProgressEvent::FileFailed { path, .. }
            | ProgressEvent::Deleted { path, .. } => Some(path),
            _ => None,
        }
    }

    /// A `FileFailed` event for `path`.
    pub fn failed(path: &RelPath, error: &Error) -> Self {
        ProgressEvent::FileFailed { path: path.clone(), kind: error.kind(), message: error.to_string() }
    }

    /// Whether this event ends the stream.
    pub fn is_terminal(&self) -> bool {
        matches!(self, ProgressEvent::Finished { .. } | ProgressEvent::Failed { .. })
    }
}

/// Receives progress events. Called synchronously from the transfer's tasks
/// and threads: keep it cheap (update counters, push into a queue).
pub trait ProgressSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: ProgressEvent);
}

/// A shared event sink.
pub type Events = Arc<dyn ProgressSink>;

/// Discards every event.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl ProgressSink for NullSink {
    fn emit(&self, _event: ProgressEvent) {}
}

/// Keeps every event in order, for tests and the conformance suite.
#[derive(Debug, Default)]
pub struct RecordingSink {
    events: Mutex<Vec<ProgressEvent>>,
}

impl RecordingSink {
    /// An empty recorder.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A copy of the events so far.
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.events.lock().expect("recording sink lock is never poisoned").clone()
    }
}

impl ProgressSink for RecordingSink {
    fn emit(&self, event: ProgressEvent) {
        self.events.lock().expect("recording sink lock is never poisoned").push(event);
    }
}

impl<F: Fn(ProgressEvent) + Send + Sync> ProgressSink for F {
    fn emit(&self, event: ProgressEvent) {
        self(event)
    }
}
