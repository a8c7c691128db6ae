//! Where a remote endpoint is, and how to talk to it.

use blit_api::RelPath;
use std::fmt;
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
}

impl Default for GrpcConfig {
    fn default() -> Self {
        GrpcConfig {
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            max_message_size: MAX_MESSAGE_SIZE,
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
}
