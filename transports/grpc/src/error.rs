//! Errors on the wire: `tonic::Status` to and from [`blit_api::Error`], in
//! one place (the session's `ErrorReport` frames are `blit_session`'s).
//!
//! A [`Status`] this crate builds carries the exact [`ErrorKind`] in the
//! `blit-error-kind` metadata entry and the error's full text (path, message,
//! hint) as its message, so the kind survives the round trip exactly. A
//! status from elsewhere (tonic itself, a proxy, another gRPC server) has
//! only its code, which maps to the closest kind.

use blit_api::{Error, ErrorKind};
use blit_proto::pb;
use blit_session::error::protocol;
use blit_session::frames::Incoming;
use tokio_stream::StreamExt;
use tonic::{Code, Status};

/// The metadata key that carries the exact error kind.
const KIND_KEY: &str = "blit-error-kind";

/// The gRPC status for `error`: the closest code, the exact kind in metadata,
/// and the error's text (path, message and hint) as the message.
pub fn status_from_error(error: &Error) -> Status {
    let mut status = Status::new(code_of(error.kind()), error.to_string());
    if let Ok(value) = error.kind().as_str().parse() {
        status.metadata_mut().insert(KIND_KEY, value);
    }
    status
}

/// The `UNAUTHENTICATED` status for a refused secret (kind `error`'s, in
/// metadata, as [`status_from_error`] does).
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub fn unauthenticated(error: &Error) -> Status {
    let mut status = Status::new(Code::Unauthenticated, error.to_string());
    if let Ok(value) = error.kind().as_str().parse() {
        status.metadata_mut().insert(KIND_KEY, value);
    }
    status
}

/// The error for a status received from `peer` (`host:port` or a client
/// address). The peer becomes the error's path, so the message says who
/// refused.
pub fn error_from_status(status: &Status, peer: &str) -> Error {
    let exact = status.metadata().get(KIND_KEY).and_then(|v| v.to_str().ok()).and_then(kind_named);
    let kind = exact.unwrap_or_else(|| kind_of(status.code()));
    let mut error = Error::new(kind, status.message().to_owned()).with_path(peer.to_owned());
    if exact.is_none() {
        match status.code() {
            Code::OutOfRange => {
                error = error.with_hint("a message exceeded the size limit; check that both sides run the same blit")
            }
            Code::Unavailable => error = error.with_hint("is blitd running? start it with `blitd --module name=/path`"),
            _ => {}
        }
    }
    error
}

fn kind_named(name: &str) -> Option<ErrorKind> {
    ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
}

fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::PermissionDenied | ErrorKind::ReadOnly => Code::PermissionDenied,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::Unsupported => Code::Unimplemented,
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::Protocol => Code::FailedPrecondition,
        ErrorKind::NoSpace => Code::ResourceExhausted,
        ErrorKind::Io => Code::Unavailable,
        ErrorKind::Cancelled => Code::Cancelled,
        _ => Code::Internal,
    }
}

fn kind_of(code: Code) -> ErrorKind {
    match code {
        Code::NotFound => ErrorKind::NotFound,
        Code::PermissionDenied | Code::Unauthenticated => ErrorKind::PermissionDenied,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::Unimplemented => ErrorKind::Unsupported,
        Code::InvalidArgument => ErrorKind::InvalidInput,
        Code::FailedPrecondition | Code::OutOfRange | Code::DataLoss => ErrorKind::Protocol,
        Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::ResourceExhausted => ErrorKind::Io,
        Code::Cancelled => ErrorKind::Cancelled,
        _ => ErrorKind::Unexpected,
    }
}

/// A status that ended a running session's stream: the peer's own error
/// (it carries blit's error kind) as it said it, or else the connection
/// itself broke (the peer died, the network dropped: HTTP/2 reports that as
/// a protocol error, a reset or a broken pipe), which is said plainly,
/// naming the peer, with what to do.
pub(crate) fn stream_ended(status: &Status, peer: &str) -> Error {
    if status.metadata().get(KIND_KEY).is_some() || status.code() == Code::OutOfRange {
        return error_from_status(status, peer);
    }
    let who = if peer.starts_with("client") { "the client" } else { "blitd" };
    tracing::debug!("{peer}: the session's stream ended: {status}");
    Error::new(ErrorKind::Io, format!("{who} closed the connection during the transfer"))
        .with_path(peer.to_owned())
        .with_hint("rerun the same command to resume; files that landed are kept")
}

/// A gRPC stream of frames as a session reads it: a message over the size
/// limit is the peer's protocol error, any other status says how the
/// connection ended.
#[cfg_attr(not(any(feature = "client", feature = "server")), allow(dead_code))]
pub(crate) fn frames(stream: tonic::Streaming<pb::Frame>, peer: String) -> Incoming {
    Box::pin(stream.map(move |next| {
        next.map_err(|status| match status.code() {
            tonic::Code::OutOfRange => protocol(&peer, format!("the peer sent {}", status.message())),
            _ => stream_ended(&status, &peer),
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_status() {
        for kind in ErrorKind::ALL {
            let e = Error::new(kind, "boom").with_path("/m/a").with_hint("do this");
            let status = status_from_error(&e);
            assert_eq!(status.code(), code_of(kind));
            let back = error_from_status(&status, "h:1");
            assert_eq!(back.kind(), kind, "{kind}");
            assert_eq!(back.to_string(), format!("h:1: {e}"));
        }
    }

    #[test]
    fn foreign_statuses_map_by_code() {
        let s = Status::out_of_range("decoded message length too large");
        let e = error_from_status(&s, "h:1");
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.to_string().contains("size limit"), "{e}");
        let e = error_from_status(&Status::unavailable("connection refused"), "h:1");
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("blitd --module"), "{e}");
        assert_eq!(error_from_status(&Status::not_found("x"), "p").kind(), ErrorKind::NotFound);
        assert_eq!(error_from_status(&Status::unauthenticated("x"), "p").kind(), ErrorKind::PermissionDenied);
        assert_eq!(error_from_status(&Status::unknown("x"), "p").kind(), ErrorKind::Unexpected);
    }
}
