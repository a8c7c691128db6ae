//! The reader of a session's incoming stream: routes every frame to the
//! queue it belongs to.
//!
//! Manifest items and need batches go into stashes sized to the window this
//! side announced, so with an honest peer they never block (a peer that
//! sends beyond its credit is refused). Payload records go into the
//! landing thread's bounded queue, each data record holding its room in
//! the receiving side's [`Budget`] until it is landed: that is where this
//! reader pauses when the destination's disk is slower than the network
//! (at most [`crate::budget::PAYLOAD_IN_FLIGHT`] bytes queued), and the
//! pause reaches the peer through HTTP/2 flow control. Events are handed to
//! the local sink.

use super::bytes::{Held, MANIFEST_BYTES};
use super::Abort;
use crate::budget::Budget;
use crate::convert::{ahead_from_pb, event_from_pb, header_from_pb, item_from_pb};
use crate::error::{error_from_report, peer_gone, protocol};
use crate::frames::Incoming;
use crate::server::{stopped, Cancel, Stop};
use blit_api::{Error, ErrorKind, Events, ManifestItem, NeedBatch, Result};
use blit_proto::pb;
use blit_proto::pb::frame::Body;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Semaphore};
use tokio_stream::StreamExt;

/// A feeder's stash: items from the peer with their wire sizes.
pub(super) type Stash<T> = mpsc::Sender<(T, usize)>;

/// Where incoming frames go. A `None` route refuses its frames.
#[derive(Default)]
pub(super) struct Routes {
    /// Destination: manifest items with their wire sizes (the stash of the
    /// manifest feeder), and the bytes of them not yet taken by the engine.
    pub(super) manifest: Option<(Stash<ManifestItem>, Arc<Held>)>,
    /// Source: need batches (the stash of the need feeder).
    pub(super) need: Option<Stash<NeedBatch>>,
    /// Destination: payload records for the landing thread, and the budget
    /// their data is held in until landed.
    pub(super) payload: Option<(mpsc::Sender<pb::PayloadRecord>, Arc<Budget>)>,
    /// Source, client side: where the daemon's destination events go.
    pub(super) events: Option<Events>,
    /// Source: credit for sending manifest items, and the peer's window.
    pub(super) manifest_credit: Option<(Arc<Semaphore>, u32)>,
    /// Destination: credit for sending need batches, and the peer's window.
    pub(super) need_credit: Option<(Arc<Semaphore>, u32)>,
}

impl Routes {
    /// Drops every route and closes the credit: nothing more arrives.
    fn close(&mut self) {
        for (credit, _) in self.manifest_credit.iter().chain(self.need_credit.iter()) {
            credit.close();
        }
        *self = Routes::default();
    }
}

/// How the incoming stream ended.
#[derive(Debug)]
pub(super) enum End {
    /// The peer's half finished (`Done`).
    PeerDone,
    /// The peer's half failed (`Error`), after closing its streams: this
    /// side finishes its half as usual (the peer waits for its `Done`).
    PeerFailed(Error),
    /// The stream ended early or broke: the peer is gone.
    Lost(Error),
    /// This side refused what the peer sent (or is shutting down); the
    /// peer is told.
    Broken(Error),
    /// The session aborted for another reason.
    Aborted,
}

/// Reads the stream until the peer is done, fails, or breaks the protocol,
/// or `cancel` says stop before this side `finished`. Drops every route
/// when it returns.
pub(super) async fn demux(
    incoming: &mut Incoming,
    mut routes: Routes,
    peer: &str,
    abort: &Abort,
    cancel: &mut Option<Cancel>,
    finished: &Abort,
) -> End {
    let mut watching = true;
    let end = loop {
        let next = tokio::select! {
            biased;
            _ = abort.wait() => break End::Aborted,
            stop = stopped(cancel), if watching => {
                if finished.is_set() {
                    // This side sent its `Done`: what it sent may still be
                    // on its way, and stopping now would only cut it off.
                    watching = false;
                    continue;
                }
                break End::Broken(stop.error())
            }
            next = incoming.next() => next,
        };
        let frame = match next {
            Some(Ok(frame)) => frame,
            None => break End::Lost(peer_gone(peer)),
            // A message over the medium's limit is the peer's fault: tell it.
            Some(Err(e)) if e.kind() == ErrorKind::Protocol => break End::Broken(e),
            Some(Err(e)) => break End::Lost(e),
        };
        match route(frame, &mut routes, peer, abort).await {
            Ok(None) => {}
            Ok(Some(end)) => break end,
            Err(e) => break End::Broken(e),
        }
    };
    routes.close();
    end
}

