//! The daemon's side over gRPC: `blit_session::server` behind tonic's
//! types. Sessions are accepted, checked and served by the session crate;
//! this module turns the request stream into session frames, the session's
//! frames into the response stream, and errors into statuses.

// These functions return `tonic::Status` because tonic handlers do; boxing
// it would only move the conversion into every handler.
#![allow(clippy::result_large_err)]

use crate::error::{frames, status_from_error};
use blit_api::RelPath;
use blit_proto::pb;
pub use blit_session::admin::{expect_from_pb, remove_reply, removed_if_reply, space_reply};
use blit_session::frames::Incoming;
pub use blit_session::jobs::{cancel_reply, jobs_reply, JOBS_BATCH};
pub use blit_session::server::{
    list_reply, modules_reply, Cancel, Role, ServedHalf, ServedModule, Stop, TransferRequest,
};
use std::pin::Pin;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Status, Streaming};

/// The response stream of a transfer session.
pub type TransferStream = Pin<Box<dyn Stream<Item = Result<pb::Frame, Status>> + Send + 'static>>;

/// The request stream of a transfer session as the session reads it.
pub fn incoming(stream: Streaming<pb::Frame>, peer: &str) -> Incoming {
    frames(stream, peer.to_owned())
}

/// Refuses a client that speaks another protocol version, naming both.
pub fn check_version(theirs: u32, peer: &str) -> Result<(), Status> {
    blit_session::server::check_version(theirs, peer).map_err(|e| status_from_error(&e))
}

/// Checks a module-relative path a client sent.
pub fn check_path(bytes: &[u8], peer: &str) -> Result<RelPath, Status> {
    blit_session::server::check_path(bytes, peer).map_err(|e| status_from_error(&e))
}

/// Refuses a removal in a read-only module and of a module's root
/// ([`blit_session::admin::check_removal`]).
pub fn check_removal(module: &str, read_only: bool, path: &RelPath) -> Result<(), Status> {
    blit_session::admin::check_removal(module, read_only, path).map_err(|e| status_from_error(&e))
}

/// Reads the session's first frame, which must be a valid `Open` of this
/// protocol version, within 10 s ([`blit_session::server::accept`]).
pub async fn accept(incoming: &mut Incoming, peer: &str) -> Result<TransferRequest, Status> {
    blit_session::server::accept(incoming, peer).await.map_err(|e| status_from_error(&e))
}

/// Refuses a push into a read-only module, and a push that asks for file
/// ownership into a module that does not accept it
/// ([`blit_session::server::check_access`]).
pub fn check_access(request: &TransferRequest, module: &ServedModule<'_>) -> Result<(), Status> {
    blit_session::server::check_access(request, module).map_err(|e| status_from_error(&e))
}

/// Answers `Opened` and runs the session in its own task
/// ([`blit_session::server::serve`]); returns the response stream.
pub fn serve(
    request: TransferRequest,
    incoming: Incoming,
    half: ServedHalf,
    module: &ServedModule<'_>,
    cancel: Cancel,
    peer: String,
) -> Result<TransferStream, Status> {
    let rx = blit_session::server::serve(request, incoming, half, module, cancel, peer)
        .map_err(|e| status_from_error(&e))?;
    Ok(Box::pin(ReceiverStream::new(rx).map(Ok)))
}
