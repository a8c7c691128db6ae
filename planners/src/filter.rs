//! The filter: decides, entry by entry, what takes part in a transfer.
//!
//! [`Filter::new`] compiles a [`FilterSpec`] once (globs with `globset`,
//! ripgrep's matcher; the files-from list into two hash sets), and
//! [`Filter::includes`] answers for one entry from its path, kind and size.
//! The source's walk asks before it sends a header (an excluded directory
//! is never read), and a mirroring destination asks before it deletes an
//! entry the manifest did not name. One type on both sides keeps them in
//! agreement in every direction.
//!
//! # Semantics (also in `docs/filters.md`)
//!
//! - Patterns are gitignore-style globs: `*` and `?` never match `/`, `**`
//!   matches across directories, `[...]` is a class, `{a,b}` alternates,
//!   `\` escapes. A pattern with a `/` anywhere but at its end (a leading
//!   `/` included) is anchored at the source root; any other pattern
//!   matches the last component at any depth. A trailing `/` matches
//!   directories only.
//! - Rules are tried in order and the first that matches decides; an entry
//!   no rule matches is included.
//! - Directories: a directory whose first matching rule is an exclude is
//!   pruned (never read) unless that rule has no trailing `/` and an
//!   include rule listed before it could match something inside the
//!   directory. Then the walk enters it and the rules decide each entry
//!   inside, so `--include '*.rs' --exclude '*'` finds every `.rs` file at
//!   any depth without rsync's `--include '*/'`; write `--exclude 'dir/'`
//!   to prune a directory no matter what. A directory entered this way is
//!   transferred even when nothing inside is selected (rsync does the same
//!   without `--prune-empty-dirs`).
//! - `files_from`: only listed paths, the directories that hold them, and
//!   everything below a listed directory; the rules and sizes still apply.
//! - `min_size` / `max_size` bound regular files only, inclusive.
//! - The source root itself is never filtered.

use blit_api::{Error, ErrorKind, FileKind, FilterSpec, RelPath, Result, RuleKind, FILES_FROM_MAX_BYTES};
use globset::{Candidate, Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use std::collections::HashSet;

/// Most include/exclude rules one filter takes. A daemon compiles the rules
/// a client sends, so their number is bounded like every other input.
pub const MAX_RULES: usize = 10_000;
/// Most path components the anchored include patterns of one filter hold,
/// all rules together. Each component is a glob of its own (for "could it
/// match inside this directory"), so their number bounds the time a daemon
/// spends compiling a client's filter.
pub const MAX_COMPONENTS: usize = 16_384;
/// Most bytes of patterns one filter takes, all rules together (512 KiB).
/// Compiling globs takes time in proportion to their length (a few seconds
/// for 4 MiB), so their length is bounded too.
pub const MAX_PATTERN_BYTES: usize = 512 * 1024;

/// One component of an anchored include pattern, for "could it match
/// something inside this directory".
#[derive(Debug, Clone)]
enum Component {
    /// `**`: any number of components.
    Any,
    /// A glob for exactly one component.
    One(GlobMatcher),
}

/// One compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    include: bool,
    dir_only: bool,
    /// The components of an anchored include pattern; `None` when
    /// unanchored, and for an exclude (only includes ask for them).
    anchored: Option<Vec<Component>>,
}

/// The compiled `files_from` list.
#[derive(Debug, Clone, Default)]
struct Listed {
    /// The list names the root itself: everything is listed.
    all: bool,
    paths: HashSet<Vec<u8>>,
    /// Every proper ancestor directory of a listed path.
    parents: HashSet<Vec<u8>>,
}

/// A compiled [`FilterSpec`]. The default includes everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    rules: Vec<Rule>,
    set: GlobSet,
    listed: Option<Listed>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    delete_excluded: bool,
}

