//! The destination's side of `--hard-links`: link entries become hard links
//! once every payload has landed.
//!
//! A link entry ([`FileHeader::hard_link`]) carries no payload, and its
//! target may still be in flight when the judge reads it, so the judge only
//! keeps it (memory grows with link entries, never with other files) and
//! `finish` creates the links after the payload. For each it compares
//! inodes: a name that already is the target's inode is up to date and
//! reports nothing. The rest are announced together as one `NeedBatch` of
//! that many files and 0 bytes, then each reports `FileStarted` (size 0)
//! and `FileDone` (0 bytes) or `FileFailed`, like every other entry.
//!
//! A link is made under a temporary name in its directory and renamed over
//! the final name, so a reader never sees the name missing. Both directories
//! are opened below the root without following symlinks, so a planted
//! symlink can never make a link to a file outside the destination.

use crate::landing::dir_in_the_way;
use crate::tree::{At, Tree};
use blit_api::{Error, ErrorKind, Events, FileHeader, FileKind, ProgressEvent, RelPath};
use std::io;

/// A link entry the judge kept for `finish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingLink {
    /// The name to create.
    pub(crate) path: RelPath,
    /// The name it links to, sent earlier in the manifest.
    pub(crate) target: RelPath,
}

/// Whether `link.path` already is the same regular file as `link.target`.
fn linked(tree: &Tree, link: &PendingLink) -> bool {
    let (Ok(a), Ok(b)) = (tree.at(&link.path), tree.at(&link.target)) else { return false };
    match (a.stat(), b.stat()) {
        (Ok(Some(a)), Ok(Some(b))) => a.is_file() && a.dev == b.dev && a.ino == b.ino,
        _ => false,
    }
}

/// Whether `link` would change anything (for a dry run's `Planned`).
pub(crate) fn needs_link(tree: &Tree, link: &PendingLink) -> bool {
    !linked(tree, link)
}

/// The judge's part: checks a link entry and keeps it for `finish`, or in a
/// dry run reports it as `Planned` (size 0) when it would change anything.
/// A malformed entry comes back with the error to report for it.
#[allow(clippy::result_large_err)]
pub(crate) fn judge(
    tree: &Tree,
    h: FileHeader,
    dry_run: bool,
    events: &Events,
) -> Result<Option<PendingLink>, (FileHeader, Error)> {
    let Some(target) = h.hard_link.clone() else { return Ok(None) };
    let why = if h.kind != FileKind::File {
        Some("a hard-link entry that is not a regular file")
    } else if h.path.is_root() || target.is_root() {
        Some("a hard link from or to the transfer root")
    } else if target == h.path {
        Some("a hard link to itself")
    } else {
        None
    };
    if let Some(why) = why {
        let e = Error::new(ErrorKind::Protocol, why).with_path(tree.shown(&h.path).display().to_string());
        return Err((h, e));
    }
    let link = PendingLink { path: h.path, target };
    if dry_run {
        if needs_link(tree, &link) {
            events.emit(ProgressEvent::Planned { path: link.path, kind: FileKind::File, size: 0, new: false });
        }
        return Ok(None);
    }
    Ok(Some(link))
}

/// Creates every link that is not already in place; see the module docs for
/// the events.
pub(crate) fn land_links(tree: &Tree, links: Vec<PendingLink>, events: &Events) {
    if links.is_empty() {
        return;
    }
    match tree.root(false) {
        Ok(_) => {}
        Err(e) => {
            let err = Error::io("open destination", tree.anchor().shown().display(), e);
            events.emit(ProgressEvent::NeedBatch { files: links.len() as u64, bytes: 0 });
            for link in links {
                events.emit(ProgressEvent::FileStarted { path: link.path.clone(), kind: FileKind::File, size: 0 });
                events.emit(ProgressEvent::failed(&link.path, &err));
            }
            return;
        }
    };
    let todo: Vec<PendingLink> = links.into_iter().filter(|l| !linked(tree, l)).collect();
    if todo.is_empty() {
        return;
    }
    events.emit(ProgressEvent::NeedBatch { files: todo.len() as u64, bytes: 0 });
    for link in todo {
        events.emit(ProgressEvent::FileStarted { path: link.path.clone(), kind: FileKind::File, size: 0 });
        match make(tree, &link) {
            Ok(()) => events.emit(ProgressEvent::FileDone { path: link.path, kind: FileKind::File, bytes: 0 }),
            Err(e) => events.emit(ProgressEvent::failed(&link.path, &e)),
        }
    }
}

