//! What a transport provides to the suite: a [`Harness`] that opens a
//! [`Pair`] of endpoints per trial and runs transfers through it.
//!
//! # Design
//!
//! The suite only ever names local paths: every trial gets a fresh temporary
//! root, builds its source below it and asks for transfers from a source
//! path to a destination path, both below that root. A harness decides where
//! each role runs. The local harness runs both in this process; a push
//! harness starts a daemon on `127.0.0.1:0` in [`Harness::pair`] whose module
//! is the trial root and maps the destination path into it; a pull harness
//! does the same for the source. Nothing in a case changes with the
//! direction, which is what lets a new transport reuse every case.
//!
//! A [`Pair`] lives for one trial (one pass of one case), inside that trial's
//! tokio runtime, and is closed at its end even when the case failed, so a
//! daemon never outlives its runtime.

use blit_api::{
    Capabilities, Direction, DirectionSet, Events, ManifestSource, Result, TransferOptions, TransferSummary,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Wraps the source role of a transfer, wherever it runs. Cases use it to act
/// at a precise point of the walk (for instance to remove a file right after
/// its header was produced), deterministically and without sleeps.
pub type SourceHook = Arc<dyn Fn(Arc<dyn ManifestSource>) -> Arc<dyn ManifestSource> + Send + Sync>;

/// One transfer a case asks for.
#[derive(Clone)]
#[non_exhaustive]
pub struct TransferRequest {
    /// Which way the bytes flow (one of the harness's directions).
    pub direction: Direction,
    /// The source root: a directory, a file or a symlink, below the trial root.
    pub source: PathBuf,
    /// Where the source root lands, below the trial root (it may not exist).
    pub destination: PathBuf,
    /// What the user asked for.
    pub options: TransferOptions,
    /// Where every progress event goes, in order. The harness must deliver
    /// the events of the side that reports them (the destination's events,
    /// relayed for a push) so that they arrive here before `transfer` returns.
    pub events: Events,
    /// Wraps the source's [`ManifestSource`] when set; the harness must apply
    /// it to the source role, on whichever side that role runs.
    pub source_hook: Option<SourceHook>,
}

impl std::fmt::Debug for TransferRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferRequest")
            .field("direction", &self.direction)
            .field("source", &self.source)
            .field("destination", &self.destination)
            .field("options", &self.options)
            .field("source_hook", &self.source_hook.is_some())
            .finish_non_exhaustive()
    }
}

impl TransferRequest {
    /// A request with no source hook.
    pub fn new(
        direction: Direction,
        source: PathBuf,
        destination: PathBuf,
        options: TransferOptions,
        events: Events,
    ) -> Self {
        TransferRequest { direction, source, destination, options, events, source_hook: None }
    }
}

/// A case that is known to fail for a harness: it runs as an ignored trial
/// (`--include-ignored` runs it), with the reason in the trial's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFailure {
    /// The case id (see [`crate::catalogue`]).
    pub case: String,
    /// Only in this direction; `None` means every direction.
    pub direction: Option<Direction>,
    /// Why, ideally with an issue link.
    pub reason: String,
}

impl KnownFailure {
    /// `case` fails in every direction, for `reason`.
    pub fn new(case: impl Into<String>, reason: impl Into<String>) -> Self {
        KnownFailure { case: case.into(), direction: None, reason: reason.into() }
    }

    /// Restricts the known failure to one direction.
    pub fn in_direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// Whether this entry covers `case` in `direction`.
    pub fn covers(&self, case: &str, direction: Direction) -> bool {
        self.case == case && self.direction.is_none_or(|d| d == direction)
    }
}

/// A transport under test, as the suite sees it.
///
/// # Contract
///
/// [`directions`](Self::directions) lists the directions the harness can
/// run; the suite creates trials only for those. [`capabilities`](Self::capabilities)
/// says what the transport supports; a case that needs an unsupported
/// capability is reported as an ignored trial with the reason. [`pair`](Self::pair)
/// is called once per trial pass with a fresh, empty temporary root.
///
/// # Implementing
///
/// Most transports need not implement this: wrap the transport in
/// [`crate::TransportHarness`]. Remote harnesses implement it to start and stop
/// a server around each trial. See `docs/writing-a-transport.md`.
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    /// The transport's name, used in trial names (`conformance::<name>::...`).
    fn name(&self) -> &str;

    /// The directions this harness can run.
    fn directions(&self) -> DirectionSet;

    /// What the transport supports.
    fn capabilities(&self) -> Capabilities;

    /// Cases known to fail, run as ignored trials with their reason.
    fn known_failures(&self) -> Vec<KnownFailure> {
        Vec::new()
    }

    /// Sets up endpoints for one trial in `direction`. Every path of every
    /// request lies below `root`.
    async fn pair(&self, direction: Direction, root: &Path) -> Result<Box<dyn Pair>>;
}

/// A source/destination pair set up for one trial.
///
/// # Contract
///
/// [`transfer`](Self::transfer) runs one whole transfer, as a user's command
/// would: the source role on `request.source` (wrapped by
/// `request.source_hook` when set), the destination role on
/// `request.destination`, with `request.options`. It may be called several
/// times; each call is a separate transfer. [`close`](Self::close) is called
/// exactly once, last.
///
/// # Event order
///
/// Every event of the transfer reaches `request.events` before `transfer`
/// returns: `Started` first, exactly one terminal event (`Finished` with the
/// summary `transfer` returns, or `Failed` with the kind of the error it
/// returns) last, in the order the reporting side emitted them.
///
/// # Implementing
///
/// Local harnesses hold nothing; remote ones hold the server they started.
#[async_trait::async_trait]
pub trait Pair: Send {
    /// Runs one transfer to its end and returns its summary (or the fatal
    /// error).
    async fn transfer(&mut self, request: TransferRequest) -> Result<TransferSummary>;

    /// Shuts the pair down (stop servers, join tasks). Called once, at the
    /// end of the trial, whether the case passed or not.
    async fn close(self: Box<Self>) -> Result<()>;
}
