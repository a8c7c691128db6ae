//! One side of a transfer session: runs the engine's source or destination
//! half over the session's bidirectional stream.
//!
//! Push and pull differ only in which side runs which half; the halves are
//! [`blit_engine::run_source`] and [`blit_engine::run_destination`], the same
//! code a local transfer runs. This module only supplies their channels:
//!
//! - The source half's walker fills the engine's manifest channel; a pump
//!   sends it in `Manifest` frames within the peer's credit. Its payload
//!   ([`GrpcTransport`] sending half) goes out in `Payload` frames. Need
//!   batches from the peer reach the engine's need channel through a feeder.
//! - The destination half gets manifest items through a feeder and payload
//!   records through the landing thread's queue; its need batches go out in
//!   `Need` frames within the peer's credit, and (on the daemon) its events
//!   in `Events` frames.
//!
//! # Back-pressure without deadlock
//!
//! Both directions share one ordered stream, so a reader that blocked on one
//! queue would stall everything behind it. Manifest items and need batches
//! therefore flow under credit: each side announces a window (`Open` /
//! `Opened`) and grants more as its engine takes items, so the reader always
//! has room for them and never blocks. The one place a reader pauses is the
//! payload queue of the destination, which only waits for its disk. When the
//! destination's need list backs up, it grants no more manifest credit and
//! the source's walker stops; when the source's payload backs up, it grants
//! no more need credit and the destination's judge waits. Every queue is
//! bounded, and payload data also by bytes (the `budget` module) on both
//! sides.
//!
//! # Ending
//!
//! Each side closes its logical streams (`Close`), then sends `Done` when
//! its half succeeded or `Error` when it failed, and waits for the peer's
//! `Done` or `Error`. Once the peer's stream ends, this side's queues from
//! the peer close and its credit stops, so its half always finishes; after a
//! peer's `Error` it finishes normally (a failed walk still lets the
//! destination set directory metadata, exactly as in a local run). A broken
//! connection or a protocol violation aborts the session instead: every pump
//! stops, the engine's channels close and the half returns at once.

mod bytes;
mod demux;
mod events;
mod pumps;

use crate::budget::{Budget, PAYLOAD_IN_FLIGHT};
use crate::convert::Mask;
use crate::error::report_from_error;
use crate::frames::{FrameSender, Incoming};
use crate::plane::{DataPlane, InStream};
use crate::transport::{GrpcTransport, RECORD_QUEUE};
use blit_api::{
    manifest_channel, manifest_channel_holding, need_channel, Error, ErrorKind, Events, Result, TransferOptions,
};
use blit_engine::{run_destination, run_source, DestinationRoles, SourceRoles};
use blit_proto::pb;
use bytes::Held;
use demux::{demux, tail, End, Routes};
pub(crate) use events::EventQueue;
use pumps::{feed, forward_events, forward_manifest, forward_needs, forward_payload, Grant};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};

/// Manifest items queued for a destination's engine after the feeder took
/// them from the stash (at most 256 times the largest header, ~12 MiB).
const DESTINATION_MANIFEST_QUEUE: usize = 256;

/// Room a side keeps for what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Manifest items (destination side).
    pub(crate) manifest_items: u32,
    /// Need batches (source side).
    pub(crate) need_batches: u32,
    /// As the source, takes hints that the destination hashes an older
    /// version ([`blit_api::NeedBatch::ahead`]).
    pub(crate) takes_ahead: bool,
}

impl Window {
    /// What this build announces.
    pub(crate) const OURS: Window = Window { manifest_items: 4096, need_batches: 2, takes_ahead: true };

    pub(crate) fn to_pb(self) -> pb::Window {
        pb::Window {
            manifest_items: self.manifest_items,
            need_batches: self.need_batches,
            takes_ahead: self.takes_ahead,
        }
    }

