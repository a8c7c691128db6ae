//! Cases about what the event log reports, beyond the rules every transfer
//! is checked against (see [`crate::invariants`]).

use super::manifest::root;
use crate::ctx::{Ctx, Transfer};
use crate::failure::{rules, show_path, Failure};
use crate::tree::Node;
use blit_api::{FileKind, ProgressEvent};
use std::collections::BTreeMap;

/// Per path: how many `FileStarted`, and the `FileDone` kind and bytes.
type Seen = BTreeMap<Vec<u8>, (usize, Option<(FileKind, u64)>)>;

/// Every entry of a fresh copy (root, directories, empty directory, files,
/// an empty file, a symlink) starts once and is done once with its kind, and
/// each file's bytes equal its size.
pub async fn every_entry(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    let mtime = ctx.rng().mtime_ns();
    spec.dir("dir", 0o755, mtime).dir("dir/empty", 0o700, mtime + 1).symlink("dir/link", "../top", mtime + 2);
    for (path, len) in [("top", 5000u64), ("dir/empty-file", 0), ("dir/mid", 300_000)] {
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(path, content, 0o644, mtime);
    }
    ctx.build(&spec)?;
    let source = ctx.snapshot(&ctx.src())?;
    let out = ctx.transfer(Transfer::new()).await?;
    let mut seen: Seen = BTreeMap::new();
    for e in &out.events {
        match e {
            ProgressEvent::FileStarted { path, .. } => seen.entry(path.as_bytes().to_vec()).or_default().0 += 1,
            ProgressEvent::FileDone { path, kind, bytes } => {
                let slot = &mut seen.entry(path.as_bytes().to_vec()).or_default().1;
                if slot.replace((*kind, *bytes)).is_some() {
                    return Err(Failure::new(
                        rules::EVERY_ENTRY_REPORTED,
                        format!("{} done twice", show_path(path.as_bytes())),
                    ));
                }
            }
            _ => {}
        }
    }
    for (path, node) in source.iter() {
        let want = match node {
            Node::File { size, .. } => (FileKind::File, *size),
            Node::Dir { .. } => (FileKind::Dir, 0),
            Node::Symlink { .. } => (FileKind::Symlink, 0),
        };
        match seen.remove(path) {
            Some((1, Some(got))) if got == want => {}
            other => {
                return Err(Failure::new(
                    rules::EVERY_ENTRY_REPORTED,
                    format!(
                        "{}: expected one start and done {want:?}, saw (starts, done) = {other:?}",
                        show_path(path)
                    ),
                ))
            }
        }
    }
    match seen.keys().next() {
        Some(extra) => Err(Failure::new(
            rules::EVERY_ENTRY_REPORTED,
            format!("{} reported but not in the source", show_path(extra)),
        )),
        None => Ok(()),
    }
}

/// With `remove_source` (`blit move`), each file and symlink is reported in
/// place exactly once with its source size and mtime, whether it landed now
/// or was already equal (a second run), and no directory is: the source
/// removes exactly what is known to be at the destination.
pub async fn in_place_for_every_file(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    let mtime = ctx.rng().mtime_ns();
    spec.dir("dir", 0o755, mtime).symlink("dir/link", "../top", mtime + 2);
    for (path, len) in [("top", 5000u64), ("dir/empty-file", 0), ("dir/mid", 300_000), ("dir/small", 10)] {
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(path, content, 0o644, mtime);
    }
    ctx.build(&spec)?;
    let source = ctx.snapshot(&ctx.src())?;
    let mut want: BTreeMap<Vec<u8>, (FileKind, Option<u64>, i64)> = BTreeMap::new();
    for (path, node) in source.iter() {
        match node {
            Node::File { size, mtime_ns, .. } => want.insert(path.to_vec(), (FileKind::File, Some(*size), *mtime_ns)),
            Node::Symlink { mtime_ns, .. } => want.insert(path.to_vec(), (FileKind::Symlink, None, *mtime_ns)),
            Node::Dir { .. } => None,
        };
    }
    let moving = blit_api::TransferOptions::new().remove_source(true);
    for run in ["first", "second"] {
        let out = ctx.transfer(Transfer::new().options(moving.clone())).await?;
        let mut got = BTreeMap::new();
        for e in &out.events {
            if let ProgressEvent::InPlace { path, kind, size, mtime_ns } = e {
                let size = (*kind == FileKind::File).then_some(*size);
                if got.insert(path.as_bytes().to_vec(), (*kind, size, *mtime_ns)).is_some() {
                    let shown = show_path(path.as_bytes());
                    return Err(Failure::new(
                        rules::EVERY_ENTRY_REPORTED,
                        format!("{run} run: {shown} in place twice"),
                    ));
                }
            }
        }
        if got != want {
            let shown = |m: &BTreeMap<Vec<u8>, _>| m.keys().map(|k| show_path(k)).collect::<Vec<_>>().join(", ");
            return Err(Failure::new(
                rules::EVERY_ENTRY_REPORTED,
                format!("{run} run: in place [{}], want [{}] (or another size or mtime)", shown(&got), shown(&want)),
            ));
        }
    }
    Ok(())
}
