//! Writing one shard entry, and the format's PAX keys and times (see the
//! crate docs for the format; reading is in `read`).
//!
//! The PAX extended header is built here rather than with
//! `tar::Builder::append_pax_extensions`, which takes keys as `&str`:
//! extended attribute names are raw bytes and must survive as they are.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use blit_api::FileHeader;
use std::io::{self, Read, Write};

/// Largest file a sender puts in a shard (1 MiB). A planned shard file that
/// grew past it since the walk is sent on its own after the shard.
pub const SHARD_ENTRY_MAX: u64 = 1024 * 1024;

pub(crate) const PAX_MTIME: &[u8] = b"mtime";
pub(crate) const PAX_UID: &[u8] = b"uid";
pub(crate) const PAX_GID: &[u8] = b"gid";
/// libarchive's convention: the name percent-encoded, the value in base64,
/// so neither can hold the newline or `=` that end a PAX key or record for
/// the tar crate's reader.
pub(crate) const PAX_XATTR: &[u8] = b"LIBARCHIVE.xattr.";

/// One PAX record: `<len> <key>=<value>\n`, where `<len>` counts the whole
/// record including its own digits.
fn pax_record(out: &mut Vec<u8>, key: &[&[u8]], value: &[u8]) {
    let body = key.iter().map(|k| k.len()).sum::<usize>() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    for part in key {
        out.extend_from_slice(part);
    }
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// The PAX records of `h`: mtime always, ownership and xattrs when present.
fn pax_records(h: &FileHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    pax_record(&mut out, &[PAX_MTIME], format_mtime(h.mtime_ns).as_bytes());
    if let Some(uid) = h.uid {
        pax_record(&mut out, &[PAX_UID], uid.to_string().as_bytes());
    }
    if let Some(gid) = h.gid {
        pax_record(&mut out, &[PAX_GID], gid.to_string().as_bytes());
    }
    for (name, value) in &h.xattrs {
        pax_record(&mut out, &[PAX_XATTR, &percent_encode(name)], BASE64.encode(value).as_bytes());
    }
    out
}

/// A header for a metadata entry (PAX or GNU long name) of `len` bytes.
fn meta_header(name: &[u8], kind: tar::EntryType, len: usize) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_size(len as u64);
    header.set_cksum();
    header
}

