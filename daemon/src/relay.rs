//! A copy between two daemons: `Grant` on the destination, `Relay` on the
//! source, once the service checked the version, the secret and the path.
//!
//! The client proves the destination module's secret and gets a one-time
//! grant ([`crate::grant`]) for exactly its push. It then proves the
//! source module's secret here and asks this daemon to push there with the
//! grant. The module must allow it (`allow_relay = true`), since the
//! request makes this daemon connect to a host the client names. The push
//! is the one the `blit` command runs ([`blit_transport_grpc::push`], with
//! the module's tree as its source, read beneath the module's held
//! descriptor as a pull reads it); its progress goes back to the client on
//! the answer stream ([`blit_session::relay`]). The user's secrets never
//! reach the other daemon: this daemon presents only the grant, which
//! opens that one push and nothing else.
//!
//! A relay holds a session slot and is a job (`blit jobs` lists it as a
//! pull from the module, `--cancel` stops it); it stops when the client
//! stops reading, or when blitd shuts down.

use crate::grant::{Grants, Scope};
use crate::jobs::Registration;
use crate::limits::Slot;
use crate::module::Module;
use blit_api::{Error, ErrorKind, RelPath, Result, TransferOptions};
use blit_engine::SourceRoles;
use blit_proto::{pb, PROTOCOL_VERSION};
use blit_session::relay::{options_from_wire, relaying};
use blit_transport_grpc::{status_from_error, ClientTls, GrpcConfig, RemoteSpec, Secret, TransportMode, MAX_RELAY_CA};
use blit_transports::local::{Anchor, LocalSource};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_stream::{wrappers::ReceiverStream, Stream, StreamExt};
use tonic::Status;

/// The answer stream of `Relay`.
pub(crate) type RelayStream = Pin<Box<dyn Stream<Item = Result<pb::RelayReply, Status>> + Send>>;

/// Most data connections a relayed push may pin (as a client may).
const MAX_STREAMS: u32 = 16;

/// Issues a grant for a push into `path` of `module` with the request's
/// options (the secret was checked); a read-only module gets none.
#[allow(clippy::result_large_err)] // tonic handlers return `Status`
pub(crate) fn grant(
    grants: &Grants,
    module: &Module,
    path: RelPath,
    options: Option<pb::Options>,
    peer: &str,
) -> Result<pb::GrantReply, Status> {
    if module.read_only {
        let refused =
            Error::new(ErrorKind::ReadOnly, format!("module `{}` is read-only; pushes are refused", module.name))
                .with_hint("copy into a writable module");
        return Err(status_from_error(&refused));
    }
    let options = options_from_wire(options).map_err(|e| status_from_error(&e))?;
    let scope = Scope { module: module.name.clone(), path, options };
    tracing::info!("{peer}: granted one push into /{}/{}", scope.module, scope.path.display());
    let token = grants.issue(scope).map_err(|e| status_from_error(&e))?;
    let valid_secs = u32::try_from(grants.lifetime().as_secs()).unwrap_or(u32::MAX);
    Ok(pb::GrantReply { protocol_version: PROTOCOL_VERSION, token, valid_secs })
}

/// Refuses a relay from a module that does not allow it.
#[allow(clippy::result_large_err)] // tonic handlers return `Status`
pub(crate) fn check_allowed(module: &Module, peer: &str) -> Result<(), Status> {
    if module.allow_relay {
        return Ok(());
    }
    tracing::warn!("{peer}: refused a relay from /{}: allow_relay is off", module.name);
    let refused = Error::new(
        ErrorKind::PermissionDenied,
        format!("module `{}` does not allow copies to another daemon", module.name),
    )
    .with_hint("set allow_relay = true for this module in blitd.toml, or copy through this machine (pull, then push)");
    Err(status_from_error(&refused))
}

