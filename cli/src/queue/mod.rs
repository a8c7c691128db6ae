//! `blit copy|mirror --queue nats://HOST:PORT SRC DST`: one transfer spread
//! over the workers of a NATS JetStream server (`blit worker`, [`work`]).
//!
//! A job runs in three steps, each through the normal engine:
//!
//! 1. **Plan** ([`plan`]): this command runs the job as a dry run; every
//!    file and symlink the destination says it needs goes into a work
//!    item (a `--files-from` list of at most 4,096 entries, closed once it
//!    holds `--item-size` of data, 64 MiB by default; larger new files
//!    become range items), published as soon as it is full, so workers start while the
//!    plan still walks. What already landed is never planned again.
//! 2. **Work**: each worker runs its items as ordinary transfers of SRC to
//!    DST restricted to the item's list, and records each landed item in
//!    the done stream; this command follows those records (and shows the
//!    workers' progress events).
//! 3. **Last pass**: once every item landed, this command runs the job
//!    itself for real: it makes directories (and sets their times),
//!    copies whatever changed since the plan or an item could not land,
//!    and, for a mirror, deletes only now. Its failures are the job's.
//!
//! The job is named by what it copies and how ([`blit_queue::JobSpec::id`]):
//! rerunning the same command after this one died resumes the run (when
//! its plan was complete, without walking again; else by planning again,
//! which skips what landed); rerunning a finished job starts a new run,
//! which finds nothing to copy when nothing changed.

mod plan;
pub(crate) mod work;

use crate::render::Renderer;
use crate::{remote, report, transfer, wiring, TransferArgs};
use blit_api::{Error, ErrorKind, Events, ProgressEvent, ProgressSink, Result, TransferOptions, TransferSummary};
use blit_queue::{JobSpec, JobState, Queue, QueueUrl};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::sync::Arc;
use std::time::Duration;

/// Without any event for this long, the submitting command asks whether
/// any worker runs.
const NO_WORKERS: Duration = Duration::from_secs(30);
/// How often following checks that the items it waits for are still in the
/// queue; two checks in a row that find none, with no record between, end
/// the wait.
const LOST_CHECK: Duration = Duration::from_secs(5);

