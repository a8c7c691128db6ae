//! The filter flags of `blit copy` and `blit mirror`, turned into a
//! [`FilterSpec`] (reference: docs/filters.md).
//!
//! clap keeps each flag's values in its own list, but include and exclude
//! rules are order-sensitive across flags (`--include a --exclude '*'` is
//! not `--exclude '*' --include a`), so [`FilterArgs`] implements clap's
//! traits by hand: the flags are declared by the derived [`FilterFlags`],
//! and the rules are put back in command-line order from each value's index.

use blit_api::{Error, ErrorKind, FilterRule, FilterSpec, Result};
use clap::{ArgMatches, Args, FromArgMatches};
use std::io::Read;
use std::path::{Path, PathBuf};

const FILTER_HELP: &str = "Filters (see docs/filters.md)";

/// The flags as clap declares and parses them.
#[derive(Debug, Args)]
struct FilterFlags {
    /// Leave out entries matching PATTERN (repeatable). Globs as in
    /// .gitignore: * and ? stay within one name, ** crosses directories,
    /// [...] is a class. A '/' at the start or inside anchors the pattern
    /// at SRC; otherwise it matches a name at any depth. A trailing '/'
    /// matches directories only. Rules apply in the order given and the
    /// first match decides; no match means included. An excluded directory
    /// is never read, except that a pattern without a trailing '/' does
    /// not hide a directory in which an earlier --include could match
    /// something: `--include '*.rs' --exclude '*'` copies every .rs file at
    /// any depth (write 'dir/' to prune a directory regardless).
    #[arg(long, value_name = "PATTERN", help_heading = FILTER_HELP)]
    exclude: Vec<String>,
    /// Keep entries matching PATTERN even if a later rule excludes them
    /// (repeatable; same syntax as --exclude).
    #[arg(long, value_name = "PATTERN", help_heading = FILTER_HELP)]
    include: Vec<String>,
    /// Read exclude patterns from FILE, one per line ('-' for stdin);
    /// blank lines and lines starting with '#' are skipped.
    #[arg(long, value_name = "FILE", help_heading = FILTER_HELP)]
    exclude_from: Vec<PathBuf>,
    /// Read include patterns from FILE, one per line ('-' for stdin);
    /// blank lines and lines starting with '#' are skipped.
    #[arg(long, value_name = "FILE", help_heading = FILTER_HELP)]
    include_from: Vec<PathBuf>,
    /// Transfer only the paths listed in FILE ('-' for stdin), one per line
    /// relative to SRC, plus the directories that hold them; a listed
    /// directory brings its whole subtree. At most 2 MiB of paths.
    #[arg(long, value_name = "FILE", help_heading = FILTER_HELP)]
    files_from: Option<PathBuf>,
    /// Leave out regular files smaller than SIZE: bytes, or a number with
    /// K, M, G, T (or KiB...TiB: powers of 1024) or KB, MB, GB, TB (powers
    /// of 1000).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = FILTER_HELP)]
    min_size: Option<u64>,
    /// Leave out regular files larger than SIZE (units as --min-size).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = FILTER_HELP)]
    max_size: Option<u64>,
    /// With mirror (or --delete): also delete destination entries the
    /// filters exclude. Without it they are kept.
    #[arg(long, help_heading = FILTER_HELP)]
    delete_excluded: bool,
}

/// One rule flag, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RuleArg {
    Include(String),
    Exclude(String),
    IncludeFrom(PathBuf),
    ExcludeFrom(PathBuf),
}

/// The filter flags, with rules in the order given.
#[derive(Debug, Clone, Default)]
pub struct FilterArgs {
    rules: Vec<RuleArg>,
    files_from: Option<PathBuf>,
    min_size: Option<u64>,
    max_size: Option<u64>,
    delete_excluded: bool,
}

