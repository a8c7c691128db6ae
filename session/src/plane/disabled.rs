//! The data plane when this build has none (feature `tcp-data-plane` off):
//! the same signatures as `tcp.rs`, answering as such a build must.

use super::{ClientPlane, DataPlane};
use crate::frames::Incoming;
use crate::{SessionConfig, TransportMode};
use blit_api::{Error, ErrorKind, Result, TCP_NOT_BUILT as NOT_BUILT};
use blit_proto::pb;
use std::net::SocketAddr;
use std::sync::Arc;

/// A daemon's offer still waiting for the client (never made here).
#[derive(Debug)]
pub(crate) struct PendingPlane(());

/// Client: refuses `tcp`, falls back for `auto`.
pub(crate) async fn client(
    _offer: Option<pb::DataPlaneOffer>,
    _control: Option<SocketAddr>,
    config: &SessionConfig,
    _host: &str,
    _peer: &str,
) -> Result<ClientPlane> {
    match config.transport {
        TransportMode::Grpc => Ok(ClientPlane::InStream),
        TransportMode::Tcp => Err(Error::new(ErrorKind::Unsupported, NOT_BUILT).with_hint("or use --transport grpc")),
        TransportMode::Auto => Ok(ClientPlane::Fallback { answer: None, reason: NOT_BUILT.to_owned() }),
    }
}

/// Daemon: no offer; `tcp` is refused.
pub(crate) fn offer(
    mode: TransportMode,
    _local: Option<SocketAddr>,
    _ports: Option<crate::PortRange>,
    _tls: Option<&blit_tls::ServerTls>,
) -> Result<Option<(pb::DataPlaneOffer, PendingPlane)>> {
    match mode {
        TransportMode::Tcp => Err(Error::new(
            ErrorKind::Unsupported,
            "this blitd was built without the tcp data plane (feature `tcp-data-plane`)",
        )
        .with_hint("use --transport grpc or auto")),
        _ => Ok(None),
    }
}

/// Daemon: never called without an offer.
pub(crate) async fn establish(
    _pending: PendingPlane,
    _incoming: &mut Incoming,
    _peer: &str,
) -> Result<Option<Arc<dyn DataPlane>>> {
    Ok(None)
}