impl Filter {
    /// Compiles `spec`. Fails with [`ErrorKind::InvalidInput`] naming the
    /// pattern or path at fault: more than [`MAX_RULES`] rules, an invalid
    /// glob, an empty pattern, more than [`MAX_PATTERN_BYTES`] of patterns,
    /// anchored include patterns of more than [`MAX_COMPONENTS`] components
    /// in all, patterns too large to compile together, a
    /// files-from path that leaves the root or a list over
    /// [`FILES_FROM_MAX_BYTES`], or a minimum size above the maximum.
    pub fn new(spec: &FilterSpec) -> Result<Filter> {
        if spec.rules.len() > MAX_RULES {
            return Err(invalid(format!("{} filter rules given; the limit is {MAX_RULES}", spec.rules.len()))
                .with_hint("merge patterns (for example with `{a,b}` alternatives or `**`)"));
        }
        let mut set = GlobSetBuilder::new();
        // Counted before anything compiles, so refusing costs nothing.
        let bytes: usize = spec.rules.iter().map(|r| r.pattern.len()).sum();
        if bytes > MAX_PATTERN_BYTES {
            return Err(invalid(format!(
                "the filter patterns hold {bytes} bytes; the limit is {MAX_PATTERN_BYTES} bytes (512 KiB)"
            ))
            .with_hint("merge or shorten patterns, or list paths with --files-from"));
        }
        let includes = spec.rules.iter().filter(|r| r.kind == RuleKind::Include);
        let components: usize = includes.map(|r| Shape::of(&r.pattern).components()).sum();
        if components > MAX_COMPONENTS {
            return Err(invalid(format!(
                "the anchored include patterns hold {components} path components in all; the limit is {MAX_COMPONENTS}"
            ))
            .with_hint(
                "use fewer anchored --include patterns, `**` to match at any depth, or --files-from for lists",
            ));
        }
        let mut rules = Vec::with_capacity(spec.rules.len());
        for rule in &spec.rules {
            let (glob, compiled) = compile(&rule.pattern, rule.kind == RuleKind::Include)?;
            set.add(glob);
            rules.push(compiled);
        }
        let set = set.build().map_err(|e| {
            invalid(format!("the filter patterns do not compile together: {e}")).with_hint(
                "the patterns are too large together; use fewer or simpler patterns (fewer `{a,b}` alternatives)",
            )
        })?;
        if let (Some(min), Some(max)) = (spec.min_size, spec.max_size) {
            if min > max {
                return Err(invalid(format!("--min-size ({min} bytes) is larger than --max-size ({max} bytes)"))
                    .with_hint("no file could pass both; lower --min-size or raise --max-size"));
            }
        }
        let listed = spec.files_from.as_ref().map(|list| listed(list, spec.files_from_bytes())).transpose()?;
        Ok(Filter {
            rules,
            set,
            listed,
            min_size: spec.min_size,
            max_size: spec.max_size,
            delete_excluded: spec.delete_excluded,
        })
    }

    /// Whether this filter includes every entry.
    pub fn selects_all(&self) -> bool {
        self.rules.is_empty() && self.listed.is_none() && self.min_size.is_none() && self.max_size.is_none()
    }

    /// Whether a mirror deletes excluded destination entries too.
    pub fn delete_excluded(&self) -> bool {
        self.delete_excluded
    }

    /// Whether the entry at `path` takes part (for a directory: whether the
    /// walk sends it and reads it). `size` counts for regular files only.
    pub fn includes(&self, path: &RelPath, kind: FileKind, size: u64) -> bool {
        if path.is_root() || self.selects_all() {
            return true;
        }
        let bytes = path.as_bytes();
        if let Some(listed) = &self.listed {
            if !listed.covers(bytes, kind) {
                return false;
            }
        }
        if kind == FileKind::File
            && (self.min_size.is_some_and(|min| size < min) || self.max_size.is_some_and(|max| size > max))
        {
            return false;
        }
        self.rules_include(bytes, kind)
    }

    /// The first matching rule's verdict, with the directory exception.
    fn rules_include(&self, path: &[u8], kind: FileKind) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        let candidate = Candidate::from_bytes(path);
        let is_dir = kind == FileKind::Dir;
        let first =
            self.set.matches_candidate(&candidate).into_iter().filter(|i| is_dir || !self.rules[*i].dir_only).min();
        let Some(i) = first else { return true };
        let rule = &self.rules[i];
        if rule.include {
            return true;
        }
        // An exclude written for files (no trailing `/`) does not hide a
        // directory in which an earlier include could still find something.
        is_dir && !rule.dir_only && self.rules[..i].iter().any(|r| r.include && r.may_match_inside(path))
    }
}

impl Rule {
    /// Whether this rule's pattern could match an entry strictly inside `dir`.
    fn may_match_inside(&self, dir: &[u8]) -> bool {
        let Some(components) = &self.anchored else { return true };
        let mut depth = 0;
        for name in dir.split(|b| *b == b'/') {
            match components.get(depth) {
                None => return false,
                Some(Component::Any) => return true,
                Some(Component::One(glob)) if glob.is_match_candidate(&Candidate::from_bytes(name)) => {}
                Some(Component::One(_)) => return false,
            }
            depth += 1;
        }
        components.len() > depth
    }
}

