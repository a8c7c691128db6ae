//! `blit copy` and `blit mirror` for local paths.

use crate::render::{event_json, summary_line, Renderer, JSON_SCHEMA};
use crate::{endpoints, TransferArgs, EXIT_FATAL, EXIT_OK, EXIT_PARTIAL};
use blit_api::{Error, Events, ProgressEvent, Result, TransferOptions};
use blit_engine::{run_local, DestinationRoles, LocalTransfer, SourceRoles};
use blit_transports::local::{LocalDestination, LocalSource};
use std::sync::Arc;

/// Runs a copy (or a mirror) and returns the exit code.
pub(crate) fn run(args: TransferArgs, mirror: bool) -> u8 {
    let renderer = Renderer::new(args.progress, args.verbose, args.json);
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
            } else if args.progress || args.verbose {
                eprintln!("blit: {}", summary_line(&summary));
            }
            if summary.has_failures() {
                eprintln!("blit: {} entries failed:", summary.failures.len());
                for f in &summary.failures {
                    eprintln!("  {}: {}", f.path, f.message);
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
            eprintln!("blit: error: {e}");
            EXIT_FATAL
        }
    }
}

fn execute(args: &TransferArgs, mirror: bool, events: Events) -> Result<blit_api::TransferSummary> {
    let roots = endpoints::resolve(&args.src, &args.dst)?;
    endpoints::preflight(&roots, args.dry_run)?;
    let options = TransferOptions::new().checksum(args.checksum).mirror(mirror || args.delete).dry_run(args.dry_run);
    let transport = blit_transports::registry().get(blit_transports::local::SCHEME)?;
    let source = Arc::new(LocalSource::new(roots.source.clone()));
    let destination = Arc::new(LocalDestination::new(roots.destination.clone()));
    let transfer = LocalTransfer {
        source: SourceRoles { source: source.clone(), reader: source },
        destination: DestinationRoles { sink: destination.clone(), writer: destination },
        transport,
        options,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("blit")
        .build()
        .map_err(|e| Error::io("start runtime", "blit", e))?;
    runtime.block_on(run_local(transfer, events))
}
