//! The payload records on a byte stream: one framing for any medium that
//! moves bytes in order (a pipe, a socket, an ssh channel), so a transport
//! over such a medium frames nothing itself.
//!
//! Every frame is a tag byte, a little-endian `u32` length and that many
//! bytes. Lengths are checked against the tag's limit before anything is
//! allocated; headers and failures use [`crate::wire`], which validates
//! what it decodes, so a corrupt or hostile stream yields an error, never a
//! huge allocation or a path outside the destination.
//!
//! | tag | record   | body                                             |
//! |-----|----------|--------------------------------------------------|
//! | 1   | `File`   | file header                                      |
//! | 2   | `Data`   | up to one chunk of the file's content            |
//! | 3   | `End`    | empty: the file's bytes are complete             |
//! | 4   | `Abort`  | failure: the source broke off the file           |
//! | 5   | `Failed` | file header, failure: the source never opened it |
//! | 6   | `Range`  | offset, reused (`u64` each): a resumed file's run |
//! | 7   | `Copy`   | to, from, len (`u64` each): a delta's copy within the older version |

use super::{send_file, Lander, RecordWriter, Sent};
use crate::wire::{Dec, Enc};
use crate::{Error, ErrorKind, FileHeader, Landing, PayloadReader, PlanReceiver, Result};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use tokio::sync::mpsc::error::TryRecvError;

const FILE: u8 = 1;
const DATA: u8 = 2;
const END: u8 = 3;
const ABORT: u8 = 4;
const FAILED: u8 = 5;
const RANGE: u8 = 6;
const COPY: u8 = 7;

/// Longest frame that is not `Data`: a header (a 4 KiB path, 32 KiB of
/// extended attributes) plus a failure, with room to spare.
const MAX_CONTROL: usize = 64 * 1024;

/// Buffered bytes each way.
const BUFFER: usize = 64 * 1024;

/// The medium failed; a receiver that stopped reads as `Cancelled`.
fn medium(op: &'static str, name: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::BrokenPipe => Error::new(ErrorKind::Cancelled, "the receiving half stopped").with_path(name),
        _ => Error::io(op, name, e),
    }
}

/// A stream that does not decode: a protocol error.
fn malformed(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Protocol, format!("malformed frame: {what}")).with_hint("both halves must run the same build")
}

/// The sending half: frames the records of each planned file onto `out`,
/// reading file content in chunks of the given size.
#[derive(Debug)]
pub struct StreamWriter<W: Write> {
    out: BufWriter<W>,
    name: String,
    chunk: Vec<u8>,
    body: Enc,
}

impl<W: Write> StreamWriter<W> {
    /// Frames onto `out` (named `name` in errors), `chunk` bytes of file
    /// content per `Data` frame at most.
    pub fn new(out: W, name: impl Into<String>, chunk: usize) -> Self {
        StreamWriter {
            out: BufWriter::with_capacity(BUFFER, out),
            name: name.into(),
            chunk: vec![0; chunk.max(1)],
            body: Enc::default(),
        }
    }

    /// Sends every planned file, flushing whenever no plan is waiting (so
    /// the receiver sees what is buffered), then flushes and returns.
    pub fn send_plans(&mut self, mut plans: PlanReceiver, reader: &dyn PayloadReader) -> Result<()> {
        loop {
            let plan = match plans.try_recv() {
                Ok(plan) => plan,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    self.flush()?;
                    match plans.blocking_recv() {
                        Some(plan) => plan,
                        None => break,
                    }
                }
            };
            for header in plan.files() {
                send_file(reader, header, self)?;
            }
        }
        self.flush()
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| medium("write to", &self.name, e))
    }

    /// Frames what `body` encodes into the reused body buffer.
    fn encoded(&mut self, tag: u8, body: impl FnOnce(&mut Enc)) -> Result<()> {
        self.body.0.clear();
        body(&mut self.body);
        put(&mut self.out, &self.name, tag, &self.body.0)
    }
}

/// Writes one frame.
fn put(out: &mut impl Write, name: &str, tag: u8, body: &[u8]) -> Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| malformed("a frame body over 4 GiB"))?;
    let mut head = [tag, 0, 0, 0, 0];
    head[1..].copy_from_slice(&len.to_le_bytes());
    out.write_all(&head).and_then(|()| out.write_all(body)).map_err(|e| medium("write to", name, e))
}

