//! The TCP payload transport.
//!
//! [`TcpTransport`] works over N data connections that are already
//! authenticated ([`crate::auth`]): its sending half writes records to them,
//! its receiving half lands what they carry. Whichever side of a session is
//! the source runs the sending half and whichever is the destination runs
//! the receiving half, whichever side opened the connections, so push and
//! pull are the same code. [`TcpTransport::loopback`] opens the connections
//! inside one process (through the same token handshake), so the same code
//! also runs under `blit_engine::run_local` and the conformance suite.

use crate::auth::{self, Acceptor};
use crate::config::{TcpConfig, AUTO_STREAMS};
use crate::link::Link;
use crate::receive::{receive_all, Receiving};
use crate::send::send_all;
use crate::shared::{Closer, Sending, Tuning};
use crate::token::Token;
use crate::SCHEME;
use blit_api::{
    half_taken, on_blocking_thread, Capabilities, DirectionSet, Error, Landing, PayloadReader, PayloadTransport,
    PlanReceiver, Result,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Where a half gets its connections.
#[derive(Debug)]
enum Plane {
    /// Connections a session opened.
    Ready(Vec<Link>),
    /// Loopback: the sending half connects, the receiving half accepts.
    Loopback { addr: SocketAddr, token: Token, count: u32, listener: Mutex<Option<std::net::TcpListener>> },
}

/// The TCP payload transport: files travel over N connections as framed
/// records; small files in streamed tar shards, large ones in ranges spread
/// over the connections, file bodies through `sendfile`.
///
/// One instance serves one transfer; run each half at most once.
#[derive(Debug)]
pub struct TcpTransport {
    plane: Mutex<Option<Plane>>,
    /// Loopback only: whether the sending half already ran.
    send_ran: AtomicBool,
    config: TcpConfig,
    peer: String,
    closer: Closer,
    tuning: Arc<Mutex<Option<Tuning>>>,
}

impl TcpTransport {
    /// A transport over connections already authenticated with
    /// [`crate::connect`] or [`crate::Acceptor::accept`]. `peer` names the
    /// other side in errors.
    pub fn new(streams: Vec<Link>, config: TcpConfig, peer: impl Into<String>) -> Self {
        let closer = Closer::default();
        closer.add(&streams);
        TcpTransport {
            plane: Mutex::new(Some(Plane::Ready(streams))),
            send_ran: AtomicBool::new(false),
            config,
            peer: peer.into(),
            closer,
            tuning: Arc::default(),
        }
    }

    /// A transport whose sending half connects to its receiving half over
    /// 127.0.0.1, with the token handshake a session uses.
    pub fn loopback(config: TcpConfig) -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("bind", "127.0.0.1", e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("bind", "127.0.0.1", e))?;
        let count = config.streams.unwrap_or(AUTO_STREAMS);
        let plane = Plane::Loopback { addr, token: Token::random()?, count, listener: Mutex::new(Some(listener)) };
        Ok(TcpTransport {
            plane: Mutex::new(Some(plane)),
            send_ran: AtomicBool::new(false),
            config,
            peer: "loopback".to_owned(),
            closer: Closer::default(),
            tuning: Arc::default(),
        })
    }

    /// Shuts every connection down (a session that aborts calls it, so
    /// neither half waits on a connection that no longer matters).
    pub fn closer(&self) -> Closer {
        self.closer.clone()
    }

    /// What the sender chose: known to the sending half once it started,
    /// and to the receiving half once the sender's announcement arrived.
    pub fn tuning(&self) -> Option<Tuning> {
        self.tuning.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The connections for the sending half.
    async fn sending_streams(&self) -> Result<Vec<Link>> {
        let target = {
            let plane = self.plane.lock().unwrap_or_else(PoisonError::into_inner);
            match &*plane {
                Some(Plane::Loopback { addr, token, count, .. }) => {
                    if self.send_ran.swap(true, Ordering::AcqRel) {
                        return Err(half_taken(SCHEME, "send"));
                    }
                    Some((*addr, token.clone(), *count))
                }
                _ => None,
            }
        };
        let streams = match target {
            Some((addr, token, count)) => auth::connect(addr, &token, count, Duration::from_secs(5)).await?,
            None => match self.plane.lock().unwrap_or_else(PoisonError::into_inner).take() {
                Some(Plane::Ready(streams)) => streams,
                _ => return Err(half_taken(SCHEME, "send")),
            },
        };
        self.closer.add(&streams);
        Ok(streams)
    }

    /// The connections for the receiving half.
    async fn receiving_streams(&self) -> Result<Vec<Link>> {
        let accept = {
            let mut plane = self.plane.lock().unwrap_or_else(PoisonError::into_inner);
            match &*plane {
                Some(Plane::Loopback { token, listener, .. }) => {
                    let listener = listener.lock().unwrap_or_else(PoisonError::into_inner).take();
                    listener.map(|l| (l, token.clone())).ok_or_else(|| half_taken(SCHEME, "receive"))?
                }
                Some(Plane::Ready(_)) => match plane.take() {
                    Some(Plane::Ready(streams)) => return Ok(streams),
                    _ => return Err(half_taken(SCHEME, "receive")),
                },
                None => return Err(half_taken(SCHEME, "receive")),
            }
        };
        let (listener, token) = accept;
        let acceptor = Acceptor::from_std(listener, token, auth::TOKEN_TTL)?;
        let streams = acceptor.accept().await?;
        self.closer.add(&streams);
        Ok(streams)
    }
}

#[async_trait::async_trait]
impl PayloadTransport for TcpTransport {
    fn name(&self) -> &str {
        SCHEME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            directions: DirectionSet { local: true, push: true, pull: true },
            payload_shard: true,
            payload_max_streams: crate::config::MAX_STREAMS,
            payload_zero_copy: true,
            symlink: true,
            path_non_utf8: true,
            mtime_ns: true,
            checksum: true,
            mirror: true,
            per_file_errors: true,
            resume: true,
        }
    }

    async fn send(&self, plans: PlanReceiver, reader: Arc<dyn PayloadReader>) -> Result<()> {
        let streams = self.sending_streams().await?;
        let (config, peer, closer, tuning) =
            (self.config.clone(), self.peer.clone(), self.closer.clone(), self.tuning.clone());
        on_blocking_thread(SCHEME, "send", move || {
            let ctx = Sending { reader: &*reader, config: &config, peer: &peer, closer: &closer, tuning: &tuning };
            send_all(streams, plans, &ctx)
        })
        .await
    }

    async fn receive(&self, landing: Landing) -> Result<()> {
        let streams = self.receiving_streams().await?;
        let (idle, peer, closer, tuning) =
            (self.config.idle_timeout, self.peer.clone(), self.closer.clone(), self.tuning.clone());
        on_blocking_thread(SCHEME, "receive", move || {
            let ctx = Receiving { landing: &landing, peer: &peer, idle, closer: &closer, tuning: &tuning };
            receive_all(streams, &ctx)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
