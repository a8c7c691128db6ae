//! The wire format: framed records on a byte stream.
//!
//! Every frame is a tag byte, a little-endian `u32` length and that many
//! bytes. Lengths are checked against the tag's limit before anything is
//! allocated, and paths are validated with [`RelPath::from_bytes`], so a
//! corrupt or hostile stream yields an error, never a huge allocation or a
//! path outside the destination.
//!
//! Headers and errors in bodies use blit's shared encoding
//! ([`blit_api::wire`]), which validates what it decodes.
//!
//! | tag | frame   | body                                              |
//! |-----|---------|---------------------------------------------------|
//! | 1   | `File`  | file header                                       |
//! | 2   | `Data`  | up to one chunk of the file's content              |
//! | 3   | `End`   | empty: the file's bytes are complete               |
//! | 4   | `Abort` | failure: the source broke off the file             |
//! | 5   | `Failed`| file header, failure: the source never opened it   |

use crate::config::MAX_CHUNK;
use blit_api::{Error, ErrorKind, Result};
use std::io::{self, Read, Write};

pub(crate) const FILE: u8 = 1;
pub(crate) const DATA: u8 = 2;
pub(crate) const END: u8 = 3;
pub(crate) const ABORT: u8 = 4;
pub(crate) const FAILED: u8 = 5;

/// Longest non-data frame: a header (a 4 KiB path, 32 KiB of extended
/// attributes) plus a failure (16 KiB of text), with room to spare.
const MAX_CONTROL: usize = 64 * 1024;

/// The pipe itself failed; a receiver that stopped reads as `Cancelled`.
pub(crate) fn pipe_io(op: &'static str) -> impl Fn(io::Error) -> Error {
    move |e| match e.kind() {
        io::ErrorKind::BrokenPipe => Error::new(ErrorKind::Cancelled, "the receiving half of the pipe stopped"),
        _ => Error::io(op, "pipe", e),
    }
}

/// A stream that does not decode: a protocol error.
pub(crate) fn malformed(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Protocol, format!("malformed frame: {what}")).with_hint("both halves must run the same build")
}

/// Writes one frame.
pub(crate) fn write_frame(out: &mut impl Write, tag: u8, body: &[u8]) -> Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| malformed("frame body over 4 GiB"))?;
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&len.to_le_bytes());
    out.write_all(&head).and_then(|()| out.write_all(body)).map_err(pipe_io("write to"))
}

/// Reads one frame into `buf`; `None` at a clean end of stream.
pub(crate) fn read_frame(input: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<u8>> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(malformed("the stream ended inside a frame header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(pipe_io("read from")(e)),
        }
    }
    let tag = head[0];
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let max = match tag {
        DATA => MAX_CHUNK,
        FILE | END | ABORT | FAILED => MAX_CONTROL,
        other => return Err(malformed(format!("unknown tag {other}"))),
    };
    if len > max {
        return Err(malformed(format!("frame {tag} announces {len} bytes, more than {max}")));
    }
    buf.resize(len, 0);
    input.read_exact(buf).map_err(pipe_io("read from"))?;
    Ok(Some(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut wire = Vec::new();
        write_frame(&mut wire, FAILED, b"body").unwrap();
        write_frame(&mut wire, END, &[]).unwrap();
        let (mut buf, mut input) = (Vec::new(), &wire[..]);
        assert_eq!(read_frame(&mut input, &mut buf).unwrap(), Some(FAILED));
        assert_eq!(buf, b"body");
        assert_eq!(read_frame(&mut input, &mut buf).unwrap(), Some(END));
        assert_eq!(read_frame(&mut input, &mut buf).unwrap(), None);
    }

    #[test]
    fn refuses_lengths_before_allocating() {
        let mut buf = Vec::new();
        let huge = [DATA, 0xff, 0xff, 0xff, 0xff];
        let kind = |r: Result<Option<u8>>| r.unwrap_err().kind();
        assert!(read_frame(&mut &huge[..], &mut buf).unwrap_err().to_string().contains("announces"));
        assert!(buf.capacity() < MAX_CHUNK, "nothing was allocated for the refused frame");
        assert!(read_frame(&mut &[9u8, 0, 0, 0, 0][..], &mut buf).unwrap_err().to_string().contains("unknown tag 9"));
        assert_eq!(kind(read_frame(&mut &[DATA, 4, 0][..], &mut buf)), ErrorKind::Protocol);
        assert_ne!(
            kind(read_frame(&mut &[DATA, 4, 0, 0, 0, 1][..], &mut buf)),
            ErrorKind::Protocol,
            "a short body is the pipe's"
        );
    }
}
