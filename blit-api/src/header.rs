//! File headers: what the source says about each entry.

use crate::{Error, ErrorKind, Result};
use std::fmt;

/// A path relative to the transfer root, as raw bytes with `/` separators.
///
/// The empty path names the root itself. On Unix any byte except `/` and NUL
/// may appear in a component, so names that are not UTF-8 survive. A `RelPath`
/// built with [`RelPath::from_bytes`] is validated: no empty, `.` or `..`
/// components, no leading `/`, no NUL, so it can never escape the root.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(Vec<u8>);

impl RelPath {
    /// Most bytes in a path (Linux's `PATH_MAX`): a longer path is refused,
    /// so what a peer may make a side hold per entry has a bound.
    pub const MAX_LEN: usize = 4096;
    /// Most bytes in one component (Linux's `NAME_MAX`).
    pub const MAX_NAME: usize = 255;

    /// The transfer root.
    pub fn root() -> Self {
        RelPath(Vec::new())
    }

    /// Validates and wraps raw bytes. Refuses absolute paths, `..`, `.`,
    /// empty components, NUL bytes, and paths or components longer than
    /// [`RelPath::MAX_LEN`] or [`RelPath::MAX_NAME`].
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Ok(RelPath(bytes));
        }
        let bad = |why: &str| {
            Err(Error::new(ErrorKind::Protocol, format!("unsafe relative path ({why})"))
                .with_path(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if bytes.contains(&0) {
            return bad("contains NUL");
        }
        if bytes.len() > Self::MAX_LEN {
            return bad("longer than 4096 bytes");
        }
        for comp in bytes.split(|b| *b == b'/') {
            match comp {
                b"" => return bad("empty component or absolute"),
                b"." | b".." => return bad("dot component"),
                c if c.len() > Self::MAX_NAME => return bad("a component longer than 255 bytes"),
                _ => {}
            }
        }
        Ok(RelPath(bytes))
    }

    /// The path of `name` inside this directory. `name` must be one valid
    /// component (it comes from a directory listing).
    pub fn join(&self, name: &[u8]) -> RelPath {
        debug_assert!(!name.is_empty() && !name.contains(&b'/'));
        if self.0.is_empty() {
            RelPath(name.to_vec())
        } else {
            let mut v = Vec::with_capacity(self.0.len() + 1 + name.len());
            v.extend_from_slice(&self.0);
            v.push(b'/');
            v.extend_from_slice(name);
            RelPath(v)
        }
    }

    /// Whether this is the transfer root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The parent directory, or `None` for the root.
    pub fn parent(&self) -> Option<RelPath> {
        if self.0.is_empty() {
            return None;
        }
        match self.0.iter().rposition(|b| *b == b'/') {
            Some(i) => Some(RelPath(self.0[..i].to_vec())),
            None => Some(RelPath::root()),
        }
    }

    /// The last component (empty for the root).
    pub fn file_name(&self) -> &[u8] {
        match self.0.iter().rposition(|b| *b == b'/') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// Number of components (0 for the root).
    pub fn depth(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            self.0.iter().filter(|b| **b == b'/').count() + 1
        }
    }

    /// The path below `base` on this machine. The root maps to `base` itself.
    #[cfg(unix)]
    pub fn to_path(&self, base: &std::path::Path) -> std::path::PathBuf {
        use std::os::unix::ffi::OsStrExt;
        if self.0.is_empty() {
            base.to_path_buf()
        } else {
            base.join(std::ffi::OsStr::from_bytes(&self.0))
        }
    }

    /// The path as unambiguous printable text (see [`crate::text`]): the
    /// same as its `Display`, except that the root is `""`, not `.`.
    pub fn display(&self) -> String {
        crate::text::escape(&self.0).into_owned()
    }

    /// The path as a string when it is valid UTF-8.
    pub fn as_utf8(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.display())
    }
}

/// Lossless and unambiguous ([`crate::text::escape`]); the root shows as `.`.
impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&crate::text::escape(&self.0))
        }
    }
}

/// The exact name when it is UTF-8 (JSON escapes what it must); otherwise
/// its escaped text ([`crate::text::escape`]), and JSON writers add the
/// exact bytes beside it (blit's CLI adds `path_b64`).
impl serde::Serialize for RelPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.as_utf8() {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&self.display()),
        }
    }
}

/// The kind of a directory entry. Other kinds (sockets, devices, FIFOs) are
/// reported as per-file failures by the walker, never transferred.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    #[default]
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
}

/// What the source knows about one entry.
///
/// Build one with struct-update syntax (`..FileHeader::default()`): fields
/// are added over time, and the optional metadata stays empty unless the
/// options ask for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHeader {
    /// Path relative to the transfer root (empty for the root itself).
    pub path: RelPath,
    /// Entry kind.
    pub kind: FileKind,
    /// Size in bytes (0 for directories; the target length for symlinks).
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
    /// Symlink target as raw bytes (only for [`FileKind::Symlink`]).
    pub link_target: Option<Vec<u8>>,
    /// BLAKE3 of the content, present only in checksum mode for regular files.
    pub checksum: Option<[u8; 32]>,
    /// Owning user id, present only when the options ask for ownership.
    pub uid: Option<u32>,
    /// Owning group id, present only when the options ask for ownership.
    pub gid: Option<u32>,
    /// Extended attributes (name, value), filled only when the options ask
    /// for them.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// For a regular file that is a hard link to a file sent earlier in the
    /// same manifest: that file's path (only when the options ask for hard
    /// links).
    pub hard_link: Option<RelPath>,
    /// In a need entry, with [`crate::TransferOptions::resume`]: the blocks of
    /// the partial copy the destination kept. The source then sends only what
    /// differs ([`crate::ranges_to_send`]); never set in a manifest.
    pub resume: Option<std::sync::Arc<crate::BlockMap>>,
    /// In a need entry at the source, with
    /// [`crate::TransferOptions::part_range`]: the byte range of the file to
    /// send ([`crate::SourceFile::resume_plan`]). The source's pipeline sets
    /// it from its own options before planning; never on the wire (both
    /// sides know the options) and never in a manifest.
    pub part_range: Option<crate::PartRange>,
    /// In a need entry at the source that came with a block map: the
    /// source's own blocks, hashed while the destination hashed its older
    /// version ([`crate::Prehash`], from a [`crate::Ahead`] hint). The
    /// source's pipeline sets it; never on the wire, never in a manifest.
    pub prehash: Option<std::sync::Arc<crate::Prehash>>,
}

