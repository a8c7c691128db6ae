//! How the client proves itself to blitd and checks blitd's certificate:
//! `--secret-file`, `BLIT_SECRET`, `--tls` and `--tls-ca`.
//!
//! The secret comes from the file named by `--secret-file` when given (the
//! flag wins), else from the `BLIT_SECRET` environment variable; it is never
//! a command-line value, which other users could read in the process list.
//! `--tls-ca FILE` connects with TLS and trusts that CA bundle; `--tls`
//! connects with TLS and trusts the system's certificate store. Both apply
//! to the control connection and to the TCP data plane.
//!
//! Over ssh (`HOST:path`) none of these apply: `-e/--rsh` and
//! `--blit-path` say how to start blit on the far side (see `crate::ssh`).

use blit_transports::remote::{Reach, SecretSource};
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
    /// Over ssh (HOST:path): the ssh command to run, split as a shell splits
    /// it, e.g. -e 'ssh -p 2222 -i ~/.ssh/backup_key'. Default: the
    /// BLIT_RSH environment variable, else `ssh`.
    #[arg(short = 'e', long = "rsh", value_name = "COMMAND")]
    pub rsh: Option<String>,
    /// Over ssh: the blit program on the far side (default `blit`, found on
    /// its PATH); the far side's shell reads it as written, so
    /// 'sudo /opt/blit/bin/blit' works.
    #[arg(long, value_name = "PROGRAM")]
    pub blit_path: Option<String>,
}

impl ConnectArgs {
    /// The secret and TLS these options ask for, in `reach`. The secret
    /// file wins over the environment; files are read when the route is
    /// built ([`blit_transports::route`]).
    pub(crate) fn reach(&self, mut reach: Reach) -> Reach {
        reach.secret = match (&self.secret_file, std::env::var(SECRET_ENV)) {
            (Some(path), _) => Some(SecretSource::File { path: path.clone(), flag: "--secret-file".to_owned() }),
            (None, Ok(value)) if !value.is_empty() => Some(SecretSource::Env { name: SECRET_ENV.to_owned(), value }),
            _ => None,
        };
        reach.tls = match (&self.tls_ca, self.tls) {
            (Some(ca), _) => Some(Some(ca.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        };
        reach
    }
}
