//! Landing a received shard: one loop for every transport.
//!
//! A transport hands over its records as a [`ShardSource`] (runs of tar
//! bytes up to the shard's end; source failures that arrive meanwhile it
//! reports itself). [`land_shard`] reads the tar stream through it, never
//! holding the shard whole, and lands entry by entry through [`Landing`], so
//! the per-file events are exactly those of every other payload.

use crate::read::{next_file, EntryError};
use blit_api::{Error, Landing, Result};
use std::io::{self, Read, Write};

/// Where a shard's tar bytes come from: a transport's data records.
pub trait ShardSource {
    /// Fetches the next run of tar bytes (then readable with
    /// [`ShardSource::chunk`]); `Ok(false)` at the shard's end. A transport
    /// reports a source failure that arrives between runs through its
    /// [`Landing`] and goes on to the next record.
    fn fill(&mut self) -> Result<bool>;

    /// The bytes the last successful [`ShardSource::fill`] fetched.
    fn chunk(&self) -> &[u8];
}

/// A `Read` over a [`ShardSource`], keeping the precise error behind the
/// `io::Error` it returns.
struct Reader<S> {
    source: S,
    pos: usize,
    ended: bool,
    error: Option<Error>,
}

impl<S: ShardSource> Read for Reader<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let chunk = self.source.chunk();
            if self.pos < chunk.len() {
                let n = out.len().min(chunk.len() - self.pos);
                out[..n].copy_from_slice(&chunk[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.ended {
                return Ok(0);
            }
            match self.source.fill() {
                Ok(true) => self.pos = 0,
                Ok(false) => self.ended = true,
                Err(e) => {
                    let io = io::Error::other(e.to_string());
                    self.error = Some(e);
                    return Err(io);
                }
            }
        }
    }
}

impl<S: ShardSource> Reader<S> {
    /// Reads and drops whatever is left up to the shard's end.
    fn drain(&mut self, protocol: &dyn Fn(String) -> Error) -> Result<()> {
        let mut sink = [0u8; 8192];
        loop {
            match self.read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(self.error.take().unwrap_or_else(|| protocol(e.to_string()))),
            }
        }
    }
}

/// Why a shard stopped.
enum Fatal {
    Blit(Error),
    /// Reading the tar stream failed (the reader may hold the precise error).
    Stream(io::Error),
}

/// Stops on a volume error; anything else was reported per file.
fn keep_going(result: Result<()>) -> Result<(), Fatal> {
    match result {
        Err(e) if e.kind().is_volume_error() => Err(Fatal::Blit(e)),
        _ => Ok(()),
    }
}

/// Lands every entry of one shard read from `source`, then reads up to the
/// shard's end. A per-file failure is reported and the entry's bytes are
/// skipped; a volume error stops with that error; a malformed shard or an
/// entry that is not a valid regular file is an error made by `protocol`
/// (the transport names its peer there).
pub fn land_shard<S: ShardSource>(source: S, landing: &Landing, protocol: &dyn Fn(String) -> Error) -> Result<()> {
    let mut reader = Reader { source, pos: 0, ended: false, error: None };
    let landed = {
        let mut archive = tar::Archive::new(&mut reader);
        land_entries(&mut archive, landing, protocol)
    };
    match landed {
        Ok(()) => reader.drain(protocol),
        Err(Fatal::Blit(e)) => Err(e),
        Err(Fatal::Stream(e)) => {
            Err(reader.error.take().unwrap_or_else(|| protocol(format!("a malformed tar shard: {e}"))))
        }
    }
}

fn land_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    landing: &Landing,
    protocol: &dyn Fn(String) -> Error,
) -> Result<(), Fatal> {
    let mut buf = vec![0u8; 64 * 1024];
    // Raw entries: `next_file` reads the metadata entries itself, bounded.
    let mut entries = archive.entries().map_err(Fatal::Stream)?.raw(true);
    loop {
        let (mut entry, header) = match next_file(&mut entries) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(()),
            Err(EntryError::Stream(e)) => return Err(Fatal::Stream(e)),
            Err(EntryError::Invalid(what)) => return Err(Fatal::Blit(protocol(what))),
        };
        let mut incoming = match landing.begin(&header) {
            Ok(incoming) => incoming,
            // Reported; the archive skips the entry's data.
            Err(e) => {
                keep_going(Err(e))?;
                continue;
            }
        };
        loop {
            let n = entry.read(&mut buf).map_err(Fatal::Stream)?;
            if n == 0 {
                keep_going(incoming.commit())?;
                break;
            }
            if let Err(e) = incoming.file().write_all(&buf[..n]) {
                let e = Error::io("write", header.path.display(), e);
                incoming.fail(&e);
                keep_going(Err(e))?;
                break;
            }
            incoming.record(n as u64);
        }
    }
}