/// Appends one regular file, whose content is `data`, to the shard.
///
/// The path is written here rather than by `tar::Builder::append_data`:
/// for a path too long for the header, the tar crate also stores a UTF-8
/// prefix of it in the header and refuses the entry when that prefix is
/// empty (a long path starting with bytes that are not UTF-8), which would
/// fail the whole transfer. Paths are validated [`blit_api::RelPath`]s, so the bytes
/// go in as they are.
pub fn append<W: Write>(tar: &mut tar::Builder<W>, h: &FileHeader, data: &[u8]) -> io::Result<()> {
    let pax = pax_records(h);
    tar.append(&meta_header(b"././@PaxHeader", tar::EntryType::XHeader, pax.len()), &pax[..])?;
    let path = h.path.as_bytes();
    let mut header = tar::Header::new_gnu();
    let field = &mut header.as_old_mut().name;
    if path.len() >= field.len() {
        // As GNU tar does: the whole path, NUL-terminated, in a long-name
        // entry; the header keeps its first bytes, which readers ignore.
        let long = meta_header(b"././@LongLink", tar::EntryType::GNULongName, path.len() + 1);
        tar.append(&long, path.chain(&[0u8][..]))?;
    }
    let shown = path.len().min(field.len());
    field[..shown].copy_from_slice(&path[..shown]);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(h.mode & 0o7777);
    header.set_mtime(u64::try_from(h.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(0));
    header.set_uid(u64::from(h.uid.unwrap_or(0)));
    header.set_gid(u64::from(h.gid.unwrap_or(0)));
    header.set_cksum();
    tar.append(&header, data)
}

/// `%XX` for every byte outside printable ASCII, and for `%` and `=`.
fn percent_encode(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for &b in name {
        if b.is_ascii_graphic() && b != b'%' && b != b'=' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// Nanoseconds as a PAX time: `[-]seconds.nanoseconds`, exact.
pub fn format_mtime(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000)
}

/// Parses a PAX time back into nanoseconds (at most nanosecond precision is
/// kept; out-of-range values are refused).
pub fn parse_mtime(text: &[u8]) -> Option<i64> {
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
    use crate::read::{next_file, EntryError};
    use blit_api::RelPath;

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
    fn pax_record_lengths_count_themselves() {
        // 9 and 10 bytes of body cross a digit boundary of the length.
        for value_len in 0..120 {
            let mut out = Vec::new();
            pax_record(&mut out, &[b"k"], &vec![b'v'; value_len]);
            let space = out.iter().position(|b| *b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&out[..space]).unwrap().parse().unwrap();
            assert_eq!(len, out.len(), "value of {value_len} bytes");
        }
    }

    fn read_back(bytes: &[u8]) -> Vec<(FileHeader, Vec<u8>)> {
        let mut archive = tar::Archive::new(bytes);
        let mut entries = archive.entries().unwrap().raw(true);
        let mut out = Vec::new();
        while let Some((mut entry, h)) = next_file(&mut entries).unwrap() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.push((h, data));
        }
        out
    }

    #[test]
    fn entries_keep_raw_names_modes_and_nanoseconds() {
        let long = [b'n'; 300];
        let mut names = vec![b"d\xff/f \n".to_vec()];
        names.push([&b"deep/"[..], &long[..255], b"/", &long[..200]].concat());
        // Long paths that start with bytes that are not UTF-8, and lengths
        // around the header's 100-byte name field.
        names.push([&b"\xf9\x7f/"[..], &long[..255]].concat());
        names.push([&b"\xff"[..], &long[..200]].concat());
        for len in [99, 100, 101] {
            names.push([&b"\xe9/"[..], &long[..len - 2]].concat());
        }
        let mut tar = tar::Builder::new(Vec::new());
        let mut sent = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let h = FileHeader {
                path: RelPath::from_bytes(name.clone()).unwrap(),
                size: 3,
                mtime_ns: -1_000_000_007 * (i as i64 + 1),
                mode: 0o4751,
                ..FileHeader::default()
            };
            append(&mut tar, &h, b"abc").unwrap();
            sent.push(h);
        }
        let back = read_back(&tar.into_inner().unwrap());
        assert_eq!(back.len(), names.len());
        for ((h, data), want) in back.iter().zip(&sent) {
            assert_eq!(h, want);
            assert_eq!(data, b"abc");
        }
    }

    #[test]
    fn ownership_and_xattrs_round_trip_and_stay_absent_when_absent() {
        let with = FileHeader {
            path: RelPath::from_bytes(b"a".to_vec()).unwrap(),
            size: 2,
            mode: 0o640,
            uid: Some(0),
            gid: Some(4_000_000_000),
            xattrs: vec![
                (b"user.plain".to_vec(), b"v".to_vec()),
                (b"user.\xff raw=name".to_vec(), vec![0, b'\n', 255, b'=']),
                (b"user.empty".to_vec(), Vec::new()),
            ],
            ..FileHeader::default()
        };
        let without =
            FileHeader { path: RelPath::from_bytes(b"b".to_vec()).unwrap(), size: 2, ..FileHeader::default() };
        let group_only =
            FileHeader { path: RelPath::from_bytes(b"c".to_vec()).unwrap(), gid: Some(7), ..without.clone() };
        let mut tar = tar::Builder::new(Vec::new());
        for h in [&with, &without, &group_only] {
            append(&mut tar, h, b"xy").unwrap();
        }
        let back = read_back(&tar.into_inner().unwrap());
        assert_eq!(back[0].0, with);
        assert_eq!(back[1].0, without, "no uid/gid/xattrs must appear from nowhere");
        assert_eq!(back[2].0, group_only);
    }

    #[test]
    fn refuses_other_entry_types_and_bad_ids() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        tar.append_data(&mut h, "l", &[][..]).unwrap();
        let first = |bytes: &[u8]| {
            let mut archive = tar::Archive::new(bytes);
            let mut entries = archive.entries().unwrap().raw(true);
            next_file(&mut entries).map(|found| found.map(|(_, h)| h))
        };
        let got = first(&tar.into_inner().unwrap());
        assert!(matches!(&got, Err(EntryError::Invalid(m)) if m.contains("not a regular file")), "{got:?}");

        let mut pax = Vec::new();
        pax_record(&mut pax, &[PAX_UID], b"-1");
        let mut tar = tar::Builder::new(Vec::new());
        tar.append(&meta_header(b"p", tar::EntryType::XHeader, pax.len()), &pax[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, "f", &[][..]).unwrap();
        let got = first(&tar.into_inner().unwrap());
        assert!(matches!(&got, Err(EntryError::Invalid(m)) if m.contains("uid")), "{got:?}");
    }
}
