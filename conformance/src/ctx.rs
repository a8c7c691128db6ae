//! The context a case runs in: a fresh root, a seeded generator, and
//! [`Ctx::transfer`], which runs one transfer and checks everything about it.

use crate::canon::CanonicalLog;
use crate::failure::{rules, Failure};
use crate::fixture::{Rng, TreeSpec};
use crate::harness::{Pair, SourceHook, TransferRequest};
use crate::invariants::{self, Expected};
use crate::tree::{Node, Snapshot};
use blit_api::{
    Capabilities, Direction, ErrorKind, FileKind, ProgressEvent, RecordingSink, TransferOptions, TransferSummary,
};
use std::path::{Path, PathBuf};

/// What the destination must look like after a transfer.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Expect {
    /// Equal to the source as it was before the transfer (the default).
    #[default]
    Source,
    /// Exactly as it was before the transfer (dry runs).
    Unchanged,
    /// This snapshot.
    Tree(Snapshot),
    /// This snapshot, except that the mtimes of these files are not
    /// compared: files no transfer gives a time (a partial copy is stamped
    /// when it is written).
    TreeAnyMtime(Snapshot, Vec<Vec<u8>>),
}

/// One transfer a case asks [`Ctx::transfer`] to run and check.
#[derive(Clone, Default)]
pub struct Transfer {
    options: TransferOptions,
    source: Option<PathBuf>,
    destination: Option<PathBuf>,
    expect: Expect,
    hook: Option<SourceHook>,
    selected: Option<Snapshot>,
    same_files: Vec<Vec<Vec<u8>>>,
}

impl std::fmt::Debug for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfer")
            .field("options", &self.options)
            .field("source", &self.source)
            .field("destination", &self.destination)
            .field("expect", &self.expect)
            .field("selected", &self.selected.as_ref().map(Snapshot::len))
            .finish_non_exhaustive()
    }
}

impl Transfer {
    /// A plain copy from [`Ctx::src`] to [`Ctx::dst`], expecting a destination
    /// equal to the source.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the options.
    pub fn options(mut self, options: TransferOptions) -> Self {
        self.options = options;
        self
    }

    /// Transfers from `source` instead of [`Ctx::src`].
    pub fn from(mut self, source: impl Into<PathBuf>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Transfers to `destination` instead of [`Ctx::dst`].
    pub fn to(mut self, destination: impl Into<PathBuf>) -> Self {
        self.destination = Some(destination.into());
        self
    }

    /// Sets what the destination must look like afterwards.
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    /// The part of the source the options' filter selects, as the case
    /// works it out by hand: the manifest must count exactly these entries,
    /// and [`Expect::Source`] compares the destination with it. Without it,
    /// the whole source is expected.
    pub fn selected(mut self, selected: Snapshot) -> Self {
        self.selected = Some(selected);
        self
    }

    /// Declares each group of raw paths as names of one file (hard links):
    /// which name the walk meets first, and so which one carries the
    /// payload, is walk order, so the canonical log merges each group (see
    /// [`CanonicalLog::alias`]).
    pub fn same_files(mut self, groups: Vec<Vec<Vec<u8>>>) -> Self {
        self.same_files = groups;
        self
    }

    /// Wraps the source role (see [`SourceHook`]).
    pub fn source_hook(mut self, hook: SourceHook) -> Self {
        self.hook = Some(hook);
        self
    }
}

/// What one checked transfer produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The summary the transfer returned.
    pub summary: TransferSummary,
    /// Every event, as recorded.
    pub events: Vec<ProgressEvent>,
    /// The canonical form of the events.
    pub log: CanonicalLog,
}

impl Outcome {
    /// Sorted raw paths of the entries of `kind` that ended with `FileDone`.
    pub fn done(&self, kind: FileKind) -> Vec<Vec<u8>> {
        self.paths(|e| matches!(e, ProgressEvent::FileDone { kind: k, .. } if *k == kind))
    }

    /// Sorted raw paths of every `FileStarted`.
    pub fn started(&self) -> Vec<Vec<u8>> {
        self.paths(|e| matches!(e, ProgressEvent::FileStarted { .. }))
    }

