//! The receiving end of one data connection: checked records in, file
//! bytes out in bounded pieces.
//!
//! Every prefix goes through [`decode_record_header`] before anything is
//! read past it. Raw data is read in pieces of at most [`PIECE`] bytes into
//! one reused buffer; a compressed record (at most [`crate::frame::MAX_DATA_LEN`] bytes)
//! is read whole and inflated into a buffer of exactly the raw length its
//! header announces (at most [`crate::frame::MAX_CHUNK`]). A read that
//! waits longer than the idle timeout fails: the sender sends keep-alives
//! while it has nothing to send.

use crate::frame::{
    decode_record_header, Dec, Prefix, Tag, FLAG_ZERO_COPY, FLAG_ZSTD, MAX_ZSTD_RAW, PREFIX_LEN, ZSTD_WINDOW_LOG_MAX,
};
use crate::link::Link;
use crate::splice::{Pipe, Stop};
use blit_api::{Error, ErrorKind, FileHeader, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;

/// Most raw bytes handed out at once (1 MiB).
pub(crate) const PIECE: usize = 1024 * 1024;

/// Compressed bytes read from the wire at a time.
const ZIN: usize = 64 * 1024;
/// Bytes read ahead from the socket: small records arrive together, and
/// little of a large record's data is read ahead (it is spliced instead).
const READ_AHEAD: usize = 64 * 1024;

/// What comes next inside a file, range or shard.
#[derive(Debug)]
pub(crate) enum Piece {
    /// This many bytes, in [`Conn::bytes`].
    Data { len: usize, zero_copy: bool },
    /// A raw data record of `len` bytes, still unread: move it with
    /// [`Conn::land_raw`] or drop it with [`Conn::skip`] (only from
    /// [`Conn::body_piece`]).
    Raw { len: u64, zero_copy: bool },
    /// The unit ended.
    End,
    /// The source could not finish it.
    Abort(Error),
    /// A file of a shard could not be read on the source side.
    SourceFailed(Box<FileHeader>, Error),
}

/// The receiving end of one connection.
pub(crate) struct Conn {
    reader: BufReader<Link>,
    peer: String,
    idle_secs: u64,
    head: Vec<u8>,
    buf: Vec<u8>,
    /// Compressed bytes read and not yet inflated: `zin[zpos..zlen]`.
    zin: Vec<u8>,
    zpos: usize,
    zlen: usize,
    /// Compressed bytes of the current record still on the wire.
    zleft: u64,
    /// Raw bytes the current compressed record still has to yield.
    zraw: u64,
    unzip: Option<zstd::stream::raw::Decoder<'static>>,
    /// Raw bytes left in the current data record.
    left: u64,
    zero_copy: bool,
    probe_bytes: u64,
    /// The splice pipe, made on first use.
    pipe: Option<Pipe>,
    /// False once the kernel refused to splice for this connection, and over TLS.
    splice: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("peer", &self.peer).finish_non_exhaustive()
    }
}

/// A protocol error naming the peer.
pub(crate) fn protocol(peer: &str, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Protocol, format!("the data plane peer sent {what}"))
        .with_path(peer.to_owned())
        .with_hint("check that both sides run the same blit release")
}

impl Conn {
    /// Wraps a connection; `peer` names it in errors.
    pub(crate) fn new(stream: Link, peer: String, idle: std::time::Duration) -> io::Result<Conn> {
        stream.tcp().set_read_timeout(Some(idle))?;
        let splice = stream.zero_copy();
        Ok(Conn {
            reader: BufReader::with_capacity(READ_AHEAD, stream),
            peer,
            idle_secs: idle.as_secs(),
            head: Vec::new(),
            buf: vec![0; PIECE],
            zin: Vec::new(),
            zpos: 0,
            zlen: 0,
            zleft: 0,
            zraw: 0,
            unzip: None,
            left: 0,
            zero_copy: false,
            probe_bytes: 0,
            pipe: None,
            splice,
        })
    }

    /// The peer, for messages.
    pub(crate) fn peer(&self) -> &str {
        &self.peer
    }

