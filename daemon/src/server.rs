//! The tonic service: `Modules`, `List`, `Transfer`, `Space`, `Remove`,
//! `Jobs` and `Cancel`.
//!
//! Every request is checked in the same order: protocol version, module,
//! access (a push into a read-only module, or one that asks for file
//! ownership where the module does not allow it, is refused before anything
//! is resolved or created), then path containment ([`crate::module`]). A
//! push lands through a destination that takes from the client only what
//! the module allows (`Module::push_policy`). A transfer then runs in its
//! own task ([`blit_transport_grpc::server::serve`]), so a client that fails
//! or misbehaves ends only its own session. `Space` and `Remove` run
//! their part in [`crate::admin`] after the same checks (a removal also
//! refuses read-only modules and the module's root first). Every accepted
//! transfer is registered in [`crate::jobs`] while it runs: `Jobs` lists
//! those of the modules whose secret the request proves (and of modules
//! without one), `Cancel` stops one for a request that proves the secret
//! of its module. `Grant` and `Relay` (a copy between two daemons) run in
//! [`crate::relay`] after the same checks; a `Transfer` that presents a
//! grant instead of a secret is admitted only as the one push it was
//! issued for ([`crate::grant`]).

use crate::admin;
use crate::config::SourceWrap;
use crate::gate::Gate;
use crate::grant::{Grants, Scope};
use crate::jobs::{self, Jobs, JobsStream};
use crate::limits::{self, Running, Sessions};
use crate::list::{self, ListStream};
use crate::module::Modules;
use crate::relay::{self, RelayStream};
use crate::security::Security;
use blit_api::ManifestSource;
use blit_engine::{DestinationRoles, SourceRoles};
use blit_proto::pb;
use blit_transport_grpc::server::{self, Role, ServedHalf, ServedModule, TransferStream};
use blit_transport_grpc::status_from_error;
use blit_transports::local::{LocalDestination, LocalSource};
use std::sync::Arc;
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

/// The blitd service.
#[derive(Debug)]
pub(crate) struct BlitService {
    modules: Arc<Modules>,
    /// Turns true when running sessions must stop (shutdown).
    cancel: watch::Receiver<bool>,
    /// Wraps the walker of every pull (tests only).
    source_wrap: Option<SourceWrap>,
    /// The session limit and idle timeout.
    limits: Limits,
    /// Secrets and TLS.
    security: Arc<Security>,
    /// Connections that have not authenticated, and failed secrets.
    gate: Arc<Gate>,
    /// The ports data-plane listeners may take (`data_ports`).
    data_ports: Option<blit_transport_grpc::PortRange>,
    /// The running transfers.
    jobs: Arc<Jobs>,
    /// Grants waiting for their push.
    grants: Arc<Grants>,
}

/// What one peer may hold ([`crate::limits`]).
#[derive(Debug)]
pub(crate) struct Limits {
    /// Running sessions, against `max_sessions`.
    pub(crate) sessions: Sessions,
    /// How long a session may stay idle.
    pub(crate) idle: std::time::Duration,
}

impl BlitService {
    pub(crate) fn new(modules: Arc<Modules>, cancel: watch::Receiver<bool>, source_wrap: Option<SourceWrap>) -> Self {
        let limits = Limits {
            sessions: Sessions::new(crate::DEFAULT_MAX_SESSIONS, Running::default()),
            idle: crate::DEFAULT_IDLE_TIMEOUT,
        };
        let gate = Gate::new(std::time::Duration::from_secs(10));
        BlitService {
            modules,
            cancel,
            source_wrap,
            limits,
            security: Arc::default(),
            gate,
            data_ports: None,
            jobs: Arc::default(),
            grants: Arc::new(Grants::new(crate::grant::GRANT_LIFETIME)),
        }
    }

