//! Cases about what the destination judges needed: updates of changed
//! files, checksum mode, extraneous entries with and without mirror, dry
//! runs and second runs.

use super::manifest::{random_tree, root};
use crate::ctx::{Ctx, Expect, Outcome, Transfer};
use crate::failure::{ensure, rules, show_path, Failure};
use crate::fixture::{Content, TreeSpec};
use crate::tree::{Node, Snapshot};
use blit_api::TransferOptions;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// How `update_*` changes files between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// New content of another size, same mtime.
    Size,
    /// New content of the same size, another mtime.
    Mtime,
}

/// A seeded tree of about 30 files in nested directories.
fn base_tree(ctx: &mut Ctx) -> TreeSpec {
    let mut spec = root(ctx.rng());
    random_tree(&mut spec, ctx.rng(), "", 2, 2, 4);
    spec
}

/// The regular files of a spec, by path.
fn files(spec: &TreeSpec) -> Vec<Vec<u8>> {
    spec.entries()
        .iter()
        .filter(|e| matches!(e, crate::fixture::EntrySpec::File { .. }))
        .map(|e| e.path().to_vec())
        .collect()
}

/// Rewrites the file at `rel` below `root` with `content`, then restores or
/// sets its mtime and mode as the snapshot `node` says, optionally moving
/// the mtime by `shift` nanoseconds.
fn rewrite(root: &Path, rel: &[u8], content: Content, node: &Node, shift: i64) -> Result<(), Failure> {
    let Node::File { mode, mtime_ns, .. } = node else {
        return Err(Failure::fixture(show_path(rel), "not a file"));
    };
    let mut spec = TreeSpec::new();
    spec.file("", content, *mode, mtime_ns + shift);
    let path = root.join(OsStr::from_bytes(rel));
    spec.materialise(&path).map_err(|e| Failure::fixture(format!("rewrite {}", show_path(rel)), e))
}

/// Picks `k` distinct files of `spec` that are not empty in `tree`, sorted.
fn pick(ctx: &mut Ctx, spec: &TreeSpec, tree: &Snapshot, k: usize) -> Vec<Vec<u8>> {
    let mut all: Vec<_> =
        files(spec).into_iter().filter(|p| matches!(tree.get(p), Some(Node::File { size, .. }) if *size > 0)).collect();
    let mut out = Vec::new();
    for _ in 0..k.min(all.len()) {
        let i = ctx.rng().below(all.len() as u64) as usize;
        out.push(all.swap_remove(i));
    }
    out.sort();
    out
}

fn same_paths(rule: &str, what: &str, got: Vec<Vec<u8>>, want: &[Vec<u8>]) -> Result<(), Failure> {
    ensure(got == want, rule, || {
        let show = |v: &[Vec<u8>]| v.iter().map(|p| show_path(p)).collect::<Vec<_>>().join(", ");
        format!("{what}: expected [{}], got [{}]", show(want), show(&got))
    })
}

/// Changes three files between two runs; only they are sent again.
pub async fn update(ctx: &mut Ctx, change: Change) -> Result<(), Failure> {
    let spec = base_tree(ctx);
    ctx.build(&spec)?;
    ctx.transfer(Transfer::new()).await?;
    let before = ctx.snapshot(&ctx.src())?;
    let changed = pick(ctx, &spec, &before, 3);
    for rel in &changed {
        let node = before.get(rel).ok_or_else(|| Failure::fixture(show_path(rel), "missing from the source"))?;
        let Node::File { size, .. } = node else { return Err(Failure::fixture(show_path(rel), "not a file")) };
        let (content, shift) = match change {
            Change::Size => {
                let len = size + 1 + ctx.rng().below(100);
                (ctx.rng().content(len), 0)
            }
            Change::Mtime => (ctx.rng().content(*size), 1 + ctx.rng().below(1_000_000_000) as i64),
        };
        rewrite(&ctx.src(), rel, content, node, shift)?;
    }
    let out = ctx.transfer(Transfer::new()).await?;
    same_paths(rules::UPDATES_CHANGED, "files sent again", out.started(), &changed)
}

/// Same size, same mtime, new content: a plain copy cannot see it, a
/// checksum copy must.
pub async fn update_checksum(ctx: &mut Ctx) -> Result<(), Failure> {
    let spec = base_tree(ctx);
    ctx.build(&spec)?;
    ctx.transfer(Transfer::new()).await?;
    let before = ctx.snapshot(&ctx.src())?;
    let changed = pick(ctx, &spec, &before, 2);
    for rel in &changed {
        let node = before.get(rel).ok_or_else(|| Failure::fixture(show_path(rel), "missing from the source"))?;
        let Node::File { size, .. } = node else { return Err(Failure::fixture(show_path(rel), "not a file")) };
        rewrite(&ctx.src(), rel, ctx.rng().content(*size), node, 0)?;
    }
    let out = ctx.transfer(Transfer::new().expect(Expect::Unchanged)).await?;
    same_paths(rules::UPDATES_CHANGED, "without checksum mode, files sent", out.started(), &[])?;
    let out = ctx.transfer(Transfer::new().options(TransferOptions::new().checksum(true))).await?;
    same_paths(rules::UPDATES_CHANGED, "with checksum mode, files sent", out.started(), &changed)
}

