//! What both halves of the TCP transport share: the tuning the sender
//! chose, the closer that stops every connection at once, the sending
//! context, and the errors of a broken data plane. Below `send`, `receive`,
//! `probe` and `transport`, so none of them imports another for these.

use crate::config::TcpConfig;
use crate::link::Link;
use blit_api::{Error, ErrorKind, PayloadReader};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

/// What the sender chose, as the summary reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tuning {
    /// Connections that carried payload.
    pub streams: u32,
    /// Most bytes of file data per record.
    pub chunk_size: u32,
    /// `none` or `zstd:LEVEL`.
    pub compression: String,
    /// How it was chosen: `ramp` (on the transfer, see `ramp`), `pinned` or
    /// `default`.
    pub how: String,
}

/// Shuts every connection of a transfer down, so blocked threads on both
/// sides fail at once. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Closer(Arc<Mutex<Vec<TcpStream>>>);

impl Closer {
    pub(crate) fn add(&self, streams: &[Link]) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.extend(streams.iter().filter_map(|s| s.tcp().try_clone().ok()));
    }

    /// Bytes the kernel sent (each once, retransmissions aside) and
    /// received on every connection so far: the payload as it crossed the
    /// network, with framing, compression and TLS as they were (the TCP
    /// payload, without TCP/IP headers). Counted as sent, not as
    /// acknowledged, so a delayed ACK still in flight when a transfer ends
    /// does not shrink it. A socket the kernel cannot report on counts 0.
    pub fn wire_bytes(&self) -> u64 {
        self.sum(|info| {
            let sent = info.tcpi_bytes_sent.saturating_sub(info.tcpi_bytes_retrans);
            sent.max(info.tcpi_bytes_acked).saturating_add(info.tcpi_bytes_received)
        })
    }

    /// Bytes the receivers acknowledged, and bytes received, on every
    /// connection so far: what the other side has taken, which socket
    /// buffers cannot flatter (the stream ramp measures with it).
    pub fn acked_bytes(&self) -> u64 {
        self.sum(|info| info.tcpi_bytes_acked.saturating_add(info.tcpi_bytes_received))
    }

    /// `count` of each connection's `TCP_INFO`, summed.
    fn sum(&self, count: impl Fn(&libc::tcp_info) -> u64) -> u64 {
        use std::os::fd::AsRawFd;
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // A connection may be held twice (added when the transport was
        // built and again when a half took it): count each socket once.
        let mut seen = std::collections::HashSet::new();
        held.iter()
            .filter(|s| match (s.local_addr(), s.peer_addr()) {
                (Ok(local), Ok(peer)) => seen.insert((local, peer)),
                _ => true,
            })
            .map(|s| {
                // SAFETY: `info` is a plain C struct the kernel fills up to
                // `len` bytes (fields it does not know stay 0); `s` is an
                // open socket.
                let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
                let ok = unsafe {
                    libc::getsockopt(
                        s.as_raw_fd(),
                        libc::IPPROTO_TCP,
                        libc::TCP_INFO,
                        (&mut info as *mut libc::tcp_info).cast(),
                        &mut len,
                    )
                } == 0;
                if ok {
                    count(&info)
                } else {
                    0
                }
            })
            .sum()
    }

    /// Shuts down every connection (both directions).
    pub fn close(&self) {
        for s in self.0.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// What the sending half shares between its threads.
pub(crate) struct Sending<'a> {
    pub(crate) reader: &'a dyn PayloadReader,
    pub(crate) config: &'a TcpConfig,
    pub(crate) peer: &'a str,
    pub(crate) closer: &'a Closer,
    pub(crate) tuning: &'a Mutex<Option<Tuning>>,
}

pub(crate) fn gone(peer: &str, e: &std::io::Error) -> Error {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::Io,
        _ => ErrorKind::Cancelled,
    };
    Error::new(kind, format!("the data connection failed: {e}"))
        .with_path(peer.to_owned())
        .with_hint("the receiver stopped or the network broke; rerun to finish")
}

pub(crate) fn no_connections(peer: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, "a data plane without connections")
        .with_path(peer.to_owned())
        .with_hint("build the TcpTransport with at least one connection")
}
