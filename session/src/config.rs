//! Where a remote endpoint is, and how a session moves its payload.

use blit_api::{Error, ErrorKind, RelPath};
use blit_tls::ClientTls;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The port blitd listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 9031;

/// Most bytes one session frame may carry, in both directions, on any
/// medium (4 MiB). Need batches (at most 3 MiB of headers) and payload
/// records (at most 1 MiB of data) stay well below it; a peer's frame above
/// it ends the session with a clear error.
pub const MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// Most bytes of file data in one payload record (1 MiB).
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// Which transport carries a session's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportMode {
    /// The TCP data plane when it can be reached within
    /// [`SessionConfig::data_plane_timeout`], else in-stream gRPC (the summary
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

/// How a client runs its sessions: how long the daemon may take to accept
/// one, which transport carries the payload, and how the data plane is
/// opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// How long the daemon may take to answer `Open` (default 10 s).
    pub handshake_timeout: Duration,
    /// Which transport carries the payload (default [`TransportMode::Grpc`]).
    pub transport: TransportMode,
    /// Data connections to open and use; `None` opens 4 and lets the
    /// source ramp up to as many as make a large transfer faster.
    pub streams: Option<u32>,
    /// Per-record compression on the data plane: `none`, `zstd`,
    /// `zstd:LEVEL` or `auto` (default `none`). The source applies it.
    pub compress: String,
    /// How long opening the data connections may take before `auto` falls
    /// back to in-stream payloads (default 2 s).
    pub data_plane_timeout: Duration,
    /// Connect the data plane here instead of the offered port on the
    /// daemon's address (port forwarding; tests point it at a closed port).
    pub data_plane_addr: Option<SocketAddr>,
    /// The data plane runs inside TLS, checked against these roots and the
    /// daemon's host (default `None`: plain TCP).
    pub tls: Option<ClientTls>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            handshake_timeout: Duration::from_secs(10),
            transport: TransportMode::Grpc,
            streams: None,
            compress: "none".to_owned(),
            data_plane_timeout: Duration::from_secs(2),
            data_plane_addr: None,
            tls: None,
        }
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

/// `host:port`, with brackets around an IPv6 address; `host` alone for
/// port 0, a peer reached another way than TCP (ssh).
pub fn address(host: &str, port: u16) -> String {
    if port == 0 {
        host.to_owned()
    } else if host.contains(':') {
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
    fn remote_specs_display_as_the_cli_writes_them() {
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
    }
}
