//! `blit ls`: the entries of one directory of a module, streamed in batches.

use blit_api::{Error, ErrorKind, Result};
use blit_proto::pb;
use blit_transport_grpc::{server::list_reply, status_from_error};
use blit_transports::local::Anchor;
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::Status;

/// Entries per `ListReply`.
const BATCH: usize = 1000;

/// The response stream of `List`.
pub(crate) type ListStream = Pin<Box<dyn Stream<Item = Result<pb::ListReply, Status>> + Send + 'static>>;

/// Lists `target` (a directory's entries, or the one entry it names, under
/// the empty path so a client can tell "this is the entry itself" from "a
/// directory that holds one entry") on a blocking thread, through the
/// descriptor-relative layer.
pub(crate) fn stream(target: Anchor) -> ListStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = list(&target, &tx) {
            let _ = tx.blocking_send(Err(status_from_error(&e)));
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

fn list(target: &Anchor, tx: &mpsc::Sender<Result<pb::ListReply, Status>>) -> Result<()> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut open = true;
    blit_transports::local::list(target, |h| {
        batch.push(h);
        if batch.len() == BATCH {
            open = tx.blocking_send(Ok(list_reply(&batch))).is_ok();
            batch.clear();
        }
        open
    })
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::new(ErrorKind::NotFound, "no such file or directory")
            .with_path(target.shown().display().to_string())
            .with_hint("check the path; `blit ls` on the directory above shows what is there"),
        _ => Error::io("list", target.shown().display(), e),
    })?;
    if open && !batch.is_empty() {
        let _ = tx.blocking_send(Ok(list_reply(&batch)));
    }
    Ok(())
}
