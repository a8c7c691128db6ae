//! Tar shards, streamed: many small files as one tar stream cut into data
//! records of at most the chunk size.
//!
//! The sender builds the tar incrementally into a [`ChunkWriter`], which
//! sends a data record every time a chunk fills: a shard is never held
//! whole, only the current file (at most [`blit_shard::SHARD_ENTRY_MAX`]) and one
//! partial chunk. The receiver reads it through [`crate::inbound::ShardRecords`],
//! a `Read` over the incoming data records, so it is never held whole
//! either.

use crate::frame::{Enc, Tag};
use crate::out::Out;
use blit_api::{Error, ErrorKind, FileHeader, PayloadReader, Result};
use blit_shard::{write_shard, ShardOut};
use std::io::{self, Write};

/// A `Write` that turns a byte stream into data records of one chunk.
struct ChunkWriter<'a> {
    out: &'a mut Out,
    stage: Vec<u8>,
    chunk: usize,
}

impl ChunkWriter<'_> {
    fn finish(mut self) -> io::Result<()> {
        if !self.stage.is_empty() {
            let stage = std::mem::take(&mut self.stage);
            self.out.data(Tag::Data, &stage)?;
        }
        Ok(())
    }
}

impl Write for ChunkWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.chunk - self.stage.len());
        self.stage.extend_from_slice(&data[..n]);
        if self.stage.len() == self.chunk {
            self.out.data(Tag::Data, &self.stage)?;
            self.stage.clear();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ShardOut for ChunkWriter<'_> {
    fn source_failed(&mut self, h: &FileHeader, e: &Error) -> io::Result<()> {
        let mut enc = Enc::default();
        enc.file_header(h).failure(e);
        self.out.record(Tag::SourceFailed, &enc.0)
    }
}

/// Sends several small files as one shard: `Shard`, the tar stream in data
/// records ([`blit_shard::write_shard`]), `End`. Files that cannot be read
/// become `SourceFailed`; files that grew too large for a shard follow it as
/// whole files.
pub(crate) fn send_shard(
    out: &mut Out,
    headers: Vec<FileHeader>,
    reader: &dyn PayloadReader,
    chunk: usize,
    peer: &str,
) -> Result<()> {
    let conn = |e: io::Error| {
        Error::new(ErrorKind::Cancelled, format!("the data connection failed: {e}"))
            .with_path(peer.to_owned())
            .with_hint("the receiver stopped or the network broke; rerun to finish")
    };
    let mut enc = Enc::default();
    enc.u32(headers.len() as u32);
    out.record(Tag::Shard, &enc.0).map_err(conn)?;
    let writer = ChunkWriter { out, stage: Vec::with_capacity(chunk), chunk };
    let (writer, alone) = write_shard(writer, headers, reader, &mut Vec::new()).map_err(conn)?;
    writer.finish().map_err(conn)?;
    out.record(Tag::End, &[]).map_err(conn)?;
    for source in alone {
        blit_api::send_source(source, &mut crate::whole::Records { out, enc: &mut enc, peer })?;
    }
    Ok(())
}
