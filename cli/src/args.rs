//! Command-line definitions (clap derive).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;

const TRANSFER_HELP: &str = "\
SRC or DST may name another machine, as with rsync: [user@]HOST:path or
ssh://[user@]HOST[:PORT]/path goes over ssh, which starts blit on the far side
(-e/--rsh, --blit-path); HOST::module/path, blit://HOST[:PORT]/module/path or
HOST:PORT:/module/path names a blitd daemon (default port 9031; IPv6 hosts in
brackets). A local source and a remote destination push; a remote source and a
local destination pull. Write ./name:x for a local path that contains a colon.

Paths follow rsync's trailing-slash rule:
  blit copy photos  backup/   creates backup/photos/...   (the directory itself)
  blit copy photos/ backup/   fills   backup/...          (its contents)
A single file is copied into DST when DST is a directory or ends with '/',
otherwise to the path DST.

Files are compared by size and modification time (with --checksum, by BLAKE3
of their content); only what differs is sent. Every file lands atomically: it
is written under a temporary name beside its target and renamed into place,
so DST never holds a torn file. Symlinks are copied as symlinks.

Several sources all go into DST (blit copy a b dir/ dst/), one after the
other, with one summary; mirror takes one source.

Exit codes: 0 everything was done; 1 a fatal error stopped the transfer;
2 finished, but not everything was done: some entries failed (each is named
on stderr) or mirror left deletions undone (the summary says why); 64 the
command line was wrong, nothing was done.";

const CHECK_HELP: &str = "\
SRC and DST are addresses as for copy (local, HOST:path over ssh, a daemon);
they are compared as named: `blit check photos backup/photos` compares the
two directories. Only content counts (files by BLAKE3, symlinks by target,
and whether each entry exists); modes, times and owners do not. Filters
(--exclude, ...) choose what is compared. Each difference is one line on
stdout: `differs PATH`, `missing PATH` (not in DST), `extra PATH` (only in
DST); --json prints one object per difference and a final one with the counts.

A daemon module that is read-only can be compared as SRC, not as DST.

Exit codes: 0 the same content; 3 they differ; 2 some entries could not be
compared (each is named on stderr); 1 a fatal error; 64 the command line was
wrong.";

/// Exit codes, for `blit --help` and `blit.1`.
const EXIT_HELP: &str = "\
Exit codes: 0 everything was done; 1 a fatal error stopped the command;
2 a transfer finished, but not everything was done: some entries failed
(each is named on stderr) or mirror left deletions undone (the summary says
why); 3 `blit check` found differences; 64 the command line was wrong,
nothing was done.";

/// blit moves file trees fast.
#[derive(Debug, Parser)]
#[command(name = "blit", version, about, propagate_version = true, after_help = EXIT_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Colour output (log lines, help): auto, always or never. auto
    /// colours a terminal unless the NO_COLOR environment variable is set
    /// to a non-empty value.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto, global = true)]
    pub color: ColorArg,
}

