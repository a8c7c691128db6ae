//! Explicit transport registration, keyed by scheme.

use crate::{Error, ErrorKind, PayloadTransport, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why `--transport tcp` (or a `tcp` registry entry) fails in a build
/// without the TCP data plane: the one wording every place uses.
pub const TCP_NOT_BUILT: &str = "tcp data plane not compiled in; rebuild with feature `tcp-data-plane`";

/// Why the `grpc` transport fails in a build without it.
pub const GRPC_NOT_BUILT: &str = "grpc transport not compiled in; rebuild with feature `grpc`";

/// Builds a transport instance for one transfer.
pub type TransportFactory = Arc<dyn Fn() -> Result<Arc<dyn PayloadTransport>> + Send + Sync>;

enum Entry {
    Enabled(TransportFactory),
    Disabled(String),
}

/// Transports by scheme. Each transport crate exports `register(&mut
/// Registry)`; `blit-transports` calls them under Cargo features and registers
/// a disabled stub (with the reason) for the features that are off, so an
/// unknown scheme and a scheme not compiled in give different errors.
#[derive(Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `scheme`.
    pub fn register(&mut self, scheme: &str, factory: TransportFactory) {
        self.entries.insert(scheme.to_owned(), Entry::Enabled(factory));
    }

    /// Registers `scheme` as known but not available, with the reason.
    pub fn register_disabled(&mut self, scheme: &str, reason: &str) {
        self.entries.insert(scheme.to_owned(), Entry::Disabled(reason.to_owned()));
    }

    /// Builds the transport for `scheme`.
    pub fn get(&self, scheme: &str) -> Result<Arc<dyn PayloadTransport>> {
        match self.entries.get(scheme) {
            Some(Entry::Enabled(f)) => f(),
            Some(Entry::Disabled(reason)) => Err(Error::new(ErrorKind::Unsupported, reason.clone())),
            None => Err(Error::new(
                ErrorKind::InvalidInput,
                format!("unknown transport `{scheme}`; known: {}", self.schemes().join(", ")),
            )),
        }
    }

    /// Every registered scheme, enabled or not.
    pub fn schemes(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_and_unknown_schemes_differ() {
        let mut r = Registry::new();
        r.register_disabled("tcp", "tcp data plane not compiled in; enable feature `tcp-data-plane`");
        let e = r.get("tcp").err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.to_string().contains("tcp-data-plane"));
        let e = r.get("nope").err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("tcp"));
    }
}
