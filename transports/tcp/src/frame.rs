//! Records on a data connection: a 16-byte prefix (tag, flags, header
//! length, data length), a small header, then data.
//!
//! ```text
//! 0      1       2          4              8                     16
//! | tag  | flags | reserved | header_len   | data_len            |
//! | u8   | u8    | u16 = 0  | u32 BE       | u64 BE              |
//! then header_len bytes of header, then data_len bytes of data
//! ```
//!
//! Every length is checked against its bound by [`decode_record_header`]
//! before the reader allocates or reads anything: headers are at most
//! [`MAX_HEADER_LEN`], data at most [`MAX_DATA_LEN`], and each tag allows
//! only the flags and lengths it uses. Data is never buffered whole by the
//! receiver except a compressed record, which is at most [`MAX_DATA_LEN`].

use blit_api::{Error, ErrorKind, FileHeader, Result};

/// Bytes in a record prefix.
pub const PREFIX_LEN: usize = 16;
/// Most bytes of a record header (64 KiB: a long path and a message).
pub const MAX_HEADER_LEN: u32 = 64 * 1024;
/// Most raw bytes of file data in one data record (16 MiB).
pub const MAX_CHUNK: u32 = 16 * 1024 * 1024;
/// Most raw bytes one compressed record may inflate to: a sender splits a
/// larger chunk into several compressed records, so a receiver never holds
/// more than this of one record, nor a decoding window larger than it.
pub const MAX_ZSTD_RAW: u32 = 1024 * 1024;
/// The decoding window receivers accept (log2 of [`MAX_ZSTD_RAW`]): a frame
/// that asks for more memory is refused.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 20;
/// Most bytes of data in one record: a chunk, or a compressed chunk that
/// did not shrink (zstd's worst case adds well under 1/128 + 128 KiB).
pub const MAX_DATA_LEN: u64 = MAX_CHUNK as u64 + MAX_CHUNK as u64 / 128 + 128 * 1024;

/// Data moved by `sendfile`: the receiver counts it as zero-copy bytes.
pub const FLAG_ZERO_COPY: u8 = 1;
/// Data is one zstd frame; the header holds the raw length (u32 BE).
pub const FLAG_ZSTD: u8 = 2;

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// The sender's choice of streams, chunk size and compression (stream 0).
    Tuned = 1,
    /// A whole file begins: header; then `Data`*, then `End` or `Abort`.
    File = 2,
    /// A range of a large file begins: id, offset, length, header; then
    /// `Data`*, then `End` or `Abort`.
    Range = 3,
    /// A tar shard begins: file count; then `Data`* (tar bytes), `End`.
    Shard = 4,
    /// Bytes of the current file, range or shard.
    Data = 5,
    /// The current file, range or shard ends.
    End = 6,
    /// The source could not finish the current file or range: a failure.
    Abort = 7,
    /// A file could not be opened: header and failure.
    SourceFailed = 8,
    /// Warm-up probe bytes, discarded.
    Probe = 9,
    /// Ends one probe round; the receiver answers the probe bytes it read.
    ProbeEnd = 10,
    /// Nothing; keeps an idle connection alive.
    KeepAlive = 11,
    /// This connection carries nothing more.
    Done = 12,
    /// A range of a file the destination resumes: id, offset, length, the
    /// bytes the destination keeps from its partial copy or older version
    /// (in place or copied), the bytes of those it copies within the older
    /// version (`Copy` records), header; then `Data`*, then `End` or
    /// `Abort`. The length may be 0 (nothing to send: the range at the
    /// file's end commits it).
    ResumeRange = 13,
    /// Copies within the older version a delta file is built on: id, the
    /// bytes kept and copied (as in `ResumeRange`), a count and that many
    /// (to, from, length) triples, header. No data follows.
    Copy = 14,
}

