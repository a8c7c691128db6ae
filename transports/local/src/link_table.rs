//! The walker's side of `--hard-links`: which inode was sent under which
//! name.
//!
//! Only regular files whose link count is above 1 enter the table, so a tree
//! without hard links costs nothing. An inode leaves the table once all its
//! names were seen, so memory follows the links still open, not every link
//! ever met. (Names outside the tree keep an inode's entry until the walk
//! ends.)
//!
//! The first name found is sent as an ordinary file; every later one as a
//! link entry ([`FileHeader::hard_link`] naming the first), which carries no
//! payload. The walker sends both *while it holds the table's lock*: the
//! walk is parallel, and this is what guarantees that the first name reaches
//! the manifest before any entry that links to it.

use blit_api::{FileHeader, ManifestItem, RelPath};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// An inode: (device, inode number).
pub(crate) type InodeKey = (u64, u64);

/// The first name of an inode and how many of its names are still unseen.
#[derive(Debug)]
struct Seen {
    first: RelPath,
    unseen: u64,
}

/// Inodes with more than one name, by their first name in the walk.
#[derive(Debug, Default)]
pub(crate) struct LinkTable {
    seen: Mutex<HashMap<InodeKey, Seen>>,
}

impl LinkTable {
    /// Turns `h` (a regular file of `nlink` names, `nlink > 1`) into the
    /// first name of its inode or a link entry to it, and sends it with
    /// `send` under the table's lock. Returns what `send` returned.
    pub(crate) fn send(
        &self,
        mut h: FileHeader,
        key: InodeKey,
        nlink: u64,
        send: impl FnOnce(ManifestItem) -> bool,
    ) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        match seen.get_mut(&key) {
            Some(s) => {
                h.hard_link = Some(s.first.clone());
                // A link to itself is never sent twice: the walk meets every
                // name once.
                s.unseen = s.unseen.saturating_sub(1);
                if s.unseen == 0 {
                    seen.remove(&key);
                }
            }
            None => {
                seen.insert(key, Seen { first: h.path.clone(), unseen: nlink.saturating_sub(1) });
            }
        }
        send(ManifestItem::Entry(h))
    }

    /// Inodes held right now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str) -> FileHeader {
        FileHeader { path: RelPath::from_bytes(p.as_bytes().to_vec()).unwrap(), size: 3, ..FileHeader::default() }
    }

    #[test]
    fn first_name_is_plain_later_names_link_to_it_and_the_entry_is_freed() {
        let table = LinkTable::default();
        let mut sent = Vec::new();
        let mut send = |name: &str, key, nlink| {
            table.send(file(name), key, nlink, |item| {
                sent.push(item);
                true
            })
        };
        assert!(send("a/one", (1, 10), 3));
        assert!(send("other", (1, 11), 2));
        assert!(send("b/two", (1, 10), 3));
        assert_eq!(table.len(), 2);
        assert!(send("c/three", (1, 10), 3));
        assert_eq!(table.len(), 1, "all three names of inode 10 seen: it left the table");
        // Same inode number on another device is another file.
        assert!(send("dev2", (2, 11), 2));
        let links: Vec<_> = sent
            .iter()
            .map(|i| match i {
                ManifestItem::Entry(h) => (h.path.display(), h.hard_link.as_ref().map(RelPath::display)),
                other => panic!("{other:?}"),
            })
            .collect();
        let want =
            [("a/one", None), ("other", None), ("b/two", Some("a/one")), ("c/three", Some("a/one")), ("dev2", None)];
        let want: Vec<_> = want.iter().map(|(p, l)| (p.to_string(), l.map(str::to_string))).collect();
        assert_eq!(links, want);
    }
}
