//! `blit ls`: the entries of one directory of a module, streamed in batches.

use blit_api::{Error, FileHeader, FileKind, RelPath, Result};
use blit_proto::pb;
use blit_transport_grpc::{server::list_reply, status_from_error};
use std::fs::Metadata;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::Status;

/// Entries per `ListReply`.
const BATCH: usize = 1000;

/// The response stream of `List`.
pub(crate) type ListStream = Pin<Box<dyn Stream<Item = Result<pb::ListReply, Status>> + Send + 'static>>;

/// The header of the entry at `path` named `name`; `None` for kinds blit
/// does not transfer (sockets, devices, FIFOs).
fn header(name: &[u8], path: &Path, meta: &Metadata) -> Option<FileHeader> {
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        FileKind::Dir
    } else if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_file() {
        FileKind::File
    } else {
        return None;
    };
    let link_target = match kind {
        FileKind::Symlink => Some(std::fs::read_link(path).ok()?.into_os_string().into_vec()),
        _ => None,
    };
    Some(FileHeader {
        path: RelPath::from_bytes(name.to_vec()).ok()?,
        kind,
        size: if kind == FileKind::Dir { 0 } else { meta.len() },
        mtime_ns: meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec()),
        mode: meta.mode() & 0o7777,
        link_target,
        checksum: None,
        ..Default::default()
    })
}

/// Lists `target` (a directory's entries, or the one entry it names) on a
/// blocking thread; `shown` names it in errors.
pub(crate) fn stream(target: PathBuf, shown: String) -> ListStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = list(&target, &shown, &tx) {
            let _ = tx.blocking_send(Err(status_from_error(&e)));
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

fn list(target: &Path, shown: &str, tx: &mpsc::Sender<Result<pb::ListReply, Status>>) -> Result<()> {
    let meta = std::fs::symlink_metadata(target).map_err(|e| Error::io("list", shown, e))?;
    if !meta.is_dir() {
        // The one entry a non-directory path names comes under the root's
        // (empty) path, so a client can tell "this is the entry itself" from
        // "a directory that holds one entry".
        let entries: Vec<_> = header(b"", target, &meta).into_iter().collect();
        let _ = tx.blocking_send(Ok(list_reply(&entries)));
        return Ok(());
    }
    let mut batch = Vec::with_capacity(BATCH);
    for entry in std::fs::read_dir(target).map_err(|e| Error::io("list", shown, e))? {
        let entry = entry.map_err(|e| Error::io("list", shown, e))?;
        let Ok(meta) = entry.metadata() else { continue };
        if let Some(h) = header(entry.file_name().as_bytes(), &entry.path(), &meta) {
            batch.push(h);
        }
        if batch.len() == BATCH {
            if tx.blocking_send(Ok(list_reply(&batch))).is_err() {
                return Ok(());
            }
            batch.clear();
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(list_reply(&batch)));
    }
    Ok(())
}
