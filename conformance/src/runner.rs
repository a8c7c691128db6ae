//! The libtest-mimic runner: one trial per (harness, direction, case).
//!
//! A trial named `conformance::<harness>::<direction>::<case>` builds a tokio
//! runtime, then runs its case twice with the same seed, each time in a fresh
//! temporary root: once against [`LocalHarness`] in the `local` direction
//! (the reference), then against the harness under test. Every transfer of
//! the second pass is checked on its own and compared with the reference's
//! transfer of the same number (see [`Ctx::transfer`]).
//!
//! Trials that cannot run are listed, never passed: a case needing a
//! capability the harness lacks is an ignored trial whose kind says
//! `needs <capability>`, and a harness's known failures are ignored trials
//! whose kind says `known failure: <reason>` (they do run under
//! `--include-ignored`).
//!
//! Seeds are deterministic: `mix(hash(case id) ^ mix(base))`, where `base`
//! is [`SEED_ENV`] (decimal or `0x` hex) or 0. A failing trial prints its
//! seed and the `base` that reproduces it.

use crate::canon::CanonicalLog;
use crate::cases::{catalogue, Case, CaseFuture};
use crate::ctx::{Ctx, PassSetup, Transfer};
use crate::failure::{rules, Failure};
use crate::fixture::TreeSpec;
use crate::fixture::{force_remove, mix, temp_base};
use crate::harness::Harness;
use crate::transport_harness::LocalHarness;
use blit_api::{Capabilities, Direction};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// The environment variable that changes every trial's seed.
pub const SEED_ENV: &str = "BLIT_CONFORMANCE_SEED";

/// A case body, as the runner calls it.
pub(crate) type Body<'b> = &'b (dyn for<'a> Fn(&'a mut Ctx) -> CaseFuture<'a> + Sync);

/// Runs the suite for `harnesses` with the command line's libtest arguments
/// (filters, `--list`, `--include-ignored`, ...) and exits with its verdict.
/// Call it from a `harness = false` test's `main`.
pub fn main(harnesses: Vec<Box<dyn Harness>>) -> ! {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, trials(harnesses)).exit()
}

/// The trials for `harnesses`, for callers that add their own.
pub fn trials(harnesses: Vec<Box<dyn Harness>>) -> Vec<Trial> {
    let base = base_seed();
    let mut trials = Vec::new();
    for harness in harnesses {
        let harness: Arc<dyn Harness> = Arc::from(harness);
        let caps = harness.capabilities();
        let known = harness.known_failures();
        for direction in Direction::ALL.into_iter().filter(|d| harness.directions().contains(*d)) {
            for case in catalogue() {
                let name = format!("conformance::{}::{direction}::{}", harness.name(), case.id);
                let missing = case.missing(&caps);
                if !missing.is_empty() {
                    let reason = format!("needs {}", missing.iter().map(|n| n.name()).collect::<Vec<_>>().join(", "));
                    let why = reason.clone();
                    trials.push(
                        Trial::ignorable_test(name, move || Ok(Completion::ignored_with(why)))
                            .with_kind(reason)
                            .with_ignored_flag(true),
                    );
                    continue;
                }
                let h = harness.clone();
                let base = base.clone();
                let trial_name = name.clone();
                let mut trial = Trial::test(name, move || run_trial(h, direction, case, base, &trial_name));
                if let Some(k) = known.iter().find(|k| k.covers(case.id, direction)) {
                    trial = trial.with_kind(format!("known failure: {}", k.reason)).with_ignored_flag(true);
                }
                trials.push(trial);
            }
        }
    }
    trials
}

/// The seed of `case_id` for a given base.
pub fn seed_for(case_id: &str, base: u64) -> u64 {
    let hash = case_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    mix(hash ^ mix(base))
}

fn base_seed() -> Result<u64, String> {
    let Ok(raw) = std::env::var(SEED_ENV) else { return Ok(0) };
    let parsed = match raw.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => raw.parse(),
    };
    parsed.map_err(|e| format!("{SEED_ENV}={raw:?} is not a number ({e})"))
}

fn run_trial(
    harness: Arc<dyn Harness>,
    direction: Direction,
    case: &'static Case,
    base: Result<u64, String>,
    name: &str,
) -> Result<(), Failed> {
    let base = base.map_err(Failed::from)?;
    let seed = seed_for(case.id, base);
    let outcome = catch_unwind(AssertUnwindSafe(|| run_case(harness, direction, case, seed)));
    let failure = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(failure)) => failure.to_string(),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            format!("the case panicked: {msg}")
        }
    };
    Err(Failed::from(format!(
        "{failure}\n  seed: {seed:#018x} (from case `{}` and {SEED_ENV}={base}); rerun with `-- --exact {name}`",
        case.id
    )))
}

