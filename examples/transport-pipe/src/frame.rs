//! The wire format: framed records on a byte stream.
//!
//! Every frame is a tag byte, a little-endian `u32` length and that many
//! bytes. Lengths are checked against the tag's limit before anything is
//! allocated, and paths are validated with [`RelPath::from_bytes`], so a
//! corrupt or hostile stream yields an error, never a huge allocation or a
//! path outside the destination.
//!
//! | tag | frame   | body                                              |
//! |-----|---------|---------------------------------------------------|
//! | 1   | `File`  | header: path, size, mtime (ns), mode               |
//! | 2   | `Data`  | up to one chunk of the file's content              |
//! | 3   | `End`   | empty: the file's bytes are complete               |
//! | 4   | `Abort` | error kind, message: the source broke off the file |
//! | 5   | `Failed`| header, error kind, message: the source never opened it |

use crate::config::MAX_CHUNK;
use crate::error::PipeError;
use blit_api::{Error, ErrorKind, FileHeader, FileKind, RelPath};
use std::io::{self, Read, Write};

pub(crate) const FILE: u8 = 1;
pub(crate) const DATA: u8 = 2;
pub(crate) const END: u8 = 3;
pub(crate) const ABORT: u8 = 4;
pub(crate) const FAILED: u8 = 5;

/// Longest path a header may carry.
const MAX_PATH: usize = 64 * 1024;
/// Longest error message a frame may carry.
const MAX_MESSAGE: usize = 16 * 1024;
/// Longest non-data frame: a header plus an error.
const MAX_CONTROL: usize = 4 + MAX_PATH + 8 + 8 + 4 + 1 + 4 + MAX_MESSAGE;

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

/// Encodes a regular file's header.
pub(crate) fn encode_header(h: &FileHeader, out: &mut Vec<u8>) {
    out.extend_from_slice(&(h.path.as_bytes().len() as u32).to_le_bytes());
    out.extend_from_slice(h.path.as_bytes());
    out.extend_from_slice(&h.size.to_le_bytes());
    out.extend_from_slice(&h.mtime_ns.to_le_bytes());
    out.extend_from_slice(&h.mode.to_le_bytes());
    // Owner and group when present (flags 1 and 2), then the extended
    // attributes as a count of length-prefixed name and value pairs.
    out.push(u8::from(h.uid.is_some()) | u8::from(h.gid.is_some()) << 1);
    for id in [h.uid, h.gid].into_iter().flatten() {
        out.extend_from_slice(&id.to_le_bytes());
    }
    out.extend_from_slice(&(h.xattrs.len() as u32).to_le_bytes());
    for (name, value) in &h.xattrs {
        for part in [name, value] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
}

/// Encodes an error as kind and message.
pub(crate) fn encode_error(e: &Error, out: &mut Vec<u8>) {
    let kind = ErrorKind::ALL.iter().position(|k| *k == e.kind()).unwrap_or(ErrorKind::ALL.len() - 1);
    out.push(kind as u8);
    let msg = e.to_string();
    let mut end = msg.len().min(MAX_MESSAGE);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&(end as u32).to_le_bytes());
    out.extend_from_slice(&msg.as_bytes()[..end]);
}

/// Reads fields off a frame body, refusing to read past its end.
pub(crate) struct Body<'a>(pub(crate) &'a [u8]);

