//! The in-process payload transport.
//!
//! `send` and `receive` of one [`LocalTransport`] are joined by a bounded
//! channel of open files ([`CHANNEL_CAPACITY`] items), so the number of open
//! descriptors stays bounded whatever the tree size. Both halves run a small
//! pool of blocking threads: senders open files ([`PayloadReader::open`]),
//! receivers land them ([`Landing::begin`], `copy_file_range`, commit). A
//! per-file failure is reported through [`Landing`] and the workers go on; a
//! volume error (no space, read-only) stops `receive`, which drops the rest of
//! the queue so nothing else is written, and the senders stop when they find
//! the channel closed.

use crate::{copy, pool, SCHEME};
use blit_api::{
    on_blocking_thread, Capabilities, DirectionSet, Error, FileHeader, HalfPart, Landing, PayloadPlan, PayloadReader,
    PayloadTransport, PlanReceiver, Result, ResumePlan, SourceFile,
};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Open files waiting between the two halves.
pub(crate) const CHANNEL_CAPACITY: usize = 64;
/// Threads that open source files.
const SEND_WORKERS: usize = 4;
/// Threads that land files; also [`Capabilities::payload_max_streams`].
const RECEIVE_WORKERS: usize = 8;
/// How often an idle receiver checks whether another one hit a volume error.
const STOP_POLL: Duration = Duration::from_millis(50);

/// One unit between the halves: an open file, an open file the destination
/// resumes (with the ranges to copy), an empty file (nothing to read, so
/// never opened: saves three system calls per file on trees of empty
/// files), or why a file could not be opened.
#[derive(Debug)]
enum Item {
    File(SourceFile),
    Resumed(SourceFile, ResumePlan),
    Empty(FileHeader),
    Failed(FileHeader, Error),
}

/// The local payload transport: copies files between two paths of this
/// machine, with `copy_file_range` where the kernel allows.
///
/// One instance serves one transfer: call [`PayloadTransport::send`] and
/// [`PayloadTransport::receive`] once each, concurrently. `receive` returns
/// when `send` has finished and every file is landed; `send` waits while the
/// channel is full, so each half needs the other running. A second call of
/// either half is an `InvalidInput` error.
#[derive(Debug)]
pub struct LocalTransport {
    tx: HalfPart<Sender<Item>>,
    rx: HalfPart<Receiver<Item>>,
    zero_copy: Arc<AtomicBool>,
    send_workers: usize,
    receive_workers: usize,
}

impl Default for LocalTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalTransport {
    /// A transport for one transfer.
    pub fn new() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        LocalTransport {
            tx: HalfPart::new(tx),
            rx: HalfPart::new(rx),
            zero_copy: Arc::new(AtomicBool::new(true)),
            send_workers: SEND_WORKERS,
            receive_workers: RECEIVE_WORKERS,
        }
    }

    /// Sets how many threads open source files and how many land them (each
    /// at least 1, landing at most [`Capabilities::payload_max_streams`];
    /// defaults 4 and 8).
    pub fn with_workers(mut self, send: usize, receive: usize) -> Self {
        self.send_workers = send.max(1);
        self.receive_workers = receive.clamp(1, RECEIVE_WORKERS);
        self
    }

    /// A transport that never uses `copy_file_range` (for tests and for
    /// filesystems where it misbehaves).
    pub fn without_zero_copy() -> Self {
        let t = Self::new();
        t.zero_copy.store(false, Ordering::Relaxed);
        t
    }
}

