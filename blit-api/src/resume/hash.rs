//! Hashing blocks: the one definition of a map's blocks, and the threads
//! that hash them (several per large file; paced when they run ahead).

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// The blocks a map of `len` bytes compares, `size` bytes each (the last
/// may be shorter): the one definition both sides hash by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Blocks {
    pub(super) size: u32,
    pub(super) len: u64,
}

impl Blocks {
    /// The byte range block `i` covers.
    pub(super) fn block(&self, i: usize) -> Range<u64> {
        let start = i as u64 * self.size as u64;
        start..(start + self.size as u64).min(self.len)
    }

    /// How many blocks a file of `file_size` bytes holds whole (compared by
    /// hash; the rest is sent).
    pub(super) fn whole_within(&self, file_size: u64) -> usize {
        // Every block when the file covers them all (the last may be
        // short); otherwise the full blocks below its end.
        let whole =
            if file_size >= self.len { self.len.div_ceil(self.size as u64) } else { file_size / self.size as u64 };
        whole as usize
    }

    /// BLAKE3 of each block `file` holds whole, as the aligned compare
    /// hashes them; stops early (an error) once `stop` is set.
    pub(super) fn hash_whole(&self, file: &File, file_size: u64, pace: Option<&Pace>) -> io::Result<Vec<[u8; 32]>> {
        hash_each(file, self.whole_within(file_size), |i| self.block(i), &Strong, pace)
    }
}

/// How a hashing that runs ahead ([`Prehash`](super::Prehash)) is told to stop, or to stop
/// running only on idle time: every thread hashing checks it between
/// blocks.
#[derive(Debug, Default)]
pub(super) struct Pace {
    pub(super) stop: AtomicBool,
    pub(super) hurry: AtomicBool,
}

/// Runs the calling thread only when a core would otherwise idle
/// (`SCHED_IDLE`), or (`idle` false) as any other thread again. Threads
/// it spawns afterwards inherit it. Changing back needs no privilege.
pub(super) fn run_idle(idle: bool) {
    #[cfg(target_os = "linux")]
    {
        let policy = if idle { libc::SCHED_IDLE } else { libc::SCHED_OTHER };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid local.
        unsafe { libc::sched_setscheduler(0, policy, &param) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = idle;
}

/// Files below this (8 MiB) are hashed on one thread.
const PARALLEL_MIN: u64 = 8 * 1024 * 1024;
/// Most threads that hash the blocks of one file.
const PARALLEL_MAX: usize = 4;

/// BLAKE3 of a block.
pub(super) fn strong(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// Bytes of a block read at once (1 MiB): a map says blocks of up to
/// 1 GiB, and a peer's map is hashed by the same threads.
const PIECE: usize = 1 << 20;

/// What [`hash_each`] computes of each block, fed its bytes in pieces of at
/// most [`PIECE`].
pub(super) trait Digest: Sync {
    /// The digest of the bytes fed so far.
    type State;
    /// The digest of a whole block.
    type Out: Send;
    /// The state before any byte.
    fn start(&self) -> Self::State;
    /// Feeds the block's next `bytes`.
    fn update(&self, state: &mut Self::State, bytes: &[u8]);
    /// The digest of the bytes fed.
    fn finish(&self, state: Self::State) -> Self::Out;
}

/// BLAKE3 of each block ([`strong`], fed in pieces).
pub(super) struct Strong;

impl Digest for Strong {
    type State = blake3::Hasher;
    type Out = [u8; 32];

    fn start(&self) -> blake3::Hasher {
        blake3::Hasher::new()
    }

    fn update(&self, state: &mut blake3::Hasher, bytes: &[u8]) {
        state.update(bytes);
    }

    fn finish(&self, state: blake3::Hasher) -> [u8; 32] {
        *state.finalize().as_bytes()
    }
}

/// `digest` of blocks `0..count` of `file`, where `block(i)` is block `i`'s
/// range: on up to [`PARALLEL_MAX`] threads (one per core), each hashing a
/// share of the blocks (interleaved), for files of [`PARALLEL_MIN`] or more.
pub(super) fn hash_each<D: Digest>(
    file: &File,
    count: usize,
    block: impl Fn(usize) -> Range<u64> + Sync,
    digest: &D,
    pace: Option<&Pace>,
) -> io::Result<Vec<D::Out>> {
    let bytes = if count == 0 { 0 } else { block(count - 1).end };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if bytes < PARALLEL_MIN { 1 } else { cores.clamp(1, PARALLEL_MAX).min(count) };
    let run = |blocks: std::iter::StepBy<Range<usize>>| -> io::Result<Vec<D::Out>> {
        let mut buf = Vec::new();
        let mut idle = pace.is_some();
        blocks
            .map(|i| {
                if let Some(pace) = pace {
                    if pace.stop.load(Ordering::Relaxed) {
                        return Err(io::Error::other("stopped"));
                    }
                    if idle && pace.hurry.load(Ordering::Relaxed) {
                        run_idle(false);
                        idle = false;
                    }
                }
                digest_range(file, block(i), &mut buf, digest)
            })
            .collect()
    };
    if threads <= 1 {
        return run((0..count).step_by(1));
    }
    // Thread `t` takes blocks `t`, `t + threads`, ...: the threads move
    // through the file side by side, so a file that is not cached is read
    // as one sequential stream, not one per thread (on a virtual disk here,
    // two streams read 1 GiB each in 1.5 s where one reads it in 0.4 s).
    let parts: Vec<io::Result<Vec<D::Out>>> = std::thread::scope(|s| {
        let run = &run;
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || run((t..count).step_by(threads)))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("a hashing thread stopped"))))
            .collect()
    });
    let mut parts = parts.into_iter().map(|p| p.map(Vec::into_iter)).collect::<io::Result<Vec<_>>>()?;
    let mut hashes = Vec::with_capacity(count);
    for i in 0..count {
        hashes.extend(parts[i % threads].next());
    }
    Ok(hashes)
}

