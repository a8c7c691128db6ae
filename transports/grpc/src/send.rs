//! The sending half of the payload: planned files become payload records.
//!
//! Runs on one blocking thread. A whole file goes out as `file_begin`, data
//! records of at most [`CHUNK_SIZE`] bytes read straight from the file, and
//! `file_end`; a read error or a file that shrank ends it with `file_abort`
//! instead. A file the walk found empty is `file_begin`, `file_end`, never
//! opened. A shard goes out as a tar stream (see [`crate::shard`]). A file
//! that cannot be opened becomes `source_failed`. Every data record is read
//! into a leased buffer of the sending [`Budget`], so a slow network or
//! destination pauses the reads once that many bytes are in flight.

use crate::budget::Budget;
use crate::config::CHUNK_SIZE;
use crate::convert::{header_to_pb, Mask};
use crate::records::{emit, failure, source_failed, stopped, RecordSender};
use crate::shard::ChunkSink;
use blit_api::{
    Error, ErrorKind, FileHeader, PayloadPlan, PayloadReader, PayloadReaderExt, PlanReceiver, Result, SourceFile,
};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
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
    while let Some(plan) = plans.blocking_recv() {
        match plan {
            PayloadPlan::File(header) => send_file(header, s)?,
            PayloadPlan::Shard(headers) => send_shard(headers, s, &mut buf)?,
            other => {
                for header in other.files() {
                    send_file(header.clone(), s)?;
                }
            }
        }
    }
    emit(s.out, Record::Done(pb::PayloadDone {}))
}

/// Reads from `offset` until `buf` is full or the file ends; returns the
/// bytes read.
fn read_full(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn shrank(header: &FileHeader) -> Error {
    Error::new(ErrorKind::Io, "the file shrank while it was being read")
        .with_path(header.path.display())
        .with_hint("the source changed during the transfer; rerun to pick up changes")
}

/// Sends one file: whole, or, when the destination resumes it, the ranges
/// [`SourceFile::resume_plan`] chose, each after a `file_range` record. A
/// file the walk found empty is never opened.
fn send_file(header: FileHeader, s: &Sender<'_>) -> Result<()> {
    match s.reader.open_to_send(&header) {
        Ok(Some(source)) => send_source(source, s),
        Ok(None) => {
            emit(s.out, Record::FileBegin(header_to_pb(&header)))?;
            emit(s.out, Record::FileEnd(pb::FileEnd {}))
        }
        Err(e) => source_failed(s.out, &header, &e, s.mask),
    }
}

/// Sends one open file (see [`send_file`]).
fn send_source(source: SourceFile, s: &Sender<'_>) -> Result<()> {
    let plan = match source.resume_plan() {
        Ok(plan) => plan,
        Err(e) => return source_failed(s.out, &source.header, &e, s.mask),
    };
    let SourceFile { file, header } = source;
    // The block map served its purpose; the receiver needs none of it.
    emit(s.out, Record::FileBegin(pb::Header { resume: None, ..header_to_pb(&header) }))?;
    let Some(plan) = plan else {
        if !send_bytes(&file, 0..header.size, &header, s)? {
            return Ok(());
        }
        return emit(s.out, Record::FileEnd(pb::FileEnd {}));
    };
    let reused = plan.reused;
    if plan.ranges.is_empty() {
        emit(s.out, Record::FileRange(pb::FileRange { offset: header.size, reused }))?;
    }
    for range in plan.ranges {
        emit(s.out, Record::FileRange(pb::FileRange { offset: range.start, reused }))?;
        if !send_bytes(&file, range, &header, s)? {
            return Ok(());
        }
    }
    emit(s.out, Record::FileEnd(pb::FileEnd {}))
}

/// Sends the bytes `range` of `file` as data records read at their offsets
/// into leased buffers; false when the read fell short and the file was
/// aborted instead.
fn send_bytes(file: &std::fs::File, range: std::ops::Range<u64>, header: &FileHeader, s: &Sender<'_>) -> Result<bool> {
    let mut at = range.start;
    while at < range.end {
        let want = (range.end - at).min(CHUNK_SIZE as u64) as usize;
        let mut chunk = s.budget.lease_blocking(want, s.out.closed()).ok_or_else(stopped)?;
        let abort = match read_full(file, chunk.bytes_mut(), at) {
            Ok(n) if n == want => None,
            Ok(_) => Some(shrank(header)),
            Err(e) => Some(Error::io("read", header.path.display(), e)),
        };
        if let Some(e) = abort {
            emit(s.out, Record::FileAbort(failure(header, &e, s.mask)))?;
            return Ok(false);
        }
        at += want as u64;
        emit(s.out, Record::Data(chunk.freeze()))?;
    }
    Ok(true)
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
    for source in alone {
        send_source(source, s)?;
    }
    Ok(())
}
