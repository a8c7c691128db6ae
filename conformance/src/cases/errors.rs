//! Cases about per-file failures: one entry fails, the rest completes.

use super::manifest::{random_tree, root};
use crate::ctx::{Ctx, Expect, Transfer};
use crate::failure::{ensure, rules, show_path, Failure};
use crate::fixture::EntrySpec;
use crate::hooks::remove_after_header;
use blit_api::{ErrorKind, FileKind, RelPath};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A source file removed right after the walk produced its header: the
/// destination needs it, the source cannot open it. Exactly that file fails
/// (`not_found`), every other file lands, and the transfer finishes.
pub async fn removed_during_walk(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    random_tree(&mut spec, ctx.rng(), "", 2, 2, 3);
    ctx.build(&spec)?;
    let files: Vec<Vec<u8>> =
        spec.entries().iter().filter(|e| matches!(e, EntrySpec::File { .. })).map(|e| e.path().to_vec()).collect();
    let victim = files[ctx.rng().below(files.len() as u64) as usize].clone();
    let mut expected = ctx.snapshot(&ctx.src())?;
    expected.remove_tree(&victim);
    let removed = Arc::new(AtomicBool::new(false));
    let rel = RelPath::from_bytes(victim.clone()).map_err(|e| Failure::fixture("victim path", e))?;
    let hook = remove_after_header(rel, ctx.src().join(OsStr::from_bytes(&victim)), removed.clone());
    let out = ctx.transfer(Transfer::new().source_hook(hook).expect(Expect::Tree(expected))).await?;
    ensure(removed.load(Ordering::Acquire), rules::PER_FILE_ERROR, || {
        format!("the source hook never saw the header of {}; was it applied to the source role?", show_path(&victim))
    })?;
    let failed = out.failed();
    ensure(failed == vec![(victim.clone(), ErrorKind::NotFound)], rules::PER_FILE_ERROR, || {
        format!("expected exactly {} to fail with not_found, got {failed:?}", show_path(&victim))
    })?;
    ensure(out.summary.failures.len() == 1, rules::PER_FILE_ERROR, || {
        format!("the summary lists {} failures, expected 1", out.summary.failures.len())
    })?;
    let landed = out.done(FileKind::File).len();
    ensure(landed == files.len() - 1, rules::PER_FILE_ERROR, || {
        format!("{landed} files landed; expected every file but the removed one ({})", files.len() - 1)
    })
}
