//! The `blit` binary: parse arguments, set up logging, run.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = blit_cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("BLIT_LOG"))
        .with_writer(std::io::stderr)
        .init();
    blit_cli::run(cli)
}
