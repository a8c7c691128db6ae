//! The client's side: whom to trust, and handshakes whose errors name the
//! host.

use crate::pem;
use blit_api::{Error, ErrorKind, Result};
use rustls::pki_types::ServerName;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The client's TLS configuration: the certificate authorities it trusts.
/// The daemon's certificate must chain to one of them and name the host
/// the client connects to (DNS name or IP address). Cheap to clone.
#[derive(Clone)]
pub struct ClientTls {
    roots: Arc<rustls::RootCertStore>,
    /// Where the roots come from, for errors (`--tls-ca FILE`, `the system trust store`).
    origin: Arc<str>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientTls({})", self.origin)
    }
}

/// Two configurations are equal when they trust the same roots.
impl PartialEq for ClientTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.roots, &other.roots)
    }
}

impl Eq for ClientTls {}

impl ClientTls {
    /// Trusts the certificates of a PEM bundle (`--tls-ca FILE`).
    pub fn from_ca_file(path: &Path) -> Result<ClientTls> {
        let pem = pem::read(path, "--tls-ca")?;
        Self::from_ca_pem(&pem, &format!("--tls-ca {}", path.display()))
    }

    /// Trusts the certificates of PEM text; `origin` names it in errors.
    pub fn from_ca_pem(pem: &[u8], origin: &str) -> Result<ClientTls> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem::certificates(pem, origin, "--tls-ca")? {
            roots.add(cert).map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("--tls-ca: not a usable CA certificate: {e}"))
                    .with_path(origin.to_owned())
            })?;
        }
        Ok(ClientTls { roots: Arc::new(roots), origin: origin.into() })
    }

    /// Trusts the operating system's certificate store (`--tls`).
    pub fn native_roots() -> Result<ClientTls> {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!("system trust store: {e}");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(Error::new(ErrorKind::NotFound, "the system trust store holds no usable certificate")
                .with_hint("install the CA certificates package, or pass the daemon's CA with --tls-ca FILE"));
        }
        Ok(ClientTls { roots: Arc::new(roots), origin: "the system trust store".into() })
    }

    /// A rustls configuration trusting these roots, offering `alpn`.
    fn config(&self, alpn: &[u8]) -> Result<Arc<rustls::ClientConfig>> {
        let mut config = rustls::ClientConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Unexpected, format!("TLS protocol versions: {e}")))?
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    }

    /// Runs the client handshake on `tcp`, checking that the daemon's
    /// certificate is valid for `host`. `alpn` is [`crate::ALPN_CONTROL`]
    /// or [`crate::ALPN_DATA`]. A refused certificate is a
    /// `PermissionDenied` error naming the host and the trusted roots.
    pub async fn connect(&self, host: &str, tcp: TcpStream, alpn: &[u8]) -> Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("`{host}` is not a name TLS can check: {e}"))
                .with_hint("connect by DNS name or IP address")
        })?;
        TlsConnector::from(self.config(alpn)?).connect(name, tcp).await.map_err(|e| self.handshake_error(host, e))
    }

    fn handshake_error(&self, host: &str, e: std::io::Error) -> Error {
        let certificate = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).is_some_and(|r| {
            matches!(r, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        });
        if certificate {
            Error::new(ErrorKind::PermissionDenied, format!("TLS certificate of `{host}` refused: {e}"))
                .with_path(host.to_owned())
                .with_hint(format!(
                    "blitd's certificate must be signed by a CA in {} and name `{host}`; pass the right CA with --tls-ca FILE",
                    self.origin
                ))
        } else {
            Error::new(ErrorKind::Io, format!("TLS handshake with `{host}` failed: {e}"))
                .with_path(host.to_owned())
                .with_hint("does blitd serve TLS (tls_cert and tls_key in its configuration)?")
        }
    }
}
