//! Part ranges (a distributed job's pieces of one file): each range
//! transfer writes only its bytes into the file's partial copy and commits
//! nothing; a `--resume` run then lands the file from that copy.

use super::manifest::root;
use super::resume::random_bytes;
use crate::ctx::{Ctx, Expect, Outcome, Transfer};
use crate::failure::{ensure, rules, Failure};
use crate::fixture::Content;
use crate::tree::{Node, Snapshot};
use blit_api::{FileKind, FilterSpec, PartRange, ProgressEvent, TransferOptions, RESUME_MIN};

/// `FileBytes` of `big.bin` in all.
fn moved_of_big(out: &Outcome) -> u64 {
    out.events
        .iter()
        .map(|e| match e {
            ProgressEvent::FileBytes { path, bytes, .. } if path.as_bytes() == b"big.bin" => *bytes,
            _ => 0,
        })
        .sum()
}

/// A file of a little more than [`RESUME_MIN`] (the smallest file that
/// lands in a partial copy) beside a small one, landed as three part
/// ranges of about 3 MiB, middle one first, the last asking for more than
/// the file holds. After each, the destination holds no `big.bin` and a
/// partial copy with exactly the ranges so far (holes read as zeros); each
/// moved only its range (`FileBytes`, summary) and reported it done. A
/// `--resume` run then lands the file equal to the source, sending none of
/// its bytes: all reused from the partial copy.
pub async fn part_ranges_land_then_resume(ctx: &mut Ctx) -> Result<(), Failure> {
    let size = RESUME_MIN + 1024 * 1024 + 4321;
    let bytes = random_bytes(ctx, size);
    let mut spec = root(ctx.rng());
    let (mtime, small_mtime, small) = (ctx.rng().mtime_ns(), ctx.rng().mtime_ns(), ctx.rng().content(1000));
    spec.file("big.bin", Content::Bytes(bytes.clone()), 0o600, mtime);
    spec.file("small.txt", small, 0o644, small_mtime);
    ctx.build(&spec)?;
    let source = ctx.snapshot(&ctx.src())?;
    let mut selected = Snapshot::default();
    for p in [&b""[..], b"big.bin"] {
        selected.insert(p, source.get(p).expect("built").clone());
    }
    let mut root_only = Snapshot::default();
    root_only.insert("", source.get(b"").expect("built").clone());
    let part = blit_transport_local::part_name(b"big.bin");

    let third = size / 3;
    let ranges = [(third, third), (0, third), (2 * third, size)];
    let mut held = vec![0u8; size as usize];
    for (offset, len) in ranges {
        let range = PartRange::new(offset, len).map_err(|e| Failure::fixture("a part range", e))?;
        let span = range.span(size);
        held[span.start as usize..span.end as usize].copy_from_slice(&bytes[span.start as usize..span.end as usize]);
        let mut expected = root_only.clone();
        let hash = *blake3::hash(&held).as_bytes();
        expected.insert(&part, Node::File { size, hash, mode: 0o600, mtime_ns: 0 });
        // Without --resume: a part range keeps the partial copy all the same.
        let options = TransferOptions::new()
            .filter(FilterSpec::new().files_from(vec![b"big.bin".to_vec()]))
            .part_range(Some(range));
        let transfer = Transfer::new()
            .options(options)
            .selected(selected.clone())
            .expect(Expect::TreeAnyMtime(expected, vec![part.clone()]));
        let out = ctx.transfer(transfer).await?;
        let want = span.end - span.start;
        let moved = moved_of_big(&out);
        ensure(moved == want && out.summary.bytes_transferred == want, rules::PART_RANGES, || {
            format!(
                "the range {span:?} moved {moved} bytes of big.bin, the summary says {}; expected {want}",
                out.summary.bytes_transferred
            )
        })?;
        ensure(out.summary.bytes_reused == 0, rules::PART_RANGES, || {
            format!("a range transfer reports {} bytes reused", out.summary.bytes_reused)
        })?;
        ensure(out.done(FileKind::File) == vec![b"big.bin".to_vec()], rules::PART_RANGES, || {
            format!("the range transfer reports {:?} done, expected big.bin alone", out.done(FileKind::File))
        })?;
    }

    let out = ctx.transfer(Transfer::new().options(TransferOptions::new().resume(true))).await?;
    let moved = moved_of_big(&out);
    ensure(moved == 0, rules::PART_RANGES, || format!("{moved} bytes of big.bin moved after every range landed"))?;
    ensure(out.summary.bytes_reused == size, rules::PART_RANGES, || {
        format!("the summary says {} bytes reused; the partial copy held all {size}", out.summary.bytes_reused)
    })
}
