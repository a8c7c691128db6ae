//! Hard links (`TransferOptions::hard_links`): names of one source file stay
//! one file at the destination, whichever way the bytes flow.
//!
//! Link entries carry no payload and are made by the destination after the
//! payload, so every transport supports them; the cases need no capability.
//! Which name of a linked file the walk meets first (and sends with the
//! payload) is walk order, so the transfers declare the names as one file
//! ([`Transfer::same_files`]) and the event logs compare per file.

use super::manifest::root;
use crate::ctx::{Ctx, Outcome, Transfer};
use crate::failure::{ensure, rules, Failure};
use crate::fixture::Content;
use blit_api::TransferOptions;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Names of one file in the fixture, by group; `twin` has the content of the
/// first group but is another file.
const THREE: [&str; 3] = ["a/one", "b/two", "c/deeper/three"];
const TWO: [&str; 2] = ["pair", "d/pair-again"];
const TWIN: &str = "twin";

fn groups() -> Vec<Vec<Vec<u8>>> {
    [&THREE[..], &TWO[..]].iter().map(|g| g.iter().map(|p| p.as_bytes().to_vec()).collect()).collect()
}

/// Builds the fixture: a file with three names in different directories, a
/// file with two, and an unlinked file with the same content as the first.
fn build(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for dir in ["a", "b", "c", "c/deeper", "d"] {
        let mtime = ctx.rng().mtime_ns();
        spec.dir(dir, 0o755, mtime);
    }
    let shared = ctx.rng().content(3000);
    let (m1, m2, m3) = (ctx.rng().mtime_ns(), ctx.rng().mtime_ns(), ctx.rng().mtime_ns());
    spec.file(THREE[0], shared.clone(), 0o640, m1);
    spec.file(TWIN, shared, 0o640, m2);
    spec.file(TWO[0], Content::Bytes(b"two names".to_vec()), 0o600, m3);
    ctx.build(&spec)?;
    let src = ctx.src();
    for group in [&THREE[..], &TWO[..]] {
        for name in &group[1..] {
            std::fs::hard_link(src.join(group[0]), src.join(name))
                .map_err(|e| Failure::fixture(format!("link {name} to {}", group[0]), e))?;
        }
    }
    Ok(())
}

fn ino(root: &Path, p: &str) -> Result<(u64, u64), Failure> {
    let m = std::fs::symlink_metadata(root.join(p)).map_err(|e| Failure::fixture(format!("lstat {p}"), e))?;
    Ok((m.ino(), m.nlink()))
}

/// Checks that each group is one inode at `dst` with exactly its names, and
/// that the twin is a file of its own.
fn check_linked(dst: &Path) -> Result<(), Failure> {
    for group in [&THREE[..], &TWO[..]] {
        let (first, nlink) = ino(dst, group[0])?;
        for name in &group[1..] {
            let (other, _) = ino(dst, name)?;
            ensure(other == first, rules::HARD_LINKS_KEPT, || {
                format!("{name} is not linked to {} at the destination (inodes {other} and {first})", group[0])
            })?;
        }
        ensure(nlink == group.len() as u64, rules::HARD_LINKS_KEPT, || {
            format!("{} has {nlink} names at the destination; the source gave it {}", group[0], group.len())
        })?;
    }
    let (twin, nlink) = ino(dst, TWIN)?;
    ensure(twin != ino(dst, THREE[0])?.0 && nlink == 1, rules::HARD_LINKS_KEPT, || {
        format!("{TWIN} (equal content, another file at the source) got linked: {nlink} names")
    })
}

fn options() -> TransferOptions {
    TransferOptions::new().hard_links(true)
}

/// The linked fixture lands linked; each linked file's bytes travel once.
pub async fn hard_links_stay_linked(ctx: &mut Ctx) -> Result<(), Failure> {
    build(ctx)?;
    let out: Outcome = ctx.transfer(Transfer::new().options(options()).same_files(groups())).await?;
    check_linked(&ctx.dst())?;
    // Payload: each of the three files once (3000 + 3000 + 9 bytes).
    let want = 3000 + 3000 + 9;
    ensure(out.summary.bytes_transferred == want, rules::HARD_LINKS_KEPT, || {
        format!(
            "{} payload bytes moved; linked names must not carry theirs again ({want})",
            out.summary.bytes_transferred
        )
    })?;
    // Without the option the same tree lands as separate files.
    let plain = ctx.root().join("plain");
    ctx.transfer(Transfer::new().to(&plain)).await?;
    let (_, nlink) = ino(&plain, THREE[0])?;
    ensure(nlink == 1, rules::HARD_LINKS_KEPT, || format!("without hard links kept, {} has {nlink} names", THREE[0]))
}

/// A second run finds every name linked and does nothing; a name that lost
/// its link at the destination is linked again.
pub async fn rerun_is_noop(ctx: &mut Ctx) -> Result<(), Failure> {
    build(ctx)?;
    let transfer = || Transfer::new().options(options()).same_files(groups());
    ctx.transfer(transfer()).await?;
    let second = ctx.transfer(transfer()).await?;
    ensure(second.started().is_empty() && second.summary.entries_transferred == 0, rules::SECOND_RUN_IDLE, || {
        format!("the second run started {:?}", second.started())
    })?;
    // Break one link at the destination: a copy with the same bytes and times.
    let dst = ctx.dst();
    let broken = dst.join(TWO[1]);
    let meta = std::fs::symlink_metadata(&broken).map_err(|e| Failure::fixture("lstat", e))?;
    let bytes = std::fs::read(&broken).map_err(|e| Failure::fixture("read", e))?;
    std::fs::remove_file(&broken).map_err(|e| Failure::fixture("unlink", e))?;
    std::fs::write(&broken, bytes).map_err(|e| Failure::fixture("write", e))?;
    crate::fixture::set_mtime(&broken, meta.mtime() * 1_000_000_000 + meta.mtime_nsec())
        .map_err(|e| Failure::fixture("set mtime", e))?;
    let third = ctx.transfer(transfer()).await?;
    check_linked(&dst)?;
    ensure(
        third.summary.entries_transferred == 1 && third.summary.bytes_transferred == 0,
        rules::HARD_LINKS_KEPT,
        || {
            format!(
                "relinking one name reported {} entries and {} bytes (expected 1 entry, 0 bytes)",
                third.summary.entries_transferred, third.summary.bytes_transferred
            )
        },
    )
}
