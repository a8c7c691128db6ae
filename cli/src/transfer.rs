//! `blit copy` and `blit mirror`: local, push or pull, chosen by which
//! argument names a remote (`HOST:/module/path`).

use crate::render::{event_json, summary_line, Renderer, JSON_SCHEMA};
use crate::{remote, wiring, TransferArgs, EXIT_FATAL, EXIT_OK, EXIT_PARTIAL};
use blit_api::{Error, ErrorKind, Events, ProgressEvent, Result, TransferOptions};

/// Runs a copy (or a mirror) and returns the exit code.
pub(crate) fn run(args: TransferArgs, mirror: bool) -> u8 {
    let renderer = Renderer::new(args.progress, args.verbose, args.json, args.quiet);
    let result = execute(&args, mirror, renderer.clone());
    renderer.close();
    match result {
        Ok(summary) => {
            if args.json {
                let mut v = serde_json::to_value(&summary).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("schema".into(), JSON_SCHEMA.into());
                    o.insert("ok".into(), (!summary.has_failures()).into());
                }
                println!("{v}");
            } else if (args.progress || args.verbose) && !args.quiet {
                eprintln!("blit: {}", summary_line(&summary));
            }
            if summary.has_failures() {
                // Each was printed as it happened (`blit: failed: ...`); say it once.
                match summary.failures.len() {
                    1 => eprintln!("blit: 1 entry failed; it is named above"),
                    n => eprintln!("blit: {n} entries failed; each is named above"),
                }
                EXIT_PARTIAL
            } else {
                EXIT_OK
            }
        }
        Err(e) => {
            if args.json {
                let ev = ProgressEvent::Failed { kind: e.kind(), message: e.to_string() };
                println!("{}", event_json(&ev));
            }
            let text = e.to_string();
            if renderer.printed(&text) {
                // A file failure printed above is what stopped the transfer.
                eprintln!("blit: error: the failure above stopped the transfer");
            } else {
                eprintln!("blit: error: {}", crate::escape::for_terminal(&text));
            }
            EXIT_FATAL
        }
    }
}

/// What to say when `--streams` or `--compress` cannot apply: they shape the
/// TCP data plane, which a local copy and `--transport grpc` do not use.
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

fn execute(args: &TransferArgs, mirror: bool, events: Events) -> Result<blit_api::TransferSummary> {
    let options = args
        .preserve
        .apply(TransferOptions::new())
        .checksum(args.checksum)
        .mirror(mirror || args.delete)
        .dry_run(args.dry_run)
        .bwlimit(args.bwlimit.unwrap_or(0))
        .resume(args.resume)
        .filter(args.filter.spec(mirror || args.delete)?);
    let (src, dst) = (remote::parse(&args.src)?, remote::parse(&args.dst)?);
    let link = wiring::Link::from_args(args)?;
    if let Some(message) = ignored_link_flags(args, src.is_none() && dst.is_none()) {
        events.emit(blit_api::ProgressEvent::Warning { message });
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("blit")
        .build()
        .map_err(|e| Error::io("start runtime", "blit", e))?;
    runtime.block_on(async {
        match (src, dst) {
            (None, None) => wiring::local(&args.src, &args.dst, options, events).await,
            (None, Some(to)) => wiring::push(&args.src, &to, options, &link, events).await,
            (Some(from), None) => wiring::pull(&from, &args.dst, options, &link, events).await,
            (Some(_), Some(_)) => Err(Error::new(ErrorKind::Unsupported, "both endpoints are remote")
                .with_hint("pull to a local path first, then push from it")),
        }
    })
}
