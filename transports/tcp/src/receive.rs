//! The receiving half: one thread per connection lands what its connection
//! carries, through [`Landing`], so the per-file events are those of every
//! other transport.
//!
//! A whole file is written as its pieces arrive; a shard's tar stream is
//! landed entry by entry by `blit_shard::land_shard`; ranges of a large
//! file, and a delta file's copies within its older version, go through the
//! shared [`Assembly`]. Every path is validated when its
//! header is decoded, and a shard may hold regular files only.
//!
//! A per-file failure is reported and the file's remaining bytes are
//! skipped. A volume error (no space, read-only) or a broken connection
//! stops the half: every connection is shut down so the other threads and
//! the sender stop too, and the first error is returned.

use crate::assemble::{Assembly, Span};
use crate::inbound::{protocol, Conn, Piece, ShardRecords};
use crate::link::Link;
use crate::shared::{no_connections, Closer, Tuning};
use blit_api::{Error, ErrorKind, FileHeader, Lander, Landing, Result};
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// What the receiving threads share.
pub(crate) struct Receiving<'a> {
    pub(crate) landing: &'a Landing,
    pub(crate) peer: &'a str,
    pub(crate) idle: Duration,
    pub(crate) closer: &'a Closer,
    pub(crate) tuning: &'a Mutex<Option<Tuning>>,
}

