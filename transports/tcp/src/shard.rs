//! Tar shards, streamed: many small files as one tar stream cut into data
//! records of at most the chunk size.
//!
//! The sender builds the tar incrementally into a [`ChunkWriter`], which
//! sends a data record every time a chunk fills: a shard is never held
//! whole, only the current file (at most [`SHARD_ENTRY_MAX`]) and one
//! partial chunk. The receiver reads it through [`crate::inbound::ShardRecords`],
//! a `Read` over the incoming data records, so it is never held whole
//! either.

use crate::frame::{Enc, Tag};
use crate::out::Out;
use blit_api::{Error, ErrorKind, FileHeader, PayloadReader, Result, SourceFile};
use blit_shard::SHARD_ENTRY_MAX;
use std::io::{self, Read, Write};

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

fn shrank(h: &FileHeader) -> Error {
    Error::new(ErrorKind::Io, "the file shrank while it was being read")
        .with_path(h.path.display())
        .with_hint("the source changed during the transfer; rerun to pick up changes")
}

/// Sends several small files as one shard: `Shard`, the tar stream in data
/// records, `End`. Files that cannot be read become `SourceFailed`; files
/// that grew too large for a shard follow it as whole files.
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
    let mut alone = Vec::new();
    let mut buf = Vec::new();
    let mut tar = tar::Builder::new(ChunkWriter { out, stage: Vec::with_capacity(chunk), chunk });
    for header in headers {
        let failed = match reader.open(&header) {
            Err(e) => Some((header, e)),
            Ok(SourceFile { file, header: fresh }) => {
                if fresh.size > SHARD_ENTRY_MAX {
                    alone.push(SourceFile { file, header: fresh });
                    continue;
                }
                buf.clear();
                match (&file).take(fresh.size).read_to_end(&mut buf) {
                    Ok(n) if n as u64 == fresh.size => {
                        blit_shard::append(&mut tar, &fresh, &buf).map_err(conn)?;
                        None
                    }
                    Ok(_) => Some((fresh.clone(), shrank(&fresh))),
                    Err(e) => Some((fresh.clone(), Error::io("read", fresh.path.display(), e))),
                }
            }
        };
        if let Some((h, e)) = failed {
            enc.0.clear();
            enc.file_header(&h).failure(&e);
            tar.get_mut().out.record(Tag::SourceFailed, &enc.0).map_err(conn)?;
        }
    }
    tar.into_inner().and_then(ChunkWriter::finish).map_err(conn)?;
    out.record(Tag::End, &[]).map_err(conn)?;
    for source in alone {
        crate::send::send_whole(out, &source, &mut enc).map_err(conn)?;
    }
    Ok(())
}
