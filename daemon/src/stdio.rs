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
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
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
    let pipe = Stdio { input: tokio::io::stdin(), output: tokio::io::stdout(), _open: open.clone() };
    let _ = open.try_send(Ok::<_, std::io::Error>(pipe));
    drop(open);
    http2()
        .add_service(service)
        .serve_with_incoming(ReceiverStream::new(incoming))
        .await
        .map_err(|e| Error::new(ErrorKind::Io, format!("serving over standard input and output: {e}")).with_source(e))
}

/// Standard input and output as one duplex connection.
struct Stdio {
    input: tokio::io::Stdin,
    output: tokio::io::Stdout,
    /// Keeps the stream of connections open while this one lives.
    _open: mpsc::Sender<std::io::Result<Stdio>>,
}

impl Connected for Stdio {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Stdio {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.input).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stdio {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.output).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.output).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.output).poll_shutdown(cx)
    }
}
