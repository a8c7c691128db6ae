//! The gRPC harness: push and pull against a blitd running in this process.
//!
//! [`GrpcHarness::pair`] starts a daemon on `127.0.0.1:0` serving one module,
//! [`MODULE`], whose directory is the trial root, so every source and
//! destination path a case names lies inside it. [`GrpcPair::transfer`] runs
//! the client side, as `blit` would: a push walks and reads the request's
//! source locally ([`LocalSource`]) and names the destination by its path
//! inside the module; a pull lands into the request's destination locally
//! ([`LocalDestination`]) and names the source by its path inside the
//! module. [`GrpcPair::close`] stops the daemon and waits for it.
//!
//! The source hook is applied wherever the source role runs: to the client's
//! [`LocalSource`] in a push, and through
//! [`DaemonConfig::source_wrap`](blit_daemon::DaemonConfig) to the daemon's
//! walker in a pull.

use blit_api::{
    Capabilities, Direction, DirectionSet, Error, ErrorKind, ManifestSource, PayloadTransport, RelPath, Result,
    TransferSummary,
};
use blit_conformance::{Harness, KnownFailure, Pair, SourceHook, TransferRequest};
use blit_daemon::{DaemonConfig, ModuleConfig, SourceWrap};
use blit_engine::{DestinationRoles, SourceRoles};
use blit_transport_grpc::{GrpcConfig, GrpcTransport, RemoteSpec};
use blit_transport_local::{LocalDestination, LocalSource};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// The one module every trial's daemon serves: the trial root.
pub(crate) const MODULE: &str = "trial";

/// How long closing a pair may wait for its daemon.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// push and pull through an in-process blitd.
#[derive(Debug)]
pub(crate) struct GrpcHarness {
    name: &'static str,
    config: GrpcConfig,
    capabilities: Capabilities,
    known_failures: Vec<KnownFailure>,
}

impl GrpcHarness {
    /// The harness, with the capabilities of the gRPC payload transport
    /// (which is what carries the files in both directions).
    pub(crate) fn new() -> Self {
        GrpcHarness {
            name: blit_transport_grpc::SCHEME,
            config: GrpcConfig::default(),
            capabilities: GrpcTransport::loopback().capabilities(),
            known_failures: Vec::new(),
        }
    }

    /// The same sessions with the payload on the TCP data plane
    /// (`--transport tcp`, no fallback): `conformance::tcp::{push,pull}::*`.
    #[cfg(feature = "tcp-data-plane")]
    pub(crate) fn tcp() -> Self {
        use blit_transports::tcp::{TcpConfig, TcpTransport};
        GrpcHarness {
            name: blit_transports::tcp::SCHEME,
            config: GrpcConfig::default().transport(blit_transport_grpc::TransportMode::Tcp),
            capabilities: TcpTransport::new(Vec::new(), TcpConfig::new(), "harness").capabilities(),
            known_failures: Vec::new(),
        }
    }
}

#[async_trait::async_trait]
impl Harness for GrpcHarness {
    fn name(&self) -> &str {
        self.name
    }

