#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod args;
mod docs;
mod endpoints;
mod inspect;
mod remote;
mod render;
mod transfer;
mod wiring;

pub use args::{Cli, Command, CompletionsArgs, LsArgs, ManArgs, ModulesArgs, TransferArgs, TransportArg};
pub use docs::command;

/// Exit code: everything transferred.
pub const EXIT_OK: u8 = 0;
/// Exit code: a fatal error stopped the transfer.
pub const EXIT_FATAL: u8 = 1;
/// Exit code: the transfer finished but some entries failed (each is listed).
pub const EXIT_PARTIAL: u8 = 2;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> std::process::ExitCode {
    let code = match cli.command {
        Command::Copy(args) => transfer::run(args, false),
        Command::Mirror(args) => transfer::run(args, true),
        Command::Modules(args) => inspect::modules(args),
        Command::Ls(args) => inspect::ls(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
    };
    std::process::ExitCode::from(code)
}
