//! `blit move`: a copy that removes each source entry once the destination
//! reported it in place, and never otherwise.
//!
//! The transfer runs with `remove_source`, so the destination's judge and
//! landing report [`ProgressEvent::InPlace`] for every file and symlink
//! that is in place as its header said (landed now, or already equal).
//! The [`Mover`] sits between the engine and the renderer: each such event
//! asks the source side to remove that entry **only if it still has the
//! kind, size and mtime the destination reported** ([`Expect`]), so a file
//! changed after it was read is kept. The removal goes through the same
//! descriptor-relative code in both places the source can be: here
//! ([`Anchor::remove_if`] beneath the source's parent), or on the daemon or
//! `blit server` that holds it (the `Remove` request with its expectation).
//! Failed entries are never reported in place, so they stay.
//!
//! Once the transfer has finished without failures, directories the move
//! emptied are removed deepest first (`rmdir`: only empty ones), the
//! source's own directory too unless it was named with a trailing `/`.

use crate::remote::Remote;
use crate::remote_walk::join;
use blit_api::{Error, Events, Expect, FileKind, ProgressEvent, ProgressSink, RelPath, Result};
use blit_transports::local::Anchor;
use blit_transports::remote::Route;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// Removals queued ahead of the removers (the engine waits beyond that).
const QUEUE: usize = 1024;
/// Threads that remove at once (a daemon's removals are round trips).
const REMOVERS: usize = 8;

/// One removal: a path below the source root and what it must still be.
type Removal = (Vec<u8>, Expect);

/// What a move did to its sources.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moved {
    /// Source entries removed (files, symlinks, emptied directories).
    pub(crate) removed: u64,
    /// Entries in place at the destination but kept in the source: changed
    /// since they were read, or their removal failed (each failure warned).
    pub(crate) kept: u64,
}

impl Moved {
    /// Both tallies together.
    pub(crate) fn add(self, other: Moved) -> Moved {
        Moved { removed: self.removed + other.removed, kept: self.kept + other.kept }
    }
}

/// Where the source is, and how to remove one of its entries.
#[derive(Clone)]
enum Source {
    /// A local tree: its parent held open, and the root's name in it
    /// (empty when the root has no parent, such as `/`).
    Local { parent: Arc<OwnedFd>, shown: PathBuf, name: Vec<u8> },
    /// A tree on a daemon or a `blit server`.
    Remote { route: Arc<dyn Route>, top: Remote, root: RelPath, handle: tokio::runtime::Handle },
}

impl Source {
    /// Removes `path` (below the source root) if it is still `expect`.
    fn remove_if(&self, path: &[u8], expect: Expect) -> Result<bool> {
        match self {
            Source::Local { parent, shown, name } => {
                let rel = join(name, path);
                if rel.is_empty() {
                    return Ok(false);
                }
                let rel =
                    RelPath::from_bytes(rel).map_err(|e| Error::new(blit_api::ErrorKind::Protocol, e.message()))?;
                let anchor = Anchor::beneath(parent.clone(), shown, &rel);
                anchor.remove_if(expect).map_err(|e| Error::io("remove", anchor.shown().display(), e))
            }
            Source::Remote { route, top, root, handle } => {
                let rel = RelPath::from_bytes(join(root.as_bytes(), path))
                    .map_err(|e| Error::new(blit_api::ErrorKind::Protocol, e.message()))?;
                if rel.is_root() {
                    return Ok(false);
                }
                let target = crate::wiring::target(top, rel);
                handle.block_on(route.remove_if(&target, expect))
            }
        }
    }

    /// The source's directories, deepest first (each after everything
    /// below it), as paths below the root; the root itself last.
    async fn dirs(&self) -> Result<Vec<Vec<u8>>> {
        let mut found = Vec::new();
        match self {
            Source::Local { parent, shown, name } => {
                // Depth first with an explicit stack: (path, listed yet).
                let mut stack = vec![(Vec::new(), false)];
                while let Some((dir, listed)) = stack.pop() {
                    if listed {
                        found.push(dir);
                        continue;
                    }
                    stack.push((dir.clone(), true));
                    let rel = join(name, &dir);
                    let Ok(rel) = RelPath::from_bytes(rel) else { continue };
                    let anchor = Anchor::beneath(parent.clone(), shown, &rel);
                    let mut below = Vec::new();
                    let listed = blit_transports::local::list(&anchor, |h| {
                        if h.kind == FileKind::Dir && !h.path.is_root() {
                            below.push(join(&dir, h.path.as_bytes()));
                        }
                        true
                    });
                    if listed.is_ok() {
                        stack.extend(below.into_iter().map(|d| (d, false)));
                    }
                }
            }
            Source::Remote { route, top, .. } => {
                crate::remote_walk::walk(top, &**route, true, |step| {
                    if let crate::remote_walk::Step::Left(dir) = step {
                        found.push(dir);
                    }
                    Ok(())
                })
                .await?;
            }
        }
        Ok(found)
    }
}