/// Runs the job `args` describe (with `--queue`) and returns its summary.
pub(crate) fn execute(
    args: &TransferArgs,
    options: TransferOptions,
    events: Events,
    renderer: &Renderer,
) -> Result<(TransferSummary, crate::mover::Moved)> {
    if options.dry_run {
        // A dry run changes nothing: it is the same here as without --queue.
        return transfer::execute(args, options, events, renderer);
    }
    let usage =
        |what: &str, hint: &str| Err(Error::new(ErrorKind::InvalidInput, what.to_owned()).with_hint(hint.to_owned()));
    if options.remove_source {
        return usage("--queue spreads copy and mirror, not move", "copy with --queue, then remove the source");
    }
    if args.src.len() != 1 {
        return usage("--queue takes one source", "submit one job per source");
    }
    if options.hard_links {
        return usage(
            "-H cannot be spread over workers: the names of one file may fall into different work items",
            "run this copy without --queue to keep hard links",
        );
    }
    let url = QueueUrl::parse(args.queue.as_deref().unwrap_or_default())?;
    let link = wiring::Link::from_args(args)?;
    let spec = JobSpec {
        src: absolute(&args.src[0])?,
        dst: absolute(&transfer::destination(args))?,
        mirror: options.mirror,
        options,
        transport: link.transport.name().to_owned(),
        streams: link.streams,
        compress: link.compress.clone(),
    };
    let say = !args.quiet;
    let runtime = transfer::runtime()?;
    let item_data = args.item_size.unwrap_or(plan::ITEM_DATA);
    let job = submit(&spec, &url, &link, events, (say, item_data));
    let summary = runtime.block_on(async {
        // Workers that never come are the usual reason for a silent job.
        let waiting = async {
            transfer::stalled(renderer, NO_WORKERS).await;
            if say {
                eprintln!(
                    "blit: nothing has happened for {} s: is a `blit worker {url}` running?",
                    NO_WORKERS.as_secs()
                );
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            summary = job => summary,
            () = waiting => unreachable!("waits for ever once it said so"),
            secs = transfer::timed_out(renderer, args.rsync.timeout) => Err(Error::new(
                ErrorKind::Io,
                format!("no progress for {secs} s (--timeout); stopped following the job"),
            )
            .with_hint("the job goes on with its workers: run the same command again to follow it")),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    summary.map(|s| (s, crate::mover::Moved::default()))
}

/// A local path as every worker must name it: absolute (a worker runs in
/// another directory), with its trailing `/` kept. Remote addresses stay
/// as they are.
fn absolute(arg: &OsStr) -> Result<Vec<u8>> {
    let bytes = arg.as_encoded_bytes();
    if remote::parse(arg)?.is_some() || bytes.starts_with(b"/") {
        return Ok(bytes.to_vec());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("find the current directory", ".", e))?;
    let mut out = cwd.into_os_string().into_encoded_bytes();
    out.push(b'/');
    out.extend_from_slice(bytes.strip_prefix(b"./").unwrap_or(bytes));
    Ok(out)
}

/// SRC or DST of `spec` as a path or address.
fn endpoint(bytes: &[u8]) -> Result<(OsString, Option<remote::Remote>)> {
    let arg: OsString = std::os::unix::ffi::OsStringExt::from_vec(bytes.to_vec());
    let to = remote::parse(&arg)?;
    Ok((arg, to))
}

/// Submits (or resumes) the job and follows it to the end; `say`: print
/// notes; `item_data`: file data per item.
async fn submit(
    spec: &JobSpec,
    url: &QueueUrl,
    link: &wiring::Link,
    events: Events,
    (say, item_data): (bool, u64),
) -> Result<TransferSummary> {
    let queue = Queue::connect(url, "blit submit").await?;
    let id = spec.id();
    queue.put_job(spec).await?;
    let mut shown = queue.events(&id).await?;
    let earlier = queue.state(&id).await?;
    let (state, planning) = match earlier {
        Some(s) if s.planned && !s.finished => (s, false),
        _ => {
            let state = JobState { run: earlier.map_or(1, |s| s.run + 1), ..JobState::default() };
            queue.clear(&id).await?;
            queue.set_state(&id, &state).await?;
            (state, true)
        }
    };
    if say {
        match (planning, earlier) {
            (false, _) => eprintln!("blit: resuming job {id} (run {}, {} items) on {url}", state.run, state.items),
            (true, Some(s)) if !s.finished => {
                eprintln!(
                    "blit: job {id}: its plan was cut short; planning run {} again (what landed is skipped)",
                    state.run
                )
            }
            (true, _) => eprintln!("blit: job {id} (run {}) on {url}: planning", state.run),
        }
    }
    let display = events.clone();
    let forward = tokio::spawn(async move {
        while let Some(batch) = shown.next().await {
            batch.into_iter().filter(worker_event_shown).for_each(|e| display.emit(e));
        }
    });
    let (src, from) = endpoint(&spec.src)?;
    let (dst, to) = endpoint(&spec.dst)?;
    let (total_tx, total_rx) = tokio::sync::watch::channel((!planning).then_some(state.items));
    let planned = async {
        if !planning {
            return Ok(());
        }
        let job = plan::Job { id: &id, run: state.run, url, options: spec.options.clone(), item_data };
        let items = plan::run(job, (&src, from.as_ref()), (&dst, to.as_ref()), link, events.clone()).await?;
        queue.set_state(&id, &JobState { planned: true, items, ..state }).await?;
        let _ = total_tx.send(Some(items));
        Ok(())
    };
    let landed = follow(&queue, &id, state.run, total_rx, events.clone());
    let ((), items) = tokio::try_join!(planned, landed)?;
    forward.abort();
    let last_pass: Events = Arc::new(LastPass(events));
    let last = transfer::one((&src, from.as_ref()), (&dst, to.as_ref()), spec.options.clone(), link, last_pass).await?;
    queue.set_state(&id, &JobState { finished: true, ..state }).await?;
    Ok(report::merge(items, last))
}

/// Adds up the done records of run `run` of job `id`, each item once,
/// until there are as many as `total` says (once the plan has said), or
/// until the items still missing are no longer in the queue (the work
/// stream was purged or replaced): then it warns and returns what landed,
/// and the last pass copies what those items held.
async fn follow(
    queue: &Queue,
    id: &str,
    run: u64,
    mut total: tokio::sync::watch::Receiver<Option<u64>>,
    events: Events,
) -> Result<TransferSummary> {
    let mut records = queue.follow(id).await?;
    let mut seen = HashSet::new();
    let mut sum = TransferSummary::default();
    let mut check = tokio::time::interval(LOST_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut found_none = 0;
    loop {
        let planned = *total.borrow();
        if planned.is_some_and(|n| seen.len() as u64 >= n) {
            return Ok(sum);
        }
        tokio::select! {
            record = records.next() => {
                let mut done = record?;
                if done.run != run || !seen.insert(done.seq) {
                    continue;
                }
                found_none = 0;
                let (seq, worker) = (done.seq, &done.worker);
                if let Some(e) = &done.error {
                    let message = format!("item {seq} failed on worker {worker}: {e}; the last pass copies what it left");
                    events.emit(ProgressEvent::Warning { message });
                }
                if !done.summary.failures.is_empty() {
                    let n = report::count(done.summary.failures.len() as u64, "entry", "entries");
                    let message = format!("{n} of item {seq} failed on worker {worker}; the last pass tries again");
                    events.emit(ProgressEvent::Warning { message });
                    done.summary.failures.clear();
                }
                sum = report::merge(sum, done.summary);
            }
            changed = total.changed() => {
                // The plan ended without a count only when it failed, and
                // then its error ends this command first.
                if changed.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            _ = check.tick() => {
                let Some(n) = planned else { continue };
                // A failed count proves nothing either way.
                found_none = if matches!(queue.items_held(id).await, Ok(0)) { found_none + 1 } else { 0 };
                if found_none >= 2 {
                    let lost = report::count(n - seen.len() as u64, "item", "items");
                    let message = format!(
                        "{lost} of job {id} left the queue without being done (was its work stream purged?); \
                         the last pass copies what they held"
                    );
                    events.emit(ProgressEvent::Warning { message });
                    return Ok(sum);
                }
            }
        }
    }
}

/// What the submitting command shows of a worker's events: the bytes and
/// entries that landed, and warnings. (Totals come from the plan; failures
/// from the last pass, which tries each again.)
fn worker_event_shown(e: &ProgressEvent) -> bool {
    matches!(
        e,
        ProgressEvent::FileBytes { .. }
            | ProgressEvent::FileResumed { .. }
            | ProgressEvent::FileDone { .. }
            | ProgressEvent::Warning { .. }
    )
}

/// The last pass's events as the display takes them: all but its totals
/// (the plan gave them already).
struct LastPass(Events);

impl ProgressSink for LastPass {
    fn emit(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::ManifestProgress { .. }
            | ProgressEvent::ManifestComplete { .. }
            | ProgressEvent::NeedBatch { .. } => {}
            event => self.0.emit(event),
        }
    }
}
