//! Cases about `--resume`: continuing the partial copy an interrupted run
//! left at the destination.

use super::manifest::root;
use crate::ctx::{Ctx, Outcome, Transfer};
use crate::failure::{ensure, rules, Failure};
use crate::fixture::Content;
use blit_api::{BlockMap, ProgressEvent, TransferOptions, DELTA_MIN, RESUME_BLOCK_MIN, RESUME_MIN};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// `size` bytes from the trial's seeded generator.
pub(super) fn random_bytes(ctx: &mut Ctx, size: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size as usize);
    while (bytes.len() as u64) < size {
        bytes.extend_from_slice(&ctx.rng().next_u64().to_le_bytes());
    }
    bytes.truncate(size as usize);
    bytes
}

/// The bytes of each `FileResumed` of `big.bin`, and its `FileBytes` in all.
fn reuse_of_big(events: &[ProgressEvent]) -> (Vec<u64>, u64) {
    let (mut resumed, mut moved) = (Vec::new(), 0);
    for e in events {
        match e {
            ProgressEvent::FileResumed { path, bytes } if path.as_bytes() == b"big.bin" => resumed.push(*bytes),
            ProgressEvent::FileBytes { path, bytes, .. } if path.as_bytes() == b"big.bin" => moved += bytes,
            _ => {}
        }
    }
    (resumed, moved)
}

/// Builds a source holding `big.bin` with `bytes` and a destination
/// holding `old` under the same name, then runs a delta transfer.
async fn delta_run(ctx: &mut Ctx, bytes: Vec<u8>, old: &[u8]) -> Result<Outcome, Failure> {
    let mut spec = root(ctx.rng());
    spec.file("big.bin", Content::Bytes(bytes), 0o644, ctx.rng().mtime_ns());
    ctx.build(&spec)?;
    let dst = ctx.dst();
    std::fs::create_dir_all(&dst).map_err(|e| Failure::fixture("create the destination", e))?;
    std::fs::write(dst.join("big.bin"), old).map_err(|e| Failure::fixture("write the older version", e))?;
    ctx.transfer(Transfer::new().options(TransferOptions::new().delta(true))).await
}

/// A file of about twice [`RESUME_MIN`] whose destination holds a partial
/// copy (`.part`, as an interrupted run leaves it) of its first half, with
/// one block in the middle corrupted. A `--resume` run lands the file equal
/// to the source, keeps every intact block of the partial copy
/// (`FileResumed`, `bytes_reused`) and moves only the corrupted block and
/// the missing second half (`FileBytes`, `bytes_transferred`).
pub async fn resumes_partial_file(ctx: &mut Ctx) -> Result<(), Failure> {
    let size = 2 * RESUME_MIN + 12_345;
    let bytes = random_bytes(ctx, size);
    let half = size / 2;
    let mut partial = bytes[..half as usize].to_vec();
    let block = u64::from(RESUME_BLOCK_MIN);
    partial[(2 * block + 7) as usize] ^= 0x5a;
    let mut spec = root(ctx.rng());
    let mtime = ctx.rng().mtime_ns();
    spec.file("big.bin", Content::Bytes(bytes), 0o644, mtime);
    ctx.build(&spec)?;
    let dst = ctx.dst();
    std::fs::create_dir_all(&dst).map_err(|e| Failure::fixture("create the destination", e))?;
    let part = dst.join(OsStr::from_bytes(&blit_transport_local::part_name(b"big.bin")));
    std::fs::write(&part, &partial).map_err(|e| Failure::fixture("write the partial copy", e))?;

    let out = ctx.transfer(Transfer::new().options(TransferOptions::new().resume(true))).await?;
    let expect_reused = half - block;
    let (resumed, moved) = reuse_of_big(&out.events);
    ensure(resumed == vec![expect_reused], rules::RESUMES_PARTIAL, || {
        format!("expected one FileResumed keeping {expect_reused} bytes (the partial copy less its corrupt block), got {resumed:?}")
    })?;
    ensure(moved == size - expect_reused, rules::RESUMES_PARTIAL, || {
        format!("{moved} bytes moved for a file of {size} of which {expect_reused} were kept")
    })?;
    ensure(
        out.summary.bytes_reused == expect_reused && out.summary.bytes_transferred == size - expect_reused,
        rules::RESUMES_PARTIAL,
        || {
            format!(
                "the summary says {} bytes transferred and {} reused; expected {} and {expect_reused}",
                out.summary.bytes_transferred,
                out.summary.bytes_reused,
                size - expect_reused
            )
        },
    )?;
    ensure(!part.exists(), rules::RESUMES_PARTIAL, || format!("the partial copy {} is still there", part.display()))
}

