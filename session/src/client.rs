//! The client's side of a session: push and pull over any medium that can
//! open a session stream to a daemon ([`Dialer`]).
//!
//! A transfer emits the same events as a local one: `Started` (direction
//! `push` or `pull`, naming the transport that carries the payload after
//! any fallback) first, one terminal event last, and in between the
//! destination's events, replayed from the daemon in a push. Every error
//! names the daemon and says what to do.

use crate::convert::{header_from_pb, options_to_pb, Mask};
use crate::error::{error_from_report, protocol};
use crate::frames::{FrameSender, Incoming};
use crate::link::{self, Half, Session, Window};
use crate::meter;
use crate::plane::{self, ClientPlane};
use crate::{ModuleInfo, RemoteSpec, SessionConfig, TransportMode, SCHEME};
use blit_api::{Direction, Error, ErrorKind, Events, FileHeader, Result, TransferOptions, TransferSummary};
use blit_engine::{DestinationRoles, SourceRoles, SummaryTap};
use blit_proto::{pb, PROTOCOL_VERSION};
use prost::bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;

/// A session stream just opened: what the peer sends, where to send more,
/// and the daemon's address when the medium is a socket (the data plane is
/// offered on that address).
pub struct Dialed {
    /// The daemon's frames.
    pub incoming: Incoming,
    /// Frames to the daemon; the first one (`Open`) is already on its way.
    pub out: FrameSender,
    /// The daemon address the stream reached, if it is a socket.
    pub control: Option<SocketAddr>,
}

impl std::fmt::Debug for Dialed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialed").field("control", &self.control).finish_non_exhaustive()
    }
}

/// A medium that opens session streams to one daemon (gRPC over TCP or
/// TLS today). It authenticates as the medium does and sends `open` as
/// the stream's first frame; a refusal before the stream opens is its
/// error, naming the daemon.
#[async_trait::async_trait]
pub trait Dialer: Send + Sync {
    /// Opens a session stream whose first frame is `open`.
    async fn dial(&self, open: pb::Frame) -> Result<Dialed>;
}

/// Sends the files of `source` to `remote`; the daemon runs the
/// destination half inside the module.
pub async fn push(
    remote: &RemoteSpec,
    source: SourceRoles,
    options: &TransferOptions,
    config: &SessionConfig,
    dialer: &dyn Dialer,
    events: Events,
) -> Result<TransferSummary> {
    let tap = SummaryTap::pending(events, Direction::Push, planned_transport(config), options.dry_run);
    let half = Half::Source { roles: source, replay: Some(tap.clone()) };
    let result = transfer(remote, pb::Role::Push, half, options, config, dialer, &tap).await;
    conclude(&tap, result)
}

/// Fetches the files below `remote` into `destination`; the daemon runs the
/// source half inside the module.
pub async fn pull(
    remote: &RemoteSpec,
    destination: DestinationRoles,
    options: &TransferOptions,
    config: &SessionConfig,
    dialer: &dyn Dialer,
    events: Events,
) -> Result<TransferSummary> {
    let tap = SummaryTap::pending(events, Direction::Pull, planned_transport(config), options.dry_run);
    let half = Half::Destination { roles: destination, events: Some(tap.clone()) };
    let result = transfer(remote, pb::Role::Pull, half, options, config, dialer, &tap).await;
    conclude(&tap, result)
}

/// The transport `Started` names: the one the session sets out to use (the
/// summary names the one it used, and why, if it fell back).
pub(crate) fn planned_transport(config: &SessionConfig) -> &'static str {
    match config.transport {
        TransportMode::Grpc => SCHEME,
        _ if cfg!(feature = "tcp-data-plane") => "tcp",
        _ => SCHEME,
    }
}

pub(crate) fn conclude(tap: &SummaryTap, result: Result<()>) -> Result<TransferSummary> {
    match result {
        Ok(()) => Ok(tap.finish()),
        Err(e) => {
            tap.fail(&e);
            Err(e)
        }
    }
}

