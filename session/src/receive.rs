//! The receiving half of the payload: records become landed files.
//!
//! Runs on one blocking thread and decodes the records into the shared
//! [`Lander`], which lands through [`Landing`], so the per-file events and
//! the checks are exactly those of every other transport. A file's data is
//! written as each record arrives; a shard's tar stream is read
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
use blit_api::{Error, ErrorKind, FileHeader, Lander, Landing, Result};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use blit_shard::ShardSource;
use prost::bytes::Bytes;
use tokio::sync::mpsc;

/// Where the receiving half takes its records from.
pub(crate) type RecordReceiver = mpsc::Receiver<pb::PayloadRecord>;

fn broke_off(peer: &str) -> Error {
    Error::new(ErrorKind::Cancelled, "the payload stream ended before the last file").with_path(peer.to_owned())
}

/// Lands records until `done`.
pub(crate) fn receive_all(mut rx: RecordReceiver, landing: &Landing, peer: &str) -> Result<()> {
    let mut lander = Lander::new(landing);
    let with_peer = |e: Error| match e.kind() {
        ErrorKind::Protocol => protocol(peer, e.message()),
        _ => e,
    };
    let bad = |e: Error| protocol(peer, e.to_string());
    loop {
        // A stream that breaks off fails the file under way, as in every
        // transport, then stops the half.
        let record = rx.blocking_recv().ok_or_else(|| lander.stop(broke_off(peer)))?;
        let record = record.record.ok_or_else(|| protocol(peer, "an empty payload record"))?;
        match record {
            Record::FileBegin(h) => lander.file(header_from_pb(h).map_err(bad)?),
            Record::FileRange(r) => lander.range(r.offset, r.reused),
            Record::FileCopy(c) => lander.copy(c.to, c.from, c.len),
            Record::Data(data) => lander.data(&data),
            Record::FileEnd(_) => lander.end(),
            Record::FileAbort(f) => lander.abort(&failure_error(&failure_from_pb(f).map_err(bad)?)),
            Record::SourceFailed(sf) => {
                let (header, error) = source_failure(sf, peer)?;
                lander.failed(&header, &error)
            }
            Record::ShardBegin(_) => match lander.shard() {
                Ok(()) => receive_shard(&mut rx, landing, peer),
                Err(e) => Err(e),
            },
            Record::ShardEnd(_) => return Err(protocol(peer, "a shard ended that never began")),
            Record::Done(_) => return lander.done().map_err(with_peer),
        }
        .map_err(with_peer)?;
    }
}

/// A `source_failed` record's header and error, validated.
fn source_failure(sf: pb::SourceFailed, peer: &str) -> Result<(FileHeader, Error)> {
    let bad = |e: Error| protocol(peer, e.to_string());
    let header = header_from_pb(sf.header.unwrap_or_default()).map_err(bad)?;
    let failure = failure_from_pb(sf.failure.unwrap_or_default()).map_err(bad)?;
    Ok((header, failure_error(&failure)))
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
                Some(Record::SourceFailed(sf)) => {
                    let (header, error) = source_failure(sf, self.peer)?;
                    self.landing.source_failed(&header, &error);
                }
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