impl Tag {
    fn from_u8(v: u8) -> Option<Tag> {
        use Tag::*;
        Some(match v {
            1 => Tuned,
            2 => File,
            3 => Range,
            4 => Shard,
            5 => Data,
            6 => End,
            7 => Abort,
            8 => SourceFailed,
            9 => Probe,
            10 => ProbeEnd,
            11 => KeepAlive,
            12 => Done,
            13 => ResumeRange,
            14 => Copy,
            _ => return None,
        })
    }
}

/// A decoded, checked record prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// What the record is.
    pub tag: Tag,
    /// [`FLAG_ZERO_COPY`], [`FLAG_ZSTD`] or 0.
    pub flags: u8,
    /// Bytes of header that follow.
    pub header_len: u32,
    /// Bytes of data that follow the header.
    pub data_len: u64,
}

fn bad(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, what)
}

/// Decodes and checks a record prefix from the first [`PREFIX_LEN`] bytes of
/// `bytes`. Refuses unknown tags, unknown or misplaced flags, non-zero
/// reserved bits and every length its tag does not allow, so a caller may
/// allocate `header_len` bytes and stream `data_len` bytes safely.
pub fn decode_record_header(bytes: &[u8]) -> Result<Prefix> {
    let b: &[u8; PREFIX_LEN] = bytes
        .get(..PREFIX_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad(format!("a record prefix of {} bytes", bytes.len())))?;
    let tag = Tag::from_u8(b[0]).ok_or_else(|| bad(format!("unknown record tag {}", b[0])))?;
    let flags = b[1];
    if b[2] != 0 || b[3] != 0 {
        return Err(bad("reserved record bits are set"));
    }
    let header_len = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    let data_len = u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    if header_len > MAX_HEADER_LEN {
        return Err(bad(format!("a record header of {header_len} bytes (at most {MAX_HEADER_LEN})")));
    }
    if data_len > MAX_DATA_LEN {
        return Err(bad(format!("a record of {data_len} data bytes (at most {MAX_DATA_LEN})")));
    }
    let (flags_ok, header_ok, data_ok) = match tag {
        Tag::Data => {
            let header_ok = if flags & FLAG_ZSTD != 0 { header_len == 4 } else { header_len == 0 };
            let data_ok = flags & FLAG_ZSTD != 0 || data_len <= MAX_CHUNK as u64;
            (flags == 0 || flags == FLAG_ZERO_COPY || flags == FLAG_ZSTD, header_ok, data_ok)
        }
        Tag::Probe => (flags == 0, header_len == 0, data_len <= MAX_CHUNK as u64),
        Tag::Tuned
        | Tag::File
        | Tag::Range
        | Tag::ResumeRange
        | Tag::Copy
        | Tag::Shard
        | Tag::Abort
        | Tag::SourceFailed => (flags == 0, header_len > 0, data_len == 0),
        Tag::End | Tag::ProbeEnd | Tag::KeepAlive | Tag::Done => (flags == 0, header_len == 0, data_len == 0),
    };
    if !flags_ok {
        return Err(bad(format!("flags {flags:#x} on a {tag:?} record")));
    }
    if !header_ok || !data_ok {
        return Err(bad(format!("a {tag:?} record with {header_len} header and {data_len} data bytes")));
    }
    Ok(Prefix { tag, flags, header_len, data_len })
}

/// Encodes a record prefix.
pub fn encode_prefix(tag: Tag, flags: u8, header_len: usize, data_len: u64) -> [u8; PREFIX_LEN] {
    let mut b = [0u8; PREFIX_LEN];
    b[0] = tag as u8;
    b[1] = flags;
    b[4..8].copy_from_slice(&(header_len as u32).to_be_bytes());
    b[8..16].copy_from_slice(&data_len.to_be_bytes());
    b
}

/// The header of a `Range` or `ResumeRange` record, decoded and checked by
/// [`range_header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeHeader {
    /// The file's id within the transfer.
    pub id: u64,
    /// The range's first byte.
    pub offset: u64,
    /// The range's length.
    pub len: u64,
    /// For a resumed file (`ResumeRange`): the bytes the destination keeps.
    pub reused: Option<u64>,
    /// Of those, the bytes copied within the older version (0 for a
    /// `Range`).
    pub copied: u64,
    /// The file's header.
    pub file: FileHeader,
}

