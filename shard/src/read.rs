//! Reading one shard entry: the metadata entries before it (a PAX extended
//! header, a GNU long name), each read whole within a bound, then the
//! regular file's blit header (see the crate docs for the format).
//!
//! The tar stream is read with raw entries (`tar::Entries::raw`): the tar
//! crate would read a metadata entry of any claimed size into memory, and
//! would let a PAX `size` or `path` record override the header. Here a PAX
//! header holds at most [`PAX_MAX`] bytes and a long name [`LONG_NAME_MAX`],
//! a file entry at most [`SHARD_ENTRY_MAX`], and the records that would
//! change an entry's size or name are refused, so a peer cannot make the
//! receiver buffer an unbounded stream or read a shard two ways.

use crate::format::{parse_mtime, PAX_GID, PAX_MTIME, PAX_UID, PAX_XATTR, SHARD_ENTRY_MAX};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use blit_api::{FileHeader, FileKind, RelPath};
use std::io::{self, Read};

/// Most bytes of one entry's PAX extended header (1 MiB): its mtime,
/// ownership and extended attributes in base64.
pub const PAX_MAX: u64 = 1024 * 1024;
/// Most bytes of one GNU long name (64 KiB).
pub const LONG_NAME_MAX: u64 = 64 * 1024;

/// Why an entry's header could not be read.
#[derive(Debug)]
pub(crate) enum EntryError {
    /// Reading the tar stream failed.
    Stream(io::Error),
    /// The entry is readable but not a valid blit shard entry.
    Invalid(String),
}

impl From<io::Error> for EntryError {
    fn from(e: io::Error) -> Self {
        EntryError::Stream(e)
    }
}

fn invalid(what: impl Into<String>) -> EntryError {
    EntryError::Invalid(what.into())
}

/// The metadata entries read so far for the next file entry.
#[derive(Debug, Default)]
struct Meta {
    pax: Option<Vec<u8>>,
    long_name: Option<Vec<u8>>,
}

impl Meta {
    /// Takes in `entry` when it is a metadata entry (`Ok(true)`), read whole
    /// after its size was checked; `Ok(false)` for any other entry.
    fn take_in<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<bool, EntryError> {
        let kind = entry.header().entry_type();
        let (slot, max, what) = if kind.is_pax_local_extensions() {
            (&mut self.pax, PAX_MAX, "PAX header")
        } else if kind.is_gnu_longname() {
            (&mut self.long_name, LONG_NAME_MAX, "long name")
        } else {
            return Ok(false);
        };
        if slot.is_some() {
            return Err(invalid(format!("two {what}s for one shard entry")));
        }
        let size = entry.size();
        if size > max {
            return Err(invalid(format!("a shard {what} of {size} bytes (at most {max})")));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut bytes)?;
        if bytes.len() as u64 != size {
            return Err(EntryError::Stream(io::ErrorKind::UnexpectedEof.into()));
        }
        *slot = Some(bytes);
        Ok(true)
    }
}

/// Reads `entries` (raw: `tar::Entries::raw(true)`) up to the next file
/// entry and returns it with its blit header; `None` at the shard's end.
pub(crate) fn next_file<'a, R: Read>(
    entries: &mut tar::Entries<'a, R>,
) -> Result<Option<(tar::Entry<'a, R>, FileHeader)>, EntryError> {
    let mut meta = Meta::default();
    for entry in entries.by_ref() {
        let mut entry = entry?;
        if !meta.take_in(&mut entry)? {
            let header = entry_header(&mut entry, meta)?;
            return Ok(Some((entry, header)));
        }
    }
    if meta.pax.is_some() || meta.long_name.is_some() {
        return Err(invalid("a PAX header or long name with no entry after it"));
    }
    Ok(None)
}

fn parse_id(value: &[u8], key: &str) -> Result<u32, EntryError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid(format!("a malformed PAX {key}")))
}

/// The blit header of one shard entry: a regular file of at most
/// [`SHARD_ENTRY_MAX`] bytes with a validated, non-empty path, its mode,
/// mtime, ownership and extended attributes.
fn entry_header<R: Read>(entry: &mut tar::Entry<'_, R>, meta: Meta) -> Result<FileHeader, EntryError> {
    if entry.header().entry_type() != tar::EntryType::Regular {
        return Err(invalid("a shard entry that is not a regular file"));
    }
    let path = match meta.long_name {
        // NUL-terminated, as GNU tar writes it.
        Some(mut name) => {
            if name.last() == Some(&0) {
                name.pop();
            }
            name
        }
        None => entry.header().path_bytes().into_owned(),
    };
    let path = RelPath::from_bytes(path).map_err(|e| invalid(e.to_string()))?;
    if path.is_root() {
        return Err(invalid("a shard entry without a name"));
    }
    let size = entry.size();
    if size > SHARD_ENTRY_MAX {
        return Err(invalid(format!("a shard entry of {size} bytes (at most {SHARD_ENTRY_MAX})")));
    }
    let mut h = FileHeader { path, kind: FileKind::File, size, ..FileHeader::default() };
    h.mode = entry.header().mode()?;
    let secs = entry.header().mtime()?;
    h.mtime_ns = i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000_000).saturating_mul(1_000_000_000);
    for ext in tar::PaxExtensions::new(meta.pax.as_deref().unwrap_or_default()) {
        let ext = ext?;
        let (key, value) = (ext.key_bytes(), ext.value_bytes());
        if key == PAX_MTIME {
            h.mtime_ns = parse_mtime(value).ok_or_else(|| invalid("a malformed PAX mtime"))?;
        } else if key == PAX_UID {
            h.uid = Some(parse_id(value, "uid")?);
        } else if key == PAX_GID {
            h.gid = Some(parse_id(value, "gid")?);
        } else if let Some(name) = key.strip_prefix(PAX_XATTR) {
            let name = percent_decode(name).filter(|n| !n.is_empty() && !n.contains(&0));
            let name = name.ok_or_else(|| invalid("a malformed extended attribute name"))?;
            let value = BASE64.decode(value).map_err(|_| invalid("a malformed extended attribute value"))?;
            h.xattrs.push((name, value));
        } else if matches!(key, b"size" | b"path" | b"linkpath") {
            // Shards never carry these; they would change what the entry is.
            return Err(invalid(format!("a PAX {} record in a shard", String::from_utf8_lossy(key))));
        }
    }
    Ok(h)
}

fn percent_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            let hex = std::str::from_utf8(text.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    Some(out)
}
