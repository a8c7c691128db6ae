//! The receiving half of the payload: records become landed files.
//!
//! Runs on one blocking thread and lands through [`Landing`], so the
//! per-file events are exactly those of every other transport. A file's
//! data is written as each record arrives; a shard's tar stream is read
//! through `blit_shard::land_shard` over the incoming data records, so it
//! is never held whole either. Every path is validated
//! ([`blit_api::RelPath::from_bytes`]) and a shard may hold regular files
//! only; the destination's writer refuses symlinks on the way.
//!
//! A per-file failure is reported and the file's remaining bytes are
//! skipped. A volume error (no space, read-only) stops the half with that
//! error. A broken protocol stops it with [`ErrorKind::Protocol`].

use crate::convert::{failure_error, failure_from_pb, header_from_pb};
use crate::error::protocol;
use blit_api::{Error, ErrorKind, FileHeader, FileKind, Incoming, Landing, Result};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use blit_shard::ShardSource;
use prost::bytes::Bytes;
use std::os::unix::fs::FileExt;
use tokio::sync::mpsc;

/// Where the receiving half takes its records from.
pub(crate) type RecordReceiver = mpsc::Receiver<pb::PayloadRecord>;

/// The file being received.
enum Current {
    None,
    /// `file_begin` arrived; the landing begins with the next record: a
    /// `file_range` makes it a resumed file ([`Landing::resume`]).
    Pending(FileHeader),
    /// Landing; the next data lands at `at`. Only a resumed file may move
    /// `at` (`file_range`).
    Open {
        incoming: Incoming,
        at: u64,
        resumed: bool,
    },
    /// Its landing failed (already reported): drop its bytes.
    Skip,
}

/// Begins the landing of a pending file: resumed when `record` is its first
/// `file_range`, whole otherwise.
fn begin_pending(header: FileHeader, record: &Record, landing: &Landing) -> Result<Current> {
    let begun = match record {
        Record::FileRange(r) => landing.resume(&header, r.reused).map(|incoming| (incoming, true)),
        _ => landing.begin(&header).map(|incoming| (incoming, false)),
    };
    match begun {
        Ok((incoming, resumed)) => Ok(Current::Open { incoming, at: 0, resumed }),
        Err(e) => {
            keep_going(Err(e))?;
            Ok(Current::Skip)
        }
    }
}

fn broke_off(peer: &str) -> Error {
    Error::new(ErrorKind::Cancelled, "the payload stream ended before the last file").with_path(peer.to_owned())
}

/// Stops the half on a volume error; anything else was reported per file.
fn keep_going(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.kind().is_volume_error() => Err(e),
        _ => Ok(()),
    }
}

