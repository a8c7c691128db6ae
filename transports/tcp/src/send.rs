//! The sending half: plans become records on N connections.
//!
//! A dispatcher (the calling thread) takes plans in order and turns them
//! into work: a shard, a whole file, or the ranges the planner cut a large
//! file into (`PayloadPlan::Ranges`: opened once, read at offsets by
//! whichever connections take its ranges; over one connection it goes
//! whole). One
//! worker thread per connection takes work from a bounded queue, so a fast
//! connection takes more, and a slow receiver pauses the dispatcher, then
//! the planner. Before the first payload the dispatcher may run the warm-up
//! probe ([`crate::probe`]) and announces its choice (`Tuned`) on
//! connection 0; connections it does not use get `Done` at once.
//!
//! The first error that is not a consequence of another stops everything:
//! every connection is shut down, so blocked workers and the receiver fail
//! fast.

use crate::frame::{encode_copies, Enc, Tag, MAX_COPIES_PER_RECORD};
use crate::link::Link;
use crate::out::Out;
use crate::probe::{self, Choice};
use crate::ramp::{Gate, Wait};
use crate::shard::send_shard;
use crate::shared::{gone, no_connections, Sending, Tuning};
use crate::whole::{finish, Records};
use blit_api::{
    send_file, send_source, BlockCopy, Error, ErrorKind, FileHeader, PayloadPlan, PlanReceiver, RecordWriter, Result,
    SourceFile, SPARSE_MIN,
};
use blit_planner::ranges::range_size;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// One unit of work for a connection.
enum Work {
    File(FileHeader),
    Opened(SourceFile),
    Shard(Vec<FileHeader>),
    /// A range of a large file; `kept` is set for a file the destination
    /// resumes (every range of it says how many bytes it keeps, and how
    /// many of those it copies within the older version).
    Range {
        file: Arc<OpenFile>,
        offset: u64,
        len: u64,
        kept: Option<(u64, u64)>,
    },
    /// Copies within the older version a delta file is built on (at most
    /// [`MAX_COPIES_PER_RECORD`]), and the file's `kept` as in its ranges.
    Copies {
        file: Arc<OpenFile>,
        kept: (u64, u64),
        copies: Vec<BlockCopy>,
    },
    Failed(FileHeader, Error),
}

/// A large file, open once for all its ranges.
struct OpenFile {
    source: SourceFile,
    id: u64,
}

