//! Stat-ahead: the destination's `lstat` of each incoming file runs on a few
//! threads ahead of the judge.
//!
//! The judge must take manifest items in order (a directory before its
//! children), but most of its time goes to one `lstat` per file, and that
//! call depends on nothing the judge does to the tree: the judge only makes,
//! replaces or fixes directories and symlinks, and a file below a directory
//! it made (or replaced) is known missing without a look. So the judge's
//! thread hands each run of ready manifest items to a small pool that stats
//! the files among them, and takes the runs back in the order it handed them
//! out ([`Ahead::next_run`]); at most [`IN_FLIGHT`] runs per thread are out
//! at once. Files in a directory this run made ([`MadeDirs`]) are skipped. On a cold disk or a network file system the stats then overlap
//! instead of waiting one after another, and the judge's own thread is left
//! with bookkeeping. A stat a thread could not make (its directory not there
//! yet, say) is left to the judge, which makes it itself when it needs it.

use crate::judge::MadeDirs;
use crate::tree::{Stat, Tree};
use blit_api::{FileKind, ManifestItem, ManifestReceiver};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::time::Instant;
use tokio::runtime::Handle;
use tokio::sync::mpsc::error::TryRecvError;

/// Runs each thread may have waiting or in progress.
pub(crate) const IN_FLIGHT: usize = 4;
/// Most manifest items in one run.
pub(crate) const RUN: usize = 64;

/// A manifest item and, for a file, what a thread found at its path:
/// `Some(None)` nothing there, `None` not looked at (the judge looks).
#[derive(Debug)]
pub(crate) struct Looked {
    pub(crate) item: ManifestItem,
    pub(crate) stat: Option<Option<Stat>>,
}

/// What [`Ahead::next_run`] got.
#[derive(Debug)]
pub(crate) enum Got {
    /// The next run, in order.
    Run(Vec<Looked>),
    /// The deadline passed first.
    Due,
}

/// The judge's side of the pool: hands out runs and takes them back in order.
#[derive(Debug)]
pub(crate) struct Ahead {
    work: Sender<(u64, Vec<ManifestItem>)>,
    done: Receiver<(u64, Vec<Looked>)>,
    sent: u64,
    next: u64,
    early: BTreeMap<u64, Vec<Looked>>,
    room: usize,
    /// No stat thread could be started: runs come back unlooked-at.
    inline: bool,
}

impl Ahead {
    /// Whether another run may go out.
    pub(crate) fn has_room(&self) -> bool {
        self.in_flight() < self.room
    }

    /// Runs handed out and not yet taken back.
    pub(crate) fn in_flight(&self) -> usize {
        (self.sent - self.next) as usize
    }

    /// Hands out a run (callers check [`Ahead::has_room`] first, so this
    /// never waits).
    pub(crate) fn submit(&mut self, run: Vec<ManifestItem>) {
        debug_assert!(self.has_room());
        if self.inline {
            self.early.insert(self.sent, run.into_iter().map(|item| Looked { item, stat: None }).collect());
            self.sent += 1;
        } else if self.work.send((self.sent, run)).is_ok() {
            self.sent += 1;
        }
    }

    /// The oldest run handed out, waiting until `deadline` at most; `None`
    /// when nothing is in flight.
    pub(crate) fn next_run(&mut self, deadline: Option<Instant>) -> Option<Got> {
        loop {
            if self.in_flight() == 0 {
                return None;
            }
            if let Some(run) = self.early.remove(&self.next) {
                self.next += 1;
                return Some(Got::Run(run));
            }
            let got = match deadline {
                Some(d) => self.done.recv_deadline(d),
                None => self.done.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match got {
                Ok((seq, run)) => {
                    self.early.insert(seq, run);
                }
                Err(RecvTimeoutError::Timeout) => return Some(Got::Due),
                // Every thread is gone (a panic): what is out never comes back.
                Err(RecvTimeoutError::Disconnected) => {
                    self.next = self.sent;
                    return None;
                }
            }
        }
    }
}

/// What [`Source::next`] found.
pub(super) enum Next {
    /// The next item (taken with [`Source::take`]).
    Ready,
    /// The waiting batch is due.
    Due,
    Closed,
}

/// Where the judge's items come from: the manifest, through the stat-ahead
/// pool (see `ahead`), in manifest order.
pub(super) struct Source<'a> {
    manifest: ManifestReceiver,
    handle: &'a Handle,
    ahead: &'a mut Ahead,
    /// Items of a run taken back, not judged yet.
    pending: VecDeque<Looked>,
    /// The manifest ended (everything it sent has been handed out).
    closed: bool,
}

