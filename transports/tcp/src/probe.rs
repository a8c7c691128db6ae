//! How the sender tunes: the stream count, the chunk size and compression.
//!
//! When the first planned payload is a file of at least
//! [`crate::TcpConfig::probe_min_bytes`] (256 MiB by default; the planner
//! sends the large files of each need batch first, so that is the largest of
//! the first batch) and the stream count is not pinned, the count is chosen
//! on the transfer itself ([`crate::ramp`]): measuring real payload shows
//! what limits it (the link, the receiver's disk or CPU), where a probe of
//! discarded bytes shows only the link. Smaller transfers use every
//! connection. Records carry 1 MiB of file data unless the user chose.
//!
//! `--compress auto` needs the link's speed before the first byte: one
//! probe round over every connection measures it. A round sends `Probe`
//! records, then `ProbeEnd` on each connection; the receiver discards the
//! bytes and answers each `ProbeEnd` with the count it read (8 bytes,
//! big-endian). The round's rate is its bytes over the time until the last
//! answer, so socket buffers do not flatter it; it carries about 1/256 of
//! the first file (4 to 32 MiB). Compression then pays when the compressor,
//! measured on the file's first MiB, beats the link.

use crate::config::{Compression, DEFAULT_CHUNK, DEFAULT_ZSTD_LEVEL};
use crate::frame::Tag;
use crate::out::{read_at_full, Out};
use crate::shared::{Sending, Tuning};
use blit_api::{Error, ErrorKind, PayloadPlan, Result};
use blit_planner::tune::compression_pays;
use std::io::Read;
use std::time::Instant;

/// Raw bytes compressed to measure the compressor.
const SAMPLE: usize = 1024 * 1024;

/// What the sender uses.
#[derive(Debug)]
pub(crate) struct Choice {
    /// Connections that may carry payload.
    pub(crate) streams: usize,
    /// The stream count ramps up on the transfer (see `ramp`), from 1.
    pub(crate) adaptive: bool,
    pub(crate) chunk: u32,
    pub(crate) zstd: Option<i32>,
    pub(crate) tuning: Tuning,
}

/// Decides streams, chunk size and compression, probing the link only for
/// `--compress auto`.
pub(crate) fn choose(outs: &mut [Out], first: Option<&PayloadPlan>, ctx: &Sending<'_>) -> Result<Choice> {
    let cfg = ctx.config;
    let n = outs.len();
    let pinned = cfg.streams.map(|s| (s as usize).clamp(1, n));
    let chunk = cfg.chunk_size.unwrap_or(DEFAULT_CHUNK);
    let first_file = match first {
        Some(PayloadPlan::File(h) | PayloadPlan::Ranges { header: h, .. }) if h.size >= cfg.probe_min_bytes => Some(h),
        _ => None,
    };
    let zstd = match (cfg.compression, first_file) {
        (Compression::Zstd(level), _) => Some(level),
        (Compression::Auto, Some(first)) => {
            let io = |e: std::io::Error| {
                Error::new(ErrorKind::Io, format!("the warm-up probe failed: {e}"))
                    .with_path(ctx.peer.to_owned())
                    .with_hint("the data connections broke; rerun, or use --compress none to skip the probe")
            };
            let link = round(outs, chunk, (first.size / 256).clamp(4 << 20, 32 << 20)).map_err(io)?;
            auto_compress(first, link, ctx)
        }
        _ => None,
    };
    let (streams, adaptive, how) = match pinned {
        Some(k) => (k, false, "pinned"),
        None if first_file.is_some() && n > 1 => (n, true, "ramp"),
        None => (n, false, "default"),
    };
    let compression = zstd.map_or(Compression::None, Compression::Zstd).to_string();
    // A ramp announces the one stream it starts with (and its end, the count it settled on).
    let announced = if adaptive { 1 } else { streams as u32 };
    let tuning = Tuning { streams: announced, chunk_size: chunk, compression, how: how.to_owned() };
    let choice = Choice { streams, adaptive, chunk, zstd, tuning };
    tracing::debug!("tuning: {choice:?}");
    Ok(choice)
}

/// zstd when the compressor, measured on the first file's first MiB, is
/// faster than the measured link and the data shrinks.
fn auto_compress(first: &blit_api::FileHeader, link: f64, ctx: &Sending<'_>) -> Option<i32> {
    let source = ctx.reader.open(first).ok()?;
    let mut sample = vec![0u8; SAMPLE.min(first.size as usize)];
    let n = read_at_full(&source.file, &mut sample, 0).ok()?;
    if n == 0 {
        return None;
    }
    let started = Instant::now();
    let packed = zstd::bulk::compress(&sample[..n], DEFAULT_ZSTD_LEVEL).ok()?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    let pays = compression_pays(link, n as f64 / secs, packed.len() as f64 / n as f64);
    pays.then_some(DEFAULT_ZSTD_LEVEL)
}

/// One round over every connection; returns bytes per second.
fn round(outs: &mut [Out], chunk: u32, total: u64) -> std::io::Result<f64> {
    let k = outs.len().max(1);
    let per = total / k as u64;
    let zeros = vec![0u8; chunk as usize];
    let started = Instant::now();
    let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = outs
            .iter_mut()
            .map(|out| {
                let zeros = &zeros;
                scope.spawn(move || {
                    let mut left = per;
                    while left > 0 {
                        let n = left.min(zeros.len() as u64) as usize;
                        out.data(Tag::Probe, &zeros[..n])?;
                        left -= n as u64;
                    }
                    out.record(Tag::ProbeEnd, &[])?;
                    out.flush()?;
                    let mut answer = [0u8; 8];
                    out.stream().read_exact(&mut answer)?;
                    if u64::from_be_bytes(answer) != per {
                        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a wrong probe answer"));
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("probe thread")))).collect()
    });
    results.into_iter().collect::<std::io::Result<()>>()?;
    Ok((per * k as u64) as f64 / started.elapsed().as_secs_f64().max(1e-6))
}
