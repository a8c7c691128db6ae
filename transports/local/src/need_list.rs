//! The local destination endpoint: judges the manifest, streams need batches,
//! and applies mirror deletions and directory metadata at the end.
//!
//! The judgement runs on one blocking thread (it is a sequence of `lstat`s,
//! `mkdir`s and `symlink`s that must see directories before their children;
//! the `lstat`s of files run ahead of it on a few threads, see `ahead`)
//! and hands needed files to a [`NeedBatcher`]. A batch goes out as soon as it
//! is full, or [`FLUSH_AFTER`] after its first header, so the source's payload
//! never waits long for a batch that fills slowly (a cold walk, a manifest
//! crossing a network) and batch events stay at a few dozen per second.
//!
//! Memory is proportional to the number of directories (their final mode and
//! mtime, kept for `finish`) plus the directories in flight, never to the
//! number of files; see the `judge` module.

use crate::backup::Backup;
use crate::flush::Flush;
use crate::judge::{DirMeta, Judge};
use crate::link_land::{self, PendingLink};
use crate::ownership::MetaWarnings;
use crate::partial::Partials;
use crate::policy::DestinationPolicy;
use crate::pool;
use crate::sweep::Sweeper;
use crate::tree::{Anchor, Tree};
use crate::verify::Expected;
use ahead::{Looked, Next, Source};
use blit_api::{
    Error, ErrorKind, Events, FileKind, ManifestItem, ManifestReceiver, NeedBatch, NeedListSink, NeedSender,
    ProgressEvent, RelPath, Result, TransferOptions,
};
use blit_planner::filter::Filter;
use blit_planner::need_list::NeedBatcher;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

mod ahead;

/// How long a need batch may wait to fill: a partial batch goes out this
/// long after its first header, so a slow walk still feeds the payload.
pub(crate) const FLUSH_AFTER: Duration = Duration::from_millis(20);

/// Manifest entries between two `ManifestProgress` events.
const PROGRESS_EVERY: u64 = 1_000;

/// The local destination endpoint: judges headers against the tree below
/// its root and lands files there.
///
/// One instance serves one transfer: [`NeedListSink::need_list`] keeps what
/// [`NeedListSink::finish`] needs (directory metadata, mirror deletions).
#[derive(Debug)]
pub struct LocalDestination {
    pub(crate) tree: Arc<Tree>,
    plan: Mutex<Option<FinishPlan>>,
    /// Directories already cleared of crashed runs' temporary files.
    pub(crate) sweeper: Arc<Sweeper>,
    /// `--resume`: the partial copies the judge offered, until landed.
    pub(crate) partials: Arc<Partials>,
    /// `--verify`: the source's hashes of needed files, until they land.
    pub(crate) expected: Arc<Expected>,
    /// Owners and extended attributes the destination could not set.
    pub(crate) warnings: Arc<MetaWarnings>,
    /// What it accepts from the source's headers.
    pub(crate) policy: DestinationPolicy,
    /// `--backup`: where replaced and deleted files are kept (set when the
    /// need list starts).
    pub(crate) backup: Mutex<Option<Arc<Backup>>>,
    /// `--fsync`: whether what lands is flushed (set when the need list
    /// starts).
    pub(crate) flush: Arc<Flush>,
}

/// What `need_list` leaves for `finish`.
#[derive(Debug, Default)]
struct FinishPlan {
    dirs: Vec<DirMeta>,
    deletions: Vec<(RelPath, FileKind)>,
    /// Extraneous entries counted after a source failure.
    deletions_skipped: u64,
    complete: bool,
    /// A volume error stopped the judge: the transfer fails with it.
    fatal: Option<Error>,
    /// Link entries (`--hard-links`), made once the payload landed.
    links: Vec<PendingLink>,
}

impl LocalDestination {
    /// A destination rooted at `root`, a path the user named. The header
    /// with the empty path lands at `root` itself; missing parents of
    /// `root` are created.
    pub fn new(root: PathBuf) -> Self {
        Self::at(Anchor::path(root))
    }

    /// A destination rooted at `anchor` (see [`Anchor`]: a daemon roots a
    /// push below its module's held descriptor).
    pub fn at(anchor: Anchor) -> Self {
        LocalDestination {
            tree: Arc::new(Tree::new(anchor)),
            plan: Mutex::new(None),
            sweeper: Arc::default(),
            partials: Arc::default(),
            expected: Arc::default(),
            warnings: Arc::default(),
            policy: DestinationPolicy::default(),
            backup: Mutex::new(None),
            flush: Arc::default(),
        }
    }

    /// Sets what the destination accepts from the source's headers (the
    /// default accepts everything; see [`DestinationPolicy`]).
    pub fn with_policy(mut self, policy: DestinationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// What the destination accepts from the source's headers.
    pub fn policy(&self) -> DestinationPolicy {
        self.policy.clone()
    }

    /// The destination root (as a path for messages; every operation goes
    /// through the held descriptors of its [`Anchor`]).
    pub fn root(&self) -> &Path {
        self.tree.anchor().shown()
    }
}

fn join_error(what: &str, e: tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Unexpected, format!("the {what} thread failed: {e}"))
}