/// A file of about twice [`DELTA_MIN`] whose destination holds an older
/// version: the same bytes but one changed byte in its third block and a
/// shorter end. A delta run lands the file equal to the source, keeps every
/// block of the old version that still matches where it stands
/// (`FileResumed`, `bytes_reused`) and moves only the changed block and the
/// new end (`FileBytes`, `bytes_transferred`).
pub async fn delta_sends_changed_blocks(ctx: &mut Ctx) -> Result<(), Failure> {
    let size = 2 * DELTA_MIN + 54_321;
    let bytes = random_bytes(ctx, size);
    let old_len = size - 100_000;
    let block = u64::from(BlockMap::delta_block_size(old_len));
    let mut old = bytes[..old_len as usize].to_vec();
    old[(2 * block + 11) as usize] ^= 0xa5;
    let out = delta_run(ctx, bytes, &old).await?;
    // Every block of the old version matches the same bytes of the new one
    // (its short last block too), except the changed one.
    let expect_reused = old_len - block;
    let (resumed, moved) = reuse_of_big(&out.events);
    ensure(resumed == vec![expect_reused], rules::DELTA_CHANGED_BLOCKS, || {
        format!(
            "expected one FileResumed keeping {expect_reused} bytes (the old version less one block), got {resumed:?}"
        )
    })?;
    ensure(moved == size - expect_reused, rules::DELTA_CHANGED_BLOCKS, || {
        format!("{moved} bytes moved for a file of {size} of which {expect_reused} were kept")
    })?;
    ensure(out.summary.bytes_reused == expect_reused, rules::DELTA_CHANGED_BLOCKS, || {
        format!("the summary says {} bytes reused; expected {expect_reused}", out.summary.bytes_reused)
    })
}

/// A file of about 20 MiB whose destination holds an older version that
/// lacks 1000 bytes inserted near its start, so every block after them sits
/// 1000 bytes later in the new version. A delta run finds the old blocks at
/// their new offsets and copies them within the old version: it moves at
/// most three blocks and the inserted bytes (`FileBytes`,
/// `bytes_transferred`), reuses the rest (`FileResumed`, `bytes_reused`)
/// and lands the file equal to the source.
pub async fn delta_after_an_insertion(ctx: &mut Ctx) -> Result<(), Failure> {
    let size = 20 * 1024 * 1024 + 4321;
    let bytes = random_bytes(ctx, size);
    let (at, inserted) = (70_000usize, 1000usize);
    let mut old = bytes[..at].to_vec();
    old.extend_from_slice(&bytes[at + inserted..]);
    let block = u64::from(BlockMap::delta_block_size(old.len() as u64));
    let out = delta_run(ctx, bytes, &old).await?;
    let (resumed, moved) = reuse_of_big(&out.events);
    let most = 3 * block + inserted as u64;
    ensure(moved <= most && moved >= inserted as u64, rules::DELTA_AFTER_INSERTION, || {
        format!("{moved} bytes moved for {inserted} inserted bytes (at most {most}: three blocks of {block} and them)")
    })?;
    ensure(resumed == vec![size - moved], rules::DELTA_AFTER_INSERTION, || {
        format!("expected one FileResumed keeping the {} bytes not moved, got {resumed:?}", size - moved)
    })?;
    ensure(
        out.summary.bytes_reused == size - moved && out.summary.bytes_transferred == moved,
        rules::DELTA_AFTER_INSERTION,
        || {
            format!(
                "the summary says {} bytes transferred and {} reused; expected {moved} and {}",
                out.summary.bytes_transferred,
                out.summary.bytes_reused,
                size - moved
            )
        },
    )
}
