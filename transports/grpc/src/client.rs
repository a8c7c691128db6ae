//! The client side: push, pull, modules and list against a blitd over
//! gRPC. The session itself is `blit_session`'s ([`blit_session::client`]);
//! this module opens its stream ([`GrpcDialer`]) and answers the unary
//! requests.
//!
//! Every call connects afresh (within [`GrpcConfig::connect_timeout`]) and
//! names the daemon (`host:port`) in every error, with what to do.

use crate::auth::attach;
use crate::connector::TlsConnector;
use crate::error::{error_from_status, frames};
use crate::GrpcConfig;
use blit_api::{Error, ErrorKind, Events, FileHeader, Result, TransferOptions, TransferSummary};
use blit_engine::{DestinationRoles, SourceRoles};
use blit_proto::pb::blit_client::BlitClient;
use blit_proto::{pb, PROTOCOL_VERSION};
use blit_session::client::{entries_from_pb, modules_from_pb, within, Dialed, Dialer};
use blit_session::frames::FRAME_QUEUE;
use blit_session::{address, ModuleInfo, RemoteSpec};
use prost::bytes::Bytes;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

/// How to start a daemon, for errors that suggest one is not running.
const START_HINT: &str = "is blitd running? start it with `blitd --module name=/path`";

/// Sends the files of `source` to `remote`; the daemon runs the
/// destination half inside the module ([`blit_session::client::push`] over
/// gRPC).
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
/// println!("{} files", summary.entries_transferred);
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
    let dialer = GrpcDialer { remote, config };
    let result = blit_session::client::push(remote, source, options, &config.session(), &dialer, events).await;
    explained(result, config).await
}

/// Fetches the files below `remote` into `destination`; the daemon runs the
/// source half inside the module ([`blit_session::client::pull`] over
/// gRPC).
pub async fn pull(
    remote: &RemoteSpec,
    destination: DestinationRoles,
    options: &TransferOptions,
    config: &GrpcConfig,
    events: Events,
) -> Result<TransferSummary> {
    let dialer = GrpcDialer { remote, config };
    let result = blit_session::client::pull(remote, destination, options, &config.session(), &dialer, events).await;
    explained(result, config).await
}

/// `result`, with a failure told in the words of the piped program when
/// it has already ended (ssh lost its connection, the far side died).
async fn explained<T>(result: Result<T>, config: &GrpcConfig) -> Result<T> {
    match (result, &config.pipe) {
        (Err(e), Some(pipe)) => Err(pipe.explain(e, false).await),
        (result, _) => result,
    }
}

/// The modules `host:port` serves.
pub async fn modules(host: &str, port: u16, config: &GrpcConfig) -> Result<Vec<ModuleInfo>> {
    let peer = address(host, port);
    let mut client = connect(host, port, config).await?;
    let mut request = tonic::Request::new(pb::ModulesRequest { protocol_version: PROTOCOL_VERSION });
    attach(&mut request, config.secret.as_ref());
    let reply = match within(config.handshake_timeout, &peer, client.modules(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(refused(&status, &peer, config).await),
    };
    modules_from_pb(reply, &peer)
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
    let mut stream = match within(config.handshake_timeout, &peer, client.list(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(refused(&status, &peer, config).await),
    };
    while let Some(reply) = stream.message().await.map_err(|s| error_from_status(&s, &peer))? {
        entries_from_pb(reply, &peer)?.into_iter().for_each(&mut each);
    }
    Ok(())
}

/// Opens session streams to one daemon over gRPC: connects, sends the
/// secret, and tries the first exchange again when the connection closes
/// before blitd answers.
struct GrpcDialer<'a> {
    remote: &'a RemoteSpec,
    config: &'a GrpcConfig,
}

#[async_trait::async_trait]
impl Dialer for GrpcDialer<'_> {
    async fn dial(&self, open: pb::Frame) -> Result<Dialed> {
        let (remote, config) = (self.remote, self.config);
        let peer = remote.address();
        let mut attempt = 1;
        loop {
            let (mut client, control) = connect_to(&remote.host, remote.port, config).await?;
            let (out, rx) = mpsc::channel(FRAME_QUEUE);
            // A fresh channel always has room for the first frame.
            let _ = out.try_send(open.clone());
            let mut request = tonic::Request::new(ReceiverStream::new(rx));
            attach(&mut request, config.secret.as_ref());
            match within(config.handshake_timeout, &peer, client.transfer(request)).await? {
                Ok(response) => {
                    let incoming = frames(response.into_inner(), peer);
                    return Ok(Dialed { incoming, out, control });
                }
                Err(status) if dropped(&status) && attempt < FIRST_EXCHANGE_ATTEMPTS => {
                    tracing::debug!("{peer}: the connection closed before blitd answered; trying again");
                    tokio::time::sleep(RETRY_PAUSE * attempt).await;
                    attempt += 1;
                }
                Err(status) => return Err(refused(&status, &peer, config).await),
            }
        }
    }
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
/// answer; say what may be wrong. Through a pipe, the program that ended
/// says it (ssh's refusal, a missing `blit` on the far side).
pub(crate) async fn refused(status: &tonic::Status, peer: &str, config: &GrpcConfig) -> Error {
    let e = error_from_status(status, peer);
    if let Some(pipe) = config.pipe.as_ref().filter(|_| dropped(status)) {
        return pipe.explain(e, true).await;
    }
    if config.tls.is_none() && dropped(status) {
        return e.with_hint(
            "the connection closed before blitd answered; if blitd serves TLS, connect with --tls or --tls-ca FILE",
        );
    }
    e
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
pub(crate) async fn connect(host: &str, port: u16, config: &GrpcConfig) -> Result<BlitClient<Channel>> {
    connect_to(host, port, config).await.map(|(client, _)| client)
}

/// [`connect`], also returning the address that answered (the data plane
/// is offered on the same address); none through a pipe.
async fn connect_to(host: &str, port: u16, config: &GrpcConfig) -> Result<(BlitClient<Channel>, Option<SocketAddr>)> {
    if let Some(pipe) = &config.pipe {
        return Ok((client(pipe.channel().await?, config), None));
    }
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
    Ok((client(channel, config), Some(addr)))
}

/// A client on `channel` with the configured message limits.
fn client(channel: Channel, config: &GrpcConfig) -> BlitClient<Channel> {
    BlitClient::new(channel)
        .max_decoding_message_size(config.max_message_size)
        .max_encoding_message_size(config.max_message_size)
}
