//! Control-plane connections, plain or TLS, as tonic's server takes them.
//!
//! [`crate::limits::accept_speaking`] runs the TLS handshake (within the
//! first-bytes deadline) when the daemon has `tls_cert` and `tls_key`, and
//! hands the HTTP/2 server a [`Conn`] either way. Its connection info is
//! the TCP one, so `Request::local_addr` (where the data plane is offered)
//! and `remote_addr` work the same with and without TLS.

use blit_tls::tokio_rustls::server::TlsStream;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted control connection.
#[derive(Debug)]
pub(crate) enum Conn {
    /// Plain TCP (no `tls_cert` configured).
    Plain(TcpStream),
    /// TLS, after a completed handshake.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref().0,
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo { local_addr: self.tcp().local_addr().ok(), remote_addr: self.tcp().peer_addr().ok() }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An accepted connection the [`Gate`](crate::gate::Gate) can close while it
/// has not authenticated; it leaves the gate's books when dropped.
#[derive(Debug)]
pub(crate) struct Guarded {
    pub(crate) conn: Conn,
    pub(crate) kill: std::sync::Arc<crate::gate::Kill>,
    pub(crate) gate: std::sync::Arc<crate::gate::Gate>,
    pub(crate) addr: std::net::SocketAddr,
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.gate.closed(self.addr);
    }
}

impl Guarded {
    fn check(&self, cx: &Context<'_>) -> Option<io::Error> {
        if self.kill.is_killed() {
            return Some(io::Error::new(io::ErrorKind::ConnectionAborted, "closed: no authenticated request in time"));
        }
        self.kill.register(cx.waker());
        None
    }
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.conn.connect_info()
    }
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.get_mut().conn).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.get_mut().conn).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().conn).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().conn).poll_shutdown(cx)
    }
}
