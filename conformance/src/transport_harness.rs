//! Ready harnesses: any [`PayloadTransport`] between local endpoints, and the
//! local reference.

use crate::harness::{Harness, KnownFailure, Pair, TransferRequest};
use blit_api::{
    Capabilities, Direction, DirectionSet, Error, ErrorKind, ManifestSource, PayloadTransport, Registry, Result,
    TransferSummary,
};
use blit_engine::{run_local, DestinationRoles, LocalTransfer, SourceRoles};
use blit_transport_local::{LocalDestination, LocalSource, LocalTransport};
use std::path::Path;
use std::sync::Arc;

/// Builds a fresh transport for each transfer.
pub type Factory = Arc<dyn Fn() -> Result<Arc<dyn PayloadTransport>> + Send + Sync>;

/// A harness for any [`PayloadTransport`]: the source and destination are
/// the local endpoints ([`LocalSource`], [`LocalDestination`]) and the
/// transport carries the payload between them, in this process, through
/// [`blit_engine::run_local`]. It runs the `local` direction only.
///
/// This is all a third-party transport needs to run the whole suite:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use blit_api::PayloadTransport;
/// fn main() {
///     let harness = blit_conformance::TransportHarness::new(|| {
///         Ok(Arc::new(blit_transport_local::LocalTransport::new()) as Arc<dyn PayloadTransport>)
///     })
///     .expect("the transport builds");
///     blit_conformance::main(vec![Box::new(harness)]);
/// }
/// ```
pub struct TransportHarness {
    name: String,
    capabilities: Capabilities,
    factory: Factory,
    known_failures: Vec<KnownFailure>,
}

impl std::fmt::Debug for TransportHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportHarness")
            .field("name", &self.name)
            .field("capabilities", &self.capabilities)
            .field("known_failures", &self.known_failures)
            .finish_non_exhaustive()
    }
}

impl TransportHarness {
    /// A harness over the transports `factory` builds (one per transfer).
    /// Builds one up front to read its name and capabilities.
    pub fn new<F>(factory: F) -> Result<Self>
    where
        F: Fn() -> Result<Arc<dyn PayloadTransport>> + Send + Sync + 'static,
    {
        let probe = factory()?;
        Ok(TransportHarness {
            name: probe.name().to_owned(),
            capabilities: probe.capabilities(),
            factory: Arc::new(factory),
            known_failures: Vec::new(),
        })
    }

    /// A harness over the transport that `register` registers under `scheme`,
    /// which also proves the crate's registration works.
    pub fn registered(register: fn(&mut Registry), scheme: &str) -> Result<Self> {
        let mut registry = Registry::new();
        register(&mut registry);
        let registry = Arc::new(registry);
        registry.get(scheme)?;
        let scheme = scheme.to_owned();
        Self::new(move || registry.get(&scheme))
    }

    /// Overrides the name used in trial names (default: the transport's name).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Lists a case as known to fail (it runs as an ignored trial).
    pub fn known_failure(mut self, failure: KnownFailure) -> Self {
        self.known_failures.push(failure);
        self
    }
}

#[async_trait::async_trait]
impl Harness for TransportHarness {
    fn name(&self) -> &str {
        &self.name
    }

    fn directions(&self) -> DirectionSet {
        DirectionSet { local: true, ..DirectionSet::default() }
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn known_failures(&self) -> Vec<KnownFailure> {
        self.known_failures.clone()
    }

    async fn pair(&self, direction: Direction, _root: &Path) -> Result<Box<dyn Pair>> {
        if direction != Direction::Local {
            return Err(Error::new(ErrorKind::Unsupported, format!("{} runs the local direction only", self.name)));
        }
        Ok(Box::new(LocalPair { factory: self.factory.clone() }))
    }
}

/// Both endpoints in this process.
struct LocalPair {
    factory: Factory,
}

#[async_trait::async_trait]
impl Pair for LocalPair {
    async fn transfer(&mut self, request: TransferRequest) -> Result<TransferSummary> {
        let reader = Arc::new(LocalSource::new(request.source.clone()));
        let mut source: Arc<dyn ManifestSource> = reader.clone();
        if let Some(hook) = &request.source_hook {
            source = hook(source);
        }
        let destination = Arc::new(LocalDestination::new(request.destination.clone()));
        let transfer = LocalTransfer {
            source: SourceRoles { source, reader },
            destination: DestinationRoles { sink: destination.clone(), writer: destination },
            transport: (self.factory)()?,
            options: request.options.clone(),
        };
        run_local(transfer, request.events.clone()).await
    }

    async fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// The reference harness: [`LocalTransport`] between local endpoints. Every
/// other harness's event logs are compared with this one's.
#[derive(Debug)]
pub struct LocalHarness(TransportHarness);

impl Default for LocalHarness {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalHarness {
    /// The reference harness.
    pub fn new() -> Self {
        LocalHarness(TransportHarness {
            name: blit_transport_local::SCHEME.to_owned(),
            capabilities: LocalTransport::new().capabilities(),
            factory: Arc::new(|| Ok(Arc::new(LocalTransport::new()) as Arc<dyn PayloadTransport>)),
            known_failures: Vec::new(),
        })
    }
}

#[async_trait::async_trait]
impl Harness for LocalHarness {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn directions(&self) -> DirectionSet {
        self.0.directions()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    fn known_failures(&self) -> Vec<KnownFailure> {
        self.0.known_failures()
    }

    async fn pair(&self, direction: Direction, root: &Path) -> Result<Box<dyn Pair>> {
        self.0.pair(direction, root).await
    }
}