/// How long a finished side waits for the peer to close its stream.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// After the peer's `Done` or `Error`: watches its stream until it closes.
/// If it closes (or breaks) before this side finished, the peer is gone and
/// the session aborts; once this side finished (`finished`), the peer gets
/// [`CLOSE_WAIT`] to close before the session ends anyway.
///
/// This side may still be at work (a destination landing what the peer
/// sent): a stop on `cancel` before it finished is returned, for the
/// caller to tell the peer and abort; one after it finished ends the wait.
pub(super) async fn tail(
    incoming: &mut Incoming,
    abort: &Abort,
    finished: &Abort,
    cancel: &mut Option<Cancel>,
) -> Option<Stop> {
    let linger = async {
        finished.wait().await;
        tokio::time::sleep(CLOSE_WAIT).await;
    };
    tokio::pin!(linger);
    loop {
        tokio::select! {
            biased;
            _ = abort.wait() => return None,
            _ = &mut linger => return None,
            stop = stopped(cancel) => return (!finished.is_set()).then_some(stop),
            next = incoming.next() => match next {
                // Nothing may follow `Done` or `Error`; ignore it.
                Some(Ok(_)) => {}
                None | Some(Err(_)) => {
                    if !finished.is_set() {
                        abort.trigger();
                    }
                    return None;
                }
            },
        }
    }
}

fn stash<T>(route: Option<&mpsc::Sender<T>>, item: T, what: &str, peer: &str) -> Result<()> {
    match route.map(|tx| tx.try_send(item)) {
        Some(Ok(())) | Some(Err(TrySendError::Closed(_))) => Ok(()),
        Some(Err(TrySendError::Full(_))) => Err(protocol(peer, format!("the peer sent {what} beyond its credit"))),
        None => Err(protocol(peer, format!("the peer sent {what}, which this side does not take"))),
    }
}

fn grant(credit: &Option<(Arc<Semaphore>, u32)>, n: u32, what: &str, peer: &str) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    match credit {
        Some((sem, window)) if !sem.is_closed() && sem.available_permits() + n as usize <= *window as usize => {
            sem.add_permits(n as usize);
            Ok(())
        }
        Some((sem, _)) if sem.is_closed() => Ok(()),
        _ => Err(protocol(peer, format!("the peer granted more {what} credit than its window"))),
    }
}

