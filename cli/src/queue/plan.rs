//! The plan of a distributed job: a dry run of the job whose needed
//! entries are cut into work items and published while it walks.

use crate::{transfer, wiring};
use blit_api::{Error, Events, FileKind, ProgressEvent, ProgressSink, RelPath, Result, TransferOptions, RESUME_MIN};
use blit_queue::{Queue, QueueUrl, WorkItem, MAX_ITEM_BYTES, MAX_ITEM_ENTRIES};
use std::ffi::OsStr;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An item is published once it holds this many bytes of file data
/// (`--item-size` changes it).
pub(super) const ITEM_DATA: u64 = 64 * 1024 * 1024;
/// A partly filled item is published when the walk found nothing new for
/// this long (workers start while a slow walk goes on).
const FLUSH_AFTER: Duration = Duration::from_millis(500);
/// Needed entries waiting for the publisher; the dry run waits while full.
const WAITING: usize = 8192;

/// The job being planned.
pub(super) struct Job<'a> {
    pub(super) id: &'a str,
    pub(super) run: u64,
    pub(super) url: &'a QueueUrl,
    pub(super) options: TransferOptions,
    /// File data per item (`--item-size`).
    pub(super) item_data: u64,
}

/// What the dry run hands the publisher.
enum Entry {
    /// A needed file or symlink, its size, and whether it may be split
    /// into ranges (a file the destination holds no version of: one it
    /// holds goes whole, so that delta transfer applies).
    Needed(RelPath, u64, bool),
    /// The dry run ended.
    End,
}

/// Plans `job` from `src` to `dst`, publishing its items; returns how
/// many. The dry run's totals and warnings go to `events`.
pub(super) async fn run(
    job: Job<'_>,
    src: (&OsStr, Option<&crate::remote::Remote>),
    dst: (&OsStr, Option<&crate::remote::Remote>),
    link: &wiring::Link,
    events: Events,
) -> Result<u64> {
    let (tx, rx) = sync_channel(WAITING);
    let (url, id, run, data_max) = (job.url.clone(), job.id.to_owned(), job.run, job.item_data);
    let publisher = std::thread::Builder::new()
        .name("blit-plan".into())
        .spawn(move || publish(rx, &url, Cutter::new(&id, run, data_max)))
        .map_err(|e| Error::io("start the plan's publisher", "blit", e))?;
    let sink = Arc::new(Planner { needed: Mutex::new(Some(tx)), events });
    let walked = transfer::one(src, dst, job.options.dry_run(true), link, sink.clone()).await;
    // The publisher ends once the dry run's sender is gone, even if some
    // part of the engine still holds the sink.
    if let Some(tx) = sink.needed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
        let _ = tx.send(Entry::End);
    }
    let published = publisher
        .join()
        .unwrap_or_else(|_| Err(Error::new(blit_api::ErrorKind::Unexpected, "the plan's publisher panicked")));
    walked?;
    published
}

/// The dry run's sink: needed entries to the publisher, totals and
/// warnings to the display.
struct Planner {
    needed: Mutex<Option<SyncSender<Entry>>>,
    events: Events,
}

impl ProgressSink for Planner {
    fn emit(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Planned { path, kind: kind @ (FileKind::File | FileKind::Symlink), size, new } => {
                let tx = self.needed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                if let Some(tx) = tx {
                    let _ = tx.send(Entry::Needed(path, size, new && kind == FileKind::File));
                }
            }
            ProgressEvent::ManifestProgress { .. }
            | ProgressEvent::ManifestComplete { .. }
            | ProgressEvent::NeedBatch { .. }
            | ProgressEvent::Warning { .. } => self.events.emit(event),
            // Directories are the last pass's; failures and deletions too.
            _ => {}
        }
    }
}

/// Cuts the needed entries into items and publishes each, on its own
/// connection and runtime (never waiting on the dry run's threads).
fn publish(rx: Receiver<Entry>, url: &QueueUrl, mut item: Cutter<'_>) -> Result<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start runtime", "blit", e))?;
    runtime.block_on(async {
        let queue = Queue::connect(url, "blit plan").await?;
        loop {
            let next = match rx.recv_timeout(FLUSH_AFTER) {
                Ok(Entry::Needed(path, size, split)) if split && size > item.data_max && size >= RESUME_MIN => {
                    for range in item.ranges(path, size) {
                        queue.publish(&range).await?;
                    }
                    continue;
                }
                Ok(Entry::Needed(path, size, _)) => item.add(path, size),
                Ok(Entry::End) | Err(RecvTimeoutError::Disconnected) => {
                    if let Some(last) = item.cut() {
                        queue.publish(&last).await?;
                    }
                    return Ok(item.seq);
                }
                Err(RecvTimeoutError::Timeout) => item.cut(),
            };
            if let Some(full) = next {
                queue.publish(&full).await?;
            }
        }
    })
}

