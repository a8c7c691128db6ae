//! The daemon's payload reader for pulls: opens source files strictly below
//! the transfer root.
//!
//! In a pull the client is the destination and owns the need list, so a
//! need batch names whatever paths the client likes. They are validated
//! relative paths, but a path through a symlink inside the module
//! (`link/secret` with `link -> /etc`) would still lead out if it were
//! opened by name. This reader opens every file with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` relative to the root (or,
//! where the kernel lacks `openat2`, one `O_NOFOLLOW` component at a time),
//! so no symlink is ever followed; the walker never produces such paths, so
//! an honest client loses nothing.

use blit_api::{Error, ErrorKind, FileHeader, PayloadReader, Result, SourceFile};
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// Opens source files below `root` without following any symlink.
#[derive(Debug)]
pub(crate) struct ContainedReader {
    root: PathBuf,
    /// How the root is shown to the client (`/module/path`).
    shown: String,
}

impl ContainedReader {
    pub(crate) fn new(root: PathBuf, shown: String) -> Self {
        ContainedReader { root, shown }
    }
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name with a NUL byte"))
}

fn checked(fd: libc::c_long) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

fn openat(dir: libc::c_int, name: &CString, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and `dir` is open (or AT_FDCWD).
    checked(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) } as libc::c_long)
}

/// Opens `rel` (non-empty, validated) for reading below the directory `dir`.
fn open_beneath(dir: &OwnedFd, rel: &[u8]) -> io::Result<OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct OpenHow {
            flags: u64,
            mode: u64,
            resolve: u64,
        }
        let how = OpenHow {
            flags: (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64,
            mode: 0,
            resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS,
        };
        let path = cstring(rel)?;
        // SAFETY: openat2 reads `size_of::<OpenHow>()` bytes of `how` (the
        // kernel's `struct open_how`) and the NUL-terminated path.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        match checked(fd) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM | libc::E2BIG)) => {}
            other => return other,
        }
    }
    // One component at a time, never following a symlink.
    let mut comps = rel.split(|b| *b == b'/').peekable();
    let mut cur: Option<OwnedFd> = None;
    while let Some(comp) = comps.next() {
        let base = cur.as_ref().unwrap_or(dir).as_raw_fd();
        let name = cstring(comp)?;
        let flags = if comps.peek().is_some() { libc::O_RDONLY | libc::O_DIRECTORY } else { libc::O_RDONLY };
        cur = Some(openat(base, &name, flags)?);
    }
    cur.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an empty path"))
}

impl PayloadReader for ContainedReader {
    fn open(&self, header: &FileHeader) -> Result<SourceFile> {
        let shown = if header.path.is_root() { self.shown.clone() } else { format!("{}/{}", self.shown, header.path) };
        let fail = |e: io::Error| match e.raw_os_error() {
            Some(libc::ELOOP | libc::EXDEV) => {
                Error::new(ErrorKind::PermissionDenied, "refused: a symlink stands on the way to this file")
                    .with_path(shown.clone())
                    .with_hint("blitd never follows symlinks below the transfer root")
            }
            _ => Error::io("open", &shown, e),
        };
        let root = cstring(self.root.as_os_str().as_bytes()).map_err(fail)?;
        let fd = if header.path.is_root() {
            openat(libc::AT_FDCWD, &root, libc::O_RDONLY)
        } else {
            openat(libc::AT_FDCWD, &root, libc::O_RDONLY | libc::O_DIRECTORY)
                .and_then(|dir| open_beneath(&dir, header.path.as_bytes()))
        }
        .map_err(fail)?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|e| Error::io("read metadata", &shown, e))?;
        if !meta.is_file() {
            return Err(Error::new(ErrorKind::Unsupported, "not a regular file any more")
                .with_path(shown)
                .with_hint("the entry changed since the walk; rerun to pick up changes"));
        }
        let mut header = header.clone();
        header.size = meta.len();
        header.mtime_ns = meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec());
        header.mode = meta.mode() & 0o7777;
        Ok(SourceFile { file, header })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{FileKind, RelPath};
    use std::os::unix::fs::symlink;

    fn header(path: &str) -> FileHeader {
        FileHeader {
            path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
            kind: FileKind::File,
            size: 0,
            mtime_ns: 0,
            mode: 0,
            link_target: None,
            checksum: None,
        }
    }

    #[test]
    fn opens_below_the_root_and_never_through_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::write(root.join("d/f"), b"hello").unwrap();
        std::fs::write(t.path().join("secret"), b"no").unwrap();
        symlink(t.path(), root.join("up")).unwrap();
        symlink("d", root.join("inner")).unwrap();
        symlink("d/f", root.join("flink")).unwrap();
        let reader = ContainedReader::new(root.clone(), "/m".into());
        let got = reader.open(&header("d/f")).unwrap();
        assert_eq!(got.header.size, 5);
        for bad in ["up/secret", "inner/f", "flink"] {
            let e = reader.open(&header(bad)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{bad}: {e}");
            assert!(e.to_string().starts_with(&format!("/m/{bad}")), "{e}");
        }
        assert_eq!(reader.open(&header("d")).unwrap_err().kind(), ErrorKind::Unsupported);
        assert_eq!(reader.open(&header("missing")).unwrap_err().kind(), ErrorKind::NotFound);
        let single = ContainedReader::new(root.join("d/f"), "/m/d/f".into());
        assert_eq!(single.open(&FileHeader { path: RelPath::root(), ..header("x") }).unwrap().header.size, 5);
    }
}
