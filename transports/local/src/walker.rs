//! The source walk: a parallel, streaming directory walker.
//!
//! A pool of OS threads shares a stack of directories still to read. Each
//! worker opens one directory beneath the root with no symlink on the way
//! (see `tree`), lists it with `getdents`, `lstat`s every entry relative to
//! that descriptor (`fstatat(AT_SYMLINK_NOFOLLOW)`),
//! and sends each header the moment it is built: nothing is collected, so
//! memory holds only the directories waiting to be read. A subdirectory is
//! pushed on the stack only after its own header was sent, which keeps every
//! directory's header ahead of its children in the stream. When a listing is
//! finished the worker sends [`ManifestItem::DirDone`], which lets a mirroring
//! destination judge that directory without holding the tree.
//!
//! The filter ([`blit_api::TransferOptions::filter`]) is asked right after
//! each entry's `lstat`: an excluded entry costs nothing more (no header, no
//! checksum, no event), and an excluded directory is never read.
//!
//! With `--owner`, `--group` and `--xattrs` each header also carries what
//! was asked (see `preserve`); with `--hard-links`, a regular file with
//! several names is sent once and its other names as link entries (see
//! `link_table`, which also keeps the first name ahead of its links).
//!
//! The stack (last in, first out) walks roughly depth first, so the number of
//! waiting directories stays near depth times fan-out rather than a whole
//! level of a wide tree. A pending counter (directories queued or being read)
//! tells idle workers when the walk is over.

use crate::link_table::LinkTable;
use crate::meta;
use crate::pool;
use crate::preserve::Preserve;
use crate::tree::{Anchor, At, Stat, Tree};
use batch::Batch;
use blit_api::{
    Error, ErrorKind, FileFailure, FileKind, ManifestItem, ManifestSender, ManifestSource, RelPath, Result,
    TransferOptions,
};
use blit_planner::filter::Filter;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// The local source endpoint: walks a tree for the manifest and opens files
/// for the payload.
#[derive(Debug, Clone)]
pub struct LocalSource {
    tree: Arc<Tree>,
    threads: usize,
}

impl LocalSource {
    /// A source rooted at `root` (a directory, a file or a symlink), a path
    /// the user named.
    pub fn new(root: PathBuf) -> Self {
        Self::at(Anchor::path(root))
    }

    /// A source rooted at `anchor` (see [`Anchor`]: a daemon serves a pull
    /// from below its module's held descriptor).
    pub fn at(anchor: Anchor) -> Self {
        LocalSource { tree: Arc::new(Tree::new(anchor)), threads: pool::default_threads() }
    }

    /// Sets how many threads walk the tree (at least 1; default 4 to 8
    /// depending on the CPU count).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The source root (as a path for messages).
    pub fn root(&self) -> &Path {
        self.tree.anchor().shown()
    }
}

#[async_trait::async_trait]
impl ManifestSource for LocalSource {
    async fn manifest(&self, options: &TransferOptions, out: ManifestSender) -> Result<()> {
        let tree = self.tree.clone();
        let threads = self.threads;
        // `--verify` checks each landed file against this hash.
        let checksum = options.checksum || options.verify;
        let filter = Filter::new(&options.filter)?;
        let preserve = Preserve::new(options);
        let one_fs = options.one_file_system;
        tokio::task::spawn_blocking(move || walk(&tree, threads, checksum, one_fs, &filter, preserve, &out))
            .await
            .map_err(|e| Error::new(ErrorKind::Unexpected, format!("the walker thread failed: {e}")))?
    }
}

/// Walks `tree`, sending into `out`. Runs on a blocking thread.
fn walk(
    tree: &Tree,
    threads: usize,
    checksum: bool,
    one_file_system: bool,
    filter: &Filter,
    preserve: Preserve,
    out: &ManifestSender,
) -> Result<()> {
    let root = tree.anchor().shown();
    let meta = tree.anchor().stat_root().map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => "check the source path; it does not exist",
            _ => "check that the source path exists and is readable",
        };
        Error::io("read source root", root.display(), e).with_hint(hint)
    })?;
    if meta.kind().is_none() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("the source is a {}, which blit does not copy", meta.special_name()),
        )
        .with_path(root.display().to_string())
        .with_hint("name a file, a directory or a symlink as the source"));
    }
    let walker = Walker {
        tree,
        out,
        checksum,
        root_dev: one_file_system.then_some(meta.dev),
        filter,
        preserve,
        links: LinkTable::default(),
        queue: Mutex::new(Queue { dirs: Vec::new(), pending: 0 }),
        ready: Condvar::new(),
        closed: AtomicBool::new(false),
    };
    let mut buf = Vec::new();
    let item = walker.item(RelPath::root(), &Entry::Root(tree.anchor()), Ok(meta), &mut buf);
    let root_is_dir = matches!(&item, ManifestItem::Entry(h) if h.kind == FileKind::Dir);
    if !walker.send(item) {
        return Ok(());
    }
    if root_is_dir {
        walker.push(RelPath::root());
        pool::run_workers(threads, "blit-walk", || walker.work());
    }
    if !walker.closed.load(Ordering::Acquire) {
        walker.send(ManifestItem::End);
    }
    Ok(())
}

