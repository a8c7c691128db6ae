//! Opening the data connections: the listening side binds a one-session
//! listener and hands its port and a fresh [`Token`] to the peer over the
//! control stream; the peer opens N connections, each of which sends a
//! hello first.
//!
//! ```text
//! hello (connector -> acceptor): token (32 bytes) | index u8 | count u8
//! ack   (acceptor -> connector): 0xB1, only after the hello was accepted
//! ```
//!
//! The acceptor reads exactly the hello, compares the token in constant
//! time, then checks that the token has not expired, that `count` agrees
//! with the other connections and that no connection used `index` before.
//! A connection that fails any check is closed without an answer and
//! without reading another byte. Each connection gets a short time to send
//! its hello; the whole set must arrive before the token expires. Pending
//! hellos are bounded, so a flood of idle connections cannot grow memory,
//! and a full set drops its oldest connection for a new one, so idle
//! strangers cannot keep the real peer's connections out.
//!
//! With TLS ([`Acceptor::tls`], [`connect_tls`]) every connection runs the
//! TLS handshake first, with the daemon's certificate, and the hello, the
//! acknowledgement and every record after them travel inside TLS. The
//! handshake counts against the hello's time limit.

use crate::config::MAX_STREAMS;
use crate::link::Link;
use crate::token::{Token, TOKEN_LEN};
use blit_api::{Error, ErrorKind, Result};
use blit_tls::{ClientTls, ServerTls};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Bytes of a hello.
pub const HELLO_LEN: usize = TOKEN_LEN + 2;
/// The acceptor's answer to an accepted hello.
const ACK: u8 = 0xB1;
/// How long a new connection may take to send its hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a token stays valid after the offer.
pub const TOKEN_TTL: Duration = Duration::from_secs(10);
/// Most connections waiting to send their hello at once.
const MAX_PENDING: usize = 64;

/// The listening side of one session's data plane.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    token: Token,
    expires: Instant,
    hello_timeout: Duration,
    tls: Option<ServerTls>,
}

/// A data connection between accept (or connect) and its acknowledgement.
enum Opening {
    Plain(TcpStream),
    Tls(Box<blit_tls::tokio_rustls::TlsStream<TcpStream>>),
}

impl Opening {
    async fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        match self {
            Opening::Plain(s) => s.read_exact(buf).await.map(drop),
            Opening::Tls(s) => s.read_exact(buf).await.map(drop),
        }
    }

    async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        async fn write<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, buf: &[u8]) -> std::io::Result<()> {
            s.write_all(buf).await?;
            s.flush().await
        }
        match self {
            Opening::Plain(s) => write(s, buf).await,
            Opening::Tls(s) => write(s, buf).await,
        }
    }

    fn into_link(self) -> Result<Link> {
        let link = match self {
            Opening::Plain(s) => Link::Plain(into_blocking(s)?),
            Opening::Tls(s) => Link::Tls(
                blit_tls::BlockingTls::from_async(*s)
                    .map_err(|e| Error::io("take over a data connection", "data plane", e))?,
            ),
        };
        let _ = link.tcp().set_nodelay(true);
        Ok(link)
    }
}

/// A hello that passed the token and expiry checks.
struct Hello {
    index: u8,
    count: u8,
    stream: Opening,
    from: SocketAddr,
}

impl Acceptor {
    /// Binds a listener on `ip`, port 0, with a fresh token valid for `ttl`.
    /// Bind it on the address the control connection arrived on, so the
    /// data plane is reachable exactly where the control plane is (never on
    /// every interface when the control plane listens on loopback).
    pub async fn bind(ip: IpAddr, ttl: Duration) -> Result<Acceptor> {
        let listener = TcpListener::bind((ip, 0)).await.map_err(|e| {
            Error::io("bind the data-plane listener", ip, e).with_hint("the client falls back to in-stream gRPC")
        })?;
        Ok(Acceptor {
            listener,
            token: Token::random()?,
            expires: Instant::now() + ttl,
            hello_timeout: HELLO_TIMEOUT,
            tls: None,
        })
    }

    /// An acceptor over a listener bound elsewhere (it must be in this
    /// process and not yet accepting), with `token` valid for `ttl` from now.
    /// Call it inside a tokio runtime.
    pub fn from_std(listener: std::net::TcpListener, token: Token, ttl: Duration) -> Result<Acceptor> {
        let listener = listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
            .map_err(|e| Error::io("take over the data-plane listener", "127.0.0.1", e))?;
        Ok(Acceptor { listener, token, expires: Instant::now() + ttl, hello_timeout: HELLO_TIMEOUT, tls: None })
    }

