//! The suite's own tests: deliberately broken transports and harnesses must
//! fail, with a message that names the rule they broke. A healthy transport
//! built the same way passes the same cases, so the failures come from the
//! flaw and not from the case.

mod broken;

use blit_api::Direction;
use blit_conformance::{cases, rules, run_case, trials, Failure, Harness, KnownFailure, TransportHarness};
use broken::{Flaw, Naive, Skew, Skewed};
use std::sync::Arc;

fn naive(flaw: Flaw) -> TransportHarness {
    TransportHarness::new(move || Ok(Arc::new(Naive::new(flaw)) as Arc<dyn blit_api::PayloadTransport>))
        .expect("the naive transport builds")
}

fn run(harness: impl Harness + 'static, case: &str) -> Result<(), Failure> {
    let case = cases::find(case).unwrap_or_else(|| panic!("no case `{case}`"));
    run_case(Arc::new(harness), Direction::Local, case, 0x5eed)
}

/// Runs `case` and asserts it fails on `rule`, with the message naming it.
fn fails_on(harness: impl Harness + 'static, case: &str, rule: &str) -> String {
    let failure = run(harness, case).expect_err("a broken transport must fail");
    let msg = failure.to_string();
    assert_eq!(failure.rule(), rule, "{msg}");
    assert!(msg.starts_with(&format!("rule `{rule}` broken: ")), "{msg}");
    assert!(msg.contains(&format!("case `{case}`")), "{msg}");
    msg
}

#[test]
fn the_naive_transport_passes_when_it_has_no_flaw() {
    for case in ["mtimes_ns", "nested_dirs", "source_removed_during_walk", "modes"] {
        run(naive(Flaw::None), case).unwrap_or_else(|f| panic!("{f}"));
    }
}

#[test]
fn dropping_mtime_nanoseconds_breaks_tree_equal() {
    let msg = fails_on(naive(Flaw::TruncateMtime), "mtimes_ns", rules::TREE_EQUAL);
    assert!(msg.contains("mtime_ns: expected"), "{msg}");
    assert!(msg.contains("on harness `naive-truncate-mtime`"), "{msg}");
}

#[test]
fn corrupting_content_breaks_tree_equal() {
    let msg = fails_on(naive(Flaw::Corrupt), "nested_dirs", rules::TREE_EQUAL);
    assert!(msg.contains("content differs"), "{msg}");
}

#[test]
fn recording_extra_bytes_breaks_bytes_match_size() {
    fails_on(naive(Flaw::ExtraByte), "sizes_zero_and_one", rules::BYTES_MATCH_SIZE);
}

#[test]
fn swallowing_source_failures_breaks_bytes_match_need_list() {
    fails_on(naive(Flaw::SwallowFailures), "source_removed_during_walk", rules::BYTES_MATCH_NEED_LIST);
}

#[test]
fn an_extra_done_event_breaks_files_end_once() {
    fails_on(Skewed::new(Skew::ExtraDone), "nested_dirs", rules::FILES_END_ONCE);
}

#[test]
fn an_event_after_the_end_breaks_nothing_after_terminal() {
    fails_on(Skewed::new(Skew::ExtraTerminal), "empty_tree", rules::NOTHING_AFTER_TERMINAL);
}

#[test]
fn a_missing_start_breaks_one_start_first() {
    fails_on(Skewed::new(Skew::NoStart), "empty_tree", rules::ONE_START_FIRST);
}

#[test]
fn a_wrong_direction_breaks_start_matches_request() {
    fails_on(Skewed::new(Skew::WrongDirection), "empty_tree", rules::START_MATCHES_REQUEST);
}

#[test]
fn a_consistent_but_different_log_breaks_events_match_reference_and_prints_both() {
    let msg = fails_on(Skewed::new(Skew::PhantomFailure), "nested_dirs", rules::EVENTS_MATCH_REFERENCE);
    assert!(msg.contains("reference log (") && msg.contains("this run's log ("), "{msg}");
    assert!(msg.contains("\"phantom\" | failed kind=io"), "{msg}");
    assert!(msg.contains("seed") || msg.contains("case `nested_dirs`"), "{msg}");
}

