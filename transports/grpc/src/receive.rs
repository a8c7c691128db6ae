//! The receiving half of the payload: records become landed files.
//!
//! Runs on one blocking thread and lands through [`Landing`], so the
//! per-file events are exactly those of every other transport. A file's
//! data is written as each record arrives; a shard's tar stream is read
//! through [`ShardReader`], a `Read` over the incoming data records, so it
//! is never held whole either. Every path is validated
//! ([`blit_api::RelPath::from_bytes`]) and a shard may hold regular files
//! only; the destination's writer refuses symlinks on the way.
//!
//! A per-file failure is reported and the file's remaining bytes are
//! skipped. A volume error (no space, read-only) stops the half with that
//! error. A broken protocol stops it with [`ErrorKind::Protocol`].

use crate::convert::{failure_error, failure_from_pb, header_from_pb, path_from_pb};
use crate::error::protocol;
use crate::shard;
use blit_api::{Error, ErrorKind, FileHeader, FileKind, Incoming, Landing, Result};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use prost::bytes::{Buf, Bytes};
use std::io::{self, Read, Write};
use tokio::sync::mpsc;

/// Where the receiving half takes its records from.
pub(crate) type RecordReceiver = mpsc::Receiver<pb::PayloadRecord>;

/// The file being received.
enum Current {
    None,
    Open(Incoming),
    /// Its landing failed (already reported): drop its bytes.
    Skip,
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
        match record {
            Record::FileBegin(h) => {
                if busy(&current) {
                    return Err(protocol(peer, "a file began before the previous one ended"));
                }
                let header = header_from_pb(h).map_err(|e| protocol(peer, e.to_string()))?;
                if header.kind != FileKind::File {
                    return Err(protocol(peer, format!("a payload for a non-file entry {}", header.path)));
                }
                current = match landing.begin(&header) {
                    Ok(incoming) => Current::Open(incoming),
                    Err(e) => {
                        keep_going(Err(e))?;
                        Current::Skip
                    }
                };
            }
            Record::Data(data) => match &mut current {
                Current::Open(incoming) => {
                    if incoming.written() + data.len() as u64 > incoming.size() {
                        return Err(protocol(peer, format!("more bytes than announced for {}", incoming.path())));
                    }
                    if let Err(e) = incoming.file().write_all(&data) {
                        let e = Error::io("write", incoming.path().display(), e);
                        if let Current::Open(incoming) = std::mem::replace(&mut current, Current::Skip) {
                            incoming.fail(&e);
                        }
                        keep_going(Err(e))?;
                    } else {
                        incoming.record(data.len() as u64);
                    }
                }
                Current::Skip => {}
                Current::None => return Err(protocol(peer, "file data outside a file")),
            },
            Record::FileEnd(_) => match std::mem::replace(&mut current, Current::None) {
                Current::Open(incoming) => keep_going(incoming.commit())?,
                Current::Skip => {}
                Current::None => return Err(protocol(peer, "a file ended that never began")),
            },
            Record::FileAbort(f) => {
                let f = failure_from_pb(f).map_err(|e| protocol(peer, e.to_string()))?;
                match std::mem::replace(&mut current, Current::None) {
                    Current::Open(incoming) => incoming.fail(&failure_error(&f)),
                    Current::Skip => {}
                    Current::None => return Err(protocol(peer, "a file was aborted that never began")),
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

/// A `Read` over the data records of one shard, up to `shard_end`. Source
/// failures that arrive meanwhile are reported on the spot.
struct ShardReader<'a> {
    rx: &'a mut RecordReceiver,
    landing: &'a Landing,
    peer: &'a str,
    chunk: Bytes,
    ended: bool,
    /// The precise error behind an `io::Error` this reader returned.
    failure: Option<Error>,
}

impl ShardReader<'_> {
    fn fail(&mut self, e: Error) -> io::Error {
        let io = io::Error::other(e.to_string());
        self.failure = Some(e);
        io
    }

    /// Reads and drops whatever is left up to `shard_end`.
    fn drain(&mut self) -> Result<()> {
        let mut sink = [0u8; 8192];
        loop {
            match self.read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(self.failure.take().unwrap_or_else(|| protocol(self.peer, e.to_string()))),
            }
        }
    }
}

impl Read for ShardReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.chunk.is_empty() {
                let n = buf.len().min(self.chunk.len());
                buf[..n].copy_from_slice(&self.chunk[..n]);
                self.chunk.advance(n);
                return Ok(n);
            }
            if self.ended {
                return Ok(0);
            }
            let Some(record) = self.rx.blocking_recv() else {
                return Err(self.fail(broke_off(self.peer)));
            };
            match record.record {
                Some(Record::Data(data)) => self.chunk = data,
                Some(Record::ShardEnd(_)) => self.ended = true,
                Some(Record::SourceFailed(sf)) => {
                    if let Err(e) = source_failed(sf, self.landing, self.peer) {
                        return Err(self.fail(e));
                    }
                }
                _ => return Err(self.fail(protocol(self.peer, "an unexpected record inside a shard"))),
            }
        }
    }
}

