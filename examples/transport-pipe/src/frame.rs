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
use crate::error::PipeError;
use std::io::{self, Read, Write};

pub(crate) const FILE: u8 = 1;
pub(crate) const DATA: u8 = 2;
pub(crate) const END: u8 = 3;
pub(crate) const ABORT: u8 = 4;
pub(crate) const FAILED: u8 = 5;

/// Longest non-data frame: a header (a 4 KiB path, 32 KiB of extended
/// attributes) plus a failure (16 KiB of text), with room to spare.
const MAX_CONTROL: usize = 64 * 1024;

fn io_err(op: &'static str) -> impl Fn(io::Error) -> PipeError {
    move |source| PipeError::Io { op, source }
}

/// Writes one frame.
pub(crate) fn write_frame(out: &mut impl Write, tag: u8, body: &[u8]) -> Result<(), PipeError> {
    let len = u32::try_from(body.len()).map_err(|_| PipeError::Malformed("frame body over 4 GiB".into()))?;
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&len.to_le_bytes());
    out.write_all(&head).and_then(|()| out.write_all(body)).map_err(io_err("write to"))
}

/// Reads one frame into `buf`; `None` at a clean end of stream.
pub(crate) fn read_frame(input: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<u8>, PipeError> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(PipeError::Malformed("the stream ended inside a frame header".into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("read from")(e)),
        }
    }
    let tag = head[0];
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let max = match tag {
        DATA => MAX_CHUNK,
        FILE | END | ABORT | FAILED => MAX_CONTROL,
        other => return Err(PipeError::UnknownTag(other)),
    };
    if len > max {
        return Err(PipeError::TooLong { tag, len, max });
    }
    buf.resize(len, 0);
    input.read_exact(buf).map_err(io_err("read from"))?;
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
        assert!(matches!(read_frame(&mut &huge[..], &mut buf), Err(PipeError::TooLong { .. })));
        assert!(buf.capacity() < MAX_CHUNK, "nothing was allocated for the refused frame");
        assert!(matches!(read_frame(&mut &[9u8, 0, 0, 0, 0][..], &mut buf), Err(PipeError::UnknownTag(9))));
        assert!(matches!(read_frame(&mut &[DATA, 4, 0][..], &mut buf), Err(PipeError::Malformed(_))));
        assert!(matches!(read_frame(&mut &[DATA, 4, 0, 0, 0, 1][..], &mut buf), Err(PipeError::Io { .. })));
        let e: blit_api::Error = PipeError::Malformed("x".into()).into();
        assert_eq!(e.kind(), blit_api::ErrorKind::Protocol);
    }
}
