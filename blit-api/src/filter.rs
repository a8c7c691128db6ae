//! Filter rules: which entries of the source take part in a transfer.
//!
//! [`FilterSpec`] is plain data, carried in [`crate::TransferOptions`] to
//! every role (and across the wire for remote transfers). The source's walk
//! leaves out what it excludes, and a mirroring destination keeps the
//! entries it would exclude unless [`FilterSpec::delete_excluded`] is set.
//! The matcher compiled from it lives in `blit_planner::filter`, so this
//! crate stays free of glob dependencies; `docs/filters.md` is the user's
//! reference for the syntax and the semantics.

/// Most bytes a `--files-from` list may hold: the sum of its path lengths
/// plus one per path (about the size of the list file). Remote transfers
/// carry the list in the session's first message, which is bounded; one
/// limit for every direction keeps local, push and pull alike.
pub const FILES_FROM_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Whether a rule keeps or drops what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// Entries the pattern matches take part (`--include`).
    Include,
    /// Entries the pattern matches are left out (`--exclude`).
    Exclude,
}

/// One include or exclude rule: a gitignore-style glob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterRule {
    /// Include or exclude.
    pub kind: RuleKind,
    /// The glob, as the user wrote it.
    pub pattern: String,
}

impl FilterRule {
    /// An include rule.
    pub fn include(pattern: impl Into<String>) -> Self {
        FilterRule { kind: RuleKind::Include, pattern: pattern.into() }
    }

    /// An exclude rule.
    pub fn exclude(pattern: impl Into<String>) -> Self {
        FilterRule { kind: RuleKind::Exclude, pattern: pattern.into() }
    }
}

/// Everything that selects entries: ordered rules, an optional list of
/// paths, size bounds, and whether a mirror deletes excluded entries.
///
/// The default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FilterSpec {
    /// Include and exclude rules in the order given; the first match decides.
    pub rules: Vec<FilterRule>,
    /// Only these paths (relative to the source root, `/`-separated raw
    /// bytes) and the directories that hold them take part; a listed
    /// directory brings its whole subtree. `None` means no list.
    pub files_from: Option<Vec<Vec<u8>>>,
    /// Regular files smaller than this many bytes are left out.
    pub min_size: Option<u64>,
    /// Regular files larger than this many bytes are left out.
    pub max_size: Option<u64>,
    /// Mirror: delete destination entries the filter excludes, too.
    pub delete_excluded: bool,
}

impl FilterSpec {
    /// A spec that selects everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the spec leaves out nothing (`delete_excluded` alone changes
    /// nothing either: with no exclusions there is nothing it could delete).
    pub fn selects_all(&self) -> bool {
        self.rules.is_empty() && self.files_from.is_none() && self.min_size.is_none() && self.max_size.is_none()
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: FilterRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Appends an include rule.
    pub fn include(self, pattern: impl Into<String>) -> Self {
        self.rule(FilterRule::include(pattern))
    }

    /// Appends an exclude rule.
    pub fn exclude(self, pattern: impl Into<String>) -> Self {
        self.rule(FilterRule::exclude(pattern))
    }

    /// Restricts the transfer to these paths (see [`FilterSpec::files_from`]).
    pub fn files_from(mut self, paths: Vec<Vec<u8>>) -> Self {
        self.files_from = Some(paths);
        self
    }

    /// Sets the smallest regular file that takes part.
    pub fn min_size(mut self, bytes: Option<u64>) -> Self {
        self.min_size = bytes;
        self
    }

    /// Sets the largest regular file that takes part.
    pub fn max_size(mut self, bytes: Option<u64>) -> Self {
        self.max_size = bytes;
        self
    }

    /// Sets whether a mirror deletes excluded destination entries.
    pub fn delete_excluded(mut self, on: bool) -> Self {
        self.delete_excluded = on;
        self
    }

    /// The size of the `files_from` list as [`FILES_FROM_MAX_BYTES`] counts it.
    pub fn files_from_bytes(&self) -> usize {
        self.files_from.as_ref().map_or(0, |list| list.iter().map(|p| p.len() + 1).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_keep_rule_order_and_bounds() {
        let spec = FilterSpec::new().include("*.rs").exclude("*").min_size(Some(1)).max_size(Some(9));
        assert_eq!(spec.rules, vec![FilterRule::include("*.rs"), FilterRule::exclude("*")]);
        assert_eq!((spec.min_size, spec.max_size), (Some(1), Some(9)));
        assert!(!spec.selects_all());
        assert!(FilterSpec::new().delete_excluded(true).selects_all());
    }

    #[test]
    fn files_from_bytes_counts_one_per_line() {
        let spec = FilterSpec::new().files_from(vec![b"a".to_vec(), b"bc/d".to_vec()]);
        assert_eq!(spec.files_from_bytes(), 2 + 5);
        assert!(!spec.selects_all());
        assert_eq!(FilterSpec::new().files_from_bytes(), 0);
    }
}
