//! The two halves: the sender frames files into the pipe, the receiver
//! decodes frames and lands files through [`Landing`].
//!
//! Both run on blocking threads and only frame: the sender frames the
//! records [`send_file`] makes of each file (it reads a chunk and writes it
//! as one `Data` frame), the receiver decodes frames into a [`Lander`],
//! which writes each one into the landing file as it arrives. Neither holds
//! more than one chunk of file content.

use crate::frame::{self, ABORT, DATA, END, FAILED, FILE};
use blit_api::wire::{Dec, Enc};
use blit_api::{
    send_file, Error, FileHeader, Lander, Landing, PayloadReader, PlanReceiver, RecordWriter, Result, Sent,
};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use tokio::sync::mpsc::error::TryRecvError;

/// Sends every planned file, then closes the pipe (by dropping `out`).
pub(crate) fn send(
    mut plans: PlanReceiver,
    reader: &dyn PayloadReader,
    out: impl Write,
    chunk_size: usize,
) -> Result<()> {
    let mut out =
        Frames { out: BufWriter::with_capacity(64 * 1024, out), chunk: vec![0u8; chunk_size], body: Enc::default() };
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
    body: Enc,
}

impl<W: Write> Frames<W> {
    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(frame::pipe_io("write to"))
    }
}

impl<W: Write> RecordWriter for Frames<W> {
    fn file(&mut self, header: &FileHeader) -> Result<()> {
        self.body.0.clear();
        self.body.file_header(header);
        frame::write_frame(&mut self.out, FILE, &self.body.0)
    }

    fn body(&mut self, file: &Arc<File>, offset: u64, len: u64) -> Result<Sent> {
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
        frame::write_frame(&mut self.out, END, &[])
    }

    fn abort(&mut self, error: &Error) -> Result<()> {
        self.body.0.clear();
        self.body.failure(error);
        frame::write_frame(&mut self.out, ABORT, &self.body.0)
    }

    fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()> {
        self.body.0.clear();
        self.body.file_header(header).failure(error);
        frame::write_frame(&mut self.out, FAILED, &self.body.0)
    }
}

/// Lands files until the pipe closes: decodes each frame into the shared
/// [`Lander`]. A volume error, a broken stream or a protocol error stops it
/// with that error; dropping `input` then makes the sender stop too.
pub(crate) fn receive(landing: &Landing, input: impl Read) -> Result<()> {
    let mut input = io::BufReader::with_capacity(64 * 1024, input);
    let mut buf = Vec::new();
    let mut lander = Lander::new(landing);
    loop {
        let tag = match frame::read_frame(&mut input, &mut buf) {
            Ok(Some(tag)) => tag,
            Ok(None) if !lander.busy() => return lander.done(),
            Ok(None) => return Err(lander.stop(frame::malformed("the pipe closed in the middle of a file"))),
            Err(e) => return Err(lander.stop(e)),
        };
        let mut body = Dec(&buf);
        match tag {
            FILE => {
                let header = body.file_header()?;
                body.end()?;
                lander.file(header)?;
            }
            DATA => lander.data(&buf)?,
            END => lander.end()?,
            ABORT => {
                let e = body.failure()?;
                body.end()?;
                lander.abort(&e)?;
            }
            FAILED => {
                let header = body.file_header()?;
                let e = body.failure()?;
                body.end()?;
                lander.failed(&header, &e)?;
            }
            tag => return Err(frame::malformed(format!("unknown frame {tag}"))),
        }
    }
}