/// Opens a session and runs `half` in it.
async fn transfer(
    remote: &RemoteSpec,
    role: pb::Role,
    half: Half,
    options: &TransferOptions,
    config: &SessionConfig,
    dialer: &dyn Dialer,
    tap: &SummaryTap,
) -> Result<()> {
    let peer = remote.address();
    let open = pb::Open {
        protocol_version: PROTOCOL_VERSION,
        module: remote.module.clone(),
        path: Bytes::copy_from_slice(remote.path.as_bytes()),
        role: role as i32,
        options: Some(options_to_pb(options)),
        transport: config.transport.as_str().to_owned(),
        window: Some(Window::OURS.to_pb()),
    };
    let Dialed { mut incoming, out, control } =
        dialer.dial(pb::Frame { body: Some(pb::frame::Body::Open(open)) }).await?;
    let first = within(config.handshake_timeout, &peer, incoming.next()).await?.transpose()?;
    let (peer_window, offer) = match first.and_then(|f| f.body) {
        Some(pb::frame::Body::Opened(opened)) => {
            check_version(opened.protocol_version, &peer)?;
            (Window::from_pb(opened.window).map_err(|e| protocol(&peer, e.to_string()))?, opened.data_plane)
        }
        Some(pb::frame::Body::Error(report)) => return Err(error_from_report(&report, &peer)),
        _ => return Err(protocol(&peer, "the daemon did not accept the session with `Opened`")),
    };
    let (payload, answer, fallback) = match plane::client(offer, control, config, &remote.host, &peer).await? {
        ClientPlane::InStream => (None, None, None),
        ClientPlane::Ready { answer, plane } => (Some(plane), Some(answer), None),
        ClientPlane::Fallback { answer, reason } => (None, answer, Some(reason)),
    };
    if let Some(answer) = answer {
        let _ = out.send(pb::Frame { body: Some(pb::frame::Body::DataPlane(answer)) }).await;
    }
    // `Started` names the transport that carries the payload, after any fallback.
    let carrier = payload.as_ref().map(|p| p.transport().name().to_owned());
    tap.announce(carrier.as_deref().unwrap_or(SCHEME));
    let report = payload.clone();
    // In-stream, the payload crosses the network inside the session's frames.
    let in_stream = Arc::new(AtomicU64::new(0));
    let (incoming, out) = match payload {
        Some(_) => (incoming, out),
        None => (meter::incoming(incoming, in_stream.clone()), meter::outgoing(out, in_stream.clone())),
    };
    let session = Session { peer, options: options.clone(), peer_window, mask: Mask::none(), cancel: None, payload };
    let result = Box::pin(link::run(incoming, out, half, session)).await;
    tap.set_transport(&match report {
        Some(plane) => plane.report(),
        None => {
            let mut report = plane::in_stream_report(fallback);
            report.wire_bytes = Some(in_stream.load(Ordering::Relaxed));
            report
        }
    });
    result
}

/// The modules of a `Modules` reply.
pub fn modules_from_pb(reply: pb::ModulesReply, peer: &str) -> Result<Vec<ModuleInfo>> {
    check_version(reply.protocol_version, peer)?;
    Ok(reply
        .modules
        .into_iter()
        .map(|m| ModuleInfo { name: m.name, comment: m.comment, read_only: m.read_only })
        .collect())
}

/// The entries of one batch of a `List` reply, each checked as any header
/// a peer sends.
pub fn entries_from_pb(reply: pb::ListReply, peer: &str) -> Result<Vec<FileHeader>> {
    check_version(reply.protocol_version, peer)?;
    reply.entries.into_iter().map(|entry| header_from_pb(entry).map_err(|e| protocol(peer, e.to_string()))).collect()
}

/// Refuses a daemon that speaks another protocol version, naming both.
pub fn check_version(theirs: u32, peer: &str) -> Result<()> {
    if theirs == PROTOCOL_VERSION {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Protocol,
        format!("blitd speaks blit protocol version {theirs}, this blit speaks version {PROTOCOL_VERSION}"),
    )
    .with_path(peer.to_owned())
    .with_hint("install the same blit release on both sides"))
}

/// `fut`, or an error naming `peer` when it takes longer than `limit`.
pub async fn within<T>(limit: Duration, peer: &str, fut: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(limit, fut).await.map_err(|_| {
        Error::new(ErrorKind::Io, format!("no answer within {} s", limit.as_secs_f64()))
            .with_path(peer.to_owned())
            .with_hint("is blitd running and reachable? check the host, the port and any firewall")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_mismatch_names_both_versions() {
        assert!(check_version(PROTOCOL_VERSION, "h:1").is_ok());
        let e = check_version(PROTOCOL_VERSION + 1, "h:1").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        let text = e.to_string();
        assert!(text.contains(&format!("version {}", PROTOCOL_VERSION + 1)), "{text}");
        assert!(text.contains(&format!("version {PROTOCOL_VERSION}")), "{text}");
        assert!(text.starts_with("h:1: "), "{text}");
    }
}