    fn io(&self, e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Error::new(ErrorKind::Io, format!("no data for {} s; the sender stalled", self.idle_secs))
                    .with_path(self.peer.clone())
                    .with_hint("rerun the transfer; check the network between the two hosts")
            }
            io::ErrorKind::UnexpectedEof => {
                Error::new(ErrorKind::Cancelled, "the data connection closed before the payload ended")
                    .with_path(self.peer.clone())
            }
            _ => Error::new(ErrorKind::Io, format!("the data connection failed: {e}")).with_path(self.peer.clone()),
        }
    }

    /// Reads the next record's prefix and header. The header is then in
    /// [`Conn::header`]; the caller reads or skips its data.
    pub(crate) fn next(&mut self) -> Result<Prefix> {
        let mut raw = [0u8; PREFIX_LEN];
        self.reader.read_exact(&mut raw).map_err(|e| self.io(e))?;
        let prefix = decode_record_header(&raw).map_err(|e| protocol(&self.peer, e.message()))?;
        self.head.resize(prefix.header_len as usize, 0);
        self.reader.read_exact(&mut self.head).map_err(|e| self.io(e))?;
        Ok(prefix)
    }

    /// The current record's header.
    pub(crate) fn header(&self) -> Dec<'_> {
        Dec(&self.head)
    }

    /// Reads and drops `n` bytes of data.
    pub(crate) fn skip(&mut self, mut n: u64) -> Result<()> {
        while n > 0 {
            let k = n.min(self.buf.len() as u64) as usize;
            self.reader.read_exact(&mut self.buf[..k]).map_err(|e| self.io(e))?;
            n -= k as u64;
        }
        Ok(())
    }

    /// A `Probe` record: drops its data and counts it.
    pub(crate) fn probe(&mut self, prefix: &Prefix) -> Result<()> {
        self.skip(prefix.data_len)?;
        self.probe_bytes += prefix.data_len;
        Ok(())
    }

    /// A `ProbeEnd` record: answers the bytes of this round.
    pub(crate) fn probe_end(&mut self) -> Result<()> {
        let answer = std::mem::take(&mut self.probe_bytes).to_be_bytes();
        self.reader.get_mut().write_all(&answer).map_err(|e| self.io(e))
    }

    /// The bytes of the last [`Piece::Data`].
    pub(crate) fn bytes(&self, len: usize) -> &[u8] {
        &self.buf[..len]
    }

    /// The next piece of the current file, range or shard.
    pub(crate) fn piece(&mut self) -> Result<Piece> {
        self.next_piece(false)
    }

    /// Like [`Conn::piece`], but a raw data record comes back unread as
    /// [`Piece::Raw`], so its bytes can go straight to a file.
    pub(crate) fn body_piece(&mut self) -> Result<Piece> {
        self.next_piece(true)
    }

    fn next_piece(&mut self, lazy: bool) -> Result<Piece> {
        loop {
            if self.zraw > 0 {
                let len = self.inflate_piece()?;
                return Ok(Piece::Data { len, zero_copy: false });
            }
            if self.left > 0 {
                let n = self.left.min(PIECE as u64) as usize;
                self.reader.read_exact(&mut self.buf[..n]).map_err(|e| self.io(e))?;
                self.left -= n as u64;
                return Ok(Piece::Data { len: n, zero_copy: self.zero_copy });
            }
            let prefix = self.next()?;
            match prefix.tag {
                Tag::Data if prefix.flags & FLAG_ZSTD != 0 => {
                    self.start_inflate(prefix.data_len)?;
                    let len = self.inflate_piece()?;
                    return Ok(Piece::Data { len, zero_copy: false });
                }
                Tag::Data if lazy => {
                    return Ok(Piece::Raw { len: prefix.data_len, zero_copy: prefix.flags & FLAG_ZERO_COPY != 0 });
                }
                Tag::Data => {
                    self.left = prefix.data_len;
                    self.zero_copy = prefix.flags & FLAG_ZERO_COPY != 0;
                }
                Tag::End => return Ok(Piece::End),
                Tag::Abort => {
                    let e = self.header().failure().map_err(|e| protocol(&self.peer, e.message()))?;
                    return Ok(Piece::Abort(e));
                }
                Tag::SourceFailed => {
                    let mut d = self.header();
                    let parsed = d.file_header().and_then(|h| Ok((h, d.failure()?)));
                    let (h, e) = parsed.map_err(|e| protocol(&self.peer, e.message()))?;
                    return Ok(Piece::SourceFailed(Box::new(h), e));
                }
                Tag::KeepAlive => {}
                other => return Err(protocol(&self.peer, format!("a {other:?} record inside a file or shard"))),
            }
        }
    }

    /// Moves the `len` bytes of a [`Piece::Raw`] record into `file` at `at`:
    /// what the read-ahead holds with a positional write, the rest with
    /// `splice` where the kernel allows ([`crate::splice`]), else with reads
    /// and positional writes. The outer error is the connection's (fatal);
    /// the inner one is the file's, after which the rest of the record was
    /// read and dropped, so the connection stays in step.
    pub(crate) fn land_raw(&mut self, file: &File, at: u64, len: u64) -> Result<std::result::Result<(), io::Error>> {
        let mut done = 0u64;
        let ahead = self.reader.buffer();
        let k = (ahead.len() as u64).min(len) as usize;
        if k > 0 {
            let written = file.write_all_at(&ahead[..k], at);
            self.reader.consume(k);
            done = k as u64;
            if let Err(e) = written {
                self.skip(len - done)?;
                return Ok(Err(e));
            }
        }
        if self.splice && done < len {
            if self.pipe.is_none() {
                self.pipe = Pipe::new().ok();
            }
            match self.pipe.as_ref().map(|p| p.land(self.reader.get_ref().tcp(), file, at + done, len - done)) {
                Some(Ok(())) => return Ok(Ok(())),
                None | Some(Err(Stop::Unsupported)) => self.splice = false,
                Some(Err(Stop::Fallback(consumed))) => {
                    self.splice = false;
                    done += consumed;
                }
                Some(Err(Stop::Socket(e))) => return Err(self.io(e)),
                Some(Err(Stop::File(e, consumed))) => {
                    self.skip(len - done - consumed)?;
                    return Ok(Err(e));
                }
            }
        }
        while done < len {
            let n = (len - done).min(PIECE as u64) as usize;
            self.reader.read_exact(&mut self.buf[..n]).map_err(|e| self.io(e))?;
            if let Err(e) = file.write_all_at(&self.buf[..n], at + done) {
                done += n as u64;
                self.skip(len - done)?;
                return Ok(Err(e));
            }
            done += n as u64;
        }
        Ok(Ok(()))
    }

    /// Starts a compressed record of `len` bytes on the wire: checks the
    /// raw size it announces and readies the decoder. Nothing is sized from
    /// the announcements: compressed bytes are read [`ZIN`] at a time and
    /// inflated [`PIECE`] at a time (see [`Conn::inflate_piece`]).
    fn start_inflate(&mut self, len: u64) -> Result<()> {
        let raw = self.header().u32().map_err(|e| protocol(&self.peer, e.message()))?;
        if raw == 0 || raw > MAX_ZSTD_RAW {
            return Err(protocol(&self.peer, format!("a compressed record of {raw} raw bytes (1 to {MAX_ZSTD_RAW})")));
        }
        if self.unzip.is_none() {
            let mut d = zstd::stream::raw::Decoder::new().map_err(|e| self.io(e))?;
            d.set_parameter(zstd::stream::raw::DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))
                .map_err(|e| self.io(e))?;
            self.unzip = Some(d);
            self.zin = vec![0; ZIN];
        }
        zstd::stream::raw::Operation::reinit(self.unzip.as_mut().expect("set above")).map_err(|e| self.io(e))?;
        (self.zleft, self.zraw, self.zpos, self.zlen) = (len, u64::from(raw), 0, 0);
        Ok(())
    }

    /// Inflates the next piece (at most [`PIECE`] bytes) of the current
    /// compressed record into the read buffer; returns its length. The
    /// record must yield exactly the raw size it announced, from exactly
    /// its compressed bytes, as one complete frame.
    fn inflate_piece(&mut self) -> Result<usize> {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        let want = self.zraw.min(PIECE as u64) as usize;
        let mut produced = 0;
        let mut hint = 1;
        while produced < want {
            if self.zpos == self.zlen {
                if self.zleft == 0 {
                    return Err(protocol(&self.peer, "a compressed record shorter than the size it announced"));
                }
                let n = self.zleft.min(ZIN as u64) as usize;
                self.reader.read_exact(&mut self.zin[..n]).map_err(|e| self.io(e))?;
                (self.zleft, self.zpos, self.zlen) = (self.zleft - n as u64, 0, n);
            }
            let unzip = self.unzip.as_mut().expect("set by start_inflate");
            let mut input = InBuffer::around(&self.zin[self.zpos..self.zlen]);
            let mut output = OutBuffer::around(&mut self.buf[produced..want]);
            hint = unzip
                .run(&mut input, &mut output)
                .map_err(|e| protocol(&self.peer, format!("a corrupt compressed record ({e})")))?;
            let (read, wrote) = (input.pos(), output.pos());
            self.zpos += read;
            produced += wrote;
            if hint == 0 && produced < want {
                return Err(protocol(&self.peer, "a compressed record shorter than the size it announced"));
            }
        }
        self.zraw -= produced as u64;
        if self.zraw == 0 && (hint != 0 || self.zpos < self.zlen || self.zleft > 0) {
            return Err(protocol(&self.peer, "a compressed record longer than the size it announced"));
        }
        Ok(produced)
    }
}

/// The data records of one shard, up to its `End`, as a
/// [`blit_shard::ShardSource`]. Source failures that arrive meanwhile go to
/// `failed`.
pub(crate) struct ShardRecords<'a, F: FnMut(FileHeader, Error)> {
    pub(crate) conn: &'a mut Conn,
    pub(crate) failed: F,
    pub(crate) len: usize,
}

impl<F: FnMut(FileHeader, Error)> blit_shard::ShardSource for ShardRecords<'_, F> {
    fn fill(&mut self) -> Result<bool> {
        loop {
            match self.conn.piece()? {
                Piece::Data { len, .. } => {
                    self.len = len;
                    return Ok(true);
                }
                Piece::End => return Ok(false),
                Piece::SourceFailed(h, e) => (self.failed)(*h, e),
                Piece::Abort(_) | Piece::Raw { .. } => {
                    return Err(protocol(self.conn.peer(), "an Abort record inside a shard"))
                }
            }
        }
    }

    fn chunk(&self) -> &[u8] {
        self.conn.bytes(self.len)
    }
}

#[cfg(test)]
mod tests;