impl FromArgMatches for FilterArgs {
    fn from_arg_matches(m: &ArgMatches) -> std::result::Result<Self, clap::Error> {
        let flags = FilterFlags::from_arg_matches(m)?;
        let mut rules = Vec::new();
        let mut place = |id: &str, values: Vec<RuleArg>| {
            let indices = m.indices_of(id).map(Iterator::collect::<Vec<_>>).unwrap_or_default();
            rules.extend(indices.into_iter().zip(values));
        };
        place("exclude", flags.exclude.into_iter().map(RuleArg::Exclude).collect());
        place("include", flags.include.into_iter().map(RuleArg::Include).collect());
        place("exclude_from", flags.exclude_from.into_iter().map(RuleArg::ExcludeFrom).collect());
        place("include_from", flags.include_from.into_iter().map(RuleArg::IncludeFrom).collect());
        rules.sort_by_key(|(i, _)| *i);
        Ok(FilterArgs {
            rules: rules.into_iter().map(|(_, r)| r).collect(),
            files_from: flags.files_from,
            min_size: flags.min_size,
            max_size: flags.max_size,
            delete_excluded: flags.delete_excluded,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> std::result::Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for FilterArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        FilterFlags::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        FilterFlags::augment_args_for_update(cmd)
    }
}

impl FilterArgs {
    /// Reads the pattern and path files and builds the spec. The spec is
    /// compiled once here, so a bad pattern fails before anything connects;
    /// `mirror` says whether `--delete-excluded` can apply.
    pub(crate) fn spec(&self, mirror: bool) -> Result<FilterSpec> {
        if self.delete_excluded && !mirror {
            return Err(Error::new(ErrorKind::InvalidInput, "--delete-excluded deletes only when mirroring")
                .with_hint("use `blit mirror`, or add --delete to `blit copy`"));
        }
        let mut spec =
            FilterSpec::new().min_size(self.min_size).max_size(self.max_size).delete_excluded(self.delete_excluded);
        for rule in &self.rules {
            match rule {
                RuleArg::Include(p) => spec = spec.include(p.as_str()),
                RuleArg::Exclude(p) => spec = spec.exclude(p.as_str()),
                RuleArg::IncludeFrom(file) => spec.rules.extend(patterns(file)?.into_iter().map(FilterRule::include)),
                RuleArg::ExcludeFrom(file) => spec.rules.extend(patterns(file)?.into_iter().map(FilterRule::exclude)),
            }
        }
        if let Some(file) = &self.files_from {
            spec = spec.files_from(paths(file)?);
        }
        blit_planner::filter::Filter::new(&spec)?;
        Ok(spec)
    }
}

/// The lines of FILE (`-`: stdin), with a trailing CR dropped.
fn lines(file: &Path) -> Result<Vec<Vec<u8>>> {
    let mut data = Vec::new();
    let read = if file == Path::new("-") {
        std::io::stdin().read_to_end(&mut data).map(drop)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut data)).map(drop)
    };
    read.map_err(|e| Error::io("read", file.display(), e))?;
    Ok(data.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec()).collect())
}

/// Patterns of an --include-from / --exclude-from file.
fn patterns(file: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, line) in lines(file)?.into_iter().enumerate() {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let pattern = String::from_utf8(line).map_err(|_| {
            Error::new(ErrorKind::InvalidInput, format!("line {} is not UTF-8", n + 1))
                .with_path(file.display().to_string())
                .with_hint("patterns must be UTF-8 (they still match names that are not)")
        })?;
        out.push(pattern);
    }
    Ok(out)
}

/// Paths of a --files-from file (blank lines skipped; names are raw bytes).
fn paths(file: &Path) -> Result<Vec<Vec<u8>>> {
    Ok(lines(file)?.into_iter().filter(|l| !l.is_empty()).collect())
}

/// Parses SIZE: a bare number of bytes, or a number with a unit.
pub(crate) fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let hint = "write bytes or a number with a unit, e.g. 4096, 100K, 1.5M, 2G (1024-based), 800KB (1000-based)";
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size; {hint}"))?;
    let multiplier = match unit.trim() {
        "" => 1.0,
        unit => crate::bwlimit::unit_multiplier(unit)
            .ok_or_else(|| format!("`{unit}` in `{text}` is not a unit; {hint}"))?,
    };
    let bytes = (value * multiplier).round();
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large; {hint}"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests;