/// `digest` of the bytes `range` of `file`, read at offsets into `buf` in
/// pieces of at most [`PIECE`].
fn digest_range<D: Digest>(file: &File, range: Range<u64>, buf: &mut Vec<u8>, digest: &D) -> io::Result<D::Out> {
    let mut state = digest.start();
    let mut at = range.start;
    while at < range.end {
        let n = ((range.end - at) as usize).min(PIECE);
        buf.resize(n, 0);
        file.read_exact_at(&mut buf[..n], at)?;
        digest.update(&mut state, &buf[..n]);
        at += n as u64;
    }
    Ok(digest.finish(state))
}

/// The bytes `range` of `file`, read at offsets into `buf`.
pub(super) fn read_range<'b>(file: &File, range: Range<u64>, buf: &'b mut Vec<u8>) -> io::Result<&'b [u8]> {
    let len = (range.end - range.start) as usize;
    buf.resize(len, 0);
    file.read_exact_at(&mut buf[..len], range.start)?;
    Ok(&buf[..len])
}

/// BLAKE3 of `range` of `file`, read at offsets through `buf`.
#[cfg(test)]
pub(super) fn hash_range(file: &File, range: Range<u64>, buf: &mut Vec<u8>) -> io::Result<[u8; 32]> {
    read_range(file, range, buf).map(strong)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_block_larger_than_a_piece_is_read_in_pieces_and_hashed_whole() {
        let bytes: Vec<u8> = (0..3 * PIECE + 12_345).map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        let mut buf = Vec::new();
        let range = 7..bytes.len() as u64 - 3;
        let hash = digest_range(&file, range.clone(), &mut buf, &Strong).unwrap();
        assert_eq!(hash, strong(&bytes[7..bytes.len() - 3]));
        assert!(buf.len() <= PIECE, "at most a piece is held: {}", buf.len());
        // On several threads too, each block whole.
        let block = 2 * PIECE as u64 + 1;
        let n = bytes.len() as u64;
        let hashes = hash_each(
            &file,
            n.div_ceil(block) as usize,
            |i| i as u64 * block..((i as u64 + 1) * block).min(n),
            &Strong,
            None,
        )
        .unwrap();
        let want: Vec<[u8; 32]> = bytes.chunks(block as usize).map(strong).collect();
        assert_eq!(hashes, want);
    }
}
