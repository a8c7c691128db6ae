//! The two halves: the sender frames files into the pipe, the receiver
//! decodes frames and lands files through [`Landing`].
//!
//! Both run on blocking threads. Neither holds more than one chunk of file
//! content: the sender frames the records [`send_file`] makes of each file
//! (it reads a chunk and writes it as one `Data` frame), the
//! receiver writes each frame into the landing file as it arrives and
//! records it.

use crate::error::PipeError;
use crate::frame::{self, Body, ABORT, DATA, END, FAILED, FILE};
use blit_api::{
    send_file, Error, FileHeader, Incoming, Landing, PayloadReader, PlanReceiver, RecordWriter, Result, Sent,
};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use tokio::sync::mpsc::error::TryRecvError;

/// Sends every planned file, then closes the pipe (by dropping `out`).
pub(crate) fn send(
    mut plans: PlanReceiver,
    reader: &dyn PayloadReader,
    out: impl Write,
    chunk_size: usize,
) -> Result<()> {
    let mut out =
        Frames { out: BufWriter::with_capacity(64 * 1024, out), chunk: vec![0u8; chunk_size], body: Vec::new() };
    loop {
        let plan = match plans.try_recv() {
            Ok(plan) => plan,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Nothing queued: let the receiver see what is buffered
                // before waiting for the next plan.
                out.flush()?;
                match plans.blocking_recv() {
                    Some(plan) => plan,
                    None => break,
                }
            }
        };
        for header in plan.files() {
            send_file(reader, header, &mut out)?;
        }
    }
    out.flush()
}

/// The payload records as frames: `File`, `Data`..., `End` or `Abort`;
/// `Failed`. [`send_file`] decides which records a file becomes.
struct Frames<W: Write> {
    out: BufWriter<W>,
    chunk: Vec<u8>,
    body: Vec<u8>,
}

impl<W: Write> Frames<W> {
    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| PipeError::Io { op: "write to", source: e }.into())
    }
}

impl<W: Write> RecordWriter for Frames<W> {
    fn file(&mut self, header: &FileHeader) -> Result<()> {
        self.body.clear();
        frame::encode_header(header, &mut self.body);
        Ok(frame::write_frame(&mut self.out, FILE, &self.body)?)
    }

    fn body(&mut self, file: &File, offset: u64, len: u64) -> Result<Sent> {
        let mut at = offset;
        while at < offset + len {
            let want = (offset + len - at).min(self.chunk.len() as u64) as usize;
            if let Err(e) = file.read_exact_at(&mut self.chunk[..want], at) {
                return Ok(Sent::Short(e));
            }
            frame::write_frame(&mut self.out, DATA, &self.chunk[..want])?;
            at += want as u64;
        }
        Ok(Sent::All)
    }

    fn end(&mut self) -> Result<()> {
        Ok(frame::write_frame(&mut self.out, END, &[])?)
    }

    fn abort(&mut self, error: &Error) -> Result<()> {
        self.body.clear();
        frame::encode_error(error, &mut self.body);
        Ok(frame::write_frame(&mut self.out, ABORT, &self.body)?)
    }

    fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()> {
        self.body.clear();
        frame::encode_header(header, &mut self.body);
        frame::encode_error(error, &mut self.body);
        Ok(frame::write_frame(&mut self.out, FAILED, &self.body)?)
    }
}

/// What the receiver is doing with the current file.
enum State {
    /// Between files.
    Idle,
    /// Writing a file's bytes.
    Landing(Incoming),
    /// Dropping the bytes of a file whose landing already failed (and was
    /// reported).
    Skipping,
}

/// Lands files until the pipe closes. A volume error, a broken stream or a
/// protocol error stops it with that error; dropping `input` then makes the
/// sender stop too.
pub(crate) fn receive(landing: &Landing, input: impl Read) -> Result<()> {
    let mut input = io::BufReader::with_capacity(64 * 1024, input);
    let mut buf = Vec::new();
    let mut state = State::Idle;
    loop {
        let tag = match frame::read_frame(&mut input, &mut buf) {
            Ok(Some(tag)) => tag,
            Ok(None) if matches!(state, State::Idle) => return Ok(()),
            Ok(None) => {
                return Err(stop(state, PipeError::Malformed("the pipe closed in the middle of a file".into())))
            }
            Err(e) => return Err(stop(state, e)),
        };
        state = match (tag, state) {
            (FILE, State::Idle) => {
                let mut body = Body(&buf);
                let header = body.header().map_err(Error::from)?;
                body.finish().map_err(Error::from)?;
                match landing.begin(&header) {
                    Ok(incoming) => State::Landing(incoming),
                    Err(e) if e.kind().is_volume_error() => return Err(e),
                    // Reported by `begin`; drop this file's bytes.
                    Err(_) => State::Skipping,
                }
            }
            (DATA, State::Landing(mut incoming)) => {
                if incoming.written() + buf.len() as u64 > incoming.size() {
                    let e = PipeError::Malformed(format!("more than the {} bytes announced", incoming.size()));
                    return Err(stop(State::Landing(incoming), e));
                }
                match incoming.file().write_all(&buf) {
                    Ok(()) => {
                        incoming.record(buf.len() as u64);
                        State::Landing(incoming)
                    }
                    Err(e) => {
                        let e = Error::io("write", incoming.path().display(), e);
                        incoming.fail(&e);
                        if e.kind().is_volume_error() {
                            return Err(e);
                        }
                        State::Skipping
                    }
                }
            }
            (DATA, State::Skipping) => State::Skipping,
            (END, State::Landing(incoming)) => match incoming.commit() {
                Err(e) if e.kind().is_volume_error() => return Err(e),
                // Success, or a failure `commit` already reported.
                _ => State::Idle,
            },
            (END, State::Skipping) => State::Idle,
            (ABORT, State::Landing(incoming)) => {
                let mut body = Body(&buf);
                let e = body.error().and_then(|e| body.finish().map(|()| e));
                match e {
                    Ok(e) => incoming.fail(&e),
                    Err(bad) => return Err(stop(State::Landing(incoming), bad)),
                }
                State::Idle
            }
            (ABORT, State::Skipping) => State::Idle,
            (FAILED, State::Idle) => {
                let mut body = Body(&buf);
                let header = body.header().map_err(Error::from)?;
                let e = body.error().map_err(Error::from)?;
                body.finish().map_err(Error::from)?;
                landing.source_failed(&header, &e);
                State::Idle
            }
            (tag, state) => return Err(stop(state, PipeError::Malformed(format!("frame {tag} out of order")))),
        };
    }
}

/// Ends the current file as failed (if any) and returns the stream error.
fn stop(state: State, e: PipeError) -> Error {
    let e = Error::from(e);
    if let State::Landing(incoming) = state {
        incoming.fail(&e);
    }
    e
}