impl<'a> Body<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PipeError> {
        if n > self.0.len() {
            return Err(PipeError::Malformed(format!("a field wants {n} bytes, {} left", self.0.len())));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PipeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<usize, PipeError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    /// Decodes a header written by [`encode_header`].
    pub(crate) fn header(&mut self) -> Result<FileHeader, PipeError> {
        let len = self.u32()?;
        if len > MAX_PATH {
            return Err(PipeError::TooLong { tag: FILE, len, max: MAX_PATH });
        }
        let path = RelPath::from_bytes(self.take(len)?.to_vec()).map_err(PipeError::BadPath)?;
        let size = u64::from_le_bytes(self.array()?);
        let mtime_ns = i64::from_le_bytes(self.array()?);
        let mode = u32::from_le_bytes(self.array()?);
        let [flags] = self.array()?;
        if flags > 3 {
            return Err(PipeError::Malformed(format!("unknown header flags {flags:#x}")));
        }
        let mut id = |bit: u8| -> Result<Option<u32>, PipeError> {
            Ok(if flags & bit != 0 { Some(u32::from_le_bytes(self.array()?)) } else { None })
        };
        let (uid, gid) = (id(1)?, id(2)?);
        let mut xattrs = Vec::new();
        // Each pair takes at least 8 bytes, which `take` checks.
        for _ in 0..self.u32()? {
            let len = self.u32()?;
            let name = self.take(len)?.to_vec();
            if name.is_empty() || name.contains(&0) {
                return Err(PipeError::Malformed("a malformed extended attribute name".into()));
            }
            let len = self.u32()?;
            xattrs.push((name, self.take(len)?.to_vec()));
        }
        Ok(FileHeader { path, kind: FileKind::File, size, mtime_ns, mode, uid, gid, xattrs, ..Default::default() })
    }

    /// Decodes an error written by [`encode_error`].
    pub(crate) fn error(&mut self) -> Result<Error, PipeError> {
        let [kind] = self.array()?;
        let kind = ErrorKind::ALL.get(kind as usize).copied().unwrap_or(ErrorKind::Unexpected);
        let len = self.u32()?;
        let msg = String::from_utf8_lossy(self.take(len)?).into_owned();
        Ok(Error::new(kind, msg))
    }

    /// Refuses trailing bytes.
    pub(crate) fn finish(self) -> Result<(), PipeError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(PipeError::Malformed(format!("{n} unexpected trailing bytes"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(path: &[u8]) -> FileHeader {
        FileHeader {
            path: RelPath::from_bytes(path.to_vec()).unwrap(),
            kind: FileKind::File,
            size: 12,
            mtime_ns: -1_500_000_001,
            mode: 0o4755,
            link_target: None,
            checksum: None,
            ..Default::default()
        }
    }

    #[test]
    fn headers_carry_ownership_and_xattrs() {
        let h =
            FileHeader { uid: Some(0), gid: Some(7), xattrs: vec![(b"user.a".to_vec(), vec![0, 255])], ..header(b"f") };
        for h in [h, FileHeader { gid: Some(3), ..header(b"g") }] {
            let mut body = Vec::new();
            encode_header(&h, &mut body);
            let mut b = Body(&body);
            assert_eq!(b.header().unwrap(), h);
            b.finish().unwrap();
        }
    }

    #[test]
    fn headers_and_errors_round_trip() {
        let h = header(b"d\xff/f \n");
        let mut body = Vec::new();
        encode_header(&h, &mut body);
        encode_error(&Error::new(ErrorKind::NoSpace, "full"), &mut body);
        let mut wire = Vec::new();
        write_frame(&mut wire, FAILED, &body).unwrap();
        let mut buf = Vec::new();
        let mut input = &wire[..];
        assert_eq!(read_frame(&mut input, &mut buf).unwrap(), Some(FAILED));
        let mut b = Body(&buf);
        assert_eq!(b.header().unwrap(), h);
        let e = b.error().unwrap();
        assert_eq!((e.kind(), e.message()), (ErrorKind::NoSpace, "full"));
        b.finish().unwrap();
        assert_eq!(read_frame(&mut input, &mut buf).unwrap(), None);
    }

    #[test]
    fn refuses_lengths_before_allocating_and_unsafe_paths() {
        let mut buf = Vec::new();
        let huge = [DATA, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(read_frame(&mut &huge[..], &mut buf), Err(PipeError::TooLong { .. })));
        assert!(buf.capacity() < MAX_CHUNK, "nothing was allocated for the refused frame");
        assert!(matches!(read_frame(&mut &[9u8, 0, 0, 0, 0][..], &mut buf), Err(PipeError::UnknownTag(9))));
        assert!(matches!(read_frame(&mut &[DATA, 4, 0][..], &mut buf), Err(PipeError::Malformed(_))));
        assert!(matches!(read_frame(&mut &[DATA, 4, 0, 0, 0, 1][..], &mut buf), Err(PipeError::Io { .. })));

        let mut body = Vec::new();
        body.extend_from_slice(&5u32.to_le_bytes());
        body.extend_from_slice(b"../x0");
        assert!(matches!(Body(&body).header(), Err(PipeError::BadPath(_))));
        let mut body = Vec::new();
        body.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Body(&body).header(), Err(PipeError::TooLong { .. })));
        let e: Error = PipeError::Malformed("x".into()).into();
        assert_eq!(e.kind(), ErrorKind::Protocol);
    }
}