/// The blit commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy SRC to DST; update what differs, delete nothing (unless --delete).
    #[command(after_long_help = TRANSFER_HELP, disable_help_flag = true)]
    Copy(TransferArgs),
    /// Make DST an exact copy of SRC: copy what differs and delete what SRC
    /// does not have (only after the whole source was read without error).
    #[command(after_long_help = TRANSFER_HELP, disable_help_flag = true)]
    Mirror(TransferArgs),
    /// Move SRC to DST: copy, then remove each source file once it is in
    /// place at DST (never one that failed or changed meanwhile), and the
    /// source directories this emptied.
    #[command(after_long_help = TRANSFER_HELP, disable_help_flag = true)]
    Move(TransferArgs),
    /// Compare SRC and DST by content (BLAKE3) without copying; print each
    /// difference (differs, missing from DST, extra in DST). Exit 0 when
    /// they hold the same content, 3 when they differ.
    #[command(after_long_help = CHECK_HELP, disable_help_flag = true)]
    Check(TransferArgs),
    /// List the modules a blitd daemon serves.
    Modules(ModulesArgs),
    /// List a directory (or one entry) on a blitd daemon.
    Ls(LsArgs),
    /// Show the size of a tree on a blitd daemon, per directory (apparent
    /// bytes: the sum of file sizes).
    Du(crate::DuArgs),
    /// Show the size and free space of the file system holding a module.
    Df(crate::DfArgs),
    /// List the paths below a directory on a blitd daemon that match a glob.
    Find(crate::FindArgs),
    /// Remove a file, symlink or directory tree on a blitd daemon (asks
    /// first unless -y).
    Rm(crate::RmArgs),
    /// List the transfers running on a blitd daemon, or cancel one
    /// (--cancel ID).
    Jobs(crate::JobsArgs),
    /// Print a shell completion script (e.g. `blit completions bash > /etc/bash_completion.d/blit`).
    Completions(CompletionsArgs),
    /// Write man pages (blit.1 and one per command) into a directory, or print blit.1.
    Man(ManArgs),
    /// Take work items of distributed jobs (`copy --queue`) from a NATS
    /// JetStream server and run each through the normal engine, until
    /// stopped (SIGTERM or Ctrl-C give the current item back).
    Worker(crate::worker::WorkerArgs),
    /// Serve one connection on standard input and output: what ssh starts
    /// on the far side of a transfer to or from HOST:path.
    #[command(hide = true)]
    Server(crate::ssh::ServerArgs),
}

/// Arguments of `blit completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `blit man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page into this directory instead of printing blit.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

/// Arguments of `blit modules`.
#[derive(Debug, Args)]
pub struct ModulesArgs {
    /// The daemon: HOST, HOST:PORT, [IPv6] or [IPv6]:PORT (default port 9031).
    pub host: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Secret and TLS (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
}

/// Arguments of `blit ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// What to list: HOST::module/path (or blit://HOST:PORT/module/path) on
    /// a daemon, or [user@]HOST:path over ssh.
    pub target: OsString,
    /// Also list every directory below, each entry by its path below the
    /// listed directory (as rsync -r lists a daemon's module).
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Long form: type, mode, size, mtime (UTC) and name. Always on, as in
    /// an rsync daemon's listing; accepted for the `ls -l` habit.
    #[arg(short = 'l', long = "long")]
    pub long: bool,
    /// Print one JSON object per entry instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Secret and TLS (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
}