#[async_trait::async_trait]
impl PayloadTransport for LocalTransport {
    fn name(&self) -> &str {
        SCHEME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            directions: DirectionSet { local: true, ..DirectionSet::default() },
            payload_shard: true,
            payload_max_streams: RECEIVE_WORKERS as u32,
            payload_zero_copy: true,
            symlink: true,
            path_non_utf8: true,
            mtime_ns: true,
            checksum: true,
            mirror: true,
            per_file_errors: true,
            resume: true,
        }
    }

    async fn send(&self, plans: PlanReceiver, reader: Arc<dyn PayloadReader>) -> Result<()> {
        let tx = self.tx.take(SCHEME, "send")?;
        let workers = self.send_workers;
        on_blocking_thread(SCHEME, "send", move || {
            let plans = Mutex::new(plans);
            pool::run_workers(workers, "blit-open", || send_worker(&plans, &*reader, &tx));
            Ok(())
        })
        .await
    }

    async fn receive(&self, landing: Landing) -> Result<()> {
        let rx = self.rx.take(SCHEME, "receive")?;
        let zero_copy = self.zero_copy.clone();
        let workers = self.receive_workers;
        on_blocking_thread(SCHEME, "receive", move || {
            let stop = AtomicBool::new(false);
            let fatal = Mutex::new(None);
            pool::run_workers(workers, "blit-land", || {
                if let Err(e) = receive_worker(&rx, &landing, &stop, &zero_copy) {
                    stop.store(true, Ordering::Release);
                    fatal.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(e);
                }
            });
            // Dropping the receiver makes blocked senders fail and stop.
            drop(rx);
            fatal.into_inner().unwrap_or_else(PoisonError::into_inner).map_or(Ok(()), Err)
        })
        .await
    }
}

/// Takes plans until the plan stream ends or the receiving half went away.
fn send_worker(plans: &Mutex<PlanReceiver>, reader: &dyn PayloadReader, tx: &Sender<Item>) {
    let open = |header: FileHeader| {
        if header.size == 0 {
            return tx.send(Item::Empty(header)).is_ok();
        }
        let item = match reader.open(&header).and_then(|file| Ok((file.resume_plan()?, file))) {
            Ok((None, file)) => Item::File(file),
            Ok((Some(plan), file)) => Item::Resumed(file, plan),
            Err(e) => Item::Failed(header, e),
        };
        tx.send(item).is_ok()
    };
    loop {
        let plan = plans.lock().unwrap_or_else(PoisonError::into_inner).blocking_recv();
        let sent = match plan {
            None => return,
            Some(PayloadPlan::File(header)) => open(header),
            Some(PayloadPlan::Shard(headers)) => headers.into_iter().all(open),
            Some(other) => other.files().iter().cloned().all(open),
        };
        if !sent {
            return;
        }
    }
}

/// Lands items until the channel is drained and closed, another worker hit a
/// volume error, or this one did (returned).
fn receive_worker(rx: &Receiver<Item>, landing: &Landing, stop: &AtomicBool, zero_copy: &AtomicBool) -> Result<()> {
    let mut buf = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let item = match rx.recv_timeout(STOP_POLL) {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        let landed = match item {
            Item::Failed(header, e) => {
                landing.source_failed(&header, &e);
                Ok(())
            }
            Item::File(file) => land(landing, file, zero_copy, &mut buf),
            Item::Resumed(file, plan) => land_ranges(landing, file, &plan, zero_copy, &mut buf),
            Item::Empty(header) => landing.begin(&header).and_then(|incoming| incoming.commit()),
        };
        match landed {
            Err(e) if e.kind().is_volume_error() => return Err(e),
            // Landing and Incoming already reported the failure.
            _ => {}
        }
    }
    Ok(())
}

/// Lands one file: begin, copy, commit. Every failure is already reported.
fn land(landing: &Landing, src: SourceFile, zero_copy: &AtomicBool, buf: &mut Vec<u8>) -> Result<()> {
    let mut incoming = landing.begin(&src.header)?;
    if let Err(e) = copy::copy_into(&src.file, &mut incoming, zero_copy, buf) {
        incoming.fail(&e);
        return Err(e);
    }
    incoming.commit()
}

/// Lands one resumed file: reopen its partial copy, copy the planned ranges
/// at their offsets, commit. Every failure is already reported.
fn land_ranges(
    landing: &Landing,
    src: SourceFile,
    plan: &ResumePlan,
    zero_copy: &AtomicBool,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let mut incoming = landing.resume(&src.header, plan.reused)?;
    for range in &plan.ranges {
        if let Err(e) = copy::copy_range(&src.file, &mut incoming, range.clone(), zero_copy, buf) {
            incoming.fail(&e);
            return Err(e);
        }
    }
    incoming.commit()
}

#[cfg(test)]
mod tests;
