//! The sending half of the payload: planned files become payload records.
//!
//! Runs on one blocking thread. A whole file goes out as `file_begin`, data
//! records of at most [`CHUNK_SIZE`] bytes read straight from the file, and
//! `file_end`; a read error or a file that shrank ends it with `file_abort`
//! instead. A shard goes out as a tar stream (see [`crate::shard`]). A file
//! that cannot be opened becomes `source_failed`. Every record goes into a
//! bounded queue, so a slow network or destination pauses the reads.

use crate::config::CHUNK_SIZE;
use crate::convert::{failure_to_pb, header_to_pb, Mask};
use crate::shard::{ChunkSink, SHARD_ENTRY_MAX};
use blit_api::{
    Error, ErrorKind, FileFailure, FileHeader, PayloadPlan, PayloadReader, PlanReceiver, Result, SourceFile,
};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use prost::bytes::Bytes;
use std::io::Read;
use tokio::sync::mpsc;

/// Where the sending half puts its records.
pub(crate) type RecordSender = mpsc::Sender<pb::PayloadRecord>;

fn stopped() -> Error {
    Error::new(ErrorKind::Cancelled, "the payload receiver stopped")
}

fn emit(out: &RecordSender, record: Record) -> Result<()> {
    out.blocking_send(pb::PayloadRecord { record: Some(record) }).map_err(|_| stopped())
}

fn failure(header: &FileHeader, error: &Error, mask: &Mask) -> pb::Failure {
    failure_to_pb(&FileFailure::new(&header.path, error), mask)
}

fn source_failed(out: &RecordSender, header: &FileHeader, error: &Error, mask: &Mask) -> Result<()> {
    let wire = pb::Header { resume: None, ..header_to_pb(header) };
    let record = pb::SourceFailed { header: Some(wire), failure: Some(failure(header, error, mask)) };
    emit(out, Record::SourceFailed(record))
}

/// Sends every plan until the plan stream ends, then `done`. Fails only when
/// the receiving side went away.
pub(crate) fn send_all(
    mut plans: PlanReceiver,
    reader: &dyn PayloadReader,
    out: &RecordSender,
    mask: &Mask,
) -> Result<()> {
    let mut buf = Vec::new();
    while let Some(plan) = plans.blocking_recv() {
        match plan {
            PayloadPlan::File(header) => send_file(header, reader, out, mask)?,
            PayloadPlan::Shard(headers) => send_shard(headers, reader, out, mask, &mut buf)?,
            other => {
                for header in other.files() {
                    send_file(header.clone(), reader, out, mask)?;
                }
            }
        }
    }
    emit(out, Record::Done(pb::PayloadDone {}))
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
/// [`SourceFile::resume_plan`] chose, each after a `file_range` record.
fn send_file(header: FileHeader, reader: &dyn PayloadReader, out: &RecordSender, mask: &Mask) -> Result<()> {
    let source = match reader.open(&header) {
        Ok(source) => source,
        Err(e) => return source_failed(out, &header, &e, mask),
    };
    let plan = match source.resume_plan() {
        Ok(plan) => plan,
        Err(e) => return source_failed(out, &header, &e, mask),
    };
    let SourceFile { file, header } = source;
    // The block map served its purpose; the receiver needs none of it.
    emit(out, Record::FileBegin(pb::Header { resume: None, ..header_to_pb(&header) }))?;
    let Some(plan) = plan else {
        if !send_bytes(&file, 0..header.size, &header, out, mask)? {
            return Ok(());
        }
        return emit(out, Record::FileEnd(pb::FileEnd {}));
    };
    let reused = plan.reused;
    if plan.ranges.is_empty() {
        emit(out, Record::FileRange(pb::FileRange { offset: header.size, reused }))?;
    }
    for range in plan.ranges {
        emit(out, Record::FileRange(pb::FileRange { offset: range.start, reused }))?;
        if !send_bytes(&file, range, &header, out, mask)? {
            return Ok(());
        }
    }
    emit(out, Record::FileEnd(pb::FileEnd {}))
}

/// Sends the bytes `range` of `file` as data records read at their offsets;
/// false when the read fell short and the file was aborted instead.
fn send_bytes(
    file: &std::fs::File,
    range: std::ops::Range<u64>,
    header: &FileHeader,
    out: &RecordSender,
    mask: &Mask,
) -> Result<bool> {
    let mut at = range.start;
    while at < range.end {
        let want = (range.end - at).min(CHUNK_SIZE as u64) as usize;
        let mut chunk = vec![0; want];
        let abort = match read_full(file, &mut chunk, at) {
            Ok(n) if n == want => None,
            Ok(_) => Some(shrank(header)),
            Err(e) => Some(Error::io("read", header.path.display(), e)),
        };
        if let Some(e) = abort {
            emit(out, Record::FileAbort(failure(header, &e, mask)))?;
            return Ok(false);
        }
        at += want as u64;
        emit(out, Record::Data(Bytes::from(chunk)))?;
    }
    Ok(true)
}

/// Sends several small files as one tar shard. Files that cannot be read
/// become `source_failed`; files that grew too large for a shard since the
/// walk follow the shard as whole files.
fn send_shard(
    headers: Vec<FileHeader>,
    reader: &dyn PayloadReader,
    out: &RecordSender,
    mask: &Mask,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let sink_error = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::BrokenPipe => stopped(),
        _ => Error::new(ErrorKind::Unexpected, format!("could not build a tar shard: {e}")),
    };
    emit(out, Record::ShardBegin(pb::ShardBegin { files: headers.len() as u32 }))?;
    let mut tar = tar::Builder::new(ChunkSink::new(out));
    let mut alone = Vec::new();
    for header in headers {
        let SourceFile { file, header: fresh } = match reader.open(&header) {
            Ok(source) => source,
            Err(e) => {
                source_failed(out, &header, &e, mask)?;
                continue;
            }
        };
        if fresh.size > SHARD_ENTRY_MAX || fresh.path.is_root() {
            alone.push(header);
            continue;
        }
        buf.clear();
        match (&file).take(fresh.size).read_to_end(buf) {
            Ok(n) if n as u64 == fresh.size => {}
            Ok(_) => {
                source_failed(out, &fresh, &shrank(&fresh), mask)?;
                continue;
            }
            Err(e) => {
                source_failed(out, &fresh, &Error::io("read", fresh.path.display(), e), mask)?;
                continue;
            }
        }
        blit_shard::append(&mut tar, &fresh, buf).map_err(sink_error)?;
    }
    tar.into_inner().and_then(ChunkSink::finish).map_err(sink_error)?;
    emit(out, Record::ShardEnd(pb::ShardEnd {}))?;
    for header in alone {
        send_file(header, reader, out, mask)?;
    }
    Ok(())
}
