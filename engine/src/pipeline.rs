//! The two halves of a transfer and their local wiring.

use crate::SummaryTap;
use blit_api::{
    manifest_channel, need_channel, plan_channel, Direction, Error, ErrorKind, Events, Landing, ManifestReceiver,
    ManifestSender, ManifestSource, NeedListSink, NeedReceiver, NeedSender, PayloadPlan, PayloadReader,
    PayloadTransport, PayloadWriter, PlanSender, Result, TransferOptions, TransferSummary,
};
use blit_planner::shard::PayloadPlanner;
use prehash::Prehashes;
use std::sync::Arc;

mod prehash;

/// The roles that run where the source files are.
#[derive(Clone)]
pub struct SourceRoles {
    /// Walks the source.
    pub source: Arc<dyn ManifestSource>,
    /// Opens source files for the payload.
    pub reader: Arc<dyn PayloadReader>,
}

/// The roles that run where the destination is.
#[derive(Clone)]
pub struct DestinationRoles {
    /// Judges headers and applies final bookkeeping.
    pub sink: Arc<dyn NeedListSink>,
    /// Lands files.
    pub writer: Arc<dyn PayloadWriter>,
}

macro_rules! opaque_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).finish_non_exhaustive()
            }
        }
    )*};
}
opaque_debug!(SourceRoles, DestinationRoles, LocalTransfer);

/// Runs the source half: walk, plan the need list into payloads, send them.
///
/// Returns when the walk ended, the need list ended with its empty final
/// batch and every payload was sent. When the other half goes away the
/// channels close and every part stops with a [`ErrorKind::Cancelled`] error
/// or quietly; the first error that is not a cancellation wins.
pub async fn run_source(
    roles: SourceRoles,
    transport: Arc<dyn PayloadTransport>,
    options: &TransferOptions,
    manifest: ManifestSender,
    needs: NeedReceiver,
) -> Result<()> {
    let (plan_tx, plan_rx) = plan_channel();
    let caps = transport.capabilities();
    let (shards, streams) = (caps.payload_shard, caps.payload_max_streams);
    let walk = roles.source.manifest(options, manifest);
    let ahead = Prehashes::new(roles.reader.clone());
    let plan = plan_needs(needs, plan_tx, shards, streams, options.part_range, ahead);
    let send = transport.send(plan_rx, roles.reader.clone());
    let (w, p, s) = tokio::join!(walk, plan, send);
    first_error([w, p, s])
}

/// Runs the destination half: judge the manifest, land payloads, then finish
/// (mirror deletions, directory metadata). Returns the number of deleted
/// entries. First refuses what the transport cannot do of `options`, and
/// warns (a `Warning` event) about what it drops
/// ([`crate::check_capabilities`]).
pub async fn run_destination(
    roles: DestinationRoles,
    transport: Arc<dyn PayloadTransport>,
    options: &TransferOptions,
    manifest: ManifestReceiver,
    needs: NeedSender,
    events: Events,
) -> Result<u64> {
    // Checked centrally: a transport that cannot carry resumed files never
    // sees a block map, and partial copies are swept as without `--resume`.
    let (honoured, warnings) = crate::check_capabilities(transport.as_ref(), None, options)?;
    for message in warnings {
        events.emit(blit_api::ProgressEvent::Warning { message });
    }
    let options = &honoured;
    let landing = Landing::new(roles.writer.clone(), events.clone())
        .rate_limit(options.bwlimit_bytes_per_sec)
        .report_in_place(options.remove_source)
        .part_range(options.part_range);
    let mut judge = roles.sink.need_list(options, manifest, needs, events.clone());
    let mut receive = transport.receive(landing);
    // A judge that fails (a volume error, a hostile manifest) ends the
    // destination at once: the payload it would wait for may never come.
    let (j, r) = tokio::select! {
        j = &mut judge => match j {
            Err(e) => (Err(e), Ok(())),
            Ok(()) => (Ok(()), receive.await),
        },
        r = &mut receive => (judge.await, r),
    };
    first_error([j, r])?;
    roles.sink.finish(options, events).await
}