/// Adds entries the source lacks to the destination: a file, a directory
/// tree and a file inside a directory the source has.
fn add_extras(ctx: &mut Ctx, spec: &TreeSpec, symlink: bool) -> Result<Vec<Vec<u8>>, Failure> {
    let inner_dir = spec
        .entries()
        .iter()
        .find(|e| matches!(e, crate::fixture::EntrySpec::Dir { path, .. } if !path.is_empty()))
        .map(|e| e.path().to_vec())
        .ok_or_else(|| Failure::fixture("extras", "the tree has no subdirectory"))?;
    let mut inner = inner_dir.clone();
    inner.extend_from_slice(b"/extra-inner");
    let mut extras = TreeSpec::new();
    let (content, mtime) = (ctx.rng().content(20), ctx.rng().mtime_ns());
    extras.file("extra.txt", content, 0o644, mtime);
    let (content, mtime) = (ctx.rng().content(30), ctx.rng().mtime_ns());
    extras.file("extra-dir/sub/deep.txt", content, 0o644, mtime);
    let (content, mtime) = (ctx.rng().content(40), ctx.rng().mtime_ns());
    extras.file(&inner, content, 0o644, mtime);
    let mut top = vec![b"extra-dir".to_vec(), b"extra.txt".to_vec(), inner];
    if symlink {
        let mtime = ctx.rng().mtime_ns();
        extras.symlink("extra-link", "extra.txt", mtime);
        top.push(b"extra-link".to_vec());
    }
    ctx.build_at(&ctx.dst(), &extras)?;
    top.sort();
    Ok(top)
}

/// A copy leaves what the source lacks in place and deletes nothing.
pub async fn copy_keeps_extraneous(ctx: &mut Ctx) -> Result<(), Failure> {
    let spec = base_tree(ctx);
    ctx.build(&spec)?;
    ctx.transfer(Transfer::new()).await?;
    add_extras(ctx, &spec, ctx.caps().symlink)?;
    let mut expected = ctx.snapshot(&ctx.dst())?;
    for (path, node) in ctx.snapshot(&ctx.src())?.iter() {
        expected.insert(path, node.clone());
    }
    let out = ctx.transfer(Transfer::new().expect(Expect::Tree(expected))).await?;
    same_paths(rules::MIRROR_DELETES, "a copy deleted", out.deleted(), &[])
}

/// Mirror deletes an extra file, directory tree, symlink and nested file.
pub async fn mirror_deletes(ctx: &mut Ctx) -> Result<(), Failure> {
    let spec = base_tree(ctx);
    ctx.build(&spec)?;
    ctx.transfer(Transfer::new()).await?;
    let extras = add_extras(ctx, &spec, true)?;
    let out = ctx.transfer(Transfer::new().options(TransferOptions::new().mirror(true))).await?;
    same_paths(rules::MIRROR_DELETES, "mirror deleted", out.deleted(), &extras)
}

/// A dry run over a stale destination reports what it would do and changes
/// nothing; the real run that follows does exactly what was reported.
pub async fn dry_run(ctx: &mut Ctx, mirror: bool) -> Result<(), Failure> {
    let spec = base_tree(ctx);
    ctx.build(&spec)?;
    ctx.transfer(Transfer::new()).await?;
    let before = ctx.snapshot(&ctx.src())?;
    let changed = pick(ctx, &spec, &before, 2);
    for rel in &changed {
        let node = before.get(rel).ok_or_else(|| Failure::fixture(show_path(rel), "missing from the source"))?;
        let len = 3000 + ctx.rng().below(100);
        rewrite(&ctx.src(), rel, ctx.rng().content(len), node, 0)?;
    }
    let mut added = TreeSpec::new();
    let (content, mtime) = (ctx.rng().content(10), ctx.rng().mtime_ns());
    added.file("new-file", content, 0o644, mtime).dir("new-dir", 0o750, ctx.rng().mtime_ns());
    let (content, mtime) = (ctx.rng().content(0), ctx.rng().mtime_ns());
    added.file("new-dir/inside", content, 0o600, mtime);
    ctx.build_at(&ctx.src(), &added)?;
    let extras = if mirror { add_extras(ctx, &spec, false)? } else { Vec::new() };
    let mut planned = changed.clone();
    planned.extend([b"new-dir".to_vec(), b"new-dir/inside".to_vec(), b"new-file".to_vec()]);
    planned.sort();

    let options = TransferOptions::new().mirror(mirror);
    let dry = ctx.transfer(Transfer::new().options(options.clone().dry_run(true)).expect(Expect::Unchanged)).await?;
    same_paths(rules::DRY_RUN_PLANS, "a dry run started", dry.started(), &[])?;
    same_paths(rules::DRY_RUN_PLANS, "a dry run planned", dry.planned(), &planned)?;
    same_paths(rules::DRY_RUN_PLANS, "a dry run reported deleting", dry.deleted(), &extras)?;
    let real = ctx.transfer(Transfer::new().options(options)).await?;
    same_paths(rules::DRY_RUN_PLANS, "the real run after the dry run sent", real.started(), &planned)?;
    same_paths(rules::DRY_RUN_PLANS, "the real run after the dry run deleted", real.deleted(), &extras)
}

/// A second run over an unchanged tree starts nothing and moves no byte.
pub async fn second_run_idle(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = base_tree(ctx);
    spec.dir("empty", 0o700, ctx.rng().mtime_ns());
    if ctx.caps().symlink {
        spec.symlink("link", "empty", ctx.rng().mtime_ns());
    }
    ctx.build(&spec)?;
    let first: Outcome = ctx.transfer(Transfer::new()).await?;
    ensure(first.summary.entries_transferred > 0, rules::EVERY_ENTRY_REPORTED, || {
        "the first run transferred nothing".into()
    })?;
    let second = ctx.transfer(Transfer::new()).await?;
    let s = &second.summary;
    ensure(
        second.started().is_empty() && s.entries_transferred == 0 && s.bytes_transferred == 0,
        rules::SECOND_RUN_IDLE,
        || {
            format!(
                "the second run started {} entries and reported {} files / {} bytes",
                second.started().len(),
                s.entries_transferred,
                s.bytes_transferred
            )
        },
    )
}
