//! The TCP data plane's negotiation on the control stream.

use super::{ClientPlane, DataPlane};
use crate::error::protocol;
use crate::frames::Incoming;
use crate::{SessionConfig, TransportMode};
use blit_api::{Error, ErrorKind, PayloadTransport, Result};
use blit_engine::TransportReport;
use blit_proto::pb;
use blit_proto::pb::frame::Body;
use blit_transport_tcp::{Acceptor, Compression, TcpConfig, TcpTransport, Token, AUTO_STREAMS, TOKEN_TTL};
use prost::bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

/// A daemon's offer waiting for the client: the listener accepting the
/// data connections until its token expires.
#[derive(Debug)]
pub(crate) struct PendingPlane {
    accept: JoinHandle<Result<Vec<blit_transport_tcp::Link>>>,
}

impl Drop for PendingPlane {
    fn drop(&mut self) {
        // A session that ends or falls back closes the listener at once.
        self.accept.abort();
    }
}

/// The TCP data plane as a session's carrier.
#[derive(Debug)]
struct TcpPlane(Arc<TcpTransport>);

impl DataPlane for TcpPlane {
    fn transport(&self) -> Arc<dyn PayloadTransport> {
        self.0.clone()
    }

    fn close(&self) {
        self.0.closer().close();
    }

    fn report(&self) -> TransportReport {
        let mut report = TransportReport::new(blit_transport_tcp::SCHEME);
        if let Some(t) = self.0.tuning() {
            report.streams = t.streams;
            report.chunk_size = u64::from(t.chunk_size);
            report.compression = t.compression;
            report.tuning = t.how;
        }
        report.wire_bytes = Some(self.0.closer().wire_bytes());
        report
    }
}

fn plane(transport: TcpTransport) -> Arc<dyn DataPlane> {
    Arc::new(TcpPlane(Arc::new(transport)))
}

/// Client: after `Opened`, opens the data connections the daemon offered.
/// `control` is the daemon address the control connection uses (`None`
/// when the medium is not a socket: then only
/// [`SessionConfig::data_plane_addr`] can say where); the data plane is on
/// the same address unless [`SessionConfig::data_plane_addr`] says
/// otherwise.
pub(crate) async fn client(
    offer: Option<pb::DataPlaneOffer>,
    control: Option<SocketAddr>,
    config: &SessionConfig,
    host: &str,
    peer: &str,
) -> Result<ClientPlane> {
    if config.transport == TransportMode::Grpc {
        return Ok(ClientPlane::InStream);
    }
    let compression: Compression = config.compress.parse()?;
    let Some(offer) = offer else {
        let why = "blitd offered no data plane";
        return match config.transport {
            TransportMode::Tcp => Err(Error::new(ErrorKind::Unsupported, why)
                .with_path(peer.to_owned())
                .with_hint("use --transport grpc or auto")),
            _ => Ok(ClientPlane::Fallback { answer: None, reason: why.to_owned() }),
        };
    };
    let token = Token::from_bytes(&offer.token).map_err(|e| protocol(peer, e.message()))?;
    let port = u16::try_from(offer.port).map_err(|_| protocol(peer, format!("a data-plane port {}", offer.port)))?;
    let Some(addr) = config.data_plane_addr.or(control.map(|c| SocketAddr::new(c.ip(), port))) else {
        let why = "the session's medium has no address to open a data plane on";
        return match config.transport {
            TransportMode::Tcp => Err(Error::new(ErrorKind::Unsupported, why).with_path(peer.to_owned())),
            _ => {
                let answer = pb::DataPlane { choice: Some(pb::data_plane::Choice::Fallback(why.to_owned())) };
                Ok(ClientPlane::Fallback { answer: Some(answer), reason: why.to_owned() })
            }
        };
    };
    let count = config.streams.unwrap_or(AUTO_STREAMS);
    let tls = config.tls.as_ref().map(|tls| (tls, host));
    match blit_transport_tcp::connect_tls(addr, &token, count, config.data_plane_timeout, tls).await {
        Ok(streams) => {
            let tcp = TcpConfig::new().streams(config.streams).compression(compression);
            let ready = pb::DataPlaneReady {
                streams: streams.len() as u32,
                pinned: config.streams.is_some(),
                compress: compression.to_string(),
            };
            let answer = pb::DataPlane { choice: Some(pb::data_plane::Choice::Ready(ready)) };
            Ok(ClientPlane::Ready { answer, plane: plane(TcpTransport::new(streams, tcp, peer)) })
        }
        Err(e) if config.transport == TransportMode::Tcp => Err(e),
        // A refused certificate is never a reason to fall back.
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(e),
        Err(e) => {
            let reason = format!(
                "the TCP data plane at {addr} was not reachable within {} s ({}); the payload went in-stream over gRPC",
                config.data_plane_timeout.as_secs_f64(),
                e.message()
            );
            tracing::info!("{reason}");
            let answer = pb::DataPlane { choice: Some(pb::data_plane::Choice::Fallback(reason.clone())) };
            Ok(ClientPlane::Fallback { answer: Some(answer), reason })
        }
    }
}

