//! Cases about what crosses the payload: sizes around every boundary the
//! planners use, a file larger than chunk size x streams, many small files,
//! modes and nanosecond mtimes.
//!
//! The boundaries come from the planners themselves
//! ([`blit_planner::shard`] and [`blit_api::NEED_BATCH_MAX_ENTRIES`] /
//! [`blit_api::NEED_BATCH_MAX_BYTES`]), so a change there moves the cases
//! with it. Each boundary has a `_below`, `_at` and `_above` case, one
//! transfer each, because batching state carries across a whole transfer.

use super::manifest::root;
use crate::ctx::{Ctx, Transfer};
use crate::failure::{ensure, rules, Failure};
use crate::fixture::{Content, TreeSpec};
use blit_api::{FileKind, NEED_BATCH_MAX_BYTES, NEED_BATCH_MAX_ENTRIES};
use blit_planner::shard::{SHARD_FILE_MAX, SHARD_MAX_BYTES, SHARD_MAX_FILES};

/// The largest run of bytes a blit transport moves at once: the local
/// transport's `copy_file_range` step (the gRPC transport's sub-chunks are
/// 1 MiB). `large_file` sends `CHUNK_SIZE x streams + 1` bytes, so that
/// every stream carries more than one chunk.
pub const CHUNK_SIZE: u64 = 8 * 1024 * 1024;

const _: () =
    assert!(SHARD_MAX_BYTES.is_multiple_of(SHARD_FILE_MAX), "shard_bytes fills a shard with SHARD_FILE_MAX files");

/// Where a case sits around a boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Around {
    /// One under the limit.
    Below,
    /// Exactly the limit.
    At,
    /// One over the limit.
    Above,
}

impl Around {
    fn apply(self, limit: u64) -> u64 {
        match self {
            Around::Below => limit - 1,
            Around::At => limit,
            Around::Above => limit + 1,
        }
    }
}

/// Transfers the tree and checks that every file of it was landed.
async fn land_all(ctx: &mut Ctx, spec: &TreeSpec) -> Result<(), Failure> {
    ctx.build(spec)?;
    let want = spec.entries().iter().filter(|e| matches!(e, crate::fixture::EntrySpec::File { .. })).count();
    let out = ctx.transfer(Transfer::new()).await?;
    let got = out.done(FileKind::File).len();
    ensure(got == want, rules::EVERY_ENTRY_REPORTED, || format!("expected {want} files done, got {got}"))
}

/// Empty and one-byte files, alone and among others.
pub async fn zero_and_one(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for (i, len) in [0u64, 1, 0, 1, 2].into_iter().enumerate() {
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(format!("s{i}-{len}"), content, 0o644, mtime);
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(format!("sub/s{i}-{len}"), content, 0o644, mtime);
    }
    land_all(ctx, &spec).await
}

/// Files of `SHARD_FILE_MAX - 1`, `SHARD_FILE_MAX` and `SHARD_FILE_MAX + 1`
/// bytes (the last is too large for a shard), with small neighbours.
pub async fn shard_file_max(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for around in [Around::Below, Around::At, Around::Above] {
        let len = around.apply(SHARD_FILE_MAX);
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(format!("f-{len}"), content, 0o644, mtime);
        let (content, mtime) = (ctx.rng().content(10), ctx.rng().mtime_ns());
        spec.file(format!("small-{len}"), content, 0o644, mtime);
    }
    land_all(ctx, &spec).await
}

/// `SHARD_MAX_FILES` small files, minus one, exactly, or plus one.
pub async fn shard_files(ctx: &mut Ctx, around: Around) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for i in 0..around.apply(SHARD_MAX_FILES as u64) {
        let len = 1 + ctx.rng().below(100);
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(format!("f{i:04}"), content, 0o644, mtime);
    }
    land_all(ctx, &spec).await
}

/// Shardable files totalling `SHARD_MAX_BYTES` minus one, exactly, or plus one.
pub async fn shard_bytes(ctx: &mut Ctx, around: Around) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    let full = SHARD_MAX_BYTES / SHARD_FILE_MAX;
    let mut sizes = vec![SHARD_FILE_MAX; full as usize];
    match around {
        Around::Below => sizes[0] -= 1,
        Around::At => {}
        Around::Above => sizes.push(1),
    }
    debug_assert_eq!(sizes.iter().sum::<u64>(), around.apply(SHARD_MAX_BYTES));
    for (i, len) in sizes.into_iter().enumerate() {
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(format!("f{i:02}"), content, 0o644, mtime);
    }
    land_all(ctx, &spec).await
}

/// `NEED_BATCH_MAX_ENTRIES` needed files, minus one, exactly, or plus one.
pub async fn need_entries(ctx: &mut Ctx, around: Around) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for i in 0..around.apply(NEED_BATCH_MAX_ENTRIES as u64) {
        let len = ctx.rng().below(16);
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(format!("d{:02}/f{i:04}", i % 20), content, 0o644, mtime);
    }
    land_all(ctx, &spec).await
}

