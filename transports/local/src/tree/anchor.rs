//! Where a tree starts.

use super::{errno, split, At, Stat};
use crate::beneath;
use blit_api::RelPath;
use rustix::fs::{Mode, OFlags};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a local endpoint's tree starts.
///
/// - [`Anchor::path`]: a path the user named on this machine (a local copy,
///   the client side of a pull). It is resolved as the user wrote it, a
///   symlink the user named included; nothing below it is ever followed.
/// - [`Anchor::beneath`]: a path strictly below a directory descriptor held
///   open, such as a daemon's module, opened once at start. The path is
///   resolved with no symlink anywhere (`RESOLVE_BENEATH |
///   RESOLVE_NO_SYMLINKS`), so a client that swaps a directory for a
///   symlink between resolution and use cannot lead outside. When the path
///   is the held directory itself, the tree's root is *protected*: its
///   mode, owner and times are never changed and it is never replaced.
#[derive(Debug, Clone)]
pub struct Anchor {
    base: Base,
    shown: PathBuf,
}

#[derive(Debug, Clone)]
enum Base {
    Path(PathBuf),
    Held { dir: Arc<OwnedFd>, rel: Vec<u8> },
}

impl Anchor {
    /// A tree rooted at `path`, as the user named it.
    pub fn path(path: PathBuf) -> Self {
        Anchor { shown: path.clone(), base: Base::Path(path) }
    }

    /// A tree rooted at `rel` strictly below the held directory `dir`;
    /// `dir_shown` names `dir` in messages.
    pub fn beneath(dir: Arc<OwnedFd>, dir_shown: &Path, rel: &RelPath) -> Self {
        Anchor { shown: rel.to_path(dir_shown), base: Base::Held { dir, rel: rel.as_bytes().to_vec() } }
    }

    /// Opens a directory to hold as the base of [`Anchor::beneath`] trees
    /// (a daemon's module): the path is resolved once, here.
    pub fn open_base(path: &Path) -> io::Result<Arc<OwnedFd>> {
        let fd =
            rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(errno)?;
        Ok(Arc::new(fd))
    }

    /// Another tree a flag names for a destination rooted here
    /// (`--link-dest`, `--backup-dir`). A path the user named takes `spec`
    /// as rsync does: an absolute path, or one relative to this root. A
    /// held tree (a module) takes only a path below the same held
    /// directory, with no `..`, so a client can never point a daemon
    /// outside its module.
    pub fn other(&self, flag: &str, spec: &[u8]) -> blit_api::Result<Anchor> {
        match &self.base {
            // A path-named root is the user's own destination (a local copy,
            // the client of a pull), and `spec` the user's own flag: no
            // peer supplies either. A peer's spec reaches the arm below.
            Base::Path(root) => Ok(Anchor::path(root.join(std::ffi::OsStr::from_bytes(spec)))),
            Base::Held { dir, rel } => {
                let below = RelPath::from_bytes(spec.to_vec()).map_err(|e| {
                    blit_api::Error::new(blit_api::ErrorKind::InvalidInput, format!("bad {flag}: {}", e.message()))
                        .with_hint(format!(
                            "a daemon takes a {flag} path inside the module, such as snapshots/previous"
                        ))
                })?;
                let depth = RelPath::from_bytes(rel.clone()).map_or(0, |r| r.depth());
                let dir_shown = self.shown.ancestors().nth(depth).unwrap_or(Path::new("/"));
                Ok(Anchor::beneath(dir.clone(), dir_shown, &below))
            }
        }
    }

    /// The root as a path, for messages only.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// Whether the root is a held directory itself, whose own metadata a
    /// transfer never changes.
    pub fn is_protected(&self) -> bool {
        matches!(&self.base, Base::Held { rel, .. } if rel.is_empty())
    }

