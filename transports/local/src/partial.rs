//! Partial copies of large files, kept for `--resume`.
//!
//! A file of at least [`RESUME_MIN`] bytes lands under a stable temporary
//! name derived from its final name, `.blit.<16 hex digits>.part` (the first
//! 8 bytes of the BLAKE3 of the name), beside its target. The name is short
//! whatever the final name's length, and the next run finds it again:
//!
//! - a run that is killed (SIGKILL, power loss) or interrupted (Ctrl-C, the
//!   peer went away: the landing is dropped, not failed) leaves the `.part`;
//!   a file that failed (a read error at the source, no space) removes it;
//! - a run without `--resume` sweeps stale `.part` files like every other
//!   temporary file (`sweep`), so leftovers never pile up;
//! - a run with `--resume` keeps them: for each needed file with a `.part`
//!   that no live writer holds (its `flock`), the judge hashes it into a
//!   [`BlockMap`], attaches the map to the need entry and keeps the file
//!   open and locked in [`Partials`] until the landing reopens it
//!   ([`Partials::take`]), so no other run can change it in between.
//!
//! Memory: one open descriptor per `.part` the judge offered and the
//! payload has not landed yet; only interrupted runs leave `.part` files,
//! one per file they were writing, so these are few. The older versions a
//! delta transfer is built from are offered here too ([`Partials::offer_basis`],
//! see `basis`), each as a few numbers, with no descriptor.

use crate::basis::{self, Basis, Prepared};
use crate::landing::create_part;
use crate::tree::{At, Tree};
use blit_api::{BlockMap, FileHeader, RelPath, RESUME_MIN};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError};

const PREFIX: &[u8] = b".blit.";
const SUFFIX: &[u8] = b".part";
/// Hex digits of the name hash.
const HEX: usize = 16;

/// Whether a file of `size` bytes lands under its stable `.part` name.
pub(crate) fn resumable(size: u64) -> bool {
    size >= RESUME_MIN
}

/// The name of the partial copy (`.blit.<16 hex digits>.part`) a large file
/// named `name` (its last component) lands under, beside its target. An
/// interrupted run leaves it for `--resume`.
pub fn part_name(name: &[u8]) -> Vec<u8> {
    let hash = blake3::hash(name);
    let mut out = Vec::with_capacity(PREFIX.len() + HEX + SUFFIX.len());
    out.extend_from_slice(PREFIX);
    for b in &hash.as_bytes()[..HEX / 2] {
        let _ = write!(out, "{b:02x}");
    }
    out.extend_from_slice(SUFFIX);
    out
}

/// Whether `name` is a `.part` name.
pub(crate) fn is_part_name(name: &[u8]) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
        .is_some_and(|hex| hex.len() == HEX && hex.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)))
}

