//! The stream count chosen on the transfer itself.
//!
//! Every connection has a sender thread, but a [`Gate`] admits only the
//! first `active` of them to take work; the rest wait (sending keep-alives)
//! until the gate opens to them or the plans end. The count follows a
//! [`Ramp`]: one stream first, then doubling while each step made the
//! transfer at least 10% faster. A step is judged by the bytes the kernel
//! saw acknowledged on every connection ([`Closer::acked_bytes`]) over a
//! [`WINDOW`] of the real transfer, so socket buffers do not flatter it and
//! a receiver whose disk (not the link) is the limit gets no more streams
//! than help it. On a fast link and a slow disk that is one stream, which
//! writes the file in order; on a long fat network, as many as pay.

use crate::shared::Closer;
use blit_planner::tune::Ramp;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long one step of the ramp is measured.
pub(crate) const WINDOW: Duration = Duration::from_millis(250);

/// Which connections may take work.
#[derive(Debug)]
pub(crate) struct Gate {
    active: AtomicUsize,
    finished: AtomicBool,
    settled: AtomicBool,
    step: Mutex<Step>,
    wake: Condvar,
}

/// The step being measured.
#[derive(Debug)]
struct Step {
    ramp: Ramp,
    started: Instant,
    bytes: u64,
}

/// What a waiting connection learnt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// It may take work.
    Admitted,
    /// Still shut out after the timeout (time for a keep-alive).
    TimedOut,
    /// The plans ended while it waited: it has nothing left to do.
    Finished,
}

impl Gate {
    /// A gate that ramps over up to `max` connections, starting with one;
    /// its first step is measured from now (`closer`'s acknowledged bytes).
    pub(crate) fn ramp(max: usize, closer: &Closer) -> Self {
        let ramp = Ramp::new(max as u32);
        let settled = ramp.settled();
        Gate {
            active: AtomicUsize::new(ramp.current() as usize),
            finished: AtomicBool::new(false),
            settled: AtomicBool::new(settled),
            step: Mutex::new(Step { ramp, started: Instant::now(), bytes: closer.acked_bytes() }),
            wake: Condvar::new(),
        }
    }

    /// Connections admitted now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// Whether the ramp made its choice.
    pub(crate) fn settled(&self) -> bool {
        self.settled.load(Ordering::Acquire)
    }

    /// Waits up to `timeout` for connection `i` to be admitted.
    pub(crate) fn wait(&self, i: usize, timeout: Duration) -> Wait {
        let guard = self.step.lock().unwrap_or_else(PoisonError::into_inner);
        let state = || {
            if i < self.active() {
                Some(Wait::Admitted)
            } else if self.finished.load(Ordering::Acquire) {
                Some(Wait::Finished)
            } else {
                None
            }
        };
        if let Some(now) = state() {
            return now;
        }
        let (_guard, _) = self.wake.wait_timeout(guard, timeout).unwrap_or_else(PoisonError::into_inner);
        state().unwrap_or(Wait::TimedOut)
    }

    /// Ends a measured step once a [`WINDOW`] passed: reads the bytes
    /// acknowledged so far and moves the ramp. Returns the new stream count
    /// when the ramp settled in this call. Cheap while the window runs.
    pub(crate) fn tick(&self, closer: &Closer) -> Option<u32> {
        if self.settled.load(Ordering::Acquire) {
            return None;
        }
        let mut step = match self.step.try_lock() {
            Ok(step) => step,
            Err(_) => return None,
        };
        let elapsed = step.started.elapsed();
        if elapsed < WINDOW {
            return None;
        }
        let bytes = closer.acked_bytes();
        let rate = bytes.saturating_sub(step.bytes) as f64 / elapsed.as_secs_f64();
        let next = step.ramp.record(rate);
        tracing::debug!("ramp: {} stream(s) moved {:.0} MB/s; next {next}", self.active(), rate / 1e6);
        step.started = Instant::now();
        step.bytes = bytes;
        self.active.store(next as usize, Ordering::Release);
        self.wake.notify_all();
        let settled = step.ramp.settled();
        self.settled.store(settled, Ordering::Release);
        settled.then_some(next)
    }

    /// The plans ended: waiting connections stop waiting.
    pub(crate) fn finish(&self) {
        let _guard = self.step.lock().unwrap_or_else(PoisonError::into_inner);
        self.finished.store(true, Ordering::Release);
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admitted_connections_take_work_until_the_plans_end() {
        let closer = Closer::default();
        let gate = Gate::ramp(4, &closer);
        assert_eq!(gate.active(), 1);
        assert_eq!(gate.wait(0, Duration::ZERO), Wait::Admitted);
        assert_eq!(gate.wait(1, Duration::from_millis(1)), Wait::TimedOut);
        // A step ends only after its window.
        assert_eq!(gate.tick(&closer), None);
        assert_eq!(gate.active(), 1);
        std::thread::sleep(WINDOW);
        // Nothing was acknowledged (no connections): a rate of 0 admits the
        // next count, which then does no better, so the ramp settles on 1.
        assert_eq!(gate.tick(&closer), None);
        assert_eq!(gate.active(), 2);
        assert_eq!(gate.wait(1, Duration::ZERO), Wait::Admitted);
        std::thread::sleep(WINDOW);
        assert_eq!(gate.tick(&closer), Some(1));
        assert_eq!(gate.active(), 1);
        assert_eq!(gate.tick(&closer), None, "settled");
        std::thread::scope(|s| {
            let waiter = s.spawn(|| gate.wait(3, Duration::from_secs(30)));
            std::thread::sleep(Duration::from_millis(20));
            gate.finish();
            assert_eq!(waiter.join().unwrap(), Wait::Finished, "woken by the end, not the timeout");
        });
        assert!(Gate::ramp(1, &closer).tick(&closer).is_none(), "one connection: nothing to ramp");
    }
}
