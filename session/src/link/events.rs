//! The daemon's outgoing event queue (push: the daemon is the destination,
//! the client renders its events).
//!
//! Events are emitted synchronously by the destination's blocking threads
//! (the judge, the landing thread, `finish`) and leave in batched `Events`
//! frames. The queue is bounded ([`EVENT_QUEUE`]); while it is full an
//! emitter waits, which pauses landing. That never deadlocks: the client's
//! reader never blocks on anything the daemon's landing waits for (manifest
//! items and need batches are credit-controlled, events are handed straight
//! to the client's sink). Consecutive byte counts of one file merge while
//! they wait, so a queue that backs up holds a few events per file, not one
//! per chunk.

use blit_api::{ProgressEvent, ProgressSink};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// Most events waiting to be sent.
pub(super) const EVENT_QUEUE: usize = 16 * 1024;

#[derive(Default)]
struct State {
    events: VecDeque<ProgressEvent>,
    closed: bool,
}

/// A bounded queue of events on their way to the peer.
#[derive(Default)]
pub(crate) struct EventQueue {
    state: Mutex<State>,
    space: Condvar,
    ready: Notify,
}

impl std::fmt::Debug for EventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue").finish_non_exhaustive()
    }
}

impl EventQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// No more events will be queued; waiting emitters return. What is queued
    /// can still be taken.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.space.notify_all();
        self.ready.notify_one();
    }

    /// Takes up to `max` events, waiting for the first; `None` once closed
    /// and empty.
    pub(super) async fn next_batch(&self, max: usize) -> Option<Vec<ProgressEvent>> {
        loop {
            {
                let mut state = self.lock();
                if !state.events.is_empty() {
                    let n = state.events.len().min(max);
                    let batch = state.events.drain(..n).collect();
                    drop(state);
                    self.space.notify_all();
                    return Some(batch);
                }
                if state.closed {
                    return None;
                }
            }
            self.ready.notified().await;
        }
    }
}

impl ProgressSink for EventQueue {
    fn emit(&self, event: ProgressEvent) {
        let mut state = self.lock();
        if let (
            Some(ProgressEvent::FileBytes { path: last, bytes: total, zero_copy: z1 }),
            ProgressEvent::FileBytes { path, bytes, zero_copy: z2 },
        ) = (state.events.back_mut(), &event)
        {
            if last == path && z1 == z2 {
                *total += bytes;
                return;
            }
        }
        while state.events.len() >= EVENT_QUEUE && !state.closed {
            state = self.space.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            return;
        }
        // The pump drains the queue before it waits again: only the first
        // event into an empty queue needs to wake it.
        let wake = state.events.is_empty();
        state.events.push_back(event);
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::RelPath;
    use std::sync::Arc;

    fn bytes(path: &str, n: u64) -> ProgressEvent {
        ProgressEvent::FileBytes {
            path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
            bytes: n,
            zero_copy: false,
        }
    }

    #[tokio::test]
    async fn merges_bytes_batches_and_ends_after_close() {
        let q = EventQueue::default();
        q.emit(bytes("a", 1));
        q.emit(bytes("a", 2));
        q.emit(bytes("b", 3));
        q.emit(ProgressEvent::NeedBatch { files: 1, bytes: 1 });
        assert_eq!(q.next_batch(2).await.unwrap(), vec![bytes("a", 3), bytes("b", 3)]);
        q.close();
        q.emit(bytes("c", 1));
        assert_eq!(q.next_batch(10).await.unwrap(), vec![ProgressEvent::NeedBatch { files: 1, bytes: 1 }]);
        assert!(q.next_batch(10).await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_waits_for_room() {
        let q = Arc::new(EventQueue::default());
        let q2 = q.clone();
        let emitter = tokio::task::spawn_blocking(move || {
            for i in 0..EVENT_QUEUE + 10 {
                q2.emit(ProgressEvent::NeedBatch { files: i as u64, bytes: 0 });
            }
            q2.close();
        });
        let mut seen = 0;
        while let Some(batch) = q.next_batch(1000).await {
            seen += batch.len();
        }
        emitter.await.unwrap();
        assert_eq!(seen, EVENT_QUEUE + 10);
    }
}
