//! The daemon's side: one certificate chain and key for both planes.

use crate::pem;
use blit_api::{Error, ErrorKind, Result};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The daemon's TLS configuration: its certificate chain and private key,
/// TLS 1.2 and 1.3, no client certificates (clients prove themselves with
/// the shared secret). Cheap to clone.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls(..)")
    }
}

/// Two configurations are equal when they are the same one.
impl PartialEq for ServerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for ServerTls {}

impl ServerTls {
    /// Reads a PEM certificate chain (leaf first) and its PEM private key.
    /// Errors name the file and the key of the configuration (`tls_cert`,
    /// `tls_key`).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ServerTls> {
        let cert_pem = pem::read(cert, "tls_cert")?;
        let key_pem = pem::read(key, "tls_key")?;
        let certs = pem::certificates(&cert_pem, &cert.display().to_string(), "tls_cert")?;
        let key_der = pem::private_key(&key_pem, &key.display().to_string(), "tls_key")?;
        Self::build(certs, key_der, &format!("{} and {}", cert.display(), key.display()))
    }

    /// The same from PEM text in memory (tests).
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<ServerTls> {
        let certs = pem::certificates(cert, "certificate", "tls_cert")?;
        let key_der = pem::private_key(key, "key", "tls_key")?;
        Self::build(certs, key_der, "the certificate and key")
    }

    fn build(
        certs: Vec<rustls::pki_types::CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
        origin: &str,
    ) -> Result<ServerTls> {
        let mut config = rustls::ServerConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Unexpected, format!("TLS protocol versions: {e}")))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| {
                Error::new(ErrorKind::InvalidInput, format!("unusable TLS certificate or key: {e}"))
                    .with_path(origin.to_owned())
                    .with_hint("tls_key must be the private key of the first certificate in tls_cert")
            })?;
        config.alpn_protocols = vec![crate::ALPN_CONTROL.to_vec(), crate::ALPN_DATA.to_vec()];
        Ok(ServerTls { config: Arc::new(config) })
    }

    /// Runs the server handshake on an accepted connection.
    pub async fn accept(&self, tcp: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        TlsAcceptor::from(self.config.clone()).accept(tcp).await
    }
}
