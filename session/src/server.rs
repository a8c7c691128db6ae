//! The daemon's side of a session: accepting it, serving it, and the
//! replies of `Modules` and `List`, over any medium.
//!
//! The daemon owns its modules: it resolves a request's module and path
//! (refusing anything outside the module) and builds the roles that run
//! there. This module owns the session: it reads and checks `Open`, refuses
//! a push into a read-only module before anything is written, answers
//! `Opened`, and runs the session in its own task, so one client's failure
//! stays in that client's session.

use crate::convert::{header_to_pb, options_from_pb, path_from_pb, Mask};
use crate::error::report_from_error;
use crate::frames::{Incoming, FRAME_QUEUE};
use crate::link::{self, Half, Session, Window};
use crate::{plane, ModuleInfo, TransportMode};
use blit_api::{Error, ErrorKind, FileHeader, RelPath, Result, TransferOptions};
use blit_engine::{DestinationRoles, SourceRoles};
use blit_proto::{pb, PROTOCOL_VERSION};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;

/// How long a client may take to send `Open`.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Which way a session moves files, seen from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client sends; the daemon is the destination.
    Push,
    /// The client receives; the daemon is the source.
    Pull,
}

/// Why blitd ends a running session before it finished: what a session's
/// cancel channel ([`Cancel`]) carries once it must stop (`None` until
/// then). The session ends as for a fatal error of this side; the client
/// is told [`Stop::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// blitd shuts down (or ended the session as idle: its watcher then
    /// tells the client so itself).
    Shutdown,
    /// Someone holding the module's secret cancelled it (`blit jobs
    /// --cancel`).
    Cancelled,
}

impl Stop {
    /// The error the client is told: kind `cancelled`, and what to do.
    pub fn error(self) -> Error {
        match self {
            Stop::Shutdown => Error::new(ErrorKind::Cancelled, "blitd is shutting down")
                .with_hint("rerun the transfer when blitd is back"),
            Stop::Cancelled => {
                Error::new(ErrorKind::Cancelled, "the transfer was cancelled on blitd by `blit jobs --cancel`")
                    .with_hint("files that landed are complete; rerun the transfer to finish it")
            }
        }
    }
}

/// A session's cancel channel: `Some` once the session must stop, and why.
pub type Cancel = watch::Receiver<Option<Stop>>;

/// Resolves with the reason once `cancel` says stop; never when there is
/// no channel, or when its sender is gone without a word.
pub(crate) async fn stopped(cancel: &mut Option<Cancel>) -> Stop {
    if let Some(rx) = cancel {
        if let Ok(stop) = rx.wait_for(Option::is_some).await {
            if let Some(stop) = *stop {
                return stop;
            }
        }
    }
    std::future::pending().await
}

/// A checked `Open`: what the client asks for.
#[derive(Debug, Clone)]
pub struct TransferRequest {
    /// The module it names.
    pub module: String,
    /// The transfer root inside the module (validated: no `..`, not absolute).
    pub path: RelPath,
    /// Push or pull.
    pub role: Role,
    /// What the user asked for.
    pub options: TransferOptions,
    /// Which transport the client asks to carry the payload.
    pub transport: TransportMode,
    /// The daemon address the client's control connection arrived on; the
    /// data plane is offered on the same address. Set it from the request
    /// (`Request::local_addr`); without it no data plane is offered.
    pub local: Option<SocketAddr>,
    /// The daemon's TLS configuration when it serves TLS; the data plane
    /// then requires it too. Set it from the daemon's configuration.
    pub tls: Option<blit_tls::ServerTls>,
    /// The ports the data plane may listen on (blitd.toml's `data_ports`);
    /// `None`: any free port.
    pub data_ports: Option<crate::PortRange>,
    window: Window,
}

