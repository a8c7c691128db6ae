//! One data connection, plain or TLS.
//!
//! A [`Link`] is what the sending and receiving halves read and write. Over
//! TLS the kernel cannot move file bytes by itself (the bytes must be
//! encrypted in user space), so [`Link::zero_copy`] is false there and the
//! halves use their read-and-write paths instead of `sendfile` and
//! `splice`; the summary's zero-copy count shows it.

use blit_tls::BlockingTls;
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// An authenticated data connection.
#[derive(Debug)]
pub enum Link {
    /// Plain TCP: file bodies may move with `sendfile` and `splice`.
    Plain(TcpStream),
    /// TLS over TCP: every byte goes through rustls.
    Tls(BlockingTls),
}

impl From<TcpStream> for Link {
    fn from(stream: TcpStream) -> Link {
        Link::Plain(stream)
    }
}

impl Link {
    /// The socket underneath (timeouts, shutdown).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(s) => s.tcp(),
        }
    }

    /// Whether file bytes may bypass user space on this connection.
    pub fn zero_copy(&self) -> bool {
        matches!(self, Link::Plain(_))
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.read(buf),
            Link::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.write(buf),
            Link::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Link::Plain(s) => s.flush(),
            Link::Tls(s) => s.flush(),
        }
    }
}