/// Runs one case for `harness` in `direction` with `seed`: the reference
/// pass, then the checked pass. This is the programmatic entry point (the
/// suite's own tests call it on deliberately broken transports).
pub fn run_case(harness: Arc<dyn Harness>, direction: Direction, case: &Case, seed: u64) -> Result<(), Failure> {
    run_body(harness, direction, seed, &case.run).map_err(|f| f.context(format!("case `{}`", case.id)))
}

/// Transfers one fixture tree (for instance from [`crate::gen::tree`]) with
/// `harness` in `direction`: the destination must equal the source, every
/// event rule must hold, and the canonical events must equal the reference
/// run's on the same tree. Property tests call this.
pub fn check_tree(harness: Arc<dyn Harness>, direction: Direction, spec: &TreeSpec) -> Result<(), Failure> {
    let shared = Arc::new(spec.clone());
    let body: Body<'_> = &move |ctx: &mut Ctx| {
        let spec = shared.clone();
        Box::pin(async move {
            ctx.build(&spec)?;
            ctx.transfer(Transfer::new()).await.map(drop)
        })
    };
    run_body(harness, direction, 0, body).map_err(|f| f.context(format!("generated tree: {spec:?}")))
}

/// Runs a case body through the reference and the harness under test.
pub(crate) fn run_body(
    harness: Arc<dyn Harness>,
    direction: Direction,
    seed: u64,
    body: Body<'_>,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::fixture("start a tokio runtime", e))?;
    runtime.block_on(async {
        let caps = harness.capabilities();
        let reference = LocalHarness::new();
        let logs = run_pass(&reference, Direction::Local, seed, caps, None, body)
            .await
            .map_err(|f| f.context("in the reference run (harness `local`, direction local)"))?;
        run_pass(&*harness, direction, seed, caps, Some(logs), body)
            .await
            .map(drop)
            .map_err(|f| f.context(format!("on harness `{}`, direction {direction}", harness.name())))
    })
}

async fn run_pass(
    harness: &dyn Harness,
    direction: Direction,
    seed: u64,
    caps: Capabilities,
    reference: Option<Vec<CanonicalLog>>,
    body: Body<'_>,
) -> Result<Vec<CanonicalLog>, Failure> {
    let tmp = tempfile::Builder::new()
        .prefix("blit-conformance-")
        .tempdir_in(temp_base())
        .map_err(|e| Failure::fixture("create a temporary root", e))?;
    let root = tmp.path().to_path_buf();
    let pair = harness
        .pair(direction, &root)
        .await
        .map_err(|e| Failure::new(rules::HARNESS_LIFECYCLE, format!("setting up the {direction} pair failed: {e}")))?;
    let setup =
        PassSetup { root: root.clone(), seed, direction, caps, pass_caps: harness.capabilities(), pair, reference };
    let mut ctx = Ctx::new(setup);
    let result = body(&mut ctx).await;
    let (logs, reference, pair) = ctx.finish();
    let closed = pair.close().await;
    let cleaned = force_remove(&root);
    result?;
    closed.map_err(|e| Failure::new(rules::HARNESS_LIFECYCLE, format!("closing the {direction} pair failed: {e}")))?;
    if let Some(reference) = reference {
        if reference.len() != logs.len() {
            let msg = format!("the case made {} transfer(s), the reference run {}", logs.len(), reference.len());
            return Err(Failure::new(rules::EVENTS_MATCH_REFERENCE, msg));
        }
    }
    cleaned.map_err(|e| Failure::fixture(format!("remove {}", root.display()), e))?;
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_per_case_and_base() {
        assert_eq!(seed_for("a", 0), seed_for("a", 0));
        assert_ne!(seed_for("a", 0), seed_for("b", 0));
        assert_ne!(seed_for("a", 0), seed_for("a", 1));
    }

    #[test]
    fn trial_names_and_skips_are_visible() {
        let trials = trials(vec![Box::new(LocalHarness::new())]);
        assert_eq!(trials.len(), catalogue().len());
        assert!(trials.iter().all(|t| t.name().starts_with("conformance::local::local::")));
        assert!(trials.iter().all(|t| !t.has_ignored_flag()), "the reference supports every capability");
    }
}
