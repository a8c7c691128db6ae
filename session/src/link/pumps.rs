//! The tasks that move items between the engine's channels and the stream.
//!
//! Outgoing pumps batch whatever is ready into one frame without waiting
//! for more, so batching adds no latency (events alone linger 2 ms for
//! more: progress is not on any path the transfer waits for). Manifest items and need batches
//! leave only within the peer's credit ([`Semaphore`] permits, refilled by
//! its `Credit` frames). Feeders move what the peer sent from the bounded
//! stash the reader filled into the engine's channel, and grant the room
//! they freed back to the peer. Every pump stops when the session aborts.

use super::bytes::{Held, InFlight};
use super::Abort;
use crate::config::CHUNK_SIZE;
use crate::convert::{event_to_pb, header_to_pb, item_to_pb, Mask};
use crate::frames::FrameSender;
use crate::link::events::EventQueue;
use blit_api::{ManifestReceiver, NeedReceiver, ProgressEvent};
use blit_proto::pb;
use blit_proto::pb::frame::Body;
use prost::Message;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};

/// Most manifest items in one frame.
const MANIFEST_BATCH_ITEMS: usize = 1024;
/// Most (estimated) bytes in one manifest or events frame.
const BATCH_BYTES: usize = 1024 * 1024;
/// Most payload records in one frame.
const PAYLOAD_BATCH_RECORDS: usize = 64;
/// Most events in one frame.
const EVENTS_BATCH: usize = 1024;
/// How long the event pump lets a short batch grow before the next frame:
/// progress a person watches loses nothing in 2 ms, and a push of many small
/// files then sends a few hundred event frames a second instead of one (and
/// a thread wake-up on each side) per file.
const EVENTS_LINGER: std::time::Duration = std::time::Duration::from_millis(2);

/// `fut`'s output, or `None` when the session aborts first.
pub(super) async fn until<T>(abort: &Abort, fut: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        _ = abort.wait() => None,
        v = fut => Some(v),
    }
}

/// Sends one frame; false when the stream is gone or the session aborted.
pub(super) async fn send(out: &FrameSender, body: Body, abort: &Abort) -> bool {
    matches!(until(abort, out.send(pb::Frame { body: Some(body) })).await, Some(Ok(())))
}

fn close(stream: pb::Stream) -> Body {
    Body::Close(pb::Close { stream: stream as i32 })
}

/// Source side: the walker's manifest to the peer, within its credit in
/// items and in bytes ([`InFlight`]).
pub(super) async fn forward_manifest(
    mut rx: ManifestReceiver,
    credit: Arc<Semaphore>,
    out: FrameSender,
    mask: Mask,
    abort: Abort,
) {
    let mut flight = InFlight::new(u32::try_from(credit.available_permits()).unwrap_or(u32::MAX));
    let mut pending: Option<pb::ManifestItem> = None;
    loop {
        let item = match pending.take() {
            Some(item) => item,
            None => match until(&abort, rx.recv()).await {
                Some(Some(item)) => item_to_pb(&item, &mask),
                Some(None) => break,
                None => return,
            },
        };
        let size = item.encoded_len();
        // A closed semaphore means the peer's side of the session ended.
        if until(&abort, flight.room(size, &credit)).await != Some(true) {
            return;
        }
        match until(&abort, credit.acquire()).await {
            Some(Ok(permit)) => permit.forget(),
            _ => return,
        }
        flight.sent(size);
        let mut bytes = size;
        let mut items = vec![item];
        while items.len() < MANIFEST_BATCH_ITEMS && bytes < BATCH_BYTES {
            let Ok(next) = rx.try_recv() else { break };
            let next = item_to_pb(&next, &mask);
            let size = next.encoded_len();
            if !flight.fits(size, &credit) {
                pending = Some(next);
                break;
            }
            match credit.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(_) => {
                    pending = Some(next);
                    break;
                }
            }
            flight.sent(size);
            bytes += size;
            items.push(next);
        }
        if !send(&out, Body::Manifest(pb::Manifest { items }), &abort).await {
            return;
        }
    }
    send(&out, close(pb::Stream::Manifest), &abort).await;
}

fn record_len(record: &pb::PayloadRecord) -> usize {
    match &record.record {
        Some(pb::payload_record::Record::Data(data)) => data.len(),
        _ => 256,
    }
}

