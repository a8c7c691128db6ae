//! Whether output is coloured: `--color auto|always|never` and `NO_COLOR`.
//!
//! `auto` colours only a terminal, and not at all when `NO_COLOR` is set to
//! a non-empty value (<https://no-color.org>); `--color always` overrides
//! `NO_COLOR`, as a per-run flag should. The log lines (`BLIT_LOG`) and
//! clap's help and usage errors follow the same choice; the progress bar and
//! the summary carry no colour at all.

use crate::ColorArg;
use std::ffi::OsString;
use std::io::IsTerminal;

/// Whether to colour a stream, given the user's choice and whether the
/// stream is a terminal.
pub fn use_color(choice: ColorArg, is_terminal: bool) -> bool {
    match choice {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// The `--color` choice found in raw arguments, before clap parses them
/// (clap needs it to colour its own errors). The last one wins.
pub fn color_in_args(args: &[OsString]) -> ColorArg {
    let mut choice = ColorArg::Auto;
    let mut next_is_value = false;
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else { continue };
        let value = match (next_is_value, arg.strip_prefix("--color=")) {
            (true, _) => Some(arg),
            (false, Some(value)) => Some(value),
            (false, None) => None,
        };
        next_is_value = arg == "--color";
        if arg == "--" {
            break;
        }
        match value {
            Some("always") => choice = ColorArg::Always,
            Some("never") => choice = ColorArg::Never,
            Some("auto") => choice = ColorArg::Auto,
            _ => {}
        }
    }
    choice
}

/// clap's colour setting for `choice`.
pub fn clap_color(choice: ColorArg) -> clap::ColorChoice {
    match choice {
        ColorArg::Auto if !use_color(ColorArg::Auto, true) => clap::ColorChoice::Never,
        ColorArg::Auto => clap::ColorChoice::Auto,
        ColorArg::Always => clap::ColorChoice::Always,
        ColorArg::Never => clap::ColorChoice::Never,
    }
}

/// Sets up the log lines on stderr (`BLIT_LOG=warn`, `debug`, ...),
/// coloured according to `choice`.
pub fn init_logging(choice: ColorArg) {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("BLIT_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(use_color(choice, std::io::stderr().is_terminal()))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn finds_the_color_flag_before_parsing() {
        assert_eq!(color_in_args(&args(&["blit", "copy", "a", "b"])), ColorArg::Auto);
        assert_eq!(color_in_args(&args(&["blit", "--color", "never", "copy"])), ColorArg::Never);
        assert_eq!(color_in_args(&args(&["blit", "copy", "--color=always", "a", "b"])), ColorArg::Always);
        assert_eq!(color_in_args(&args(&["blit", "--color=never", "--color", "always"])), ColorArg::Always);
        assert_eq!(color_in_args(&args(&["blit", "copy", "--", "--color=never"])), ColorArg::Auto);
    }

    #[test]
    fn explicit_choices_ignore_the_terminal() {
        assert!(use_color(ColorArg::Always, false));
        assert!(!use_color(ColorArg::Never, true));
        assert!(!use_color(ColorArg::Auto, false), "never colour a pipe");
    }
}
