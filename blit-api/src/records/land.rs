//! The receiving side of the payload records, written once: a transport
//! decodes its frames and hands each record to a [`Lander`], which lands it
//! through [`Landing`] (so every transport reports the same per-file
//! events) and checks that the records fit together.

use crate::{Error, ErrorKind, FileHeader, FileKind, Incoming, Landing, Result};
use std::fs::File;
use std::io;

/// The file being received.
#[derive(Debug)]
enum Current {
    None,
    /// `File` arrived; the landing begins with the next record: a `Range`
    /// makes it a resumed file ([`Landing::resume`]).
    Pending(FileHeader),
    /// Landing; the next bytes land at `at`. Only a resumed file may move
    /// `at` (`Range`).
    Open {
        incoming: Incoming,
        at: u64,
        resumed: bool,
    },
    /// Its landing failed (already reported): its bytes are dropped.
    Skip,
}

/// A broken protocol: the records do not fit together. The transport adds
/// the peer ([`ErrorKind::Protocol`]).
fn broken(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, what)
}

/// Keeps going after a per-file error (the landing already reported it);
/// stops only on a volume error (no space, read-only), which every later
/// file would hit too.
pub fn keep_going(result: Result<()>) -> Result<()> {
    match result {
        Err(e) if e.kind().is_volume_error() => Err(e),
        _ => Ok(()),
    }
}

/// Lands one stream of records (see the module docs). Every method fails
/// only with a volume error (no space, read-only: the half stops) or a
/// broken protocol ([`ErrorKind::Protocol`]); a per-file failure is
/// reported through the landing and the file's remaining bytes are dropped.
#[derive(Debug)]
pub struct Lander<'l> {
    landing: &'l Landing,
    current: Current,
}

impl<'l> Lander<'l> {
    /// Nothing received yet.
    pub fn new(landing: &'l Landing) -> Self {
        Lander { landing, current: Current::None }
    }

    /// Whether a file is under way (between `File` and `End` or `Abort`).
    pub fn busy(&self) -> bool {
        !matches!(self.current, Current::None)
    }

    /// Begins a pending file's landing: resumed when the record that follows
    /// `File` is a `Range` (`resume` holds its `reused`), whole otherwise.
    fn settle(&mut self, resume: Option<u64>) -> Result<()> {
        let header = match std::mem::replace(&mut self.current, Current::None) {
            Current::Pending(header) => header,
            other => {
                self.current = other;
                return Ok(());
            }
        };
        let begun = match resume {
            Some(reused) => self.landing.resume(&header, reused).map(|incoming| (incoming, true)),
            None => self.landing.begin(&header).map(|incoming| (incoming, false)),
        };
        self.current = match begun {
            Ok((incoming, resumed)) => Current::Open { incoming, at: 0, resumed },
            Err(e) => {
                keep_going(Err(e))?;
                Current::Skip
            }
        };
        Ok(())
    }

    /// `File`: a regular file begins.
    pub fn file(&mut self, header: FileHeader) -> Result<()> {
        self.settle(None)?;
        if self.busy() {
            return Err(broken("a file began before the previous one ended"));
        }
        if header.kind != FileKind::File {
            return Err(broken(format!("a payload for a non-file entry {}", header.path)));
        }
        self.current = Current::Pending(header);
        Ok(())
    }

    /// `Range`: the bytes that follow land at `offset` of a resumed file
    /// whose destination keeps `reused` bytes.
    pub fn range(&mut self, offset: u64, reused: u64) -> Result<()> {
        self.settle(Some(reused))?;
        match &mut self.current {
            Current::Open { incoming, at, resumed } => {
                if !*resumed || reused != incoming.reused() || offset > incoming.size() {
                    return Err(broken(format!("a file range that does not fit {}", incoming.path())));
                }
                *at = offset;
                Ok(())
            }
            Current::Skip => Ok(()),
            Current::None | Current::Pending(_) => Err(broken("a file range outside a file")),
        }
    }

    /// `Copy`: `len` bytes at `from` of the older version the current file
    /// is built on land at `to` ([`Incoming::copy`]). Only after the file's
    /// first `Range`; a copy the landing refuses (out of bounds, or a file
    /// not built on an older version) fails the file, whose remaining
    /// records are then dropped.
    pub fn copy(&mut self, to: u64, from: u64, len: u64) -> Result<()> {
        match &mut self.current {
            Current::Open { incoming, resumed: true, .. } => match incoming.copy(from, to, len) {
                Ok(()) => Ok(()),
                Err(e) => {
                    if let Current::Open { incoming, .. } = std::mem::replace(&mut self.current, Current::Skip) {
                        incoming.fail(&e);
                    }
                    keep_going(Err(e))
                }
            },
            Current::Skip => Ok(()),
            Current::Open { incoming, .. } => {
                Err(broken(format!("a copy in {}, which is not built on an older version", incoming.path())))
            }
            Current::None | Current::Pending(_) => Err(broken("a copy outside a resumed file's ranges")),
        }
    }