/// Takes the exclusive lock every writer of a temporary file holds; false
/// when a live writer holds it.
pub(crate) fn try_lock(file: &File) -> bool {
    // SAFETY: `file` is an open descriptor.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Takes a shared lock, as the part-range writers of one partial copy hold
/// it (see `landing::range`); false when a writer holds it exclusively.
pub(crate) fn try_share(file: &File) -> bool {
    // SAFETY: `file` is an open descriptor.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0 }
}

/// What the judge offered the source to build a needed file from.
#[derive(Debug)]
pub(crate) enum Offered {
    /// A `.part` an interrupted run left (`--resume`), open and locked.
    Part(File),
    /// The older version at the file's name (delta transfer), and the copy
    /// of it being made ahead of the landing, if one was started.
    Basis(Basis, Option<Prepared>),
}

/// The partial copies and older versions the judge offered, until landed.
#[derive(Debug, Default)]
pub(crate) struct Partials {
    files: Mutex<HashMap<Vec<u8>, Offered>>,
    /// Copies of older versions waiting for their landing.
    prepared: Arc<AtomicUsize>,
}

impl Partials {
    /// For a needed file `h` below `root`: when a `.part` of it stands
    /// beside its target and no live writer holds it, hashes it, attaches
    /// the block map to `h` and keeps the file. Anything unusable (none,
    /// locked, unreadable) leaves `h` as it is: the file is sent whole.
    pub(crate) fn offer(&self, tree: &Tree, h: &mut FileHeader) {
        if !resumable(h.size) {
            return;
        }
        let part = at_name(tree, &h.path).and_then(|at| At::new(at.dir, &part_name(at.name.to_bytes())));
        match part.and_then(|part| hash_part(&part, h.size)) {
            Ok(Some((file, map))) => {
                h.resume = Some(Arc::new(map));
                self.lock().insert(h.path.as_bytes().to_vec(), Offered::Part(file));
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("not resuming {}: {e}", tree.shown(&h.path).display()),
        }
    }

    /// Delta transfer: for a needed file `h` (not offered a `.part`) whose
    /// name holds an older version large enough to help, hashes that
    /// version's blocks into `h`'s map and remembers which file it hashed
    /// (see `basis`). Anything unusable leaves `h` to be sent whole. Calls
    /// `ahead` with `h` and the older version's length just before hashing.
    pub(crate) fn offer_basis(&self, tree: &Tree, h: &mut FileHeader, ahead: &dyn Fn(&FileHeader, u64)) {
        if h.resume.is_some() || h.size < blit_api::DELTA_MIN {
            return;
        }
        let offered = (|| -> io::Result<_> {
            let at = at_name(tree, &h.path)?;
            let Some((old, basis)) = basis::open(&at, h)? else { return Ok(None) };
            // The copy the new file is built on starts first and runs while
            // the old version is hashed, then while the source compares and
            // sends (see `basis`).
            let room = self.prepared.load(std::sync::atomic::Ordering::SeqCst) < basis::PREPARED_MAX;
            let made = if room { create_part(&at.dir, &at.name, h.mode) } else { Ok(None) };
            let prepared = match made {
                Ok(Some(part)) => {
                    let len = basis.len().min(h.size);
                    Prepared::start(&old, part, at.dir.clone(), len, h.size, &self.prepared)
                }
                _ => None,
            };
            ahead(h, basis.len());
            let map = basis::map(&old, &basis)?;
            Ok(map.map(|map| (basis, map, prepared)))
        })();
        match offered {
            Ok(Some((basis, map, prepared))) => {
                h.resume = Some(Arc::new(map));
                self.lock().insert(h.path.as_bytes().to_vec(), Offered::Basis(basis, prepared));
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("sending {} whole: {e}", tree.shown(&h.path).display()),
        }
    }

    /// The landing side: what was offered for `path` (a partial copy still
    /// locked, or the older version's identity).
    pub(crate) fn take(&self, path: &RelPath) -> Option<Offered> {
        self.lock().remove(path.as_bytes())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Offered>> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where the file `path` names stands: a file at the root (a single-file
/// copy) sits in the root's parent.
fn at_name(tree: &Tree, path: &RelPath) -> io::Result<At> {
    if path.is_root() {
        tree.anchor().parent(false)
    } else {
        tree.at(path)
    }
}

/// Opens, locks and hashes the `.part` at `part` for a file of `size`
/// bytes; `None` when there is none or a live writer holds it.
fn hash_part(part: &At, size: u64) -> io::Result<Option<(File, BlockMap)>> {
    let file = match part.open(rustix::fs::OFlags::RDWR) {
        Ok(fd) => File::from(fd),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() || !try_lock(&file) {
        return Ok(None);
    }
    let map = BlockMap::hash_file(&file, size, meta.len().min(size))?;
    Ok(Some((file, map)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn part_names_are_short_stable_and_recognised() {
        let long = vec![b'x'; 255];
        let a = part_name(&long);
        assert_eq!(a.len(), 27);
        assert_eq!(a, part_name(&long), "the same name gives the same .part");
        assert_ne!(a, part_name(b"y"));
        assert!(is_part_name(&a));
        for other in [&b".blit.123.0.tmp"[..], b".blit.0123456789abcdeg.part", b".blit.0123.part", b"f.part"] {
            assert!(!is_part_name(other), "{:?}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn offers_an_unlocked_part_and_keeps_it_locked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let size = RESUME_MIN + 5;
        let part = root.join(std::ffi::OsStr::from_bytes(&part_name(b"big")));
        std::fs::write(&part, vec![7u8; (size / 2) as usize]).unwrap();
        let mut h = FileHeader { path: RelPath::from_bytes(b"big".to_vec()).unwrap(), size, ..Default::default() };
        let partials = Partials::default();
        let tree = Tree::new(crate::Anchor::path(root.to_path_buf()));
        let root = &tree;
        partials.offer(root, &mut h);
        let map = h.resume.clone().expect("a block map for the .part");
        assert_eq!(map.partial_len(), size / 2);
        assert_eq!(map.hashes().len(), (size / 2).div_ceil(map.block_size() as u64) as usize);
        // Held: another run cannot take it.
        let mut again = FileHeader { resume: None, ..h.clone() };
        Partials::default().offer(root, &mut again);
        assert!(again.resume.is_none(), "a locked .part is not offered twice");
        assert!(partials.take(&h.path).is_some());
        assert!(partials.take(&h.path).is_none());
        // Small files and missing parts get no map.
        let mut small = FileHeader { size: RESUME_MIN - 1, resume: None, ..h.clone() };
        partials.offer(root, &mut small);
        assert!(small.resume.is_none());
        let mut missing =
            FileHeader { path: RelPath::from_bytes(b"other".to_vec()).unwrap(), resume: None, ..h.clone() };
        partials.offer(root, &mut missing);
        assert!(missing.resume.is_none());
    }
}