/// Lands everything `streams` carry; returns once every connection sent
/// `Done` and every large file is complete.
pub(crate) fn receive_all(streams: Vec<Link>, ctx: &Receiving<'_>) -> Result<()> {
    if streams.is_empty() {
        return Err(no_connections(ctx.peer));
    }
    let assembly = Assembly::default();
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        let mut slot = failure.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(e);
            ctx.closer.close();
        }
    };
    let count = streams.len();
    std::thread::scope(|scope| {
        for (i, stream) in streams.into_iter().enumerate() {
            let (assembly, fail) = (&assembly, &fail);
            let spawned =
                std::thread::Builder::new().name(format!("blit-tcp-recv-{i}")).spawn_scoped(scope, move || {
                    let peer = format!("{} (data connection {}/{count})", ctx.peer, i + 1);
                    let run = Conn::new(stream, peer.clone(), ctx.idle)
                        .map_err(|e| Error::io("configure a data connection", peer, e))
                        .and_then(|mut conn| serve(&mut conn, assembly, ctx));
                    if let Err(e) = run {
                        fail(e);
                    }
                });
            if let Err(e) = spawned {
                fail(Error::new(ErrorKind::Unexpected, format!("cannot start a receiver thread: {e}")));
            }
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
        return Err(e);
    }
    let missing = assembly.unfinished();
    if !missing.is_empty() {
        return Err(protocol(ctx.peer, format!("no more data while ranges of {} were missing", missing.join(", "))));
    }
    Ok(())
}

/// One connection's loop, until `Done`.
fn serve(conn: &mut Conn, assembly: &Assembly, ctx: &Receiving<'_>) -> Result<()> {
    let bad = |conn: &Conn, e: Error| protocol(conn.peer(), e.message());
    loop {
        let prefix = conn.next()?;
        match prefix.tag {
            crate::frame::Tag::Done => return Ok(()),
            crate::frame::Tag::KeepAlive => {}
            crate::frame::Tag::Probe => conn.probe(&prefix)?,
            crate::frame::Tag::ProbeEnd => conn.probe_end()?,
            crate::frame::Tag::Tuned => {
                let mut d = conn.header();
                let parsed = (|| {
                    let (streams, chunk_size) = (d.u32()?, d.u32()?);
                    let compression = String::from_utf8_lossy(d.bytes()?).into_owned();
                    let how = String::from_utf8_lossy(d.bytes()?).into_owned();
                    Ok::<_, Error>(Tuning { streams, chunk_size, compression, how })
                })();
                let tuning = parsed.map_err(|e| bad(conn, e))?;
                *ctx.tuning.lock().unwrap_or_else(PoisonError::into_inner) = Some(tuning);
            }
            crate::frame::Tag::SourceFailed => {
                let mut d = conn.header();
                let (h, e) = d.file_header().and_then(|h| Ok((h, d.failure()?))).map_err(|e| bad(conn, e))?;
                ctx.landing.source_failed(&h, &e);
            }
            crate::frame::Tag::File => {
                let header = conn.header().file_header().map_err(|e| bad(conn, e))?;
                land_file(conn, header, ctx)?;
            }
            tag @ (crate::frame::Tag::Range | crate::frame::Tag::ResumeRange) => {
                let resumed = tag == crate::frame::Tag::ResumeRange;
                let r = crate::frame::range_header(&mut conn.header(), resumed).map_err(|e| bad(conn, e))?;
                let span = Span { id: r.id, offset: r.offset, len: r.len, reused: r.reused, copied: r.copied };
                land_range(conn, assembly, span, r.file, ctx)?;
            }
            crate::frame::Tag::Copy => {
                let c = crate::frame::copy_header(&mut conn.header()).map_err(|e| bad(conn, e))?;
                // Saturating: more than the file holds is refused by `end`.
                let len = c.copies.iter().fold(0u64, |all, c| all.saturating_add(c.len));
                let span = Span { id: c.id, offset: 0, len, reused: Some(c.reused), copied: c.copied };
                let entry = assembly.begin(span, c.file, ctx.landing, conn.peer())?;
                Assembly::copy(&entry, &c.copies)?;
                assembly.end(c.id, &entry, len, None, conn.peer())?;
            }
            crate::frame::Tag::Shard => land_shard(conn, ctx)?,
            other => return Err(protocol(conn.peer(), format!("a {other:?} record outside a file"))),
        }
    }
}

/// Lands one whole file through the shared [`Lander`]: pieces copied from
/// the connection's buffer or spliced straight from the socket.
fn land_file(conn: &mut Conn, header: FileHeader, ctx: &Receiving<'_>) -> Result<()> {
    let peer = conn.peer().to_owned();
    let fit = |e: Error| match e.kind() {
        ErrorKind::Protocol => protocol(&peer, e.message()),
        _ => e,
    };
    let mut lander = Lander::new(ctx.landing);
    lander.file(header).map_err(fit)?;
    loop {
        // A connection that breaks off fails the file under way, then stops the half.
        let piece = match conn.body_piece() {
            Ok(piece) => piece,
            Err(e) => return Err(lander.stop(e)),
        };
        match piece {
            Piece::Raw { len, zero_copy } => {
                // A write error is the file's own. The connection failing
                // mid-splice fails the file with the connection's error
                // (naming the peer, not the file), then stops the half.
                let mut broke = None;
                let landed = lander.fill(len, |incoming, at| match conn.land_raw(incoming.file(), at, len) {
                    Ok(Ok(())) => {
                        if zero_copy {
                            incoming.record_zero_copy(len);
                        } else {
                            incoming.record(len);
                        }
                        Ok(())
                    }
                    Ok(Err(e)) => Err(Error::io("write", incoming.path().display(), e)),
                    Err(e) => {
                        broke = Some(e.clone());
                        Err(e)
                    }
                });
                if let Some(e) = broke {
                    return Err(e);
                }
                if !landed.map_err(fit)? {
                    conn.skip(len)?;
                }
            }
            Piece::Data { len, zero_copy } => {
                let bytes = conn.bytes(len);
                lander.write(len as u64, zero_copy, |file, at| file.write_all_at(bytes, at)).map_err(fit)?;
            }
            Piece::End => return lander.end().map_err(fit),
            Piece::Abort(e) => return lander.abort(&e).map_err(fit),
            Piece::SourceFailed(..) => return Err(protocol(conn.peer(), "a SourceFailed record inside a file")),
        }
    }
}

/// Lands one range of a large file.
fn land_range(conn: &mut Conn, assembly: &Assembly, span: Span, header: FileHeader, ctx: &Receiving<'_>) -> Result<()> {
    let Span { id, offset, len, .. } = span;
    let entry = assembly.begin(span, header, ctx.landing, conn.peer())?;
    let mut got = 0u64;
    loop {
        let (n, zero_copy, raw) = match conn.body_piece()? {
            Piece::Raw { len, zero_copy } => (len, zero_copy, true),
            Piece::Data { len, zero_copy } => (len as u64, zero_copy, false),
            Piece::End if got == len => return assembly.end(id, &entry, len, None, conn.peer()),
            Piece::End => return Err(protocol(conn.peer(), format!("a range of {len} bytes that carried {got}"))),
            Piece::Abort(e) => return assembly.end(id, &entry, len, Some(e), conn.peer()),
            Piece::SourceFailed(..) => return Err(protocol(conn.peer(), "a SourceFailed record inside a range")),
        };
        if got + n > len {
            return Err(protocol(conn.peer(), format!("more bytes than a range of {len} holds")));
        }
        let at = offset + got;
        got += n;
        let Some(file) = Assembly::target(&entry) else {
            if raw {
                conn.skip(n)?;
            }
            continue;
        };
        let written = if raw { conn.land_raw(file, at, n)? } else { file.write_all_at(conn.bytes(n as usize), at) };
        match written {
            Ok(()) => Assembly::landed(&entry, n, zero_copy),
            Err(e) => Assembly::write_failed(&entry, e)?,
        }
    }
}

/// Lands the entries of one shard (the `blit-shard` format).
fn land_shard(conn: &mut Conn, ctx: &Receiving<'_>) -> Result<()> {
    let peer = conn.peer().to_owned();
    let landing = ctx.landing;
    let failed = |h: FileHeader, e: Error| landing.source_failed(&h, &e);
    let records = ShardRecords { conn, failed, len: 0 };
    blit_shard::land_shard(records, landing, &|what| protocol(&peer, what))
}

#[cfg(test)]
mod tests;
