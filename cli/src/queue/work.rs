//! `blit worker`: takes work items and runs each as an ordinary transfer of
//! the job's SRC to DST restricted to the item's entries, then records it
//! as done and acknowledges it (in that order: an item whose worker dies
//! between the two is done again, which finds nothing left to copy).

use super::endpoint;
use crate::worker::WorkerArgs;
use crate::{transfer, wiring, TransportArg, EXIT_FATAL, EXIT_OK};
use blit_api::{Error, ErrorKind, ProgressEvent, ProgressSink, Result, TransferSummary};
use blit_queue::{ItemDone, JobSpec, Queue, QueueUrl, Taken, WorkItem};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Times an item is handed out before a failure of it is final.
const ATTEMPTS: u64 = 3;
/// How long a failed item waits before it is handed out again.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// Progress events are sent in batches this often.
const EVENTS_EVERY: Duration = Duration::from_millis(200);
/// How long a worker waits after the queue failed before it asks again.
const PAUSE: Duration = Duration::from_secs(5);
/// Most events waiting for the next batch (the rest are dropped: display only).
const EVENTS_MAX: usize = 4096;

/// Runs `blit worker` and returns the exit code.
pub(crate) fn run(args: WorkerArgs) -> u8 {
    let name = args.name.clone().unwrap_or_else(default_name);
    let runtime = match transfer::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("blit: worker: cannot start: {e}");
            return EXIT_FATAL;
        }
    };
    let result = runtime.block_on(serve(&args, &name));
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let hint = e.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            eprintln!("blit: worker {name}: error: {}{hint}", crate::escape::for_terminal(&e.to_string()));
            EXIT_FATAL
        }
    }
}

/// `HOST-PID`.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    format!("{}-{}", if host.is_empty() { "worker" } else { host }, std::process::id())
}

/// Resolves once SIGTERM or SIGINT arrived.
async fn stopped() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// Takes and runs items until stopped (or `--items` ran).
async fn serve(args: &WorkerArgs, name: &str) -> Result<()> {
    let url = QueueUrl::parse(&args.url)?;
    let queue = Queue::connect(&url, &format!("blit worker {name}")).await?;
    let lease = Duration::from_secs(args.lease);
    let taker = queue.taker(lease).await?;
    let say = |text: String| {
        if !args.quiet {
            eprintln!("blit worker {name}: {}", crate::escape::for_terminal(&text));
        }
    };
    say(format!("taking items from {url}"));
    let stop = stopped();
    tokio::pin!(stop);
    let mut jobs: HashMap<String, JobSpec> = HashMap::new();
    let mut ran = 0;
    while args.items.is_none_or(|n| ran < n) {
        let taken = tokio::select! {
            () = &mut stop => break,
            taken = taker.next() => taken,
        };
        let taken = match taken {
            Ok(Some(taken)) => taken,
            Ok(None) => continue,
            // The client reconnects by itself; a worker outlives a restart
            // of the server.
            Err(e) => {
                say(format!("{e}; trying again in {} s", PAUSE.as_secs()));
                tokio::time::sleep(PAUSE).await;
                continue;
            }
        };
        let item = match &taken.item {
            Ok(item) => item.clone(),
            Err(e) => {
                say(format!("dropped an item that does not decode: {e}"));
                taken.discard().await;
                continue;
            }
        };
        if !jobs.contains_key(&item.job) {
            let spec = match queue.job(&item.job).await {
                Ok(Some(spec)) => spec,
                Ok(None) => {
                    say(format!("dropped item {} of unknown job {}", item.seq, item.job));
                    taken.discard().await;
                    continue;
                }
                Err(e) => {
                    say(format!("{e}; item {} of job {} given back", item.seq, item.job));
                    taken.give_back(Some(PAUSE)).await;
                    continue;
                }
            };
            if jobs.len() >= 64 {
                jobs.clear();
            }
            jobs.insert(item.job.clone(), spec);
        }
        let spec = &jobs[&item.job];
        // An item of a run that ended or was planned again is stale.
        if queue.state(&item.job).await.ok().flatten().is_some_and(|s| s.run > item.run) {
            acknowledge(&taken, &say).await;
            continue;
        }
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = work(&queue, spec, &item, &taken, args, name) => outcome,
            () = &mut stop => {
                taken.give_back(None).await;
                say(format!("stopped; gave item {} of job {} back", item.seq, item.job));
                return Ok(());
            }
        };
        let done = |summary, error| ItemDone { run: item.run, seq: item.seq, worker: name.to_owned(), summary, error };
        match outcome {
            Ok(summary) => {
                say(format!(
                    "item {} of job {}: {} files, {} bytes in {:.1} s",
                    item.seq,
                    item.job,
                    summary.files_transferred,
                    summary.bytes_transferred,
                    started.elapsed().as_secs_f64()
                ));
                record(&queue, &item.job, &done(summary, None), &taken, &say).await;
            }
            Err(e) if taken.attempt < ATTEMPTS => {
                say(format!(
                    "item {} of job {} failed (attempt {} of {ATTEMPTS}), given back: {e}",
                    item.seq, item.job, taken.attempt
                ));
                taken.give_back(Some(RETRY_AFTER)).await;
            }
            Err(e) => {
                say(format!("item {} of job {} failed for good: {e}", item.seq, item.job));
                record(&queue, &item.job, &done(TransferSummary::default(), Some(e)), &taken, &say).await;
            }
        }
        ran += 1;
    }
    Ok(())
}

