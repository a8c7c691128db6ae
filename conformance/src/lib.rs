#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod canon;
pub mod cases;
mod ctx;
mod failure;
pub mod fixture;
pub mod gen;
mod harness;
pub mod hooks;
pub mod invariants;
mod runner;
mod transport_harness;
mod tree;

pub use canon::CanonicalLog;
pub use cases::{catalogue, Case, CaseFn, CaseFuture, Need};
pub use ctx::{Ctx, Expect, Outcome, Transfer};
pub use failure::{ensure, rules, show_path, Failure};
pub use fixture::{temp_base, TMPDIR_ENV};
pub use harness::{Harness, KnownFailure, Pair, SourceHook, TransferRequest};
pub use runner::{check_tree, main, run_case, seed_for, trials, SEED_ENV};
pub use transport_harness::{Factory, LocalHarness, TransportHarness};
pub use tree::{Node, Snapshot};

/// The contract crate, re-exported so a transport's conformance test needs
/// only this crate.
pub use blit_api;
