//! Ownership and extended attributes at the destination, and the one
//! warning per transfer when the destination cannot keep them.
//!
//! A header carries `uid`, `gid` and `xattrs` only when the options asked
//! for them (the walker fills them), so the destination applies whatever a
//! header carries once its `DestinationPolicy` took away what it refuses
//! (see `policy`). Where that fails for a reason the user cannot fix per
//! file (`EPERM` for `chown` without privilege, `ENOTSUP` for attributes the
//! filesystem does not store), the entry still lands; the failure is
//! counted in [`MetaWarnings`], and `finish` reports one
//! [`ProgressEvent::Warning`] per kind of trouble. The message names the
//! count and the system's answer, not a path: landing runs in parallel, and
//! the same tree must give the same events on every transport.
//!
//! `chown` runs before the mode is set: the kernel clears the set-user-ID
//! and set-group-ID bits of a file whose owner changes.

use crate::tree::{At, Stat};
use crate::xattr;
use blit_api::{Events, FileHeader, ProgressEvent};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

/// One kind of trouble: how many entries, and the first answer.
#[derive(Debug, Default)]
struct Tally {
    count: u64,
    first: Option<String>,
}

/// Counts entries whose ownership or attributes could not be set.
#[derive(Debug, Default)]
pub(crate) struct MetaWarnings {
    owner: Mutex<Tally>,
    xattrs: Mutex<Tally>,
}

fn note(tally: &Mutex<Tally>, e: &io::Error) {
    let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
    t.count += 1;
    t.first.get_or_insert_with(|| e.to_string());
}

impl MetaWarnings {
    fn owner(&self, e: &io::Error) {
        note(&self.owner, e);
    }

    fn xattrs(&self, e: &io::Error) {
        note(&self.xattrs, e);
    }

    /// Emits one `Warning` per kind of trouble seen, and resets.
    pub(crate) fn emit(&self, events: &Events) {
        let take = |t: &Mutex<Tally>| std::mem::take(&mut *t.lock().unwrap_or_else(PoisonError::into_inner));
        let owner = take(&self.owner);
        if let Some(first) = owner.first {
            events.emit(ProgressEvent::Warning {
                message: format!(
                    "could not set the owner or group of {} entries ({first}); they landed with the destination's \
                     default owner. Run the destination side as root to keep ownership, or leave out --owner/--group",
                    owner.count
                ),
            });
        }
        let xattrs = take(&self.xattrs);
        if let Some(first) = xattrs.first {
            events.emit(ProgressEvent::Warning {
                message: format!(
                    "could not set extended attributes on {} entries ({first}); they landed without them. The \
                     destination filesystem may not store them (mount it with user_xattr) or the namespace needs \
                     privilege; leave out --xattrs to skip them",
                    xattrs.count
                ),
            });
        }
    }
}

fn id(v: Option<u32>) -> libc::uid_t {
    // -1 leaves the id alone.
    v.unwrap_or(u32::MAX) as libc::uid_t
}