#[async_trait::async_trait]
impl NeedListSink for LocalDestination {
    async fn need_list(
        &self,
        options: &TransferOptions,
        manifest: ManifestReceiver,
        needs: NeedSender,
        events: Events,
    ) -> Result<()> {
        let filter = Filter::new(&options.filter)?;
        // A part range keeps them too: the `.part` it writes into holds the
        // other ranges (see `landing::range`).
        self.sweeper.keep_parts(options.resume || options.part_range.is_some());
        let backup = Backup::new(options, &self.tree)?;
        self.backup.lock().unwrap_or_else(PoisonError::into_inner).clone_from(&backup);
        self.flush.set((options.fsync || self.policy.fsyncs()) && !options.dry_run);
        let judge = Judge::new(self.tree.clone(), options.clone(), events.clone(), self.sweeper.clone())
            .with_filter(filter)
            .with_partials(self.partials.clone())
            .with_ahead(needs.clone())
            .with_expected(self.expected.clone())
            .with_warnings(self.warnings.clone())
            .with_policy(self.policy.clone())
            .with_backup(backup)
            .with_link_dest(match &options.link_dest {
                Some(spec) => Some(Tree::new(self.tree.anchor().other("--link-dest", spec)?)),
                None => None,
            });
        let handle = Handle::current();
        let tree = self.tree.clone();
        let made = judge.made();
        let mut plan = tokio::task::spawn_blocking(move || {
            ahead::with_ahead(&tree, &made, pool::default_threads(), |ahead| {
                let source = Source::new(manifest, &handle, ahead);
                run(judge, source, &needs, &events)
            })
        })
        .await
        .map_err(|e| join_error("need-list", e))?;
        let fatal = plan.fatal.take();
        // Kept even on failure: directories this run made or opened up get
        // their final metadata (see `Drop`).
        *self.plan.lock().unwrap_or_else(PoisonError::into_inner) = Some(plan);
        fatal.map_or(Ok(()), Err)
    }

    async fn finish(&self, options: &TransferOptions, events: Events) -> Result<u64> {
        let Some(plan) = self.plan.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return Ok(0);
        };
        let tree = self.tree.clone();
        let options = options.clone();
        let warnings = self.warnings.clone();
        let backup = self.backup.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let flush = self.flush.clone();
        tokio::task::spawn_blocking(move || {
            let deleted = finish(&tree, plan, &options, backup.as_deref(), &flush, &events);
            warnings.emit(&events);
            deleted
        })
        .await
        .map_err(|e| join_error("finish", e))
    }
}

/// Running totals and the outgoing side of the need list.
struct Out<'a> {
    needs: &'a NeedSender,
    events: &'a Events,
    entries: u64,
    bytes: u64,
    reported: u64,
    /// A part-range transfer: a needed file counts the range's bytes.
    part: Option<blit_api::PartRange>,
}

impl Out<'_> {
    fn progress(&mut self) {
        if self.entries != self.reported {
            self.reported = self.entries;
            self.events.emit(ProgressEvent::ManifestProgress { entries: self.entries, bytes: self.bytes });
        }
    }

    /// Sends a non-empty batch; false when the source side is gone.
    fn send(&mut self, batch: NeedBatch) -> bool {
        self.progress();
        let bytes = batch.files.iter().map(|h| self.part.map_or(h.size, |p| p.bytes_of(h.size))).sum();
        self.events.emit(ProgressEvent::NeedBatch { files: batch.files.len() as u64, bytes });
        self.needs.blocking_send(batch).is_ok()
    }
}

/// The judge loop. Runs on a blocking thread.
fn run(mut judge: Judge, mut source: Source<'_>, needs: &NeedSender, events: &Events) -> FinishPlan {
    let mut batcher = NeedBatcher::default();
    let part = judge.options.part_range;
    let mut out = Out { needs, events, entries: 0, bytes: 0, reported: 0, part };
    let mut ended = false;
    // When the waiting batch must go out even if it is not full.
    let mut deadline = None;
    let gone = |judge: Judge| FinishPlan { dirs: judge.dirs, ..FinishPlan::default() };
    loop {
        let Looked { item, stat } = match source.next(deadline) {
            Next::Ready => source.take(),
            Next::Due => {
                deadline = None;
                if let Some(batch) = batcher.take() {
                    if !out.send(batch) {
                        return gone(judge);
                    }
                }
                continue;
            }
            Next::Closed => break,
        };
        match item {
            ManifestItem::Entry(h) => {
                out.entries += 1;
                if h.kind == FileKind::File {
                    out.bytes = out.bytes.saturating_add(h.size);
                }
                if let Some(h) = judge.entry(h, stat) {
                    if batcher.is_empty() {
                        deadline = Some(Instant::now() + FLUSH_AFTER);
                    }
                    if let Some(batch) = batcher.push(h) {
                        // The header that did not fit starts the next batch.
                        deadline = (!batcher.is_empty()).then(|| Instant::now() + FLUSH_AFTER);
                        if !out.send(batch) {
                            return gone(judge);
                        }
                    }
                }
                if out.entries - out.reported >= PROGRESS_EVERY {
                    out.progress();
                }
            }
            ManifestItem::DirDone(dir) => judge.dir_done(dir),
            ManifestItem::Failed(failure) => judge.source_failed(failure),
            ManifestItem::End => {
                ended = true;
                break;
            }
        }
        if let Some(e) = judge.take_fatal() {
            // The volume takes nothing more: stop without the final batch,
            // which stops the source, and fail with this error. Directories
            // made so far still get their metadata.
            return FinishPlan { fatal: Some(e), dirs: judge.dirs, ..FinishPlan::default() };
        }
    }
    if let Some(batch) = batcher.take() {
        if !out.send(batch) {
            return gone(judge);
        }
    }
    out.progress();
    let complete = ended && !judge.failed;
    events.emit(ProgressEvent::ManifestComplete { entries: out.entries, bytes: out.bytes, complete });
    // The source may already be gone; `finish` still applies what was judged.
    let _ = needs.blocking_send(NeedBatch::default());
    let fatal = judge.take_fatal();
    FinishPlan {
        dirs: judge.dirs,
        deletions: judge.deletions,
        deletions_skipped: judge.deletions_skipped,
        complete,
        fatal,
        links: judge.links,
    }
}

