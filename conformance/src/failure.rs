//! Why a trial failed: the rule that broke, what was seen, and where.
//!
//! Every check of the suite fails with a [`Failure`] that names one rule from
//! [`rules`], so a red trial says *which* promise a transport broke ("rule
//! `one-terminal-last` broken: ...") before it says how.

use std::fmt;

/// The names of the rules the suite checks. A failure message always starts
/// with ``rule `<name>` broken:``; tests and known-failure lists may match on
/// these names.
pub mod rules {
    /// A `--resume` run sends only what its partial copy lacks and lands
    /// the file whole.
    pub const RESUMES_PARTIAL: &str = "resumes-partial";
    /// A delta run sends only the blocks that differ from the older version
    /// at the destination and lands the new version whole.
    pub const DELTA_CHANGED_BLOCKS: &str = "delta-changed-blocks";
    /// A delta run finds the older version's blocks where bytes inserted
    /// before them moved them, and sends little more than the insertion.
    pub const DELTA_AFTER_INSERTION: &str = "delta-after-insertion";
    /// A sparse file lands equal to the source, its holes still holes.
    pub const SPARSE_HOLES: &str = "sparse-holes";
    /// Part-range transfers write only their range into the file's partial
    /// copy and commit nothing; a `--resume` run then finds every range in
    /// it and lands the file without sending them again.
    pub const PART_RANGES: &str = "part-ranges";
    /// The first event is `Started`, and there is no other `Started`.
    pub const ONE_START_FIRST: &str = "one-start-first";
    /// Exactly one terminal event (`Finished` or `Failed`), and it is the last.
    pub const ONE_TERMINAL_LAST: &str = "one-terminal-last";
    /// No event follows the terminal event.
    pub const NOTHING_AFTER_TERMINAL: &str = "nothing-after-terminal";
    /// `Started` names the requested direction and dry-run flag.
    pub const START_MATCHES_REQUEST: &str = "start-matches-request";
    /// The terminal event agrees with what the transfer returned.
    pub const TERMINAL_MATCHES_RESULT: &str = "terminal-matches-result";
    /// Every `FileStarted` ends exactly once, with `FileDone` or `FileFailed`.
    pub const FILES_END_ONCE: &str = "files-end-once";
    /// `FileBytes` only arrive between a file's start and its end.
    pub const BYTES_INSIDE_FILE: &str = "bytes-inside-file";
    /// A landed file's bytes equal the size its header announced; directories
    /// and symlinks carry no bytes.
    pub const BYTES_MATCH_SIZE: &str = "bytes-match-size";
    /// Need-batch totals equal what landed.
    pub const BYTES_MATCH_NEED_LIST: &str = "bytes-match-need-list";
    /// The manifest totals equal the source tree, and progress never shrinks.
    pub const MANIFEST_MATCHES_SOURCE: &str = "manifest-matches-source";
    /// The summary counts what the events reported.
    pub const SUMMARY_MATCHES_EVENTS: &str = "summary-matches-events";
    /// The destination equals the expected tree (content, kind, mode, mtime,
    /// link target, raw names).
    pub const TREE_EQUAL: &str = "tree-equal";
    /// The canonical event log equals the local reference run's.
    pub const EVENTS_MATCH_REFERENCE: &str = "events-match-reference";
    /// The transfer ran to its end instead of stopping with an error.
    pub const TRANSFER_COMPLETES: &str = "transfer-completes";
    /// A second run over an unchanged tree transfers nothing.
    pub const SECOND_RUN_IDLE: &str = "second-run-idle";
    /// Changed files are transferred again, unchanged ones are not.
    pub const UPDATES_CHANGED: &str = "updates-changed";
    /// Mirror deletes exactly the entries the source lacks.
    pub const MIRROR_DELETES: &str = "mirror-deletes";
    /// Entries the filter excludes are neither transferred nor reported.
    pub const FILTER_APPLIES: &str = "filter-applies";
    /// Hard-linked source files are linked at the destination, and only
    /// those.
    pub const HARD_LINKS_KEPT: &str = "hard-links-kept";
    /// Owner, group and extended attributes arrive as asked, or one
    /// warning says why not.
    pub const METADATA_KEPT: &str = "metadata-kept";
    /// A dry run reports what it would do and changes nothing.
    pub const DRY_RUN_PLANS: &str = "dry-run-plans";
    /// A source file that cannot be read is one per-file failure; the rest lands.
    pub const PER_FILE_ERROR: &str = "per-file-error";
    /// Every entry is reported once, with its own size.
    pub const EVERY_ENTRY_REPORTED: &str = "every-entry-reported";
    /// The harness set up its endpoints and shut them down cleanly.
    pub const HARNESS_LIFECYCLE: &str = "harness-lifecycle";
    /// Building the fixture failed: the test machine, not the transport.
    pub const FIXTURE: &str = "fixture";
}

/// A broken rule: which one, what was seen, and the context it happened in
/// (innermost first: transfer, pass, case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    rule: String,
    message: String,
    context: Vec<String>,
}

impl Failure {
    /// A failure of `rule` (one of [`rules`]) with what was seen.
    pub fn new(rule: &str, message: impl Into<String>) -> Self {
        Failure { rule: rule.to_owned(), message: message.into(), context: Vec::new() }
    }

    /// A fixture failure: building or reading the test tree went wrong.
    pub fn fixture(what: impl fmt::Display, err: impl fmt::Display) -> Self {
        Failure::new(rules::FIXTURE, format!("{what}: {err}"))
    }

    /// Adds a line of context ("in transfer #2", "in the reference run").
    pub fn context(mut self, line: impl Into<String>) -> Self {
        self.context.push(line.into());
        self
    }

    /// The broken rule's name.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// What was seen.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule `{}` broken: {}", self.rule, self.message)?;
        for line in &self.context {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Returns a failure of `rule` unless `cond` holds.
pub fn ensure(cond: bool, rule: &str, message: impl FnOnce() -> String) -> Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(Failure::new(rule, message()))
    }
}

/// Renders raw path bytes for messages and logs: `.` for the root, a quoted
/// string when the bytes are UTF-8 (with `\n` and friends escaped), and a
/// `b"..."` byte string with `\xNN` escapes otherwise, so that two different
/// names never render the same.
pub fn show_path(path: &[u8]) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    match std::str::from_utf8(path) {
        Ok(s) => format!("{s:?}"),
        Err(_) => format!("b\"{}\"", path.escape_ascii()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_rule_first_and_keeps_context() {
        let f = Failure::new(rules::TREE_EQUAL, "a differs").context("in transfer #1").context("case x");
        assert_eq!(f.to_string(), "rule `tree-equal` broken: a differs\n  in transfer #1\n  case x");
        assert_eq!(f.rule(), "tree-equal");
        assert!(ensure(false, rules::FIXTURE, || "no".into()).is_err());
    }

    #[test]
    fn paths_render_unambiguously() {
        assert_eq!(show_path(b""), ".");
        assert_eq!(show_path(b"a b\n"), "\"a b\\n\"");
        assert_eq!(show_path(b"x\xff"), "b\"x\\xff\"");
    }
}
