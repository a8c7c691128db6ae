//! `blit du HOST:/module/path`: how many bytes a tree on a daemon holds,
//! per directory, as `du --apparent-size` counts them: the sum of the
//! sizes the listing reports (a file's length, a symlink's target
//! length; a directory itself counts nothing), so the total is what a
//! copy of the tree transfers. Hard-linked files count once per name.
//!
//! Directories are printed after everything below them, up to
//! `--max-depth` levels below the target, the target itself (`.`) last,
//! as `du` does. The sizes come from a recursive walk of `List` calls
//! ([`crate::remote_walk`]); what is held is one running total per
//! directory on the way down.

use crate::inspect::{finish, runtime};
use crate::remote_walk::{self, Step};
use crate::DuArgs;
use blit_api::{FileHeader, FileKind, RelPath};

/// Prints the sizes of a remote tree.
pub(crate) fn du(args: DuArgs) -> u8 {
    finish((|| {
        let top = remote_walk::daemon_target(&args.target, "du", "measures")?;
        let route = remote_walk::route(&top, &args.connect)?;
        let max_depth = if args.summarize { Some(0) } else { args.max_depth };
        let mut sizes = Sizes::default();
        runtime()?.block_on(remote_walk::walk(&top, &*route, true, |step| {
            if let Some((path, total, depth)) = sizes.step(step) {
                if max_depth.is_none_or(|max| depth <= max) {
                    print(&path, total, &args);
                }
            }
            Ok(())
        }))
    })())
}

/// What one directory (or the target, when it is not one) holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Total {
    /// Apparent bytes of every file and symlink below it.
    bytes: u64,
    /// Regular files below it.
    files: u64,
}

/// Running totals of the directories being walked, innermost last.
#[derive(Debug, Default)]
struct Sizes {
    open: Vec<Total>,
}

impl Sizes {
    /// Takes one step of the walk; returns a directory whose total is
    /// final, with its depth below the target (or the target itself, at
    /// depth 0, when it is not a directory).
    fn step(&mut self, step: Step) -> Option<(RelPath, Total, usize)> {
        if self.open.is_empty() {
            // The walked directory itself.
            self.open.push(Total::default());
        }
        match step {
            Step::Entry(h) if h.kind == FileKind::Dir => self.open.push(Total::default()),
            Step::Entry(h) => self.add(&h),
            Step::Itself(h) => return Some((h.path.clone(), of(&h), 0)),
            Step::Left(path) => {
                let done = self.open.pop()?;
                if let Some(parent) = self.open.last_mut() {
                    parent.bytes = parent.bytes.saturating_add(done.bytes);
                    parent.files += done.files;
                }
                return RelPath::from_bytes(path).ok().map(|p| {
                    let depth = p.depth();
                    (p, done, depth)
                });
            }
        }
        None
    }

    fn add(&mut self, h: &FileHeader) {
        if let Some(total) = self.open.last_mut() {
            let one = of(h);
            total.bytes = total.bytes.saturating_add(one.bytes);
            total.files += one.files;
        }
    }
}

/// What one entry that is not a directory counts.
fn of(h: &FileHeader) -> Total {
    Total { bytes: h.size, files: u64::from(h.kind == FileKind::File) }
}

fn print(path: &RelPath, total: Total, args: &DuArgs) {
    if args.output.json {
        let mut v = serde_json::json!({
            "schema": crate::report::JSON_SCHEMA, "path": path, "bytes": total.bytes, "files": total.files,
        });
        crate::names::add_b64(&mut v, path);
        println!("{v}");
        return;
    }
    let size = args.output.bytes(total.bytes);
    let name = if path.is_root() { ".".to_owned() } else { path.display() };
    println!("{size:<12} {}", crate::escape::for_terminal(&name));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(path: &str, kind: FileKind, size: u64) -> FileHeader {
        FileHeader { path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(), kind, size, ..Default::default() }
    }

    #[test]
    fn totals_add_up_from_the_leaves() {
        let mut sizes = Sizes::default();
        let steps = [
            Step::Entry(header("a", FileKind::Dir, 0)),
            Step::Entry(header("a/f", FileKind::File, 5)),
            Step::Entry(header("a/l", FileKind::Symlink, 3)),
            Step::Left(b"a".to_vec()),
            Step::Entry(header("g", FileKind::File, 7)),
            Step::Left(Vec::new()),
        ];
        let done: Vec<_> = steps.into_iter().filter_map(|s| sizes.step(s)).collect();
        assert_eq!(done.len(), 2);
        assert_eq!((done[0].0.display(), done[0].1, done[0].2), ("a".to_owned(), Total { bytes: 8, files: 1 }, 1));
        assert!(done[1].0.is_root());
        assert_eq!((done[1].1, done[1].2), (Total { bytes: 15, files: 2 }, 0));
        // A target that is not a directory: its own size, at depth 0.
        let file = Sizes::default().step(Step::Itself(header("f.txt", FileKind::File, 3)));
        assert_eq!(
            file.map(|(p, t, d)| (p.display(), t, d)),
            Some(("f.txt".to_owned(), Total { bytes: 3, files: 1 }, 0))
        );
    }
}