/// The module a session runs in, as far as the wire needs to know.
#[derive(Debug, Clone, Copy)]
pub struct ServedModule<'a> {
    /// The module's name.
    pub name: &'a str,
    /// Its directory on the daemon; shown to clients as `/<name>`.
    pub dir: &'a Path,
    /// Pushes are refused.
    pub read_only: bool,
    /// Pushes may ask for file ownership (`--owner`, `--group`); without,
    /// such a push is refused.
    pub allow_owner: bool,
}

/// The roles the daemon runs for a session: a destination for a push, a
/// source for a pull.
pub enum ServedHalf {
    /// Push: the daemon judges and lands.
    Destination(DestinationRoles),
    /// Pull: the daemon walks and reads.
    Source(SourceRoles),
}

impl std::fmt::Debug for ServedHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ServedHalf::Destination(_) => "ServedHalf::Destination",
            ServedHalf::Source(_) => "ServedHalf::Source",
        })
    }
}

fn refuse(kind: ErrorKind, message: impl Into<String>, peer: &str) -> Error {
    Error::new(kind, message).with_path(peer.to_owned())
}

/// Refuses a client that speaks another protocol version, naming both.
pub fn check_version(theirs: u32, peer: &str) -> Result<()> {
    if theirs == PROTOCOL_VERSION {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Protocol,
        format!(
            "protocol version mismatch: the client speaks blit protocol version {theirs}, \
                 this blitd speaks version {PROTOCOL_VERSION}"
        ),
    )
    .with_path(peer.to_owned())
    .with_hint("install the same blit release on both sides"))
}

/// Checks a module-relative path a client sent.
pub fn check_path(bytes: &[u8], peer: &str) -> Result<RelPath> {
    path_from_pb(bytes).map_err(|e| {
        refuse(
            ErrorKind::PermissionDenied,
            format!("refused the path `{}`: {}; paths are relative to the module", e.path().unwrap_or(""), e.message()),
            peer,
        )
    })
}

/// Reads the session's first frame, which must be a valid `Open` of this
/// protocol version, within 10 s.
pub async fn accept(incoming: &mut Incoming, peer: &str) -> Result<TransferRequest> {
    let first = tokio::time::timeout(OPEN_TIMEOUT, incoming.next())
        .await
        .map_err(|_| refuse(ErrorKind::Protocol, "no `Open` within 10 s", peer))?
        .transpose()?;
    let open = match first.and_then(|f| f.body) {
        Some(pb::frame::Body::Open(open)) => open,
        _ => return Err(refuse(ErrorKind::Protocol, "a session must start with `Open`", peer)),
    };
    check_version(open.protocol_version, peer)?;
    let role = match pb::Role::try_from(open.role) {
        Ok(pb::Role::Push) => Role::Push,
        Ok(pb::Role::Pull) => Role::Pull,
        _ => return Err(refuse(ErrorKind::Protocol, format!("unknown role {}", open.role), peer)),
    };
    let transport: TransportMode = open.transport.parse().map_err(|_| {
        refuse(
            ErrorKind::Unsupported,
            format!("transport `{}` is not served; this blitd carries payloads over auto, tcp or grpc", open.transport),
            peer,
        )
    })?;
    let window = Window::from_pb(open.window).map_err(|e| refuse(e.kind(), e.message(), peer))?;
    let path = check_path(&open.path, peer)?;
    let options = options_from_pb(open.options).map_err(|e| refuse(e.kind(), e.message(), peer))?;
    Ok(TransferRequest {
        module: open.module,
        path,
        role,
        options,
        transport,
        local: None,
        tls: None,
        data_ports: None,
        window,
    })
}

