//! The shared secret: reading it, carrying it in request metadata, and
//! checking it on the daemon.
//!
//! The client sends `authorization: Bearer <secret>` on every RPC
//! (`Modules`, `List`, `Transfer`). The daemon compares the BLAKE3 digests
//! of what it received and what it holds with [`blake3::Hash`]'s
//! constant-time equality, so neither the time taken nor the lengths
//! involved tell an attacker how close a guess was. Without TLS the secret
//! travels in clear (see `docs/security.md`).

use blit_api::{Error, ErrorKind, Result};
use std::path::Path;

/// The metadata key that carries the secret.
pub const AUTH_KEY: &str = "authorization";

/// A shared secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A secret from text: trailing line breaks are dropped; it must not be
    /// empty and must be printable ASCII (it travels in an HTTP/2 header).
    /// `origin` names where it came from in errors.
    pub fn new(text: &str, origin: &str) -> Result<Secret> {
        let text = text.trim_end_matches(['\n', '\r']);
        let hint = "write a secret of printable ASCII, e.g. the output of `openssl rand -hex 32`";
        if text.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "the secret is empty").with_path(origin).with_hint(hint));
        }
        if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(Error::new(ErrorKind::InvalidInput, "the secret holds characters other than printable ASCII")
                .with_path(origin)
                .with_hint(hint));
        }
        Ok(Secret(text.to_owned()))
    }

    /// Reads a secret file; `what` names the setting in errors
    /// (`auth_secret_file`, `--secret-file`). Warns (tracing) when the file
    /// is readable by its group or by everyone.
    pub fn from_file(path: &Path, what: &str) -> Result<Secret> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::io(&format!("read {what}"), path.display(), e).with_hint(format!("point {what} at a readable file"))
        })?;
        warn_if_shared(path, what);
        Secret::new(&text, &format!("{what} {}", path.display()))
    }

    /// Its length in characters (printable ASCII: one byte each).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty (never, for a secret made by [`Secret::new`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `presented` is this secret, in time that does not depend on
    /// either value: the BLAKE3 digests are compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        blake3::hash(self.0.as_bytes()) == blake3::hash(presented.as_bytes())
    }

    /// The secret itself (a relay request carries a grant this way).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn text(&self) -> &str {
        &self.0
    }

    /// The metadata value the client sends.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn header(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, what: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "{what} {} is readable by other users (mode {:o}); run `chmod 600` on it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path, _: &str) {}

/// Adds the secret to a request's metadata (client).
#[cfg(feature = "client")]
pub(crate) fn attach<T>(request: &mut tonic::Request<T>, secret: Option<&Secret>) {
    if let Some(secret) = secret {
        // `Secret::new` admits printable ASCII only, which is always a valid value.
        if let Ok(value) = secret.header().parse() {
            request.metadata_mut().insert(AUTH_KEY, value);
        }
    }
}

/// What a module (or the whole daemon, `module: None`) requires, for
/// [`check`].
#[cfg(feature = "server")]
#[derive(Debug, Clone, Copy)]
pub struct Required<'a> {
    /// The secret, when one is required.
    pub secret: Option<&'a Secret>,
    /// The module it guards, or `None` for the daemon itself.
    pub module: Option<&'a str>,
}

/// The secret a request's metadata presents, if any.
#[cfg(feature = "server")]
pub fn presented(metadata: &tonic::metadata::MetadataMap) -> Option<&str> {
    metadata.get(AUTH_KEY).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
}

/// Refuses a request whose metadata lacks the required secret or carries
/// another one, with `UNAUTHENTICATED` and a message that says what to do.
/// Call it before touching anything the request names.
#[cfg(feature = "server")]
#[allow(clippy::result_large_err)]
pub fn check(required: Required<'_>, metadata: &tonic::metadata::MetadataMap, peer: &str) -> Result<(), tonic::Status> {
    let Some(secret) = required.secret else { return Ok(()) };
    let what = match required.module {
        Some(name) => format!("module '{name}'"),
        None => "this blitd".to_owned(),
    };
    let refusal = match presented(metadata) {
        Some(presented) if secret.matches(presented) => return Ok(()),
        Some(_) => {
            // Logged by the daemon, summed up per interval (one line per
            // attempt would let a stranger flood the log).
            tracing::debug!("{peer}: wrong secret for {what}");
            Error::new(ErrorKind::PermissionDenied, format!("wrong secret for {what}"))
                .with_hint("check BLIT_SECRET or the file given to --secret-file")
        }
        None => {
            tracing::debug!("{peer}: no secret for {what}");
            Error::new(ErrorKind::PermissionDenied, format!("{what} requires a secret"))
                .with_hint("set BLIT_SECRET or pass --secret-file")
        }
    };
    Err(crate::error::unauthenticated(&refusal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_in_constant_time_by_digest() {
        let s = Secret::new("s3cret\n", "t").unwrap();
        assert!(s.matches("s3cret"));
        assert!(!s.matches("s3creT"), "unequal, same length");
        assert!(!s.matches("s3cret "), "longer");
        assert!(!s.matches("s3cre"), "shorter");
        assert!(!s.matches(""), "empty");
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(s.header(), "Bearer s3cret");
    }

    #[test]
    fn bad_secrets_are_refused_naming_their_origin() {
        for (text, why) in [("", "empty"), ("\n", "empty"), ("caf\u{e9}", "printable ASCII"), ("a\tb", "printable")] {
            let e = Secret::new(text, "--secret-file /k").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.to_string().contains(why) && e.to_string().contains("/k"), "{text:?}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "from a file\r\n").unwrap();
        assert!(Secret::from_file(&path, "--secret-file").unwrap().matches("from a file"));
        let e = Secret::from_file(&dir.path().join("missing"), "auth_secret_file").unwrap_err();
        assert!(e.to_string().contains("auth_secret_file") && e.to_string().contains("missing"), "{e}");
    }

    #[cfg(feature = "server")]
    #[test]
    fn the_check_refuses_missing_and_wrong_secrets_as_unauthenticated() {
        let s = Secret::new("right", "t").unwrap();
        let required = Required { secret: Some(&s), module: Some("x") };
        let mut md = tonic::metadata::MetadataMap::new();
        let status = check(required, &md, "p").unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(status.message().contains("module 'x' requires a secret"), "{status:?}");
        assert!(status.message().contains("BLIT_SECRET") && status.message().contains("--secret-file"));
        md.insert(AUTH_KEY, "Bearer wrong".parse().unwrap());
        let status = check(required, &md, "p").unwrap_err();
        assert!(status.message().contains("wrong secret for module 'x'"), "{status:?}");
        let e = crate::error_from_status(&status, "h:1");
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        md.insert(AUTH_KEY, "Bearer right".parse().unwrap());
        assert!(check(required, &md, "p").is_ok());
        assert!(check(Required { secret: None, module: None }, &tonic::metadata::MetadataMap::new(), "p").is_ok());
    }
}