/// Lands the entries of one shard.
fn receive_shard(rx: &mut RecordReceiver, landing: &Landing, peer: &str) -> Result<()> {
    let mut reader = ShardReader { rx, landing, peer, chunk: Bytes::new(), ended: false, failure: None };
    let landed = {
        let mut archive = tar::Archive::new(&mut reader);
        land_entries(&mut archive, landing, peer)
    };
    match landed {
        Ok(()) => reader.drain(),
        Err(Fatal::Blit(e)) => Err(e),
        Err(Fatal::Stream(e)) => {
            Err(reader.failure.take().unwrap_or_else(|| protocol(peer, format!("a malformed tar shard: {e}"))))
        }
    }
}

/// Why a shard stopped.
enum Fatal {
    Blit(Error),
    /// Reading the tar stream failed (the reader may hold the precise error).
    Stream(io::Error),
}

fn land_entries<R: Read>(archive: &mut tar::Archive<R>, landing: &Landing, peer: &str) -> Result<(), Fatal> {
    let mut buf = vec![0u8; 64 * 1024];
    for entry in archive.entries().map_err(Fatal::Stream)? {
        let mut entry = entry.map_err(Fatal::Stream)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(Fatal::Blit(protocol(peer, "a shard entry that is not a regular file")));
        }
        let path = path_from_pb(&entry.path_bytes()).map_err(|e| Fatal::Blit(protocol(peer, e.to_string())))?;
        if path.is_root() {
            return Err(Fatal::Blit(protocol(peer, "a shard entry without a name")));
        }
        let mode = entry.header().mode().map_err(Fatal::Stream)?;
        let mtime_ns = shard::entry_mtime(&mut entry).map_err(Fatal::Stream)?;
        let header = FileHeader {
            path,
            kind: FileKind::File,
            size: entry.size(),
            mtime_ns,
            mode,
            link_target: None,
            checksum: None,
        };
        let mut incoming = match landing.begin(&header) {
            Ok(incoming) => incoming,
            // Reported; the archive skips the entry's data.
            Err(e) => {
                keep_going(Err(e)).map_err(Fatal::Blit)?;
                continue;
            }
        };
        loop {
            let n = entry.read(&mut buf).map_err(Fatal::Stream)?;
            if n == 0 {
                keep_going(incoming.commit()).map_err(Fatal::Blit)?;
                break;
            }
            if let Err(e) = incoming.file().write_all(&buf[..n]) {
                let e = Error::io("write", header.path.display(), e);
                incoming.fail(&e);
                keep_going(Err(e)).map_err(Fatal::Blit)?;
                break;
            }
            incoming.record(n as u64);
        }
    }
    Ok(())
}
