//! The client side: push, pull, modules and list against a blitd.
//!
//! Every call connects afresh (within [`GrpcConfig::connect_timeout`]),
//! names the daemon (`host:port`) in every error and says what to do. A
//! transfer emits the same events as a local one: `Started` (direction
//! `push` or `pull`, transport `grpc`) first, one terminal event last, and in
//! between the destination's events, replayed from the daemon in a push.

use crate::auth::attach;
use crate::config::address;
use crate::connector::TlsConnector;
use crate::convert::{header_from_pb, options_to_pb, Mask};
use crate::error::{error_from_report, error_from_status, protocol};
use crate::link::{self, Half, Session, Window, FRAME_QUEUE};
use crate::plane::{self, ClientPlane};
use crate::{GrpcConfig, ModuleInfo, RemoteSpec, TransportMode, SCHEME};
use blit_api::{Direction, Error, ErrorKind, Events, FileHeader, Result, TransferOptions, TransferSummary};
use blit_engine::{DestinationRoles, SourceRoles, SummaryTap};
use blit_proto::pb::blit_client::BlitClient;
use blit_proto::{pb, PROTOCOL_VERSION};
use prost::bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

/// How to start a daemon, for errors that suggest one is not running.
const START_HINT: &str = "is blitd running? start it with `blitd --module name=/path`";

/// Sends the files of `source` to `remote`; the daemon runs the
/// destination half inside the module.
///
/// `source` is usually a local tree:
///
/// ```no_run
/// # async fn run() -> blit_api::Result<()> {
/// use blit_transport_grpc::{GrpcConfig, RemoteSpec, DEFAULT_PORT};
/// use blit_transport_local::LocalSource;
/// use std::sync::Arc;
/// let local = Arc::new(LocalSource::new("photos".into()));
/// let source = blit_engine::SourceRoles { source: local.clone(), reader: local };
/// let remote = RemoteSpec::new("nas", DEFAULT_PORT, "backup", blit_api::RelPath::from_bytes(b"photos".to_vec())?);
/// let events = Arc::new(blit_api::NullSink);
/// let options = blit_api::TransferOptions::new();
/// let summary = blit_transport_grpc::push(&remote, source, &options, &GrpcConfig::default(), events).await?;
/// println!("{} files", summary.files_transferred);
/// # Ok(())
/// # }
/// ```
pub async fn push(
    remote: &RemoteSpec,
    source: SourceRoles,
    options: &TransferOptions,
    config: &GrpcConfig,
    events: Events,
) -> Result<TransferSummary> {
    let tap = SummaryTap::pending(events, Direction::Push, planned_transport(config), options.dry_run);
    let half = Half::Source { roles: source, replay: Some(tap.clone()) };
    let result = transfer(remote, pb::Role::Push, half, options, config, &tap).await;
    conclude(&tap, result)
}

/// Fetches the files below `remote` into `destination`; the daemon runs the
/// source half inside the module.
pub async fn pull(
    remote: &RemoteSpec,
    destination: DestinationRoles,
    options: &TransferOptions,
    config: &GrpcConfig,
    events: Events,
) -> Result<TransferSummary> {
    let tap = SummaryTap::pending(events, Direction::Pull, planned_transport(config), options.dry_run);
    let half = Half::Destination { roles: destination, events: Some(tap.clone()) };
    let result = transfer(remote, pb::Role::Pull, half, options, config, &tap).await;
    conclude(&tap, result)
}

/// The transport `Started` names: the one the session sets out to use (the
/// summary names the one it used, and why, if it fell back).
fn planned_transport(config: &GrpcConfig) -> &'static str {
    match config.transport {
        TransportMode::Grpc => SCHEME,
        _ if cfg!(feature = "tcp-data-plane") => "tcp",
        _ => SCHEME,
    }
}

fn conclude(tap: &SummaryTap, result: Result<()>) -> Result<TransferSummary> {
    match result {
        Ok(()) => Ok(tap.finish()),
        Err(e) => {
            tap.fail(&e);
            Err(e)
        }
    }
}

