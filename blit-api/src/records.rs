//! The per-file protocol of the payload, written once for every transport.
//!
//! A file travels as logical records: `File` (its header), for a resumed
//! file `Range`s each followed by the bytes of that range (for a delta, the
//! `Copy`s within the older version after the first `Range`), the body, then
//! `End`; or `Abort` when the source fell short after `File`; or `Failed`
//! alone when it could not be opened. [`send_file`] decides which records a
//! planned file becomes (a file the walk found empty is never opened, a
//! resumed file sends only the ranges its block map calls for, a short read
//! aborts the file and the transfer goes on); a transport implements
//! [`RecordWriter`] and only frames those records onto its medium. On the
//! other side it decodes them into a [`Lander`], which lands them.

mod land;
pub(crate) mod stream;

pub use land::{keep_going, Lander};

use crate::{Error, ErrorKind, FileHeader, PayloadReader, PayloadReaderExt, Result, SourceFile};
use std::fs::File;
use std::io;
use std::sync::Arc;

/// How the bytes of a body went out.
#[derive(Debug)]
pub enum Sent {
    /// Every byte was sent.
    All,
    /// The source fell short: a read failed, or the file ended early
    /// ([`io::ErrorKind::UnexpectedEof`]). What was sent must not land.
    Short(io::Error),
}

/// A transport's framing of the payload records (see the module docs). The
/// methods fail only when the medium failed (the receiver went away, the
/// connection broke); a per-file problem is a record like any other.
pub trait RecordWriter {
    /// `File`: a file begins; `header` is the one that lands (refreshed at
    /// open, without the block map).
    fn file(&mut self, header: &FileHeader) -> Result<()>;

    /// `Range`: the bytes that follow start at `offset` of a resumed file
    /// whose destination keeps `reused` bytes of its partial copy. Only
    /// called for files with [`FileHeader::resume`], which the engine plans
    /// only for transports whose capabilities say `resume`.
    fn range(&mut self, offset: u64, reused: u64) -> Result<()> {
        let _ = (offset, reused);
        Err(Error::new(ErrorKind::Unsupported, "this transport cannot carry resumed files"))
    }

    /// `Copy`: `len` bytes at `from` of the destination's older version
    /// land at `to` of the file ([`crate::BlockCopy`]). Only called for a
    /// delta file, after its first `Range`, and only when
    /// [`RecordWriter::carries_copies`] says so.
    fn copy(&mut self, to: u64, from: u64, len: u64) -> Result<()> {
        let _ = (to, from, len);
        Err(Error::new(ErrorKind::Unsupported, "this transport cannot carry copies within an older version"))
    }

    /// Whether this writer implements [`RecordWriter::copy`]. When it does
    /// not (the default), [`send_source`] sends a delta's copies as ranges
    /// of data instead ([`crate::ResumePlan::without_copies`]).
    fn carries_copies(&self) -> bool {
        false
    }

    /// The bytes `offset..offset + len` of `file`, read however the medium
    /// moves them best (into its own buffers, or without user space; an
    /// in-process medium may keep the file and hand it to the receiver,
    /// which reads it itself).
    fn body(&mut self, file: &Arc<File>, offset: u64, len: u64) -> Result<Sent>;

    /// `End`: the file is complete.
    fn end(&mut self) -> Result<()>;

    /// `Abort`: the source fell short after `File`; `error` says how.
    fn abort(&mut self, error: &Error) -> Result<()>;

    /// `Failed`: `header`'s file could not be opened or compared; nothing
    /// of it follows.
    fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()>;
}

/// Sends one planned file as records: `Failed` when it cannot be opened, a
/// file the walk found empty as `File` then `End` without opening it,
/// otherwise [`send_source`].
pub fn send_file(reader: &dyn PayloadReader, header: &FileHeader, out: &mut dyn RecordWriter) -> Result<()> {
    match reader.open_to_send(header) {
        Ok(Some(source)) => send_source(source, out),
        Ok(None) => {
            out.file(header)?;
            out.end()
        }
        Err(e) => out.failed(&without_map(header), &e),
    }
}

/// Sends one open file: whole, or, when the destination resumes it, the
/// ranges [`SourceFile::resume_plan`] chose, each after a `Range` record (a
/// file with nothing to send gets one empty range at its end, which commits
/// it). A body that falls short aborts the file instead of ending it.
pub fn send_source(source: SourceFile, out: &mut dyn RecordWriter) -> Result<()> {
    let plan = match source.resume_plan() {
        Ok(plan) if out.carries_copies() => plan,
        Ok(plan) => plan.map(crate::ResumePlan::without_copies),
        Err(e) => return out.failed(&without_map(&source.header), &e),
    };
    let SourceFile { file, mut header } = source;
    let file = Arc::new(file);
    // The block map and part range served their purpose; the receiver
    // needs neither.
    (header.resume, header.part_range, header.prehash) = (None, None, None);
    out.file(&header)?;
    let Some(plan) = plan else {
        return match out.body(&file, 0, header.size)? {
            Sent::All => out.end(),
            Sent::Short(e) => out.abort(&short_read(&header, e)),
        };
    };
    // The copies follow the first `Range`, which begins the landing.
    let copies = |out: &mut dyn RecordWriter| plan.copies.iter().try_for_each(|c| out.copy(c.to, c.from, c.len));
    if plan.ranges.is_empty() {
        out.range(header.size, plan.reused)?;
        copies(out)?;
    }
    for (i, range) in plan.ranges.iter().enumerate() {
        out.range(range.start, plan.reused)?;
        if i == 0 {
            copies(out)?;
        }
        if let Sent::Short(e) = out.body(&file, range.start, range.end - range.start)? {
            return out.abort(&short_read(&header, e));
        }
    }
    out.end()
}

fn without_map(header: &FileHeader) -> FileHeader {
    FileHeader { resume: None, part_range: None, prehash: None, ..header.clone() }
}

/// The error of a body that fell short: the file shrank while it was read
/// (an early end), or the read failed.
pub fn short_read(header: &FileHeader, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => Error::new(ErrorKind::Io, "the file shrank while it was being read")
            .with_path(header.path.display())
            .with_hint("the source changed during the transfer; rerun to pick up changes"),
        _ => Error::io("read", header.path.display(), e),
    }
}

#[cfg(test)]
#[path = "records/tests.rs"]
mod tests;
