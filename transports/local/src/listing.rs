//! Listing one directory of a tree (`blit ls` against a daemon): the
//! entries' headers, read through the descriptor-relative layer like every
//! other read.

use crate::tree::{Anchor, At, Stat, Tree};
use blit_api::{FileHeader, FileKind, RelPath};
use std::io;
use std::sync::Arc;

/// The header of the entry `at` with metadata `m`, under `path`; `None` for
/// kinds blit does not transfer (sockets, devices, FIFOs) and symlinks
/// whose target cannot be read.
fn header(path: RelPath, m: &Stat, link: impl FnOnce() -> io::Result<Vec<u8>>) -> Option<FileHeader> {
    let kind = m.kind()?;
    let link_target = match kind {
        FileKind::Symlink => Some(link().ok()?),
        _ => None,
    };
    Some(m.header(path, kind, link_target))
}

/// Calls `each` with the header of every entry of the directory at
/// `anchor` (its name as the path), or, when `anchor` names something
/// else, once with that entry under the empty path; stops when `each`
/// returns false. Nothing is followed below the anchor.
pub fn list(anchor: &Anchor, mut each: impl FnMut(FileHeader) -> bool) -> io::Result<()> {
    let m = anchor.stat_root()?;
    if !m.is_dir() {
        if let Some(h) = header(RelPath::root(), &m, || anchor.read_root_link()) {
            each(h);
        }
        return Ok(());
    }
    let tree = Tree::new(anchor.clone());
    let fd = Arc::new(tree.open_for_listing(b"")?);
    let mut entries = rustix::fs::Dir::read_from(&*fd).map_err(crate::tree::errno)?;
    while let Some(entry) = entries.read() {
        let entry = entry.map_err(crate::tree::errno)?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let (Ok(at), Ok(path)) = (At::new(fd.clone(), name), RelPath::from_bytes(name.to_vec())) else { continue };
        let Ok(Some(m)) = at.stat() else { continue };
        if let Some(h) = header(path, &m, || at.read_link()) {
            if !each(h) {
                break;
            }
        }
    }
    Ok(())
}