/// Lands records until `done`.
pub(crate) fn receive_all(mut rx: RecordReceiver, landing: &Landing, peer: &str) -> Result<()> {
    let mut current = Current::None;
    let busy = |c: &Current| !matches!(c, Current::None);
    loop {
        let record = rx.blocking_recv().ok_or_else(|| broke_off(peer))?;
        let record = record.record.ok_or_else(|| protocol(peer, "an empty payload record"))?;
        if matches!(current, Current::Pending(_)) {
            if let Current::Pending(header) = std::mem::replace(&mut current, Current::None) {
                current = begin_pending(header, &record, landing)?;
            }
        }
        match record {
            Record::FileBegin(h) => {
                if busy(&current) {
                    return Err(protocol(peer, "a file began before the previous one ended"));
                }
                let header = header_from_pb(h).map_err(|e| protocol(peer, e.to_string()))?;
                if header.kind != FileKind::File {
                    return Err(protocol(peer, format!("a payload for a non-file entry {}", header.path)));
                }
                current = Current::Pending(header);
            }
            Record::FileRange(r) => match &mut current {
                Current::Open { incoming, at, resumed } => {
                    if !*resumed || r.reused != incoming.reused() || r.offset > incoming.size() {
                        return Err(protocol(peer, format!("a file range that does not fit {}", incoming.path())));
                    }
                    *at = r.offset;
                }
                Current::Skip => {}
                Current::None | Current::Pending(_) => return Err(protocol(peer, "a file range outside a file")),
            },
            Record::Data(data) => match &mut current {
                Current::Open { incoming, at, .. } => {
                    let len = data.len() as u64;
                    if *at + len > incoming.size() || incoming.written() + incoming.reused() + len > incoming.size() {
                        return Err(protocol(peer, format!("more bytes than announced for {}", incoming.path())));
                    }
                    if let Err(e) = incoming.file().write_all_at(&data, *at) {
                        let e = Error::io("write", incoming.path().display(), e);
                        if let Current::Open { incoming, .. } = std::mem::replace(&mut current, Current::Skip) {
                            incoming.fail(&e);
                        }
                        keep_going(Err(e))?;
                    } else {
                        *at += len;
                        incoming.record(len);
                    }
                }
                Current::Skip => {}
                Current::None | Current::Pending(_) => return Err(protocol(peer, "file data outside a file")),
            },
            Record::FileEnd(_) => match std::mem::replace(&mut current, Current::None) {
                Current::Open { incoming, .. } => keep_going(incoming.commit())?,
                Current::Skip => {}
                Current::None | Current::Pending(_) => return Err(protocol(peer, "a file ended that never began")),
            },
            Record::FileAbort(f) => {
                let f = failure_from_pb(f).map_err(|e| protocol(peer, e.to_string()))?;
                match std::mem::replace(&mut current, Current::None) {
                    Current::Open { incoming, .. } => incoming.fail(&failure_error(&f)),
                    Current::Skip => {}
                    Current::None | Current::Pending(_) => {
                        return Err(protocol(peer, "a file was aborted that never began"))
                    }
                }
            }
            Record::SourceFailed(sf) => {
                if busy(&current) {
                    return Err(protocol(peer, "a source failure inside a file"));
                }
                source_failed(sf, landing, peer)?;
            }
            Record::ShardBegin(_) => {
                if busy(&current) {
                    return Err(protocol(peer, "a shard began inside a file"));
                }
                receive_shard(&mut rx, landing, peer)?;
            }
            Record::ShardEnd(_) => return Err(protocol(peer, "a shard ended that never began")),
            Record::Done(_) => {
                if busy(&current) {
                    return Err(protocol(peer, "the payload ended inside a file"));
                }
                return Ok(());
            }
        }
    }
}

fn source_failed(sf: pb::SourceFailed, landing: &Landing, peer: &str) -> Result<()> {
    let bad = |e: Error| protocol(peer, e.to_string());
    let header = header_from_pb(sf.header.unwrap_or_default()).map_err(bad)?;
    let failure = failure_from_pb(sf.failure.unwrap_or_default()).map_err(bad)?;
    landing.source_failed(&header, &failure_error(&failure));
    Ok(())
}

/// The data records of one shard, up to `shard_end`. Source failures that
/// arrive meanwhile are reported on the spot.
struct ShardRecords<'a> {
    rx: &'a mut RecordReceiver,
    landing: &'a Landing,
    peer: &'a str,
    chunk: Bytes,
}

impl ShardSource for ShardRecords<'_> {
    fn fill(&mut self) -> Result<bool> {
        loop {
            let record = self.rx.blocking_recv().ok_or_else(|| broke_off(self.peer))?;
            match record.record {
                Some(Record::Data(data)) => {
                    self.chunk = data;
                    return Ok(true);
                }
                Some(Record::ShardEnd(_)) => return Ok(false),
                Some(Record::SourceFailed(sf)) => source_failed(sf, self.landing, self.peer)?,
                _ => return Err(protocol(self.peer, "an unexpected record inside a shard")),
            }
        }
    }

    fn chunk(&self) -> &[u8] {
        &self.chunk
    }
}

/// Lands the entries of one shard (the `blit-shard` format).
fn receive_shard(rx: &mut RecordReceiver, landing: &Landing, peer: &str) -> Result<()> {
    let records = ShardRecords { rx, landing, peer, chunk: Bytes::new() };
    blit_shard::land_shard(records, landing, &|what| protocol(peer, what))
}