impl FileHeader {
    /// Most bytes in a symlink's target (Linux's `PATH_MAX`).
    pub const MAX_LINK_TARGET: usize = 4096;
    /// Most bytes of extended-attribute names and values one entry carries
    /// (32 KiB): every header must fit a record header of the data plane
    /// with room for its path, so an entry with more is refused with a clear
    /// message instead.
    pub const MAX_XATTR_BYTES: usize = 32 * 1024;

    /// Refuses a header whose symlink target or extended attributes exceed
    /// [`FileHeader::MAX_LINK_TARGET`] or [`FileHeader::MAX_XATTR_BYTES`]
    /// (paths are bounded by [`RelPath::from_bytes`]). Every receiver checks
    /// what a peer sent; the walker checks what it found, so an honest peer
    /// never sends what the other side refuses.
    pub fn check_bounds(&self) -> Result<()> {
        let target = self.link_target.as_ref().map_or(0, Vec::len);
        if target > Self::MAX_LINK_TARGET {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("its symlink target takes {target} bytes; blit carries at most {}", Self::MAX_LINK_TARGET),
            )
            .with_path(self.path.display()));
        }
        let xattrs: usize = self.xattrs.iter().map(|(n, v)| n.len() + v.len()).sum();
        if xattrs > Self::MAX_XATTR_BYTES {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "its extended attributes take {xattrs} bytes; blit carries at most {} per entry",
                    Self::MAX_XATTR_BYTES
                ),
            )
            .with_path(self.path.display())
            .with_hint("this entry is skipped; copy it without --xattrs, or shrink its attributes"));
        }
        Ok(())
    }

    /// Approximate encoded size, used to cap need-list batches by bytes.
    pub fn encoded_len(&self) -> usize {
        // path + kind/size/mtime/mode fields + optional target and checksum.
        self.path.as_bytes().len()
            + 32
            + self.link_target.as_ref().map_or(0, Vec::len)
            + self.checksum.map_or(0, |c| c.len())
            + self.xattrs.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>()
            + self.hard_link.as_ref().map_or(0, |p| p.as_bytes().len())
            + self.resume.as_ref().map_or(0, |m| m.encoded_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escapes_and_keeps_raw_bytes() {
        for bad in [&b"/etc"[..], b"a/../b", b"..", b"a//b", b"a/", b"./a", b"a\0b"] {
            assert!(RelPath::from_bytes(bad.to_vec()).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let p = RelPath::from_bytes(b"d\xff/f \n".to_vec()).unwrap();
        assert_eq!(p.as_bytes(), b"d\xff/f \n");
        assert_eq!(p.file_name(), b"f \n");
        assert_eq!(p.parent().unwrap().as_bytes(), b"d\xff");
        assert_eq!(p.depth(), 2);
        assert!(RelPath::root().parent().is_none());
        assert_eq!(RelPath::root().join(b"x").join(b"y").as_bytes(), b"x/y");
    }

    #[test]
    fn bounds_paths_targets_and_xattrs() {
        let name = vec![b'n'; RelPath::MAX_NAME];
        assert!(RelPath::from_bytes(name.clone()).is_ok());
        assert!(RelPath::from_bytes([name.as_slice(), b"x"].concat()).is_err(), "a name of 256 bytes");
        let long: Vec<u8> = std::iter::repeat_n(&b"abcdefg/"[..], 512).flatten().copied().collect();
        assert!(RelPath::from_bytes(long[..RelPath::MAX_LEN - 1].to_vec()).is_ok());
        assert!(RelPath::from_bytes([&long[..], b"x"].concat()).is_err(), "a path of 4097 bytes");
        let mut h = FileHeader { kind: FileKind::Symlink, link_target: Some(vec![b't'; 4096]), ..Default::default() };
        h.check_bounds().unwrap();
        h.link_target = Some(vec![b't'; 4097]);
        assert_eq!(h.check_bounds().unwrap_err().kind(), ErrorKind::Unsupported);
        let h = FileHeader {
            xattrs: vec![(b"user.a".to_vec(), vec![0; FileHeader::MAX_XATTR_BYTES])],
            ..Default::default()
        };
        assert!(h.check_bounds().unwrap_err().to_string().contains("extended attributes"));
    }

    #[cfg(unix)]
    #[test]
    fn maps_to_local_path() {
        let base = std::path::Path::new("/base");
        assert_eq!(RelPath::root().to_path(base), base);
        assert_eq!(RelPath::from_bytes(b"a/b".to_vec()).unwrap().to_path(base), base.join("a/b"));
    }
}