    fn directions(&self) -> DirectionSet {
        DirectionSet { push: true, pull: true, ..DirectionSet::default() }
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn known_failures(&self) -> Vec<KnownFailure> {
        self.known_failures.clone()
    }

    async fn pair(&self, direction: Direction, root: &Path) -> Result<Box<dyn Pair>> {
        if !self.directions().contains(direction) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("the {} harness runs push and pull, not {direction}", self.name),
            ));
        }
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| Error::io("bind", "127.0.0.1:0", e))?;
        let port = listener.local_addr().map_err(|e| Error::io("read the address of", "127.0.0.1:0", e))?.port();
        // The daemon walks for pulls; the hook of the running transfer (if
        // any) wraps its walker.
        let hook: HookSlot = Arc::default();
        let slot = hook.clone();
        let mut config = DaemonConfig::new();
        // The suite compares with a local copy, which keeps owners and
        // set-ID bits: the module accepts them (the default refusal is
        // tested in `daemon/tests/privilege.rs`).
        config.add_module(ModuleConfig {
            comment: "the conformance trial root".to_owned(),
            allow_owner: true,
            allow_setid: true,
            ..ModuleConfig::new(MODULE, root)
        })?;
        config.shutdown_grace = Duration::from_secs(1);
        config.source_wrap = Some(SourceWrap::new(move |source| match current(&slot) {
            Some(hook) => hook(source),
            None => source,
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let daemon = tokio::spawn(blit_daemon::run(listener, config, async move {
            stopped.await.ok();
        }));
        let config = self.config.clone();
        Ok(Box::new(GrpcPair { direction, root: root.to_path_buf(), port, config, hook, stop, daemon }))
    }
}

/// The source hook of the transfer running now, shared with the daemon.
type HookSlot = Arc<Mutex<Option<SourceHook>>>;

fn current(slot: &HookSlot) -> Option<SourceHook> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// A daemon serving one trial root, and the client that talks to it.
struct GrpcPair {
    direction: Direction,
    root: PathBuf,
    port: u16,
    config: GrpcConfig,
    hook: HookSlot,
    stop: oneshot::Sender<()>,
    daemon: tokio::task::JoinHandle<Result<()>>,
}

impl GrpcPair {
    /// `path` (below the trial root) as the daemon's client names it.
    fn remote(&self, path: &Path) -> Result<RemoteSpec> {
        let inside = path.strip_prefix(&self.root).map_err(|_| {
            Error::new(ErrorKind::InvalidInput, "the path is not below the trial root")
                .with_path(path.display().to_string())
        })?;
        let rel = RelPath::from_bytes(inside.as_os_str().as_bytes().to_vec())?;
        Ok(RemoteSpec::new("127.0.0.1", self.port, MODULE, rel))
    }
}

#[async_trait::async_trait]
impl Pair for GrpcPair {
    async fn transfer(&mut self, request: TransferRequest) -> Result<TransferSummary> {
        let config = self.config.clone();
        match (self.direction, request.direction) {
            (Direction::Push, Direction::Push) => {
                let remote = self.remote(&request.destination)?;
                let reader = Arc::new(LocalSource::new(request.source.clone()));
                let mut source: Arc<dyn ManifestSource> = reader.clone();
                if let Some(hook) = &request.source_hook {
                    source = hook(source);
                }
                let roles = SourceRoles { source, reader };
                blit_transport_grpc::push(&remote, roles, &request.options, &config, request.events.clone()).await
            }
            (Direction::Pull, Direction::Pull) => {
                let remote = self.remote(&request.source)?;
                let destination = Arc::new(LocalDestination::new(request.destination.clone()));
                let roles = DestinationRoles { sink: destination.clone(), writer: destination };
                *self.hook.lock().unwrap_or_else(PoisonError::into_inner) = request.source_hook.clone();
                let result =
                    blit_transport_grpc::pull(&remote, roles, &request.options, &config, request.events.clone()).await;
                *self.hook.lock().unwrap_or_else(PoisonError::into_inner) = None;
                result
            }
            (pair, asked) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!("this pair was set up for {pair}; the case asked for {asked}"),
            )),
        }
    }

    async fn close(self: Box<Self>) -> Result<()> {
        let GrpcPair { stop, daemon, .. } = *self;
        stop.send(()).ok();
        match tokio::time::timeout(STOP_TIMEOUT, daemon).await {
            Ok(Ok(served)) => served,
            Ok(Err(e)) => Err(Error::new(ErrorKind::Unexpected, format!("the daemon task failed: {e}"))),
            Err(_) => Err(Error::new(
                ErrorKind::Unexpected,
                format!("the daemon did not stop within {} s", STOP_TIMEOUT.as_secs()),
            )),
        }
    }
}
