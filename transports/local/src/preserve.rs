//! What the walker adds to a header beyond kind, size, mtime and mode when
//! the options ask for it: owner, group, extended attributes, and the inode
//! of a file with several names (for `--hard-links`, see `link_table`).

use crate::tree::Stat;

/// Extended attributes of one entry: (name, value) pairs.
pub(crate) type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;
use blit_api::{Error, FileHeader, TransferOptions};
use std::path::Path;

/// The metadata the options ask the walker to carry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Preserve {
    pub(crate) owner: bool,
    pub(crate) group: bool,
    pub(crate) xattrs: bool,
    pub(crate) hard_links: bool,
}

impl Preserve {
    pub(crate) fn new(o: &TransferOptions) -> Self {
        Preserve { owner: o.owner, group: o.group, xattrs: o.xattrs, hard_links: o.hard_links }
    }

    /// The inode and link count of a regular file with more than one name,
    /// when hard links are kept; `None` for everything else.
    pub(crate) fn inode(&self, meta: &Stat) -> Option<((u64, u64), u64)> {
        (self.hard_links && meta.is_file() && meta.nlink > 1).then_some(((meta.dev, meta.ino), meta.nlink))
    }

    /// Fills owner, group and extended attributes of `h` from `meta` and
    /// `list_xattrs` (which reads the entry's attributes); `shown` names it
    /// in messages. Fails when the attributes cannot be read or are too
    /// large to carry.
    pub(crate) fn fill(
        &self,
        h: &mut FileHeader,
        meta: &Stat,
        shown: &Path,
        list_xattrs: &dyn Fn() -> std::io::Result<Xattrs>,
    ) -> Result<(), Error> {
        if self.owner {
            h.uid = Some(meta.uid);
        }
        if self.group {
            h.gid = Some(meta.gid);
        }
        if self.xattrs {
            h.xattrs = list_xattrs().map_err(|e| Error::io("read extended attributes", shown.display(), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn fills_only_what_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        let m = std::fs::symlink_metadata(&f).unwrap();
        let meta = Stat::from(&m);
        let abs = || crate::xattr::list(&f);
        let mut h = FileHeader::default();
        Preserve::default().fill(&mut h, &meta, &f, &abs).unwrap();
        assert_eq!((h.uid, h.gid, h.xattrs.len()), (None, None, 0));
        let group = Preserve { group: true, ..Preserve::default() };
        group.fill(&mut h, &meta, &f, &abs).unwrap();
        assert_eq!((h.uid, h.gid), (None, Some(m.gid())));
        assert!(Preserve::default().inode(&meta).is_none());
        let links = Preserve { hard_links: true, ..Preserve::default() };
        assert!(links.inode(&meta).is_none(), "one name: never tracked");
        std::fs::hard_link(&f, dir.path().join("g")).unwrap();
        let m = std::fs::symlink_metadata(&f).unwrap();
        assert_eq!(links.inode(&Stat::from(&m)), Some(((m.dev(), m.ino()), 2)));
        let dmeta = Stat::from(&std::fs::symlink_metadata(dir.path()).unwrap());
        assert!(links.inode(&dmeta).is_none(), "directories have several links but are never tracked");
    }
}
