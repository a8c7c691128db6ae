//! What one peer may hold: a session slot, an idle clock, a deadline for its
//! first bytes.
//!
//! - **Sessions.** At most [`DaemonConfig::max_sessions`] transfers run at
//!   once; the next `Transfer` is refused at once with `RESOURCE_EXHAUSTED`
//!   ("blitd is busy (N sessions); retry later"), which clients map to the
//!   retryable kind `io`. A slot is taken before the daemon reads `Open` and
//!   given back when the session's reader stops.
//! - **Idle sessions.** A session in which the daemon has had nothing to send
//!   for [`DaemonConfig::idle_timeout`] is ended. In this protocol the daemon
//!   answers everything a working peer does (credit for manifest items,
//!   events for landed bytes, payload for need batches), so "nothing to
//!   send" means the peer stopped sending, or stopped reading what it asked
//!   for. The clock starts with `Opened`; a peer that never sends `Open` is
//!   refused after the same time (at most 10 s). Only frames of the session
//!   stream count: a payload carried elsewhere (a TCP data plane) must
//!   also keep the clock going, or a long pull whose control stream is
//!   quiet would be taken for idle.
//! - **Silent connections.** A TCP connection must send its first bytes
//!   within [`FIRST_BYTES`] (or the idle timeout, when shorter) of being
//!   accepted, or it is closed before the HTTP/2 server ever sees it.
//!
//! [`DaemonConfig::max_sessions`]: crate::DaemonConfig::max_sessions
//! [`DaemonConfig::idle_timeout`]: crate::DaemonConfig::idle_timeout

// Refusals are `tonic::Status` because tonic handlers return them.
#![allow(clippy::result_large_err)]

use crate::gate::Gate;
use crate::jobs::Registration;
use crate::tls::{Conn, Guarded};
use blit_api::{Error, ErrorKind};
use blit_proto::pb;
use blit_transport_grpc::server::{Cancel, Stop, TransferStream};
use blit_transport_grpc::status_from_error;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::Stream;
use tonic::Status;

/// How long an accepted connection may stay silent before it is closed.
pub(crate) const FIRST_BYTES: Duration = Duration::from_secs(10);

/// How many sessions run, shared by the daemon and whoever watches it.
/// Clones share the count. Tests wait on it instead of sleeping (a session
/// ends when its reader stops, a moment after its client saw the end).
#[derive(Debug, Clone)]
pub struct Running(Arc<watch::Sender<usize>>);

impl Default for Running {
    fn default() -> Self {
        Running(Arc::new(watch::channel(0).0))
    }
}

/// A watch, not a setting: any two compare equal, so configurations that
/// differ only in whom they report to are the same configuration.
impl PartialEq for Running {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Running {}

impl Running {
    /// Sessions running now.
    pub fn now(&self) -> usize {
        *self.0.borrow()
    }

