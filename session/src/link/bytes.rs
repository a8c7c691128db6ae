//! Manifest credit in bytes as well as items.
//!
//! A destination announces room for [`super::Window::OURS`] manifest items,
//! enough for a fast walk of small headers; but a header may carry a path of
//! 4 KiB and 32 KiB of extended attributes, so counted in items alone a
//! peer could make the destination hold hundreds of MiB. Both sides
//! therefore also count the wire size of the items in flight (sent and not
//! yet credited back), each by the same measure, the encoded length of the
//! `pb::ManifestItem`: the source never lets it pass [`MANIFEST_BYTES`], and
//! the destination refuses a peer whose unconsumed items pass it. Because
//! the destination grants an item back only after its engine took it, what
//! it holds is never more than what the source counts in flight, so an
//! honest source never trips the check.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// Most wire bytes of manifest items in flight in one session.
pub(crate) const MANIFEST_BYTES: usize = 8 << 20;

/// Destination side: wire bytes of the manifest items the reader stashed
/// and the feeder has not yet handed to the engine.
#[derive(Debug, Default)]
pub(super) struct Held(AtomicUsize);

impl Held {
    /// Counts `n` more bytes; false when that passes [`MANIFEST_BYTES`].
    pub(super) fn take_in(&self, n: usize) -> bool {
        self.0.fetch_add(n, Ordering::AcqRel) + n <= MANIFEST_BYTES
    }

    /// The engine took items of `n` bytes.
    pub(super) fn release(&self, n: usize) {
        self.0.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Source side: the wire sizes of the items sent and not yet credited back,
/// oldest first. The peer credits items back in the order they were sent,
/// so the number of permits returned to the item credit tells how many of
/// the oldest sizes are settled.
#[derive(Debug)]
pub(super) struct InFlight {
    window: usize,
    sizes: VecDeque<usize>,
    bytes: usize,
}

impl InFlight {
    /// Nothing in flight yet, against a peer window of `window` items.
    pub(super) fn new(window: u32) -> Self {
        InFlight { window: window as usize, sizes: VecDeque::new(), bytes: 0 }
    }

    /// Drops the sizes of the items the peer has credited back.
    fn settle(&mut self, credit: &Semaphore) {
        let outstanding = self.window.saturating_sub(credit.available_permits());
        while self.sizes.len() > outstanding {
            self.bytes -= self.sizes.pop_front().expect("longer than outstanding");
        }
    }

    /// Whether an item of `size` bytes may go now. Call before taking its
    /// item permit. An item alone in flight always may (the walker never
    /// makes one near the bound).
    pub(super) fn fits(&mut self, size: usize, credit: &Semaphore) -> bool {
        self.settle(credit);
        self.sizes.is_empty() || self.bytes + size <= MANIFEST_BYTES
    }

    /// Waits until an item of `size` bytes fits; false when the credit
    /// closed (the peer's side ended).
    pub(super) async fn room(&mut self, size: usize, credit: &Semaphore) -> bool {
        while !self.fits(size, credit) {
            // The oldest items that must be credited back to make room.
            let (mut freed, mut k) = (0, 0);
            for s in &self.sizes {
                if self.bytes - freed + size <= MANIFEST_BYTES {
                    break;
                }
                freed += s;
                k += 1;
            }
            // Credit back for them shows as this many available permits.
            let want = self.window - self.sizes.len() + k;
            match credit.acquire_many(u32::try_from(want).unwrap_or(u32::MAX)).await {
                Ok(permits) => drop(permits),
                Err(_) => return false,
            }
        }
        true
    }

    /// An item of `size` bytes was sent (its item permit taken).
    pub(super) fn sent(&mut self, size: usize) {
        self.sizes.push_back(size);
        self.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_for_credit_back_before_passing_the_bound() {
        let credit = Semaphore::new(4);
        let mut flight = InFlight::new(4);
        let big = MANIFEST_BYTES / 2;
        for _ in 0..2 {
            assert!(flight.fits(big, &credit));
            credit.acquire().await.unwrap().forget();
            flight.sent(big);
        }
        assert!(!flight.fits(1, &credit), "two halves fill the bound");
        let wait = tokio::time::timeout(Duration::from_millis(50), flight.room(1, &credit)).await;
        assert!(wait.is_err(), "no credit back: still waiting");
        credit.add_permits(1);
        assert!(flight.room(1, &credit).await, "the oldest half was credited back");
        assert_eq!(flight.bytes, big);
        let mut full = InFlight::new(4);
        full.sent(MANIFEST_BYTES);
        let closed = Semaphore::new(0);
        closed.close();
        assert!(!full.room(1, &closed).await, "a closed credit ends the wait");
    }

    #[test]
    fn held_refuses_past_the_bound() {
        let held = Held::default();
        assert!(held.take_in(MANIFEST_BYTES));
        assert!(!held.take_in(1));
        held.release(MANIFEST_BYTES + 1);
        assert!(held.take_in(MANIFEST_BYTES));
    }
}
