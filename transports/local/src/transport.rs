//! The in-process payload transport.
//!
//! `send` and `receive` of one [`LocalTransport`] are joined by a bounded
//! channel of parcels, each the payload records of one file
//! (`blit_api::RecordWriter`; [`CHANNEL_CAPACITY`] parcels), so the number of
//! open descriptors stays bounded whatever the tree size. Both halves run a
//! small pool of blocking threads: senders turn planned files into records
//! with [`send_file`] (the open source file itself is the body), receivers
//! land them through a [`Lander`], copying each body with
//! `copy_file_range`. A per-file failure is reported through the landing and
//! the workers go on; a volume error (no space, read-only) stops `receive`,
//! which drops the rest of the queue so nothing else is written, and the
//! senders stop when they find the channel closed.

use crate::{copy, pool, SCHEME};
use blit_api::{
    on_blocking_thread, send_file, Capabilities, DirectionSet, Error, FileHeader, HalfPart, Lander, Landing,
    PayloadPlan, PayloadReader, PayloadTransport, PlanReceiver, RecordWriter, Result, Sent,
};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::fs::File;
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

/// One payload record between the halves. The body is the open source
/// file itself: the landing side copies from it.
#[derive(Debug)]
enum Record {
    File(FileHeader),
    Range { offset: u64, reused: u64 },
    Copy { to: u64, from: u64, len: u64 },
    Body { file: Arc<File>, offset: u64, len: u64 },
    End,
    Abort(Error),
    Failed(FileHeader, Error),
}

/// The records of one file, handed over together so that one landing
/// worker takes all of them.
#[derive(Debug)]
struct Parcel(Vec<Record>);

/// Memory never fails: every record is kept.
impl RecordWriter for Parcel {
    fn file(&mut self, header: &FileHeader) -> Result<()> {
        self.0.push(Record::File(header.clone()));
        Ok(())
    }

    fn range(&mut self, offset: u64, reused: u64) -> Result<()> {
        self.0.push(Record::Range { offset, reused });
        Ok(())
    }

    fn carries_copies(&self) -> bool {
        true
    }

    fn copy(&mut self, to: u64, from: u64, len: u64) -> Result<()> {
        self.0.push(Record::Copy { to, from, len });
        Ok(())
    }

    fn body(&mut self, file: &Arc<File>, offset: u64, len: u64) -> Result<Sent> {
        // Whether the source falls short shows when the landing side reads it.
        self.0.push(Record::Body { file: file.clone(), offset, len });
        Ok(Sent::All)
    }

    fn end(&mut self) -> Result<()> {
        self.0.push(Record::End);
        Ok(())
    }

    fn abort(&mut self, error: &Error) -> Result<()> {
        self.0.push(Record::Abort(error.clone()));
        Ok(())
    }

    fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()> {
        self.0.push(Record::Failed(header.clone(), error.clone()));
        Ok(())
    }
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
    tx: HalfPart<Sender<Parcel>>,
    rx: HalfPart<Receiver<Parcel>>,
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
fn send_worker(plans: &Mutex<PlanReceiver>, reader: &dyn PayloadReader, tx: &Sender<Parcel>) {
    let send = |header: FileHeader| {
        // A whole file is three records: its header, the body, the end.
        let mut parcel = Parcel(Vec::with_capacity(3));
        send_file(reader, &header, &mut parcel).is_ok() && tx.send(parcel).is_ok()
    };
    loop {
        let plan = plans.lock().unwrap_or_else(PoisonError::into_inner).blocking_recv();
        let sent = match plan {
            None => return,
            Some(PayloadPlan::File(header)) => send(header),
            Some(PayloadPlan::Shard(headers)) => headers.into_iter().all(send),
            Some(other) => other.files().iter().cloned().all(send),
        };
        if !sent {
            return;
        }
    }
}

/// Lands parcels until the channel is drained and closed, another worker hit
/// a volume error, or this one did (returned).
fn receive_worker(rx: &Receiver<Parcel>, landing: &Landing, stop: &AtomicBool, zero_copy: &AtomicBool) -> Result<()> {
    let mut lander = Lander::new(landing);
    let mut buf = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let parcel = match rx.recv_timeout(STOP_POLL) {
            Ok(parcel) => parcel,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        for record in parcel.0 {
            land(&mut lander, record, zero_copy, &mut buf)?;
        }
    }
    Ok(())
}

/// Lands one record. Fails only with a volume error: per-file failures are
/// reported through the landing.
fn land(lander: &mut Lander, record: Record, zero_copy: &AtomicBool, buf: &mut Vec<u8>) -> Result<()> {
    match record {
        Record::File(header) => lander.file(header),
        Record::Range { offset, reused } => lander.range(offset, reused),
        Record::Copy { to, from, len } => lander.copy(to, from, len),
        Record::Body { file, offset, len } => {
            lander.fill(len, |incoming, at| copy::copy_at(&file, offset, incoming, at, len, zero_copy, buf)).map(drop)
        }
        Record::End => lander.end(),
        Record::Abort(error) => lander.abort(&error),
        Record::Failed(header, error) => lander.failed(&header, &error),
    }
}

#[cfg(test)]
mod tests;