/// Refuses a push into a read-only module, and a push that asks for file
/// ownership (`--owner`, `--group`) into a module that does not accept it.
/// Call it before resolving paths or building roles, so nothing is created.
pub fn check_access(request: &TransferRequest, module: &ServedModule<'_>) -> Result<()> {
    if request.role != Role::Push {
        return Ok(());
    }
    let refused = if module.read_only {
        Error::new(ErrorKind::ReadOnly, format!("module `{}` is read-only; pushes are refused", module.name))
            .with_hint("push into a writable module, or pull from this one")
    } else if (request.options.owner || request.options.group) && !module.allow_owner {
        Error::new(
            ErrorKind::PermissionDenied,
            format!("module `{}` does not accept file ownership from clients", module.name),
        )
        .with_hint("drop --owner/--group, or set allow_owner = true for this module")
    } else {
        return Ok(());
    };
    Err(refused)
}

/// Answers `Opened` and runs the session in its own task. Returns the
/// frames to send the client, in order; the session ends when both sides
/// are done, a side fails, or `cancel` says stop (the daemon shuts down, or
/// the transfer was cancelled).
pub fn serve(
    request: TransferRequest,
    incoming: Incoming,
    half: ServedHalf,
    module: &ServedModule<'_>,
    cancel: Cancel,
    peer: String,
) -> Result<mpsc::Receiver<pb::Frame>> {
    check_access(&request, module)?;
    let half = match (request.role, half) {
        (Role::Push, ServedHalf::Destination(roles)) => Half::Destination { roles, events: None },
        (Role::Pull, ServedHalf::Source(roles)) => Half::Source { roles, replay: None },
        (role, half) => {
            return Err(Error::new(ErrorKind::Unexpected, format!("a {role:?} session was given {half:?}")));
        }
    };
    let (out, rx) = mpsc::channel(FRAME_QUEUE);
    let (offer, pending) =
        match plane::offer(request.transport, request.local, request.data_ports, request.tls.as_ref())? {
            Some((offer, pending)) => (Some(offer), Some(pending)),
            None => (None, None),
        };
    let opened =
        pb::Opened { protocol_version: PROTOCOL_VERSION, window: Some(Window::OURS.to_pb()), data_plane: offer };
    // A fresh channel always has room for the first frame.
    let _ = out.try_send(pb::Frame { body: Some(pb::frame::Body::Opened(opened)) });
    let mut session = Session {
        peer,
        options: request.options,
        peer_window: request.window,
        mask: Mask::module(module.dir, module.name),
        cancel: Some(cancel),
        payload: None,
    };
    let what = format!("{:?} {}:/{}/{}", request.role, session.peer, request.module, request.path.display());
    let mut incoming = incoming;
    tokio::spawn(async move {
        let started = Instant::now();
        if let Some(pending) = pending {
            let mut stop = session.cancel.clone();
            let answered = tokio::select! {
                answered = plane::establish(pending, &mut incoming, &session.peer) => answered,
                stop = stopped(&mut stop) => Err(stop.error()),
            };
            match answered {
                Ok(payload) => session.payload = payload,
                Err(e) => {
                    tracing::warn!("session failed: {what}: {e}");
                    let report = report_from_error(&session.mask.error(&e));
                    let _ = out.send(pb::Frame { body: Some(pb::frame::Body::Error(report)) }).await;
                    return;
                }
            }
        }
        match Box::pin(link::run(incoming, out, half, session)).await {
            Ok(()) => tracing::info!("session done: {what} in {:.3} s", started.elapsed().as_secs_f64()),
            Err(e) => tracing::warn!("session failed: {what}: {e}"),
        }
    });
    Ok(rx)
}

/// The reply to `Modules`.
pub fn modules_reply(modules: &[ModuleInfo]) -> pb::ModulesReply {
    let modules = modules
        .iter()
        .map(|m| pb::Module { name: m.name.clone(), comment: m.comment.clone(), read_only: m.read_only })
        .collect();
    pb::ModulesReply { protocol_version: PROTOCOL_VERSION, modules }
}

/// One batch of a `List` reply.
pub fn list_reply(entries: &[FileHeader]) -> pb::ListReply {
    pb::ListReply { protocol_version: PROTOCOL_VERSION, entries: entries.iter().map(header_to_pb).collect() }
}