/// Needed files whose headers total `NEED_BATCH_MAX_BYTES` (as
/// [`blit_api::FileHeader::encoded_len`] counts them: path bytes + 32) minus
/// one, exactly, or plus one. Fewer than `NEED_BATCH_MAX_ENTRIES` files, so
/// the byte cap is the one that bites: long paths below a chain of 250-byte
/// directory names, kept under `PATH_MAX` with room for the trial root.
pub async fn need_bytes(ctx: &mut Ctx, around: Around) -> Result<(), Failure> {
    const LEVELS: usize = 14;
    if ctx.root().as_os_str().len() > 200 {
        return Err(Failure::fixture("need_bytes", "the temporary directory path is too long; set TMPDIR shorter"));
    }
    let chain: Vec<String> = (0..LEVELS).map(|i| format!("{i:02}{}", "c".repeat(248))).collect();
    let chain = chain.join("/");
    let target = around.apply(NEED_BATCH_MAX_BYTES as u64);
    // Each header counts chain + '/' + name + 32; names are 8..=255 bytes.
    let base = chain.len() as u64 + 1 + 32;
    let n = target.div_ceil(base + 255);
    let names = target - n * base;
    if names < n * 8 || names > n * 255 || n >= NEED_BATCH_MAX_ENTRIES as u64 {
        return Err(Failure::fixture("need_bytes", format!("cannot split {target} header bytes over {n} files")));
    }
    let mut spec = root(ctx.rng());
    for i in 0..n {
        let len = names / n + u64::from(i < names % n);
        let mut name = format!("{i:05}-");
        name.push_str(&"x".repeat(len as usize - name.len()));
        let (content, mtime) = (ctx.rng().content(i % 3), ctx.rng().mtime_ns());
        spec.file(format!("{chain}/{name}"), content, 0o644, mtime);
    }
    let total: u64 = spec.entries().iter().filter(|e| !e.path().is_empty()).map(|e| e.path().len() as u64 + 32).sum();
    if total != target {
        return Err(Failure::fixture("need_bytes", format!("built {total} header bytes instead of {target}")));
    }
    land_all(ctx, &spec).await
}

/// One file of `CHUNK_SIZE x payload_max_streams + 1` bytes.
pub async fn large_file(ctx: &mut Ctx) -> Result<(), Failure> {
    let streams = u64::from(ctx.caps().payload_max_streams.max(1));
    let len = CHUNK_SIZE * streams + 1;
    let mut spec = root(ctx.rng());
    let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
    spec.file("large.bin", content, 0o644, mtime);
    land_all(ctx, &spec).await
}

/// 10,000 files of 0 to 63 bytes in 100 directories.
pub async fn many_small_files(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for d in 0..100 {
        let mtime = ctx.rng().mtime_ns();
        spec.dir(format!("dir{d:03}"), 0o755, mtime);
        for f in 0..100 {
            let len = ctx.rng().below(64);
            let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
            spec.file(format!("dir{d:03}/file{f:03}"), content, 0o644, mtime);
        }
    }
    land_all(ctx, &spec).await
}

/// File modes 0600, 0755, 0444 (and 0640, 0700); directory modes 0755,
/// 0700, 0750 and a read-only 0555 directory whose children must still land.
pub async fn modes(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for dir_mode in [0o755, 0o700, 0o750, 0o555] {
        let dir = format!("dir-{dir_mode:o}");
        let mtime = ctx.rng().mtime_ns();
        spec.dir(&dir, dir_mode, mtime);
        for mode in [0o600, 0o755, 0o444, 0o640, 0o700] {
            let (content, mtime) = (ctx.rng().content(mode as u64 % 50), ctx.rng().mtime_ns());
            spec.file(format!("{dir}/file-{mode:o}"), content, mode, mtime);
        }
    }
    land_all(ctx, &spec).await
}

/// Nanosecond mtimes on files, directories and symlinks, including the
/// extremes of the nanosecond field, the epoch, before it and far after it.
pub async fn mtimes(ctx: &mut Ctx) -> Result<(), Failure> {
    const S: i64 = 1_000_000_000;
    let times =
        [1_600_000_000 * S + 1, 1_600_000_000 * S + 999_999_999, 0, -1_500_000_001, 4_102_444_800 * S + 123_456_789];
    let mut spec = root(ctx.rng());
    for (i, t) in times.into_iter().enumerate() {
        spec.file(format!("file{i}"), Content::Bytes(vec![b'x'; i]), 0o644, t);
        spec.dir(format!("dir{i}"), 0o755, t);
        spec.symlink(format!("dir{i}/link"), format!("../file{i}"), t);
    }
    land_all(ctx, &spec).await
}
