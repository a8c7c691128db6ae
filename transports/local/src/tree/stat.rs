//! What an `lstat` tells, in the few fields blit reads.

use blit_api::{FileHeader, FileKind, RelPath};

/// The metadata of one entry, from `fstatat(AT_SYMLINK_NOFOLLOW)` or
/// `fstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// `st_mode`: type and permission bits.
    pub(crate) raw_mode: u32,
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) nlink: u64,
}

impl From<&rustix::fs::Stat> for Stat {
    fn from(st: &rustix::fs::Stat) -> Self {
        // Field types differ between targets; the values always fit.
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        Stat {
            raw_mode: st.st_mode as u32,
            size: st.st_size.max(0) as u64,
            mtime_ns: (st.st_mtime as i64).saturating_mul(1_000_000_000).saturating_add(st.st_mtime_nsec as i64),
            uid: st.st_uid,
            gid: st.st_gid,
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            nlink: st.st_nlink as u64,
        }
    }
}

impl From<&std::fs::Metadata> for Stat {
    fn from(m: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Stat {
            raw_mode: m.mode(),
            size: m.len(),
            mtime_ns: crate::meta::mtime_ns(m),
            uid: m.uid(),
            gid: m.gid(),
            dev: m.dev(),
            ino: m.ino(),
            nlink: m.nlink(),
        }
    }
}

impl Stat {
    fn format(&self) -> u32 {
        self.raw_mode & libc::S_IFMT
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.format() == libc::S_IFDIR
    }

    pub(crate) fn is_file(&self) -> bool {
        self.format() == libc::S_IFREG
    }

    pub(crate) fn is_symlink(&self) -> bool {
        self.format() == libc::S_IFLNK
    }

    /// Permission bits.
    pub(crate) fn mode(&self) -> u32 {
        self.raw_mode & crate::meta::MODE_MASK
    }

    /// The transferable kind, or `None` for sockets, FIFOs and devices.
    pub(crate) fn kind(&self) -> Option<FileKind> {
        match self.format() {
            libc::S_IFREG => Some(FileKind::File),
            libc::S_IFDIR => Some(FileKind::Dir),
            libc::S_IFLNK => Some(FileKind::Symlink),
            _ => None,
        }
    }

    /// A short name for a kind blit does not transfer.
    pub(crate) fn special_name(&self) -> &'static str {
        match self.format() {
            libc::S_IFSOCK => "socket",
            libc::S_IFIFO => "FIFO",
            libc::S_IFBLK => "block device",
            libc::S_IFCHR => "character device",
            _ => "special file",
        }
    }

    /// The header of an entry of `kind` with this metadata at `path`
    /// (directories carry no size), before what the options add.
    pub(crate) fn header(&self, path: RelPath, kind: FileKind, link_target: Option<Vec<u8>>) -> FileHeader {
        FileHeader {
            path,
            kind,
            size: if kind == FileKind::Dir { 0 } else { self.size },
            mtime_ns: self.mtime_ns,
            mode: self.mode(),
            link_target,
            ..Default::default()
        }
    }
}