    /// Sets how long grants wait for their push.
    pub(crate) fn grant_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.grants = Arc::new(Grants::new(lifetime));
        self
    }

    /// Sets the registry of connections that have not authenticated.
    pub(crate) fn gate(mut self, gate: Arc<Gate>) -> Self {
        self.gate = gate;
        self
    }

    /// Passes on the answer of a secret check: a success proves the
    /// request's connection to the gate; a refusal waits the gate's delay
    /// for its address first (see `gate`).
    async fn checked(&self, answer: Result<(), Status>, addr: Option<std::net::SocketAddr>) -> Result<(), Status> {
        match answer {
            Ok(()) => {
                self.gate.proved(addr);
                Ok(())
            }
            Err(refusal) => {
                tokio::time::sleep(self.gate.failed(addr)).await;
                Err(refusal)
            }
        }
    }

    /// Sets the session limit and idle timeout.
    pub(crate) fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the ports data-plane listeners may take.
    pub(crate) fn data_ports(mut self, ports: Option<blit_transport_grpc::PortRange>) -> Self {
        self.data_ports = ports;
        self
    }

    /// Sets the secrets and TLS configuration.
    pub(crate) fn security(mut self, security: Arc<Security>) -> Self {
        self.security = security;
        self
    }

    /// The checks of a request that names a module and a path, in order:
    /// protocol version, secret (through the gate), module, path
    /// containment; the module and the checked path.
    async fn module_and_path(
        &self,
        from: &Caller,
        version: u32,
        module: &str,
        path: &[u8],
    ) -> Result<(&crate::module::Module, blit_api::RelPath), Status> {
        server::check_version(version, &from.peer)?;
        self.checked(self.authorize(module, &from.metadata, &from.peer), from.addr).await?;
        let module = self.modules.get(module).map_err(|e| status_from_error(&e))?;
        Ok((module, server::check_path(path, &from.peer)?))
    }

    /// Refuses a request for `module` without its secret. A module that
    /// does not exist needs the daemon's secret (if any) before the
    /// "no module" answer, which names the modules served.
    #[allow(clippy::result_large_err)] // tonic handlers return `Status`
    fn authorize(&self, module: &str, metadata: &tonic::metadata::MetadataMap, peer: &str) -> Result<(), Status> {
        let name = self.modules.get(module).ok().map(|m| m.name.as_str());
        blit_transport_grpc::check_secret(self.security.required(name), metadata, peer)
    }
}

impl BlitService {
    /// Uses up the grant `token` for the session `request` opens: admitted
    /// only as the push it was issued for.
    #[allow(clippy::result_large_err)] // tonic handlers return `Status`
    fn admit_grant(&self, token: &str, request: &server::TransferRequest, peer: &str) -> Result<(), Status> {
        let asked =
            Scope { module: request.module.clone(), path: request.path.clone(), options: request.options.clone() };
        let taken = match (self.grants.take(token, &asked), request.role) {
            (Ok(()), Role::Pull) => {
                Err(blit_api::Error::new(blit_api::ErrorKind::PermissionDenied, "the grant is for a push, not a pull"))
            }
            (taken, _) => taken,
        };
        taken.map_err(|e| {
            tracing::warn!(
                "{peer}: refused a grant for {:?} /{}/{}: {e}",
                request.role,
                request.module,
                request.path.display()
            );
            blit_transport_grpc::unauthenticated(&e)
        })
    }
}

/// Who sent a unary request: what every check of it needs.
struct Caller {
    /// How messages name the client.
    peer: String,
    addr: Option<std::net::SocketAddr>,
    metadata: tonic::metadata::MetadataMap,
}

impl Caller {
    fn of<T>(request: Request<T>) -> (Caller, T) {
        let from =
            Caller { peer: peer_of(&request), addr: request.remote_addr(), metadata: request.metadata().clone() };
        (from, request.into_inner())
    }
}

/// How messages name the client.
fn peer_of<T>(request: &Request<T>) -> String {
    match request.remote_addr() {
        Some(addr) => format!("client {addr}"),
        None => "client".to_owned(),
    }
}