/// Options shared by copy and mirror.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Source paths (one or more). A trailing '/' copies the contents of a
    /// directory; several sources all go into DST, as with rsync.
    #[arg(required = true, num_args = 1.., value_name = "SRC")]
    pub src: Vec<OsString>,
    /// Destination path.
    #[arg(required = true)]
    pub dst: OsString,
    /// Print help (a bare -h does too; -h among other flags is
    /// --human-readable, as in rsync).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Show a live progress bar (bytes, files, rate, ETA); with --json, one
    /// JSON event per line on stderr instead.
    #[arg(short, long)]
    pub progress: bool,
    /// Print one line per transferred, deleted or failed entry.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Show what would change; change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Compare files by BLAKE3 of their content instead of size and mtime.
    #[arg(short, long)]
    pub checksum: bool,
    /// After landing, read each copied file back and compare its BLAKE3
    /// with the hash the source computed as it walked; a mismatch fails
    /// that file and keeps its old version (costs a read of every source
    /// file and of every landed file).
    #[arg(long)]
    pub verify: bool,
    /// Delete destination entries the source does not have (what mirror
    /// does), after the whole source was read without error; rsync's
    /// --delete-after, --delete-delay and --delete-during mean the same here.
    #[arg(long, aliases = ["delete-after", "delete-delay", "delete-during"])]
    pub delete: bool,
    /// How a remote transfer carries file data: auto uses the TCP data plane
    /// and falls back to in-stream gRPC when its port cannot be reached
    /// within 2 s (the summary says so); tcp fails instead; grpc always
    /// goes in-stream.
    #[arg(long, value_enum, default_value_t = TransportArg::Auto)]
    pub transport: TransportArg,
    /// Use exactly N data connections (1 to 16) instead of ramping up from
    /// one while more streams make a large transfer faster.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=16))]
    pub streams: Option<u32>,
    /// Compress data-plane records: none, zstd, zstd:LEVEL (1 to 22), or
    /// auto (zstd only when the measured link is slower than the compressor).
    #[arg(long, value_name = "none|zstd[:LEVEL]|auto", default_value = "none")]
    pub compress: String,
    /// Print nothing but errors (failed entries and fatal errors); the exit
    /// code is unchanged. Wins over --progress and --verbose; --json still
    /// prints its summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Most bytes per second to move, all streams together, in every
    /// direction: a number with an optional unit. K, M, G and T (or KiB,
    /// MiB, GiB, TiB) are powers of 1024, KB, MB, GB and TB powers of 1000,
    /// B is bytes; a bare number means KiB, as in rsync (so 500 = 500K).
    /// Fractions are fine (1.5G); 0 means no limit.
    #[arg(long, value_name = "RATE", value_parser = crate::bwlimit::parse_rate)]
    pub bwlimit: Option<u64>,
    /// Accepted; always on. Large files an interrupted run left
    /// half-written are continued: files of 8 MiB or more land in a
    /// .blit.<hash>.part file beside their target, which a killed or
    /// interrupted run leaves behind; the next run compares its 1 MiB
    /// blocks with the source by BLAKE3 and sends only the blocks that
    /// differ and the missing rest. A partial file is never thrown away.
    #[arg(long)]
    pub resume: bool,
    /// Which entries take part (--exclude, --include, --files-from, ...).
    #[command(flatten)]
    pub filter: crate::filter_args::FilterArgs,
    /// Secret and TLS for a remote side (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
    /// Spread the copy over the workers (`blit worker`) of this NATS
    /// JetStream server: nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT]. SRC and
    /// DST must be paths every worker sees, or daemon addresses. Rerunning
    /// the same command resumes an unfinished job.
    #[arg(long, value_name = "URL")]
    pub queue: Option<String>,
    /// With --queue: file data per work item (default 64M, at least 1M);
    /// a larger file the destination does not hold yet is split into
    /// ranges of this size, each landed by one worker.
    #[arg(long, value_name = "SIZE", value_parser = item_size, requires = "queue")]
    pub item_size: Option<u64>,
    /// For a copy between two daemons: read the destination daemon's
    /// secret from this file, when it is not the source's (--secret-file or
    /// BLIT_SECRET then serve the source alone).
    #[arg(long, value_name = "FILE")]
    pub dst_secret_file: Option<std::path::PathBuf>,
    /// Hard links, owner, group and extended attributes (-H, -o, -g, -X).
    #[command(flatten)]
    pub preserve: crate::preserve_args::PreserveArgs,
    /// The rsync flags people type (-a, -z, -P, -u, -i, --stats, ...).
    #[command(flatten)]
    pub rsync: crate::rsync_args::RsyncArgs,
}

/// Parses `--item-size`: a size (see `--min-size`) of at least 1 MiB.
fn item_size(text: &str) -> Result<u64, String> {
    match crate::filter_args::parse_size(text)? {
        n if n < 1 << 20 => Err(format!("`{text}` is below the smallest item size, 1M")),
        n => Ok(n),
    }
}

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorArg {
    /// Colour when writing to a terminal and NO_COLOR is unset or empty.
    #[default]
    Auto,
    /// Always colour, even when NO_COLOR is set.
    Always,
    /// Never colour.
    Never,
}

/// The payload transport of a remote transfer (`--transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// The TCP data plane, else in-stream gRPC.
    Auto,
    /// The TCP data plane, or fail.
    Tcp,
    /// In-stream gRPC.
    Grpc,
}

impl TransportArg {
    /// The name `--transport` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TransportArg::Auto => "auto",
            TransportArg::Tcp => "tcp",
            TransportArg::Grpc => "grpc",
        }
    }
}