/// The item being filled.
struct Cutter<'a> {
    id: &'a str,
    run: u64,
    /// Items cut so far.
    seq: u64,
    paths: Vec<RelPath>,
    path_bytes: usize,
    data: u64,
    /// File data per item.
    data_max: u64,
}

impl<'a> Cutter<'a> {
    fn new(id: &'a str, run: u64, data_max: u64) -> Self {
        Cutter { id, run, seq: 0, paths: Vec::new(), path_bytes: 0, data: 0, data_max }
    }

    /// Adds one entry; returns the item when it is full.
    fn add(&mut self, path: RelPath, size: u64) -> Option<WorkItem> {
        let len = path.as_bytes().len() + 1;
        // An entry that would overflow the item starts the next one.
        let before = (self.path_bytes + len > MAX_ITEM_BYTES).then(|| self.cut()).flatten();
        self.path_bytes += len;
        self.data = self.data.saturating_add(size);
        self.paths.push(path);
        let full = self.paths.len() >= MAX_ITEM_ENTRIES || self.data >= self.data_max;
        match before {
            Some(item) => Some(item),
            None if full => self.cut(),
            None => None,
        }
    }

    /// Items of one range each that together cover the file `path` of
    /// `size` bytes (workers land them into its partial copy; the last
    /// pass commits it).
    fn ranges(&mut self, path: RelPath, size: u64) -> Vec<WorkItem> {
        let mut items = Vec::new();
        let mut offset = 0;
        while offset < size {
            let len = self.data_max.min(size - offset);
            self.seq += 1;
            items.push(WorkItem {
                job: self.id.to_owned(),
                run: self.run,
                seq: self.seq,
                paths: vec![path.clone()],
                bytes: len,
                range: Some((offset, len)),
            });
            offset += len;
        }
        items
    }

    /// The item so far, if it holds anything.
    fn cut(&mut self) -> Option<WorkItem> {
        if self.paths.is_empty() {
            return None;
        }
        self.seq += 1;
        let item = WorkItem {
            job: self.id.to_owned(),
            run: self.run,
            seq: self.seq,
            paths: std::mem::take(&mut self.paths),
            bytes: self.data,
            range: None,
        };
        (self.path_bytes, self.data) = (0, 0);
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(name: &str) -> RelPath {
        RelPath::from_bytes(name.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn items_are_cut_by_entries_and_by_data() {
        let mut c = Cutter::new("ab", 1, ITEM_DATA);
        let mut items = Vec::new();
        for i in 0..MAX_ITEM_ENTRIES + 3 {
            items.extend(c.add(path(&format!("f{i}")), 1));
        }
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].paths.len(), MAX_ITEM_ENTRIES);
        assert!(c.add(path("big"), ITEM_DATA).is_some(), "64 MiB of data fills an item");
        assert!(c.cut().is_none(), "nothing left after a cut");
        assert_eq!(c.seq, 2);
    }

    #[test]
    fn a_large_file_is_cut_into_ranges_that_cover_it_once() {
        let mut c = Cutter::new("ab", 1, 3 << 20);
        let size = (10 << 20) + 5;
        let items = c.ranges(path("big"), size);
        assert_eq!(items.len(), 4);
        let mut next = 0;
        for (i, item) in items.iter().enumerate() {
            let (offset, len) = item.range.unwrap();
            assert_eq!((offset, item.seq), (next, i as u64 + 1));
            assert_eq!(item.bytes, len);
            next += len;
        }
        assert_eq!(next, size);
    }

    #[test]
    fn an_entry_that_would_overflow_the_paths_starts_the_next_item() {
        let mut c = Cutter::new("ab", 1, ITEM_DATA);
        let long = "d/".repeat(2000) + "f";
        let mut items = Vec::new();
        for _ in 0..200 {
            items.extend(c.add(path(&long), 0));
        }
        assert!(!items.is_empty());
        assert!(items.iter().all(|i| i.paths.iter().map(|p| p.as_bytes().len() + 1).sum::<usize>() <= MAX_ITEM_BYTES));
    }
}