    /// `len` bytes of the current file, written by `put(file, offset)`
    /// (from a buffer, or moved without user space; `zero_copy` says which
    /// for the progress events). Returns false when the file is being
    /// skipped: the caller drops the bytes.
    pub fn write(
        &mut self,
        len: u64,
        zero_copy: bool,
        put: impl FnOnce(&mut File, u64) -> io::Result<()>,
    ) -> Result<bool> {
        self.fill(len, |incoming, at| {
            put(incoming.file(), at).map_err(|e| Error::io("write", incoming.shown(), e))?;
            if zero_copy {
                incoming.record_zero_copy(len);
            } else {
                incoming.record(len);
            }
            Ok(())
        })
    }

    /// `len` bytes of the current file, landed by `fill(incoming, offset)`,
    /// which records its progress as it goes (for a medium that copies a
    /// large run in steps, such as a local copy) and fails with an error
    /// that names the file. Returns false when the file is being skipped.
    pub fn fill(&mut self, len: u64, fill: impl FnOnce(&mut Incoming, u64) -> Result<()>) -> Result<bool> {
        self.settle(None)?;
        let Current::Open { incoming, at, .. } = &mut self.current else {
            return match self.current {
                Current::Skip => Ok(false),
                _ => Err(broken("file data outside a file")),
            };
        };
        if *at + len > incoming.size() || incoming.written() + incoming.reused() + len > incoming.size() {
            return Err(broken(format!("more bytes than announced for {}", incoming.path())));
        }
        match fill(incoming, *at) {
            Ok(()) => {
                *at += len;
                Ok(true)
            }
            Err(e) => {
                if let Current::Open { incoming, .. } = std::mem::replace(&mut self.current, Current::Skip) {
                    incoming.fail(&e);
                }
                keep_going(Err(e)).map(|()| true)
            }
        }
    }

    /// Bytes of the current file from a buffer.
    pub fn data(&mut self, bytes: &[u8]) -> Result<()> {
        self.write(bytes.len() as u64, false, |file, at| std::os::unix::fs::FileExt::write_all_at(file, bytes, at))
            .map(drop)
    }

    /// `End`: the current file is complete.
    pub fn end(&mut self) -> Result<()> {
        self.settle(None)?;
        match std::mem::replace(&mut self.current, Current::None) {
            Current::Open { incoming, .. } => keep_going(incoming.commit()),
            Current::Skip => Ok(()),
            Current::None | Current::Pending(_) => Err(broken("a file ended that never began")),
        }
    }

    /// `Abort`: the source fell short; the file fails with `error`.
    pub fn abort(&mut self, error: &Error) -> Result<()> {
        self.settle(None)?;
        match std::mem::replace(&mut self.current, Current::None) {
            Current::Open { incoming, .. } => {
                incoming.fail(error);
                Ok(())
            }
            Current::Skip => Ok(()),
            Current::None | Current::Pending(_) => Err(broken("a file was aborted that never began")),
        }
    }

    /// `Failed`: the source could not send `header`'s file.
    pub fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()> {
        self.settle(None)?;
        if self.busy() {
            return Err(broken("a source failure inside a file"));
        }
        self.landing.source_failed(header, error);
        Ok(())
    }

    /// The stream broke with `error`: the file under way (if any) fails
    /// with it, and the error is returned for the half to stop with.
    pub fn stop(&mut self, error: Error) -> Error {
        if let Current::Open { incoming, .. } = std::mem::replace(&mut self.current, Current::None) {
            incoming.fail(&error);
        }
        error
    }

    /// A shard (many small files in one stream) begins: no file may be
    /// under way.
    pub fn shard(&mut self) -> Result<()> {
        self.settle(None)?;
        if self.busy() {
            return Err(broken("a shard began inside a file"));
        }
        Ok(())
    }

    /// The stream ended here, as the sender said (`Done`): no file may be
    /// under way.
    pub fn done(&mut self) -> Result<()> {
        self.settle(None)?;
        if self.busy() {
            return Err(broken("the payload ended inside a file"));
        }
        Ok(())
    }
}
