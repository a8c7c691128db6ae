//! Connections that have not proved themselves yet.
//!
//! Every accepted control connection is *unproved* until a request on it
//! passes the secret check (or, on a daemon without secrets, until its
//! first request reaches a handler). An unproved connection:
//!
//! - must prove itself within the handshake deadline
//!   (`DaemonConfig::handshake_timeout`, 10 s by default) counted from
//!   accept: TCP first bytes, TLS, the HTTP/2 preface and the first request
//!   together, so a peer that trickles the preface a byte at a time is cut
//!   off like a silent one;
//! - counts against a cap of unproved connections in all
//!   ([`MAX_UNPROVED`]) and per source address ([`MAX_UNPROVED_PER_IP`]);
//!   when a cap is reached the oldest unproved connection (of that address,
//!   for the per-address cap) is closed to make room, so a flood of
//!   strangers cannot keep a real client out;
//! - holds no session slot (see `server`).
//!
//! Failed secrets are throttled per source address: each answer waits
//! `100 ms x 2^(failures - 1)`, at most 5 s, and the count decays after a
//! minute without failures. They are logged at a bounded rate: one line
//! per [`LOG_EVERY`] with the count and the latest address, never one line
//! per attempt.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Most unproved connections at once.
pub(crate) const MAX_UNPROVED: usize = 256;
/// Most unproved connections from one address at once.
pub(crate) const MAX_UNPROVED_PER_IP: usize = 32;
/// How often refused secrets are summed up in the log.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);
/// The longest wait before refusing a secret.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Failures of one address are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Addresses whose failures are remembered (the oldest go first).
const MAX_TRACKED: usize = 4096;

/// Closes one connection from outside its I/O.
#[derive(Debug, Default)]
pub(crate) struct Kill {
    killed: AtomicBool,
    waker: Mutex<Option<Waker>>,
    notify: Notify,
}

impl Kill {
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Remembers the task to wake when the connection is killed.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut w = self.waker.lock().unwrap_or_else(PoisonError::into_inner);
        if !w.as_ref().is_some_and(|old| old.will_wake(waker)) {
            *w = Some(waker.clone());
        }
    }

    fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.notify.notify_waiters();
        if let Some(w) = self.waker.lock().unwrap_or_else(PoisonError::into_inner).take() {
            w.wake();
        }
    }

    /// Resolves once the connection is killed.
    pub(crate) async fn killed(&self) {
        let notified = self.notify.notified();
        if self.is_killed() {
            return;
        }
        notified.await;
    }
}

struct Unproved {
    addr: SocketAddr,
    kill: Arc<Kill>,
}

#[derive(Default)]
struct Failures {
    count: u32,
    last: Option<Instant>,
}

#[derive(Default)]
struct State {
    /// Unproved connections by accept order.
    unproved: BTreeMap<u64, Unproved>,
    by_addr: HashMap<SocketAddr, u64>,
    next: u64,
    failures: HashMap<IpAddr, Failures>,
    /// Refused secrets since the last log line.
    refused: u64,
    logged: Option<Instant>,
}

/// The registry of unproved connections and failed secrets.
#[derive(Debug)]
pub(crate) struct Gate {
    state: Mutex<State>,
    handshake: Duration,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("unproved", &self.unproved.len()).finish_non_exhaustive()
    }
}

