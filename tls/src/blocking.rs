//! A TLS connection for blocking I/O, after an async handshake.
//!
//! The TCP data plane moves bytes on blocking threads; it runs the
//! handshake (and its token hello) with tokio, then takes the socket and
//! the rustls state apart and joins them again as a blocking stream.

use rustls::{ClientConnection, ServerConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// A TLS connection over a blocking socket, either side.
#[derive(Debug)]
pub enum BlockingTls {
    /// The daemon's (accepting) side.
    Server(Box<StreamOwned<ServerConnection, TcpStream>>),
    /// The connecting side.
    Client(Box<StreamOwned<ClientConnection, TcpStream>>),
}

fn blocking(tcp: tokio::net::TcpStream) -> io::Result<TcpStream> {
    let std = tcp.into_std()?;
    std.set_nonblocking(false)?;
    Ok(std)
}

impl BlockingTls {
    /// Takes over a connection whose handshake (and anything else) ran
    /// with tokio. Bytes rustls already decrypted stay readable.
    pub fn from_async(stream: tokio_rustls::TlsStream<tokio::net::TcpStream>) -> io::Result<BlockingTls> {
        Ok(match stream {
            tokio_rustls::TlsStream::Server(s) => {
                let (tcp, conn) = s.into_inner();
                BlockingTls::Server(Box::new(StreamOwned::new(conn, blocking(tcp)?)))
            }
            tokio_rustls::TlsStream::Client(s) => {
                let (tcp, conn) = s.into_inner();
                BlockingTls::Client(Box::new(StreamOwned::new(conn, blocking(tcp)?)))
            }
        })
    }

    /// The socket underneath (timeouts, shutdown; never raw reads or writes).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            BlockingTls::Server(s) => s.get_ref(),
            BlockingTls::Client(s) => s.get_ref(),
        }
    }
}

impl Read for BlockingTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BlockingTls::Server(s) => s.read(buf),
            BlockingTls::Client(s) => s.read(buf),
        }
    }
}

impl Write for BlockingTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            BlockingTls::Server(s) => s.write(buf),
            BlockingTls::Client(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            BlockingTls::Server(s) => s.flush(),
            BlockingTls::Client(s) => s.flush(),
        }
    }
}