impl<'a> Source<'a> {
    /// Items of `manifest` through `ahead`; `handle` waits for the manifest.
    pub(super) fn new(manifest: ManifestReceiver, handle: &'a Handle, ahead: &'a mut Ahead) -> Self {
        Source { manifest, handle, ahead, pending: VecDeque::new(), closed: false }
    }
}

impl Source<'_> {
    /// Hands out every ready manifest item the pool has room for.
    fn fill(&mut self) {
        while !self.closed && self.ahead.has_room() {
            let mut run = Vec::new();
            while run.len() < RUN {
                match self.manifest.try_recv() {
                    Ok(item) => run.push(item),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.closed = true;
                        break;
                    }
                }
            }
            if run.is_empty() {
                break;
            }
            self.ahead.submit(run);
        }
    }

    /// The item [`Source::next`] said is ready.
    pub(super) fn take(&mut self) -> Looked {
        self.pending.pop_front().expect("next said an item is ready")
    }

    /// Whether an item is ready, or `Due` once `deadline` (set while a partial need
    /// batch waits) has passed.
    pub(super) fn next(&mut self, deadline: Option<Instant>) -> Next {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Next::Due;
        }
        loop {
            if !self.pending.is_empty() {
                return Next::Ready;
            }
            self.fill();
            match self.ahead.next_run(deadline) {
                Some(Got::Run(run)) => {
                    self.pending.extend(run);
                    continue;
                }
                Some(Got::Due) => return Next::Due,
                None => {}
            }
            if self.closed {
                return Next::Closed;
            }
            // Nothing ready and nothing out: wait for the manifest.
            let item = match deadline {
                Some(d) => match self.handle.block_on(tokio::time::timeout_at(d.into(), self.manifest.recv())) {
                    Ok(item) => item,
                    Err(_) => return Next::Due,
                },
                None => self.manifest.blocking_recv(),
            };
            match item {
                Some(item) => self.ahead.submit(vec![item]),
                None => self.closed = true,
            }
        }
    }
}

/// Runs `judge` with a pool of `threads` stat threads over `tree`, and
/// returns what it returns once every thread stopped. Where no thread can
/// be started, runs come back unlooked-at and the judge stats every file.
pub(crate) fn with_ahead<R>(tree: &Tree, made: &MadeDirs, threads: usize, judge: impl FnOnce(&mut Ahead) -> R) -> R {
    let room = threads.max(1) * IN_FLIGHT;
    let (work, runs) = crossbeam_channel::bounded::<(u64, Vec<ManifestItem>)>(room);
    let (looked, done) = crossbeam_channel::bounded(room);
    std::thread::scope(|scope| {
        let mut started = 0;
        for i in 0..threads.max(1) {
            let (runs, looked) = (runs.clone(), looked.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("blit-stat-{i}"))
                .spawn_scoped(scope, move || look_all(tree, made, &runs, &looked));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    tracing::warn!("could not start stat thread {i}: {e}; continuing with {i}");
                    break;
                }
            }
        }
        drop(looked);
        drop(runs);
        let mut ahead = Ahead { work, done, sent: 0, next: 0, early: BTreeMap::new(), room, inline: started == 0 };
        let out = judge(&mut ahead);
        // Threads blocked on a full `done` or an empty `work` channel stop.
        drop(ahead);
        out
    })
}

/// One stat thread: stats the files of each run until the runs end or the
/// judge is gone.
fn look_all(
    tree: &Tree,
    made: &MadeDirs,
    runs: &Receiver<(u64, Vec<ManifestItem>)>,
    looked: &Sender<(u64, Vec<Looked>)>,
) {
    // The last directory found missing: its files are new (the judge makes
    // the directory), so they are not looked at one by one.
    let mut missing: Option<Vec<u8>> = None;
    while let Ok((seq, run)) = runs.recv() {
        let run = run
            .into_iter()
            .map(|item| {
                let stat = match &item {
                    ManifestItem::Entry(h)
                        if h.kind == FileKind::File && !h.path.is_root() && h.hard_link.is_none() =>
                    {
                        look(tree, made, h.path.as_bytes(), &mut missing)
                    }
                    _ => None,
                };
                Looked { item, stat }
            })
            .collect();
        if looked.send((seq, run)).is_err() {
            return;
        }
    }
}

