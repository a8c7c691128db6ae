//! A command line that does not parse: what was wrong, a hint for the
//! mistakes rsync users make, and exit code [`EXIT_USAGE`].
//!
//! An unknown flag is answered here rather than with clap's message, whose
//! tip ("to pass '-a' as a value, use '-- -a'") would turn a flag into a
//! path: an rsync flag blit lacks gets its own answer ([`rsync::answer`]),
//! any other the closest blit flag when clap found one.

mod rsync;

use crate::{EXIT_OK, EXIT_USAGE};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::ffi::OsString;
use std::process::ExitCode;

/// Prints `error` and returns the exit code for it: 0 for `--help` and
/// `--version`, [`EXIT_USAGE`] for anything that is not a valid command
/// line (nothing was done). `args` is the command line as given.
pub fn usage_error(error: clap::Error, args: &[OsString]) -> ExitCode {
    if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = error.print();
        return ExitCode::from(EXIT_OK);
    }
    match unknown_flag(&error) {
        Some(flag) => eprintln!("{}", unknown_flag_message(&flag, suggested(&error).as_deref())),
        None => {
            let _ = error.print();
            if let Some(hint) = hint(error.kind(), args) {
                eprintln!("blit: {hint}");
            }
        }
    }
    ExitCode::from(EXIT_USAGE)
}

/// `blit copy -h` (or `du -h`, `df -h`) alone asks for help (as `-h` does
/// everywhere else); among other flags `-h` is `--human-readable`, as in
/// rsync, du and df.
pub fn bare_h_is_help(mut args: Vec<OsString>) -> Vec<OsString> {
    if args.len() == 3 && args[2] == "-h" && matches!(args[1].to_str(), Some("copy" | "mirror" | "du" | "df")) {
        args[2] = OsString::from("--help");
    }
    args
}

/// The flag clap did not know, as typed.
fn unknown_flag(error: &clap::Error) -> Option<String> {
    if error.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(flag)) if flag.starts_with('-') => Some(flag.clone()),
        _ => None,
    }
}

/// The flag clap would suggest instead, if any.
fn suggested(error: &clap::Error) -> Option<String> {
    match error.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(flag)) => Some(flag.clone()),
        _ => None,
    }
}

/// What to say about an unknown `flag`.
fn unknown_flag_message(flag: &str, suggestion: Option<&str>) -> String {
    let name = flag.split_once('=').map_or(flag, |(name, _)| name);
    let shown = crate::escape::for_terminal(name);
    match rsync::answer(name) {
        Some(answer) if answer.starts_with("is ") => format!("blit: rsync's {shown} {answer}"),
        Some(answer) => format!("blit: rsync's {shown}: {answer}"),
        None => {
            let mut line = format!("blit: unknown option {shown}");
            if let Some(other) = suggestion {
                line.push_str(&format!("; did you mean {other}?"));
            }
            line.push_str(" (see `blit help` or `blit COMMAND --help`)");
            line
        }
    }
}

/// What to say beyond clap's message.
fn hint(kind: ErrorKind, args: &[OsString]) -> Option<String> {
    match (kind, args) {
        // `blit SRC DST`, as one would type `rsync SRC DST`.
        (ErrorKind::InvalidSubcommand, [_, first, rest @ ..]) if !rest.is_empty() => {
            let line: Vec<String> = std::iter::once(first)
                .chain(rest)
                .map(|a| blit_api::text::escape(a.as_encoded_bytes()).into_owned())
                .collect();
            Some(format!(
                "name the verb first: `blit copy {}` (`blit mirror` also deletes what the source lacks)",
                line.join(" ")
            ))
        }
        // rsync's --compress takes no value.
        (ErrorKind::InvalidValue, _) if args.iter().any(|a| a == "--compress") => {
            Some("rsync's --compress is -z here; --compress takes none, zstd, zstd:LEVEL or auto".to_owned())
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

    #[test]
    fn unknown_flags_never_get_clap_s_tip() {
        let inplace = unknown_flag_message("--inplace", Some("--include"));
        assert!(inplace.starts_with("blit: rsync's --inplace: blit never writes"), "{inplace}");
        assert!(!inplace.contains("--include") && !inplace.contains("'--"), "{inplace}");
        let link = unknown_flag_message("--compare-dest=/snap", None);
        assert!(link.starts_with("blit: rsync's --compare-dest is not supported yet"), "{link}");
        let other = unknown_flag_message("--strems", Some("--streams"));
        assert_eq!(
            other,
            "blit: unknown option --strems; did you mean --streams? (see `blit help` or `blit COMMAND --help`)"
        );
    }

    #[test]
    fn only_a_lone_h_after_copy_or_mirror_is_help() {
        assert_eq!(bare_h_is_help(args(&["blit", "copy", "-h"])), args(&["blit", "copy", "--help"]));
        assert_eq!(bare_h_is_help(args(&["blit", "copy", "-avh"])), args(&["blit", "copy", "-avh"]));
        assert_eq!(bare_h_is_help(args(&["blit", "ls", "-h"])), args(&["blit", "ls", "-h"]));
    }
}
