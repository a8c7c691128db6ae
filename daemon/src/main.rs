//! `blitd`: parse arguments, set up logging, serve until SIGINT or SIGTERM.

use anyhow::Context;
use blit_daemon::{parse_listen, DaemonConfig, DEFAULT_LISTEN};
use clap::Parser;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Serve directories to blit clients.
#[derive(Debug, Parser)]
#[command(name = "blitd", version, about, after_help = CONFIG_HELP)]
struct Args {
    /// Read modules (and the listen address) from this TOML file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen on this address (default 127.0.0.1:9031, loopback only).
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<String>,
    /// Serve a directory: NAME=PATH, or NAME=PATH:ro for a read-only module.
    /// After the `:`, a comma-separated list may also name allow_owner
    /// (accept --owner/--group pushes), allow_setid (keep set-ID bits),
    /// allow_relay (may push to another blitd for a copy between daemons;
    /// needs a secret) and fsync (flush what pushes land): NAME=PATH:rw,allow_owner.
    #[arg(long = "module", value_name = "NAME=PATH[:ro]")]
    modules: Vec<String>,
    /// Most transfers at once (default 64); beyond it clients are told to retry later.
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,
    /// End a session after this many seconds without traffic (default 300).
    #[arg(long, value_name = "SECS")]
    idle_timeout: Option<u64>,
    /// Check the configuration (file and flags) as blitd does at startup,
    /// print "config OK: N modules" and exit 0, or say what is wrong and
    /// where (file, line, column) and exit 1. Serves nothing.
    #[arg(long)]
    check_config: bool,
    /// Print a shell completion script for blitd and exit (e.g.
    /// `blitd --completions bash > /etc/bash_completion.d/blitd`).
    #[arg(long, value_name = "SHELL")]
    completions: Option<clap_complete::Shell>,
    /// Print blitd's man page (roff) and exit (e.g. `blitd --man > blitd.8`).
    #[arg(long)]
    man: bool,
}

const CONFIG_HELP: &str = "\
Configuration file:
  listen = \"127.0.0.1:9031\"
  max_sessions = 64      # transfers at once
  idle_timeout = 300     # seconds a session may stay idle
  [[module]]
  name = \"photos\"
  path = \"/srv/photos\"
  read_only = false
  comment = \"family photos\"
  allow_owner = false    # accept pushes with --owner/--group
  allow_setid = false    # keep set-user-ID/set-group-ID bits of pushes
  fsync = false          # flush what pushes land, as with --fsync
  allow_relay = false    # may push to another blitd (copy between daemons)

Check a configuration without serving: blitd --check-config --config FILE.
Every option, explained: contrib/blitd.toml in the source tree.

Logging: RUST_LOG=info (default), debug or trace; NO_COLOR=1 for plain text.

Exit codes: 0 stopped cleanly (SIGINT or SIGTERM) or the check passed; 1 an
error (the message says what and where); 64 the command line was wrong.";

/// Exit code of a command line that does not parse (sysexits' EX_USAGE, as
/// for blit).
const EXIT_USAGE: u8 = 64;

/// Prints the completion script or the man page asked for; `None` when
/// neither was.
fn docs(args: &Args) -> Option<std::process::ExitCode> {
    use clap::CommandFactory;
    if let Some(shell) = args.completions {
        clap_complete::generate(shell, &mut Args::command(), "blitd", &mut std::io::stdout());
        return Some(std::process::ExitCode::SUCCESS);
    }
    if args.man {
        let page = clap_mangen::Man::new(Args::command()).section("8");
        let mut out = Vec::new();
        if let Err(e) = page.render(&mut out) {
            eprintln!("blitd: error: cannot render the man page: {e}");
            return Some(std::process::ExitCode::FAILURE);
        }
        use std::io::Write;
        let _ = std::io::stdout().write_all(&out);
        return Some(std::process::ExitCode::SUCCESS);
    }
    None
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// The configuration the arguments describe: the file first, then flags.
fn configure(args: &Args) -> anyhow::Result<DaemonConfig> {
    let mut config = match &args.config {
        Some(path) => DaemonConfig::load(path)?,
        None => DaemonConfig::new(),
    };
    for spec in &args.modules {
        config.add_module_spec(spec)?;
    }
    if let Some(listen) = &args.listen {
        config.listen = Some(parse_listen(listen)?);
    }
    if let Some(max) = args.max_sessions {
        config.set_max_sessions(max)?;
    }
    if let Some(secs) = args.idle_timeout {
        config.set_idle_timeout(std::time::Duration::from_secs(secs))?;
    }
    if config.modules.is_empty() {
        anyhow::bail!(
            "no modules to serve: add --module NAME=PATH, or a [[module]] in the configuration file ({})",
            args.config.as_ref().map_or("none given".to_owned(), |p| p.display().to_string())
        );
    }
    Ok(config)
}

async fn serve(config: DaemonConfig) -> anyhow::Result<()> {
    // Modules, secrets and TLS are loaded (and checked) once, by `run`,
    // before anything is served.
    let addr = match config.listen {
        Some(addr) => addr,
        None => parse_listen(DEFAULT_LISTEN)?,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; free the port or choose another address with --listen"))?;
    let local = listener.local_addr().context("read the listening address")?;
    for m in &config.modules {
        let mut notes = Vec::new();
        if m.read_only {
            notes.push("read-only");
        }
        if m.allow_owner {
            notes.push("pushes may set file ownership");
        }
        if m.allow_setid {
            notes.push("pushes keep set-ID bits");
        }
        if m.fsync {
            notes.push("pushes are flushed to stable storage");
        }
        if m.allow_relay {
            notes.push("clients may have it pushed to another blitd");
        }
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
        tracing::info!("module `{}`: {}{notes}", m.name, m.path.display());
    }
    if let Some(n) = blit_daemon::raise_open_files() {
        tracing::info!("open-file limit: {n}");
    }
    tracing::info!("blitd listening on {local}");
    blit_daemon::run(listener, config, shutdown_signal()).await?;
    tracing::info!("blitd stopped");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    std::process::ExitCode::SUCCESS
                }
                _ => std::process::ExitCode::from(EXIT_USAGE),
            };
        }
    };
    if let Some(code) = docs(&args) {
        return code;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only a terminal (not journald), and never under NO_COLOR.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
    if args.check_config {
        return finish(configure(&args).and_then(|config| {
            let modules = blit_daemon::check_config(&config, args.config.as_deref())?;
            println!("config OK: {modules} module{}", if modules == 1 { "" } else { "s" });
            Ok(())
        }));
    }
    // Confinement applies to this thread and the ones started after it:
    // before the runtime, after the configuration was read.
    let config = match configure(&args) {
        Ok(config) => config,
        Err(e) => return finish(Err(e)),
    };
    if config.landlock {
        blit_daemon::sandbox::confine_daemon(&config);
    } else {
        tracing::info!("landlock: off (landlock = false)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("blitd").build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("blitd: error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    finish(runtime.block_on(serve(config)))
}

/// Exit 0, or print the error with each cause once and exit 1.
fn finish(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Say each cause once: blit's errors already include theirs.
            let mut text = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !text.contains(&cause) {
                    text = format!("{text}: {cause}");
                }
            }
            eprintln!("blitd: error: {text}");
            std::process::ExitCode::FAILURE
        }
    }
}
