//! `Space` and `Remove` (`blit df`, `blit rm`): what they do once the
//! service checked the version, the secret and the path.
//!
//! Both work on the [`Anchor`] the module resolves the client's path to,
//! beneath the module's held descriptor with no symlink on the way, on a
//! blocking thread. A removal is refused in a read-only module and for the
//! module's root before anything is resolved, takes a session slot while it
//! runs (a large tree takes a while, and the slots bound what clients may
//! have running at once), and deletes through the same descriptor-relative
//! code mirror deletes use (`Anchor::remove`): a symlink is removed as the
//! link it is, never what it points to.

use crate::limits::Slot;
use crate::module::Module;
use blit_api::{Error, ErrorKind, Expect, RelPath, Result};
use blit_proto::pb;
use blit_transport_grpc::server::{remove_reply, removed_if_reply, space_reply};
use blit_transport_grpc::status_from_error;
use blit_transports::local::Anchor;
use tonic::Status;

/// The file system space at `path` in `module`.
pub(crate) async fn space(module: &Module, path: &RelPath) -> Result<pb::SpaceReply, Status> {
    let target = module.resolve(path, false).map_err(|e| status_from_error(&e))?;
    let space = blocking(target, "df", |t: &Anchor| t.space(), None).await?;
    Ok(space_reply(&space))
}

/// Removes `path` in `module` (already checked: not the root, not a
/// read-only module), holding `slot` until it is done.
pub(crate) async fn remove(module: &Module, path: &RelPath, peer: &str, slot: Slot) -> Result<pb::RemoveReply, Status> {
    let target = module.resolve(path, false).map_err(|e| status_from_error(&e))?;
    let shown = target.shown().display().to_string();
    let kind = blocking(target, "remove", |t: &Anchor| t.remove(), Some(slot)).await;
    match &kind {
        Ok(kind) => tracing::info!("{peer}: removed {shown} ({kind:?})"),
        Err(refused) => tracing::warn!("{peer}: remove {shown}: {}", refused.message()),
    }
    Ok(remove_reply(kind?))
}

/// Removes `path` in `module` only if it is still what `expect` says
/// (`blit move`; already checked: not the root, not a read-only module).
pub(crate) async fn remove_if(
    module: &Module,
    path: &RelPath,
    expect: Expect,
    slot: Slot,
) -> Result<pb::RemoveReply, Status> {
    let target = module.resolve(path, false).map_err(|e| status_from_error(&e))?;
    let removed = blocking(target, "remove", move |t: &Anchor| t.remove_if(expect), Some(slot)).await?;
    Ok(removed_if_reply(removed))
}

/// Runs `op` on `target` on a blocking thread, holding `slot` there until
/// it is done (even when the client went away meanwhile); an error names
/// the path as the client sees it (`/module/path`).
async fn blocking<T: Send + 'static>(
    target: Anchor,
    op: &'static str,
    call: impl FnOnce(&Anchor) -> std::io::Result<T> + Send + 'static,
    slot: Option<Slot>,
) -> Result<T, Status> {
    let answer = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let shown = target.shown().display().to_string();
        call(&target).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::new(ErrorKind::NotFound, "no such file or directory")
                .with_path(shown)
                .with_hint("check the path; `blit ls` shows what the module holds"),
            _ => Error::io(op, shown, e),
        })
    })
    .await
    .map_err(|e| Status::internal(format!("{op} stopped: {e}")))?;
    answer.map_err(|e| status_from_error(&e))
}
