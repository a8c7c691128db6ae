//! Who may talk to this daemon: the shared secrets and the TLS identity,
//! loaded once from the configuration.
//!
//! A module's own `auth_secret_file` overrides the daemon's; a module with
//! neither is open to anyone who can reach the daemon. `Modules` (the
//! listing) requires the daemon-level secret when there is one; with only
//! per-module secrets it lists every module, so a client can see what is
//! there, but `List` and `Transfer` of a guarded module need its secret.
//! Requests are checked before anything they name is resolved or opened.

use crate::config::DaemonConfig;
use blit_api::{Error, ErrorKind, Result};
use blit_transport_grpc::{check_secret, Required, Secret, ServerTls};
use std::collections::HashMap;
use std::net::SocketAddr;

/// The shortest secret blitd accepts: a short one falls to guessing, even
/// throttled.
pub(crate) const MIN_SECRET_LEN: usize = 16;

/// Reads a secret file and refuses one shorter than [`MIN_SECRET_LEN`].
pub(crate) fn read_secret(path: &std::path::Path, what: &str) -> Result<Secret> {
    let secret = Secret::from_file(path, what)?;
    if secret.len() < MIN_SECRET_LEN {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the secret in {what} has {} characters; blitd needs at least {MIN_SECRET_LEN}", secret.len()),
        )
        .with_path(path.display().to_string())
        .with_hint("write a longer secret, e.g. the output of `openssl rand -hex 32`"));
    }
    Ok(secret)
}

/// The loaded secrets and TLS configuration.
#[derive(Debug, Default)]
pub(crate) struct Security {
    daemon: Option<Secret>,
    modules: HashMap<String, Secret>,
    /// The certificate both planes present (`tls_cert`, `tls_key`).
    pub(crate) tls: Option<ServerTls>,
}

