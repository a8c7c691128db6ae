//! The destination's judgement of one manifest item at a time.
//!
//! Directories and symlinks carry no payload, so the judge applies them
//! itself; regular files it either leaves alone, fixes in place (mode, or
//! mtime when checksums prove the content equal), or hands back as needed.
//!
//! Memory stays proportional to directories, never to files:
//! - `dirs` records the mode and mtime of every directory in the manifest,
//!   applied by `finish` once children stopped changing them;
//! - `open` holds the directories announced but not yet done (`DirDone`),
//!   i.e. the walker's queue: every entry must sit in one of them, which
//!   keeps a broken or hostile manifest from placing an entry below a symlink
//!   or below a directory it never announced. It also remembers which of them
//!   this run created (or, in a dry run, would create): their children are
//!   known to be missing, which saves one `lstat` per entry on a fresh copy;
//! - `children` (mirror only) holds the names the source sent for each
//!   directory whose `DirDone` has not arrived, i.e. the directories in
//!   flight, and is freed directory by directory.
//!
//! Symlinks are made in `symlink`; what mirror deletes is decided in
//! `mirror`.

mod budget;
mod dir;
mod file;
mod link_dest;
mod made;
mod mirror;
mod symlink;

use crate::backup::Backup;
use crate::link_land::{self, PendingLink};
use crate::ownership::{self, MetaWarnings};
use crate::partial::Partials;
use crate::policy::DestinationPolicy;
use crate::sweep::Sweeper;
use crate::tree::{At, Stat, Tree};
use crate::verify::Expected;
use blit_api::{Error, ErrorKind, Events, FileHeader, FileKind, ProgressEvent, RelPath, TransferOptions};
use blit_planner::filter::Filter;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::Arc;

pub(crate) use made::MadeDirs;

/// Mode and mtime of one directory, applied after the payload.
#[derive(Debug)]
pub(crate) struct DirMeta {
    pub(crate) path: RelPath,
    pub(crate) mode: u32,
    pub(crate) mtime_ns: i64,
}

/// What the judge knows about an announced directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirState {
    /// It was there already (a real directory).
    Existing,
    /// This run created it (or would, in a dry run): its children are missing.
    Fresh,
    /// It could not be made; its children fail.
    Broken,
}

/// Judges manifest items against the destination tree.
pub(crate) struct Judge {
    tree: Arc<Tree>,
    pub(crate) options: TransferOptions,
    events: Events,
    open: HashMap<Vec<u8>, DirState>,
    /// The `Fresh` directories of `open`, for the stat-ahead threads.
    made: Arc<MadeDirs>,
    children: HashMap<Vec<u8>, HashSet<Vec<u8>>>,
    /// Every directory of the manifest, parents before children.
    pub(crate) dirs: Vec<DirMeta>,
    /// Mirror: extraneous destination entries, deleted by `finish`.
    pub(crate) deletions: Vec<(RelPath, FileKind)>,
    /// Extraneous entries found after a source failure turned deletions
    /// off: counted (to say how many were skipped), never deleted.
    pub(crate) deletions_skipped: u64,
    /// The manifest carried a failure: mirror deletions are off.
    pub(crate) failed: bool,
    buf: Vec<u8>,
    sweeper: Arc<Sweeper>,
    /// A volume error: the judge stops at the next item.
    fatal: Cell<Option<Error>>,
    /// Mirror: extraneous entries it excludes are kept (unless it deletes
    /// excluded entries too), as the source's walk left them out.
    filter: Filter,
    /// `--resume`: where needed files' partial copies are offered.
    partials: Option<Arc<Partials>>,
    /// Delta transfer: where the older versions of needed files are offered.
    bases: Option<Arc<Partials>>,
    /// Delta transfer: where hints go that an older version is about to be
    /// hashed ([`blit_api::NeedBatch::ahead`]).
    ahead: Option<blit_api::NeedSender>,
    /// `--verify`: where the source's hashes of needed files are kept.
    expected: Option<Arc<Expected>>,
    /// `--link-dest`: the previous copy unchanged files are linked from.
    link_dest: Option<Tree>,
    /// `--backup`: where a symlink or file the judge replaces is kept.
    backup: Option<Arc<Backup>>,
    /// Owners and extended attributes that could not be set.
    warnings: Arc<MetaWarnings>,
    /// Link entries (`--hard-links`), made by `finish` after the payload.
    pub(crate) links: Vec<PendingLink>,
    /// What the destination accepts from the source's headers.
    policy: DestinationPolicy,
    /// What `open`, `children` and `links` hold (see `budget`).
    budget: budget::Budget,
}

/// Splits a non-root path into its parent's bytes and its name.
fn split(path: &RelPath) -> (&[u8], &[u8]) {
    crate::tree::split(path.as_bytes())
}

