//! The `blit` binary: parse arguments, set up logging, run.

use clap::FromArgMatches;

fn main() -> std::process::ExitCode {
    let matches = blit_cli::command().get_matches();
    let cli = match blit_cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("BLIT_LOG"))
        .with_writer(std::io::stderr)
        .init();
    blit_cli::run(cli)
}
