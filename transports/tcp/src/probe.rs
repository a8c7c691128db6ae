//! The warm-up probe: before the first payload byte, measure what 1, 2 and
//! 4 connections and a few chunk sizes achieve end to end, and pick the best
//! ([`blit_planner::tune`]).
//!
//! A round sends `Probe` records of one chunk size over k connections, then
//! `ProbeEnd` on each; the receiver discards the bytes and answers each
//! `ProbeEnd` with the count it read (8 bytes, big-endian). The round's
//! rate is its bytes over the time until the last answer, so socket buffers
//! do not flatter it. Rounds carry about 1/256 of the first file (4 to 32
//! MiB each, five rounds), so the probe costs about 2% of the transfer it
//! tunes, and it runs only when the first planned payload is a file of at
//! least [`crate::TcpConfig::probe_min_bytes`] (256 MiB by default; the
//! planner sends the large files of each need batch first, so that is the
//! largest of the first batch): smaller transfers use every connection and
//! 1 MiB chunks, and `--compress auto` stays off for them.

use crate::config::{Compression, DEFAULT_CHUNK, DEFAULT_ZSTD_LEVEL};
use crate::frame::Tag;
use crate::out::{read_at_full, Out};
use crate::shared::{Sending, Tuning};
use blit_api::{Error, ErrorKind, PayloadPlan, Result};
use blit_planner::tune::{compression_pays, pick, Measurement};
use std::io::Read;
use std::time::Instant;

/// Stream counts the probe tries.
const STREAM_CANDIDATES: [usize; 3] = [1, 2, 4];
/// Chunk sizes the probe tries (the default first: it is the cheapest bet).
const CHUNK_CANDIDATES: [u32; 3] = [DEFAULT_CHUNK, 256 * 1024, 4 * 1024 * 1024];
/// Raw bytes compressed to measure the compressor.
const SAMPLE: usize = 1024 * 1024;

/// What the sender uses.
#[derive(Debug)]
pub(crate) struct Choice {
    pub(crate) streams: usize,
    pub(crate) chunk: u32,
    pub(crate) zstd: Option<i32>,
    pub(crate) tuning: Tuning,
}

/// Decides streams, chunk size and compression, probing when it pays.
pub(crate) fn choose(outs: &mut [Out], first: Option<&PayloadPlan>, ctx: &Sending<'_>) -> Result<Choice> {
    let cfg = ctx.config;
    let n = outs.len();
    let pinned = cfg.streams.map(|s| (s as usize).clamp(1, n));
    let fixed_zstd = match cfg.compression {
        Compression::Zstd(level) => Some(level),
        _ => None,
    };
    let first_file = match first {
        Some(PayloadPlan::File(h) | PayloadPlan::Ranges { header: h, .. }) if h.size >= cfg.probe_min_bytes => Some(h),
        _ => None,
    };
    let wants = pinned.is_none() || cfg.chunk_size.is_none() || cfg.compression == Compression::Auto;
    let Some(first_file) = first_file.filter(|_| wants) else {
        let streams = pinned.unwrap_or(n);
        let chunk = cfg.chunk_size.unwrap_or(DEFAULT_CHUNK);
        let how = if pinned.is_some() { "pinned" } else { "default" };
        return Ok(choice(streams, chunk, fixed_zstd, how));
    };
    let per_round = (first_file.size / 256).clamp(4 << 20, 32 << 20);
    let io = |e: std::io::Error| {
        Error::new(ErrorKind::Io, format!("the warm-up probe failed: {e}"))
            .with_path(ctx.peer.to_owned())
            .with_hint("the data connections broke; rerun, or pin --streams to skip the probe")
    };
    let chunk0 = cfg.chunk_size.unwrap_or(DEFAULT_CHUNK);
    let mut rounds = Vec::new();
    let counts: Vec<usize> = match pinned {
        Some(k) => vec![k],
        None => STREAM_CANDIDATES.iter().copied().filter(|k| *k <= n).collect(),
    };
    for &k in &counts {
        let rate = round(outs, k, chunk0, per_round).map_err(io)?;
        rounds.push(Measurement { streams: k as u32, chunk: chunk0, bytes_per_sec: rate });
    }
    let best = pick(&rounds).expect("at least one round ran");
    let mut chunks = vec![best];
    if cfg.chunk_size.is_none() {
        for chunk in CHUNK_CANDIDATES.into_iter().filter(|c| *c != chunk0) {
            let rate = round(outs, best.streams as usize, chunk, per_round).map_err(io)?;
            chunks.push(Measurement { streams: best.streams, chunk, bytes_per_sec: rate });
        }
    }
    let best = pick(&chunks).expect("at least one round ran");
    let link = chunks.iter().chain(&rounds).map(|m| m.bytes_per_sec).fold(0.0, f64::max);
    let zstd = match cfg.compression {
        Compression::Auto => auto_compress(first_file, link, ctx),
        _ => fixed_zstd,
    };
    tracing::debug!("probe: {rounds:?} then {chunks:?}: {best:?}, zstd {zstd:?}");
    Ok(choice(best.streams as usize, best.chunk, zstd, "probe"))
}

fn choice(streams: usize, chunk: u32, zstd: Option<i32>, how: &str) -> Choice {
    let compression = match zstd {
        Some(level) => Compression::Zstd(level).to_string(),
        None => Compression::None.to_string(),
    };
    let tuning = Tuning { streams: streams as u32, chunk_size: chunk, compression, how: how.to_owned() };
    Choice { streams, chunk, zstd, tuning }
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

/// One round over the first `k` connections; returns bytes per second.
fn round(outs: &mut [Out], k: usize, chunk: u32, total: u64) -> std::io::Result<f64> {
    let per = total / k as u64;
    let zeros = vec![0u8; chunk as usize];
    let started = Instant::now();
    let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = outs[..k]
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