/// Daemon: binds a data-plane listener on the address the control
/// connection arrived on (`local`), at a port of `ports` when given, when
/// the client asked for the data plane, and returns the offer for
/// `Opened`. Without a known local address there is nothing safe to bind,
/// and with every port of `ports` taken there is nowhere to: `auto` goes
/// in-stream, `tcp` is refused.
pub(crate) fn offer(
    mode: TransportMode,
    local: Option<SocketAddr>,
    ports: Option<crate::PortRange>,
    tls: Option<&blit_tls::ServerTls>,
) -> Result<Option<(pb::DataPlaneOffer, PendingPlane)>> {
    if mode == TransportMode::Grpc {
        return Ok(None);
    }
    let bound = local
        .ok_or_else(|| Error::new(ErrorKind::Unsupported, "blitd cannot tell which address the client reached"))
        .and_then(|local| {
            let listener = match ports {
                // Start at a clock-chosen port, so sessions spread.
                Some(range) => range.bind(local.ip(), spread()).map_err(|e| {
                    Error::io("bind the data-plane listener", local.ip(), e)
                        .with_hint(format!("widen data_ports ({range}) in blitd.toml, or free a port of it"))
                })?,
                None => std::net::TcpListener::bind(SocketAddr::new(local.ip(), 0))
                    .map_err(|e| Error::io("bind the data-plane listener", local.ip(), e))?,
            };
            let port = listener.local_addr().map_err(|e| Error::io("bind", local.ip(), e))?.port();
            Ok((Acceptor::from_std(listener, Token::random()?, TOKEN_TTL)?.tls(tls.cloned()), port))
        });
    match bound {
        Ok((acceptor, port)) => {
            let offer = pb::DataPlaneOffer {
                port: u32::from(port),
                token: Bytes::copy_from_slice(acceptor.token().as_bytes()),
            };
            Ok(Some((offer, PendingPlane { accept: tokio::spawn(acceptor.accept()) })))
        }
        Err(e) if mode == TransportMode::Tcp => Err(e),
        Err(e) => {
            tracing::warn!("no data plane offered: {e}");
            Ok(None)
        }
    }
}

/// Where a search of the data-port range starts: the clock's nanoseconds.
fn spread() -> usize {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as usize)
}

/// Daemon: reads the client's answer to the offer (its first frame after
/// `Opened`) and, when it is ready, waits for its data connections.
/// `Ok(None)`: the client falls back to in-stream payloads.
pub(crate) async fn establish(
    mut pending: PendingPlane,
    incoming: &mut Incoming,
    peer: &str,
) -> Result<Option<Arc<dyn DataPlane>>> {
    let limit = TOKEN_TTL + std::time::Duration::from_secs(5);
    let frame = tokio::time::timeout(limit, incoming.next())
        .await
        .map_err(|_| protocol(peer, "no answer to the data-plane offer in time"))?
        .transpose()?;
    let ready = match frame.and_then(|f| f.body) {
        Some(Body::DataPlane(pb::DataPlane { choice: Some(pb::data_plane::Choice::Ready(ready)) })) => ready,
        Some(Body::DataPlane(pb::DataPlane { choice: Some(pb::data_plane::Choice::Fallback(reason)) })) => {
            tracing::info!("{peer}: in-stream payload: {reason}");
            return Ok(None);
        }
        None => return Err(crate::error::peer_gone(peer)),
        _ => return Err(protocol(peer, "a session frame before the answer to the data-plane offer")),
    };
    let compression: Compression = ready.compress.parse().map_err(|e: Error| e.with_path(peer.to_owned()))?;
    let streams = (&mut pending.accept)
        .await
        .map_err(|e| Error::new(ErrorKind::Unexpected, format!("the data-plane listener failed: {e}")))?
        .map_err(|e| e.with_path(peer.to_owned()))?;
    if streams.len() as u32 != ready.streams {
        let what = format!("{} data connections, then announced {}", streams.len(), ready.streams);
        return Err(protocol(peer, what));
    }
    let pinned = ready.pinned.then_some(ready.streams);
    let config = TcpConfig::new().streams(pinned).compression(compression);
    Ok(Some(plane(TcpTransport::new(streams, config, peer))))
}