    /// Sorted raw paths of every `Planned` (dry run).
    pub fn planned(&self) -> Vec<Vec<u8>> {
        self.paths(|e| matches!(e, ProgressEvent::Planned { .. }))
    }

    /// Sorted raw paths of every `Deleted`.
    pub fn deleted(&self) -> Vec<Vec<u8>> {
        self.paths(|e| matches!(e, ProgressEvent::Deleted { .. }))
    }

    /// Every `FileFailed`, as path and kind, sorted by path.
    pub fn failed(&self) -> Vec<(Vec<u8>, ErrorKind)> {
        let mut out: Vec<_> = self
            .events
            .iter()
            .filter_map(|e| match e {
                ProgressEvent::FileFailed { path, kind, .. } => Some((path.as_bytes().to_vec(), *kind)),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn paths(&self, keep: impl Fn(&ProgressEvent) -> bool) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = self
            .events
            .iter()
            .filter(|e| keep(e))
            .filter_map(|e| match e {
                ProgressEvent::FileDone { path, .. }
                | ProgressEvent::FileStarted { path, .. }
                | ProgressEvent::Planned { path, .. }
                | ProgressEvent::Deleted { path, .. } => Some(path.as_bytes().to_vec()),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }
}

/// The context of one pass of one case: a fresh temporary root, a generator
/// seeded from the trial's seed, and the harness's endpoints.
///
/// A case runs twice with the same seed: first against the local reference
/// harness, then against the harness under test. The `n`-th transfer of the
/// second pass is compared with the `n`-th of the first, so a case must be
/// deterministic given its seed (draw everything from [`Ctx::rng`]).
pub struct Ctx {
    root: PathBuf,
    seed: u64,
    rng: Rng,
    direction: Direction,
    caps: Capabilities,
    pass_caps: Capabilities,
    pair: Box<dyn Pair>,
    reference: Option<Vec<CanonicalLog>>,
    logs: Vec<CanonicalLog>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("root", &self.root)
            .field("seed", &self.seed)
            .field("direction", &self.direction)
            .field("reference_pass", &self.reference.is_none())
            .finish_non_exhaustive()
    }
}

/// How a pass is set up (crate-internal).
pub(crate) struct PassSetup {
    pub(crate) root: PathBuf,
    pub(crate) seed: u64,
    pub(crate) direction: Direction,
    pub(crate) caps: Capabilities,
    pub(crate) pass_caps: Capabilities,
    pub(crate) pair: Box<dyn Pair>,
    pub(crate) reference: Option<Vec<CanonicalLog>>,
}

impl Ctx {
    pub(crate) fn new(s: PassSetup) -> Self {
        Ctx {
            root: s.root,
            seed: s.seed,
            rng: Rng::new(s.seed),
            direction: s.direction,
            caps: s.caps,
            pass_caps: s.pass_caps,
            pair: s.pair,
            reference: s.reference,
            logs: Vec::new(),
        }
    }

    /// Ends the pass: the canonical logs of its transfers, and the pair to close.
    pub(crate) fn finish(self) -> (Vec<CanonicalLog>, Option<Vec<CanonicalLog>>, Box<dyn Pair>) {
        (self.logs, self.reference, self.pair)
    }

    /// The trial's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The seeded generator: draw every random choice from it.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The capabilities of the harness under test (the same in both passes,
    /// so a case builds the same tree for the reference).
    pub fn caps(&self) -> Capabilities {
        self.caps
    }

    /// The trial's temporary root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The default source root (`<root>/src`, not created).
    pub fn src(&self) -> PathBuf {
        self.root.join("src")
    }

    /// The default destination root (`<root>/dst`, not created).
    pub fn dst(&self) -> PathBuf {
        self.root.join("dst")
    }

    /// Builds `spec` below [`Ctx::src`].
    pub fn build(&self, spec: &TreeSpec) -> Result<(), Failure> {
        self.build_at(&self.src(), spec)
    }

    /// Builds `spec` below `root`.
    pub fn build_at(&self, root: &Path, spec: &TreeSpec) -> Result<(), Failure> {
        spec.materialise(root).map_err(|e| Failure::fixture(format!("build tree at {}", root.display()), e))
    }

    /// Snapshots `path`.
    pub fn snapshot(&self, path: &Path) -> Result<Snapshot, Failure> {
        Snapshot::take(path).map_err(|e| Failure::fixture(format!("snapshot {}", path.display()), e))
    }

    /// Runs one transfer and checks it: the event rules, the destination
    /// against `transfer`'s expectation, and the canonical event log against
    /// the reference run's transfer of the same number.
    pub async fn transfer(&mut self, transfer: Transfer) -> Result<Outcome, Failure> {
        let n = self.logs.len() + 1;
        let label = format!("in transfer #{n} ({})", describe(&transfer.options));
        let source = transfer.source.unwrap_or_else(|| self.src());
        let destination = transfer.destination.unwrap_or_else(|| self.dst());
        let before = match transfer.selected {
            Some(selected) => selected,
            None => self.snapshot(&source)?,
        };
        let (mut expected, any_mtime) = match transfer.expect {
            Expect::Source => (before.clone(), Vec::new()),
            Expect::Unchanged => (self.snapshot(&destination)?, Vec::new()),
            Expect::Tree(tree) => (tree, Vec::new()),
            Expect::TreeAnyMtime(tree, paths) => (tree, paths),
        };
        let recorder = RecordingSink::new();
        let mut request = TransferRequest::new(
            self.direction,
            source,
            destination.clone(),
            transfer.options.clone(),
            recorder.clone(),
        );
        request.source_hook = transfer.hook;
        let result = self.pair.transfer(request).await;
        let events = recorder.events();
        let facts = Expected {
            direction: self.direction,
            dry_run: transfer.options.dry_run,
            result: result.as_ref(),
            source: (before.len() as u64, before.file_bytes()),
        };
        invariants::check(&events, &facts).map_err(|f| f.context(&label))?;
        let summary = result.map_err(|e| {
            Failure::new(rules::TRANSFER_COMPLETES, format!("the transfer stopped with {}: {e}", e.kind()))
                .context(&label)
        })?;
        let after = self.snapshot(&destination)?;
        for path in &any_mtime {
            if let (Some(Node::File { size, hash, mode, .. }), Some(Node::File { mtime_ns, .. })) =
                (expected.get(path), after.get(path))
            {
                let node = Node::File { size: *size, hash: *hash, mode: *mode, mtime_ns: *mtime_ns };
                expected.insert(path, node);
            }
        }
        expected.expect_equal(&after, &self.pass_caps).map_err(|f| f.context(&label))?;
        let log = CanonicalLog::from_events(&events).alias(&transfer.same_files);
        if let Some(reference) = &self.reference {
            match reference.get(n - 1) {
                None => {
                    let msg = format!("the reference run made only {} transfer(s); this is #{n}", reference.len());
                    return Err(Failure::new(rules::EVENTS_MATCH_REFERENCE, msg).context(&label));
                }
                Some(want) if *want != log => return Err(log_mismatch(want, &log).context(&label)),
                Some(_) => {}
            }
        }
        self.logs.push(log.clone());
        Ok(Outcome { summary, events, log })
    }
}

/// Both canonical logs in full, and where they first differ.
fn log_mismatch(want: &CanonicalLog, got: &CanonicalLog) -> Failure {
    let i = want.first_difference(got).unwrap_or(0);
    let line = |l: &CanonicalLog| l.lines().get(i).map_or("<end of log>".to_owned(), Clone::clone);
    let msg = format!(
        "the canonical event log differs from the reference run's at line {i}:\n    reference: {}\n    this run:  {}\n  \
         reference log ({} lines):\n{want}  this run's log ({} lines):\n{got}",
        line(want),
        line(got),
        want.lines().len(),
        got.lines().len()
    );
    Failure::new(rules::EVENTS_MATCH_REFERENCE, msg.trim_end())
}

fn describe(o: &TransferOptions) -> String {
    let mut parts = vec![if o.mirror { "mirror" } else { "copy" }];
    if o.checksum {
        parts.push("checksum");
    }
    if o.dry_run {
        parts.push("dry run");
    }
    if !o.filter.selects_all() || o.filter.delete_excluded {
        parts.push("filtered");
    }
    parts.join(", ")
}