/// Runs `trials` with `args` (output to a log file, not the test's stdout)
/// and returns the conclusion and the log.
fn run_trials(
    mut args: libtest_mimic::Arguments,
    trials: Vec<libtest_mimic::Trial>,
) -> (libtest_mimic::Conclusion, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("log");
    args.logfile = Some(log.display().to_string());
    args.test_threads = Some(1);
    let conclusion = libtest_mimic::run(&args, trials);
    (conclusion, std::fs::read_to_string(&log).expect("the runner wrote its log"))
}

#[test]
fn the_runner_reports_a_broken_transport_as_a_failed_trial() {
    let name = "conformance::naive-truncate-mtime::local::mtimes_ns";
    let args = libtest_mimic::Arguments { filter: Some(name.into()), exact: true, ..Default::default() };
    let (conclusion, log) = run_trials(args, trials(vec![Box::new(naive(Flaw::TruncateMtime))]));
    assert_eq!((conclusion.num_failed, conclusion.num_passed), (1, 0), "{log}");
    assert!(log.contains(&format!("test {name} ... FAILED")), "{log}");
    assert!(log.contains("rule `tree-equal` broken"), "{log}");
    assert!(log.contains("seed: 0x") && log.contains(&format!("--exact {name}")), "{log}");
}

#[test]
fn missing_capabilities_and_known_failures_are_ignored_with_a_reason_never_passed() {
    let harness = naive(Flaw::TruncateMtime)
        .named("partial")
        .known_failure(KnownFailure::new("mtimes_ns", "drops nanoseconds (issue #0)"));
    let mut caps = harness.capabilities();
    caps.mirror = false;
    let harness = broken::WithCaps { inner: harness, caps };
    let all = trials(vec![Box::new(harness)]);
    let kind = |name: &str| all.iter().find(|t| t.name() == name).map(|t| (t.kind().to_owned(), t.has_ignored_flag()));
    assert_eq!(kind("conformance::partial::local::mirror_deletes"), Some(("needs mirror".into(), true)));
    assert_eq!(
        kind("conformance::partial::local::mtimes_ns"),
        Some(("known failure: drops nanoseconds (issue #0)".into(), true))
    );
    assert_eq!(kind("conformance::partial::local::empty_tree"), Some((String::new(), false)));

    // Even when ignored trials are run, a skipped case does not pass...
    let include = |filter: &str| libtest_mimic::Arguments {
        filter: Some(filter.into()),
        include_ignored: true,
        ..Default::default()
    };
    // Every case named after mirroring needs the mirror capability.
    let mirror_cases = all.iter().filter(|t| t.name().contains("mirror")).count() as u64;
    assert!(mirror_cases >= 2, "the catalogue has mirror cases");
    let (conclusion, log) = run_trials(include("mirror"), all);
    assert_eq!((conclusion.num_passed, conclusion.num_failed, conclusion.num_ignored), (0, 0, mirror_cases), "{log}");
    assert!(log.contains("[needs mirror] conformance::partial::local::mirror_deletes"), "{log}");
    assert!(log.contains("ignored (needs mirror)"), "{log}");
    // ... and a known failure still runs, and fails.
    let harness = naive(Flaw::TruncateMtime).known_failure(KnownFailure::new("mtimes_ns", "drops nanoseconds"));
    let name = "conformance::naive-truncate-mtime::local::mtimes_ns";
    let (conclusion, log) = run_trials(include(name), trials(vec![Box::new(harness)]));
    assert_eq!((conclusion.num_passed, conclusion.num_failed), (0, 1), "{log}");
    assert!(log.contains(&format!("[known failure: drops nanoseconds] {name}")), "{log}");
}