    /// Sets how long a connection may take to send its hello (tests).
    pub fn hello_timeout(mut self, t: Duration) -> Self {
        self.hello_timeout = t;
        self
    }

    /// Requires TLS with this configuration on every connection (`None`:
    /// plain TCP). The daemon passes the control plane's configuration, so
    /// both planes present the same certificate.
    pub fn tls(mut self, tls: Option<ServerTls>) -> Self {
        self.tls = tls;
        self
    }

    /// The port to offer.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The token to offer.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Accepts connections until every one the hellos announce has arrived,
    /// and returns them in index order (blocking sockets, `TCP_NODELAY`,
    /// inside TLS when [`Acceptor::tls`] asked for it).
    /// Fails when the token expires first. The listener closes when this
    /// returns, so the token cannot be used again.
    pub async fn accept(self) -> Result<Vec<Link>> {
        let Acceptor { listener, token, expires, hello_timeout, tls } = self;
        let mut pending: JoinSet<std::result::Result<Hello, (SocketAddr, &'static str)>> = JoinSet::new();
        // The waiting connections, oldest first: a full set drops its
        // oldest, so idle strangers cannot keep a real client out.
        let mut waiting: std::collections::VecDeque<tokio::task::AbortHandle> = Default::default();
        let mut slots: Vec<Option<Opening>> = Vec::new();
        loop {
            if !slots.is_empty() && slots.iter().all(Option::is_some) {
                return slots.into_iter().flatten().map(Opening::into_link).collect();
            }
            tokio::select! {
                _ = tokio::time::sleep_until(expires) => {
                    let arrived = slots.iter().filter(|s| s.is_some()).count();
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("{arrived} of {} data connections arrived before the token expired", slots.len()),
                    )
                    .with_hint("a firewall may block the data port; use --transport grpc"));
                }
                accepted = listener.accept() => {
                    let Ok((stream, from)) = accepted else { continue };
                    waiting.retain(|h| !h.is_finished());
                    if waiting.len() >= MAX_PENDING {
                        if let Some(oldest) = waiting.pop_front() {
                            oldest.abort();
                        }
                        tracing::debug!("data plane: {MAX_PENDING} connections waiting for a hello; dropped the oldest");
                    }
                    let token = token.clone();
                    waiting.push_back(pending.spawn(read_hello(stream, from, token, expires, hello_timeout, tls.clone())));
                }
                Some(done) = pending.join_next() => {
                    let hello = match done {
                        Ok(Ok(hello)) => hello,
                        Ok(Err((from, why))) => {
                            tracing::warn!("data plane: refused {from}: {why}");
                            continue;
                        }
                        Err(_) => continue,
                    };
                    if let Err(why) = admit(&mut slots, hello).await {
                        tracing::warn!("data plane: refused a connection: {why}");
                    }
                }
            }
        }
    }
}

/// Reads and checks one hello; on any failure the stream is dropped
/// (closed) and nothing more is read.
async fn read_hello(
    stream: TcpStream,
    from: SocketAddr,
    token: Token,
    expires: Instant,
    limit: Duration,
    tls: Option<ServerTls>,
) -> std::result::Result<Hello, (SocketAddr, &'static str)> {
    let mut hello = [0u8; HELLO_LEN];
    let opened = tokio::time::timeout(limit, async {
        let mut stream = match &tls {
            Some(tls) => match tls.accept(stream).await {
                Ok(s) => Opening::Tls(Box::new(s.into())),
                Err(_) => return Err("no TLS handshake"),
            },
            None => Opening::Plain(stream),
        };
        match stream.read_exact(&mut hello).await {
            Ok(()) => Ok(stream),
            Err(_) => Err("closed before its hello"),
        }
    })
    .await;
    let stream = match opened {
        Ok(Ok(stream)) => stream,
        Ok(Err(why)) => return Err((from, why)),
        Err(_) => return Err((from, "no hello in time")),
    };
    if !token.matches(&hello[..TOKEN_LEN]) {
        return Err((from, "wrong token"));
    }
    if Instant::now() > expires {
        return Err((from, "expired token"));
    }
    let (index, count) = (hello[TOKEN_LEN], hello[TOKEN_LEN + 1]);
    if count == 0 || u32::from(count) > MAX_STREAMS || index >= count {
        return Err((from, "invalid stream index"));
    }
    Ok(Hello { index, count, stream, from })
}