/// Mirror deletions, then directory metadata deepest first. Runs on a
/// blocking thread; returns the number of deleted entries.
fn finish(
    tree: &Tree,
    plan: FinishPlan,
    options: &TransferOptions,
    backup: Option<&Backup>,
    flush: &Flush,
    events: &Events,
) -> u64 {
    let failed = |path: &RelPath, kind: FileKind, err: Error| {
        events.emit(ProgressEvent::FileStarted { path: path.clone(), kind, size: 0 });
        events.emit(ProgressEvent::failed(path, &err));
    };
    let mut deleted = 0;
    let skipped = plan.deletions_skipped + plan.deletions.len() as u64;
    if options.mirror && !plan.complete && skipped > 0 {
        let reason = "the source was not read completely (see the failures above); nothing was deleted";
        events.emit(ProgressEvent::DeletionsSkipped { count: skipped, reason: reason.to_owned() });
    }
    if options.mirror && plan.complete {
        let mut deletions = plan.deletions.into_iter();
        for (path, kind) in deletions.by_ref() {
            if options.max_delete.is_some_and(|most| deleted >= most) {
                let count = 1 + deletions.len() as u64;
                let reason = format!("--max-delete {} reached", deleted);
                events.emit(ProgressEvent::DeletionsSkipped { count, reason });
                break;
            }
            if !options.dry_run {
                // Relative to its directory's descriptor, never following a
                // symlink: a directory swapped for a link since the judge
                // saw it is removed as the link, never what it points to.
                // With --backup the entry is moved to its backup name instead.
                let removed = tree.at(&path).and_then(|at| match backup {
                    Some(backup) => backup.keep_moved(&at, &path),
                    None => at.remove_all(),
                });
                match removed {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        let op = if backup.is_some() { "move to its backup" } else { "delete" };
                        failed(&path, kind, Error::io(op, tree.shown(&path).display(), e));
                        continue;
                    }
                }
            }
            deleted += 1;
            events.emit(ProgressEvent::Deleted { path, kind });
        }
        tree.forget();
    }
    if !options.dry_run {
        // Links go in before directories get their final modes and mtimes.
        link_land::land_links(tree, plan.links, events);
        dir_meta(tree, &plan.dirs, |path, err| failed(path, FileKind::Dir, err));
        flush.dirs(tree, &plan.dirs, |path, err| failed(path, FileKind::Dir, err));
    }
    deleted
}

/// Sets every directory's final mtime and mode, deepest first: the
/// manifest sends parents before children, so the reverse order reaches
/// every directory before its parent, and a parent made read-only or
/// unsearchable cannot block setting its children.
fn dir_meta(tree: &Tree, dirs: &[DirMeta], mut failed: impl FnMut(&RelPath, Error)) {
    for dir in dirs.iter().rev() {
        let shown = || tree.shown(&dir.path).display().to_string();
        let at = match tree.entry(&dir.path) {
            Ok(at) => at,
            Err(e) => {
                failed(&dir.path, Error::io("open directory", shown(), e));
                continue;
            }
        };
        if let Err(e) = at.set_mtime(dir.mtime_ns) {
            failed(&dir.path, Error::io("set mtime", shown(), e));
        } else if let Err(e) = at.set_mode(dir.mode) {
            failed(&dir.path, Error::io("set mode", shown(), e));
        }
    }
}

impl Drop for LocalDestination {
    /// A transfer that failed or was cancelled after judging never reaches
    /// `finish`: the directories it made (mode 0700 while filled) or opened
    /// up still get their final mode and mtime. Nothing is deleted.
    fn drop(&mut self) {
        let plan = self.plan.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(plan) = plan.filter(|p| !p.dirs.is_empty()) {
            dir_meta(&self.tree, &plan.dirs, |path, e| tracing::debug!("after a failed transfer, {path}: {e}"));
        }
    }
}

#[cfg(test)]
mod tests;
