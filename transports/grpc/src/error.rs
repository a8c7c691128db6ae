//! Errors on the wire: `tonic::Status` and `ErrorReport` frames to and from
//! [`blit_api::Error`], in one place.
//!
//! A [`Status`] this crate builds carries the exact [`ErrorKind`] in the
//! `blit-error-kind` metadata entry and the error's full text (path, message,
//! hint) as its message, so the kind survives the round trip exactly. A
//! status from elsewhere (tonic itself, a proxy, another gRPC server) has
//! only its code, which maps to the closest kind.

use blit_api::{Error, ErrorKind};
use blit_proto::pb;
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
pub(crate) fn unauthenticated(error: &Error) -> Status {
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

/// The wire form of a kind.
pub(crate) fn kind_to_pb(kind: ErrorKind) -> pb::ErrorKind {
    match kind {
        ErrorKind::NotFound => pb::ErrorKind::NotFound,
        ErrorKind::PermissionDenied => pb::ErrorKind::PermissionDenied,
        ErrorKind::AlreadyExists => pb::ErrorKind::AlreadyExists,
        ErrorKind::Unsupported => pb::ErrorKind::Unsupported,
        ErrorKind::InvalidInput => pb::ErrorKind::InvalidInput,
        ErrorKind::Protocol => pb::ErrorKind::Protocol,
        ErrorKind::NoSpace => pb::ErrorKind::NoSpace,
        ErrorKind::ReadOnly => pb::ErrorKind::ReadOnly,
        ErrorKind::Io => pb::ErrorKind::Io,
        ErrorKind::Cancelled => pb::ErrorKind::Cancelled,
        _ => pb::ErrorKind::Unexpected,
    }
}

/// A kind from the wire; unknown values (a newer peer) are `Unexpected`.
pub(crate) fn kind_from_pb(value: i32) -> ErrorKind {
    match pb::ErrorKind::try_from(value).unwrap_or(pb::ErrorKind::Unexpected) {
        pb::ErrorKind::NotFound => ErrorKind::NotFound,
        pb::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        pb::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
        pb::ErrorKind::Unsupported => ErrorKind::Unsupported,
        pb::ErrorKind::InvalidInput => ErrorKind::InvalidInput,
        pb::ErrorKind::Protocol => ErrorKind::Protocol,
        pb::ErrorKind::NoSpace => ErrorKind::NoSpace,
        pb::ErrorKind::ReadOnly => ErrorKind::ReadOnly,
        pb::ErrorKind::Io => ErrorKind::Io,
        pb::ErrorKind::Cancelled => ErrorKind::Cancelled,
        pb::ErrorKind::Unexpected | pb::ErrorKind::Unspecified => ErrorKind::Unexpected,
    }
}

/// The `ErrorReport` frame body for a fatal error of this side.
#[cfg_attr(not(any(feature = "client", feature = "server")), allow(dead_code))]
pub(crate) fn report_from_error(error: &Error) -> pb::ErrorReport {
    pb::ErrorReport {
        kind: kind_to_pb(error.kind()) as i32,
        message: error.message().to_owned(),
        path: error.path().unwrap_or_default().to_owned(),
        hint: error.hint().unwrap_or_default().to_owned(),
    }
}

/// The error a peer reported. Its path, when it has one, is shown after the
/// peer's address (`host:port:/module/dir` for a daemon's masked paths).
#[cfg_attr(not(any(feature = "client", feature = "server")), allow(dead_code))]
pub(crate) fn error_from_report(report: &pb::ErrorReport, peer: &str) -> Error {
    let path = match report.path.as_str() {
        "" => peer.to_owned(),
        p if p.starts_with('/') => format!("{peer}:{p}"),
        p => format!("{peer}: {p}"),
    };
    let error = Error::new(kind_from_pb(report.kind), bounded(report.message.clone())).with_path(path);
    match report.hint.as_str() {
        "" => error,
        hint => error.with_hint(bounded(hint.to_owned())),
    }
}

/// A violation of the protocol by `peer`.
pub(crate) fn protocol(peer: &str, what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, what)
        .with_path(peer.to_owned())
        .with_hint("the peer broke the blit protocol; check that both sides run the same blit release")
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

/// The peer's stream ended before the session did.
#[cfg_attr(not(any(feature = "client", feature = "server")), allow(dead_code))]
pub(crate) fn peer_gone(peer: &str) -> Error {
    Error::new(ErrorKind::Io, "the connection closed before the transfer finished")
        .with_path(peer.to_owned())
        .with_hint("rerun the transfer; finished files are kept")
}

/// Most bytes kept of a message a peer sent (a failure or a warning).
pub(crate) const MAX_MESSAGE: usize = 4096;

/// A peer's message cut to [`MAX_MESSAGE`] bytes (at a character boundary),
/// so what a side holds per entry stays bounded.
pub(crate) fn bounded(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(" [cut]");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_status_and_report() {
        for kind in ErrorKind::ALL {
            let e = Error::new(kind, "boom").with_path("/m/a").with_hint("do this");
            let status = status_from_error(&e);
            assert_eq!(status.code(), code_of(kind));
            let back = error_from_status(&status, "h:1");
            assert_eq!(back.kind(), kind, "{kind}");
            assert_eq!(back.to_string(), format!("h:1: {e}"));
            assert_eq!(kind_from_pb(kind_to_pb(kind) as i32), kind);
            let back = error_from_report(&report_from_error(&e), "h:1");
            assert_eq!(back.kind(), kind);
            assert_eq!(back.to_string(), "h:1:/m/a: boom (do this)");
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
        assert_eq!(kind_from_pb(99), ErrorKind::Unexpected);
        let report = pb::ErrorReport { kind: 1, message: "m".into(), path: "rel".into(), hint: String::new() };
        assert_eq!(error_from_report(&report, "peer").to_string(), "peer: rel: m");
    }
}
