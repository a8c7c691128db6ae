//! The gRPC route: blit's own protocol to blitd over TCP or TLS, or to a
//! `blit server` through ssh's standard input and output.

use crate::remote::{Grant, Module, Reach, RelayTarget, Route, SecretSource, Target};
use blit_api::{Events, Expect, FileHeader, FileKind, Job, Result, Space, TransferOptions, TransferSummary};
use blit_engine::{DestinationRoles, SourceRoles};
use blit_transport_grpc::{ClientTls, GrpcConfig, Pipe, RelayTo, RemoteSpec, Secret, TransportMode, MAX_RELAY_CA};
use std::io::Read;
use std::path::Path;

/// Sessions and listings over gRPC, with one configuration.
pub(crate) struct GrpcRoute(GrpcConfig);

impl GrpcRoute {
    /// Reads the secret and the TLS roots `reach` names.
    pub(crate) fn new(reach: &Reach) -> Result<Self> {
        let secret = match &reach.secret {
            Some(SecretSource::File { path, flag }) => Some(Secret::from_file(path, flag)?),
            Some(SecretSource::Env { name, value }) => Some(Secret::new(value, name)?),
            None => None,
        };
        let tls = match &reach.tls {
            Some(Some(ca)) => Some(ClientTls::from_ca_file(ca)?),
            Some(None) => Some(ClientTls::native_roots()?),
            None => None,
        };
        let compress = if reach.compress.is_empty() { "none" } else { &reach.compress };
        let config = GrpcConfig::default()
            .transport(reach.transport.parse::<TransportMode>()?)
            .streams(reach.streams)
            .compress(compress)
            .secret(secret)
            .tls(tls)
            .pipe(reach.via.as_ref().map(|via| Pipe::new(via.argv.clone(), via.label.clone())));
        Ok(GrpcRoute(config))
    }
}

fn spec(target: &Target) -> RemoteSpec {
    RemoteSpec::new(target.host.clone(), target.port, target.module.clone(), target.path.clone())
}

#[async_trait::async_trait]
impl Route for GrpcRoute {
    async fn push(
        &self,
        target: &Target,
        source: SourceRoles,
        options: &TransferOptions,
        events: Events,
    ) -> Result<TransferSummary> {
        blit_transport_grpc::push(&spec(target), source, options, &self.0, events).await
    }

    async fn pull(
        &self,
        target: &Target,
        destination: DestinationRoles,
        options: &TransferOptions,
        events: Events,
    ) -> Result<TransferSummary> {
        blit_transport_grpc::pull(&spec(target), destination, options, &self.0, events).await
    }

    async fn list(&self, target: &Target, each: &mut (dyn FnMut(FileHeader) + Send)) -> Result<()> {
        blit_transport_grpc::list(&spec(target), &self.0, each).await
    }

    async fn modules(&self, host: &str, port: u16) -> Result<Vec<Module>> {
        let modules = blit_transport_grpc::modules(host, port, &self.0).await?;
        Ok(modules.into_iter().map(|m| Module { name: m.name, comment: m.comment, read_only: m.read_only }).collect())
    }

    async fn space(&self, target: &Target) -> Result<Space> {
        blit_transport_grpc::space(&spec(target), &self.0).await
    }

    async fn remove(&self, target: &Target) -> Result<FileKind> {
        blit_transport_grpc::remove(&spec(target), &self.0).await
    }

    async fn remove_if(&self, target: &Target, expect: Expect) -> Result<bool> {
        blit_transport_grpc::remove_if(&spec(target), expect, &self.0).await
    }

    async fn jobs(&self, host: &str, port: u16, each: &mut (dyn FnMut(Job) + Send)) -> Result<()> {
        blit_transport_grpc::jobs(host, port, &self.0, each).await
    }

    async fn cancel(&self, host: &str, port: u16, id: &str) -> Result<Job> {
        blit_transport_grpc::cancel(host, port, id, &self.0).await
    }

    async fn grant(&self, target: &Target, options: &TransferOptions) -> Result<Grant> {
        Ok(Grant { grpc: blit_transport_grpc::grant(&spec(target), options, &self.0).await? })
    }

    async fn relay(
        &self,
        from: &Target,
        to: &RelayTarget,
        options: &TransferOptions,
        events: Events,
    ) -> Result<TransferSummary> {
        let tls = match &to.tls {
            None => None,
            Some(None) => Some(Vec::new()),
            Some(Some(ca)) => Some(read_ca(ca)?),
        };
        let to = RelayTo { remote: spec(&to.target), grant: to.grant.grpc.clone(), tls };
        blit_transport_grpc::relay(&spec(from), &to, options, &self.0, events).await
    }
}

/// The CA certificates in `path`, for the relaying daemon; reading stops
/// one byte past [`MAX_RELAY_CA`], which the relay then refuses.
fn read_ca(path: &Path) -> Result<Vec<u8>> {
    let read = |e| blit_api::Error::io("read --tls-ca", path.display(), e);
    let mut pem = Vec::new();
    std::fs::File::open(path).map_err(read)?.take(MAX_RELAY_CA as u64 + 1).read_to_end(&mut pem).map_err(read)?;
    Ok(pem)
}