#[tonic::async_trait]
impl pb::blit_server::Blit for BlitService {
    async fn modules(&self, request: Request<pb::ModulesRequest>) -> Result<Response<pb::ModulesReply>, Status> {
        let peer = peer_of(&request);
        server::check_version(request.get_ref().protocol_version, &peer)?;
        let answer = blit_transport_grpc::check_secret(self.security.required(None), request.metadata(), &peer);
        self.checked(answer, request.remote_addr()).await?;
        Ok(Response::new(server::modules_reply(&self.modules.infos())))
    }

    type ListStream = ListStream;

    async fn list(&self, request: Request<pb::ListRequest>) -> Result<Response<ListStream>, Status> {
        let (from, request) = Caller::of(request);
        let (module, path) =
            self.module_and_path(&from, request.protocol_version, &request.module, &request.path).await?;
        let target = module.resolve(&path, false).map_err(|e| status_from_error(&e))?;
        Ok(Response::new(list::stream(target)))
    }

    async fn space(&self, request: Request<pb::SpaceRequest>) -> Result<Response<pb::SpaceReply>, Status> {
        let (from, request) = Caller::of(request);
        let (module, path) =
            self.module_and_path(&from, request.protocol_version, &request.module, &request.path).await?;
        Ok(Response::new(admin::space(module, &path).await?))
    }

    async fn remove(&self, request: Request<pb::RemoveRequest>) -> Result<Response<pb::RemoveReply>, Status> {
        let (from, request) = Caller::of(request);
        let (module, path) =
            self.module_and_path(&from, request.protocol_version, &request.module, &request.path).await?;
        server::check_removal(&module.name, module.read_only, &path).inspect_err(|refused| {
            tracing::warn!("{}: refused rm /{}: {}", from.peer, module.name, refused.message());
        })?;
        let slot = self.limits.sessions.take()?;
        if let Some(expect) = &request.expect {
            let expect = server::expect_from_pb(expect, &from.peer).map_err(|e| status_from_error(&e))?;
            return Ok(Response::new(admin::remove_if(module, &path, expect, slot).await?));
        }
        Ok(Response::new(admin::remove(module, &path, &from.peer, slot).await?))
    }

    type JobsStream = JobsStream;

    async fn jobs(&self, request: Request<pb::JobsRequest>) -> Result<Response<JobsStream>, Status> {
        let (from, request) = Caller::of(request);
        server::check_version(request.protocol_version, &from.peer)?;
        self.checked(self.security.check_any(&from.metadata, &from.peer), from.addr).await?;
        let presented = blit_transport_grpc::presented_secret(&from.metadata);
        let jobs = self.jobs.list(|module| self.security.proves(module, presented));
        Ok(Response::new(jobs::stream(&jobs)))
    }

    async fn cancel(&self, request: Request<pb::CancelRequest>) -> Result<Response<pb::CancelReply>, Status> {
        let (from, request) = Caller::of(request);
        server::check_version(request.protocol_version, &from.peer)?;
        // An id no job has needs the daemon's secret (if any), as an
        // unknown module does, before the "no such job" answer.
        let module = self.jobs.module_of(&request.id);
        let required = self.security.required(module.as_deref());
        self.checked(blit_transport_grpc::check_secret(required, &from.metadata, &from.peer), from.addr).await?;
        let job = self.jobs.cancel(&request.id).map_err(|e| status_from_error(&e))?;
        tracing::info!(
            "{}: cancelled job {}: {:?} {} from {}",
            from.peer,
            job.id,
            job.direction,
            job.shown(),
            job.client
        );
        Ok(Response::new(server::cancel_reply(&job)))
    }

    async fn grant(&self, request: Request<pb::GrantRequest>) -> Result<Response<pb::GrantReply>, Status> {
        let (from, request) = Caller::of(request);
        let (module, path) =
            self.module_and_path(&from, request.protocol_version, &request.module, &request.path).await?;
        Ok(Response::new(relay::grant(&self.grants, module, path, request.options, &from.peer)?))
    }

    type RelayStream = RelayStream;

