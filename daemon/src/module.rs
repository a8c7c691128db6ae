//! Served modules and path containment.
//!
//! A module's directory is resolved once, at start (`canonicalize`), and
//! every path a client names is resolved against it so that it stays
//! inside: the client's path is a validated [`RelPath`] (no `..`, not
//! absolute), and the existing part of it is canonicalised and must still
//! lie below the module's directory, so a symlink inside the module that
//! leads outside is refused. What lies below the transfer root is guarded
//! as the transfer runs: the destination writes through `openat2`
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`) and the daemon's reader opens
//! source files the same way ([`crate::reader`]).
//!
//! Containment assumes nobody swaps directories for symlinks inside a
//! module while a request is being resolved; the openat2 checks below the
//! root hold regardless.

use blit_api::{Error, ErrorKind, RelPath, Result};
use blit_transport_grpc::ModuleInfo;
use blit_transports::local::DestinationPolicy;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::config::ModuleConfig;

/// A module ready to serve.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    pub(crate) name: String,
    /// Canonical directory.
    pub(crate) dir: PathBuf,
    pub(crate) read_only: bool,
    pub(crate) comment: String,
    /// Pushes may keep file ownership (`allow_owner`).
    pub(crate) allow_owner: bool,
    /// Pushes keep set-user-ID and set-group-ID bits (`allow_setid`).
    pub(crate) allow_setid: bool,
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
            modules.push(Module {
                name: c.name.clone(),
                dir,
                read_only: c.read_only,
                comment: c.comment.clone(),
                allow_owner: c.allow_owner,
                allow_setid: c.allow_setid,
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
    /// ownership nor set-ID bits come from clients (see `docs/security.md`).
    pub(crate) fn push_policy(&self) -> DestinationPolicy {
        DestinationPolicy::default().owner(self.allow_owner).setid(self.allow_setid)
    }

    /// Where `path` lives on disk, inside the module. With `follow_last`
    /// (the destination of a push) an existing last component is resolved
    /// too; without (a pull, a listing) a symlink there is served as a link.
    pub(crate) fn resolve(&self, path: &RelPath, follow_last: bool) -> Result<PathBuf> {
        if path.is_root() {
            return Ok(self.dir.clone());
        }
        let comps: Vec<&[u8]> = path.as_bytes().split(|b| *b == b'/').collect();
        let (resolved, last) = if follow_last { (&comps[..], None) } else { (&comps[..comps.len() - 1], comps.last()) };
        // The longest prefix that exists, canonicalised; the rest does not
        // exist yet, so it holds no symlinks.
        let mut exists = resolved.len();
        let prefix = |n: usize| resolved[..n].iter().fold(self.dir.clone(), |p, c| p.join(OsStr::from_bytes(c)));
        while exists > 0 && std::fs::symlink_metadata(prefix(exists)).is_err() {
            exists -= 1;
        }
        let shown = format!("/{}/{}", self.name, path.display());
        let mut out = std::fs::canonicalize(prefix(exists)).map_err(|e| {
            Error::new(ErrorKind::NotFound, format!("cannot resolve the path: {e}")).with_path(shown.clone())
        })?;
        if !out.starts_with(&self.dir) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "refused: a symlink on the way leads outside the module",
            )
            .with_path(shown)
            .with_hint("name a path inside the module"));
        }
        for c in resolved[exists..].iter().chain(last) {
            out.push(OsStr::from_bytes(c));
        }
        Ok(out)
    }

    /// `path`, shown as clients see it.
    pub(crate) fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.dir) {
            Ok(rest) if rest.as_os_str().is_empty() => format!("/{}", self.name),
            Ok(rest) => format!("/{}/{}", self.name, rest.display()),
            Err(_) => format!("/{}", self.name),
        }
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
    fn resolves_inside_and_refuses_symlink_escapes() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("m");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::create_dir(t.path().join("outside")).unwrap();
        symlink(t.path().join("outside"), dir.join("escape")).unwrap();
        symlink("a", dir.join("inner")).unwrap();
        let config = ModuleConfig::new("m", dir.clone());
        let modules = Modules::new(&[config]).unwrap();
        let m = modules.get("m").unwrap();
        let canon = std::fs::canonicalize(&dir).unwrap();
        assert_eq!(m.resolve(&RelPath::root(), true).unwrap(), canon);
        assert_eq!(m.resolve(&rel("a/b/new/deeper"), true).unwrap(), canon.join("a/b/new/deeper"));
        assert_eq!(m.resolve(&rel("inner/b"), false).unwrap(), canon.join("a/b"));
        // A symlink as the last component: a pull sends the link, a push
        // resolves it (and refuses it when it leads out).
        assert_eq!(m.resolve(&rel("escape"), false).unwrap(), canon.join("escape"));
        for (path, follow) in [("escape", true), ("escape/x", false), ("escape/x/y", true)] {
            let e = m.resolve(&rel(path), follow).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{path}");
            assert!(e.to_string().contains(&format!("/m/{path}")), "{e}");
            assert!(!e.to_string().contains(t.path().to_str().unwrap()), "hides the daemon's paths: {e}");
        }
        assert_eq!(m.show(&canon.join("a/b")), "/m/a/b");
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