impl Gate {
    /// A gate whose connections must prove themselves within `handshake`.
    pub(crate) fn new(handshake: Duration) -> Arc<Gate> {
        Arc::new(Gate { state: Mutex::new(State::default()), handshake })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection from `addr` as unproved, closing the
    /// oldest unproved ones when a cap is reached, and closes it in turn if
    /// it has not proved itself within the handshake deadline.
    pub(crate) fn admit(self: &Arc<Self>, addr: SocketAddr) -> Arc<Kill> {
        let kill = Arc::new(Kill::default());
        let mut evicted = Vec::new();
        let id = {
            let mut s = self.lock();
            let same_ip: Vec<u64> =
                s.unproved.iter().filter(|(_, u)| u.addr.ip() == addr.ip()).map(|(id, _)| *id).collect();
            if same_ip.len() >= MAX_UNPROVED_PER_IP {
                evicted.extend(same_ip.first().copied());
            }
            if s.unproved.len() - evicted.len() >= MAX_UNPROVED {
                evicted.extend(s.unproved.keys().find(|id| !evicted.contains(id)).copied());
            }
            for id in &evicted {
                if let Some(u) = s.unproved.remove(id) {
                    s.by_addr.remove(&u.addr);
                    u.kill.kill();
                }
            }
            let id = s.next;
            s.next += 1;
            if let Some(old) = s.by_addr.insert(addr, id) {
                s.unproved.remove(&old);
            }
            s.unproved.insert(id, Unproved { addr, kill: kill.clone() });
            id
        };
        if !evicted.is_empty() {
            tracing::debug!("{addr}: too many connections that have not authenticated; closed the oldest");
        }
        let gate = Arc::downgrade(self);
        let deadline = self.handshake;
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            let Some(gate) = gate.upgrade() else { return };
            let mut s = gate.lock();
            if let Some(u) = s.unproved.remove(&id) {
                s.by_addr.remove(&u.addr);
                drop(s);
                tracing::debug!("{addr}: no authenticated request within {} s; closed", deadline.as_secs_f64());
                u.kill.kill();
            }
        });
        kill
    }

    /// A request from `addr` passed the secret check: its connection is no
    /// longer subject to the handshake deadline or the caps.
    pub(crate) fn proved(&self, addr: Option<SocketAddr>) {
        let Some(addr) = addr else { return };
        let mut s = self.lock();
        if let Some(id) = s.by_addr.remove(&addr) {
            s.unproved.remove(&id);
        }
        if let Some(f) = s.failures.get_mut(&addr.ip()) {
            f.count = 0;
        }
    }

    /// Forgets a connection that closed.
    pub(crate) fn closed(&self, addr: SocketAddr) {
        let mut s = self.lock();
        if let Some(id) = s.by_addr.remove(&addr) {
            s.unproved.remove(&id);
        }
    }

    /// A request from `addr` failed the secret check: how long to wait
    /// before answering it. Logs at most one summary per [`LOG_EVERY`].
    pub(crate) fn failed(&self, addr: Option<SocketAddr>) -> Duration {
        let Some(addr) = addr else { return MAX_DELAY };
        let now = Instant::now();
        let mut s = self.lock();
        if s.failures.len() >= MAX_TRACKED && !s.failures.contains_key(&addr.ip()) {
            // Forget the stalest address.
            let stalest = s.failures.iter().min_by_key(|(_, f)| f.last).map(|(ip, _)| *ip);
            if let Some(ip) = stalest {
                s.failures.remove(&ip);
            }
        }
        let f = s.failures.entry(addr.ip()).or_default();
        if f.last.is_some_and(|l| now.duration_since(l) > FORGET_AFTER) {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = Some(now);
        let delay = Duration::from_millis(100).saturating_mul(1 << (f.count - 1).min(10)).min(MAX_DELAY);
        s.refused += 1;
        if s.logged.is_none_or(|l| now.duration_since(l) >= LOG_EVERY) {
            tracing::warn!(
                "refused {} request(s) with a wrong or missing secret in the last {} s (latest from {}); answers to \
                 an address are delayed while its failures go on",
                s.refused,
                LOG_EVERY.as_secs(),
                addr.ip()
            );
            s.refused = 0;
            s.logged = Some(now);
        }
        delay
    }

    /// Unproved connections right now.
    #[cfg(test)]
    pub(crate) fn unproved(&self) -> usize {
        self.lock().unproved.len()
    }
}

#[cfg(test)]
mod tests;
