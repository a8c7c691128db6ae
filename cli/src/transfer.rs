//! `blit copy` and `blit mirror`: local, push or pull, chosen by which
//! argument names a remote (`HOST::module/path`, `HOST:path` over ssh), or
//! daemon to daemon when both do ([`crate::relay`]); several sources run one
//! after the other into the same destination, with one summary.

use crate::render::{Output, Renderer};
use crate::{remote, report, wiring, TransferArgs, EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE};
use blit_api::{Error, ErrorKind, Events, Result, TransferOptions, TransferSummary};
use std::ffi::{OsStr, OsString};
use std::time::{Duration, Instant};

/// Runs a copy (or a mirror, or with `moving` a move) and returns the exit code.
pub(crate) fn run(args: TransferArgs, mirror: bool, moving: bool) -> u8 {
    if mirror && args.src.len() > 1 {
        eprintln!("blit: mirror takes one source; copy several sources with `blit copy SRC... DST`");
        return EXIT_USAGE;
    }
    let output = Output::from_args(&args);
    let renderer = match Renderer::new(&output) {
        Ok(renderer) => renderer,
        Err(e) => {
            eprintln!("blit: error: {}", crate::escape::for_terminal(&e.to_string()));
            return EXIT_FATAL;
        }
    };
    // A mistyped address is a command-line error: nothing was done.
    if let Err(e) = endpoints(&args) {
        renderer.fatal(&e);
        renderer.close();
        return EXIT_USAGE;
    }
    let started = Instant::now();
    let result = options(&args, mirror).and_then(|options| {
        let options = options.remove_source(moving);
        match &args.queue {
            None => execute(&args, options, renderer.clone(), &renderer),
            #[cfg(feature = "queue")]
            Some(_) => crate::queue::execute(&args, options, renderer.clone(), &renderer),
            #[cfg(not(feature = "queue"))]
            Some(_) => Err(Error::new(ErrorKind::Unsupported, crate::queue_not_built())),
        }
    });
    renderer.close();
    match result {
        Ok((mut summary, moved)) => {
            summary.elapsed_secs = started.elapsed().as_secs_f64();
            renderer.summary(&summary);
            if moving && !args.quiet && !args.json {
                let removed = report::count(moved.removed, "source entry", "source entries");
                match moved.kept {
                    0 => eprintln!("blit: move: removed {removed}"),
                    kept => eprintln!(
                        "blit: move: removed {removed}; kept {} in the source (see the warnings above)",
                        report::count(kept, "entry", "entries")
                    ),
                }
            }
            if summary.has_failures() {
                // Each was printed as it happened (`blit: failed: ...`); say it once.
                match summary.failures.len() {
                    1 => eprintln!("blit: 1 entry failed; it is named above"),
                    n => eprintln!("blit: {n} entries failed; each is named above"),
                }
            }
            if summary.has_failures() || summary.deletions_skipped > 0 || moved.kept > 0 {
                EXIT_PARTIAL
            } else {
                EXIT_OK
            }
        }
        Err(e) => {
            renderer.fatal(&e);
            EXIT_FATAL
        }
    }
}

/// What to say when `--streams` or `--compress` cannot apply: they shape the
/// TCP data plane, which a local copy and `--transport grpc` do not use.
/// (`-z` asks for compression only where the transport can, so it is never
/// reported.)
fn ignored_link_flags(args: &TransferArgs, local: bool) -> Option<String> {
    let given = match (args.streams.is_some(), args.compress != "none") {
        (false, false) => return None,
        (true, false) => "--streams is",
        (false, true) => "--compress is",
        (true, true) => "--streams and --compress are",
    };
    if local {
        return Some(format!("{given} ignored: a local copy uses no data connections"));
    }
    (args.transport == crate::TransportArg::Grpc)
        .then(|| format!("{given} ignored: --transport grpc carries the payload inside the control connection"))
}

/// The options every source of this command runs with.
pub(crate) fn options(args: &TransferArgs, mirror: bool) -> Result<TransferOptions> {
    let rsync = &args.rsync;
    Ok(args
        .preserve
        .apply(TransferOptions::new())
        .checksum(args.checksum)
        .verify(args.verify)
        .mirror(mirror || args.delete)
        .dry_run(args.dry_run)
        .bwlimit(args.bwlimit.unwrap_or(0))
        // Partial copies are always kept and reused (see `--resume`).
        .resume(true)
        .update(rsync.update)
        .ignore_existing(rsync.ignore_existing)
        .size_only(rsync.size_only)
        .max_delete(rsync.max_delete)
        .one_file_system(rsync.one_file_system)
        .link_dest(rsync.link_dest.as_ref().map(|d| d.as_encoded_bytes().to_vec()))
        .backup(
            rsync.backup,
            rsync.backup_dir.as_ref().map(|d| d.as_encoded_bytes().to_vec()),
            rsync.suffix.as_ref().map(|s| s.as_encoded_bytes().to_vec()),
        )
        .fsync(rsync.fsync)
        // Dropped again for a local copy (see `wiring::local`).
        .delta(!rsync.whole_file)
        .filter(args.filter.spec(mirror || args.delete)?))
}