/// Links `link.path` to `link.target`: a temporary name, then a rename,
/// all relative to the held directories of both names.
fn make(tree: &Tree, link: &PendingLink) -> Result<(), Error> {
    let abs = tree.shown(&link.path);
    let target_abs = tree.shown(&link.target);
    let io = |op: &str, e: io::Error| Error::io(op, abs.display(), e);
    let target = tree.at(&link.target).map_err(|e| io("open the link target's directory", e))?;
    let missing = || {
        Error::new(ErrorKind::NotFound, format!("its link target {} is not a regular file here", link.target))
            .with_path(abs.display().to_string())
            .with_hint("the target failed to land or changed since (see its own report); rerun to link them")
    };
    match target.stat() {
        Ok(Some(st)) if st.is_file() => {}
        Ok(_) => return Err(missing()),
        Err(e) => return Err(Error::io("read metadata", target_abs.display(), e)),
    }
    let dest = tree.at(&link.path).map_err(|e| io("open directory", e))?;
    if let Ok(Some(st)) = dest.stat() {
        if st.is_dir() {
            return Err(dir_in_the_way(&abs).with_hint("a directory is where a hard link goes; remove it, then rerun"));
        }
    }
    let mut last = None;
    for _ in 0..4 {
        let temp = At::new(dest.dir.clone(), &crate::temp::temp_name()).map_err(|e| io("name", e))?;
        match temp.link_to(&target) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(io("create hard link", e)),
            Ok(()) => {}
        }
        if let Err(e) = dest.rename_from(&temp.name) {
            let _ = temp.unlink();
            return Err(io("rename into place", e));
        }
        return Ok(());
    }
    Err(io("create hard link", last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::RecordingSink;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    fn tree(root: &Path) -> Tree {
        Tree::new(crate::Anchor::path(root.to_path_buf()))
    }

    fn rel(p: &str) -> RelPath {
        RelPath::from_bytes(p.as_bytes().to_vec()).unwrap()
    }

    fn ino(p: &Path) -> u64 {
        std::fs::symlink_metadata(p).unwrap().ino()
    }

    #[test]
    fn links_replace_atomically_skip_what_is_linked_and_report_each() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("t"), b"content").unwrap();
        std::fs::write(root.join("d/old"), b"content").unwrap();
        std::fs::hard_link(root.join("t"), root.join("same")).unwrap();
        let links = vec![
            PendingLink { path: rel("d/old"), target: rel("t") },
            PendingLink { path: rel("new"), target: rel("t") },
            PendingLink { path: rel("same"), target: rel("t") },
            PendingLink { path: rel("orphan"), target: rel("missing") },
        ];
        let rec = RecordingSink::new();
        land_links(&tree(root), links, &(rec.clone() as Events));
        assert_eq!(ino(&root.join("d/old")), ino(&root.join("t")));
        assert_eq!(ino(&root.join("new")), ino(&root.join("t")));
        assert!(!root.join("orphan").exists());
        let events = rec.events();
        assert_eq!(events[0], ProgressEvent::NeedBatch { files: 3, bytes: 0 }, "{events:?}");
        let done = events.iter().filter(|e| matches!(e, ProgressEvent::FileDone { bytes: 0, .. })).count();
        let failed: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ProgressEvent::FileFailed { path, kind, message } => Some((path.display(), *kind, message.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(done, 2);
        assert_eq!(failed.len(), 1);
        assert_eq!((failed[0].0.as_str(), failed[0].1), ("orphan", ErrorKind::NotFound));
        assert!(failed[0].2.contains("missing"), "{}", failed[0].2);
        // A second pass finds everything linked and says nothing.
        let rec = RecordingSink::new();
        let again = vec![PendingLink { path: rel("new"), target: rel("t") }];
        land_links(&tree(root), again, &(rec.clone() as Events));
        assert!(rec.events().is_empty(), "{:?}", rec.events());
        let names: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().starts_with(".blit.")), "{names:?}");
    }

    #[test]
    fn never_links_through_a_symlink_in_the_destination() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path(), root.join("sym")).unwrap();
        let rec = RecordingSink::new();
        land_links(
            &tree(root),
            vec![PendingLink { path: rel("grab"), target: rel("sym/secret") }],
            &(rec.clone() as Events),
        );
        assert!(!root.join("grab").exists(), "a link to a file outside the root was made");
        assert!(rec.events().iter().any(|e| matches!(e, ProgressEvent::FileFailed { .. })));
        assert!(needs_link(&tree(root), &PendingLink { path: rel("grab"), target: rel("sym/secret") }));
    }
}
