//! The daemon's payload reader for pulls: the local source's reader, with
//! paths in errors shown as the client sees them (`/module/path`), never as
//! the daemon's real directories.
//!
//! In a pull the client is the destination and owns the need list, so a
//! need batch names whatever paths the client likes. They are validated
//! relative paths, and [`LocalSource`]'s reader opens every file with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` below the transfer root,
//! so a path through a symlink inside the module (`link/secret` with
//! `link -> /etc`) is refused; the walker never produces such paths, so an
//! honest client loses nothing.

use blit_api::{Error, FileHeader, PayloadReader, Result, SourceFile};
use blit_transports::local::LocalSource;
use std::path::PathBuf;

/// Opens source files below `root` without following any symlink.
#[derive(Debug)]
pub(crate) struct ContainedReader {
    inner: LocalSource,
    /// How the root is shown to the client (`/module/path`).
    shown: String,
}

impl ContainedReader {
    pub(crate) fn new(root: PathBuf, shown: String) -> Self {
        ContainedReader { inner: LocalSource::new(root), shown }
    }
}

impl PayloadReader for ContainedReader {
    fn open(&self, header: &FileHeader) -> Result<SourceFile> {
        self.inner.open(header).map_err(|e| {
            let shown =
                if header.path.is_root() { self.shown.clone() } else { format!("{}/{}", self.shown, header.path) };
            let mut out = Error::new(e.kind(), e.message()).with_path(shown);
            if let Some(hint) = e.hint() {
                out = out.with_hint(hint);
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{ErrorKind, FileKind, RelPath};
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
            ..Default::default()
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
            assert!(e.to_string().contains("symlink"), "{e}");
            assert!(!e.to_string().contains(&*t.path().to_string_lossy()), "never shows the real directory: {e}");
            assert!(e.to_string().starts_with(&format!("/m/{bad}")), "{e}");
        }
        assert_eq!(reader.open(&header("d")).unwrap_err().kind(), ErrorKind::Unsupported);
        assert_eq!(reader.open(&header("missing")).unwrap_err().kind(), ErrorKind::NotFound);
        let single = ContainedReader::new(root.join("d/f"), "/m/d/f".into());
        assert_eq!(single.open(&FileHeader { path: RelPath::root(), ..header("x") }).unwrap().header.size, 5);
    }
}
