//! Walking a daemon's tree from the client, for `ls -R`, `du` and `find`:
//! one `List` call per directory, each through the daemon's contained
//! descriptor layer and its secret check, so these commands reach exactly
//! what a transfer would and nothing more.
//!
//! Entries come in the order of sorted full paths (each directory's
//! entries sorted by name, a directory's contents right after it), as
//! rsync and `find` show a tree. What is held is, for each directory on
//! the way down to the one being read, the rest of its entries: memory
//! grows with depth times directory size, never with the whole tree.

use crate::remote::Remote;
use blit_api::{Error, ErrorKind, FileHeader, FileKind, RelPath, Result};
use blit_transports::remote::{Reach, Route};
use std::sync::Arc;

/// One step of a walk.
#[derive(Debug)]
pub(crate) enum Step {
    /// An entry, its path below the walked directory.
    Entry(FileHeader),
    /// The walked target is not a directory: its one entry, under its own
    /// name.
    Itself(FileHeader),
    /// Every entry below this directory (its path below the walked one;
    /// empty for the walked directory itself) has been seen. Comes only
    /// with `recursive`, and for the walked directory also without.
    Left(Vec<u8>),
}

/// The remote path `arg` names (`HOST::module/path`, `HOST:path` over ssh
/// and the other forms of [`crate::remote`]); a local path is refused,
/// saying that `blit VERB` (which `does` something) works on another
/// machine's files.
pub(crate) fn daemon_target(arg: &std::ffi::OsStr, verb: &str, does: &str) -> Result<Remote> {
    match crate::remote::parse(arg)? {
        Some(target) => Ok(target),
        None => Err(Error::new(ErrorKind::InvalidInput, format!("`blit {verb}` {does} another machine's files"))
            .with_path(arg.to_string_lossy().into_owned())
            .with_hint(format!(
                "write HOST::module/path for a daemon or HOST:path over ssh; use `{verb}` for local paths"
            ))),
    }
}

/// The route to `top` (its daemon, or over ssh) with the connection options.
pub(crate) fn route(top: &Remote, connect: &crate::ConnectArgs) -> Result<Arc<dyn Route>> {
    crate::ssh::route(top, connect, Reach::default())
}

/// Walks `top` (every directory below it with `recursive`), calling `each`
/// for every step; an error from `each` stops the walk.
pub(crate) async fn walk(
    top: &Remote,
    route: &dyn Route,
    recursive: bool,
    mut each: impl FnMut(Step) -> Result<()>,
) -> Result<()> {
    // The directories being read, innermost last: each one's path below
    // `top` and the entries of it not seen yet.
    let mut open = vec![(Vec::new(), listing(route, top, &[]).await?)];
    while let Some((below, entries)) = open.last_mut() {
        let Some(mut h) = entries.next() else {
            let (below, _) = open.pop().expect("the walk has an open directory");
            each(Step::Left(below))?;
            continue;
        };
        if h.path.is_root() {
            // The target itself (a file or a symlink): its own name.
            h.path = named(&top.path);
            open.clear();
            each(Step::Itself(h))?;
            continue;
        }
        if !below.is_empty() {
            h.path = RelPath::from_bytes(join(below, h.path.as_bytes()))
                .map_err(|e| Error::new(ErrorKind::Protocol, e.message().to_owned()))?;
        }
        let descend = recursive && h.kind == FileKind::Dir;
        let path = h.path.as_bytes().to_vec();
        each(Step::Entry(h))?;
        if descend {
            let entries = listing(route, top, &path).await?;
            open.push((path, entries));
        }
    }
    Ok(())
}

/// The entries of `below` (a path below `top`), sorted by name.
async fn listing(route: &dyn Route, top: &Remote, below: &[u8]) -> Result<std::vec::IntoIter<FileHeader>> {
    let mut here = top.clone();
    if !below.is_empty() {
        here.path = join(&top.path, below);
    }
    let target = crate::wiring::target(&here, crate::wiring::remote_path(&here)?);
    let mut entries = Vec::new();
    route.list(&target, &mut |h: FileHeader| entries.push(h)).await?;
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(entries.into_iter())
}

/// `a/b`, or whichever is not empty.
pub(crate) fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_vec(),
        (_, true) => a.to_vec(),
        _ => [a, b"/", b].concat(),
    }
}

/// The last component of `path` as a path of its own (the root for none).
fn named(path: &[u8]) -> RelPath {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or_default();
    RelPath::from_bytes(name.to_vec()).unwrap_or_else(|_| RelPath::root())
}

/// `/module/path` of `top` (over ssh, the directory as named and the
/// path below it), as messages show it.
pub(crate) fn shown(top: &Remote) -> String {
    let mut shown = match &top.ssh {
        Some(ssh) if ssh.dir == b"." => "~".to_owned(),
        Some(ssh) => blit_api::text::escape(&ssh.dir).trim_end_matches('/').to_owned(),
        None => format!("/{}", top.module),
    };
    if !top.path.is_empty() {
        shown.push('/');
        shown.push_str(&blit_api::text::escape(&top.path));
    }
    shown
}

/// The JSON object of one entry, as `ls --json` and `find --json` print it.
pub(crate) fn entry_json(h: &FileHeader) -> serde_json::Value {
    let mut v = serde_json::json!({
        "schema": crate::report::JSON_SCHEMA, "path": h.path, "kind": h.kind, "size": h.size,
        "mtime_ns": h.mtime_ns, "mode": h.mode,
        "link_target": h.link_target.as_deref().map(crate::names::exact_or_escaped),
    });
    crate::names::add_b64(&mut v, &h.path);
    if let Some(target) = h.link_target.as_deref().filter(|t| std::str::from_utf8(t).is_err()) {
        v["link_target_b64"] = crate::names::base64(target).into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_joins() {
        assert_eq!(named(b"a/b/file.txt").as_bytes(), b"file.txt");
        assert_eq!(named(b"top").as_bytes(), b"top");
        assert!(named(b"").is_root());
        assert_eq!(join(b"", b"x"), b"x");
        assert_eq!(join(b"a/b", b"x"), b"a/b/x");
    }
}
