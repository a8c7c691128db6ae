//! Tar shards on the wire: many small files as one tar stream (the
//! `blit-shard` format), cut into data records of at most [`CHUNK_SIZE`]
//! bytes.
//!
//! The sender builds the tar incrementally into a [`ChunkSink`], which sends
//! every full chunk as soon as it fills: a shard is never held whole in
//! memory, only the current file (at most [`SHARD_ENTRY_MAX`] bytes) and one
//! partial chunk.

use crate::config::CHUNK_SIZE;
use blit_proto::pb;
pub(crate) use blit_shard::SHARD_ENTRY_MAX;
use prost::bytes::Bytes;
use std::io::{self, Write};
use tokio::sync::mpsc;

// A shard entry must fit one data record.
const _: () = assert!(SHARD_ENTRY_MAX <= CHUNK_SIZE as u64);

/// A `Write` that turns a byte stream into data records of [`CHUNK_SIZE`].
pub(crate) struct ChunkSink<'a> {
    out: &'a mpsc::Sender<pb::PayloadRecord>,
    buf: Vec<u8>,
}

impl<'a> ChunkSink<'a> {
    pub(crate) fn new(out: &'a mpsc::Sender<pb::PayloadRecord>) -> Self {
        ChunkSink { out, buf: Vec::with_capacity(CHUNK_SIZE) }
    }

    fn send(&self, chunk: Vec<u8>) -> io::Result<()> {
        let record = pb::PayloadRecord { record: Some(pb::payload_record::Record::Data(Bytes::from(chunk))) };
        self.out
            .blocking_send(record)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the payload receiver stopped"))
    }

    /// Sends what is left (the last, partial chunk).
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        self.send(chunk)
    }
}

impl Write for ChunkSink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK_SIZE {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
            self.send(chunk)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
