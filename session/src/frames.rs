//! The session's frames as a medium moves them: what the peer sent, and
//! where this side's frames go. The medium (gRPC today) supplies both;
//! everything else about a session is this crate's.

use blit_api::Result;
use blit_proto::pb;
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_stream::Stream;

/// Frames on their way out (the request stream of a gRPC client, the
/// response stream of the daemon).
pub type FrameSender = mpsc::Sender<pb::Frame>;

/// Frames from the peer, as the medium delivers them. A medium's error is
/// already a [`blit_api::Error`] naming the peer: [`blit_api::ErrorKind::Protocol`]
/// when the peer broke the medium's limits (a message over its size
/// limit), otherwise how the connection ended.
pub type Incoming = Pin<Box<dyn Stream<Item = Result<pb::Frame>> + Send>>;

/// Outgoing frames waiting for the stream.
pub const FRAME_QUEUE: usize = 8;