/// Routes one frame; `Some` when it ends the stream.
async fn route(frame: pb::Frame, routes: &mut Routes, peer: &str, abort: &Abort) -> Result<Option<End>> {
    let bad = |e: Error| protocol(peer, e.to_string());
    let Some(body) = frame.body else { return Err(protocol(peer, "an empty frame")) };
    match body {
        Body::Manifest(m) => {
            let Some((tx, held)) = &routes.manifest else {
                return Err(protocol(peer, "the peer sent manifest items, which this side does not take"));
            };
            for item in m.items {
                let size = item.encoded_len();
                if !held.take_in(size) {
                    return Err(protocol(
                        peer,
                        format!("the peer sent more than {} MiB of manifest beyond its credit", MANIFEST_BYTES >> 20),
                    ));
                }
                stash(Some(tx), (item_from_pb(item).map_err(bad)?, size), "manifest items", peer)?;
            }
        }
        Body::Need(n) => {
            if n.ahead.len() > NeedBatch::MAX_AHEAD {
                return Err(protocol(peer, format!("a need batch of {} hints", n.ahead.len())));
            }
            let files = n.files.into_iter().map(header_from_pb).collect::<Result<Vec<_>>>().map_err(bad)?;
            let ahead = n.ahead.into_iter().map(ahead_from_pb).collect::<Result<Vec<_>>>().map_err(bad)?;
            for hint in &ahead {
                tracing::debug!(peer, file = %hint.header.path, basis_len = hint.basis_len, "the peer hashes an older version");
            }
            stash(routes.need.as_ref(), (NeedBatch { files, ahead }, 0), "need batches", peer)?;
        }
        Body::Payload(p) => {
            let Some((tx, budget)) = &routes.payload else {
                return Err(protocol(peer, "the peer sent payload, which this side does not take"));
            };
            for mut record in p.records {
                if let Some(pb::payload_record::Record::Data(data)) = &mut record.record {
                    let held = tokio::select! {
                        biased;
                        _ = abort.wait() => return Ok(Some(End::Aborted)),
                        held = budget.hold(std::mem::take(data), tx.closed()) => held,
                    };
                    // None: the landing thread stopped (a volume error it reports itself).
                    let Some(held) = held else { break };
                    *data = held;
                }
                tokio::select! {
                    biased;
                    _ = abort.wait() => return Ok(Some(End::Aborted)),
                    sent = tx.send(record) => if sent.is_err() {
                        // The landing thread stopped (a volume error it reports itself).
                        break;
                    },
                }
            }
        }
        Body::Events(e) => {
            let Some(sink) = &routes.events else {
                return Err(protocol(peer, "the peer sent progress events, which this side does not take"));
            };
            for event in e.events {
                sink.emit(event_from_pb(event).map_err(bad)?);
            }
        }
        Body::Credit(c) => {
            grant(&routes.manifest_credit, c.manifest_items, "manifest", peer)?;
            grant(&routes.need_credit, c.need_batches, "need-list", peer)?;
        }
        Body::Close(c) => match pb::Stream::try_from(c.stream) {
            Ok(pb::Stream::Manifest) if routes.manifest.is_some() => routes.manifest = None,
            Ok(pb::Stream::Need) if routes.need.is_some() => routes.need = None,
            Ok(pb::Stream::Payload) if routes.payload.is_some() => routes.payload = None,
            _ => return Err(protocol(peer, format!("the peer closed stream {} that was not open", c.stream))),
        },
        Body::Done(_) => return Ok(Some(End::PeerDone)),
        Body::Error(report) => return Ok(Some(End::PeerFailed(error_from_report(&report, peer)))),
        Body::Open(_) | Body::Opened(_) | Body::DataPlane(_) => {
            return Err(protocol(peer, "a second handshake inside a session"))
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stashes_refuse_overflow_and_unknown_routes() {
        let (tx, rx) = mpsc::channel(2);
        let route = Some(tx);
        stash(route.as_ref(), 1, "items", "p").unwrap();
        stash(route.as_ref(), 2, "items", "p").unwrap();
        let e = stash(route.as_ref(), 3, "items", "p").unwrap_err();
        assert!(e.to_string().contains("beyond its credit"), "{e}");
        drop(rx);
        stash(route.as_ref(), 4, "items", "p").expect("a stopped consumer drops items quietly");
        let e = stash::<u8>(None, 5, "payload", "p").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn credit_never_exceeds_the_window() {
        let sem = Arc::new(Semaphore::new(4));
        let credit = Some((sem.clone(), 4));
        sem.try_acquire_many(3).unwrap().forget();
        grant(&credit, 3, "manifest", "p").unwrap();
        assert_eq!(sem.available_permits(), 4);
        assert!(grant(&credit, 1, "manifest", "p").is_err());
        grant(&credit, 0, "manifest", "p").unwrap();
        assert!(grant(&None, 1, "need-list", "p").is_err());
        sem.close();
        grant(&credit, 9, "manifest", "p").expect("credit after the end is ignored");
    }
}