/// Sends every plan over `streams`, and records its tuning in `ctx`.
pub(crate) fn send_all(streams: Vec<Link>, mut plans: PlanReceiver, ctx: &Sending<'_>) -> Result<()> {
    let io = |e: std::io::Error| gone(ctx.peer, &e);
    if streams.is_empty() {
        return Err(no_connections(ctx.peer));
    }
    let mut outs = Vec::with_capacity(streams.len());
    for s in streams {
        s.tcp().set_write_timeout(Some(ctx.config.idle_timeout)).map_err(io)?;
        s.tcp().set_read_timeout(Some(ctx.config.idle_timeout)).map_err(io)?;
        outs.push(Out::new(s));
    }
    let first = first_plan(&mut plans, &mut outs, ctx).map_err(io)?;
    let Choice { streams: k, adaptive, chunk, zstd, tuning } = probe::choose(&mut outs, first.as_ref(), ctx)?;
    for out in outs.iter_mut() {
        out.configure(chunk as usize, zstd).map_err(io)?;
    }
    outs[0].record(Tag::Tuned, &tuned(&tuning).0).map_err(io)?;
    *ctx.tuning.lock().unwrap_or_else(PoisonError::into_inner) = Some(tuning);
    let gate = adaptive.then(|| Gate::ramp(k, ctx.closer));
    for out in outs.iter_mut().skip(k) {
        out.record(Tag::Done, &[]).and_then(|()| out.flush()).map_err(io)?;
    }
    outs.truncate(k);
    let (tx, rx) = crossbeam_channel::bounded::<Work>(2 * k);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        let mut slot = failure.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(e);
            ctx.closer.close();
            // Connections the ramp shut out stop waiting too.
            if let Some(gate) = &gate {
                gate.finish();
            }
        }
    };
    std::thread::scope(|scope| {
        for (i, out) in outs.into_iter().enumerate() {
            let (rx, fail, gate) = (rx.clone(), &fail, gate.as_ref());
            let spawned =
                std::thread::Builder::new().name(format!("blit-tcp-send-{i}")).spawn_scoped(scope, move || {
                    if let Err(e) = worker(Conn { out, i, gate }, &rx, ctx) {
                        fail(e);
                    }
                });
            if let Err(e) = spawned {
                fail(Error::new(ErrorKind::Unexpected, format!("cannot start a sender thread: {e}")));
            }
        }
        drop(rx);
        if let Err(e) = dispatch(first, &mut plans, &tx, k, ctx) {
            fail(e);
        }
        drop(tx);
        if let Some(gate) = &gate {
            gate.finish();
        }
    });
    match failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Waits for the first plan (the walk and the need list may take long
/// before anything is needed), keeping every connection alive meanwhile.
fn first_plan(plans: &mut PlanReceiver, outs: &mut [Out], ctx: &Sending<'_>) -> std::io::Result<Option<PayloadPlan>> {
    let keepalive = (ctx.config.idle_timeout / 3).max(Duration::from_millis(100));
    let handle = tokio::runtime::Handle::current();
    loop {
        match handle.block_on(tokio::time::timeout(keepalive, plans.recv())) {
            Ok(plan) => return Ok(plan),
            Err(_) => {
                for out in outs.iter_mut() {
                    out.record(Tag::KeepAlive, &[])?;
                    out.flush()?;
                }
            }
        }
    }
}

/// Turns plans into work until the plans end.
fn dispatch(
    first: Option<PayloadPlan>,
    plans: &mut PlanReceiver,
    tx: &Sender<Work>,
    streams: usize,
    ctx: &Sending<'_>,
) -> Result<()> {
    let stopped = || Error::new(ErrorKind::Cancelled, "the data connections closed").with_path(ctx.peer.to_owned());
    let send = |w: Work| tx.send(w).map_err(|_| stopped());
    let mut next_id = 0u64;
    let mut plan = first;
    while let Some(p) = plan {
        match p {
            PayloadPlan::Shard(headers) => send(Work::Shard(headers))?,
            PayloadPlan::Ranges { header, range } if streams > 1 => {
                next_id += 1;
                send_ranges(header, ctx.config.range_size.unwrap_or(range), next_id, streams, ctx, &send)?;
            }
            other => {
                for header in other.files() {
                    // Resumed, a delta, or large enough to have holes worth
                    // keeping: opened here to learn which ranges go.
                    if header.resume.is_some() || header.size >= SPARSE_MIN {
                        next_id += 1;
                        send_resumed(header.clone(), next_id, streams, ctx, &send)?;
                    } else {
                        send(Work::File(header.clone()))?;
                    }
                }
            }
        }
        plan = plans.blocking_recv();
    }
    Ok(())
}

/// Sends a file in ranges of `range` bytes, cut from its size at open (it
/// may have changed since the walk): whole when that is one range, only
/// its data when it has holes.
fn send_ranges(
    header: FileHeader,
    range: u64,
    id: u64,
    streams: usize,
    ctx: &Sending<'_>,
    send: &dyn Fn(Work) -> Result<()>,
) -> Result<()> {
    let source = match open_planned(ctx, &header) {
        Ok((Some(plan), source)) => return send_planned(source, plan, id, streams, ctx, send),
        Ok((None, source)) => source,
        Err(e) => return send(Work::Failed(header, e)),
    };
    let size = source.header.size;
    if size <= range {
        return send(Work::Opened(source));
    }
    cut(&Arc::new(OpenFile { source, id }), 0..size, range, None, send)
}

/// Opens the file `header` names and learns which of its ranges go
/// ([`SourceFile::resume_plan`]: a resume, a delta or holes; `None`: whole).
fn open_planned(ctx: &Sending<'_>, header: &FileHeader) -> Result<(Option<blit_api::ResumePlan>, SourceFile)> {
    ctx.reader.open(header).and_then(|source| Ok((source.resume_plan()?, source)))
}

/// Sends the bytes `span` of `file` as `Range` work of at most `range` bytes.
fn cut(
    file: &Arc<OpenFile>,
    span: std::ops::Range<u64>,
    range: u64,
    kept: Option<(u64, u64)>,
    send: &dyn Fn(Work) -> Result<()>,
) -> Result<()> {
    let mut offset = span.start;
    while offset < span.end {
        let len = range.min(span.end - offset);
        send(Work::Range { file: file.clone(), offset, len, kept })?;
        offset += len;
    }
    Ok(())
}

/// Sends a file the destination resumes or builds on an older version, or
/// one with holes: only the ranges [`SourceFile::resume_plan`] chose (see
/// `send_planned`); a file it sends whole goes as it is.
fn send_resumed(
    header: FileHeader,
    id: u64,
    streams: usize,
    ctx: &Sending<'_>,
    send: &dyn Fn(Work) -> Result<()>,
) -> Result<()> {
    match open_planned(ctx, &header) {
        Ok((Some(plan), source)) => send_planned(source, plan, id, streams, ctx, send),
        Ok((None, source)) => send(Work::Opened(source)),
        Err(e) => send(Work::Failed(header, e)),
    }
}

/// Sends the copies of `plan` as `Copy` records (several to a record),
/// then its ranges, cut to the usual range size, as `ResumeRange` records,
/// each with the bytes not sent and the bytes copied; a file with nothing
/// to send or copy still gets one empty range, which commits it.
fn send_planned(
    source: SourceFile,
    plan: blit_api::ResumePlan,
    id: u64,
    streams: usize,
    ctx: &Sending<'_>,
    send: &dyn Fn(Work) -> Result<()>,
) -> Result<()> {
    let size = source.header.size;
    let planned = ctx.config.range_size.or_else(|| range_size(size, streams.max(2) as u32));
    let range = planned.filter(|r| size > *r).unwrap_or(size.max(1));
    let file = Arc::new(OpenFile { source, id });
    let kept = (plan.reused, plan.copies.iter().map(|c| c.len).sum());
    for copies in plan.copies.chunks(MAX_COPIES_PER_RECORD) {
        send(Work::Copies { file: file.clone(), kept, copies: copies.to_vec() })?;
    }
    if plan.ranges.is_empty() && plan.copies.is_empty() {
        return send(Work::Range { file, offset: size, len: 0, kept: Some(kept) });
    }
    plan.ranges.into_iter().try_for_each(|r| cut(&file, r, range, Some(kept), send))
}

/// The `Tuned` record announcing `tuning`.
fn tuned(tuning: &Tuning) -> Enc {
    let mut enc = Enc::default();
    enc.u32(tuning.streams).u32(tuning.chunk_size).bytes(tuning.compression.as_bytes()).bytes(tuning.how.as_bytes());
    enc
}

/// One connection of the sender: its records, its index, and the gate
/// that admits it when the stream count ramps (see `ramp`).
struct Conn<'a> {
    out: Out,
    i: usize,
    gate: Option<&'a Gate>,
}