fn rc(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets what `h` carries on an open file (the landing's temporary file,
/// before it is renamed into place). Never fails: trouble is counted.
pub(crate) fn apply_fd(file: &File, h: &FileHeader, warnings: &MetaWarnings) {
    if h.uid.is_some() || h.gid.is_some() {
        // SAFETY: the descriptor is open for the lifetime of `file`.
        if let Err(e) = rc(unsafe { libc::fchown(file.as_raw_fd(), id(h.uid), id(h.gid) as libc::gid_t) }) {
            warnings.owner(&e);
        }
    }
    for (name, value) in &h.xattrs {
        if let Err(e) = xattr::set_fd(file, name, value) {
            warnings.xattrs(&e);
            break;
        }
    }
}

/// Brings the ownership and (with `sync_xattrs`) the extended attributes of
/// the entry `at` itself (never through a symlink) in line with `h`.
/// `existing` is its current `lstat`, when known. Returns whether the owner
/// changed, in which case the caller sets the mode again (see the module
/// docs). Never fails: trouble is counted.
pub(crate) fn apply_at(
    at: &At,
    h: &FileHeader,
    existing: Option<&Stat>,
    sync_xattrs: bool,
    warnings: &MetaWarnings,
) -> bool {
    let mut chowned = false;
    let differs = |want: Option<u32>, have: Option<u32>| want.is_some_and(|w| have != Some(w));
    if differs(h.uid, existing.map(|m| m.uid)) || differs(h.gid, existing.map(|m| m.gid)) {
        match at.chown(h.uid, h.gid) {
            Ok(()) => chowned = true,
            Err(e) => warnings.owner(&e),
        }
    }
    if sync_xattrs {
        // Attributes have no `*at` calls: the entry is named through its
        // held directory (see `tree::At::proc_path`), never by a real path.
        sync_path_xattrs(&at.proc_path(), h, existing.is_none(), warnings);
    }
    chowned
}

/// Sets the attributes `h` carries that `path` lacks or holds with another
/// value, and removes `user.*` attributes the source does not have (other
/// namespaces may be the destination system's own, such as SELinux labels).
fn sync_path_xattrs(path: &Path, h: &FileHeader, fresh: bool, warnings: &MetaWarnings) {
    let have = if fresh && h.xattrs.is_empty() {
        Vec::new()
    } else {
        match xattr::list(path) {
            Ok(have) => have,
            Err(e) => return warnings.xattrs(&e),
        }
    };
    for (name, value) in &h.xattrs {
        if have.iter().any(|(n, v)| n == name && v == value) {
            continue;
        }
        if let Err(e) = xattr::set_path(path, name, value) {
            return warnings.xattrs(&e);
        }
    }
    for (name, _) in have.iter().filter(|(n, _)| n.starts_with(b"user.")) {
        if !h.xattrs.iter().any(|(n, _)| n == name) {
            if let Err(e) = xattr::remove_path(path, name) {
                return warnings.xattrs(&e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::RecordingSink;
    use std::os::unix::fs::MetadataExt;
    use std::sync::Arc;

    /// The entry `f` names, through its directory's descriptor.
    fn at(f: &Path) -> At {
        let dir: std::os::fd::OwnedFd = File::open(f.parent().unwrap()).unwrap().into();
        At::new(Arc::new(dir), f.file_name().unwrap().as_encoded_bytes()).unwrap()
    }

    #[test]
    fn one_warning_per_kind_with_the_count() {
        let w = MetaWarnings::default();
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        w.owner(&eperm);
        w.owner(&io::Error::from_raw_os_error(libc::EINVAL));
        w.xattrs(&io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        let rec = RecordingSink::new();
        let events: Events = rec.clone();
        w.emit(&events);
        w.emit(&events);
        let got = rec.events();
        assert_eq!(got.len(), 2, "{got:?}");
        let text = |e: &ProgressEvent| match e {
            ProgressEvent::Warning { message } => message.clone(),
            other => panic!("{other:?}"),
        };
        assert!(text(&got[0]).contains("owner or group of 2 entries") && text(&got[0]).contains(&eperm.to_string()));
        assert!(text(&got[1]).contains("extended attributes on 1 entries"), "{}", text(&got[1]));
    }

    #[test]
    fn unknown_xattr_namespace_lands_the_file_and_counts_one_warning() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let file = File::create(&f).unwrap();
        let h = FileHeader { xattrs: vec![(b"nonsense.a".to_vec(), b"1".to_vec())], ..FileHeader::default() };
        let w = MetaWarnings::default();
        apply_fd(&file, &h, &w);
        apply_at(&at(&f), &h, None, true, &w);
        let rec = RecordingSink::new();
        w.emit(&(rec.clone() as Events));
        assert!(
            matches!(&rec.events()[..], [ProgressEvent::Warning { message }] if message.contains("on 2 entries")),
            "{:?}",
            rec.events()
        );
        drop(Arc::clone(&rec));
    }

    #[test]
    fn owner_changes_only_when_it_differs() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        let m = std::fs::symlink_metadata(&f).unwrap();
        let same = FileHeader { uid: Some(m.uid()), gid: Some(m.gid()), ..FileHeader::default() };
        let w = MetaWarnings::default();
        assert!(!apply_at(&at(&f), &same, Some(&Stat::from(&m)), false, &w), "nothing to change");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let other = FileHeader { uid: Some(4321), gid: Some(8765), ..FileHeader::default() };
            assert!(apply_at(&at(&f), &other, Some(&Stat::from(&m)), false, &w));
            let m = std::fs::symlink_metadata(&f).unwrap();
            assert_eq!((m.uid(), m.gid()), (4321, 8765));
        }
    }
}
