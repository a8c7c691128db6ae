//! The control channel over TLS: a connector that opens the TCP connection
//! and runs the handshake with [`blit_tls::ClientTls`], so the certificate
//! is checked against the host the user named (not the address it
//! resolved to), and a refusal reaches the user as blit's own error.

use blit_api::Error;
use blit_tls::ClientTls;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tonic::transport::Uri;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connects to the address of the URI it is given and runs the TLS
/// handshake for `host`. The last handshake error stays readable through
/// [`TlsConnector::failure`], so the caller reports it rather than
/// tonic's wrapping of it.
#[derive(Clone)]
pub(crate) struct TlsConnector {
    tls: ClientTls,
    host: String,
    failure: Arc<Mutex<Option<Error>>>,
}

impl TlsConnector {
    pub(crate) fn new(tls: ClientTls, host: &str) -> Self {
        TlsConnector { tls, host: host.to_owned(), failure: Arc::default() }
    }

    /// The error of the last failed handshake, once.
    pub(crate) fn failure(&self) -> Option<Error> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl tower_service::Service<Uri> for TlsConnector {
    type Response = TokioIo<blit_tls::tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let addr = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
            let tcp = TcpStream::connect(addr.as_str()).await?;
            tcp.set_nodelay(true)?;
            match this.tls.connect(&this.host, tcp, blit_tls::ALPN_CONTROL).await {
                Ok(stream) => Ok(TokioIo::new(stream)),
                Err(e) => {
                    let text = e.to_string();
                    *this.failure.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    Err(text.into())
                }
            }
        })
    }
}
