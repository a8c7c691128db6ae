#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod admin_args;
mod args;
mod bwlimit;
mod check;
mod color;
mod connect_args;
mod df;
mod docs;
mod du;
mod endpoints;
mod escape;
mod filter_args;
mod find;
mod inspect;
mod jobs;
mod log_file;
mod ls;
mod mover;
mod names;
mod preserve_args;
mod progress_line;
#[cfg(feature = "queue")]
mod queue;
mod relay;
mod remote;
mod remote_walk;
mod render;
mod report;
mod rm;
mod rsync_args;
mod ssh;
mod transfer;
mod usage;
mod wiring;
mod worker;

pub use admin_args::{DfArgs, DuArgs, FindArgs, JobsArgs, RmArgs, SizeOutput};
pub use args::{Cli, ColorArg, Command, CompletionsArgs, LsArgs, ManArgs, ModulesArgs, TransferArgs, TransportArg};
pub use check::EXIT_DIFFER;
pub use color::{clap_color, color_in_args, init_logging, use_color};
pub use connect_args::{ConnectArgs, SECRET_ENV};
pub use docs::command;
pub use filter_args::FilterArgs;
pub use preserve_args::PreserveArgs;
pub use rsync_args::RsyncArgs;
pub use ssh::{ServerArgs, RSH_ENV};
pub use usage::{bare_h_is_help, usage_error};
pub use worker::WorkerArgs;

/// What a build without the `queue` feature says to `--queue` and `blit worker`.
#[cfg(not(feature = "queue"))]
fn queue_not_built() -> &'static str {
    "this blit was built without distributed jobs (the `queue` feature); rebuild with `--features queue`"
}

/// Exit code: everything transferred.
pub const EXIT_OK: u8 = 0;
/// Exit code: a fatal error stopped the transfer.
pub const EXIT_FATAL: u8 = 1;
/// Exit code: the transfer finished but not everything was done: some
/// entries failed (each is named) or mirror left deletions undone.
pub const EXIT_PARTIAL: u8 = 2;
/// Exit code: the command line was wrong (an unknown flag, a missing
/// argument); nothing was done. sysexits' `EX_USAGE`, so a script can tell
/// a typo from a partial transfer.
pub const EXIT_USAGE: u8 = 64;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> std::process::ExitCode {
    let code = match cli.command {
        Command::Copy(args) => transfer::run(args, false, false),
        Command::Mirror(args) => transfer::run(args, true, false),
        Command::Move(args) => transfer::run(args, false, true),
        Command::Check(args) => check::run(args),
        Command::Modules(args) => inspect::modules(args),
        Command::Ls(args) => ls::ls(args),
        Command::Du(args) => du::du(args),
        Command::Df(args) => df::df(args),
        Command::Find(args) => find::find(args),
        Command::Rm(args) => rm::rm(args),
        Command::Jobs(args) => jobs::jobs(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
        Command::Worker(args) => worker::run(args),
        Command::Server(args) => ssh::server(args),
    };
    std::process::ExitCode::from(code)
}
