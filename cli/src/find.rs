//! `blit find HOST:/module/path`: the paths below a directory on a daemon,
//! all of them or those a glob matches (`--pattern`), optionally only
//! files or directories, one per line in sorted path order (the walk of
//! `ls -R`, [`crate::remote_walk`]).
//!
//! The glob is matched against the whole path below the target, never the
//! name alone: `*` and `?` do not cross `/`, `**` does (globset with
//! `literal_separator`), so `*.jpg` finds the pictures directly in the
//! target and `**/*.jpg` those at any depth. A target that is not a
//! directory is matched by its own name.

use crate::inspect::{finish, runtime};
use crate::remote_walk::{self, Step};
use crate::FindArgs;
use blit_api::{Error, ErrorKind, FileHeader, FileKind, Result};
use globset::{GlobBuilder, GlobMatcher};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Prints the matching paths of a remote tree.
pub(crate) fn find(args: FindArgs) -> u8 {
    finish((|| {
        let top = remote_walk::daemon_target(&args.target, "find", "searches")?;
        let matcher = args.pattern.as_deref().map(glob).transpose()?;
        let route = remote_walk::route(&top, &args.connect)?;
        runtime()?.block_on(remote_walk::walk(&top, &*route, true, |step| {
            if let Step::Entry(h) | Step::Itself(h) = step {
                if kind_wanted(h.kind, &args) && matcher.as_ref().is_none_or(|m| matches(m, &h)) {
                    print(&h, args.json);
                }
            }
            Ok(())
        }))
    })())
}

/// Checks a `--pattern` as the command line is parsed (a bad one is a
/// usage error, exit 64).
pub(crate) fn parse_pattern(pattern: &str) -> Result<String, String> {
    glob(pattern).map(|_| pattern.to_owned()).map_err(|e| e.to_string())
}

/// The matcher of `pattern`: `*` stays within one name, `**` crosses `/`.
fn glob(pattern: &str) -> Result<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("bad glob: {}", e.kind()))
                .with_hint("`*` and `?` match within one name, `**` any number of directories, `[abc]` one of a set")
        })
}

fn matches(matcher: &GlobMatcher, h: &FileHeader) -> bool {
    matcher.is_match(Path::new(OsStr::from_bytes(h.path.as_bytes())))
}

/// Whether `--files` and `--dirs` let entries of `kind` through (neither:
/// every kind).
fn kind_wanted(kind: FileKind, args: &FindArgs) -> bool {
    match (args.files, args.dirs) {
        (false, false) => true,
        (files, dirs) => (files && kind == FileKind::File) || (dirs && kind == FileKind::Dir),
    }
}

fn print(h: &FileHeader, json: bool) {
    if json {
        println!("{}", remote_walk::entry_json(h));
    } else {
        println!("{}", crate::escape::for_terminal(&h.path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::RelPath;

    fn at(path: &str) -> FileHeader {
        FileHeader { path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(), ..Default::default() }
    }

    #[test]
    fn a_star_stays_in_one_name_and_two_cross_directories() {
        let star = glob("*.jpg").unwrap();
        let stars = glob("**/*.jpg").unwrap();
        let under = glob("2024/**").unwrap();
        assert!(matches(&star, &at("a.jpg")) && !matches(&star, &at("2024/a.jpg")));
        assert!(matches(&stars, &at("a.jpg")) && matches(&stars, &at("2024/x/a.jpg")));
        assert!(!matches(&stars, &at("a.png")));
        assert!(matches(&under, &at("2024/a.jpg")) && !matches(&under, &at("2025/a.jpg")));
        assert!(parse_pattern("[").is_err());
    }
}
