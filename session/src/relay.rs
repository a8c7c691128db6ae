//! A copy between two daemons, as the session protocol carries it: the
//! relaying daemon's answer stream ([`relaying`]) and the client that
//! follows it ([`follow`]).
//!
//! The client asks the destination daemon for a one-time grant (`Grant`),
//! then asks the source daemon to push there with it (`Relay`). The source
//! daemon runs an ordinary push ([`crate::client::push`], the one the
//! `blit` command runs) and streams what that push's client sees: `started`
//! with the transport once the session is open, the destination's events,
//! then `done` with the transport report or `error`. [`follow`] turns the
//! stream back into the events and summary a push gives its client,
//! through the same [`SummaryTap`], so the renderer, `--json` and the exit
//! codes treat a relayed copy as a push (the summary's direction is
//! `push`: the source daemon pushes).
//!
//! Every queue is bounded: events wait in the same bounded queue a push's
//! daemon uses for its destination events (an emitter waits while it is
//! full, which pauses the push), and the answer stream holds at most
//! [`FRAME_QUEUE`] messages.

use crate::client::{conclude, planned_transport};
use crate::convert::{event_from_pb, options_from_pb, options_to_pb, Mask};
use crate::error::{error_from_report, peer_gone, protocol, report_from_error};
use crate::frames::FRAME_QUEUE;
use crate::link::{event_pump, EventQueue};
use crate::SessionConfig;
use blit_api::{Direction, Events, ProgressEvent, ProgressSink, Result, TransferOptions, TransferSummary};
use blit_engine::{SummaryTap, TransportReport};
use blit_proto::pb;
use blit_proto::pb::relay_reply::Body;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::{Stream, StreamExt};

/// Longest transport name a relay's `started` may carry.
const MAX_TRANSPORT_NAME: usize = 64;

/// The wire form of a push's options, as `Grant` and `Relay` requests
/// carry them.
pub fn options_to_wire(options: &TransferOptions) -> pb::Options {
    options_to_pb(options)
}

/// The options a `Grant` or `Relay` request carries, validated (a part
/// range that is empty or overflows is [`blit_api::ErrorKind::InvalidInput`]).
pub fn options_from_wire(options: Option<pb::Options>) -> blit_api::Result<TransferOptions> {
    options_from_pb(options)
}

/// The relaying daemon's side of one relay: hand [`Relaying::events`] to
/// the push, then [`Relaying::finish`] with its result. The answer leaves
/// through the receiver [`relaying`] returned.
pub struct Relaying {
    queue: Arc<EventQueue>,
    pump: JoinHandle<()>,
    out: mpsc::Sender<pb::RelayReply>,
    mask: Mask,
}

impl std::fmt::Debug for Relaying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relaying").finish_non_exhaustive()
    }
}

/// Starts the answer of a relay from `module` (served from `dir`, which
/// messages show as `/module`): the sink for the push's events, and the
/// stream of replies for the client.
pub fn relaying(dir: &Path, module: &str) -> (Relaying, mpsc::Receiver<pb::RelayReply>) {
    let (out, replies) = mpsc::channel(FRAME_QUEUE);
    let mask = Mask::module(dir, module);
    let (frames_tx, mut frames_rx) = mpsc::channel(FRAME_QUEUE);
    let (queue, pump) = event_pump(frames_tx, mask.clone());
    let to_client = out.clone();
    let pump = tokio::spawn(async move {
        // When the client stops reading, the frames stop being taken, the
        // pump's send fails and it closes the queue: emitters never wait.
        let forward = async move {
            while let Some(frame) = frames_rx.recv().await {
                if let Some(pb::frame::Body::Events(events)) = frame.body {
                    if to_client.send(pb::RelayReply { body: Some(Body::Events(events)) }).await.is_err() {
                        return;
                    }
                }
            }
        };
        tokio::join!(pump, forward);
    });
    (Relaying { queue, pump, out, mask }, replies)
}

impl Relaying {
    /// The sink to hand to the push (its [`SummaryTap`]'s inner sink).
    pub fn events(&self) -> Events {
        Arc::new(RelaySink { queue: self.queue.clone(), out: self.out.clone() })
    }

    /// Resolves once the client stopped reading the answer.
    pub async fn gone(&self) {
        self.out.closed().await;
    }

    /// Sends what is still queued, then `done` or the (masked) error.
    pub async fn finish(self, result: Result<TransferSummary>) {
        self.queue.close();
        let _ = self.pump.await;
        let body = match result {
            Ok(summary) => Body::Done(report_to_pb(&summary)),
            Err(e) => Body::Error(report_from_error(&self.mask.error(&e))),
        };
        let _ = self.out.send(pb::RelayReply { body: Some(body) }).await;
    }
}

/// The push's events on their way to the client. `Started` is always the
/// first event a push's tap emits, so when it arrives nothing else has
/// been queued or sent and the answer stream is empty: it goes straight
/// there as `started` and keeps its place. The terminal events stay here:
/// `finish` sends the outcome.
struct RelaySink {
    queue: Arc<EventQueue>,
    out: mpsc::Sender<pb::RelayReply>,
}

impl ProgressSink for RelaySink {
    fn emit(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Started { transport, .. } => {
                let _ = self.out.try_send(pb::RelayReply { body: Some(Body::Started(transport)) });
            }
            ProgressEvent::Finished { .. } | ProgressEvent::Failed { .. } => {}
            event => self.queue.emit(event),
        }
    }
}