/// Most copies one `Copy` record carries (12 KiB of its header).
pub const MAX_COPIES_PER_RECORD: usize = 512;

/// The header of a `Copy` record, decoded and checked by [`copy_header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyHeader {
    /// The file's id within the transfer.
    pub id: u64,
    /// The bytes the destination keeps (in place or copied).
    pub reused: u64,
    /// Of those, the bytes copied within the older version, in every
    /// `Copy` record of the file together.
    pub copied: u64,
    /// The copies this record carries, each inside the file.
    pub copies: Vec<blit_api::BlockCopy>,
    /// The file's header.
    pub file: FileHeader,
}

pub use blit_api::wire::{Dec, Enc};

/// Reads the header of a `Range` record, or of a `ResumeRange` record
/// when `resumed`: id, offset, length, (the bytes kept,) the file's
/// header. The range must lie inside the file, the bytes kept must not
/// exceed it, and only a resumed file with nothing left to send (every
/// byte kept) has an empty range.
pub fn range_header(d: &mut Dec<'_>, resumed: bool) -> Result<RangeHeader> {
    let (id, offset, len) = (d.u64()?, d.u64()?, d.u64()?);
    let (reused, copied) = if resumed { (Some(d.u64()?), d.u64()?) } else { (None, 0) };
    let file = d.file_header()?;
    let size = file.size;
    let inside = offset.checked_add(len).is_some_and(|end| end <= size);
    if !inside || reused.is_some_and(|r| r > size || copied > r) || (len == 0 && reused != Some(size)) {
        let kept = reused.map(|r| format!(", {r} kept, {copied} copied")).unwrap_or_default();
        return Err(bad(format!("a range {offset}+{len} outside {} ({size} bytes{kept})", file.path)));
    }
    Ok(RangeHeader { id, offset, len, reused, copied, file })
}

/// Reads the header of a `Copy` record: id, bytes kept, bytes copied, the
/// count of copies and each (to, from, length), the file's header. The
/// kept bytes must not exceed the file, the copied ones the kept ones, and
/// each copy must lie inside the file (the destination checks the older
/// version's side). At most [`MAX_COPIES_PER_RECORD`] copies, each with
/// bytes.
pub fn copy_header(d: &mut Dec<'_>) -> Result<CopyHeader> {
    let (id, reused, copied, count) = (d.u64()?, d.u64()?, d.u64()?, d.u32()? as usize);
    if count == 0 || count > MAX_COPIES_PER_RECORD {
        return Err(bad(format!("a Copy record of {count} copies")));
    }
    let mut copies = Vec::with_capacity(count);
    for _ in 0..count {
        copies.push(blit_api::BlockCopy { to: d.u64()?, from: d.u64()?, len: d.u64()? });
    }
    let file = d.file_header()?;
    let size = file.size;
    let fits = |c: &blit_api::BlockCopy| c.len > 0 && c.to.checked_add(c.len).is_some_and(|end| end <= size);
    if reused > size || copied > reused || !copies.iter().all(fits) {
        return Err(bad(format!("copies outside {} ({size} bytes, {reused} kept, {copied} copied)", file.path)));
    }
    Ok(CopyHeader { id, reused, copied, copies, file })
}

/// Encodes the header of a `Copy` record (see [`copy_header`]).
pub fn encode_copies(enc: &mut Enc, id: u64, kept: (u64, u64), copies: &[blit_api::BlockCopy], file: &FileHeader) {
    enc.u64(id).u64(kept.0).u64(kept.1).u32(copies.len() as u32);
    for c in copies {
        enc.u64(c.to).u64(c.from).u64(c.len);
    }
    enc.file_header(file);
}

#[cfg(test)]
mod tests;
