//! The sending end of one data connection: records into a small buffer,
//! file bodies straight from the page cache with `sendfile(2)`.
//!
//! Small records (prefixes, headers, tar bytes) collect in a buffer of
//! [`OUT_BUF`] bytes that is flushed when it fills, before a file body, and
//! whenever the connection is about to wait for work, so nothing lingers. A
//! file body goes out in data records of at most the chunk size; each
//! record's bytes move with `sendfile` (flagged zero-copy) unless the
//! records are compressed or the file system refuses `sendfile`, in which
//! case they are read into user space. A file that shrinks or fails to read
//! after a record was announced is padded to the announced length; the
//! caller then sends `Abort`, so the receiver drops the file.

use crate::frame::{encode_prefix, Tag, FLAG_ZERO_COPY, FLAG_ZSTD, MAX_ZSTD_RAW};
use crate::link::Link;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

/// Bytes of small records collected before a write.
const OUT_BUF: usize = 256 * 1024;

/// How a file body ended.
#[derive(Debug)]
pub(crate) enum Body {
    /// Every byte was sent.
    Sent,
    /// The file ended early or failed to read; the body was padded and the
    /// caller must send `Abort` with this error.
    Short(io::Error),
}

/// The sending end of one connection.
pub(crate) struct Out {
    stream: Link,
    buf: Vec<u8>,
    chunk: usize,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    read_buf: Vec<u8>,
    zbuf: Vec<u8>,
    /// False once the file system refused `sendfile`, and over TLS.
    sendfile: bool,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Out").field("chunk", &self.chunk).field("zstd", &self.zstd.is_some()).finish()
    }
}

impl Out {
    /// Wraps a connection.
    pub(crate) fn new(stream: Link) -> Self {
        let sendfile = stream.zero_copy();
        Out {
            stream,
            buf: Vec::with_capacity(OUT_BUF),
            chunk: crate::config::DEFAULT_CHUNK as usize,
            zstd: None,
            read_buf: Vec::new(),
            zbuf: Vec::new(),
            sendfile,
        }
    }

    /// Sets the chunk size and the compression level (`None`: raw).
    pub(crate) fn configure(&mut self, chunk: usize, zstd_level: Option<i32>) -> io::Result<()> {
        self.chunk = chunk;
        self.zstd = match zstd_level {
            Some(level) => Some(zstd::bulk::Compressor::new(level)?),
            None => None,
        };
        Ok(())
    }

    /// Bytes of file data per record.
    pub(crate) fn chunk(&self) -> usize {
        self.chunk
    }

    /// The connection (to read probe answers).
    pub(crate) fn stream(&mut self) -> &mut Link {
        &mut self.stream
    }

    /// Queues a record without data.
    pub(crate) fn record(&mut self, tag: Tag, header: &[u8]) -> io::Result<()> {
        self.reserve(crate::frame::PREFIX_LEN + header.len())?;
        self.buf.extend_from_slice(&encode_prefix(tag, 0, header.len(), 0));
        self.buf.extend_from_slice(header);
        Ok(())
    }