/// The destination as each source sees it: with several sources DST is a
/// directory they all go into, as if it ended with `/`.
pub(crate) fn destination(args: &TransferArgs) -> OsString {
    let mut dst = args.dst.clone();
    if args.src.len() > 1 && !dst.as_encoded_bytes().ends_with(b"/") {
        dst.push("/");
    }
    dst
}

/// Checks that every endpoint parses (see `remote`).
pub(crate) fn endpoints(args: &TransferArgs) -> Result<()> {
    remote::parse(&destination(args))?;
    args.src.iter().try_for_each(|src| remote::parse(src).map(drop))
}

/// Runs every source of `args` into its destination with `options`,
/// telling `events`; `renderer` says how long nothing happened (`--timeout`).
/// Returns the summary and, for `blit move`, what happened to the sources.
pub(crate) fn execute(
    args: &TransferArgs,
    options: TransferOptions,
    events: Events,
    renderer: &Renderer,
) -> Result<(TransferSummary, crate::mover::Moved)> {
    let link = wiring::Link::from_args(args)?;
    let dst = destination(args);
    let to = remote::parse(&dst)?;
    let sources = args.src.iter().map(|src| Ok((src, remote::parse(src)?))).collect::<Result<Vec<_>>>()?;
    let local = to.is_none() && sources.iter().all(|(_, from)| from.is_none());
    let relay = to.is_some() && sources.iter().all(|(_, from)| from.is_some());
    if args.dst_secret_file.is_some() && !relay {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "--dst-secret-file applies only to a copy between two daemons (both SRC and DST on blitd)",
        )
        .with_hint("give the daemon's secret with --secret-file or BLIT_SECRET"));
    }
    let moved = std::sync::Mutex::new(crate::mover::Moved::default());
    if let Some(message) = ignored_link_flags(args, local) {
        events.emit(blit_api::ProgressEvent::Warning { message });
    }
    let runtime = runtime()?;
    let all = async {
        let mut total: Option<TransferSummary> = None;
        for (src, from) in sources {
            // `blit move`: each source's entries go once they are in place.
            let mover = match options.remove_source {
                true => Some(crate::mover::Mover::start(src, from.as_ref(), &link, events.clone())?),
                false => None,
            };
            let events = mover.clone().map_or_else(|| events.clone(), |m| m as Events);
            let one = one((src, from.as_ref()), (&dst, to.as_ref()), options.clone(), &link, events).await;
            if let Some(mover) = mover {
                let clean = one.as_ref().is_ok_and(|s| !s.has_failures());
                let this = mover.finish(clean).await;
                let mut all = moved.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                *all = all.add(this);
            }
            let one = one?;
            total = Some(match total {
                None => one,
                Some(sum) => report::merge(sum, one),
            });
        }
        Ok(total.unwrap_or_default())
    };
    let result = runtime.block_on(async {
        tokio::select! {
            result = all => result,
            secs = timed_out(renderer, args.rsync.timeout) => Err(Error::new(
                ErrorKind::Io,
                format!("no progress for {secs} s (--timeout {secs}); the transfer was stopped"),
            )
            .with_hint("partial copies of large files are kept: run the command again to continue")),
        }
    });
    // A transfer stopped by --timeout may leave a thread blocked on a
    // silent peer: do not wait for it (the process is about to exit).
    runtime.shutdown_timeout(Duration::from_secs(2));
    result.map(|summary| (summary, moved.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)))
}

/// One source into its destination, wired for where each is: local, a push,
/// a pull, or a copy between two daemons.
pub(crate) async fn one(
    (src, from): (&OsStr, Option<&remote::Remote>),
    (dst, to): (&OsStr, Option<&remote::Remote>),
    options: TransferOptions,
    link: &wiring::Link,
    events: Events,
) -> Result<TransferSummary> {
    match (from, to) {
        (None, None) => wiring::local(src, dst, options, events).await,
        (None, Some(to)) => wiring::push(src, to, options, link, events).await,
        (Some(from), None) => wiring::pull(from, dst, options, link, events).await,
        (Some(from), Some(to)) => crate::relay::copy((src, from), (dst, to), options, link, events).await,
    }
}

/// The runtime a command's transfers run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("blit")
        .build()
        .map_err(|e| Error::io("start runtime", "blit", e))
}

/// Returns `--timeout`'s seconds once nothing has happened for that long;
/// never without `--timeout` (or with 0).
pub(crate) async fn timed_out(renderer: &Renderer, timeout: Option<u64>) -> u64 {
    match timeout.filter(|secs| *secs > 0) {
        Some(secs) => {
            stalled(renderer, Duration::from_secs(secs)).await;
            secs
        }
        None => std::future::pending().await,
    }
}

/// Returns once nothing has happened for `limit`: no event from any side.
pub(crate) async fn stalled(renderer: &Renderer, limit: Duration) {
    loop {
        let quiet = renderer.idle();
        if quiet >= limit {
            return;
        }
        tokio::time::sleep((limit - quiet).min(Duration::from_millis(250))).await;
    }
}
