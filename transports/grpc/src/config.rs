//! How to reach blitd over gRPC and talk to it.

use crate::auth::Secret;
use blit_session::{SessionConfig, TransportMode, MAX_MESSAGE_SIZE};
use blit_tls::ClientTls;
use std::net::SocketAddr;
use std::time::Duration;

/// How to reach and talk to blitd.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrpcConfig {
    /// How long resolving the host and connecting may take (default 5 s).
    pub connect_timeout: Duration,
    /// How long the daemon may take to accept a request (default 10 s).
    pub handshake_timeout: Duration,
    /// Most bytes of one gRPC message, both ways (default [`MAX_MESSAGE_SIZE`]).
    pub max_message_size: usize,
    /// Which transport carries the payload (default [`TransportMode::Grpc`];
    /// the `blit` command defaults to [`TransportMode::Auto`]).
    pub transport: TransportMode,
    /// Data connections to open and use; `None` opens 4 and lets the
    /// source ramp up to as many as make a large transfer faster.
    pub streams: Option<u32>,
    /// Per-record compression on the data plane: `none`, `zstd`,
    /// `zstd:LEVEL` or `auto` (default `none`). The source applies it.
    pub compress: String,
    /// How long opening the data connections may take before `auto` falls
    /// back to in-stream gRPC (default 2 s).
    pub data_plane_timeout: Duration,
    /// Connect the data plane here instead of the offered port on the
    /// daemon's address (port forwarding; tests point it at a closed port).
    pub data_plane_addr: Option<SocketAddr>,
    /// The shared secret sent with every request (default none).
    pub secret: Option<Secret>,
    /// Connect with TLS, trusting these roots (default `None`: plain TCP).
    /// The data plane then runs inside TLS too, checked against the same
    /// roots and host.
    pub tls: Option<ClientTls>,
    /// Reach the server through this program's standard input and output
    /// (ssh) instead of TCP; the payload then travels in-stream.
    #[cfg(feature = "client")]
    pub pipe: Option<crate::Pipe>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            max_message_size: MAX_MESSAGE_SIZE,
            transport: TransportMode::Grpc,
            streams: None,
            compress: "none".to_owned(),
            data_plane_timeout: Duration::from_secs(2),
            data_plane_addr: None,
            secret: None,
            tls: None,
            #[cfg(feature = "client")]
            pipe: None,
        }
    }
}

impl GrpcConfig {
    /// How sessions run (the handshake timeout and the data-plane fields).
    pub fn session(&self) -> SessionConfig {
        let mut plane = SessionConfig::default();
        plane.handshake_timeout = self.handshake_timeout;
        plane.transport = self.transport;
        // A pipe carries everything; there is no address for a data plane.
        #[cfg(feature = "client")]
        if self.pipe.is_some() {
            plane.transport = TransportMode::Grpc;
        }
        plane.streams = self.streams;
        plane.compress = self.compress.clone();
        plane.data_plane_timeout = self.data_plane_timeout;
        plane.data_plane_addr = self.data_plane_addr;
        plane.tls = self.tls.clone();
        plane
    }

    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the handshake timeout.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Chooses the payload transport.
    pub fn transport(mut self, mode: TransportMode) -> Self {
        self.transport = mode;
        self
    }

    /// Pins the data-plane connection count (1..=16).
    pub fn streams(mut self, n: Option<u32>) -> Self {
        self.streams = n.map(|n| n.clamp(1, 16));
        self
    }

    /// Sets the data-plane compression (`none`, `zstd[:LEVEL]`, `auto`).
    pub fn compress(mut self, compress: impl Into<String>) -> Self {
        self.compress = compress.into();
        self
    }

    /// Sets how long opening the data connections may take.
    pub fn data_plane_timeout(mut self, timeout: Duration) -> Self {
        self.data_plane_timeout = timeout;
        self
    }

    /// Sends `secret` with every request.
    pub fn secret(mut self, secret: Option<Secret>) -> Self {
        self.secret = secret;
        self
    }

    /// Connects with TLS, trusting `tls`'s roots (`None`: plain TCP).
    pub fn tls(mut self, tls: Option<ClientTls>) -> Self {
        self.tls = tls;
        self
    }

    /// Reaches the server through `pipe` instead of TCP.
    #[cfg(feature = "client")]
    pub fn pipe(mut self, pipe: Option<crate::Pipe>) -> Self {
        self.pipe = pipe;
        self
    }

    /// Connects the data plane to `addr` instead of the offered address.
    pub fn data_plane_addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.data_plane_addr = addr;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_builders() {
        let c = GrpcConfig::default();
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.max_message_size, 4 << 20);
        let c = GrpcConfig::new().connect_timeout(Duration::from_millis(10));
        assert_eq!(c.connect_timeout, Duration::from_millis(10));
        let c = GrpcConfig::new().transport(TransportMode::Auto).streams(Some(40)).compress("zstd:3");
        assert_eq!((c.transport, c.streams, c.compress.as_str()), (TransportMode::Auto, Some(16), "zstd:3"));
        assert_eq!(c.data_plane_timeout, Duration::from_secs(2));
        assert_eq!(c.session().streams, Some(16));
    }
}