/// The modules `host:port` serves.
pub async fn modules(host: &str, port: u16, config: &GrpcConfig) -> Result<Vec<ModuleInfo>> {
    let peer = address(host, port);
    let mut client = connect(host, port, config).await?;
    let mut request = tonic::Request::new(pb::ModulesRequest { protocol_version: PROTOCOL_VERSION });
    attach(&mut request, config.secret.as_ref());
    let reply = within(config.handshake_timeout, &peer, client.modules(request))
        .await?
        .map_err(|s| refused(&s, &peer, config))?
        .into_inner();
    check_version(reply.protocol_version, &peer)?;
    Ok(reply
        .modules
        .into_iter()
        .map(|m| ModuleInfo { name: m.name, comment: m.comment, read_only: m.read_only })
        .collect())
}

/// Lists `remote`: the entries of the directory it names (their paths are
/// names inside it), or the one entry it names (under the root's empty
/// path, so it cannot be mistaken for a directory holding one entry). `each` sees every entry as
/// it arrives, in the daemon's order.
pub async fn list(remote: &RemoteSpec, config: &GrpcConfig, mut each: impl FnMut(FileHeader) + Send) -> Result<()> {
    let peer = remote.address();
    let mut client = connect(&remote.host, remote.port, config).await?;
    let mut request = tonic::Request::new(pb::ListRequest {
        protocol_version: PROTOCOL_VERSION,
        module: remote.module.clone(),
        path: Bytes::copy_from_slice(remote.path.as_bytes()),
    });
    attach(&mut request, config.secret.as_ref());
    let mut stream = within(config.handshake_timeout, &peer, client.list(request))
        .await?
        .map_err(|s| refused(&s, &peer, config))?
        .into_inner();
    while let Some(reply) = stream.message().await.map_err(|s| error_from_status(&s, &peer))? {
        check_version(reply.protocol_version, &peer)?;
        for entry in reply.entries {
            each(header_from_pb(entry).map_err(|e| protocol(&peer, e.to_string()))?);
        }
    }
    Ok(())
}

/// Opens a session and runs `half` in it.
async fn transfer(
    remote: &RemoteSpec,
    role: pb::Role,
    half: Half,
    options: &TransferOptions,
    config: &GrpcConfig,
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
    let mut attempt = 1;
    let (response, out, control) = loop {
        let (mut client, control) = connect_to(&remote.host, remote.port, config).await?;
        let (out, rx) = mpsc::channel(FRAME_QUEUE);
        // A fresh channel always has room for the first frame.
        let _ = out.try_send(pb::Frame { body: Some(pb::frame::Body::Open(open.clone())) });
        let mut request = tonic::Request::new(ReceiverStream::new(rx));
        attach(&mut request, config.secret.as_ref());
        match within(config.handshake_timeout, &peer, client.transfer(request)).await? {
            Ok(response) => break (response, out, control),
            Err(status) if dropped(&status) && attempt < FIRST_EXCHANGE_ATTEMPTS => {
                tracing::debug!("{peer}: the connection closed before blitd answered; trying again");
                tokio::time::sleep(RETRY_PAUSE * attempt).await;
                attempt += 1;
            }
            Err(status) => return Err(refused(&status, &peer, config)),
        }
    };
    let mut incoming = response.into_inner();
    let first =
        within(config.handshake_timeout, &peer, incoming.message()).await?.map_err(|s| error_from_status(&s, &peer))?;
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
    let report = payload.as_ref().map(|p| p.report.clone());
    // `Started` names the transport that carries the payload, after any fallback.
    tap.announce(payload.as_ref().map_or(SCHEME, |p| p.transport.name()));
    let session = Session { peer, options: options.clone(), peer_window, mask: Mask::none(), cancel: None, payload };
    let result = Box::pin(link::run(incoming, out, half, session)).await;
    tap.set_transport(&match report {
        Some(report) => report(),
        None => plane::in_stream_report(fallback),
    });
    result
}

