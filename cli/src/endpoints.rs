//! Turning the user's SRC and DST into transfer roots, with rsync's
//! trailing-slash rule and the checks that catch mistakes before any byte moves.

use blit_api::{Error, ErrorKind, Result};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// Where a local transfer reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Roots {
    /// The source root (its header has the empty relative path).
    pub(crate) source: PathBuf,
    /// The destination the source root maps to.
    pub(crate) destination: PathBuf,
}

/// A local source argument, inspected.
#[derive(Debug, Clone)]
pub(crate) struct SourceArg {
    /// The path as given.
    pub(crate) path: PathBuf,
    /// Whether it is a directory (after following a trailing-slash symlink).
    pub(crate) is_dir: bool,
    /// Whether it ended with `/`: copy the contents, not the directory.
    pub(crate) contents: bool,
    /// Its last component, if it has one.
    pub(crate) name: Option<OsString>,
}

impl SourceArg {
    /// Whether the destination root is DST/name rather than DST itself, given
    /// whether DST names a directory to put things into.
    pub(crate) fn goes_inside(&self, dst_is_dir: bool) -> bool {
        self.name.is_some() && if self.is_dir { !self.contents } else { dst_is_dir }
    }
}

/// Whether a path argument ends with `/` (or is `.`): "this directory's contents".
pub(crate) fn ends_with_slash(p: &OsStr) -> bool {
    let b = p.as_bytes();
    b.ends_with(b"/") || b.ends_with(b"/.") || b == b"."
}

/// Inspects a local source; a missing source is a clear `NotFound`.
pub(crate) fn inspect_source(src: &OsStr) -> Result<SourceArg> {
    if src.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "the source must not be empty"));
    }
    let path = PathBuf::from(src);
    let contents = ends_with_slash(src);
    // With a trailing slash the OS follows a symlink to a directory, as rsync does.
    let meta = if contents { std::fs::metadata(&path) } else { std::fs::symlink_metadata(&path) };
    let meta = match meta {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(ErrorKind::NotFound, "source does not exist")
                .with_path(path.display().to_string())
                .with_hint("check the path"))
        }
        Err(e) => return Err(Error::io("read source", path.display(), e)),
    };
    let name = path.file_name().map(OsString::from);
    Ok(SourceArg { path, is_dir: meta.is_dir(), contents, name })
}

/// Whether a local destination argument names a directory to put things into.
pub(crate) fn local_dir_target(dst: &OsStr) -> bool {
    ends_with_slash(dst) || std::fs::metadata(dst).map(|m| m.is_dir()).unwrap_or(false)
}

/// Applies the trailing-slash rule and refuses a missing source.
pub(crate) fn resolve(src: &OsStr, dst: &OsStr) -> Result<Roots> {
    if dst.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "the destination must not be empty"));
    }
    let source = inspect_source(src)?;
    let dst_path = PathBuf::from(dst);
    let destination = match &source.name {
        Some(name) if source.goes_inside(local_dir_target(dst)) => dst_path.join(name),
        _ => dst_path,
    };
    Ok(Roots { source: source.path, destination })
}

/// Checks that catch mistakes before any byte moves: a destination inside the
/// source, and a destination that cannot be written.
pub(crate) fn preflight(roots: &Roots, dry_run: bool) -> Result<()> {
    let src_meta = std::fs::metadata(&roots.source).map_err(|e| Error::io("read source", roots.source.display(), e))?;
    let dst_abs = lexical_absolute(&roots.destination)?;
    if src_meta.is_dir() {
        let src_canon =
            std::fs::canonicalize(&roots.source).map_err(|e| Error::io("resolve source", roots.source.display(), e))?;
        let dst_canon = canonicalize_existing_prefix(&dst_abs);
        if dst_canon == src_canon {
            return Err(Error::new(ErrorKind::InvalidInput, "source and destination are the same directory")
                .with_path(roots.destination.display().to_string()));
        }
        if dst_canon.starts_with(&src_canon) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("destination is inside the source {}; the copy would include itself", roots.source.display()),
            )
            .with_path(roots.destination.display().to_string())
            .with_hint("choose a destination outside the source"));
        }
    }
    check_destination(&roots.destination, dry_run)
}

