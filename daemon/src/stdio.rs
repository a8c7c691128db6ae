//! One connection on standard input and output: what `blit server` runs on
//! the far side of an ssh transfer.
//!
//! ssh has already authenticated the user, and the process runs with that
//! user's rights only, so there is no secret, no TLS and no data plane
//! (the payload travels in-stream, inside the ssh channel). Everything else
//! is blitd's: the same service, the same module containment beneath a
//! held descriptor, the same session limits. The server ends when the
//! client closes the connection.

use crate::{gate, http2, module, security, service, DaemonConfig};
use blit_api::{Error, ErrorKind, Result};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

/// Serves `config`'s modules over this process's standard input and
/// output until the client closes them.
///
/// The configuration's secrets, TLS files and data ports are not used:
/// whoever started this process (ssh) authenticated the peer.
pub async fn serve_stdio(config: DaemonConfig) -> Result<()> {
    let modules = Arc::new(module::Modules::new(&config.modules)?);
    let security = Arc::new(security::Security::default());
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let gate = gate::Gate::new(config.handshake_timeout.min(config.idle_timeout));
    let service = service(&config, modules, security, cancel_rx, gate);
    // One connection; the stream ends when hyper lets go of it, since
    // the connection itself holds the stream's only sender.
    let (open, incoming) = mpsc::channel(1);
    let pipe = Stdio { io: tokio::io::join(Pipe::take(0)?, Pipe::take(1)?), _open: open.clone() };
    let _ = open.try_send(Ok::<_, std::io::Error>(pipe));
    drop(open);
    http2()
        .add_service(service)
        .serve_with_incoming(ReceiverStream::new(incoming))
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("serving over standard input and output: {e}")).with_source(e))
}

/// Standard input or output, non-blocking and driven by the reactor
/// (tokio's own stdin and stdout hand every read and write to a blocking
/// thread: pulls of large files over ssh ran at half speed).
struct Pipe(AsyncFd<OwnedFd>);

impl Pipe {
    /// A non-blocking duplicate of descriptor `fd` (0 or 1).
    fn take(fd: i32) -> Result<Pipe> {
        let failed =
            |e: std::io::Error| Error::io("use", if fd == 0 { "standard input" } else { "standard output" }, e);
        // SAFETY: descriptors 0 and 1 are open for the whole process.
        let own = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned().map_err(failed)?;
        // SAFETY: F_GETFL/F_SETFL on a descriptor this process owns.
        let set = unsafe {
            let flags = libc::fcntl(own.as_raw_fd(), libc::F_GETFL);
            flags >= 0 && libc::fcntl(own.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
        };
        if !set {
            return Err(failed(std::io::Error::last_os_error()));
        }
        // SAFETY: the OwnedFd stays open, and names the same description,
        // for as long as the AsyncFd that owns it.
        let registered = unsafe { AsyncFd::register(own) };
        Ok(Pipe(registered.map_err(|e| failed(std::io::Error::from(e)))?))
    }
}

impl AsyncRead for Pipe {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            let mut guard = std::task::ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            // SAFETY: reads at most `unfilled.len()` bytes into it.
            let read = guard.try_io(|fd| {
                let n = unsafe { libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len()) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match read {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Pipe {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        loop {
            let mut guard = std::task::ready!(self.0.poll_write_ready(cx))?;
            // SAFETY: writes at most `data.len()` bytes from it.
            let written = guard.try_io(|fd| {
                let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match written {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Standard input and output as one duplex connection.
struct Stdio {
    /// Standard input (read) and output (write).
    io: tokio::io::Join<Pipe, Pipe>,
    /// Keeps the stream of connections open while this one lives.
    _open: mpsc::Sender<std::io::Result<Stdio>>,
}

impl Connected for Stdio {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Stdio {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stdio {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
