//! A command line that does not parse: clap's message, a hint for the
//! mistakes rsync users make, and exit code [`EXIT_USAGE`].

use crate::{EXIT_OK, EXIT_USAGE};
use clap::error::ErrorKind;
use std::ffi::OsString;
use std::process::ExitCode;

/// Prints `error` and returns the exit code for it: 0 for `--help` and
/// `--version`, [`EXIT_USAGE`] for anything that is not a valid command
/// line (nothing was done). `args` is the command line as given.
pub fn usage_error(error: clap::Error, args: &[OsString]) -> ExitCode {
    let _ = error.print();
    if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return ExitCode::from(EXIT_OK);
    }
    if let Some(hint) = hint(error.kind(), args) {
        eprintln!("blit: {hint}");
    }
    ExitCode::from(EXIT_USAGE)
}

/// What to say beyond clap's message.
fn hint(kind: ErrorKind, args: &[OsString]) -> Option<String> {
    match (kind, args) {
        // `blit SRC DST`, as one would type `rsync SRC DST`.
        (ErrorKind::InvalidSubcommand, [_, first, rest @ ..]) if !rest.is_empty() => {
            let line: Vec<String> = std::iter::once(first)
                .chain(rest)
                .map(|a| crate::escape::for_terminal(&a.to_string_lossy()).into_owned())
                .collect();
            Some(format!(
                "name the verb first: `blit copy {}` (`blit mirror` also deletes what the source lacks)",
                line.join(" ")
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_missing_verb_suggests_copy() {
        let said = hint(ErrorKind::InvalidSubcommand, &args(&["blit", "src/", "dst/"])).unwrap();
        assert!(said.contains("`blit copy src/ dst/`"), "{said}");
        assert_eq!(hint(ErrorKind::InvalidSubcommand, &args(&["blit", "frob"])), None, "one word is a typo");
        assert_eq!(hint(ErrorKind::UnknownArgument, &args(&["blit", "a", "b"])), None);
    }
}
