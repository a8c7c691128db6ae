//! The sending half of the payload: planned files become payload records.
//!
//! Runs on one blocking thread. Which records a file becomes is decided once
//! for every transport ([`blit_api::send_file`]: whole, resumed ranges,
//! empty files never opened, short reads aborted, unopenable files
//! reported); this module frames them as `pb::PayloadRecord`s. A shard goes
//! out as a tar stream (see [`crate::shard`]). Every data record is read
//! into a leased buffer of the sending [`Budget`], so a slow network or
//! destination pauses the reads once that many bytes are in flight.

use crate::budget::Budget;
use crate::config::CHUNK_SIZE;
use crate::convert::{header_to_pb, Mask};
use crate::records::{emit, failure, source_failed, stopped, RecordSender};
use crate::shard::ChunkSink;
use blit_api::{
    send_file, send_source, Error, ErrorKind, FileHeader, PayloadPlan, PayloadReader, PlanReceiver, RecordWriter,
    Result, Sent,
};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// What the sending half works with.
pub(crate) struct Sender<'a> {
    pub(crate) reader: &'a dyn PayloadReader,
    pub(crate) out: &'a RecordSender,
    pub(crate) mask: &'a Mask,
    pub(crate) budget: &'a Arc<Budget>,
}

/// Sends every plan until the plan stream ends, then `done`. Fails only when
/// the receiving side went away.
pub(crate) fn send_all(mut plans: PlanReceiver, s: &Sender<'_>) -> Result<()> {
    let mut buf = Vec::new();
    let mut records = Records { s, header: None };
    while let Some(plan) = plans.blocking_recv() {
        match plan {
            PayloadPlan::Shard(headers) => send_shard(headers, s, &mut buf)?,
            other => {
                for header in other.files() {
                    send_file(s.reader, header, &mut records)?;
                }
            }
        }
    }
    emit(s.out, Record::Done(pb::PayloadDone {}))
}

/// The payload records as `pb::PayloadRecord`s: `file_begin`, `file_range`,
/// `file_copy`, data records of at most [`CHUNK_SIZE`] bytes read at their offsets into
/// leased buffers of the sending [`Budget`] (a slow network or destination
/// pauses the reads once that many bytes are in flight), `file_end`,
/// `file_abort`, `source_failed`.
struct Records<'s, 'a> {
    s: &'s Sender<'a>,
    /// The file under way, for the message of its abort.
    header: Option<FileHeader>,
}

impl RecordWriter for Records<'_, '_> {
    fn file(&mut self, header: &FileHeader) -> Result<()> {
        self.header = Some(header.clone());
        emit(self.s.out, Record::FileBegin(header_to_pb(header)))
    }

    fn range(&mut self, offset: u64, reused: u64) -> Result<()> {
        emit(self.s.out, Record::FileRange(pb::FileRange { offset, reused }))
    }

    fn carries_copies(&self) -> bool {
        true
    }

    fn copy(&mut self, to: u64, from: u64, len: u64) -> Result<()> {
        emit(self.s.out, Record::FileCopy(pb::FileCopy { to, from, len }))
    }

    fn body(&mut self, file: &Arc<File>, offset: u64, len: u64) -> Result<Sent> {
        let mut at = offset;
        while at < offset + len {
            let want = (offset + len - at).min(CHUNK_SIZE as u64) as usize;
            let mut chunk = self.s.budget.lease_blocking(want, self.s.out.closed()).ok_or_else(stopped)?;
            if let Err(e) = file.read_exact_at(chunk.bytes_mut(), at) {
                return Ok(Sent::Short(e));
            }
            at += want as u64;
            emit(self.s.out, Record::Data(chunk.freeze()))?;
        }
        Ok(Sent::All)
    }

    fn end(&mut self) -> Result<()> {
        emit(self.s.out, Record::FileEnd(pb::FileEnd {}))
    }

    fn abort(&mut self, error: &Error) -> Result<()> {
        let header = self.header.take().unwrap_or_default();
        emit(self.s.out, Record::FileAbort(failure(&header, error, self.s.mask)))
    }

    fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()> {
        source_failed(self.s.out, header, error, self.s.mask)
    }
}

/// Sends several small files as one tar shard ([`blit_shard::write_shard`]).
/// Files that cannot be read become `source_failed`; files that grew too
/// large for a shard since the walk follow the shard as whole files.
fn send_shard(headers: Vec<FileHeader>, s: &Sender<'_>, buf: &mut Vec<u8>) -> Result<()> {
    let sink_error = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::BrokenPipe => stopped(),
        _ => Error::new(ErrorKind::Unexpected, format!("could not build a tar shard: {e}")),
    };
    emit(s.out, Record::ShardBegin(pb::ShardBegin { files: headers.len() as u32 }))?;
    let sink = ChunkSink::new(s.out, s.budget, s.mask);
    let (sink, alone) = blit_shard::write_shard(sink, headers, s.reader, buf).map_err(sink_error)?;
    sink.finish().map_err(sink_error)?;
    emit(s.out, Record::ShardEnd(pb::ShardEnd {}))?;
    let mut records = Records { s, header: None };
    for source in alone {
        send_source(source, &mut records)?;
    }
    Ok(())
}