/// Connections a session's first exchange is tried on when each closes
/// before blitd answers. blitd closes the oldest unauthenticated
/// connection of an address when strangers from that same address (a shared
/// NAT, a hostile local user) flood it; the next connection usually gets
/// through, and nothing has happened yet that a retry could repeat.
const FIRST_EXCHANGE_ATTEMPTS: u32 = 3;
/// The pause before the second attempt (doubled before the third).
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Whether a status says the connection closed before blitd answered
/// (hyper reports it in several ways, `Cancelled` among them, depending on
/// when the other side hangs up), not that blitd refused the request.
fn dropped(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal | tonic::Code::Cancelled
    ) && status.metadata().get("blit-error-kind").is_none()
}

/// The error for a status that ended a request's first exchange. A plain
/// client that reaches a TLS daemon sees the connection drop before any
/// answer; say what may be wrong.
fn refused(status: &tonic::Status, peer: &str, config: &GrpcConfig) -> Error {
    let e = error_from_status(status, peer);
    if config.tls.is_none() && dropped(status) {
        return e.with_hint(
            "the connection closed before blitd answered; if blitd serves TLS, connect with --tls or --tls-ca FILE",
        );
    }
    e
}

/// Refuses a daemon that speaks another protocol version.
fn check_version(theirs: u32, peer: &str) -> Result<()> {
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
async fn within<T>(limit: Duration, peer: &str, fut: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(limit, fut).await.map_err(|_| {
        Error::new(ErrorKind::Io, format!("no answer within {} s", limit.as_secs_f64()))
            .with_path(peer.to_owned())
            .with_hint("is blitd running and reachable? check the host, the port and any firewall")
    })
}

/// The message of `e` and all its causes.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut last = text.clone();
    let mut source = e.source();
    while let Some(cause) = source {
        // Layers of hyper and tonic repeat each other; say each thing once.
        let part = cause.to_string();
        if part != last {
            text.push_str(": ");
            text.push_str(&part);
        }
        last = part;
        source = cause.source();
    }
    text
}

/// Resolves `host` and connects to the first address that answers.
async fn connect(host: &str, port: u16, config: &GrpcConfig) -> Result<BlitClient<Channel>> {
    connect_to(host, port, config).await.map(|(client, _)| client)
}

/// [`connect`], also returning the address that answered (the data plane
/// is offered on the same address).
async fn connect_to(host: &str, port: u16, config: &GrpcConfig) -> Result<(BlitClient<Channel>, SocketAddr)> {
    let peer = address(host, port);
    let attempt = async {
        let addrs: Vec<_> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| {
                Error::new(ErrorKind::NotFound, format!("unknown host `{host}`: {e}"))
                    .with_path(peer.clone())
                    .with_hint("check the host name")
            })?
            .collect();
        let mut last = format!("`{host}` has no address");
        for addr in addrs {
            let endpoint = Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| Error::new(ErrorKind::InvalidInput, causes(&e)).with_path(peer.clone()))?
                .connect_timeout(config.connect_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_timeout(Duration::from_secs(20))
                .initial_stream_window_size(Some(2 * crate::CHUNK_SIZE as u32))
                .initial_connection_window_size(Some(4 * crate::CHUNK_SIZE as u32));
            let connected = match &config.tls {
                None => endpoint.connect().await.map_err(|e| causes(&e)),
                Some(tls) => {
                    let connector = TlsConnector::new(tls.clone(), host);
                    match endpoint.connect_with_connector(connector.clone()).await {
                        Ok(channel) => Ok(channel),
                        // A refused certificate or handshake: say that, not "is blitd running?".
                        Err(e) => match connector.failure() {
                            Some(failure) => return Err(failure.with_path(peer.clone())),
                            None => Err(causes(&e)),
                        },
                    }
                }
            };
            match connected {
                Ok(channel) => return Ok((channel, addr)),
                Err(e) => last = e,
            }
        }
        Err(Error::new(ErrorKind::Io, format!("cannot connect to blitd: {last}"))
            .with_path(peer.clone())
            .with_hint(START_HINT))
    };
    let (channel, addr) = within(config.connect_timeout, &peer, attempt).await??;
    let client = BlitClient::new(channel)
        .max_decoding_message_size(config.max_message_size)
        .max_encoding_message_size(config.max_message_size);
    Ok((client, addr))
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
