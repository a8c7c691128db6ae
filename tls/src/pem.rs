//! Reading PEM certificates and keys, with errors that name the file.

use blit_api::{Error, ErrorKind, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// Reads `path`; `what` names it in errors (`tls_cert`, `--tls-ca`, ...).
pub(crate) fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::io(&format!("read {what}"), path.display(), e).with_hint(format!("point {what} at a readable PEM file"))
    })
}

fn bad(origin: &str, what: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("{what}: {why}"))
        .with_path(origin.to_owned())
        .with_hint(format!("{what} must be a PEM file (-----BEGIN ...-----)"))
}

/// Every certificate in `pem`; refuses a file with none.
pub(crate) fn certificates(pem: &[u8], origin: &str, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(origin, what, format!("unreadable PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(origin, what, "no certificate (BEGIN CERTIFICATE) in the file"));
    }
    Ok(certs)
}

/// The first private key in `pem` (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(pem: &[u8], origin: &str, what: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad(origin, what, format!("no usable private key: {e}")))
}
