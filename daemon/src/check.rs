//! `blitd --check-config`: every check blitd makes before it serves, with
//! errors that point at the line of the configuration file to fix.
//!
//! Parsing ([`DaemonConfig::load`]) already locates syntax errors, unknown
//! keys and bad values. This adds the checks that need the file system, each
//! located at its key: every module's directory exists and is a directory
//! (`path`), every secret file reads and holds at least 16 characters
//! (`auth_secret_file`, daemon-wide and per module), the TLS certificate
//! and key load (`tls_cert`), and a module with `allow_relay` requires a
//! secret (`allow_relay`). They run through the same loaders the daemon
//! uses, then the checks of the module set as a whole and of the TLS pair,
//! so every check `blitd` runs at startup runs here too.

use crate::locate::{at_line, Seg, Seg::Index, Seg::Key, Spans};
use crate::DaemonConfig;
use blit_api::{Error, Result};
use blit_transport_grpc::ServerTls;
use std::path::Path;

/// Checks `config` as blitd does before serving; `file` is the configuration
/// file it was loaded from, if any, so that errors about what it sets name
/// their line. The file's modules must come first in `config.modules` (as
/// `blitd` loads them: file first, then `--module` flags). Returns the
/// number of modules.
pub fn check_config(config: &DaemonConfig, file: Option<&Path>) -> Result<usize> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| Error::io("read configuration", path.display(), e))?,
        None => String::new(),
    };
    let spans = Spans::new(&text);
    // Located when the key is in the file; a flag's error stays as it is.
    let at = |key: &[Seg<'_>], e: Error| match (file, spans.find(key)) {
        (Some(path), Some(place)) => at_line(e, place).with_path(path.display().to_string()),
        _ => e,
    };
    if let Some(secret) = &config.auth_secret_file {
        crate::security::read_secret(secret, "auth_secret_file").map_err(|e| at(&[Key("auth_secret_file")], e))?;
    }
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        ServerTls::from_pem_files(cert, key).map_err(|e| at(&[Key("tls_cert")], e))?;
    }
    for (i, module) in config.modules.iter().enumerate() {
        crate::module::Modules::new(std::slice::from_ref(module))
            .map_err(|e| at(&[Key("module"), Index(i), Key("path")], e))?;
        if let Some(secret) = &module.auth_secret_file {
            let what = format!("auth_secret_file of module `{}`", module.name);
            crate::security::read_secret(secret, &what)
                .map_err(|e| at(&[Key("module"), Index(i), Key("auth_secret_file")], e))?;
        }
        module
            .check_allow_relay(config.auth_secret_file.is_some())
            .map_err(|e| at(&[Key("module"), Index(i), Key("allow_relay")], e))?;
    }
    // The module set as a whole and the TLS pair (the secret and certificate
    // loads ran above, located): loading them twice would read every file
    // twice and print the loose-permission warning twice.
    validate_shape(config)?;
    Ok(config.modules.len())
}

/// The part of the check that reads no secret or certificate: the TLS pair
/// comes together or not at all, and the module set can be served (names
/// unique, directories there).
fn validate_shape(config: &DaemonConfig) -> Result<()> {
    config.check_tls_pair()?;
    crate::module::Modules::new(&config.modules).map(drop)
}