/// Records `done` for `job`, then acknowledges the item. When the record
/// cannot be stored the item is not acknowledged: it comes back after its
/// lease and is done again (finding nothing left to copy).
async fn record(queue: &Queue, job: &str, done: &ItemDone, taken: &Taken, say: &impl Fn(String)) {
    match queue.done(job, done).await {
        Ok(()) => acknowledge(taken, say).await,
        Err(e) => say(format!("item {} of job {job} landed but its record was not stored: {e}", done.seq)),
    }
}

/// Acknowledges an item; a failure (the server lost it meanwhile, or the
/// job was planned again) only costs a redelivery.
async fn acknowledge(taken: &Taken, say: &impl Fn(String)) {
    if let Err(e) = taken.ack().await {
        say(format!("{e} (the item may be handed out again; doing it again copies nothing)"));
    }
}

/// Runs one item, keeping its lease and sending its progress.
async fn work(
    queue: &Queue,
    spec: &JobSpec,
    item: &WorkItem,
    taken: &Taken,
    args: &WorkerArgs,
    name: &str,
) -> Result<TransferSummary> {
    let transport = <TransportArg as clap::ValueEnum>::from_str(&spec.transport, true).map_err(|_| {
        Error::new(ErrorKind::Protocol, format!("job {} names transport {:?}", item.job, spec.transport))
    })?;
    let link = wiring::Link::new(
        (transport, spec.streams, &spec.compress, false),
        args.connect.clone(),
        args.dst_secret_file.clone(),
    )?;
    let paths = item.paths.iter().map(|p| p.as_bytes().to_vec()).collect();
    // An item only copies: a mirror's deletions are the last pass's, once
    // every item landed.
    let options = spec.options.clone().mirror(false);
    let mut options = options.clone().filter(options.filter.files_from(paths));
    if let Some((offset, len)) = item.range {
        options = options.part_range(Some(blit_api::PartRange::new(offset, len)?));
    }
    let (src, from) = endpoint(&spec.src)?;
    let (dst, to) = endpoint(&spec.dst)?;
    let sender = Arc::new(Sender { waiting: Mutex::new(Vec::new()), range: item.range.is_some() });
    let transfer = transfer::one((&src, from.as_ref()), (&dst, to.as_ref()), options, &link, sender.clone());
    let keep = async {
        let every = Duration::from_secs(args.lease) / 3;
        loop {
            tokio::time::sleep(every).await;
            taken.keep().await;
        }
    };
    let send = async {
        loop {
            tokio::time::sleep(EVENTS_EVERY).await;
            sender.send(queue, &item.job, name).await;
        }
    };
    let result = tokio::select! {
        result = transfer => result,
        () = keep => unreachable!("keeps the lease until the transfer ends"),
        () = send => unreachable!("sends until the transfer ends"),
    };
    sender.send(queue, &item.job, name).await;
    // A range is not a file landed: the last pass counts the file once,
    // when it commits it.
    result.map(|mut summary| {
        if item.range.is_some() {
            summary.entries_transferred = summary.entries_transferred.saturating_sub(summary.files_transferred);
            summary.files_transferred = 0;
        }
        summary
    })
}

/// Collects an item's events for the next batch.
struct Sender {
    waiting: Mutex<Vec<ProgressEvent>>,
    /// A range item: its `FileDone` is not shown (the file is done when
    /// the last pass commits it).
    range: bool,
}

impl ProgressSink for Sender {
    fn emit(&self, event: ProgressEvent) {
        if self.range && matches!(event, ProgressEvent::FileDone { .. }) {
            return;
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if waiting.len() < EVENTS_MAX {
            waiting.push(event);
        }
    }
}

impl Sender {
    async fn send(&self, queue: &Queue, job: &str, name: &str) {
        let batch = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if !batch.is_empty() {
            queue.send_events(job, name, &batch).await;
        }
    }
}