impl Listed {
    /// Whether `path` is listed, holds a listed path, or lies below a listed
    /// directory.
    fn covers(&self, path: &[u8], kind: FileKind) -> bool {
        if self.all || self.paths.contains(path) || (kind == FileKind::Dir && self.parents.contains(path)) {
            return true;
        }
        path.iter().enumerate().any(|(i, b)| *b == b'/' && self.paths.contains(&path[..i]))
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

/// How a pattern reads: its glob body (without leading and trailing `/`),
/// whether a trailing `/` limits it to directories, whether it is anchored.
struct Shape<'a> {
    body: &'a str,
    dir_only: bool,
    anchored: bool,
}

impl<'a> Shape<'a> {
    fn of(pattern: &'a str) -> Self {
        let trimmed = pattern.trim_end_matches('/');
        let body = trimmed.trim_start_matches('/');
        Shape { body, dir_only: trimmed.len() != pattern.len(), anchored: trimmed.contains('/') }
    }

    /// The components compiled one by one for an include rule (anchored
    /// patterns only).
    fn components(&self) -> usize {
        if self.anchored {
            self.body.split('/').count()
        } else {
            0
        }
    }
}

/// Compiles one pattern into its glob (for the set) and its rule.
fn compile(pattern: &str, include: bool) -> Result<(Glob, Rule)> {
    let bad = |why: String| {
        invalid(format!("invalid filter pattern `{}`: {why}", shorten(pattern)))
            .with_hint("patterns are gitignore-style globs (*, ?, **, [...]); see docs/filters.md")
    };
    let Shape { body, dir_only, anchored } = Shape::of(pattern);
    if body.is_empty() {
        return Err(bad("it matches no name (empty, or only `/`)".into()));
    }
    // Only include rules ask `may_match_inside`: only theirs are split.
    let split = anchored && include;
    let text = if anchored { body.to_owned() } else { format!("**/{body}") };
    let glob = build(&text).map_err(|e| bad(e.kind().to_string()))?;
    let components = if split {
        let parts = body.split('/').map(|c| match c {
            "**" => Ok(Component::Any),
            _ => build(c).map(|g| Component::One(g.compile_matcher())),
        });
        Some(parts.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| bad(e.kind().to_string()))?)
    } else {
        None
    };
    Ok((glob, Rule { include, dir_only, anchored: components }))
}

/// A pattern as an error message shows it: at most 80 characters.
fn shorten(pattern: &str) -> String {
    match pattern.char_indices().nth(80) {
        Some((end, _)) => format!("{}...", &pattern[..end]),
        None => pattern.to_owned(),
    }
}

fn build(text: &str) -> std::result::Result<Glob, globset::Error> {
    GlobBuilder::new(text).literal_separator(true).backslash_escape(true).build()
}

/// Compiles the files-from list: normalises each path (`./` and leading or
/// trailing `/` dropped), refuses any that would leave the root.
fn listed(list: &[Vec<u8>], bytes: usize) -> Result<Listed> {
    if bytes > FILES_FROM_MAX_BYTES {
        return Err(invalid(format!(
            "the --files-from list holds {bytes} bytes; the limit is {FILES_FROM_MAX_BYTES} bytes (2 MiB)"
        ))
        .with_hint("split the transfer into several runs, or select with --include/--exclude patterns"));
    }
    let mut out = Listed::default();
    for raw in list {
        let mut p = raw.as_slice();
        loop {
            if let Some(rest) = p.strip_prefix(b"./") {
                p = rest;
            } else if let Some(rest) = p.strip_prefix(b"/") {
                p = rest;
            } else {
                break;
            }
        }
        while let Some(rest) = p.strip_suffix(b"/") {
            p = rest;
        }
        if p.is_empty() || p == b"." {
            out.all = true;
            continue;
        }
        let path = RelPath::from_bytes(p).map_err(|_| {
            let shown = String::from_utf8_lossy(raw);
            invalid(format!("--files-from names `{shown}`, which is not a path below the source root"))
                .with_hint("list paths relative to the source root, without `..` components")
        })?;
        let bytes = path.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'/' {
                out.parents.insert(bytes[..i].to_vec());
            }
        }
        out.paths.insert(bytes.to_vec());
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