impl<W: Write> RecordWriter for StreamWriter<W> {
    fn file(&mut self, header: &FileHeader) -> Result<()> {
        self.encoded(FILE, |enc| {
            enc.file_header(header);
        })
    }

    fn range(&mut self, offset: u64, reused: u64) -> Result<()> {
        self.encoded(RANGE, |enc| {
            enc.u64(offset).u64(reused);
        })
    }

    fn carries_copies(&self) -> bool {
        true
    }

    fn copy(&mut self, to: u64, from: u64, len: u64) -> Result<()> {
        self.encoded(COPY, |enc| {
            enc.u64(to).u64(from).u64(len);
        })
    }

    fn body(&mut self, file: &Arc<File>, offset: u64, len: u64) -> Result<Sent> {
        let mut at = offset;
        while at < offset + len {
            let want = (offset + len - at).min(self.chunk.len() as u64) as usize;
            if let Err(e) = file.read_exact_at(&mut self.chunk[..want], at) {
                return Ok(Sent::Short(e));
            }
            put(&mut self.out, &self.name, DATA, &self.chunk[..want])?;
            at += want as u64;
        }
        Ok(Sent::All)
    }

    fn end(&mut self) -> Result<()> {
        put(&mut self.out, &self.name, END, &[])
    }

    fn abort(&mut self, error: &Error) -> Result<()> {
        self.encoded(ABORT, |enc| {
            enc.failure(error);
        })
    }

    fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()> {
        self.encoded(FAILED, |enc| {
            enc.file_header(header).failure(error);
        })
    }
}

/// The receiving half: lands the records framed on `input` (named `name`
/// in errors) until the stream ends, accepting `Data` frames of at most
/// `max_chunk` bytes. A volume error, a broken stream or a protocol error
/// stops it with that error (the file under way fails with it).
pub fn land_stream(landing: &Landing, input: impl Read, name: &str, max_chunk: usize) -> Result<()> {
    let mut input = BufReader::with_capacity(BUFFER, input);
    let mut buf = Vec::new();
    let mut lander = Lander::new(landing);
    loop {
        let tag = match read_frame(&mut input, &mut buf, name, max_chunk) {
            Ok(Some(tag)) => tag,
            Ok(None) if !lander.busy() => return lander.done(),
            Ok(None) => return Err(lander.stop(malformed("the stream ended in the middle of a file"))),
            Err(e) => return Err(lander.stop(e)),
        };
        if let Err(e) = land_frame(&mut lander, tag, &buf) {
            // A file under way fails with whatever stopped the stream.
            return Err(lander.stop(e));
        }
    }
}

/// Hands one frame's record to `lander`.
fn land_frame(lander: &mut Lander, tag: u8, buf: &[u8]) -> Result<()> {
    if tag == DATA {
        return lander.data(buf);
    }
    let mut body = Dec(buf);
    match tag {
        FILE => lander.file(body.file_header()?)?,
        RANGE => lander.range(body.u64()?, body.u64()?)?,
        COPY => lander.copy(body.u64()?, body.u64()?, body.u64()?)?,
        END => lander.end()?,
        ABORT => lander.abort(&body.failure()?)?,
        _ => {
            let header = body.file_header()?;
            lander.failed(&header, &body.failure()?)?
        }
    }
    body.end()
}

/// Reads one frame into `buf`; `None` at a clean end of stream.
fn read_frame(input: &mut impl Read, buf: &mut Vec<u8>, name: &str, max_chunk: usize) -> Result<Option<u8>> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(malformed("the stream ended inside a frame header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(medium("read from", name, e)),
        }
    }
    let tag = head[0];
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let max = match tag {
        DATA => max_chunk,
        END => 0,
        FILE | ABORT | FAILED | RANGE | COPY => MAX_CONTROL,
        other => return Err(malformed(format!("unknown tag {other}"))),
    };
    if len > max {
        return Err(malformed(format!("frame {tag} announces {len} bytes, more than {max}")));
    }
    buf.resize(len, 0);
    input.read_exact(buf).map_err(|e| medium("read from", name, e))?;
    Ok(Some(tag))
}
