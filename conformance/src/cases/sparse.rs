//! Sparse files: holes at the source are not sent and stay holes at the
//! destination.

use super::manifest::root;
use crate::ctx::{Ctx, Transfer};
use crate::failure::{ensure, rules, Failure};
use crate::fixture::{set_mtime, Content};
use blit_api::{ProgressEvent, TransferOptions};
use std::os::unix::fs::{FileExt, MetadataExt};

const MIB: u64 = 1 << 20;

/// A 16 MiB file holding 8 KiB of data in two places and holes elsewhere
/// (made so after the tree is built). It lands equal to the source, with
/// its bytes all counted as landed (`FileBytes` add up to its size), and,
/// where the source's file system keeps holes, with no more allocated at
/// the destination than a few blocks around the data.
pub async fn sparse_file_keeps_its_holes(ctx: &mut Ctx) -> Result<(), Failure> {
    let size = 16 * MIB;
    let mtime = ctx.rng().mtime_ns();
    let mut spec = root(ctx.rng());
    spec.file("disk.img", Content::Bytes(Vec::new()), 0o644, mtime);
    ctx.build(&spec)?;
    let path = ctx.src().join("disk.img");
    let made = (|| {
        let f = std::fs::OpenOptions::new().write(true).open(&path)?;
        f.set_len(size)?;
        f.write_all_at(&[0xab; 4096], 3 * MIB)?;
        f.write_all_at(&[0xcd; 4096], 11 * MIB + 512)?;
        set_mtime(&path, mtime)
    })();
    made.map_err(|e| Failure::fixture("make the sparse file", e))?;
    let src_blocks = std::fs::metadata(&path).map_err(|e| Failure::fixture("stat the sparse file", e))?.blocks();

    let out = ctx.transfer(Transfer::new().options(TransferOptions::new())).await?;
    let landed: u64 = out
        .events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::FileBytes { path, bytes, .. } if path.as_bytes() == b"disk.img" => Some(*bytes),
            _ => None,
        })
        .sum();
    ensure(landed == size, rules::SPARSE_HOLES, || format!("FileBytes add up to {landed} for a file of {size}"))?;
    let dst = ctx.dst().join("disk.img");
    let data = std::fs::read(&dst).map_err(|e| Failure::fixture("read the landed file", e))?;
    let mut want = vec![0u8; size as usize];
    want[(3 * MIB) as usize..][..4096].fill(0xab);
    want[(11 * MIB + 512) as usize..][..4096].fill(0xcd);
    ensure(data == want, rules::SPARSE_HOLES, || "the landed file differs from the source".to_owned())?;
    if src_blocks * 512 >= size {
        // The source's file system allocated the holes: nothing to keep.
        return Ok(());
    }
    let dst_blocks = std::fs::metadata(&dst).map_err(|e| Failure::fixture("stat the landed file", e))?.blocks();
    ensure(dst_blocks * 512 <= 2 * MIB, rules::SPARSE_HOLES, || {
        format!("the landed file allocates {} bytes for 8 KiB of data: its holes were filled", dst_blocks * 512)
    })
}
