//! How the data plane sends: streams, chunk size, range size, compression
//! and timeouts.

use blit_api::{Error, ErrorKind, Result};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Most connections one transfer may use.
pub const MAX_STREAMS: u32 = 16;
/// Connections a client opens when the stream count is not pinned: the
/// largest count the ramp reaches.
pub const AUTO_STREAMS: u32 = 4;
/// Bytes of file data per record when the user did not choose
/// (1 MiB).
pub const DEFAULT_CHUNK: u32 = 1024 * 1024;
/// The zstd level `--compress zstd` and `--compress auto` use.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// Per-record payload compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Raw bytes; file bodies leave through `sendfile`.
    #[default]
    None,
    /// Every data record compressed with zstd at this level (1..=22).
    Zstd(i32),
    /// zstd only when the probe measured a link slower than the compressor
    /// on this data, so a fast link is never slowed down.
    Auto,
}

impl FromStr for Compression {
    type Err = Error;

    /// Parses `none`, `zstd`, `zstd:LEVEL` (1..=22) or `auto`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::new(ErrorKind::InvalidInput, format!("unknown compression `{s}`"))
                .with_hint("use none, zstd, zstd:LEVEL (1 to 22) or auto")
        };
        match s {
            "" | "none" => Ok(Compression::None),
            "auto" => Ok(Compression::Auto),
            "zstd" => Ok(Compression::Zstd(DEFAULT_ZSTD_LEVEL)),
            _ => {
                let level = s.strip_prefix("zstd:").ok_or_else(bad)?;
                match level.parse::<i32>() {
                    Ok(level) if (1..=22).contains(&level) => Ok(Compression::Zstd(level)),
                    _ => Err(bad()),
                }
            }
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zstd(level) => write!(f, "zstd:{level}"),
            Compression::Auto => f.write_str("auto"),
        }
    }
}

/// How a [`crate::TcpTransport`] sends. The receiving half needs none of it:
/// every record says how it is encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpConfig {
    /// Use exactly this many of the connections; `None` ramps 1, 2, 4 on a
    /// large transfer (see `ramp`) and uses every connection otherwise.
    pub streams: Option<u32>,
    /// Bytes of file data per record; `None` is [`DEFAULT_CHUNK`].
    pub chunk_size: Option<u32>,
    /// Bytes per range of a file the planner cut into ranges (and of a
    /// resumed file's runs); `None` keeps the planner's size
    /// (`blit_planner::ranges`: a few ranges per stream, 256 KiB to 64 MiB).
    pub range_size: Option<u64>,
    /// Per-record compression.
    pub compression: Compression,
    /// The first file must be at least this large for the stream count to
    /// ramp (and for `auto` compression's probe to run; default 256 MiB):
    /// smaller transfers use every connection.
    pub probe_min_bytes: u64,
    /// A receiver that hears nothing for this long gives up (default 30 s);
    /// an idle sender sends a keep-alive every third of it.
    pub idle_timeout: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            streams: None,
            chunk_size: None,
            range_size: None,
            compression: Compression::None,
            probe_min_bytes: 256 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

impl TcpConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pins the stream count (1..=[`MAX_STREAMS`]).
    pub fn streams(mut self, n: Option<u32>) -> Self {
        self.streams = n.map(|n| n.clamp(1, MAX_STREAMS));
        self
    }

    /// Pins the chunk size (clamped to 4 KiB ..= [`crate::frame::MAX_CHUNK`]).
    pub fn chunk_size(mut self, n: Option<u32>) -> Self {
        self.chunk_size = n.map(|n| n.clamp(4096, crate::frame::MAX_CHUNK));
        self
    }

    /// Pins the range size of large files (at least 64 KiB).
    pub fn range_size(mut self, n: Option<u64>) -> Self {
        self.range_size = n.map(|n| n.max(64 * 1024));
        self
    }

    /// Sets the compression.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Sets the smallest first file that makes the probe run.
    pub fn probe_min_bytes(mut self, n: u64) -> Self {
        self.probe_min_bytes = n;
        self
    }

    /// Sets the idle timeout (at least 1 s).
    pub fn idle_timeout(mut self, t: Duration) -> Self {
        self.idle_timeout = t.max(Duration::from_secs(1));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_parses_and_prints() {
        assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
        assert_eq!("zstd".parse::<Compression>().unwrap(), Compression::Zstd(1));
        assert_eq!("zstd:19".parse::<Compression>().unwrap(), Compression::Zstd(19));
        assert_eq!("auto".parse::<Compression>().unwrap(), Compression::Auto);
        for bad in ["zstd:0", "zstd:23", "zstd:x", "gzip", "zstd:"] {
            let e = bad.parse::<Compression>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("zstd:LEVEL"), "{e}");
        }
        assert_eq!(Compression::Zstd(3).to_string(), "zstd:3");
        assert_eq!(Compression::Auto.to_string(), "auto");
    }

    #[test]
    fn builders_clamp() {
        let c = TcpConfig::new().streams(Some(99)).chunk_size(Some(1)).range_size(Some(1));
        assert_eq!(c.streams, Some(MAX_STREAMS));
        assert_eq!(c.chunk_size, Some(4096));
        assert_eq!(c.range_size, Some(64 * 1024));
        assert_eq!(TcpConfig::new().idle_timeout(Duration::ZERO).idle_timeout, Duration::from_secs(1));
    }
}
