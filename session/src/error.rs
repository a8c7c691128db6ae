//! Errors on the session's stream: `ErrorReport` frames to and from
//! [`blit_api::Error`], the errors a broken or vanished peer yields, and
//! the bound on what a peer's message may hold.

use blit_api::{Error, ErrorKind};
use blit_proto::pb;

/// The wire form of a kind.
pub fn kind_to_pb(kind: ErrorKind) -> pb::ErrorKind {
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
pub fn kind_from_pb(value: i32) -> ErrorKind {
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
pub fn report_from_error(error: &Error) -> pb::ErrorReport {
    pb::ErrorReport {
        kind: kind_to_pb(error.kind()) as i32,
        message: error.message().to_owned(),
        path: error.path().unwrap_or_default().to_owned(),
        hint: error.hint().unwrap_or_default().to_owned(),
    }
}

/// The error a peer reported. Its path, when it has one, is shown after the
/// peer's address (`host:port:/module/dir` for a daemon's masked paths).
pub fn error_from_report(report: &pb::ErrorReport, peer: &str) -> Error {
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
pub fn protocol(peer: &str, what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, what)
        .with_path(peer.to_owned())
        .with_hint("the peer broke the blit protocol; check that both sides run the same blit release")
}

/// The peer's stream ended before the session did.
pub fn peer_gone(peer: &str) -> Error {
    Error::new(ErrorKind::Io, "the connection closed before the transfer finished")
        .with_path(peer.to_owned())
        .with_hint("rerun the transfer; finished files are kept")
}

/// Most bytes kept of a message a peer sent (a failure or a warning).
pub const MAX_MESSAGE: usize = 4096;

/// A peer's message cut to [`MAX_MESSAGE`] bytes (at a character boundary),
/// so what a side holds per entry stays bounded.
pub fn bounded(mut message: String) -> String {
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
    fn kinds_round_trip_through_reports() {
        for kind in ErrorKind::ALL {
            let e = Error::new(kind, "boom").with_path("/m/a").with_hint("do this");
            assert_eq!(kind_from_pb(kind_to_pb(kind) as i32), kind);
            let back = error_from_report(&report_from_error(&e), "h:1");
            assert_eq!(back.kind(), kind);
            assert_eq!(back.to_string(), "h:1:/m/a: boom (do this)");
        }
        assert_eq!(kind_from_pb(99), ErrorKind::Unexpected);
        let report = pb::ErrorReport { kind: 1, message: "m".into(), path: "rel".into(), hint: String::new() };
        assert_eq!(error_from_report(&report, "peer").to_string(), "peer: rel: m");
    }

    #[test]
    fn peer_messages_are_cut() {
        let long = "é".repeat(MAX_MESSAGE);
        let cut = bounded(long);
        assert!(cut.len() <= MAX_MESSAGE + " [cut]".len(), "{}", cut.len());
        assert!(cut.ends_with(" [cut]"));
        assert_eq!(bounded("short".to_owned()), "short");
    }
}
