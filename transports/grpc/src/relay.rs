//! The client side of a copy between two daemons: `Grant` on the
//! destination, then `Relay` on the source, whose answer
//! [`blit_session::relay::follow`] turns into a push's events and summary.
//! File bytes go from daemon to daemon; the client only sends the two
//! requests and reads progress.

use crate::admin::{answer, ready};
use crate::auth::Secret;
use crate::error::error_from_status;
use crate::GrpcConfig;
use blit_api::{Error, ErrorKind, Events, Result, TransferOptions, TransferSummary};
use blit_proto::{pb, PROTOCOL_VERSION};
use blit_session::client::{check_version, within};
use blit_session::relay::{follow, options_to_wire, Replies};
use blit_session::RemoteSpec;
use prost::bytes::Bytes;
use std::time::Duration;
use tokio_stream::StreamExt;

/// Most bytes of CA certificates a relay request carries for the
/// destination's TLS (the relaying daemon trusts them for this push only).
pub const MAX_RELAY_CA: usize = 256 * 1024;

/// A one-time grant from a destination daemon: it admits one push into the
/// module and path it was issued for, with the options it was issued for,
/// within [`Grant::valid`]. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct Grant {
    token: Secret,
    /// How long it waits for its push.
    pub valid: Duration,
}

impl Grant {
    /// The grant as a push presents it: in place of the module's secret.
    pub fn as_secret(&self) -> Secret {
        self.token.clone()
    }
}

/// Where a relayed push goes: the destination with the grant it issued,
/// and how the relaying daemon reaches it.
#[derive(Debug, Clone)]
pub struct RelayTo {
    /// The destination daemon, module and path, as this client names them.
    pub remote: RemoteSpec,
    /// The grant the destination issued for exactly this push.
    pub grant: Grant,
    /// TLS to the destination: `None` plain TCP, `Some(empty)` the
    /// relaying daemon's system roots, else these CA certificates (PEM, at
    /// most [`MAX_RELAY_CA`] bytes).
    pub tls: Option<Vec<u8>>,
}

/// Asks the daemon of `remote` for a grant to push into its module and
/// path with `options` (`config`'s secret must open that module).
pub async fn grant(remote: &RemoteSpec, options: &TransferOptions, config: &GrpcConfig) -> Result<Grant> {
    let peer = remote.address();
    let message = pb::GrantRequest {
        protocol_version: PROTOCOL_VERSION,
        module: remote.module.clone(),
        path: Bytes::copy_from_slice(remote.path.as_bytes()),
        options: Some(options_to_wire(options)),
    };
    let (mut client, request) = ready(&remote.host, remote.port, config, message).await?;
    let reply = match within(config.handshake_timeout, &peer, client.grant(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(answer(&status, &peer, config, "a copy between two daemons (`Grant`)").await),
    };
    check_version(reply.protocol_version, &peer)?;
    let bad = || Error::new(ErrorKind::Protocol, "the grant is not 64 hex digits").with_path(peer.clone());
    if reply.token.len() != 64 || !reply.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let token = Secret::new(&reply.token, "the grant").map_err(|_| bad())?;
    Ok(Grant { token, valid: Duration::from_secs(reply.valid_secs.into()) })
}

/// Asks the daemon of `from` to push its module's path to `to` with
/// `options`, over the transport `config` names; `events` sees what a push
/// shows its client, and the summary is a push's.
pub async fn relay(
    from: &RemoteSpec,
    to: &RelayTo,
    options: &TransferOptions,
    config: &GrpcConfig,
    events: Events,
) -> Result<TransferSummary> {
    let peer = from.address();
    let ca = to.tls.as_deref().unwrap_or_default();
    if ca.len() > MAX_RELAY_CA {
        return Err(Error::new(ErrorKind::InvalidInput, format!("more than {MAX_RELAY_CA} bytes of CA certificates"))
            .with_hint("give --tls-ca a file with only the CA that signed the destination's certificate"));
    }
    let target = pb::RelayTarget {
        host: to.remote.host.clone(),
        port: to.remote.port.into(),
        module: to.remote.module.clone(),
        path: Bytes::copy_from_slice(to.remote.path.as_bytes()),
        grant: to.grant.token.text().to_owned(),
        tls: to.tls.is_some(),
        tls_ca_pem: Bytes::copy_from_slice(ca),
    };
    let session = config.session();
    let message = pb::RelayRequest {
        protocol_version: PROTOCOL_VERSION,
        module: from.module.clone(),
        path: Bytes::copy_from_slice(from.path.as_bytes()),
        options: Some(options_to_wire(options)),
        target: Some(target),
        transport: session.transport.as_str().to_owned(),
        streams: session.streams.unwrap_or(0),
        compress: session.compress.clone(),
    };
    let (mut client, request) = ready(&from.host, from.port, config, message).await?;
    let stream = match within(config.handshake_timeout, &peer, client.relay(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(answer(&status, &peer, config, "a copy between two daemons (`Relay`)").await),
    };
    let shown = peer.clone();
    let replies: Replies = Box::pin(stream.map(move |item| item.map_err(|s| error_from_status(&s, &shown))));
    follow(replies, &session, options.dry_run, &peer, events).await
}
