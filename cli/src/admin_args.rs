//! Arguments of the commands that look after a daemon: `du`, `df`, `find`
//! and `rm` (its files), `jobs` (its transfers).

use clap::Args;
use std::ffi::OsString;

/// Arguments of `blit du`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct DuArgs {
    /// What to measure: HOST::module/path or HOST:/module/path (or
    /// HOST:PORT:/module/path).
    pub target: OsString,
    /// Print the sizes of directories at most N levels below TARGET (0:
    /// only the total).
    #[arg(short = 'd', long, value_name = "N")]
    pub max_depth: Option<usize>,
    /// Print only the total (the same as --max-depth 0).
    #[arg(short = 's', long)]
    pub summarize: bool,
    /// -h, --json and --help.
    #[command(flatten)]
    pub output: SizeOutput,
    /// Secret and TLS (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
}

/// How `du` and `df` print sizes. `-h` is `--human-readable` there, as in
/// du and df, so help is `--help` (or a bare `-h`).
#[derive(Debug, Args)]
pub struct SizeOutput {
    /// Sizes in binary units (KiB, MiB, ...) instead of bytes.
    #[arg(short = 'h', long)]
    pub human_readable: bool,
    /// Print JSON, one object per line (a directory, a module), instead of
    /// text.
    #[arg(long)]
    pub json: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

impl SizeOutput {
    /// `n` bytes as asked: exact, or in binary units with `-h`.
    pub(crate) fn bytes(&self, n: u64) -> String {
        if self.human_readable {
            crate::progress_line::human_bytes(n)
        } else {
            n.to_string()
        }
    }
}

/// Arguments of `blit df`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct DfArgs {
    /// HOST::module/path or HOST:/module/path for the file system holding
    /// that path; HOST or HOST:PORT alone for every module the daemon serves.
    pub target: OsString,
    /// Also show inodes (file slots) in all and free.
    #[arg(short = 'i', long)]
    pub inodes: bool,
    /// -h, --json and --help.
    #[command(flatten)]
    pub output: SizeOutput,
    /// Secret and TLS (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
}

/// Arguments of `blit find`.
#[derive(Debug, Args)]
pub struct FindArgs {
    /// Where to look: HOST::module/path or HOST:/module/path (or
    /// HOST:PORT:/module/path).
    pub target: OsString,
    /// Show only paths (below TARGET) this glob matches: `*` and `?` stay
    /// within one name, `**` crosses directories (`**/*.jpg` is every
    /// .jpg at any depth, `*.jpg` only those directly in TARGET),
    /// `[abc]` and `{a,b}` as in shells.
    #[arg(long, value_name = "GLOB", value_parser = crate::find::parse_pattern)]
    pub pattern: Option<String>,
    /// Show only regular files (with --dirs: files and directories).
    #[arg(long)]
    pub files: bool,
    /// Show only directories (with --files: files and directories).
    #[arg(long)]
    pub dirs: bool,
    /// Print one JSON object per entry (the fields of `ls --json`).
    #[arg(long)]
    pub json: bool,
    /// Secret and TLS (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
}

/// Arguments of `blit rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// What to remove: HOST::module/path or HOST:/module/path (or
    /// HOST:PORT:/module/path); a directory goes with everything in it.
    #[arg(required = true, num_args = 1.., value_name = "TARGET")]
    pub targets: Vec<OsString>,
    /// Remove without asking. Without it blit asks `remove /module/path?
    /// [y/N]` on a terminal, and refuses (exit 64) when there is none.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
    /// Print each removed path.
    #[arg(short, long)]
    pub verbose: bool,
    /// Secret and TLS (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
}

/// Arguments of `blit jobs`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// The daemon: HOST, HOST:PORT, [IPv6] or [IPv6]:PORT (default port 9031).
    pub host: String,
    /// Cancel the running transfer with this id (as the listing shows it)
    /// instead of listing; needs the secret of its module. Its client
    /// stops with an error; files that landed stay complete.
    #[arg(long, value_name = "ID", value_parser = crate::jobs::parse_id)]
    pub cancel: Option<String>,
    /// Print one JSON object per transfer instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Secret and TLS (--secret-file, --tls, --tls-ca).
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
}
