//! Payload bytes in flight, capped by bytes, in reused buffers.
//!
//! Each side of the in-stream payload owns one [`Budget`] of
//! [`PAYLOAD_IN_FLIGHT`] bytes, the most file data it holds at once:
//!
//! - The sending half reads every data record into a [`Lease`]: a buffer
//!   taken from the budget's pool (so a transfer allocates a handful of
//!   chunk buffers, not one per chunk) whose room in the budget is taken
//!   before the read. [`Lease::freeze`] turns it into the record's `Bytes`
//!   without a copy; the room and the buffer come back when the last
//!   reference drops: when tonic has encoded the frame on a session, when
//!   the landing thread has written it on a loopback. While the budget is
//!   spent the sender waits, so the record and frame queues behind it hold
//!   at most the budget whatever their record counts.
//! - The receiving side's reader wraps each incoming data record with
//!   [`Budget::hold`] before it queues it for the landing thread, which
//!   releases the room once the bytes are written.
//!
//! A lease is charged its buffer's capacity (the memory it pins), a held
//! record its length. Credit for manifest items and need batches is
//! unchanged; this only bounds the payload that the peer's HTTP/2 flow
//! control paces.

use crate::config::CHUNK_SIZE;
use prost::bytes::Bytes;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most payload bytes one side holds at once (4 MiB: four chunks).
pub(crate) const PAYLOAD_IN_FLIGHT: usize = 4 * CHUNK_SIZE;

/// Data records smaller than this get a buffer of their own size rather
/// than a pooled chunk buffer, so a small file pins only its bytes.
const POOLED_MIN: usize = 64 * 1024;

/// A cap on payload bytes in flight, and the pool of chunk buffers.
#[derive(Debug)]
pub(crate) struct Budget {
    room: Arc<Semaphore>,
    cap: usize,
    pool: Mutex<Vec<Vec<u8>>>,
}

impl Budget {
    /// A budget of `cap` bytes (at least one chunk).
    pub(crate) fn new(cap: usize) -> Arc<Budget> {
        let cap = cap.max(CHUNK_SIZE);
        Arc::new(Budget { room: Arc::new(Semaphore::new(cap)), cap, pool: Mutex::new(Vec::new()) })
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.cap - self.room.available_permits()
    }

    /// Waits for `n` bytes of room (never more than the cap); `None` when
    /// `gone` resolves first.
    async fn room(&self, n: usize, gone: impl Future<Output = ()>) -> Option<OwnedSemaphorePermit> {
        let n = n.min(self.cap) as u32;
        tokio::select! {
            permit = self.room.clone().acquire_many_owned(n) => permit.ok(),
            () = gone => None,
        }
    }

    /// A buffer of `len` (at most [`CHUNK_SIZE`]) bytes to read a data
    /// record into, once its room is free. For the sending half's blocking
    /// thread: `None` when `gone` resolves first (the queue's receiver went
    /// away), so a stopped session never leaves it waiting.
    pub(crate) fn lease_blocking(self: &Arc<Self>, len: usize, gone: impl Future<Output = ()>) -> Option<Lease> {
        debug_assert!(len <= CHUNK_SIZE);
        let limit = if len < POOLED_MIN { len } else { CHUNK_SIZE };
        let mut lease = self.lease(limit, gone)?;
        lease.buf.resize(len, 0);
        Some(lease)
    }

    /// An empty chunk buffer to append up to [`CHUNK_SIZE`] bytes into
    /// ([`Lease::extend`]); waits like [`Budget::lease_blocking`].
    pub(crate) fn chunk_blocking(self: &Arc<Self>, gone: impl Future<Output = ()>) -> Option<Lease> {
        let mut lease = self.lease(CHUNK_SIZE, gone)?;
        lease.buf.clear();
        Some(lease)
    }

    fn lease(self: &Arc<Self>, limit: usize, gone: impl Future<Output = ()>) -> Option<Lease> {
        let permit = tokio::runtime::Handle::current().block_on(self.room(limit, gone))?;
        let pooled = match limit {
            CHUNK_SIZE => self.pool.lock().unwrap_or_else(PoisonError::into_inner).pop(),
            _ => None,
        };
        let buf = pooled.unwrap_or_else(|| Vec::with_capacity(limit));
        Some(Lease { buf, limit, _permit: permit, budget: self.clone() })
    }

    /// `data`, holding its room in the budget until its last reference
    /// drops; waits for the room first. `None` when `gone` resolves first.
    pub(crate) async fn hold(&self, data: Bytes, gone: impl Future<Output = ()>) -> Option<Bytes> {
        let permit = self.room(data.len(), gone).await?;
        Some(Bytes::from_owner(Held { data, _permit: permit }))
    }
}

/// Received bytes and their room in the budget.
struct Held {
    data: Bytes,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

/// A buffer for one data record and its room in the budget; both return
/// when it drops.
#[derive(Debug)]
pub(crate) struct Lease {
    buf: Vec<u8>,
    /// Most bytes it takes (what its room was charged).
    limit: usize,
    _permit: OwnedSemaphorePermit,
    budget: Arc<Budget>,
}

impl Lease {
    /// The bytes to fill.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Bytes in the record.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends `data` within the buffer's capacity; returns how much fit.
    pub(crate) fn extend(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.limit - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        n
    }

    /// Whether the buffer is full.
    pub(crate) fn is_full(&self) -> bool {
        self.buf.len() == self.limit
    }

    /// The record's bytes, without a copy; the lease ends when the last
    /// reference drops.
    pub(crate) fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for Lease {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.limit == CHUNK_SIZE {
            let mut pool = self.budget.pool.lock().unwrap_or_else(PoisonError::into_inner);
            // Never more buffers than the budget could lease at once.
            if pool.len() < self.budget.cap / CHUNK_SIZE {
                pool.push(std::mem::take(&mut self.buf));
            }
        }
    }
}

#[cfg(test)]
mod tests;