impl Judge {
    pub(crate) fn new(tree: Arc<Tree>, options: TransferOptions, events: Events, sweeper: Arc<Sweeper>) -> Self {
        Judge {
            tree,
            options,
            events,
            open: HashMap::new(),
            made: Arc::default(),
            children: HashMap::new(),
            dirs: Vec::new(),
            deletions: Vec::new(),
            deletions_skipped: 0,
            failed: false,
            buf: Vec::new(),
            sweeper,
            fatal: Cell::new(None),
            filter: Filter::default(),
            partials: None,
            bases: None,
            ahead: None,
            expected: None,
            link_dest: None,
            backup: None,
            warnings: Arc::default(),
            links: Vec::new(),
            policy: DestinationPolicy::default(),
            budget: budget::Budget::default(),
        }
    }

    /// Accounts `bytes` more held state; beyond the bound, the transfer
    /// stops with the budget's protocol error.
    fn hold(&mut self, bytes: usize) {
        if let Err(e) = self.budget.take(bytes) {
            if self.fatal.get_mut().is_none() {
                self.fatal.set(Some(e));
            }
        }
    }

    /// The directories this run made and has not finished (see [`MadeDirs`]).
    pub(crate) fn made(&self) -> Arc<MadeDirs> {
        self.made.clone()
    }

