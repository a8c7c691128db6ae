//! The payload's carriers. A session hands the engine's half a
//! [`DataPlane`]: the session's own stream (payload records in `Payload`
//! frames, [`InStream`]) unless the two sides negotiated another.
//!
//! With the `tcp-data-plane` feature the daemon offers the TCP data plane
//! (`blit-transport-tcp`) in `Opened`: a port on the address the client's
//! control connection arrived on, and a one-time token. The client opens
//! the data connections and answers `DataPlane` (ready, or fallback with
//! the reason) as its first frame after `Opened`; the daemon waits for that
//! answer and for the connections before it runs its half. Manifest, need
//! list, events and the end of the session stay on the session's stream.
//! Without the feature, the stub answers as a build without a data plane
//! must: `auto` falls back, `tcp` is refused.

use crate::transport::GrpcTransport;
use blit_api::PayloadTransport;
use blit_engine::TransportReport;
use std::sync::Arc;

#[cfg(not(feature = "tcp-data-plane"))]
mod disabled;
#[cfg(feature = "tcp-data-plane")]
mod tcp;

#[cfg(not(feature = "tcp-data-plane"))]
pub(crate) use disabled::*;
#[cfg(feature = "tcp-data-plane")]
pub(crate) use tcp::*;

/// A payload mover a session runs its half over. The session owns
/// everything else (manifest, need list, events, the end); a data plane
/// only moves the payload records (`blit_api::RecordWriter`, `blit_api::Lander`).
pub trait DataPlane: Send + Sync + std::fmt::Debug {
    /// The payload transport this side's half uses.
    fn transport(&self) -> Arc<dyn PayloadTransport>;
    /// Stops moving bytes at once (the session aborted), so neither half
    /// waits on the carrier.
    fn close(&self);
    /// Streams, chunk size and compression, once the payload ran.
    fn report(&self) -> TransportReport;
}

/// The session's own stream as the carrier: payload records travel in
/// `Payload` frames between the other frames.
#[derive(Debug)]
pub struct InStream(Arc<GrpcTransport>);

impl InStream {
    /// Carries `transport`'s records.
    pub(crate) fn new(transport: GrpcTransport) -> Self {
        InStream(Arc::new(transport))
    }
}

impl DataPlane for InStream {
    fn transport(&self) -> Arc<dyn PayloadTransport> {
        self.0.clone()
    }

    /// The session's stream closes with the session.
    fn close(&self) {}

    /// Without a fallback reason: the client, which knows it, reports an
    /// in-stream session with `in_stream_report`.
    fn report(&self) -> TransportReport {
        in_stream_report(None)
    }
}

/// What the client does after `Opened`.
#[derive(Debug)]
pub(crate) enum ClientPlane {
    /// No data plane was asked for: in-stream payloads.
    InStream,
    /// The data connections are open: send `answer`, then use `plane`.
    #[cfg_attr(not(feature = "tcp-data-plane"), allow(dead_code))]
    Ready { answer: blit_proto::pb::DataPlane, plane: Arc<dyn DataPlane> },
    /// The data plane is out of reach: send `answer` (when the daemon made
    /// an offer), use in-stream payloads, and report `reason`.
    Fallback { answer: Option<blit_proto::pb::DataPlane>, reason: String },
}

/// The summary facts of an in-stream session.
pub(crate) fn in_stream_report(fallback: Option<String>) -> TransportReport {
    let mut report = TransportReport::new(crate::SCHEME);
    report.streams = 1;
    report.chunk_size = crate::CHUNK_SIZE as u64;
    report.compression = "none".to_owned();
    report.fallback = fallback;
    report
}
