//! The `blit` binary: parse arguments, set up logging, run.

use clap::FromArgMatches;

fn main() -> std::process::ExitCode {
    let raw = blit_cli::bare_h_is_help(std::env::args_os().collect());
    let color = blit_cli::color_in_args(&raw);
    let matches = match blit_cli::command().color(blit_cli::clap_color(color)).try_get_matches_from(&raw) {
        Ok(matches) => matches,
        Err(e) => return blit_cli::usage_error(e, &raw),
    };
    let cli = match blit_cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return blit_cli::usage_error(e, &raw),
    };
    blit_cli::init_logging(cli.color);
    blit_cli::run(cli)
}