    async fn relay(&self, request: Request<pb::RelayRequest>) -> Result<Response<RelayStream>, Status> {
        let (from, request) = Caller::of(request);
        let (module, path) =
            self.module_and_path(&from, request.protocol_version, &request.module, &request.path).await?;
        relay::check_allowed(module, &from.peer)?;
        let root = module.resolve(&path, false).map_err(|e| status_from_error(&e))?;
        let slot = self.limits.sessions.take()?;
        let job = self
            .jobs
            .register(&module.name, &path, blit_api::Direction::Pull, from.addr)
            .map_err(|e| status_from_error(&e))?;
        let held = relay::Held { slot, job, shutdown: self.cancel.clone() };
        Ok(Response::new(relay::start(module, root, request, held, &from.peer)?))
    }

    type TransferStream = TransferStream;

    async fn transfer(&self, request: Request<Streaming<pb::Frame>>) -> Result<Response<TransferStream>, Status> {
        let peer = peer_of(&request);
        // The data plane, when offered, listens where the client reached us.
        let local = request.local_addr();
        let addr = request.remote_addr();
        let metadata = request.metadata().clone();
        // A grant that waits for its push stands in for the secret; it is
        // used up once `Open` says what the session asks.
        let grant = blit_transport_grpc::presented_secret(&metadata)
            .filter(|presented| self.grants.waiting(presented))
            .map(str::to_owned);
        // A daemon-wide secret is checked before anything is read: a
        // stranger without it (or a grant) costs no more than this answer.
        if grant.is_none() && !self.security.has_module_secrets() {
            let answer = blit_transport_grpc::check_secret(self.security.required(None), &metadata, &peer);
            self.checked(answer, addr).await?;
        }
        let mut incoming = server::incoming(request.into_inner(), &peer);
        let open_within = self.limits.idle.min(std::time::Duration::from_secs(10));
        let mut request = tokio::time::timeout(open_within, server::accept(&mut incoming, &peer))
            .await
            .map_err(|_| limits::no_open(open_within))??;
        request.local = local;
        request.tls = self.security.tls.clone();
        request.data_ports = self.data_ports;
        let answer = match &grant {
            Some(token) => self.admit_grant(token, &request, &peer),
            None => self.authorize(&request.module, &metadata, &peer),
        };
        self.checked(answer, addr).await?;
        // Only a peer that proved the secret (or a grant) takes a session slot.
        let slot = self.limits.sessions.take()?;
        let module = self.modules.get(&request.module).map_err(|e| status_from_error(&e))?;
        let served = ServedModule {
            name: &module.name,
            dir: &module.dir,
            read_only: module.read_only,
            allow_owner: module.allow_owner,
        };
        server::check_access(&request, &served).inspect_err(|refused| {
            tracing::warn!("{peer}: refused {:?} /{}: {}", request.role, module.name, refused.message());
        })?;
        let root = module.resolve(&request.path, request.role == Role::Push).map_err(|e| status_from_error(&e))?;
        tracing::info!("{peer}: {:?} /{}/{}", request.role, module.name, request.path.display());
        let half = match request.role {
            Role::Push => {
                let destination = Arc::new(LocalDestination::at(root).with_policy(module.push_policy()));
                let writer = blit_transports::bench_writer(destination.clone());
                ServedHalf::Destination(DestinationRoles { sink: destination, writer })
            }
            Role::Pull => {
                // Reads files beneath the module's held descriptor with no
                // symlink on the way, whatever paths the client's need list names.
                let local = Arc::new(LocalSource::at(root));
                let mut source: Arc<dyn ManifestSource> = local.clone();
                if let Some(wrap) = &self.source_wrap {
                    source = wrap.apply(source);
                }
                ServedHalf::Source(SourceRoles { source, reader: local })
            }
        };
        let direction = match request.role {
            Role::Push => blit_api::Direction::Push,
            Role::Pull => blit_api::Direction::Pull,
        };
        let job =
            self.jobs.register(&module.name, &request.path, direction, addr).map_err(|e| status_from_error(&e))?;
        let (cancel, watch) = limits::watch_session(slot, job, self.limits.idle, self.cancel.clone());
        let stream = server::serve(request, incoming, half, &served, cancel, peer)?;
        Ok(Response::new(watch(stream)))
    }
}
