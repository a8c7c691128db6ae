//! Tar shards on the wire: many small files as one tar stream (the
//! `blit-shard` format, written by [`blit_shard::write_shard`]), cut into
//! data records of at most [`CHUNK_SIZE`] bytes.
//!
//! [`ChunkSink`] fills one leased chunk buffer ([`crate::budget`]) at a time
//! and sends it as soon as it is full: a shard is never held whole in
//! memory, only the current file (at most [`SHARD_ENTRY_MAX`] bytes) and one
//! partial chunk.

use crate::budget::{Budget, Lease};
use crate::config::CHUNK_SIZE;
use crate::convert::Mask;
use crate::records::{source_failed, RecordSender};
use blit_api::{Error, FileHeader};
use blit_proto::pb;
use blit_shard::ShardOut;
pub(crate) use blit_shard::SHARD_ENTRY_MAX;
use prost::bytes::Bytes;
use std::io::{self, Write};
use std::sync::Arc;

// A shard entry must fit one data record.
const _: () = assert!(SHARD_ENTRY_MAX <= CHUNK_SIZE as u64);

fn broken() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the payload receiver stopped")
}

/// A `Write` that turns a byte stream into data records of [`CHUNK_SIZE`].
pub(crate) struct ChunkSink<'a> {
    out: &'a RecordSender,
    budget: &'a Arc<Budget>,
    mask: &'a Mask,
    chunk: Option<Lease>,
}

impl<'a> ChunkSink<'a> {
    pub(crate) fn new(out: &'a RecordSender, budget: &'a Arc<Budget>, mask: &'a Mask) -> Self {
        ChunkSink { out, budget, mask, chunk: None }
    }

    fn send(&self, chunk: Bytes) -> io::Result<()> {
        let record = pb::PayloadRecord { record: Some(pb::payload_record::Record::Data(chunk)) };
        self.out.blocking_send(record).map_err(|_| broken())
    }

    /// Sends what is left (the last, partial chunk).
    pub(crate) fn finish(mut self) -> io::Result<()> {
        match self.chunk.take() {
            Some(chunk) if chunk.len() > 0 => self.send(chunk.freeze()),
            _ => Ok(()),
        }
    }
}

impl Write for ChunkSink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let chunk = match &mut self.chunk {
            Some(chunk) => chunk,
            None => self.chunk.insert(self.budget.chunk_blocking(self.out.closed()).ok_or_else(broken)?),
        };
        let n = chunk.extend(data);
        if chunk.is_full() {
            let full = self.chunk.take().expect("the chunk was just filled");
            self.send(full.freeze())?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ShardOut for ChunkSink<'_> {
    fn source_failed(&mut self, header: &FileHeader, error: &Error) -> io::Result<()> {
        source_failed(self.out, header, error, self.mask).map_err(|_| broken())
    }
}
