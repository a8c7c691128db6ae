//! Tar shards on the wire: many small files as one tar stream, cut into
//! data records of at most [`CHUNK_SIZE`] bytes.
//!
//! The sender builds the tar incrementally into a [`ChunkSink`], which sends
//! every full chunk as soon as it fills: a shard is never held whole in
//! memory, only the current file (at most [`SHARD_ENTRY_MAX`] bytes) and one
//! partial chunk. Each entry is a regular file preceded by a PAX record
//! whose `mtime` keeps the nanoseconds; the tar header carries size, mode and
//! the path (GNU long names for long paths, raw bytes for names that are not
//! UTF-8).

use crate::config::CHUNK_SIZE;
use blit_api::FileHeader;
use blit_proto::pb;
use prost::bytes::Bytes;
use std::io::{self, Read, Write};
use tokio::sync::mpsc;

/// Largest file the sender puts in a shard. A planned shard file that grew
/// past it since the walk is sent on its own after the shard.
pub(crate) const SHARD_ENTRY_MAX: u64 = CHUNK_SIZE as u64;

/// The PAX key for the modification time.
const PAX_MTIME: &str = "mtime";

/// A `Write` that turns a byte stream into data records of [`CHUNK_SIZE`].
pub(crate) struct ChunkSink<'a> {
    out: &'a mpsc::Sender<pb::PayloadRecord>,
    buf: Vec<u8>,
}

impl<'a> ChunkSink<'a> {
    pub(crate) fn new(out: &'a mpsc::Sender<pb::PayloadRecord>) -> Self {
        ChunkSink { out, buf: Vec::with_capacity(CHUNK_SIZE) }
    }

    fn send(&self, chunk: Vec<u8>) -> io::Result<()> {
        let record = pb::PayloadRecord { record: Some(pb::payload_record::Record::Data(Bytes::from(chunk))) };
        self.out
            .blocking_send(record)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the payload receiver stopped"))
    }

    /// Sends what is left (the last, partial chunk).
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        self.send(chunk)
    }
}

impl Write for ChunkSink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK_SIZE {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
            self.send(chunk)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Appends one regular file, whose content is `data`, to the shard.
///
/// The path is written here rather than by `tar::Builder::append_data`:
/// for a path too long for the header, the tar crate also stores a UTF-8
/// prefix of it in the header and refuses the entry when that prefix is
/// empty (a long path starting with bytes that are not UTF-8), which would
/// fail the whole transfer. Paths are validated [`blit_api::RelPath`]s, so
/// the bytes go in as they are.
pub(crate) fn append<W: Write>(tar: &mut tar::Builder<W>, h: &FileHeader, data: &[u8]) -> io::Result<()> {
    let mtime = format_mtime(h.mtime_ns);
    tar.append_pax_extensions([(PAX_MTIME, mtime.as_bytes())])?;
    let path = h.path.as_bytes();
    let mut header = tar::Header::new_gnu();
    let field = &mut header.as_old_mut().name;
    if path.len() >= field.len() {
        // As GNU tar does: the whole path, NUL-terminated, in a long-name
        // entry; the header keeps its first bytes, which readers ignore.
        tar.append(&long_name(path.len()), path.chain(&[0u8][..]))?;
    }
    let shown = path.len().min(field.len());
    field[..shown].copy_from_slice(&path[..shown]);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(h.mode & 0o7777);
    header.set_mtime(u64::try_from(h.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(0));
    header.set_cksum();
    tar.append(&header, data)
}

/// The header of a GNU long-name entry for a path of `len` bytes.
fn long_name(len: usize) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let name = b"././@LongLink";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(tar::EntryType::GNULongName);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_size(len as u64 + 1);
    header.set_cksum();
    header
}

/// The modification time of a shard entry: the PAX `mtime` when present,
/// else the header's whole seconds.
pub(crate) fn entry_mtime<R: io::Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<i64> {
    if let Some(extensions) = entry.pax_extensions()? {
        for ext in extensions {
            let ext = ext?;
            if ext.key_bytes() == PAX_MTIME.as_bytes() {
                return parse_mtime(ext.value_bytes())
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a malformed PAX mtime"));
            }
        }
    }
    let secs = entry.header().mtime()?;
    Ok(i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000_000).saturating_mul(1_000_000_000))
}

/// Nanoseconds as a PAX time: `[-]seconds.nanoseconds`, exact.
pub(crate) fn format_mtime(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
}

/// Parses a PAX time back into nanoseconds (at most nanosecond precision is
/// kept; out-of-range values are refused).
pub(crate) fn parse_mtime(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i128 = secs.parse().ok()?;
    let mut nanos: i128 = 0;
    for (i, digit) in frac.bytes().take(9).enumerate() {
        nanos += i128::from(digit - b'0') * 10i128.pow(8 - i as u32);
    }
    let total = secs * 1_000_000_000 + nanos;
    i64::try_from(if negative { -total } else { total }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{FileKind, RelPath};
    use std::io::Read;

    #[test]
    fn mtimes_round_trip() {
        for ns in [0, 1, -1, 999_999_999, -1_500_000_001, 1_700_000_000_123_456_789, i64::MAX, i64::MIN] {
            assert_eq!(parse_mtime(format_mtime(ns).as_bytes()), Some(ns), "{ns}");
        }
        assert_eq!(parse_mtime(b"12"), Some(12_000_000_000));
        assert_eq!(parse_mtime(b"1.5"), Some(1_500_000_000));
        for bad in [&b""[..], b"x", b"1.x", b"-", b".5", b"99999999999999999999.0"] {
            assert_eq!(parse_mtime(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn entries_keep_raw_names_modes_and_nanoseconds() {
        let long = [b'n'; 300];
        let mut names = vec![b"d\xff/f \n".to_vec()];
        names.push([&b"deep/"[..], &long[..]].concat());
        // Long paths that start with bytes that are not UTF-8, and lengths
        // around the header's 100-byte name field.
        names.push([&b"\xf9\x7f/"[..], &long[..255]].concat());
        names.push([&b"\xff"[..], &long[..200]].concat());
        for len in [99, 100, 101] {
            names.push([&b"\xe9/"[..], &long[..len - 2]].concat());
        }
        let mut tar = tar::Builder::new(Vec::new());
        for (i, name) in names.iter().enumerate() {
            let h = FileHeader {
                path: RelPath::from_bytes(name.clone()).unwrap(),
                kind: FileKind::File,
                size: 3,
                mtime_ns: -1_000_000_007 * (i as i64 + 1),
                mode: 0o4751,
                link_target: None,
                checksum: None,
            };
            append(&mut tar, &h, b"abc").unwrap();
        }
        let bytes = tar.into_inner().unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = 0;
        for (i, entry) in archive.entries().unwrap().enumerate() {
            let mut entry = entry.unwrap();
            assert_eq!(entry.path_bytes().as_ref(), &names[i][..]);
            assert_eq!(entry.header().mode().unwrap(), 0o4751);
            assert_eq!(entry_mtime(&mut entry).unwrap(), -1_000_000_007 * (i as i64 + 1));
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!(data, b"abc");
            seen += 1;
        }
        assert_eq!(seen, names.len());
    }
}