/// The wire form of what carried a push's payload.
fn report_to_pb(s: &TransferSummary) -> pb::RelayDone {
    pb::RelayDone {
        transport: s.transport.clone(),
        streams: s.streams,
        chunk_size: s.chunk_size,
        compression: s.compression.clone(),
        tuning: s.tuning.clone(),
        fallback: s.fallback.clone(),
        wire_bytes: s.wire_bytes,
    }
}

/// What carried a relayed push's payload, with every text bounded.
fn report_from_pb(d: pb::RelayDone) -> TransportReport {
    let mut report = TransportReport::new(short(d.transport));
    report.streams = d.streams;
    report.chunk_size = d.chunk_size;
    report.compression = short(d.compression);
    report.tuning = short(d.tuning);
    report.fallback = d.fallback.map(crate::error::bounded);
    report.wire_bytes = d.wire_bytes;
    report
}

/// A name from the peer, cut to [`MAX_TRANSPORT_NAME`] characters.
fn short(name: String) -> String {
    name.chars().take(MAX_TRANSPORT_NAME).collect()
}

/// A relay's answer as the medium delivers it.
pub type Replies = Pin<Box<dyn Stream<Item = Result<pb::RelayReply>> + Send>>;

/// Follows a relay's answer from the source daemon `peer`: tells `events`
/// exactly what a push tells its client (`Started` first, the
/// destination's events, one terminal event) and returns the summary.
pub async fn follow(
    mut replies: Replies,
    config: &SessionConfig,
    dry_run: bool,
    peer: &str,
    events: Events,
) -> Result<TransferSummary> {
    let tap = SummaryTap::pending(events, Direction::Push, planned_transport(config), dry_run);
    let result = async {
        while let Some(reply) = replies.next().await.transpose()? {
            match reply.body {
                Some(Body::Started(transport)) => tap.announce(&short(transport)),
                Some(Body::Events(batch)) => {
                    for event in batch.events {
                        tap.emit(event_from_pb(event).map_err(|e| protocol(peer, e.to_string()))?);
                    }
                }
                Some(Body::Done(done)) => {
                    tap.set_transport(&report_from_pb(done));
                    return Ok(());
                }
                Some(Body::Error(report)) => return Err(error_from_report(&report, peer)),
                None => return Err(protocol(peer, "an empty relay reply")),
            }
        }
        Err(peer_gone(peer))
    }
    .await;
    conclude(&tap, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{ErrorKind, FileKind, RecordingSink, RelPath};

    fn done(path: &str) -> ProgressEvent {
        ProgressEvent::FileDone {
            path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
            kind: FileKind::File,
            bytes: 3,
        }
    }

    /// What the relaying side sends is what the following side tells, in
    /// order, with the summary counted from it.
    #[tokio::test]
    async fn a_relayed_push_reads_as_a_push() {
        let dir = tempfile::tempdir().unwrap();
        let (relay, replies) = relaying(dir.path(), "m");
        let sink = relay.events();
        let tap = SummaryTap::pending(sink, Direction::Push, "tcp", false);
        tap.announce("grpc");
        tap.emit(done("a"));
        tap.emit(done("b"));
        let mut summary = tap.finish();
        summary.streams = 3;
        relay.finish(Ok(summary)).await;
        let replies = Box::pin(tokio_stream::wrappers::ReceiverStream::new(replies).map(Ok));
        let seen = RecordingSink::new();
        let got = follow(replies, &SessionConfig::default(), false, "src:1", seen.clone()).await.unwrap();
        assert_eq!((got.entries_transferred, got.bytes_transferred, got.streams), (2, 6, 3));
        assert_eq!(got.transport, "grpc");
        let events = seen.events();
        assert!(
            matches!(&events[0], ProgressEvent::Started { transport, direction: Direction::Push, .. } if transport == "grpc")
        );
        assert_eq!(events[1..3], [done("a"), done("b")]);
        assert!(matches!(events.last(), Some(ProgressEvent::Finished { .. })));
        assert_eq!(events.len(), 4);
    }

    #[tokio::test]
    async fn an_error_is_masked_and_names_the_source_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let (relay, replies) = relaying(dir.path(), "m");
        let secret = dir.path().join("x").display().to_string();
        relay.finish(Err(blit_api::Error::new(ErrorKind::NotFound, format!("{secret} is gone")))).await;
        let replies = Box::pin(tokio_stream::wrappers::ReceiverStream::new(replies).map(Ok));
        let seen = RecordingSink::new();
        let e = follow(replies, &SessionConfig::default(), false, "src:1", seen.clone()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().starts_with("src:1") && e.to_string().contains("/m/x is gone"), "{e}");
        assert!(!e.to_string().contains(&secret), "{e}");
        assert!(matches!(seen.events().last(), Some(ProgressEvent::Failed { .. })));
    }

    #[tokio::test]
    async fn an_answer_that_stops_early_is_an_error() {
        let replies: Replies =
            Box::pin(tokio_stream::iter(vec![Ok(pb::RelayReply { body: Some(Body::Started("tcp".into())) })]));
        let e = follow(replies, &SessionConfig::default(), false, "src:1", RecordingSink::new()).await.unwrap_err();
        assert!(e.to_string().starts_with("src:1"), "{e}");
    }
}
