//! `blit worker nats://HOST:PORT`: the arguments, and the refusal of a
//! build without the `queue` feature (the worker itself is in
//! [`crate::queue`]).

use clap::Args;

/// Arguments of `blit worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The NATS JetStream server: nats://[USER:PASSWORD@|TOKEN@]HOST[:PORT]
    /// (or a .creds file named by BLIT_QUEUE_CREDS).
    #[arg(value_name = "URL")]
    pub url: String,
    /// This worker's name in progress and done records (default: the host
    /// name and process id).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Seconds an item stays with a worker that stopped answering (killed,
    /// cut off) before another worker takes it; a working worker renews
    /// it. The last worker started sets it for all.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub lease: u64,
    /// Stop after this many items (default: run until stopped).
    #[arg(long, value_name = "N")]
    pub items: Option<u64>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Secret and TLS for the daemons the jobs name (--secret-file, --tls,
    /// --tls-ca; or BLIT_SECRET). Jobs never carry secrets.
    #[command(flatten)]
    pub connect: crate::connect_args::ConnectArgs,
    /// For jobs between two daemons: the destination daemon's secret, when
    /// it is not the source's.
    #[arg(long, value_name = "FILE")]
    pub dst_secret_file: Option<std::path::PathBuf>,
}

/// Runs `blit worker` and returns the exit code.
pub(crate) fn run(args: WorkerArgs) -> u8 {
    #[cfg(feature = "queue")]
    {
        crate::queue::work::run(args)
    }
    #[cfg(not(feature = "queue"))]
    {
        let _ = args;
        eprintln!("blit: error: {}", crate::queue_not_built());
        crate::EXIT_USAGE
    }
}