    /// Resolves once no session runs.
    pub async fn idle(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`: this only returns when idle.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// Counts running sessions against the limit.
#[derive(Debug)]
pub(crate) struct Sessions {
    running: Running,
    max: usize,
}

/// One taken session slot; dropping it gives the slot back.
#[derive(Debug)]
pub(crate) struct Slot(Running);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0 .0.send_modify(|n| *n -= 1);
    }
}

impl Sessions {
    pub(crate) fn new(max: usize, running: Running) -> Self {
        Sessions { running, max }
    }

    /// A slot, or the busy refusal when `max` sessions run.
    pub(crate) fn take(&self) -> Result<Slot, Status> {
        let mut seen = 0;
        let taken = self.running.0.send_if_modified(|n| {
            seen = *n;
            let room = *n < self.max;
            if room {
                *n += 1;
            }
            room
        });
        if taken {
            return Ok(Slot(self.running.clone()));
        }
        tracing::warn!("refused a session: {seen} sessions run (max_sessions = {})", self.max);
        Err(busy(seen))
    }
}

/// The refusal beyond the session limit: `RESOURCE_EXHAUSTED`, which a
/// client maps to the retryable kind `io`.
fn busy(running: usize) -> Status {
    Status::resource_exhausted(format!(
        "blitd is busy ({running} sessions); retry later (the daemon's max_sessions limit)"
    ))
}

/// The error of a session that stayed idle.
pub(crate) fn idle_error(idle: Duration) -> Error {
    Error::new(ErrorKind::Io, format!("the session was idle for {} s; blitd closed it", idle.as_secs_f64())).with_hint(
        "rerun the transfer; if the client is busy for longer (checksums of huge files), raise blitd's idle_timeout",
    )
}

/// The status of a session that never sent `Open`.
pub(crate) fn no_open(limit: Duration) -> Status {
    status_from_error(&Error::new(ErrorKind::Protocol, format!("no `Open` within {} s", limit.as_secs_f64())))
}

/// When the daemon last had something to send, in ms since `base`.
#[derive(Debug)]
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
    idle_fired: AtomicBool,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Watches one session: ends it after `idle` without an outgoing frame,
/// when the daemon shuts down, or when `Cancel` names its `job`; holds its
/// slot and its registration until its reader stops.
///
/// Returns the `cancel` receiver to hand to the session and the wrapper for
/// its response stream.
pub(crate) fn watch_session(
    slot: Slot,
    mut job: Registration,
    idle: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> (Cancel, impl FnOnce(TransferStream) -> TransferStream) {
    let (cancel_tx, cancel_rx) = watch::channel(None);
    let activity = Arc::new(Activity { base: Instant::now(), last_ms: AtomicU64::new(0), idle_fired: false.into() });
    let watched = activity.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let stop = loop {
            let deadline = watched.last() + idle;
            tokio::select! {
                // Every receiver is gone: the session's reader stopped.
                _ = cancel_tx.closed() => return,
                stopped = async { shutdown.wait_for(|stop| *stop).await.is_ok() } => {
                    if stopped {
                        break Stop::Shutdown;
                    }
                    // The daemon is gone: wait for the end.
                    cancel_tx.closed().await;
                    return;
                }
                _ = job.cancelled() => {
                    tracing::info!("cancelling job {} (blit jobs --cancel)", job.id());
                    break Stop::Cancelled;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if watched.last() + idle <= Instant::now() {
                        tracing::warn!("ending a session idle for {} s", idle.as_secs_f64());
                        watched.idle_fired.store(true, Ordering::Release);
                        // The response stream tells the client it was idle.
                        break Stop::Shutdown;
                    }
                }
            }
        };
        cancel_tx.send_replace(Some(stop));
        cancel_tx.closed().await;
    });
    let wrap =
        move |inner: TransferStream| -> TransferStream { Box::pin(Watched { inner: Some(inner), activity, idle }) };
    (cancel_rx, wrap)
}

/// A session's response stream that records every outgoing frame and, once
/// the session was ended for idleness, ends with that error.
struct Watched {
    inner: Option<TransferStream>,
    activity: Arc<Activity>,
    idle: Duration,
}

impl Stream for Watched {
    type Item = Result<pb::Frame, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.inner.is_some() && self.activity.idle_fired.load(Ordering::Acquire) {
            self.inner = None;
            return Poll::Ready(Some(Err(status_from_error(&idle_error(self.idle)))));
        }
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let next = inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(_)) = &next {
            self.activity.touch();
        }
        next
    }
}

/// Accepts connections and hands on those that send their first bytes
/// within `first_bytes` (at most [`FIRST_BYTES`]); the others are closed.
/// Every connection is registered with `gate` at accept: until a request on
/// it authenticates, the gate may close it (handshake deadline, caps on
/// unauthenticated connections; see `gate`). Stops when `quit` turns true.
///
/// With `tls`, the TLS handshake must also finish within `first_bytes`; a
/// connection that fails it (a client without `--tls`, a wrong CA) is
/// closed and logged.
pub(crate) fn accept_speaking(
    listener: TcpListener,
    mut quit: watch::Receiver<bool>,
    first_bytes: Duration,
    tls: Option<blit_tls::ServerTls>,
    gate: Arc<Gate>,
) -> mpsc::Receiver<std::io::Result<Guarded>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = quit.wait_for(|q| *q) => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, addr) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: back off a little.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let kill = gate.admit(addr);
            let (tx, tls, gate) = (tx.clone(), tls.clone(), gate.clone());
            tokio::spawn(async move {
                let opened = tokio::select! {
                    _ = kill.killed() => return,
                    opened = open(stream, addr, first_bytes, tls) => opened,
                };
                match opened {
                    Some(conn) => {
                        let _ = tx.send(Ok(Guarded { conn, kill, gate, addr })).await;
                    }
                    None => gate.closed(addr),
                }
            });
        }
    });
    rx
}

/// Waits for the first bytes of `stream` and runs the TLS handshake when
/// asked; `None` when either fails or takes longer than `first_bytes`.
async fn open(
    stream: tokio::net::TcpStream,
    addr: std::net::SocketAddr,
    first_bytes: Duration,
    tls: Option<blit_tls::ServerTls>,
) -> Option<Conn> {
    // `peek` waits for real bytes (or the end); `readable` may wake early.
    match tokio::time::timeout(first_bytes, stream.peek(&mut [0u8; 1])).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::debug!("{addr}: {e}");
            return None;
        }
        Err(_) => {
            tracing::debug!("closed a connection from {addr} that sent nothing for {} s", first_bytes.as_secs_f64());
            return None;
        }
    }
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("{addr}: TCP_NODELAY: {e}");
    }
    let Some(tls) = tls else { return Some(Conn::Plain(stream)) };
    match tokio::time::timeout(first_bytes, tls.accept(stream)).await {
        Ok(Ok(stream)) => Some(Conn::Tls(Box::new(stream))),
        Ok(Err(e)) => {
            tracing::info!("{addr}: TLS handshake failed: {e} (a client without --tls?)");
            None
        }
        Err(_) => {
            tracing::info!("{addr}: no TLS handshake within {} s", first_bytes.as_secs_f64());
            None
        }
    }
}

/// Raises the open-file soft limit to the hard limit, so that connections
/// (real clients' data-plane streams above all) are not refused for want
/// of descriptors long before the daemon's own caps apply. Returns the
/// limit now in force, `None` when it cannot be read.
pub fn raise_open_files() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    // No hard limit (`None`): the kernel's own ceiling, `fs.nr_open`.
    let hard = limit.maximum.unwrap_or(1 << 20);
    match limit.current {
        Some(soft) if soft < hard => {
            match setrlimit(Resource::Nofile, Rlimit { current: Some(hard), maximum: limit.maximum }) {
                Ok(()) => Some(hard),
                Err(e) => {
                    tracing::warn!("could not raise the open-file limit from {soft} to {hard}: {e}");
                    Some(soft)
                }
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_limit_refuses_with_a_retryable_busy_error() {
        let running = Running::default();
        let sessions = Sessions::new(2, running.clone());
        let a = sessions.take().unwrap();
        let b = sessions.take().unwrap();
        assert_eq!(running.now(), 2);
        let status = sessions.take().unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains("blitd is busy (2 sessions); retry later"), "{status:?}");
        let e = blit_transport_grpc::error_from_status(&status, "h:1");
        assert!(e.is_retryable(), "{e}");
        assert_eq!(running.now(), 2, "a refusal takes nothing");
        drop(a);
        let _c = sessions.take().expect("a slot is free again");
        drop(b);
        assert_eq!(running.now(), 1);
    }

    #[tokio::test]
    async fn idle_resolves_when_the_last_session_ends() {
        let running = Running::default();
        let sessions = Sessions::new(4, running.clone());
        let slot = sessions.take().unwrap();
        let waiting = tokio::spawn({
            let running = running.clone();
            async move { running.idle().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "a session still runs");
        drop(slot);
        tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
    }
}
