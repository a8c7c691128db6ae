//! A scoped pool of blocking worker threads.
//!
//! The walker and both payload halves run a fixed number of OS threads for the
//! duration of one call. The calling thread (a `spawn_blocking` thread) works
//! too, so a failure to spawn extra threads only lowers parallelism instead of
//! failing the transfer.

/// How many worker threads to use by default: the CPU count, kept in 4..=8
/// (the work is mostly system calls, which overlap well even on few cores).
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get()).clamp(4, 8)
}

/// Runs `work` on `threads` threads (at least one: the calling thread) and
/// returns when all of them returned. A panic in a worker propagates.
pub(crate) fn run_workers<F: Fn() + Sync>(threads: usize, name: &str, work: F) {
    std::thread::scope(|scope| {
        for i in 1..threads.max(1) {
            let spawned = std::thread::Builder::new().name(format!("{name}-{i}")).spawn_scoped(scope, &work);
            if let Err(e) = spawned {
                tracing::warn!("could not start worker thread {name}-{i}: {e}; continuing with {i}");
                break;
            }
        }
        work();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn runs_every_worker_once() {
        let ran = AtomicUsize::new(0);
        run_workers(5, "t", || {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 5);
        run_workers(0, "t", || {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 6);
        assert!((4..=8).contains(&default_threads()));
    }
}
