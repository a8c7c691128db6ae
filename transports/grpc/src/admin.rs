//! The client side of `Space` and `Remove` (`blit df`, `blit rm`), `Jobs`
//! and `Cancel` (`blit jobs`): one request each, authenticated and timed
//! like `List`.

use crate::auth::attach;
use crate::client::{connect, refused};
use crate::error::error_from_status;
use crate::GrpcConfig;
use blit_api::{ErrorKind, Expect, FileKind, Job, Result, Space};
use blit_proto::pb::blit_client::BlitClient;
use blit_proto::{pb, PROTOCOL_VERSION};
use blit_session::admin::{expect_to_pb, removed_from_pb, removed_if_from_pb, space_from_pb};
use blit_session::client::within;
use blit_session::jobs::{cancelled_from_pb, jobs_from_pb};
use blit_session::{address, RemoteSpec};
use prost::bytes::Bytes;
use tonic::transport::Channel;
use tonic::Request;

/// The size and free space of the file system that holds `remote` (the
/// module's root, or the path inside it).
pub async fn space(remote: &RemoteSpec, config: &GrpcConfig) -> Result<Space> {
    let peer = remote.address();
    let (module, path) = module_and_path(remote);
    let message = pb::SpaceRequest { protocol_version: PROTOCOL_VERSION, module, path };
    let (mut client, request) = ready(&remote.host, remote.port, config, message).await?;
    let reply = match within(config.handshake_timeout, &peer, client.space(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(answer(&status, &peer, config, "`blit df`").await),
    };
    space_from_pb(reply, &peer)
}

/// Removes the entry `remote` names, with everything below it; returns
/// what it was. The daemon refuses the module's root and read-only
/// modules. Removing a large tree takes as long as it takes: the answer
/// is awaited without the handshake timeout.
pub async fn remove(remote: &RemoteSpec, config: &GrpcConfig) -> Result<FileKind> {
    let peer = remote.address();
    let (module, path) = module_and_path(remote);
    let message = pb::RemoveRequest { protocol_version: PROTOCOL_VERSION, module, path, expect: None };
    let (mut client, request) = ready(&remote.host, remote.port, config, message).await?;
    let reply = match client.remove(request).await {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(answer(&status, &peer, config, "`blit rm`").await),
    };
    removed_from_pb(reply, &peer)
}

/// Removes the entry `remote` names only if it is still what `expect` says
/// (`blit move`); false when the daemon kept it because it differs.
pub async fn remove_if(remote: &RemoteSpec, expect: Expect, config: &GrpcConfig) -> Result<bool> {
    let peer = remote.address();
    let (module, path) = module_and_path(remote);
    let expect = Some(expect_to_pb(expect));
    let message = pb::RemoveRequest { protocol_version: PROTOCOL_VERSION, module, path, expect };
    let (mut client, request) = ready(&remote.host, remote.port, config, message).await?;
    let reply = match within(config.handshake_timeout, &peer, client.remove(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(answer(&status, &peer, config, "`blit move`").await),
    };
    removed_if_from_pb(reply, &peer)
}

/// The transfers running on the daemon at `host`:`port` that `config`'s
/// secret may see (those of modules without a secret, and of the modules
/// whose secret it is); `each` sees every one as it arrives. Each batch of
/// the answer must come within the handshake timeout.
pub async fn jobs(host: &str, port: u16, config: &GrpcConfig, each: &mut (dyn FnMut(Job) + Send)) -> Result<()> {
    let peer = address(host, port);
    let message = pb::JobsRequest { protocol_version: PROTOCOL_VERSION };
    let (mut client, request) = ready(host, port, config, message).await?;
    let mut stream = match within(config.handshake_timeout, &peer, client.jobs(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(answer(&status, &peer, config, "`blit jobs`").await),
    };
    while let Some(reply) =
        within(config.handshake_timeout, &peer, stream.message()).await?.map_err(|s| error_from_status(&s, &peer))?
    {
        jobs_from_pb(reply, &peer)?.into_iter().for_each(&mut *each);
    }
    Ok(())
}

/// Cancels the running transfer `id` on the daemon at `host`:`port` (which
/// needs the secret of its module); returns the job that was told to stop.
pub async fn cancel(host: &str, port: u16, id: &str, config: &GrpcConfig) -> Result<Job> {
    let peer = address(host, port);
    let message = pb::CancelRequest { protocol_version: PROTOCOL_VERSION, id: id.to_owned() };
    let (mut client, request) = ready(host, port, config, message).await?;
    let reply = match within(config.handshake_timeout, &peer, client.cancel(request)).await? {
        Ok(reply) => reply.into_inner(),
        Err(status) => return Err(answer(&status, &peer, config, "`blit jobs`").await),
    };
    cancelled_from_pb(reply, &peer)
}

/// The module and path fields of a request about `remote`.
fn module_and_path(remote: &RemoteSpec) -> (String, Bytes) {
    (remote.module.clone(), Bytes::copy_from_slice(remote.path.as_bytes()))
}

/// A client connected to the daemon at `host`:`port` and `message` as a
/// request carrying the secret.
pub(crate) async fn ready<T>(
    host: &str,
    port: u16,
    config: &GrpcConfig,
    message: T,
) -> Result<(BlitClient<Channel>, Request<T>)> {
    let client = connect(host, port, config).await?;
    let mut request = Request::new(message);
    attach(&mut request, config.secret.as_ref());
    Ok((client, request))
}

/// The error for a refused `request` (how the user made it: "`blit df`"); a daemon from before these requests
/// answers `UNIMPLEMENTED` with no kind of its own, which says so.
pub(crate) async fn answer(status: &tonic::Status, peer: &str, config: &GrpcConfig, request: &str) -> blit_api::Error {
    let e = refused(status, peer, config).await;
    if status.code() == tonic::Code::Unimplemented && status.metadata().get("blit-error-kind").is_none() {
        return blit_api::Error::new(ErrorKind::Unsupported, format!("this blitd does not answer {request}"))
            .with_path(peer.to_owned())
            .with_hint("upgrade blitd to this blit's release");
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_older_blitd_that_lacks_the_request_says_to_upgrade() {
        let config = GrpcConfig::default();
        let e = answer(&tonic::Status::unimplemented("unknown method"), "h:1", &config, "`blit df`").await;
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(e.to_string(), "h:1: this blitd does not answer `blit df` (upgrade blitd to this blit's release)");
        // blitd's own refusals keep their kind and text.
        let refusal = blit_api::Error::new(ErrorKind::Unsupported, "not here");
        let e = answer(&crate::status_from_error(&refusal), "h:1", &config, "`blit rm`").await;
        assert_eq!(e.to_string(), "h:1: not here");
    }
}
