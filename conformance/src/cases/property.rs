//! Generated trees, drawn from the trial seed (see [`crate::gen`]).

use crate::ctx::{Ctx, Transfer};
use crate::failure::Failure;
use crate::gen;

/// How many trees one `random_trees` trial transfers.
pub const TREES: usize = 6;

/// Builds [`TREES`] generated trees, each in its own source directory, and
/// transfers each to its own destination: every one must land identically
/// and report the reference's canonical events.
pub async fn random_trees(ctx: &mut Ctx) -> Result<(), Failure> {
    let specs = gen::generate(ctx.caps(), ctx.seed(), TREES).map_err(|e| Failure::fixture("generate trees", e))?;
    for (i, spec) in specs.iter().enumerate() {
        let (src, dst) = (ctx.root().join(format!("src{i}")), ctx.root().join(format!("dst{i}")));
        ctx.build_at(&src, spec)?;
        ctx.transfer(Transfer::new().from(&src).to(&dst))
            .await
            .map_err(|f| f.context(format!("generated tree #{i} of {TREES}: {spec:?}")))?;
    }
    Ok(())
}