/// Source side: payload records to the peer, batched up to about 1 MiB.
pub(super) async fn forward_payload(mut rx: mpsc::Receiver<pb::PayloadRecord>, out: FrameSender, abort: Abort) {
    loop {
        let first = match until(&abort, rx.recv()).await {
            Some(Some(record)) => record,
            Some(None) => break,
            None => return,
        };
        let mut bytes = record_len(&first);
        let mut records = vec![first];
        while records.len() < PAYLOAD_BATCH_RECORDS && bytes < CHUNK_SIZE {
            let Ok(next) = rx.try_recv() else { break };
            bytes += record_len(&next);
            records.push(next);
        }
        if !send(&out, Body::Payload(pb::Payload { records }), &abort).await {
            return;
        }
    }
    send(&out, close(pb::Stream::Payload), &abort).await;
}

/// Destination side: need batches to the peer, one per frame, within its
/// credit. The empty final batch is a frame like any other. Hints
/// ([`blit_api::NeedBatch::ahead`]) go only to a peer that `takes_ahead`;
/// for any other, a batch of hints alone is not sent at all (it would read
/// as the end of the need list).
pub(super) async fn forward_needs(
    mut rx: NeedReceiver,
    credit: Arc<Semaphore>,
    takes_ahead: bool,
    out: FrameSender,
    abort: Abort,
) {
    loop {
        let mut batch = match until(&abort, rx.recv()).await {
            Some(Some(batch)) => batch,
            Some(None) => break,
            None => return,
        };
        if !takes_ahead {
            if batch.files.is_empty() && !batch.ahead.is_empty() {
                continue;
            }
            batch.ahead.clear();
        }
        match until(&abort, credit.acquire()).await {
            Some(Ok(permit)) => permit.forget(),
            _ => return,
        }
        let files = batch.files.iter().map(header_to_pb).collect();
        let ahead = batch
            .ahead
            .iter()
            .map(|a| pb::Ahead { file: Some(header_to_pb(&a.header)), basis_len: a.basis_len })
            .collect();
        if !send(&out, Body::Need(pb::Need { files, ahead }), &abort).await {
            return;
        }
    }
    send(&out, close(pb::Stream::Need), &abort).await;
}

/// What a feeder grants back: manifest items or need batches.
#[derive(Debug, Clone, Copy)]
pub(super) enum Grant {
    ManifestItems,
    NeedBatches,
}

impl Grant {
    fn credit(self, n: u32) -> Body {
        Body::Credit(match self {
            Grant::ManifestItems => pb::Credit { manifest_items: n, need_batches: 0 },
            Grant::NeedBatches => pb::Credit { manifest_items: 0, need_batches: n },
        })
    }
}

/// Moves what the peer sent from the stash into the engine's channel, and
/// grants the freed room back once `every` items moved or the stash ran
/// empty. Each stashed item comes with its wire size, released from `held`
/// (when given) as the engine takes it. Stops when the stash closes (the
/// peer closed that stream), the engine stopped reading, or the session
/// aborts.
pub(super) async fn feed<T, Q: Queue<T>>(
    mut stash: mpsc::Receiver<(T, usize)>,
    engine: Q,
    (grant, every, held): (Grant, u32, Option<Arc<Held>>),
    out: FrameSender,
    abort: Abort,
) {
    let mut owed = 0u32;
    loop {
        let first = match until(&abort, stash.recv()).await {
            Some(Some(item)) => item,
            _ => return,
        };
        // What else is there already goes along, so the engine wakes once.
        let mut size = first.1;
        let mut batch = vec![first.0];
        while batch.len() < blit_api::MANIFEST_BATCH {
            let Ok((item, n)) = stash.try_recv() else { break };
            size += n;
            batch.push(item);
        }
        let count = batch.len() as u32;
        match until(&abort, engine.put_all(batch)).await {
            Some(true) => owed += count,
            _ => return,
        }
        if let Some(held) = &held {
            held.release(size);
        }
        if owed >= every.max(1) || stash.is_empty() {
            if !send(&out, grant.credit(owed), &abort).await {
                return;
            }
            owed = 0;
        }
    }
}

/// An engine channel a feeder fills.
pub(super) trait Queue<T>: Send {
    /// Puts `items` in, in order; false once the engine is gone.
    fn put_all(&self, items: Vec<T>) -> impl Future<Output = bool> + Send;
}

impl<T: Send> Queue<T> for mpsc::Sender<T> {
    async fn put_all(&self, items: Vec<T>) -> bool {
        for item in items {
            if self.send(item).await.is_err() {
                return false;
            }
        }
        true
    }
}

impl Queue<blit_api::ManifestItem> for blit_api::ManifestSender {
    async fn put_all(&self, items: Vec<blit_api::ManifestItem>) -> bool {
        self.send_all(items).await.is_ok()
    }
}

