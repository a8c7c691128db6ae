//! Served modules and path containment.
//!
//! A module's directory is resolved once, at start (`canonicalize`), and
//! opened: the daemon holds its descriptor for as long as it runs. Every
//! path a client names is a validated [`RelPath`] (no `..`, not absolute)
//! resolved beneath that descriptor with no symlink on the way
//! (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, see
//! [`Anchor`]), not once but at every use: the walker, the judge, the
//! landing, mirror deletes and directory metadata all work relative to held
//! descriptors, so a client that swaps a directory for a symlink at any
//! moment cannot lead the daemon outside the module. Symlinks inside a
//! module are never followed on the way to a client's path (a pull of a
//! symlink itself sends the link), and a push never writes through one.
//!
//! Messages show paths as clients see them (`/module/path`), never the
//! daemon's real directories.

use blit_api::{Error, ErrorKind, FileKind, RelPath, Result};
use blit_transport_grpc::ModuleInfo;
use blit_transports::local::{Anchor, DestinationPolicy};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::ModuleConfig;

/// A module ready to serve.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    pub(crate) name: String,
    /// Canonical directory (to hide it from clients' messages; never joined
    /// to a client's path).
    pub(crate) dir: PathBuf,
    /// The directory, held open since start.
    root: Arc<OwnedFd>,
    pub(crate) read_only: bool,
    pub(crate) comment: String,
    /// Pushes may keep file ownership (`allow_owner`).
    pub(crate) allow_owner: bool,
    /// Pushes keep set-user-ID and set-group-ID bits (`allow_setid`).
    pub(crate) allow_setid: bool,
    /// Pushes flush what they land (`fsync`).
    pub(crate) fsync: bool,
    /// Clients may have it pushed to another daemon (`allow_relay`).
    pub(crate) allow_relay: bool,
    /// Extended attributes beyond `user.*` pushes may set (`allow_xattrs`).
    allow_xattrs: Vec<String>,
    /// How clients see the root (`/name` unless configured).
    shown: PathBuf,
}

/// The modules a daemon serves.
#[derive(Debug)]
pub(crate) struct Modules {
    modules: Vec<Module>,
}

impl Modules {
    /// Resolves every module's directory; refuses a missing one or one that
    /// is not a directory, and an empty list.
    pub(crate) fn new(configs: &[ModuleConfig]) -> Result<Self> {
        if configs.is_empty() {
            return Err(Error::new(ErrorKind::InvalidInput, "no modules to serve")
                .with_hint("add --module NAME=PATH, or a [[module]] in the configuration file"));
        }
        let mut modules = Vec::with_capacity(configs.len());
        for c in configs {
            let dir = std::fs::canonicalize(&c.path).map_err(|e| {
                Error::io(&format!("open module `{}`", c.name), c.path.display(), e)
                    .with_hint("create the directory or fix the module's path")
            })?;
            if !dir.is_dir() {
                return Err(Error::new(ErrorKind::InvalidInput, format!("module `{}` is not a directory", c.name))
                    .with_path(c.path.display().to_string())
                    .with_hint("a module serves a directory"));
            }
            let root = Anchor::open_base(&dir).map_err(|e| {
                Error::io(&format!("open module `{}`", c.name), c.path.display(), e)
                    .with_hint("check that blitd may read the module's directory")
            })?;
            modules.push(Module {
                name: c.name.clone(),
                dir,
                root,
                read_only: c.read_only,
                comment: c.comment.clone(),
                allow_owner: c.allow_owner,
                allow_setid: c.allow_setid,
                fsync: c.fsync,
                allow_relay: c.allow_relay,
                allow_xattrs: c.allow_xattrs.clone(),
                shown: c.shown_as.clone().unwrap_or_else(|| Path::new("/").join(&c.name)),
            });
        }
        Ok(Modules { modules })
    }

    /// The module called `name`.
    pub(crate) fn get(&self, name: &str) -> Result<&Module> {
        self.modules.iter().find(|m| m.name == name).ok_or_else(|| {
            let names: Vec<_> = self.modules.iter().map(|m| m.name.as_str()).collect();
            Error::new(ErrorKind::NotFound, format!("no module `{name}`; this blitd serves: {}", names.join(", ")))
                .with_hint("run `blit modules HOST` to list them")
        })
    }

