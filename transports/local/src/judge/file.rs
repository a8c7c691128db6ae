//! The judge's regular files: whether each is needed, and what a needed
//! one is offered (a partial copy, an older version to build on).

use super::Judge;
use crate::landing::dir_in_the_way;
use crate::meta;
use crate::tree::Stat;
use blit_api::{Error, FileHeader, FileKind};

impl Judge {
    /// A regular file's header: needed (new, or differing from what
    /// stands at its path) or not.
    pub(super) fn file(
        &mut self,
        h: FileHeader,
        fresh_parent: bool,
        looked: Option<Option<Stat>>,
    ) -> Option<FileHeader> {
        if fresh_parent {
            return self.needed(h, true);
        }
        let abs = self.tree.shown(&h.path);
        let m = match looked.map_or_else(|| self.lstat(&h.path), Ok) {
            Ok(Some(m)) => m,
            Ok(None) => return self.needed(h, true),
            Err(e) => {
                self.fail(&h.path, FileKind::File, h.size, Error::io("read metadata", abs.display(), e));
                return None;
            }
        };
        if m.is_dir() {
            self.fail(&h.path, FileKind::File, h.size, dir_in_the_way(&abs));
            return None;
        }
        if self.options.ignore_existing || (self.options.update && m.is_file() && m.mtime_ns > h.mtime_ns) {
            return None;
        }
        if !m.is_file() || m.size != h.size {
            return self.needed(h, false);
        }
        // The root file is reached through its parent.
        let at = match self.place(&h.path) {
            Ok(Some(at)) => Ok(at),
            Ok(None) => self.tree.anchor().parent(false),
            Err(e) => Err(e),
        };
        let at = match at {
            Ok(at) => at,
            Err(e) => {
                self.fail(&h.path, FileKind::File, h.size, Error::io("open directory", abs.display(), e));
                return None;
            }
        };
        let same_mtime = m.mtime_ns == h.mtime_ns;
        match h.checksum.filter(|_| self.options.checksum) {
            Some(sum) => {
                // Checksum mode: the content decides; an unreadable file is rewritten.
                let digest = at.open_file().and_then(|f| meta::blake3_reader(f, &mut self.buf));
                if digest.ok() != Some(sum) {
                    return self.needed(h, false);
                }
                if !same_mtime && !self.options.dry_run {
                    if let Err(e) = at.set_mtime(h.mtime_ns) {
                        self.fail(&h.path, FileKind::File, h.size, Error::io("set mtime", abs.display(), e));
                        return None;
                    }
                }
            }
            None if !same_mtime && !self.options.size_only => return self.needed(h, false),
            None => {}
        }
        let chowned = !self.options.dry_run && self.keep_meta(&at, &h, Some(&m));
        if (chowned || m.mode() != h.mode & meta::MODE_MASK) && !self.options.dry_run {
            if let Err(e) = at.set_mode(h.mode) {
                self.fail(&h.path, FileKind::File, h.size, Error::io("set mode", abs.display(), e));
                return None;
            }
        }
        self.in_place(&h);
        None
    }

    /// `h`'s content is needed (`new`: nothing stands at its path).
    fn needed(&mut self, mut h: FileHeader, new: bool) -> Option<FileHeader> {
        if self.linked_from_base(&h, new) {
            return None;
        }
        if self.options.dry_run {
            self.planned(&h, new);
            return None;
        }
        if let Some(partials) = &self.partials {
            partials.offer(&self.tree, &mut h);
        }
        if let (Some(bases), false) = (&self.bases, new) {
            let ahead = |h: &FileHeader, basis_len: u64| {
                if let Some(needs) = &self.ahead {
                    // What the source needs to open the file: no map,
                    // no attributes.
                    let header = FileHeader {
                        path: h.path.clone(),
                        kind: h.kind,
                        size: h.size,
                        mtime_ns: h.mtime_ns,
                        mode: h.mode,
                        ..FileHeader::default()
                    };
                    let hint =
                        blit_api::NeedBatch { files: Vec::new(), ahead: vec![blit_api::Ahead { header, basis_len }] };
                    let _ = needs.try_send(hint);
                }
            };
            bases.offer_basis(&self.tree, &mut h, &ahead);
        }
        if let (Some(expected), Some(sum)) = (&self.expected, h.checksum) {
            expected.expect(&h.path, sum);
        }
        Some(h)
    }
}