/// Turns need batches into payload plans until the empty final batch. In
/// each batch the files cut into ranges go first: the largest work starts
/// while every stream is free, and a transport that tunes itself on its
/// first payload sees a large file whenever the batch holds one. With a
/// part range ([`TransferOptions::part_range`]), every needed file carries
/// it ([`blit_api::FileHeader::part_range`]), so only that range of it is
/// read and sent. Hints that the destination is hashing an older version
/// ([`blit_api::NeedBatch::ahead`]) start hashing the source's file at once
/// (`Prehashes`); the need entry that follows carries the result.
async fn plan_needs(
    mut needs: NeedReceiver,
    plans: PlanSender,
    shards: bool,
    streams: u32,
    part: Option<blit_api::PartRange>,
    mut ahead: Prehashes,
) -> Result<()> {
    let mut planner = PayloadPlanner::new(shards, streams);
    let gone = || Error::new(ErrorKind::Cancelled, "payload sender stopped");
    loop {
        let Some(batch) = needs.recv().await else {
            return Err(Error::new(ErrorKind::Cancelled, "need list ended without its final batch"));
        };
        let end = batch.is_end();
        batch.ahead.into_iter().for_each(|hint| ahead.start(hint));
        let mut planned: Vec<PayloadPlan> = batch
            .files
            .into_iter()
            .map(|h| ahead.attach(blit_api::FileHeader { part_range: part, ..h }))
            .flat_map(|h| planner.push(h))
            .collect();
        // Ship the partial shard too: the batch boundary is the natural flush
        // point, so small trees do not wait for a shard to fill.
        planned.extend(planner.flush());
        let (ranges, rest): (Vec<_>, Vec<_>) =
            planned.into_iter().partition(|p| matches!(p, PayloadPlan::Ranges { .. }));
        for plan in ranges.into_iter().chain(rest) {
            plans.send(plan).await.map_err(|_| gone())?;
        }
        if end {
            return Ok(());
        }
    }
}

/// The first error that is not a cancellation, else the first cancellation.
fn first_error<const N: usize>(results: [Result<()>; N]) -> Result<()> {
    let mut cancelled = None;
    for r in results {
        if let Err(e) = r {
            if e.kind() != ErrorKind::Cancelled {
                return Err(e);
            }
            cancelled.get_or_insert(e);
        }
    }
    cancelled.map_or(Ok(()), Err)
}

/// Everything a local (one process) transfer needs.
pub struct LocalTransfer {
    /// Source roles.
    pub source: SourceRoles,
    /// Destination roles.
    pub destination: DestinationRoles,
    /// The payload transport.
    pub transport: Arc<dyn PayloadTransport>,
    /// What the user asked for.
    pub options: TransferOptions,
}

/// Runs both halves in this process over in-memory channels.
///
/// Emits `Started` first and exactly one terminal event last (`Finished` with
/// the summary, or `Failed`), after every part has stopped.
pub async fn run_local(transfer: LocalTransfer, events: Events) -> Result<TransferSummary> {
    let LocalTransfer { source, destination, transport, options } = transfer;
    let tap = SummaryTap::start(events, Direction::Local, transport.name(), options.dry_run);
    if let Err(e) = crate::check_capabilities(transport.as_ref(), Some(Direction::Local), &options) {
        tap.fail(&e);
        return Err(e);
    }
    let tap_events: Events = tap.clone();
    let (manifest_tx, manifest_rx) = manifest_channel();
    let (need_tx, need_rx) = need_channel();
    let src = run_source(source, transport.clone(), &options, manifest_tx, need_rx);
    let dst = run_destination(destination, transport.clone(), &options, manifest_rx, need_tx, tap_events);
    let (s, d) = tokio::join!(src, dst);
    match first_error([s, d.map(|_| ())]) {
        Ok(()) => Ok(tap.finish()),
        Err(e) => {
            tap.fail(&e);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;