    /// Judges every header as `policy` admits it (see `policy`).
    pub(crate) fn with_policy(mut self, policy: DestinationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Counts ownership and attribute trouble into `warnings`.
    pub(crate) fn with_warnings(mut self, warnings: Arc<MetaWarnings>) -> Self {
        self.warnings = warnings;
        self
    }

    /// With `--resume`: offers the partial copies of needed files through
    /// `partials` (see `partial`); with delta transfer, the older versions
    /// they replace (see `basis`).
    /// A part-range transfer offers neither: it writes its range into the
    /// `.part` as it stands (see `landing::range`), and hashing the `.part`
    /// would hold it from the other ranges' writers.
    pub(crate) fn with_partials(mut self, partials: Arc<Partials>) -> Self {
        let whole = self.options.part_range.is_none();
        self.bases = (self.options.delta && whole).then(|| partials.clone());
        self.partials = (self.options.resume && whole).then_some(partials);
        self
    }

    /// Delta transfer: before hashing an older version, tells the source
    /// through `needs` (a hint of its own, ahead of the batch it waits in),
    /// so the source hashes its file meanwhile. Only when room is free: a
    /// hint never holds the judge up.
    pub(crate) fn with_ahead(mut self, needs: blit_api::NeedSender) -> Self {
        self.ahead = self.options.delta.then_some(needs);
        self
    }

    /// With `--verify`: keeps the source's hash of each needed file for its
    /// landing (see `verify`).
    pub(crate) fn with_expected(mut self, expected: Arc<Expected>) -> Self {
        // A part range is not checked: its file is not landed yet.
        self.expected = (self.options.verify && self.options.part_range.is_none()).then_some(expected);
        self
    }

    /// With `--backup`: keeps what the judge replaces (see `backup`).
    pub(crate) fn with_backup(mut self, backup: Option<Arc<Backup>>) -> Self {
        self.backup = backup;
        self
    }

    /// With `--link-dest`: links unchanged files from `base` (see `link_dest`).
    pub(crate) fn with_link_dest(mut self, base: Option<Tree>) -> Self {
        self.link_dest = base;
        self
    }

    /// Sets the filter the source walks with (see the `filter` field).
    pub(crate) fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Judges one header; returns it when the file's content is needed.
    /// `looked` is the `lstat` of a file's path if it was made already (see
    /// `need_list::ahead`; `None`: the judge makes it when it needs it).
    pub(crate) fn entry(&mut self, mut h: FileHeader, looked: Option<Option<Stat>>) -> Option<FileHeader> {
        // Before anything is made or fixed in place from it.
        self.policy.apply(&mut h);
        let mut fresh_parent = false;
        if !h.path.is_root() {
            let (parent, name) = split(&h.path);
            let why = match self.open.get(parent) {
                Some(DirState::Existing) => None,
                Some(DirState::Fresh) => {
                    fresh_parent = true;
                    None
                }
                Some(DirState::Broken) => {
                    Some((ErrorKind::NotFound, "its directory could not be made (see the failure reported for it)"))
                }
                None => Some((ErrorKind::Protocol, "the source sent it outside any directory it announced")),
            };
            if let Some((kind, why)) = why {
                let abs = self.tree.shown(&h.path);
                self.fail(&h.path, h.kind, h.size, Error::new(kind, why).with_path(abs.display().to_string()));
                return None;
            }
            if self.options.mirror && !fresh_parent {
                let added = match self.children.get_mut(parent) {
                    Some(names) => names.insert(name.to_vec()).then_some(name.len()),
                    None => {
                        self.children.insert(parent.to_vec(), HashSet::from([name.to_vec()]));
                        Some(name.len() + parent.len())
                    }
                };
                if let Some(bytes) = added {
                    self.hold(bytes);
                }
            }
        }
        if h.hard_link.is_some() {
            match link_land::judge(&self.tree, h, self.options.dry_run, &self.events) {
                Ok(link) => {
                    if let Some(link) = link {
                        self.hold(link.path.as_bytes().len() + link.target.as_bytes().len());
                        self.links.push(link);
                    }
                }
                Err((h, e)) => self.fail(&h.path, h.kind, h.size, e),
            }
            return None;
        }
        match h.kind {
            FileKind::Dir => {
                self.dir(h, fresh_parent);
                None
            }
            FileKind::Symlink => {
                self.symlink(&h, fresh_parent);
                None
            }
            FileKind::File => self.file(h, fresh_parent, looked),
        }
    }

    fn emit(&self, event: ProgressEvent) {
        self.events.emit(event);
    }

    fn fail(&self, path: &RelPath, kind: FileKind, size: u64, err: Error) {
        self.emit(ProgressEvent::FileStarted { path: path.clone(), kind, size });
        self.emit(ProgressEvent::failed(path, &err));
        self.volume_error(err);
    }

    /// Keeps the first volume error (no space, read-only): the transfer
    /// stops on it instead of failing every entry that follows.
    fn volume_error(&self, err: Error) {
        if err.kind().is_volume_error() {
            let first = self.fatal.take();
            self.fatal.set(Some(first.unwrap_or(err)));
        }
    }

    /// The volume error that must stop the transfer, if one happened.
    pub(crate) fn take_fatal(&self) -> Option<Error> {
        self.fatal.take()
    }

    /// A dry run's report that `h` would be transferred; `new` when the
    /// destination holds nothing at its path.
    fn planned(&self, h: &FileHeader, new: bool) {
        self.emit(ProgressEvent::Planned { path: h.path.clone(), kind: h.kind, size: h.size, new });
    }

    /// With `remove_source` (`blit move`): `h` is in place as its header
    /// says, so the source may remove its entry.
    pub(super) fn in_place(&self, h: &FileHeader) {
        if self.options.remove_source && !self.options.dry_run && h.kind != FileKind::Dir {
            let (path, kind, size, mtime_ns) = (h.path.clone(), h.kind, h.size, h.mtime_ns);
            self.emit(ProgressEvent::InPlace { path, kind, size, mtime_ns });
        }
    }

    fn applied(&self, h: &FileHeader, result: io::Result<()>, op: &str, abs: &Path) {
        self.emit(ProgressEvent::FileStarted { path: h.path.clone(), kind: h.kind, size: h.size });
        match result {
            Ok(()) => {
                self.emit(ProgressEvent::FileDone { path: h.path.clone(), kind: h.kind, bytes: 0 });
                self.in_place(h);
            }
            Err(e) => {
                let err = Error::io(op, abs.display(), e);
                self.emit(ProgressEvent::failed(&h.path, &err));
                self.volume_error(err);
            }
        }
    }

    /// The entry `path` names below the root; `None` for the root itself,
    /// which callers reach through its parent (the tree's anchor).
    pub(super) fn place(&self, path: &RelPath) -> io::Result<Option<At>> {
        if path.is_root() {
            return Ok(None);
        }
        self.tree.at(path).map(Some)
    }

    /// `lstat` of `path`; the root is followed when the user named a
    /// symlink to a directory (never for a held tree, such as a module).
    pub(super) fn lstat(&self, path: &RelPath) -> io::Result<Option<Stat>> {
        match self.place(path)? {
            Some(at) => at.stat(),
            None => {
                if self.tree.anchor().follows_root() {
                    match self.tree.root(false) {
                        Ok(_) => return self.tree.root_dir()?.stat(),
                        Err(e) if e.kind() == io::ErrorKind::NotFound || crate::beneath::is_in_the_way(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                match self.tree.anchor().parent(false) {
                    Ok(at) => at.stat(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::PermissionDenied => self.tree.root_dir()?.stat(),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Applies owner, group and (with `--xattrs`) extended attributes to an
    /// entry that is not landed through a payload; returns whether the owner
    /// changed (see `ownership`).
    pub(super) fn keep_meta(&self, at: &At, h: &FileHeader, existing: Option<&Stat>) -> bool {
        if h.uid.is_none() && h.gid.is_none() && !self.options.xattrs {
            return false;
        }
        ownership::apply_at(at, h, existing, self.options.xattrs, &self.warnings)
    }
}

#[cfg(test)]
mod tests;