/// Where an entry's contents are read: the root through its anchor, any
/// other entry through its directory's descriptor.
enum Entry<'a> {
    Root(&'a Anchor),
    At(At),
}

impl Entry<'_> {
    fn read_link(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Entry::Root(anchor) => anchor.read_root_link(),
            Entry::At(at) => at.read_link(),
        }
    }

    fn open_file(&self) -> std::io::Result<File> {
        match self {
            Entry::Root(anchor) => anchor.open_root_file(),
            Entry::At(at) => at.open_file(),
        }
    }

    fn xattrs(&self) -> std::io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        match self {
            Entry::Root(anchor) => anchor.root_xattrs(),
            Entry::At(at) => crate::xattr::list(&at.proc_path()),
        }
    }
}

struct Queue {
    /// Directories whose header was sent and whose listing is still to do.
    dirs: Vec<RelPath>,
    /// Directories queued or being read; the walk ends when it reaches 0.
    pending: usize,
}

struct Walker<'a> {
    tree: &'a Tree,
    out: &'a ManifestSender,
    checksum: bool,
    /// With `-x` (one file system): the root's device. A directory on
    /// another device is sent (it is made at the destination) but not read.
    root_dev: Option<u64>,
    /// Entries it excludes are never sent; directories it excludes are never read.
    filter: &'a Filter,
    /// Owner, group, extended attributes and hard links, as asked.
    preserve: Preserve,
    /// Files with several names already sent (only with hard links kept).
    links: LinkTable,
    queue: Mutex<Queue>,
    ready: Condvar,
    /// The receiver went away: every worker stops.
    closed: AtomicBool,
}

