//! The one byte encoding of what payload records carry besides bytes: a
//! regular file's header and a failure, plus the integers and
//! length-prefixed fields they are made of (big-endian). Transports that
//! frame records onto a byte stream (the TCP data plane, the pipe example)
//! encode their record headers with it; every read is bounds-checked and
//! every decoded header validated ([`RelPath::from_bytes`],
//! [`FileHeader::check_bounds`]).

use crate::{Error, ErrorKind, FileHeader, FileKind, RelPath, Result};

/// Most bytes of a failure's text on the wire (longer ones are cut).
pub const MAX_MESSAGE: usize = 16 * 1024;

fn bad(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, what)
}

/// Builds a record header.
#[derive(Debug, Default)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    /// Appends a u32, big-endian.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Appends a u64, big-endian.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Appends length-prefixed bytes (u32 length).
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
        self
    }
    /// Appends a regular file's header: size, mtime, mode, path, then a
    /// byte of flags (1: a uid follows, 2: a gid follows), the ids, and the
    /// extended attributes (a u32 count of name and value pairs).
    pub fn file_header(&mut self, h: &FileHeader) -> &mut Self {
        self.u64(h.size).u64(h.mtime_ns as u64).u32(h.mode).bytes(h.path.as_bytes());
        self.u8(u8::from(h.uid.is_some()) | u8::from(h.gid.is_some()) << 1);
        if let Some(uid) = h.uid {
            self.u32(uid);
        }
        if let Some(gid) = h.gid {
            self.u32(gid);
        }
        self.u32(h.xattrs.len() as u32);
        for (name, value) in &h.xattrs {
            self.bytes(name).bytes(value);
        }
        self
    }
    /// Appends a failure: its kind and its full text.
    pub fn failure(&mut self, e: &Error) -> &mut Self {
        let text = e.to_string();
        let mut end = text.len().min(MAX_MESSAGE);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.u8(kind_code(e.kind())).bytes(&text.as_bytes()[..end])
    }
}

/// Reads a record header; every read is bounds-checked.
#[derive(Debug)]
pub struct Dec<'a>(pub &'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("a truncated record header"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    /// Reads a byte.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("took 4 bytes")))
    }
    /// Reads a big-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("took 8 bytes")))
    }
    /// Reads length-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// Reads a regular file's header; the path is validated (the empty
    /// path names the transfer root itself, a single file).
    pub fn file_header(&mut self) -> Result<FileHeader> {
        let size = self.u64()?;
        let mtime_ns = self.u64()? as i64;
        let mode = self.u32()?;
        // The root's empty path is valid: a transfer of one file.
        let path = RelPath::from_bytes(self.bytes()?.to_vec()).map_err(|e| bad(e.to_string()))?;
        let flags = self.u8()?;
        if flags > 3 {
            return Err(bad(format!("unknown file header flags {flags:#x}")));
        }
        let uid = if flags & 1 != 0 { Some(self.u32()?) } else { None };
        let gid = if flags & 2 != 0 { Some(self.u32()?) } else { None };
        // Every pair takes at least 8 bytes, which `take` checks: a count
        // cannot make this loop outrun the header.
        let count = self.u32()?;
        let mut xattrs = Vec::new();
        for _ in 0..count {
            let name = self.bytes()?;
            if name.is_empty() || name.contains(&0) {
                return Err(bad("a malformed extended attribute name"));
            }
            xattrs.push((name.to_vec(), self.bytes()?.to_vec()));
        }
        let header =
            FileHeader { path, kind: FileKind::File, size, mtime_ns, mode, uid, gid, xattrs, ..Default::default() };
        header.check_bounds().map_err(|e| bad(e.to_string()))?;
        Ok(header)
    }
    /// Reads a failure.
    pub fn failure(&mut self) -> Result<Error> {
        let kind = kind_from_code(self.u8()?);
        let text = self.bytes()?;
        Ok(Error::new(kind, String::from_utf8_lossy(text).into_owned()))
    }
    /// Refuses bytes left over.
    pub fn end(&self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(bad(format!("{} unexpected bytes at the end of a record header", self.0.len())))
        }
    }
}

fn kind_code(kind: ErrorKind) -> u8 {
    ErrorKind::ALL.iter().position(|k| *k == kind).unwrap_or(ErrorKind::ALL.len() - 1) as u8
}

fn kind_from_code(code: u8) -> ErrorKind {
    ErrorKind::ALL.get(code as usize).copied().unwrap_or(ErrorKind::Unexpected)
}

#[cfg(test)]
#[path = "wire/tests.rs"]
mod tests;