    fn reserve(&mut self, n: usize) -> io::Result<()> {
        if self.buf.len() + n > OUT_BUF {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes what is queued.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.stream.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Whether records are waiting in the buffer.
    pub(crate) fn has_pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Sends `bytes` as one record of `tag` (`Data` or `Probe`), compressed
    /// when compression is on and it pays for this record.
    pub(crate) fn data(&mut self, tag: Tag, bytes: &[u8]) -> io::Result<()> {
        if tag == Tag::Data && self.zstd.is_some() && bytes.len() > MAX_ZSTD_RAW as usize {
            // Receivers inflate at most this much per record.
            for part in bytes.chunks(MAX_ZSTD_RAW as usize) {
                self.data(tag, part)?;
            }
            return Ok(());
        }
        if tag == Tag::Data {
            if let Some(z) = self.zstd.as_mut() {
                self.zbuf.resize(zstd::zstd_safe::compress_bound(bytes.len()), 0);
                let n = z.compress_to_buffer(bytes, &mut self.zbuf[..])?;
                if n < bytes.len() {
                    let header = (bytes.len() as u32).to_be_bytes();
                    self.reserve(crate::frame::PREFIX_LEN + 4)?;
                    self.buf.extend_from_slice(&encode_prefix(Tag::Data, FLAG_ZSTD, 4, n as u64));
                    self.buf.extend_from_slice(&header);
                    return self.raw(n, true);
                }
            }
        }
        self.reserve(crate::frame::PREFIX_LEN)?;
        self.buf.extend_from_slice(&encode_prefix(tag, 0, 0, bytes.len() as u64));
        if self.buf.len() + bytes.len() <= OUT_BUF {
            self.buf.extend_from_slice(bytes);
            Ok(())
        } else {
            self.flush()?;
            self.stream.write_all(bytes)
        }
    }

    /// Writes the first `n` bytes of the compression buffer.
    fn raw(&mut self, n: usize, from_zbuf: bool) -> io::Result<()> {
        let Out { buf, zbuf, read_buf, stream, .. } = self;
        let src = if from_zbuf { &zbuf[..n] } else { &read_buf[..n] };
        if buf.len() + n <= OUT_BUF {
            buf.extend_from_slice(src);
            Ok(())
        } else {
            stream.write_all(buf)?;
            buf.clear();
            stream.write_all(src)
        }
    }

    /// Sends `len` bytes of `file` from `offset` as data records. Returns
    /// the bytes that moved without a user-space copy, and how the body
    /// ended. An error is a connection error: the transfer stops.
    pub(crate) fn body(&mut self, file: &File, offset: u64, len: u64) -> io::Result<(u64, Body)> {
        let mut zero_copy = 0;
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(self.chunk as u64) as usize;
            let at = offset + done;
            done += n as u64;
            if self.zstd.is_none() && self.sendfile {
                self.reserve(crate::frame::PREFIX_LEN)?;
                self.buf.extend_from_slice(&encode_prefix(Tag::Data, FLAG_ZERO_COPY, 0, n as u64));
                self.flush()?;
                match self.sendfile_exact(file, at, n)? {
                    (moved, None) => zero_copy += moved,
                    (moved, Some(short)) => {
                        zero_copy += moved;
                        self.pad(n - moved as usize)?;
                        return Ok((zero_copy, Body::Short(short)));
                    }
                }
                continue;
            }
            self.read_buf.resize(n, 0);
            let got = read_at_full(file, &mut self.read_buf[..n], at);
            match got {
                Ok(got) if got == n => {
                    let chunk = std::mem::take(&mut self.read_buf);
                    let sent = self.data(Tag::Data, &chunk[..n]);
                    self.read_buf = chunk;
                    sent?;
                }
                other => {
                    // Announce and pad the record, so the stream stays in step.
                    self.data(Tag::Data, &vec![0u8; n])?;
                    let e = match other {
                        Ok(_) => io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was read"),
                        Err(e) => e,
                    };
                    return Ok((zero_copy, Body::Short(e)));
                }
            }
        }
        Ok((zero_copy, Body::Sent))
    }

    /// Moves exactly `n` bytes with `sendfile`, falling back to reads when
    /// the file system refuses it. Returns the zero-copy bytes and, when the
    /// file ended or failed early, why (the rest is still owed).
    fn sendfile_exact(&mut self, file: &File, at: u64, n: usize) -> io::Result<(u64, Option<io::Error>)> {
        let mut off = at as libc::off_t;
        let mut moved = 0usize;
        while moved < n {
            // SAFETY: both descriptors are open for the duration of the call
            // and `off` is a valid pointer to a local.
            let r = unsafe { libc::sendfile(self.stream.tcp().as_raw_fd(), file.as_raw_fd(), &mut off, n - moved) };
            if r > 0 {
                moved += r as usize;
                continue;
            }
            if r == 0 {
                let e = io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was read");
                return Ok((moved as u64, Some(e)));
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) if moved == 0 => {
                    self.sendfile = false;
                    return self.copy_through(file, at, n).map(|short| (0, short));
                }
                Some(libc::EAGAIN) => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "the receiver stopped reading"));
                }
                Some(libc::EIO) => return Ok((moved as u64, Some(e))),
                _ => return Err(e),
            }
        }
        Ok((moved as u64, None))
    }

    /// Reads and writes `n` bytes of an already announced record.
    fn copy_through(&mut self, file: &File, at: u64, n: usize) -> io::Result<Option<io::Error>> {
        self.read_buf.resize(n, 0);
        match read_at_full(file, &mut self.read_buf[..n], at) {
            Ok(got) if got == n => self.raw(n, false).map(|()| None),
            other => {
                self.pad(n)?;
                Ok(Some(other.err().unwrap_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))))
            }
        }
    }

    /// Writes `n` zero bytes (the rest of an announced record).
    fn pad(&mut self, mut n: usize) -> io::Result<()> {
        let zeros = [0u8; 8192];
        self.flush()?;
        while n > 0 {
            let k = n.min(zeros.len());
            self.stream.write_all(&zeros[..k])?;
            n -= k;
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
pub(crate) fn read_at_full(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
