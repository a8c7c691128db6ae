//! Tree snapshots and their comparison.
//!
//! A [`Snapshot`] records, for every entry below a root (the root included,
//! under the empty path), its kind, its content hash and size, its mode
//! (`& 0o7777`), its mtime in nanoseconds and its link target. Names are raw
//! bytes and symlinks are never followed. Symlink modes are not compared:
//! Linux gives every link `0777`.

use crate::failure::{rules, show_path, Failure};
use blit_api::Capabilities;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Differences listed in full before the rest is counted.
const SHOWN_DIFFERENCES: usize = 20;

/// What a snapshot records about one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A regular file.
    File {
        /// Size in bytes.
        size: u64,
        /// BLAKE3 of the content.
        hash: [u8; 32],
        /// Permission bits.
        mode: u32,
        /// Modification time, nanoseconds since the epoch.
        mtime_ns: i64,
    },
    /// A directory.
    Dir {
        /// Permission bits.
        mode: u32,
        /// Modification time, nanoseconds since the epoch.
        mtime_ns: i64,
    },
    /// A symbolic link.
    Symlink {
        /// Target, raw bytes.
        target: Vec<u8>,
        /// Modification time of the link itself.
        mtime_ns: i64,
    },
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::File { .. } => "file",
            Node::Dir { .. } => "dir",
            Node::Symlink { .. } => "symlink",
        }
    }

    fn mtime_ns(&self) -> i64 {
        match self {
            Node::File { mtime_ns, .. } | Node::Dir { mtime_ns, .. } | Node::Symlink { mtime_ns, .. } => *mtime_ns,
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::File { size, hash, mode, mtime_ns } => {
                let short: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "file size={size} blake3={short}.. mode={mode:o} mtime={}", show_ns(*mtime_ns))
            }
            Node::Dir { mode, mtime_ns } => write!(f, "dir mode={mode:o} mtime={}", show_ns(*mtime_ns)),
            Node::Symlink { target, mtime_ns } => {
                write!(f, "symlink -> {} mtime={}", show_path(target), show_ns(*mtime_ns))
            }
        }
    }
}

fn show_ns(ns: i64) -> String {
    format!("{}.{:09}", ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000))
}

/// Every entry below a root, by raw relative path (the root is the empty path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    nodes: BTreeMap<Vec<u8>, Node>,
}

impl Snapshot {
    /// Snapshots `root`; a missing root gives an empty snapshot.
    pub fn take(root: &Path) -> io::Result<Snapshot> {
        let mut nodes = BTreeMap::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut stack = vec![(root.to_path_buf(), Vec::new())];
        while let Some((path, rel)) = stack.pop() {
            let m = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound && rel.is_empty() => break,
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            };
            let mtime_ns = m.mtime().saturating_mul(1_000_000_000).saturating_add(m.mtime_nsec());
            let mode = m.mode() & 0o7777;
            let node = if m.file_type().is_symlink() {
                Node::Symlink { target: std::fs::read_link(&path)?.as_os_str().as_bytes().to_vec(), mtime_ns }
            } else if m.is_dir() {
                for entry in std::fs::read_dir(&path)? {
                    let entry = entry?;
                    let mut child = rel.clone();
                    if !child.is_empty() {
                        child.push(b'/');
                    }
                    child.extend_from_slice(entry.file_name().as_bytes());
                    stack.push((entry.path(), child));
                }
                Node::Dir { mode, mtime_ns }
            } else {
                let mut file = std::fs::File::open(&path)?;
                let mut hasher = blake3::Hasher::new();
                loop {
                    match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            hasher.update(&buf[..n]);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Node::File { size: m.len(), hash: *hasher.finalize().as_bytes(), mode, mtime_ns }
            };
            nodes.insert(rel, node);
        }
        Ok(Snapshot { nodes })
    }

    /// The node at `path`.
    pub fn get(&self, path: &[u8]) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Sets the node at `path`.
    pub fn insert(&mut self, path: impl AsRef<[u8]>, node: Node) {
        self.nodes.insert(path.as_ref().to_vec(), node);
    }

    /// Removes `path` and everything below it.
    pub fn remove_tree(&mut self, path: &[u8]) {
        let mut prefix = path.to_vec();
        prefix.push(b'/');
        self.nodes.retain(|p, _| p != path && !p.starts_with(&prefix));
    }

