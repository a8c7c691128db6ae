//! Where a remote endpoint is, and how to talk to it.

use crate::auth::Secret;
use blit_api::{Error, ErrorKind, RelPath};
use blit_tls::ClientTls;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The port blitd listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9031;

/// Most bytes one gRPC message may carry, in both directions (4 MiB). Need
/// batches (at most 3 MiB of headers) and payload records (at most 1 MiB of
/// data) stay well below it; a peer's message above it ends the session
/// with a clear error.
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Most bytes of file data in one payload record (1 MiB).
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// Which transport carries a session's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportMode {
    /// The TCP data plane when it can be reached within
    /// [`GrpcConfig::data_plane_timeout`], else in-stream gRPC (the summary
    /// says why).
    Auto,
    /// The TCP data plane; a session that cannot set it up fails.
    Tcp,
    /// In-stream gRPC payload records.
    #[default]
    Grpc,
}

impl TransportMode {
    /// `auto`, `tcp` or `grpc`, as `Open.transport` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportMode::Auto => "auto",
            TransportMode::Tcp => "tcp",
            TransportMode::Grpc => "grpc",
        }
    }
}

impl FromStr for TransportMode {
    type Err = Error;

    /// Parses `auto`, `tcp` or `grpc` (the empty string is `grpc`, what
    /// clients without a data plane send).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(TransportMode::Auto),
            "tcp" => Ok(TransportMode::Tcp),
            "grpc" | "" => Ok(TransportMode::Grpc),
            _ => Err(Error::new(ErrorKind::InvalidInput, format!("unknown transport `{s}`"))
                .with_hint("use auto, tcp or grpc")),
        }
    }
}

impl fmt::Display for TransportMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// source's warm-up probe choose how many to use.
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
        }
    }
}

impl GrpcConfig {
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

    /// Connects the data plane to `addr` instead of the offered address.
    pub fn data_plane_addr(mut self, addr: Option<SocketAddr>) -> Self {
        self.data_plane_addr = addr;
        self
    }
}

/// A remote endpoint: a daemon (`host`, `port`), one of its modules, and a
/// path inside that module.
///
/// The path is module-relative and already validated ([`RelPath`]): it cannot
/// name `..` or an absolute path. The daemon checks again, and also refuses
/// symlinks that lead out of the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// Host name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// TCP port ([`DEFAULT_PORT`] unless the user named one).
    pub port: u16,
    /// Module name.
    pub module: String,
    /// Path inside the module (the root for the module itself).
    pub path: RelPath,
}

impl RemoteSpec {
    /// A remote endpoint.
    pub fn new(host: impl Into<String>, port: u16, module: impl Into<String>, path: RelPath) -> Self {
        RemoteSpec { host: host.into(), port, module: module.into(), path }
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn address(&self) -> String {
        address(&self.host, self.port)
    }
}

/// A module as clients see it (never its directory on the daemon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// The name clients use (`host:/name/path`).
    pub name: String,
    /// What the operator wrote about it (may be empty).
    pub comment: String,
    /// Pushes into it are refused.
    pub read_only: bool,
}

/// `host:port`, with brackets around an IPv6 address.
pub(crate) fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl fmt::Display for RemoteSpec {
    /// `host:port:/module/path`, the CLI's syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:/{}", self.address(), self.module)?;
        if !self.path.is_root() {
            write!(f, "/{}", self.path.display())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_display() {
        let c = GrpcConfig::default();
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.max_message_size, 4 << 20);
        let c = GrpcConfig::new().connect_timeout(Duration::from_millis(10));
        assert_eq!(c.connect_timeout, Duration::from_millis(10));
        let path = RelPath::from_bytes(b"a/b".to_vec()).unwrap();
        let r = RemoteSpec::new("example.org", DEFAULT_PORT, "photos", path);
        assert_eq!(r.to_string(), "example.org:9031:/photos/a/b");
        let r = RemoteSpec::new("::1", 7, "m", RelPath::root());
        assert_eq!(r.address(), "[::1]:7");
        assert_eq!(r.to_string(), "[::1]:7:/m");
    }

    #[test]
    fn transport_modes_parse() {
        for mode in [TransportMode::Auto, TransportMode::Tcp, TransportMode::Grpc] {
            assert_eq!(mode.as_str().parse::<TransportMode>().unwrap(), mode);
        }
        assert_eq!("".parse::<TransportMode>().unwrap(), TransportMode::Grpc);
        let e = "udp".parse::<TransportMode>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("auto, tcp or grpc"), "{e}");
        let c = GrpcConfig::new().transport(TransportMode::Auto).streams(Some(40)).compress("zstd:3");
        assert_eq!((c.transport, c.streams, c.compress.as_str()), (TransportMode::Auto, Some(16), "zstd:3"));
        assert_eq!(c.data_plane_timeout, Duration::from_secs(2));
    }
}
