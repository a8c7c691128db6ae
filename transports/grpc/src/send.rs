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
use crate::shard::{self, ChunkSink, SHARD_ENTRY_MAX};
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
    let record = pb::SourceFailed { header: Some(header_to_pb(header)), failure: Some(failure(header, error, mask)) };
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

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
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

/// Sends one whole file.
fn send_file(header: FileHeader, reader: &dyn PayloadReader, out: &RecordSender, mask: &Mask) -> Result<()> {
    let SourceFile { file, header } = match reader.open(&header) {
        Ok(source) => source,
        Err(e) => return source_failed(out, &header, &e, mask),
    };
    emit(out, Record::FileBegin(header_to_pb(&header)))?;
    let mut remaining = header.size;
    let mut file = &file;
    while remaining > 0 {
        let want = remaining.min(CHUNK_SIZE as u64) as usize;
        let mut chunk = vec![0; want];
        let abort = match read_full(&mut file, &mut chunk) {
            Ok(n) if n == want => None,
            Ok(_) => Some(shrank(&header)),
            Err(e) => Some(Error::io("read", header.path.display(), e)),
        };
        if let Some(e) = abort {
            return emit(out, Record::FileAbort(failure(&header, &e, mask)));
        }
        remaining -= want as u64;
        emit(out, Record::Data(Bytes::from(chunk)))?;
    }
    emit(out, Record::FileEnd(pb::FileEnd {}))
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
        shard::append(&mut tar, &fresh, buf).map_err(sink_error)?;
    }
    tar.into_inner().and_then(ChunkSink::finish).map_err(sink_error)?;
    emit(out, Record::ShardEnd(pb::ShardEnd {}))?;
    for header in alone {
        send_file(header, reader, out, mask)?;
    }
    Ok(())
}
