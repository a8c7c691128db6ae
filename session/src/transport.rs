//! The in-stream payload transport.
//!
//! [`GrpcTransport`] knows only two things: a queue of outgoing payload
//! records (its sending half writes them) and a queue of incoming ones (its
//! receiving half lands them). In a session the outgoing queue feeds the
//! gRPC stream and the incoming one is fed from it, each half in its own
//! process; [`GrpcTransport::loopback`] joins the two queues in one process,
//! so the same code also runs under `blit_engine::run_local` and the
//! conformance suite. The sending half holds at most
//! [`PAYLOAD_IN_FLIGHT`] bytes of file data at once (its [`Budget`]), and
//! the queues at most [`RECORD_QUEUE`] records, so a slow side pauses the
//! other with a few MiB in flight.

use crate::budget::{Budget, PAYLOAD_IN_FLIGHT};
use crate::convert::Mask;
use crate::receive::{receive_all, RecordReceiver};
use crate::records::RecordSender;
use crate::send::{send_all, Sender};
use crate::SCHEME;
use blit_api::{
    on_blocking_thread, Capabilities, DirectionSet, HalfPart, Landing, PayloadReader, PayloadTransport, PlanReceiver,
    Result,
};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Payload records waiting in each queue. File data is bounded by bytes
/// ([`PAYLOAD_IN_FLIGHT`]); this bounds the small records (`file_begin`,
/// `file_end`) of many small files sent whole.
pub(crate) const RECORD_QUEUE: usize = 64;

/// The gRPC payload transport: files travel inside the session's stream as
/// payload records of at most 1 MiB, small files batched into tar shards.
///
/// One instance serves one transfer. The instance `blit_transport_grpc::register`
/// builds is a loopback (both halves in this process); sessions build
/// their own, one half each.
#[derive(Debug)]
pub struct GrpcTransport {
    out: HalfPart<RecordSender>,
    incoming: HalfPart<RecordReceiver>,
    peer: String,
    mask: Mask,
    budget: Arc<Budget>,
}

impl Default for GrpcTransport {
    fn default() -> Self {
        Self::loopback()
    }
}

impl GrpcTransport {
    /// A transport whose sending half feeds its receiving half in this
    /// process, through the same payload records a session carries: the
    /// sending, sharding and landing code is the code remote transfers run.
    pub fn loopback() -> Self {
        let (tx, rx) = mpsc::channel(RECORD_QUEUE);
        GrpcTransport {
            out: HalfPart::new(tx),
            incoming: HalfPart::new(rx),
            peer: "loopback".to_owned(),
            mask: Mask::none(),
            budget: Budget::new(PAYLOAD_IN_FLIGHT),
        }
    }

    /// The source side of a session: records go to `out`.
    pub(crate) fn sending(out: RecordSender, peer: &str, mask: Mask) -> Self {
        GrpcTransport {
            out: HalfPart::new(out),
            incoming: HalfPart::none(),
            peer: peer.to_owned(),
            mask,
            budget: Budget::new(PAYLOAD_IN_FLIGHT),
        }
    }

    /// The destination side of a session: records come from `incoming`.
    pub(crate) fn receiving(incoming: RecordReceiver, peer: &str) -> Self {
        GrpcTransport {
            out: HalfPart::none(),
            incoming: HalfPart::new(incoming),
            peer: peer.to_owned(),
            mask: Mask::none(),
            budget: Budget::new(PAYLOAD_IN_FLIGHT),
        }
    }
}

#[async_trait::async_trait]
impl PayloadTransport for GrpcTransport {
    fn name(&self) -> &str {
        SCHEME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            directions: DirectionSet { local: true, push: true, pull: true },
            payload_shard: true,
            payload_max_streams: 1,
            symlink: true,
            path_non_utf8: true,
            mtime_ns: true,
            checksum: true,
            mirror: true,
            per_file_errors: true,
            resume: true,
            ..Capabilities::default()
        }
    }

    async fn send(&self, plans: PlanReceiver, reader: Arc<dyn PayloadReader>) -> Result<()> {
        let out = self.out.take(SCHEME, "send")?;
        let (mask, budget) = (self.mask.clone(), self.budget.clone());
        on_blocking_thread(SCHEME, "send", move || {
            send_all(plans, &Sender { reader: &*reader, out: &out, mask: &mask, budget: &budget })
        })
        .await
    }

    async fn receive(&self, landing: Landing) -> Result<()> {
        let rx = self.incoming.take(SCHEME, "receive")?;
        let peer = self.peer.clone();
        on_blocking_thread(SCHEME, "receive", move || receive_all(rx, &landing, &peer)).await
    }
}

#[cfg(test)]
mod tests;