    /// The peer's window, refused when zero or absurd.
    pub(crate) fn from_pb(w: Option<pb::Window>) -> Result<Window> {
        let w = w.unwrap_or_default();
        if !(1..=65_536).contains(&w.manifest_items) || !(1..=64).contains(&w.need_batches) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("an invalid window ({} manifest items, {} need batches)", w.manifest_items, w.need_batches),
            ));
        }
        Ok(Window { manifest_items: w.manifest_items, need_batches: w.need_batches, takes_ahead: w.takes_ahead })
    }
}

/// Set once when the session must stop.
#[derive(Debug, Clone)]
pub(crate) struct Abort(Arc<watch::Sender<bool>>);

impl Abort {
    fn new() -> Self {
        Abort(Arc::new(watch::channel(false).0))
    }

    fn trigger(&self) {
        self.0.send_replace(true);
    }

    fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the session aborts.
    async fn wait(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`, so this only returns on abort.
        let _ = rx.wait_for(|set| *set).await;
    }
}

/// A bounded queue for events and the pump that sends them to `out` in
/// batched, masked `Events` frames, as the daemon of a push sends its
/// destination's events. The pump ends once the queue is closed and
/// drained, or `out` is gone (then it closes the queue, so emitters never
/// wait for it).
pub(crate) fn event_pump(out: FrameSender, mask: Mask) -> (Arc<EventQueue>, impl Future<Output = ()>) {
    let queue = Arc::new(EventQueue::default());
    (queue.clone(), forward_events(queue, out, mask, Abort::new()))
}

/// Which half this side runs.
pub(crate) enum Half {
    /// The source half. `replay` receives the peer's destination events (the
    /// client of a push); `None` on the daemon.
    Source { roles: SourceRoles, replay: Option<Events> },
    /// The destination half. `events` receives its events (the client of a
    /// pull); `None` sends them to the peer (the daemon of a push).
    Destination { roles: DestinationRoles, events: Option<Events> },
}

/// What both halves need to know about the session.
pub(crate) struct Session {
    /// The peer, for messages (`host:port`, or `client ADDR` on the daemon).
    pub(crate) peer: String,
    /// What the user asked for.
    pub(crate) options: TransferOptions,
    /// The window the peer announced.
    pub(crate) peer_window: Window,
    /// Hides module directories in outgoing messages (daemon only).
    pub(crate) mask: Mask,
    /// Says stop when the daemon shuts down or cancels the session.
    pub(crate) cancel: Option<crate::server::Cancel>,
    /// The negotiated data plane, which carries the payload instead of
    /// `Payload` frames; `None` for in-stream payloads.
    pub(crate) payload: Option<Arc<dyn DataPlane>>,
}

/// Runs this side's half over the stream until both sides are done.
pub(crate) async fn run(incoming: Incoming, out: FrameSender, half: Half, session: Session) -> Result<()> {
    let abort = Abort::new();
    let Session { peer, options, peer_window, mask, cancel, payload } = session;
    // While the data plane carries the payload this stream may fall silent
    // for long; a keep-alive keeps idle watchers from ending the session,
    // and an abort shuts the data connections so neither half waits on them.
    let watcher = payload.clone().map(|plane| {
        let abort = abort.clone();
        tokio::spawn(async move {
            abort.wait().await;
            plane.close();
        })
    });
    let keepalive = payload.is_some().then(|| keepalive(out.clone(), abort.clone()));
    let result =
        run_half(incoming, out, half, (peer, options, peer_window, mask, cancel), payload, keepalive, &abort).await;
    if let Some(w) = watcher {
        w.abort();
    }
    result
}

/// A credit of nothing every [`KEEPALIVE`]: a valid frame that changes no
/// state. Runs until dropped.
async fn keepalive(out: FrameSender, abort: Abort) {
    loop {
        tokio::time::sleep(KEEPALIVE).await;
        let credit = pb::frame::Body::Credit(pb::Credit { manifest_items: 0, need_batches: 0 });
        if !pumps::send(&out, credit, &abort).await {
            return;
        }
    }
}

/// How often a session whose payload is on the data plane sends a keep-alive.
const KEEPALIVE: Duration = Duration::from_secs(20);

type SessionParts = (String, TransferOptions, Window, Mask, Option<crate::server::Cancel>);

async fn run_half(
    incoming: Incoming,
    out: FrameSender,
    half: Half,
    (peer, options, peer_window, mask, cancel): SessionParts,
    payload: Option<Arc<dyn DataPlane>>,
    keepalive: Option<impl Future<Output = ()>>,
    abort: &Abort,
) -> Result<()> {
    let mut routes = Routes::default();
    let (record_tx, record_rx) = mpsc::channel(RECORD_QUEUE);
    // The destination's engine queue is short: what it holds is not counted
    // in the manifest's byte credit ([`bytes`]), so its item count bounds it.
    let (manifest_tx, manifest_rx) = match &half {
        Half::Destination { .. } => manifest_channel_holding(DESTINATION_MANIFEST_QUEUE),
        Half::Source { .. } => manifest_channel(),
    };
    let (need_tx, need_rx) = need_channel();
    let a = || abort.clone();
    match half {
        Half::Source { roles, replay } => {
            let (stash_tx, stash_rx) = mpsc::channel(Window::OURS.need_batches as usize);
            let credit = Arc::new(Semaphore::new(peer_window.manifest_items as usize));
            routes.need = Some(stash_tx);
            routes.events = replay;
            routes.manifest_credit = Some((credit.clone(), peer_window.manifest_items));
            let plane: Arc<dyn DataPlane> = match &payload {
                Some(plane) => {
                    // No records go in-stream: the payload pump closes at once.
                    drop(record_tx);
                    plane.clone()
                }
                None => Arc::new(InStream::new(GrpcTransport::sending(record_tx, &peer, mask.clone()))),
            };
            let transport = plane.transport();
            // Boxed: the engine's futures are large, and debug builds copy them
            // through every poll frame of the caller's stack.
            let work =
                with_keepalive(Box::pin(run_source(roles, transport, &options, manifest_tx, need_rx)), keepalive);
            let manifest = forward_manifest(manifest_rx, credit, out.clone(), mask.clone(), a());
            let payload = forward_payload(record_rx, out.clone(), a());
            let needs = feed(stash_rx, need_tx, (Grant::NeedBatches, 1, None), out.clone(), a());
            let pumps = async move {
                tokio::join!(manifest, payload, needs);
            };
            drive(work, pumps, incoming, routes, out, &peer, &mask, abort, cancel).await
        }
        Half::Destination { roles, events } => {
            let (stash_tx, stash_rx) = mpsc::channel(Window::OURS.manifest_items as usize);
            let credit = Arc::new(Semaphore::new(peer_window.need_batches as usize));
            let held = Arc::new(Held::default());
            routes.manifest = Some((stash_tx, held.clone()));
            routes.payload = Some((record_tx, Budget::new(PAYLOAD_IN_FLIGHT)));
            routes.need_credit = Some((credit.clone(), peer_window.need_batches));
            let (sink, queue): (Events, _) = match events {
                Some(events) => (events, None),
                None => {
                    let queue = Arc::new(EventQueue::default());
                    (queue.clone(), Some(queue))
                }
            };
            let plane: Arc<dyn DataPlane> = match &payload {
                Some(plane) => {
                    // Stray `Payload` frames find their queue closed and are dropped.
                    drop(record_rx);
                    plane.clone()
                }
                None => Arc::new(InStream::new(GrpcTransport::receiving(record_rx, &peer))),
            };
            let transport = plane.transport();
            let forward = queue.clone().map(|q| forward_events(q, out.clone(), mask.clone(), a()));
            let every = Window::OURS.manifest_items / 8;
            let needs = forward_needs(need_rx, credit, peer_window.takes_ahead, out.clone(), a());
            let manifest = feed(stash_rx, manifest_tx, (Grant::ManifestItems, every, Some(held)), out.clone(), a());
            let pumps = async move {
                let events = async {
                    if let Some(forward) = forward {
                        forward.await;
                    }
                };
                tokio::join!(needs, manifest, events);
            };
            let work = async {
                let run = Box::pin(run_destination(roles, transport, &options, manifest_rx, need_tx, sink));
                let result = with_keepalive(run, keepalive).await;
                if let Some(queue) = &queue {
                    queue.close();
                }
                result.map(|_deleted| ())
            };
            drive(work, pumps, incoming, routes, out, &peer, &mask, abort, cancel).await
        }
    }
}

/// `work`, with `keepalive` running beside it until it finishes.
async fn with_keepalive<T>(work: impl Future<Output = T>, keepalive: Option<impl Future<Output = ()>>) -> T {
    match keepalive {
        None => work.await,
        Some(keepalive) => {
            tokio::pin!(work);
            tokio::select! {
                result = &mut work => return result,
                () = keepalive => {}
            }
            work.await
        }
    }
}

/// Runs the half and its pumps beside the reader, ends the session, and
/// decides its result.
#[allow(clippy::too_many_arguments)]
async fn drive(
    work: impl Future<Output = Result<()>>,
    pumps: impl Future<Output = ()>,
    mut incoming: Incoming,
    routes: Routes,
    out: FrameSender,
    peer: &str,
    mask: &Mask,
    abort: &Abort,
    cancel: Option<crate::server::Cancel>,
) -> Result<()> {
    let finished = Abort::new();
    let finish_out = out.clone();
    let side = async {
        let (result, ()) = tokio::join!(work, pumps);
        if !abort.is_set() {
            let body = match &result {
                Ok(()) => pb::frame::Body::Done(pb::Done {}),
                Err(e) => pb::frame::Body::Error(report_from_error(&mask.error(e))),
            };
            pumps::send(&finish_out, body, abort).await;
        }
        drop(finish_out);
        finished.trigger();
        result
    };
    // Held until the reader ends, so the daemon's watcher sees the session
    // (its slot, its job) until then, and may stop it while it still lands.
    let mut cancel = cancel;
    let reader = async {
        let mut end = demux(&mut incoming, routes, peer, abort, &mut cancel, &finished).await;
        match &end {
            End::PeerDone | End::PeerFailed(_) => {
                // A weak handle: the stream closes once `side` lets go of its sender.
                let weak = out.downgrade();
                drop(out);
                if let Some(stop) = tail(&mut incoming, abort, &finished, &mut cancel).await {
                    end = End::Broken(stop.error());
                    if let Some(out) = weak.upgrade() {
                        tell(&out, mask, &stop.error()).await;
                    }
                    abort.trigger();
                }
            }
            End::Broken(e) => {
                tell(&out, mask, e).await;
                abort.trigger();
            }
            End::Lost(_) | End::Aborted => abort.trigger(),
        }
        end
    };
    let (result, end) = tokio::join!(side, reader);
    outcome(result, end)
}

/// Sends the peer this side's fatal error `e`; best effort: a peer that
/// stopped reading is not waited for long.
async fn tell(out: &FrameSender, mask: &Mask, e: &Error) {
    let body = pb::frame::Body::Error(report_from_error(&mask.error(e)));
    let _ = tokio::time::timeout(Duration::from_secs(1), out.send(pb::Frame { body: Some(body) })).await;
}

/// The session's result: a real local error wins over the peer's, the
/// peer's over a local cancellation it caused. A peer that stopped the
/// session on purpose (blitd shutting down, a transfer cancelled with
/// `blit jobs --cancel`) is the cause of whatever broke here since (its
/// closed data connections), so its word wins.
fn outcome(local: Result<()>, end: End) -> Result<()> {
    match end {
        End::PeerDone => local,
        End::Broken(e) => Err(e),
        End::PeerFailed(e) if e.kind() == ErrorKind::Cancelled => Err(e),
        End::PeerFailed(e) | End::Lost(e) => match local {
            Err(l) if l.kind() != ErrorKind::Cancelled => Err(l),
            _ => Err(e),
        },
        End::Aborted => local.and(Err(Error::new(ErrorKind::Cancelled, "the session was aborted"))),
    }
}
