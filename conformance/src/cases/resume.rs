//! Cases about `--resume`: continuing the partial copy an interrupted run
//! left at the destination.

use super::manifest::root;
use crate::ctx::{Ctx, Transfer};
use crate::failure::{ensure, rules, Failure};
use crate::fixture::Content;
use blit_api::{BlockMap, ProgressEvent, TransferOptions, DELTA_MIN, RESUME_BLOCK_MIN, RESUME_MIN};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// A file of about twice [`RESUME_MIN`] whose destination holds a partial
/// copy (`.part`, as an interrupted run leaves it) of its first half, with
/// one block in the middle corrupted. A `--resume` run lands the file equal
/// to the source, keeps every intact block of the partial copy
/// (`FileResumed`, `bytes_reused`) and moves only the corrupted block and
/// the missing second half (`FileBytes`, `bytes_transferred`).
pub async fn resumes_partial_file(ctx: &mut Ctx) -> Result<(), Failure> {
    let size = 2 * RESUME_MIN + 12_345;
    let mut bytes = Vec::with_capacity(size as usize);
    while (bytes.len() as u64) < size {
        bytes.extend_from_slice(&ctx.rng().next_u64().to_le_bytes());
    }
    bytes.truncate(size as usize);
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
    let mut resumed = Vec::new();
    let mut moved = 0;
    for e in &out.events {
        match e {
            ProgressEvent::FileResumed { path, bytes } if path.as_bytes() == b"big.bin" => resumed.push(*bytes),
            ProgressEvent::FileBytes { path, bytes, .. } if path.as_bytes() == b"big.bin" => moved += bytes,
            _ => {}
        }
    }
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
    let mut bytes = Vec::with_capacity(size as usize);
    while (bytes.len() as u64) < size {
        bytes.extend_from_slice(&ctx.rng().next_u64().to_le_bytes());
    }
    bytes.truncate(size as usize);
    let old_len = size - 100_000;
    let block = u64::from(BlockMap::delta_block_size(old_len));
    let mut old = bytes[..old_len as usize].to_vec();
    old[(2 * block + 11) as usize] ^= 0xa5;
    let mut spec = root(ctx.rng());
    spec.file("big.bin", Content::Bytes(bytes), 0o644, ctx.rng().mtime_ns());
    ctx.build(&spec)?;
    let dst = ctx.dst();
    std::fs::create_dir_all(&dst).map_err(|e| Failure::fixture("create the destination", e))?;
    std::fs::write(dst.join("big.bin"), &old).map_err(|e| Failure::fixture("write the older version", e))?;

    let out = ctx.transfer(Transfer::new().options(TransferOptions::new().delta(true))).await?;
    // Every block of the old version matches the same bytes of the new one
    // (its short last block too), except the changed one.
    let expect_reused = old_len - block;
    let (mut resumed, mut moved) = (Vec::new(), 0);
    for e in &out.events {
        match e {
            ProgressEvent::FileResumed { path, bytes } if path.as_bytes() == b"big.bin" => resumed.push(*bytes),
            ProgressEvent::FileBytes { path, bytes, .. } if path.as_bytes() == b"big.bin" => moved += bytes,
            _ => {}
        }
    }
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