    /// Every entry, by path.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        self.nodes.iter().map(|(p, n)| (p.as_slice(), n))
    }

    /// Number of entries, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there is no entry (the root does not exist).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Total size of the regular files.
    pub fn file_bytes(&self) -> u64 {
        self.nodes.values().map(|n| if let Node::File { size, .. } = n { *size } else { 0 }).sum()
    }

    /// The entries of `self` re-rooted below `dir` (for a destination that
    /// holds this tree in a subdirectory).
    pub fn under(&self, dir: &[u8]) -> Snapshot {
        let nodes = self
            .nodes
            .iter()
            .map(|(p, n)| {
                let mut q = dir.to_vec();
                if !p.is_empty() {
                    q.push(b'/');
                    q.extend_from_slice(p);
                }
                (q, n.clone())
            })
            .collect();
        Snapshot { nodes }
    }

    /// Checks that `actual` equals this expected snapshot. Without
    /// [`Capabilities::mtime_ns`], mtimes are compared in whole seconds.
    /// Fails with rule `tree-equal`, listing the differences field by field.
    pub fn expect_equal(&self, actual: &Snapshot, caps: &Capabilities) -> Result<(), Failure> {
        let mut diffs = Vec::new();
        for (path, want) in &self.nodes {
            match actual.nodes.get(path) {
                None => diffs.push(format!("{}: missing at the destination (expected {want})", show_path(path))),
                Some(got) => diffs.extend(node_diff(want, got, caps).map(|d| format!("{}: {d}", show_path(path)))),
            }
        }
        for (path, got) in &actual.nodes {
            if !self.nodes.contains_key(path) {
                diffs.push(format!("{}: extra at the destination ({got})", show_path(path)));
            }
        }
        if diffs.is_empty() {
            return Ok(());
        }
        let total = diffs.len();
        let mut msg = format!("the destination differs from the expected tree in {total} place(s):");
        for d in diffs.iter().take(SHOWN_DIFFERENCES) {
            msg.push_str("\n    ");
            msg.push_str(d);
        }
        if total > SHOWN_DIFFERENCES {
            msg.push_str(&format!("\n    ... and {} more", total - SHOWN_DIFFERENCES));
        }
        Err(Failure::new(rules::TREE_EQUAL, msg))
    }
}

/// The first field in which `got` differs from `want`, named.
fn node_diff(want: &Node, got: &Node, caps: &Capabilities) -> Option<String> {
    let mtime = |n: &Node| if caps.mtime_ns { n.mtime_ns() } else { n.mtime_ns().div_euclid(1_000_000_000) };
    let field = |name: &str, w: String, g: String| Some(format!("{name}: expected {w}, found {g}"));
    match (want, got) {
        (Node::File { size: ws, hash: wh, mode: wm, .. }, Node::File { size: gs, hash: gh, mode: gm, .. }) => {
            if ws != gs {
                return field("size", ws.to_string(), gs.to_string());
            }
            if wh != gh {
                return Some("content differs (same size, different BLAKE3)".to_owned());
            }
            if wm != gm {
                return field("mode", format!("{wm:o}"), format!("{gm:o}"));
            }
        }
        (Node::Dir { mode: wm, .. }, Node::Dir { mode: gm, .. }) if wm != gm => {
            return field("mode", format!("{wm:o}"), format!("{gm:o}"));
        }
        (Node::Symlink { target: wt, .. }, Node::Symlink { target: gt, .. }) if wt != gt => {
            return field("link target", show_path(wt), show_path(gt));
        }
        (Node::Dir { .. }, Node::Dir { .. }) | (Node::Symlink { .. }, Node::Symlink { .. }) => {}
        _ => return field("kind", want.kind().to_owned(), format!("{got}")),
    }
    if mtime(want) != mtime(got) {
        return field("mtime_ns", show_ns(want.mtime_ns()), show_ns(got.mtime_ns()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Content, TreeSpec};

    #[test]
    fn equal_trees_pass_and_each_field_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let mut spec = TreeSpec::new();
        spec.dir("d", 0o755, 1_000_000_001).file("d/f", Content::Bytes(b"abc".to_vec()), 0o644, 2_000_000_002).symlink(
            "l",
            "d/f",
            3_000_000_003,
        );
        spec.materialise(&tmp.path().join("a")).unwrap();
        spec.materialise(&tmp.path().join("b")).unwrap();
        let a = Snapshot::take(&tmp.path().join("a")).unwrap();
        let mut b = Snapshot::take(&tmp.path().join("b")).unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(a.file_bytes(), 3);
        let all = Capabilities { mtime_ns: true, ..Capabilities::default() };
        // Root mtimes differ (materialise does not set the root's): align them.
        b.insert(b"", a.get(b"").unwrap().clone());
        a.expect_equal(&b, &all).unwrap();

        let Some(Node::File { hash, size, mode, .. }) = b.get(b"d/f").cloned() else { panic!("not a file") };
        b.insert("d/f", Node::File { hash, size, mode, mtime_ns: 2_000_000_003 });
        let err = a.expect_equal(&b, &all).unwrap_err();
        assert_eq!(err.rule(), rules::TREE_EQUAL);
        assert!(err.message().contains("\"d/f\": mtime_ns: expected 2.000000002, found 2.000000003"), "{err}");
        // Whole-second precision forgives the nanoseconds.
        a.expect_equal(&b, &Capabilities::default()).unwrap();

        b.insert("d/f", Node::File { hash, size, mode: 0o600, mtime_ns: 2_000_000_002 });
        b.insert("extra", Node::Dir { mode: 0o755, mtime_ns: 0 });
        b.remove_tree(b"l");
        let err = a.expect_equal(&b, &all).unwrap_err().to_string();
        assert!(err.contains("mode: expected 644, found 600"), "{err}");
        assert!(err.contains("\"extra\": extra at the destination"), "{err}");
        assert!(err.contains("\"l\": missing at the destination"), "{err}");
    }

    #[test]
    fn missing_root_is_empty_and_under_reroots() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(Snapshot::take(&tmp.path().join("nope")).unwrap().is_empty());
        let mut s = Snapshot::default();
        s.insert("", Node::Dir { mode: 0o755, mtime_ns: 0 });
        s.insert("x", Node::Dir { mode: 0o755, mtime_ns: 0 });
        let u = s.under(b"top");
        assert!(u.get(b"top").is_some() && u.get(b"top/x").is_some() && u.len() == 2);
    }
}