/// Checks that the destination can be written (its nearest existing ancestor
/// is a writable directory) and creates its parent directories.
pub(crate) fn check_destination(destination: &Path, dry_run: bool) -> Result<()> {
    let dst_abs = lexical_absolute(destination)?;
    // The nearest existing ancestor of the destination must be a writable
    // directory; an existing destination file is replaced in its directory.
    let mut probe = dst_abs.as_path();
    while std::fs::symlink_metadata(probe).is_err() {
        match probe.parent() {
            Some(p) => probe = p,
            None => break,
        }
    }
    let probe_is_dir = std::fs::metadata(probe).map(|m| m.is_dir()).unwrap_or(false);
    let dir = match (probe == dst_abs, probe_is_dir) {
        (_, true) => probe,
        (true, false) => probe.parent().unwrap_or(probe),
        (false, false) => {
            return Err(Error::new(ErrorKind::InvalidInput, "is not a directory")
                .with_path(probe.display().to_string())
                .with_hint("choose a destination whose parent is a directory"))
        }
    };
    if !dry_run {
        match writable(dir) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EROFS) => {
                return Err(Error::new(ErrorKind::ReadOnly, "destination is on a read-only file system")
                    .with_path(dir.display().to_string())
                    .with_hint("choose a destination on a writable file system, or remount it read-write"))
            }
            Err(_) => {
                return Err(Error::new(ErrorKind::PermissionDenied, "destination is not writable")
                    .with_path(dir.display().to_string())
                    .with_hint("choose a destination you can write to, or fix its permissions"))
            }
        }
    }
    if !dry_run {
        if let Some(parent) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("create destination parent", parent.display(), e))?;
        }
    }
    Ok(())
}

/// Whether this process may create entries in `dir` (the reason when not).
fn writable(dir: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    if unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK | libc::X_OK, libc::AT_EACCESS) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// An absolute path with `.` and `..` resolved lexically.
fn lexical_absolute(p: &Path) -> Result<PathBuf> {
    let base = if p.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir().map_err(|e| Error::io("read current directory", ".", e))?
    };
    let mut out = base;
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Ok(out)
}

/// Canonicalises the longest existing prefix of `p` and appends the rest.
fn canonicalize_existing_prefix(p: &Path) -> PathBuf {
    let mut rest: Vec<Vec<u8>> = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(c) = std::fs::canonicalize(&cur) {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(OsStr::from_bytes(r.as_slice()));
            }
            return out;
        }
        match (cur.file_name().map(|n| n.to_os_string().into_vec()), cur.parent()) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                cur = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_rule() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("photos");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(src.join("a"), b"x").unwrap();
        let dst = t.path().join("backup");
        let r = resolve(src.as_os_str(), dst.as_os_str()).unwrap();
        assert_eq!(r.destination, dst.join("photos"));
        let with_slash = format!("{}/", src.display());
        let r = resolve(OsStr::new(&with_slash), dst.as_os_str()).unwrap();
        assert_eq!(r.destination, dst);
        // A file goes into an existing directory, or to the path itself.
        std::fs::create_dir(&dst).unwrap();
        let f = src.join("a");
        assert_eq!(resolve(f.as_os_str(), dst.as_os_str()).unwrap().destination, dst.join("a"));
        let target = dst.join("renamed");
        assert_eq!(resolve(f.as_os_str(), target.as_os_str()).unwrap().destination, target);
    }

    #[test]
    fn refuses_missing_source_and_destination_inside_source() {
        let t = tempfile::tempdir().unwrap();
        let missing = t.path().join("nope");
        let e = resolve(missing.as_os_str(), t.path().as_os_str()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("nope"), "{e}");
        let src = t.path().join("src");
        std::fs::create_dir(&src).unwrap();
        let roots = Roots { source: src.clone(), destination: src.join("sub/inner") };
        let e = preflight(&roots, false).unwrap_err();
        assert!(e.to_string().contains("inside the source"), "{e}");
        let roots = Roots { source: src.clone(), destination: src.join("x/..") };
        assert!(preflight(&roots, false).unwrap_err().to_string().contains("same directory"));
    }
}