/// What a relay needs that the service holds while it runs.
pub(crate) struct Held {
    /// The session slot it takes.
    pub(crate) slot: Slot,
    /// Its entry in `blit jobs`.
    pub(crate) job: Registration,
    /// Turns true when blitd shuts down.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Starts pushing `root` (`path` in `module`) where `request` says and
/// returns the answer stream.
#[allow(clippy::result_large_err)] // tonic handlers return `Status`
pub(crate) fn start(
    module: &Module,
    root: Anchor,
    request: pb::RelayRequest,
    held: Held,
    peer: &str,
) -> Result<RelayStream, Status> {
    let (target, config) = leg(request.target, &request.transport, request.streams, &request.compress)
        .map_err(|e| status_from_error(&e))?;
    let options: TransferOptions = options_from_wire(request.options).map_err(|e| status_from_error(&e))?;
    tracing::info!(
        "{peer}: relay /{}/{} to {}:/{}/{}",
        module.name,
        String::from_utf8_lossy(&request.path),
        target.address(),
        target.module,
        target.path.display()
    );
    let (relay, replies) = relaying(&module.dir, &module.name);
    let source = Arc::new(LocalSource::at(root));
    let Held { slot, mut job, mut shutdown } = held;
    let peer = peer.to_owned();
    tokio::spawn(async move {
        let _slot = slot;
        let roles = SourceRoles { source: source.clone(), reader: source };
        let push = blit_transport_grpc::push(&target, roles, &options, &config, relay.events());
        let result = tokio::select! {
            result = push => result,
            () = relay.gone() => {
                tracing::info!("{peer}: the client left; the relay stops");
                return;
            }
            () = job.cancelled() => Err(Error::new(ErrorKind::Cancelled, "the copy was cancelled (blit jobs --cancel)")),
            Ok(_) = shutdown.wait_for(|stop| *stop) => Err(Error::new(ErrorKind::Cancelled, "blitd is shutting down")
                .with_hint("run the command again once blitd is back; finished files are kept")),
        };
        let result = result.map_err(grant_refused);
        if let Err(e) = &result {
            tracing::warn!("{peer}: relay to {}: {e}", target.address());
        }
        relay.finish(result).await;
    });
    Ok(Box::pin(ReceiverStream::new(replies).map(Ok)))
}

/// The destination's refusal of the grant as the user should read it: the
/// destination's gate refuses a used or expired grant like a wrong secret
/// (it tells a stranger nothing), but here the secret was a grant.
fn grant_refused(e: Error) -> Error {
    if e.kind() != ErrorKind::PermissionDenied || !e.message().contains("wrong secret") {
        return e;
    }
    let refused = Error::new(
        ErrorKind::PermissionDenied,
        format!("the destination refused this copy's one-time grant ({})", e.message()),
    )
    .with_hint(
        "a grant serves one push and lapses when the push does not begin in time (60 s by default): run the copy again",
    );
    match e.path() {
        Some(path) => refused.with_path(path.to_owned()),
        None => refused,
    }
}

/// The destination of a relayed push and how to reach it, checked: a host
/// and port, a module and a path as any peer's, the grant as a secret
/// (printable, as a header needs), and TLS roots of bounded size.
fn leg(
    target: Option<pb::RelayTarget>,
    transport: &str,
    streams: u32,
    compress: &str,
) -> Result<(RemoteSpec, GrpcConfig)> {
    let bad = |what: &str| Error::new(ErrorKind::InvalidInput, format!("relay target: {what}"));
    let t = target.ok_or_else(|| bad("missing"))?;
    let port = u16::try_from(t.port).ok().filter(|p| *p != 0).ok_or_else(|| bad("no valid port"))?;
    if t.host.is_empty()
        || t.host.len() > 255
        || t.host.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(bad("no valid host"));
    }
    let path = RelPath::from_bytes(t.path.to_vec()).map_err(|e| bad(&format!("bad path: {}", e.message())))?;
    let grant = Secret::new(&t.grant, "the grant").map_err(|_| bad("no valid grant"))?;
    let tls = match (t.tls, t.tls_ca_pem.is_empty()) {
        (false, _) => None,
        (true, true) => Some(ClientTls::native_roots()?),
        (true, false) if t.tls_ca_pem.len() > MAX_RELAY_CA => return Err(bad("more CA certificates than allowed")),
        (true, false) => Some(ClientTls::from_ca_pem(&t.tls_ca_pem, "the relay's CA certificates")?),
    };
    if streams > MAX_STREAMS {
        return Err(bad(&format!("{streams} streams (at most {MAX_STREAMS})")));
    }
    let mode = if transport.is_empty() { TransportMode::Grpc } else { transport.parse::<TransportMode>()? };
    let config = GrpcConfig::default()
        .transport(mode)
        .streams((streams > 0).then_some(streams))
        .compress(if compress.is_empty() { "none" } else { compress })
        .secret(Some(grant))
        .tls(tls);
    Ok((RemoteSpec::new(t.host, port, t.module, path), config))
}