impl Security {
    /// Reads every secret file and the TLS certificate and key; errors name
    /// the configuration key and the file.
    pub(crate) fn load(config: &DaemonConfig) -> Result<Security> {
        config.check_tls_pair()?;
        let daemon = config.auth_secret_file.as_deref().map(|p| read_secret(p, "auth_secret_file")).transpose()?;
        let mut modules = HashMap::new();
        for m in &config.modules {
            m.check_allow_relay(daemon.is_some())?;
            if let Some(path) = &m.auth_secret_file {
                let what = format!("auth_secret_file of module `{}`", m.name);
                modules.insert(m.name.clone(), read_secret(path, &what)?);
            }
        }
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(ServerTls::from_pem_files(cert, key)?),
            _ => None,
        };
        Ok(Security { daemon, modules, tls })
    }

    /// What a request naming `module` must present; `None` for the
    /// daemon-level requests (`Modules`, or a module that does not exist).
    pub(crate) fn required<'a>(&'a self, module: Option<&'a str>) -> Required<'a> {
        match module {
            Some(name) => Required { secret: self.modules.get(name).or(self.daemon.as_ref()), module: Some(name) },
            None => Required { secret: self.daemon.as_ref(), module: None },
        }
    }

    /// Refuses a request about every module at once (`Jobs`) that lacks the
    /// daemon's secret where there is one, or that presents a secret this
    /// daemon does not hold at all: a guess learns nothing but a refusal,
    /// never which jobs it would have shown. A request without a secret on
    /// a daemon without a daemon-wide one passes (it sees the jobs of
    /// modules that need no secret).
    #[allow(clippy::result_large_err)] // tonic handlers return `Status`
    pub(crate) fn check_any(&self, metadata: &tonic::metadata::MetadataMap, peer: &str) -> Result<(), tonic::Status> {
        let Some(presented) = blit_transport_grpc::presented_secret(metadata) else {
            return check_secret(self.required(None), metadata, peer);
        };
        let held = || self.daemon.iter().chain(self.modules.values());
        // Every secret is compared, so the time taken does not say which matched.
        if held().fold(false, |known, secret| secret.matches(presented) | known) {
            return Ok(());
        }
        match held().next() {
            // It presents none of them: refused in the words of `check_secret`.
            Some(secret) => check_secret(Required { secret: Some(secret), module: None }, metadata, peer),
            None => Ok(()),
        }
    }

    /// Whether a request that presents `presented` may see and cancel the
    /// transfers of `module`: the module needs no secret, or it is this one.
    pub(crate) fn proves(&self, module: &str, presented: Option<&str>) -> bool {
        match self.required(Some(module)).secret {
            None => true,
            Some(secret) => presented.is_some_and(|p| secret.matches(p)),
        }
    }

    /// Whether any module has a secret of its own (then a request's module
    /// must be known before its secret can be checked).
    pub(crate) fn has_module_secrets(&self) -> bool {
        !self.modules.is_empty()
    }

    /// Warns when anyone beyond this machine can reach modules without a
    /// secret, or could read secrets sent in clear.
    pub(crate) fn warn_if_exposed(&self, listen: SocketAddr, module_names: &[String]) {
        if listen.ip().is_loopback() {
            return;
        }
        let open: Vec<&str> = module_names
            .iter()
            .filter(|m| self.required(Some(m.as_str())).secret.is_none())
            .map(String::as_str)
            .collect();
        if !open.is_empty() {
            tracing::warn!(
                "listening on {listen} without authentication for module(s) {}: anyone who can reach this \
                 address may read and write them; set auth_secret_file",
                open.join(", ")
            );
        }
        if self.tls.is_none() && (self.daemon.is_some() || !self.modules.is_empty()) {
            tracing::warn!("listening on {listen} without TLS: secrets travel in clear; set tls_cert and tls_key");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModuleConfig;

    /// A configuration with a daemon-wide secret (or none) and module `a`
    /// without a secret of its own, `b` with `module-secret-0123`; each
    /// secret in a file in `dir`.
    fn config(dir: &std::path::Path, daemon: Option<&str>) -> DaemonConfig {
        let secret = |name: &str, text: &str| {
            let file = dir.join(name);
            std::fs::write(&file, format!("{text}\n")).unwrap();
            file
        };
        let mut config = DaemonConfig::new();
        config.auth_secret_file = daemon.map(|text| secret("daemon.secret", text));
        for (name, own) in [("a", None), ("b", Some(secret("b.secret", "module-secret-0123")))] {
            let mut module = ModuleConfig::new(name, dir);
            module.auth_secret_file = own;
            config.add_module(module).unwrap();
        }
        config
    }

    #[test]
    fn a_module_secret_overrides_the_daemon_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), Some("daemon-secret-0123"));
        let s = Security::load(&config).unwrap();
        assert!(s.required(Some("a")).secret.unwrap().matches("daemon-secret-0123"));
        assert!(s.required(Some("b")).secret.unwrap().matches("module-secret-0123"));
        assert!(!s.required(Some("b")).secret.unwrap().matches("daemon-secret-0123"));
        assert!(s.required(None).secret.unwrap().matches("daemon-secret-0123"));
        config.auth_secret_file = Some(dir.path().join("missing"));
        let e = Security::load(&config).unwrap_err();
        assert!(e.to_string().contains("auth_secret_file") && e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn jobs_are_seen_with_the_secret_of_their_module_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let with = |secret: Option<&str>| {
            let mut md = tonic::metadata::MetadataMap::new();
            if let Some(secret) = secret {
                md.insert(blit_transport_grpc::AUTH_KEY, format!("Bearer {secret}").parse().unwrap());
            }
            md
        };
        // No daemon-wide secret: anyone sees the open module's jobs only.
        let s = Security::load(&config(dir.path(), None)).unwrap();
        assert!(s.check_any(&with(None), "p").is_ok());
        assert!(s.proves("a", None) && !s.proves("b", None));
        assert!(s.check_any(&with(Some("module-secret-0123")), "p").is_ok());
        assert!(s.proves("b", Some("module-secret-0123")));
        // A secret this daemon does not hold is refused outright.
        let status = s.check_any(&with(Some("a guess")), "p").unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(!s.proves("b", Some("a guess")));
        // With a daemon-wide secret, a request without one is refused.
        let s = Security::load(&config(dir.path(), Some("daemon-secret-0123"))).unwrap();
        assert!(s.check_any(&with(None), "p").is_err());
        assert!(s.check_any(&with(Some("daemon-secret-0123")), "p").is_ok());
        assert!(s.proves("a", Some("daemon-secret-0123")) && !s.proves("b", Some("daemon-secret-0123")));
        // No secret anywhere: whatever is presented, everything is seen.
        let open = DaemonConfig::new();
        assert!(Security::load(&open).unwrap().check_any(&with(Some("anything")), "p").is_ok());
    }

    #[test]
    fn a_secret_shorter_than_16_characters_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "fifteen-chars!!\n").unwrap();
        let mut config = DaemonConfig::new();
        config.add_module(ModuleConfig::new("a", dir.path())).unwrap();
        config.modules[0].auth_secret_file = Some(short.clone());
        let e = Security::load(&config).unwrap_err();
        assert!(e.to_string().contains("has 15 characters") && e.to_string().contains("at least 16"), "{e}");
        assert!(e.to_string().contains("module `a`"), "{e}");
        std::fs::write(&short, "sixteen-chars!!!\n").unwrap();
        Security::load(&config).unwrap();
    }
}