    /// What clients see of every module.
    pub(crate) fn infos(&self) -> Vec<ModuleInfo> {
        self.modules
            .iter()
            .map(|m| ModuleInfo { name: m.name.clone(), comment: m.comment.clone(), read_only: m.read_only })
            .collect()
    }
}

impl Module {
    /// What a push into this module may set beyond content, times and
    /// permission bits: the daemon may run as root, so by default neither
    /// ownership nor set-ID bits come from clients, and extended attributes
    /// only in `user.*` and what `allow_xattrs` lists (see `docs/security.md`).
    pub(crate) fn push_policy(&self) -> DestinationPolicy {
        DestinationPolicy::default()
            .owner(self.allow_owner)
            .setid(self.allow_setid)
            .xattrs_allowed(&self.allow_xattrs)
            .always_fsync(self.fsync)
    }

    /// The tree at `path` inside the module, anchored beneath the module's
    /// held descriptor. Refused at once, with a message naming the path,
    /// when a symlink or a file stands on the way, or (with `push`) when
    /// `path` itself is a symlink: blitd never follows nor writes through
    /// one. The same containment holds again at every later use.
    pub(crate) fn resolve(&self, path: &RelPath, push: bool) -> Result<Anchor> {
        let anchor = Anchor::beneath(self.root.clone(), &self.shown_root(), path);
        let shown = anchor.shown().display().to_string();
        let refused = |why: &str| {
            Error::new(ErrorKind::PermissionDenied, format!("refused: {why}"))
                .with_path(shown.clone())
                .with_hint("blitd never follows symlinks inside a module; name the real directory")
        };
        match anchor.root_kind() {
            Err(e) if Anchor::is_in_the_way(&e) => Err(refused("a symlink or a file stands on the way")),
            Err(e) => Err(Error::io("resolve", &shown, e)),
            Ok(Some(FileKind::Symlink)) if push => Err(refused("this path is a symlink")),
            Ok(_) => Ok(anchor),
        }
    }

    /// How clients see the module's root: `/name`, unless configured.
    fn shown_root(&self) -> PathBuf {
        self.shown.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn rel(p: &str) -> RelPath {
        RelPath::from_bytes(p.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn resolves_beneath_the_held_root_and_refuses_symlinks_on_the_way() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("m");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::create_dir(t.path().join("outside")).unwrap();
        symlink(t.path().join("outside"), dir.join("escape")).unwrap();
        symlink("a", dir.join("inner")).unwrap();
        let config = ModuleConfig::new("m", dir.clone());
        let modules = Modules::new(&[config]).unwrap();
        let m = modules.get("m").unwrap();
        assert!(m.resolve(&RelPath::root(), true).unwrap().is_protected());
        assert_eq!(m.resolve(&rel("a/b/new/deeper"), true).unwrap().shown(), Path::new("/m/a/b/new/deeper"));
        // A symlink as the last component: a pull sends the link, a push is refused.
        assert!(m.resolve(&rel("escape"), false).is_ok());
        for (path, push) in [("escape", true), ("escape/x", false), ("escape/x/y", true), ("inner/b", false)] {
            let e = m.resolve(&rel(path), push).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{path}");
            assert!(e.to_string().contains(&format!("/m/{path}")), "{e}");
            assert!(!e.to_string().contains(t.path().to_str().unwrap()), "hides the daemon's paths: {e}");
        }
        // Held since start: renaming the module's directory away and
        // putting a symlink in its place changes nothing.
        std::fs::rename(&dir, t.path().join("moved")).unwrap();
        symlink(t.path().join("outside"), &dir).unwrap();
        let mut seen = Vec::new();
        blit_transports::local::list(&m.resolve(&RelPath::root(), false).unwrap(), |h| {
            seen.push(h.path.display());
            true
        })
        .unwrap();
        seen.sort();
        assert_eq!(seen, ["a", "escape", "inner"]);
        let e = modules.get("nope").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("serves: m"), "{e}");
    }

    #[test]
    fn refuses_missing_and_non_directory_modules() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("file"), b"x").unwrap();
        for path in [t.path().join("missing"), t.path().join("file")] {
            let c = ModuleConfig::new("m", path);
            let e = Modules::new(&[c]).unwrap_err();
            assert!(e.to_string().contains("module `m`"), "{e}");
        }
        assert!(Modules::new(&[]).unwrap_err().to_string().contains("no modules"));
    }
}
