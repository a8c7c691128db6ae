//! The tar format of a shard: regular files only, each preceded by a PAX
//! record whose `mtime` keeps the nanoseconds; the tar header carries size,
//! mode and the path (GNU long names for long paths, raw bytes for names
//! that are not UTF-8). The same format as the gRPC transport's shards, so
//! a shard means the same thing on every transport.

use blit_api::FileHeader;
use std::ffi::OsStr;
use std::io;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Largest file the sender puts in a shard (1 MiB). A planned shard file
/// that grew past it since the walk is sent whole after the shard.
pub(crate) const SHARD_ENTRY_MAX: u64 = 1024 * 1024;

/// The PAX key for the modification time.
const PAX_MTIME: &str = "mtime";

/// Appends one regular file, whose content is `data`, to the shard.
pub(crate) fn append<W: Write>(tar: &mut tar::Builder<W>, h: &FileHeader, data: &[u8]) -> io::Result<()> {
    let mtime = format_mtime(h.mtime_ns);
    tar.append_pax_extensions([(PAX_MTIME, mtime.as_bytes())])?;
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(h.mode & 0o7777);
    header.set_mtime(u64::try_from(h.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(0));
    tar.append_data(&mut header, Path::new(OsStr::from_bytes(h.path.as_bytes())), data)
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
        assert_eq!(seen, 2);
    }
}