/// The `lstat` of `path`, or `None` when it could not be made.
fn look(tree: &Tree, made: &MadeDirs, path: &[u8], missing: &mut Option<Vec<u8>>) -> Option<Option<Stat>> {
    let (parent, _) = crate::tree::split(path);
    if missing.as_deref() == Some(parent) || made.has(parent) {
        return None;
    }
    let rel = blit_api::RelPath::from_bytes(path.to_vec()).ok()?;
    match tree.at(&rel) {
        Ok(at) => at.stat().ok(),
        Err(e) => {
            if e.kind() == std::io::ErrorKind::NotFound {
                *missing = Some(parent.to_vec());
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{header, write};
    use crate::tree::Anchor;
    use std::time::Duration;

    fn entry(path: &str, kind: FileKind) -> ManifestItem {
        ManifestItem::Entry(header(path, kind, 1, 1, 0o644))
    }

    #[test]
    fn runs_come_back_in_order_with_the_files_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("d/there"), b"abc", 0o644, 7);
        let tree = Tree::new(Anchor::path(dir.path().to_path_buf()));
        let runs: Vec<Vec<ManifestItem>> = (0..40)
            .map(|i| {
                vec![
                    entry("d", FileKind::Dir),
                    entry("d/there", FileKind::File),
                    entry(&format!("d/missing{i}"), FileKind::File),
                    entry(&format!("new{i}/f"), FileKind::File),
                    ManifestItem::DirDone(blit_api::RelPath::from_bytes(b"d".to_vec()).unwrap()),
                ]
            })
            .collect();
        let made = MadeDirs::default();
        let got = with_ahead(&tree, &made, 3, |ahead| {
            let mut back = Vec::new();
            let mut queued = runs.clone().into_iter();
            loop {
                while ahead.has_room() {
                    match queued.next() {
                        Some(run) => ahead.submit(run),
                        None => break,
                    }
                }
                match ahead.next_run(None) {
                    Some(Got::Run(run)) => back.push(run),
                    Some(Got::Due) => unreachable!("no deadline"),
                    None => break,
                }
            }
            back
        });
        assert_eq!(got.len(), 40);
        for (i, run) in got.iter().enumerate() {
            let paths: Vec<String> = run
                .iter()
                .map(|l| match &l.item {
                    ManifestItem::Entry(h) => h.path.display(),
                    other => format!("{other:?}").chars().take(7).collect(),
                })
                .collect();
            assert_eq!(paths[2], format!("d/missing{i}"), "run {i} in order");
            assert_eq!(run[0].stat, None, "directories are the judge's");
            let there = run[1].stat.as_ref().unwrap().as_ref().unwrap();
            assert_eq!((there.size, there.mtime_ns), (3, 7));
            assert!(matches!(run[2].stat, Some(None)), "looked at, not there");
            assert_eq!(run[3].stat, None, "its directory is missing: the judge knows it is new");
        }
    }

    #[test]
    fn files_in_a_directory_this_run_made_are_not_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("d/there"), b"abc", 0o644, 7);
        let tree = Tree::new(Anchor::path(dir.path().to_path_buf()));
        let made = MadeDirs::default();
        made.add(b"d");
        let run = with_ahead(&tree, &made, 1, |ahead| {
            ahead.submit(vec![entry("d/there", FileKind::File), entry("e", FileKind::File)]);
            match ahead.next_run(None) {
                Some(Got::Run(run)) => run,
                other => panic!("{other:?}"),
            }
        });
        assert_eq!(run[0].stat, None, "new by construction: not looked at");
        assert!(matches!(run[1].stat, Some(None)), "the root was not made by this run: looked at");
    }

    #[test]
    fn a_deadline_comes_back_as_due_and_an_idle_pool_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::new(Anchor::path(dir.path().to_path_buf()));
        with_ahead(&tree, &MadeDirs::default(), 2, |ahead| {
            assert!(ahead.next_run(None).is_none(), "nothing in flight");
            assert!(ahead.has_room());
            ahead.submit(vec![entry("f", FileKind::File)]);
            assert_eq!(ahead.in_flight(), 1);
            let got = ahead.next_run(Some(Instant::now() + Duration::from_secs(10)));
            assert!(matches!(got, Some(Got::Run(ref r)) if r.len() == 1), "{got:?}");
            assert!(ahead.next_run(Some(Instant::now())).is_none());
        });
    }
}
