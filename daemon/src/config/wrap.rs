//! [`SourceWrap`]: a hook around the walk of a pull (for tests).

use blit_api::ManifestSource;
use std::fmt;
use std::sync::Arc;

/// Wraps the source role ([`ManifestSource`]) of a pull, where the daemon
/// walks. Tests use it to act at a precise point of the walk, for instance to
/// remove a file right after its header was produced (the conformance
/// suite's source hooks), since the walk of a pull runs inside the daemon.
#[derive(Clone)]
pub struct SourceWrap(Arc<WrapFn>);

type WrapFn = dyn Fn(Arc<dyn ManifestSource>) -> Arc<dyn ManifestSource> + Send + Sync;

impl SourceWrap {
    /// A wrap that applies `wrap` to the walker of every pull.
    pub fn new(wrap: impl Fn(Arc<dyn ManifestSource>) -> Arc<dyn ManifestSource> + Send + Sync + 'static) -> Self {
        SourceWrap(Arc::new(wrap))
    }

    /// `source`, wrapped.
    pub fn apply(&self, source: Arc<dyn ManifestSource>) -> Arc<dyn ManifestSource> {
        (self.0)(source)
    }
}

impl fmt::Debug for SourceWrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SourceWrap(..)")
    }
}

/// Two wraps are equal when they are the same closure.
impl PartialEq for SourceWrap {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SourceWrap {}