fn event_len(event: &ProgressEvent) -> usize {
    match event {
        ProgressEvent::FileFailed { path, message, .. } => path.as_bytes().len() + message.len() + 16,
        ProgressEvent::Warning { message } => message.len() + 16,
        ProgressEvent::FileStarted { path, .. }
        | ProgressEvent::FileBytes { path, .. }
        | ProgressEvent::FileDone { path, .. }
        | ProgressEvent::Planned { path, .. }
        | ProgressEvent::Deleted { path, .. } => path.as_bytes().len() + 16,
        _ => 32,
    }
}

/// Daemon as destination: its events to the client, batched. Closes the
/// queue when it stops, so an emitter never waits for a pump that is gone.
pub(super) async fn forward_events(queue: Arc<EventQueue>, out: FrameSender, mask: Mask, abort: Abort) {
    'outer: while let Some(Some(batch)) = until(&abort, queue.next_batch(EVENTS_BATCH)).await {
        let mut events = Vec::with_capacity(batch.len());
        let mut bytes = 0;
        for event in &batch {
            bytes += event_len(event);
            events.extend(event_to_pb(event, &mask));
            if bytes >= BATCH_BYTES {
                if !send(&out, Body::Events(pb::Events { events: std::mem::take(&mut events) }), &abort).await {
                    break 'outer;
                }
                bytes = 0;
            }
        }
        if !events.is_empty() && !send(&out, Body::Events(pb::Events { events }), &abort).await {
            break;
        }
        if batch.len() < EVENTS_BATCH && until(&abort, tokio::time::sleep(EVENTS_LINGER)).await.is_none() {
            break;
        }
    }
    queue.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::ProgressSink;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_emitted_one_at_a_time_leave_in_few_frames() {
        let queue = Arc::new(EventQueue::default());
        let (tx, mut rx) = mpsc::channel(1024);
        let pump = tokio::spawn(forward_events(queue.clone(), tx, Mask::none(), Abort::new()));
        let q = queue.clone();
        let emitter = tokio::task::spawn_blocking(move || {
            for i in 0..20_000u64 {
                q.emit(ProgressEvent::NeedBatch { files: i, bytes: 0 });
                if i % 100 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            }
            q.close();
        });
        let (mut frames, mut events) = (0, Vec::new());
        while let Some(frame) = rx.recv().await {
            if let Some(Body::Events(e)) = frame.body {
                frames += 1;
                events.extend(e.events);
            }
        }
        emitter.await.unwrap();
        pump.await.unwrap();
        assert_eq!(events.len(), 20_000, "every event arrives");
        let first =
            events.iter().position(|e| matches!(&e.event, Some(pb::event::Event::NeedBatch(c)) if c.count == 0));
        let last =
            events.iter().position(|e| matches!(&e.event, Some(pb::event::Event::NeedBatch(c)) if c.count == 19_999));
        assert_eq!((first, last), (Some(0), Some(19_999)), "in order");
        assert!(frames < 200, "{frames} frames for 20,000 events emitted over 200 pauses");
    }

    /// What the peer receives of three batches (hints alone, files with a
    /// hint, the end), by whether it takes hints.
    async fn needs_sent(takes_ahead: bool) -> Vec<(usize, usize)> {
        let (need_tx, need_rx) = blit_api::need_channel();
        let (tx, mut rx) = mpsc::channel(16);
        let credit = Arc::new(Semaphore::new(8));
        let pump = tokio::spawn(forward_needs(need_rx, credit, takes_ahead, tx, Abort::new()));
        let file = blit_api::FileHeader {
            path: blit_api::RelPath::from_bytes(b"big".to_vec()).unwrap(),
            size: 1 << 30,
            ..Default::default()
        };
        let hint = blit_api::Ahead { header: file.clone(), basis_len: 1 << 30 };
        need_tx.send(blit_api::NeedBatch { files: vec![], ahead: vec![hint.clone()] }).await.unwrap();
        need_tx.send(blit_api::NeedBatch { files: vec![file], ahead: vec![hint] }).await.unwrap();
        need_tx.send(blit_api::NeedBatch::default()).await.unwrap();
        drop(need_tx);
        pump.await.unwrap();
        let mut sent = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            if let Some(Body::Need(n)) = frame.body {
                sent.push((n.files.len(), n.ahead.len()));
            }
        }
        sent
    }

    #[tokio::test]
    async fn hints_reach_only_a_peer_that_takes_them() {
        assert_eq!(needs_sent(true).await, [(0, 1), (1, 1), (0, 0)]);
        // An older peer would read a batch without files as the end.
        assert_eq!(needs_sent(false).await, [(1, 0), (0, 0)]);
    }
}
