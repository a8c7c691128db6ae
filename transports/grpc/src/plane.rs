//! The data plane a session may negotiate instead of in-stream payloads.
//!
//! With the `tcp-data-plane` feature the daemon offers the TCP data plane
//! (`blit-transport-tcp`) in `Opened`: a port on the address the client's
//! control connection arrived on, and a one-time token. The client opens
//! the data connections and answers `DataPlane` (ready, or fallback with
//! the reason) as its first frame after `Opened`; the daemon waits for that
//! answer and for the connections before it runs its half. The session then
//! hands the engine a [`DataPlane`] instead of the in-stream transport;
//! manifest, need list, events and the end of the session stay on the gRPC
//! stream. Without the feature, the stub answers as a build without a data
//! plane must: `auto` falls back, `tcp` is refused.

use blit_api::PayloadTransport;
use blit_engine::TransportReport;
use std::sync::Arc;

#[cfg(not(feature = "tcp-data-plane"))]
mod disabled;
#[cfg(feature = "tcp-data-plane")]
mod tcp;

#[cfg(not(feature = "tcp-data-plane"))]
#[allow(unused_imports)]
pub(crate) use disabled::*;
#[cfg(feature = "tcp-data-plane")]
#[allow(unused_imports)]
pub(crate) use tcp::*;

/// A negotiated data plane: the payload transport this side's half uses,
/// how to stop it, and what it reports for the summary.
#[derive(Clone)]
pub(crate) struct DataPlane {
    /// Carries the payload instead of `Payload` frames.
    pub(crate) transport: Arc<dyn PayloadTransport>,
    /// Shuts the data connections down (the session aborted).
    pub(crate) close: Arc<dyn Fn() + Send + Sync>,
    /// Streams, chunk size and compression, once the payload ran.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) report: Arc<dyn Fn() -> TransportReport + Send + Sync>,
}

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlane").field("transport", &self.transport.name()).finish_non_exhaustive()
    }
}

/// What the client does after `Opened`.
#[derive(Debug)]
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) enum ClientPlane {
    /// No data plane was asked for: in-stream payloads.
    InStream,
    /// The data connections are open: send `answer`, then use `plane`.
    #[cfg_attr(not(feature = "tcp-data-plane"), allow(dead_code))]
    Ready { answer: blit_proto::pb::DataPlane, plane: DataPlane },
    /// The data plane is out of reach: send `answer` (when the daemon made
    /// an offer), use in-stream payloads, and report `reason`.
    Fallback { answer: Option<blit_proto::pb::DataPlane>, reason: String },
}

/// The summary facts of an in-stream session.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) fn in_stream_report(fallback: Option<String>) -> TransportReport {
    let mut report = TransportReport::new(crate::SCHEME);
    report.streams = 1;
    report.chunk_size = crate::CHUNK_SIZE as u64;
    report.compression = "none".to_owned();
    report.fallback = fallback;
    report
}