    /// Opens the root directory (`O_PATH`), creating it and its missing
    /// parents when `create`.
    pub(crate) fn open_root(&self, create: bool) -> io::Result<OwnedFd> {
        match &self.base {
            Base::Path(path) => {
                let open = || {
                    rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                        .map_err(errno)
                };
                match open() {
                    Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                        std::fs::create_dir_all(path)?;
                        open()
                    }
                    other => other,
                }
            }
            Base::Held { dir, rel } if create => beneath::create_dir(dir.as_fd(), rel),
            Base::Held { dir, rel } => beneath::open_dir(dir.as_fd(), rel),
        }
    }

    /// The root as an entry of its parent directory (to create, replace or
    /// inspect the root itself when it is not a directory), creating
    /// missing parents when `create`. A held directory itself has no
    /// parent a transfer may touch: `PermissionDenied`.
    pub(crate) fn parent(&self, create: bool) -> io::Result<At> {
        match &self.base {
            Base::Path(path) => {
                let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, "the destination names no entry"));
                };
                let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                if create {
                    std::fs::create_dir_all(dir)?;
                }
                let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(errno)?;
                At::new(Arc::new(fd), name.as_bytes())
            }
            Base::Held { rel, .. } if rel.is_empty() => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the root of a module is never replaced or changed by a transfer",
            )),
            Base::Held { dir, rel } => {
                let (parent, name) = split(rel);
                let fd = if create {
                    beneath::create_dir(dir.as_fd(), parent)?
                } else {
                    beneath::open_dir(dir.as_fd(), parent)?
                };
                At::new(Arc::new(fd), name)
            }
        }
    }

    /// What stands at the root, not following it (nor anything on the way
    /// in a held tree): `None` when nothing does. A symlink or a file on
    /// the way is an error whose kind [`Anchor::is_in_the_way`] recognises.
    pub fn root_kind(&self) -> io::Result<Option<blit_api::FileKind>> {
        match self.stat_root() {
            Ok(m) => Ok(Some(m.kind().unwrap_or(blit_api::FileKind::File))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `e` says a symlink or a non-directory stood on the way.
    pub fn is_in_the_way(e: &io::Error) -> bool {
        beneath::is_in_the_way(e)
    }

    /// Whether the root itself may be followed if it is a symlink (the user
    /// named it); a held tree's root never is.
    pub(crate) fn follows_root(&self) -> bool {
        matches!(self.base, Base::Path(_))
    }

    /// The root itself, never following it in a held tree: its `lstat`
    /// (for a user's path, as the user wrote it: a trailing `/` follows).
    pub(crate) fn stat_root(&self) -> io::Result<Stat> {
        match &self.base {
            Base::Path(path) => Ok(Stat::from(&std::fs::symlink_metadata(path)?)),
            Base::Held { .. } => self.held_root()?.stat()?.ok_or_else(|| io::ErrorKind::NotFound.into()),
        }
    }

    /// The target of the root when it is a symlink.
    pub(crate) fn read_root_link(&self) -> io::Result<Vec<u8>> {
        match &self.base {
            Base::Path(path) => Ok(std::fs::read_link(path)?.into_os_string().into_vec()),
            Base::Held { .. } => self.held_root()?.read_link(),
        }
    }

    /// Opens the root when it is a regular file (never through a final
    /// symlink).
    pub(crate) fn open_root_file(&self) -> io::Result<File> {
        match &self.base {
            Base::Path(path) => crate::meta::open_nofollow(path),
            Base::Held { .. } => self.held_root()?.open_file(),
        }
    }

    /// The root's extended attributes (never through a final symlink).
    pub(crate) fn root_xattrs(&self) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        match &self.base {
            Base::Path(path) => crate::xattr::list(path),
            // The entry (and its directory's descriptor) lives while listing.
            Base::Held { .. } => crate::xattr::list(&self.held_root()?.proc_path()),
        }
    }

    /// A held tree's root as an entry: its name in its parent, or the held
    /// directory itself.
    fn held_root(&self) -> io::Result<At> {
        match &self.base {
            Base::Held { dir, rel } if rel.is_empty() => Ok(At::itself(dir.clone())),
            _ => self.parent(false),
        }
    }
}