/// The events sink of one source of a move: passes every event on, and
/// queues the removal of what the destination reports in place.
pub(crate) struct Mover {
    inner: Events,
    queue: Mutex<Option<SyncSender<Removal>>>,
    workers: Mutex<Vec<std::thread::JoinHandle<Moved>>>,
    source: Source,
    /// Whether the source's own directory goes too (no trailing `/`).
    root_too: bool,
}

impl Mover {
    /// A mover for the source `src` (`from`: its remote form, if any),
    /// passing events on to `inner`.
    pub(crate) fn start(
        src: &OsStr,
        from: Option<&Remote>,
        link: &crate::wiring::Link,
        inner: Events,
    ) -> Result<Arc<Mover>> {
        let root_too = !crate::endpoints::ends_with_slash(src);
        let source = match from {
            None => {
                // The directory above the root, resolved as the copy
                // resolved it: without a trailing `/` a symlink root is the
                // link itself (the copy sent the link), so only its parent
                // is resolved; with one, the directory it leads to.
                let path = std::path::Path::new(src);
                let open =
                    |p: &std::path::Path| std::fs::canonicalize(p).map_err(|e| Error::io("open", p.display(), e));
                let (dir, name) = match path.file_name().filter(|_| root_too) {
                    Some(name) => {
                        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
                        (open(parent.unwrap_or(std::path::Path::new(".")))?, name.as_bytes().to_vec())
                    }
                    None => {
                        let real = open(path)?;
                        match (real.parent(), real.file_name()) {
                            (Some(dir), Some(name)) => (dir.to_path_buf(), name.as_bytes().to_vec()),
                            _ => (real.clone(), Vec::new()),
                        }
                    }
                };
                let parent = Anchor::open_base(&dir).map_err(|e| Error::io("open", dir.display(), e))?;
                Source::Local { parent, shown: dir, name }
            }
            Some(remote) => Source::Remote {
                route: link.route(remote)?,
                top: remote.clone(),
                root: crate::wiring::remote_path(remote)?,
                handle: tokio::runtime::Handle::current(),
            },
        };
        let (tx, rx) = sync_channel(QUEUE);
        let queue = Arc::new(Mutex::new(rx));
        let warned = Arc::new(AtomicBool::new(false));
        let workers = (0..REMOVERS)
            .map(|_| {
                let (source, queue, warned, events) = (source.clone(), queue.clone(), warned.clone(), inner.clone());
                std::thread::Builder::new()
                    .name("blit-move".into())
                    .spawn(move || drain(&source, &queue, &warned, &events))
                    .map_err(|e| Error::io("start the remover", "blit", e))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Mover { inner, queue: Mutex::new(Some(tx)), workers: Mutex::new(workers), source, root_too }))
    }

    /// Waits for the queued removals; then, when `clean` (the transfer
    /// finished without failures), removes the directories it emptied.
    pub(crate) async fn finish(&self, clean: bool) -> Moved {
        drop(self.queue.lock().ok().and_then(|mut q| q.take()));
        let workers = self.workers.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default();
        let joined = tokio::task::spawn_blocking(move || {
            workers.into_iter().fold(Moved::default(), |all, w| all.add(w.join().unwrap_or_default()))
        });
        let mut moved = joined.await.unwrap_or_default();
        if clean {
            let dirs = self.source.dirs().await.unwrap_or_default();
            for dir in dirs {
                if dir.is_empty() && !self.root_too {
                    continue;
                }
                let source = self.source.clone();
                let gone = tokio::task::spawn_blocking(move || source.remove_if(&dir, Expect::EmptyDir)).await;
                if matches!(gone, Ok(Ok(true))) {
                    moved.removed += 1;
                }
            }
        }
        moved
    }
}

/// One remover's loop: takes reported entries off the shared queue and
/// removes each; [`REMOVERS`] of them run, so removals on a daemon (one
/// round trip each) overlap. The first error is warned about once.
fn drain(source: &Source, queue: &Mutex<Receiver<Removal>>, warned: &AtomicBool, events: &Events) -> Moved {
    let mut moved = Moved::default();
    loop {
        let next = queue.lock().ok().and_then(|q| q.recv().ok());
        let Some((path, expect)) = next else { break };
        match source.remove_if(&path, expect) {
            Ok(true) => moved.removed += 1,
            Ok(false) => {
                moved.kept += 1;
                let shown = String::from_utf8_lossy(&path).into_owned();
                events.emit(ProgressEvent::Warning {
                    message: format!("{shown}: changed in the source since it was sent; kept there"),
                });
            }
            Err(e) => {
                moved.kept += 1;
                if !warned.swap(true, Ordering::SeqCst) {
                    events.emit(ProgressEvent::Warning { message: format!("source entries are kept: {e}") });
                }
            }
        }
    }
    moved
}

impl ProgressSink for Mover {
    fn emit(&self, event: ProgressEvent) {
        if let ProgressEvent::InPlace { path, kind, size, mtime_ns } = &event {
            let expect = Expect::Entry { kind: *kind, size: *size, mtime_ns: *mtime_ns };
            if let Some(queue) = self.queue.lock().ok().and_then(|q| q.clone()) {
                let _ = queue.send((path.as_bytes().to_vec(), expect));
            }
        }
        self.inner.emit(event);
    }
}