/// One connection's loop: take work, send it, keep the connection alive
/// while there is none (or while the gate shuts it out), and end with
/// `Done`. Connection 0 ends a ramped transfer by announcing the stream
/// count the ramp settled on (a second `Tuned`).
fn worker(conn: Conn<'_>, rx: &Receiver<Work>, ctx: &Sending<'_>) -> Result<()> {
    let Conn { mut out, i, gate } = conn;
    let io = |e: std::io::Error| gone(ctx.peer, &e);
    let keepalive = (ctx.config.idle_timeout / 3).max(Duration::from_millis(100));
    let mut header = Enc::default();
    loop {
        if let Some(gate) = gate {
            if let Some(streams) = gate.tick(ctx.closer) {
                let mut tuning = ctx.tuning.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(t) = tuning.as_mut() {
                    t.streams = streams;
                }
            }
            if i >= gate.active() {
                if out.has_pending() {
                    out.flush().map_err(io)?;
                }
                match gate.wait(i, keepalive) {
                    Wait::Admitted => {}
                    Wait::TimedOut => {
                        out.record(Tag::KeepAlive, &[]).and_then(|()| out.flush()).map_err(io)?;
                        continue;
                    }
                    Wait::Finished => break,
                }
            }
        }
        let work = match rx.try_recv() {
            Ok(work) => work,
            Err(_) => {
                if out.has_pending() {
                    out.flush().map_err(io)?;
                }
                match rx.recv_timeout(keepalive) {
                    Ok(work) => work,
                    Err(RecvTimeoutError::Timeout) => {
                        out.record(Tag::KeepAlive, &[]).and_then(|()| out.flush()).map_err(io)?;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        };
        header.0.clear();
        match work {
            Work::Failed(h, e) => Records { out: &mut out, enc: &mut header, peer: ctx.peer }.failed(&h, &e)?,
            Work::File(h) => {
                send_file(ctx.reader, &h, &mut Records { out: &mut out, enc: &mut header, peer: ctx.peer })?
            }
            Work::Opened(source) => {
                send_source(source, &mut Records { out: &mut out, enc: &mut header, peer: ctx.peer })?
            }
            Work::Shard(headers) => {
                let chunk = out.chunk();
                send_shard(&mut out, headers, ctx.reader, chunk, ctx.peer)?
            }
            Work::Copies { file, kept, copies } => {
                encode_copies(&mut header, file.id, kept, &copies, &file.source.header);
                out.record(Tag::Copy, &header.0).map_err(io)?;
            }
            Work::Range { file, offset, len, kept } => {
                header.u64(file.id).u64(offset).u64(len);
                let tag = match kept {
                    Some((reused, copied)) => {
                        header.u64(reused).u64(copied);
                        Tag::ResumeRange
                    }
                    None => Tag::Range,
                };
                header.file_header(&file.source.header);
                out.record(tag, &header.0).map_err(io)?;
                let (_, end) = out.body(&file.source.file, offset, len).map_err(io)?;
                finish(&mut out, end, &file.source.header, &mut header).map_err(io)?;
            }
        }
    }
    if let (Some(gate), 0) = (gate, i) {
        let mut tuning = ctx.tuning.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = tuning.as_mut() {
            if !gate.settled() {
                // The plans ended mid-step: the streams admitted carried it.
                t.streams = gate.active() as u32;
            }
            out.record(Tag::Tuned, &tuned(t).0).map_err(io)?;
        }
    }
    out.record(Tag::Done, &[]).and_then(|()| out.flush()).map_err(io)
}