/// Takes an authenticated connection into its slot and acknowledges it;
/// refuses a count that disagrees and an index used before.
async fn admit(slots: &mut Vec<Option<Opening>>, hello: Hello) -> std::result::Result<(), String> {
    let Hello { index, count, mut stream, from } = hello;
    if slots.is_empty() {
        slots.resize_with(count as usize, || None);
    }
    if slots.len() != count as usize {
        return Err(format!("{from} announced {count} connections, others {}", slots.len()));
    }
    if slots[index as usize].is_some() {
        return Err(format!("{from} reused the token for connection {index}"));
    }
    let acked = tokio::time::timeout(HELLO_TIMEOUT, stream.write_all(&[ACK])).await;
    if !matches!(acked, Ok(Ok(()))) {
        return Err(format!("{from} went away before its acknowledgement"));
    }
    slots[index as usize] = Some(stream);
    Ok(())
}

fn into_blocking(stream: TcpStream) -> Result<std::net::TcpStream> {
    let std = stream.into_std().map_err(|e| Error::io("take over a data connection", "data plane", e))?;
    std.set_nonblocking(false).map_err(|e| Error::io("configure a data connection", "data plane", e))?;
    Ok(std)
}

/// Opens `count` data connections to `addr`, presenting `token`, all within
/// `limit`. Returns blocking sockets in index order.
pub async fn connect(addr: SocketAddr, token: &Token, count: u32, limit: Duration) -> Result<Vec<Link>> {
    connect_tls(addr, token, count, limit, None).await
}

/// [`connect`], each connection inside TLS when `tls` names the trusted
/// roots and the host the daemon's certificate must name. A refused
/// certificate fails at once with the TLS error (never a fallback).
pub async fn connect_tls(
    addr: SocketAddr,
    token: &Token,
    count: u32,
    limit: Duration,
    tls: Option<(&ClientTls, &str)>,
) -> Result<Vec<Link>> {
    let tls = tls.map(|(t, host)| (t.clone(), host.to_owned()));
    let count = count.clamp(1, MAX_STREAMS) as u8;
    let unreachable = |why: String| {
        Error::new(ErrorKind::Io, format!("cannot reach the data plane: {why}"))
            .with_path(addr.to_string())
            .with_hint("a firewall may block the data port; use --transport grpc (or auto to fall back by itself)")
    };
    let mut set = JoinSet::new();
    for index in 0..count {
        let mut hello = [0u8; HELLO_LEN];
        hello[..TOKEN_LEN].copy_from_slice(token.as_bytes());
        hello[TOKEN_LEN] = index;
        hello[TOKEN_LEN + 1] = count;
        let tls = tls.clone();
        set.spawn(async move {
            let tcp = TcpStream::connect(addr).await.map_err(Refused::Io)?;
            tcp.set_nodelay(true).map_err(Refused::Io)?;
            let mut stream = match tls {
                Some((tls, host)) => Opening::Tls(Box::new(
                    tls.connect(&host, tcp, blit_tls::ALPN_DATA).await.map_err(Refused::Tls)?.into(),
                )),
                None => Opening::Plain(tcp),
            };
            stream.write_all(&hello).await.map_err(Refused::Io)?;
            let mut ack = [0u8; 1];
            stream.read_exact(&mut ack).await.map_err(Refused::Io)?;
            if ack[0] != ACK {
                let e = std::io::Error::new(std::io::ErrorKind::InvalidData, "an unexpected acknowledgement");
                return Err(Refused::Io(e));
            }
            Ok::<_, Refused>((index, stream))
        });
    }
    let gather = async {
        let mut streams = Vec::with_capacity(count as usize);
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(pair)) => streams.push(pair),
                Ok(Err(Refused::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(unreachable("the listener closed the connection (token refused or expired)".into()))
                }
                Ok(Err(Refused::Io(e))) => return Err(unreachable(e.to_string())),
                Ok(Err(Refused::Tls(e))) => return Err(e.with_path(addr.to_string())),
                Err(e) => return Err(unreachable(e.to_string())),
            }
        }
        streams.sort_by_key(|(i, _)| *i);
        streams.into_iter().map(|(_, s)| s.into_link()).collect()
    };
    match tokio::time::timeout(limit, gather).await {
        Ok(result) => result,
        Err(_) => Err(unreachable(format!("no answer within {} s", limit.as_secs_f64()))),
    }
}

/// Why a data connection could not be opened.
enum Refused {
    Io(std::io::Error),
    Tls(Error),
}

#[cfg(test)]
mod tests;
