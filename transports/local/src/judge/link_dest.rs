//! `--link-dest`: a needed file that a previous copy holds unchanged is
//! hard-linked from there instead of being sent, the basis of snapshot
//! backups (each snapshot a full tree, unchanged files shared).
//!
//! "Unchanged" is what the transfer would call the same at the destination:
//! a regular file of the same size, mtime and permission bits (and owner
//! and group when they are kept), and with `--checksum` the same BLAKE3.
//! The link is made under a temporary name beside the target and renamed
//! over it, so the target is always either its old self or the linked
//! file. Anything that does not work out (no such file, another file
//! system, a refused link) sends the file as usual.
//!
//! The previous copy is a [`Tree`] like the destination: every lookup goes
//! through its held descriptors, with no symlink followed below its root,
//! and a daemon only accepts one inside the module (see
//! `Anchor::link_dest`).

use super::Judge;
use crate::meta;
use crate::temp::temp_name;
use crate::tree::{At, Tree};
use blit_api::{FileHeader, FileKind, ProgressEvent};

impl Judge {
    /// Links `h` from the previous copy when it holds it unchanged (a dry
    /// run reports it as planned, with no bytes); false when `h` must be
    /// sent.
    /// `new`: the destination holds nothing at `h`'s path.
    pub(super) fn linked_from_base(&mut self, h: &FileHeader, new: bool) -> bool {
        let Some(base) = &self.link_dest else { return false };
        // Extended attributes live on the inode: a link would carry the old ones.
        if h.kind != FileKind::File || h.hard_link.is_some() || h.path.is_root() || !h.xattrs.is_empty() {
            return false;
        }
        let Some(old) = unchanged(base, h, self.options.checksum, &mut self.buf) else { return false };
        if self.options.dry_run {
            self.emit(ProgressEvent::Planned { path: h.path.clone(), kind: FileKind::File, size: 0, new });
            return true;
        }
        let Ok(Some(target)) = self.place(&h.path) else { return false };
        let Ok(temp) = At::new(target.dir.clone(), &temp_name()) else { return false };
        if temp.link_to(&old).is_err() {
            return false;
        }
        let kept = self.backup.as_ref().map_or(Ok(()), |b| b.keep_linked(&target.dir, &target.name, &h.path));
        if kept.is_err() {
            // No backup, no replacing: the file is sent, and its landing says why.
            let _ = temp.unlink();
            return false;
        }
        if target.rename_from(&temp.name).is_err() {
            let _ = temp.unlink();
            return false;
        }
        self.emit(ProgressEvent::FileStarted { path: h.path.clone(), kind: FileKind::File, size: 0 });
        self.emit(ProgressEvent::FileDone { path: h.path.clone(), kind: FileKind::File, bytes: 0 });
        true
    }
}

/// The previous copy of `h` when it is unchanged.
fn unchanged(base: &Tree, h: &FileHeader, checksum: bool, buf: &mut Vec<u8>) -> Option<At> {
    let at = base.at(&h.path).ok()?;
    let st = at.stat().ok()??;
    let same = st.is_file()
        && st.size == h.size
        && st.mtime_ns == h.mtime_ns
        && st.mode() == h.mode & meta::MODE_MASK
        && h.uid.is_none_or(|uid| uid == st.uid)
        && h.gid.is_none_or(|gid| gid == st.gid);
    if !same {
        return None;
    }
    if let Some(sum) = h.checksum.filter(|_| checksum) {
        let digest = at.open_file().and_then(|f| meta::blake3_reader(f, buf)).ok()?;
        if digest != sum {
            return None;
        }
    }
    Some(at)
}
