//! How the client proves itself to blitd and checks blitd's certificate:
//! `--secret-file`, `BLIT_SECRET`, `--tls` and `--tls-ca`.
//!
//! The secret comes from the file named by `--secret-file` when given (the
//! flag wins), else from the `BLIT_SECRET` environment variable; it is never
//! a command-line value, which other users could read in the process list.
//! `--tls-ca FILE` connects with TLS and trusts that CA bundle; `--tls`
//! connects with TLS and trusts the system's certificate store. Both apply
//! to the control connection and to the TCP data plane.

use clap::Args;
use std::path::PathBuf;

/// The environment variable that carries the secret when `--secret-file`
/// is not given.
pub const SECRET_ENV: &str = "BLIT_SECRET";

/// Authentication and TLS options for talking to blitd.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ConnectArgs {
    /// Read the secret blitd requires from this file (first line; mode 600
    /// recommended). Wins over the BLIT_SECRET environment variable.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Connect with TLS, trusting the system's certificate store.
    #[arg(long)]
    pub tls: bool,
    /// Connect with TLS, trusting the CA certificates in this PEM file
    /// (implies --tls).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
}

#[cfg(feature = "grpc")]
impl ConnectArgs {
    /// `config` with the secret and TLS these options ask for.
    pub(crate) fn apply(
        &self,
        config: blit_transports::grpc::GrpcConfig,
    ) -> blit_api::Result<blit_transports::grpc::GrpcConfig> {
        use blit_transports::grpc::{ClientTls, Secret};
        let secret = match (&self.secret_file, std::env::var(SECRET_ENV)) {
            (Some(path), _) => Some(Secret::from_file(path, "--secret-file")?),
            (None, Ok(text)) if !text.is_empty() => Some(Secret::new(&text, SECRET_ENV)?),
            _ => None,
        };
        let tls = match (&self.tls_ca, self.tls) {
            (Some(ca), _) => Some(ClientTls::from_ca_file(ca)?),
            (None, true) => Some(ClientTls::native_roots()?),
            (None, false) => None,
        };
        Ok(config.secret(secret).tls(tls))
    }
}