impl Walker<'_> {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one item; on a closed channel stops the walk and returns false.
    fn send(&self, item: ManifestItem) -> bool {
        if self.out.blocking_send(item).is_ok() {
            return true;
        }
        self.close();
        false
    }

    /// The receiver is gone: every worker stops.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        // Taking the lock orders the store before any waiter's next check.
        drop(self.lock());
        self.ready.notify_all();
    }

    fn push(&self, dir: RelPath) {
        let mut q = self.lock();
        q.dirs.push(dir);
        q.pending += 1;
        drop(q);
        self.ready.notify_one();
    }

    /// One worker: takes directories until none is pending or the walk stops.
    fn work(&self) {
        let mut buf = Vec::new();
        loop {
            let dir = {
                let mut q = self.lock();
                loop {
                    if self.closed.load(Ordering::Acquire) {
                        return;
                    }
                    if let Some(dir) = q.dirs.pop() {
                        break dir;
                    }
                    if q.pending == 0 {
                        return;
                    }
                    q = self.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
            };
            self.list(dir, &mut buf);
            let mut q = self.lock();
            q.pending -= 1;
            if q.pending == 0 {
                drop(q);
                self.ready.notify_all();
            }
        }
    }

    /// Lists one directory, sending a header (or failure) per entry, then
    /// `DirDone`. A directory whose listing broke off gets no `DirDone`: its
    /// `Failed` item already marks the manifest incomplete.
    fn list(&self, dir: RelPath, buf: &mut Vec<u8>) {
        let abs = || self.tree.shown(&dir);
        let failed = |e: std::io::Error| {
            let err = Error::io("list directory", abs().display(), e);
            self.send(ManifestItem::Failed(FileFailure::new(&dir, &err)));
        };
        // Opened beneath the root with no symlink on the way: a directory
        // swapped for a symlink since its header was sent is not listed.
        let fd = match self.tree.open_for_listing(dir.as_bytes()) {
            Ok(fd) => Arc::new(fd),
            Err(e) => return failed(e),
        };
        let mut entries = match rustix::fs::Dir::read_from(&*fd) {
            Ok(entries) => entries,
            Err(e) => return failed(std::io::Error::from_raw_os_error(e.raw_os_error())),
        };
        // Items go out in batches (one wake-up of the destination each);
        // a subdirectory is queued for listing only once the batch holding
        // its header was sent, so its header stays ahead of its children.
        let mut out = Batch::default();
        while let Some(entry) = entries.read() {
            if self.closed.load(Ordering::Relaxed) {
                return;
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    if self.flush(&mut out) {
                        failed(std::io::Error::from_raw_os_error(e.raw_os_error()));
                    }
                    return;
                }
            };
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let path = dir.join(name);
            if path.as_bytes().len() > RelPath::MAX_LEN {
                // Reported under its directory: a peer refuses the long path itself.
                let err =
                    Error::new(ErrorKind::Unsupported, "its path is longer than 4096 bytes, which blit does not carry")
                        .with_path(self.tree.shown(&path).display().to_string())
                        .with_hint("this entry is skipped; copy from a directory deeper in the tree");
                if !self.add(&mut out, ManifestItem::Failed(FileFailure::new(&dir, &err))) {
                    return;
                }
                continue;
            }
            let at = match At::new(fd.clone(), name) {
                Ok(at) => at,
                Err(e) => {
                    let err = Error::io("read metadata", self.tree.shown(&path).display(), e);
                    if !self.add(&mut out, ManifestItem::Failed(FileFailure::new(&path, &err))) {
                        return;
                    }
                    continue;
                }
            };
            // `fstatat(AT_SYMLINK_NOFOLLOW)` in the listed directory.
            let meta = at.stat().and_then(|m| m.ok_or_else(|| std::io::ErrorKind::NotFound.into()));
            if !self.selected(&path, &meta) {
                continue;
            }
            let inode = meta.as_ref().ok().and_then(|m| self.preserve.inode(m));
            let foreign = self.root_dev.is_some_and(|dev| meta.as_ref().is_ok_and(|m| m.dev != dev));
            let item = self.item(path, &Entry::At(at), meta, buf);
            match item {
                ManifestItem::Entry(h) if inode.is_some() => {
                    let (key, nlink) = inode.expect("matched on is_some");
                    // The link table orders names across threads: what is
                    // batched goes first, then this entry on its own.
                    if !self.flush(&mut out) || !self.links.send(h, key, nlink, |item| self.send(item)) {
                        return;
                    }
                }
                ManifestItem::Entry(h) if h.kind == FileKind::Dir => {
                    // A mount point (with -x) is made but not entered, and
                    // gets no `DirDone`: mirror deletes nothing inside it.
                    if !foreign {
                        out.subdirs.push(h.path.clone());
                    }
                    if !self.add(&mut out, ManifestItem::Entry(h)) {
                        return;
                    }
                }
                other => {
                    if !self.add(&mut out, other) {
                        return;
                    }
                }
            }
        }
        out.items.push(ManifestItem::DirDone(dir));
        self.flush(&mut out);
    }

    /// Whether the filter lets an entry through. An entry of no copied kind
    /// (socket, device) or whose `lstat` failed is judged by its name as a
    /// non-directory, so excluding it also silences its failure.
    fn selected(&self, path: &RelPath, meta: &std::io::Result<Stat>) -> bool {
        if self.filter.selects_all() {
            return true;
        }
        let known = meta.as_ref().ok().and_then(|m| Some((m.kind()?, m.size)));
        let (kind, size) = known.unwrap_or((FileKind::Symlink, 0));
        self.filter.includes(path, kind, size)
    }

    /// Builds the header of one entry from its `lstat` result, or the failure
    /// that replaces it. The path for messages is built only when needed.
    fn item(&self, path: RelPath, entry: &Entry<'_>, meta: std::io::Result<Stat>, buf: &mut Vec<u8>) -> ManifestItem {
        let abs = || self.tree.shown(&path);
        let fail = |err: Error| ManifestItem::Failed(FileFailure::new(&path, &err));
        let meta = match meta {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return fail(
                    Error::io("read metadata", abs().display(), e)
                        .with_hint("the entry vanished while the walk read its directory; rerun to pick up changes"),
                )
            }
            Err(e) => return fail(Error::io("read metadata", abs().display(), e)),
        };
        let Some(kind) = meta.kind() else {
            return fail(
                Error::new(ErrorKind::Unsupported, format!("a {} is not copied", meta.special_name()))
                    .with_path(abs().display().to_string())
                    .with_hint("only files, directories and symlinks are transferred; this entry is skipped"),
            );
        };
        let mut link_target = None;
        let mut checksum = None;
        match kind {
            FileKind::Symlink => match entry.read_link() {
                Ok(target) => link_target = Some(target),
                Err(e) => return fail(Error::io("read symlink", abs().display(), e)),
            },
            FileKind::File if self.checksum => match entry.open_file().and_then(|f| meta::blake3_reader(f, buf)) {
                Ok(sum) => checksum = Some(sum),
                Err(e) => return fail(Error::io("checksum", abs().display(), e)),
            },
            _ => {}
        }
        let mut header = meta.header(path, kind, link_target);
        header.checksum = checksum;
        let shown = self.tree.shown(&header.path);
        if let Err(e) = self.preserve.fill(&mut header, &meta, &shown, &|| entry.xattrs()) {
            return ManifestItem::Failed(FileFailure::new(&header.path, &e));
        }
        if let Err(e) = header.check_bounds() {
            return ManifestItem::Failed(FileFailure::new(&header.path, &e.with_path(shown.display().to_string())));
        }
        ManifestItem::Entry(header)
    }
}

mod batch;
mod open;
#[cfg(test)]
mod tests;
