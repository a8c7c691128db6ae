//! Hashing the source's file while the destination hashes its older
//! version.
//!
//! A delta costs two full reads: the destination hashes its older version
//! into a map, then the source hashes the same blocks of its file to
//! compare. The block size follows from the older version's length alone
//! ([`BlockMap::delta_block_size`]), so once the destination says it is
//! hashing a version of that length ([`crate::Ahead`]), the source can hash
//! its own blocks at the same time ([`Prehash::start`]) and compare as soon
//! as the map arrives ([`super::ranges_to_send_after`]).
//!
//! Nothing is trusted that could have changed: the hashes are used only
//! for the same blocks of the same file, unchanged (device, inode, size,
//! modification and change times) from before the first block was read
//! until the file was opened to be sent. Anything else hashes again.

use super::{run_idle, BlockMap, Blocks, Pace};
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Who a file is and how it stood: a write changes the change time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Identity {
    fn of(file: &File) -> io::Result<Identity> {
        let m = file.metadata()?;
        Ok(Identity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// What a finished [`Prehash`] hashed.
#[derive(Debug)]
struct Hashed {
    blocks: Blocks,
    identity: Identity,
    hashes: Vec<[u8; 32]>,
}

/// The source's blocks of one file, hashed on threads of their own while
/// the destination hashes its older version. They run only on idle time
/// (`SCHED_IDLE`): where both ends share a machine, the destination's
/// hashing and copying keep the cores and this waits; on a machine of its
/// own it hashes at full speed. Once the map arrives
/// ([`Prehash::hashes_for`]) they run as any other thread. Dropping it
/// stops them at their next block.
#[derive(Debug)]
pub struct Prehash {
    pace: Arc<Pace>,
    thread: Mutex<Option<JoinHandle<Option<Hashed>>>>,
}

impl Prehash {
    /// Starts hashing the file `open` opens (on the new thread, named
    /// `blit-prehash`), in the blocks a delta map of an older version of
    /// `basis_len` bytes compares. `None` when no thread can be had; a file
    /// that cannot be opened leaves nothing to use.
    pub fn start(open: impl FnOnce() -> Option<File> + Send + 'static, basis_len: u64) -> Option<Prehash> {
        let pace = Arc::new(Pace::default());
        let blocks = Blocks { size: BlockMap::delta_block_size(basis_len), len: basis_len };
        let paced = pace.clone();
        let thread = std::thread::Builder::new()
            .name("blit-prehash".into())
            .spawn(move || {
                run_idle(true);
                let file = open()?;
                let before = Identity::of(&file).ok()?;
                let hashes = blocks.hash_whole(&file, before.size, Some(&paced));
                // What is left (two `fstat`s) must not wait for idle time
                // while the sender waits for it.
                run_idle(false);
                let hashes = hashes.ok()?;
                (Identity::of(&file).ok()? == before).then_some(Hashed { blocks, identity: before, hashes })
            })
            .ok()?;
        Some(Prehash { pace, thread: Mutex::new(Some(thread)) })
    }

    /// The hashes of `map`'s blocks that `file` holds whole, when this
    /// hashed exactly those blocks of `file` and it has not changed since
    /// (waits for the thread if it still runs); `None` otherwise, and on
    /// every later call.
    pub fn hashes_for(&self, file: &File, map: &BlockMap) -> Option<Vec<[u8; 32]>> {
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        self.pace.hurry.store(true, Ordering::Relaxed);
        let hashed = thread.join().ok()??;
        let same = hashed.blocks == map.blocks() && Identity::of(file).ok()? == hashed.identity;
        same.then_some(hashed.hashes)
    }

    /// Stops the hashing at its next block: its hashes will not be asked
    /// for ([`Prehash::hashes_for`] then gives `None`).
    pub fn stop(&self) {
        self.pace.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Prehash {
    fn drop(&mut self) {
        self.pace.stop.store(true, Ordering::Relaxed);
    }
}

impl PartialEq for Prehash {
    /// Only the same hashing is equal to itself (headers that carry one
    /// compare by it).
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Prehash {}

#[cfg(test)]
mod tests {
    use super::super::ranges_to_send_after;
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    fn file_of(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
        (dir, path)
    }

    fn opener(path: &std::path::Path) -> impl FnOnce() -> Option<File> + Send + 'static {
        let path = path.to_path_buf();
        move || File::open(path).ok()
    }

    fn bytes(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 11) as u8).collect()
    }

    #[test]
    fn hashes_made_ahead_are_the_ones_the_compare_makes() {
        let old = bytes(3 << 20, 1);
        let mut new = old.clone();
        new[1_500_000] ^= 0xff;
        let (_d, path) = file_of(&new);
        let (_o, old_path) = file_of(&old);
        let map = BlockMap::hash_delta(&File::open(&old_path).unwrap(), BlockMap::delta_block_size(3 << 20), 3 << 20)
            .unwrap();
        let prehash = Prehash::start(opener(&path), 3 << 20).unwrap();
        let file = File::open(&path).unwrap();
        let size = new.len() as u64;
        let plain = ranges_to_send_after(&file, size, &map, None).unwrap();
        let ahead = Prehash::start(opener(&path), 3 << 20).unwrap();
        assert_eq!(ranges_to_send_after(&file, size, &map, Some(&ahead)).unwrap(), plain);
        let hashes = prehash.hashes_for(&file, &map).expect("the same blocks of the same file");
        assert_eq!(hashes.len(), map.hashes().len());
        assert_eq!(hashes.iter().zip(map.hashes()).filter(|(a, b)| a != b).count(), 1, "one block differs");
        assert!(prehash.hashes_for(&file, &map).is_none(), "taken once");
    }

    #[test]
    fn a_file_changed_since_or_other_blocks_are_hashed_again() {
        let old = bytes(2 << 20, 2);
        let (_o, old_path) = file_of(&old);
        let map = BlockMap::hash_delta(&File::open(&old_path).unwrap(), BlockMap::delta_block_size(2 << 20), 2 << 20)
            .unwrap();
        let (_d, path) = file_of(&old);
        let prehash = Prehash::start(opener(&path), 2 << 20).unwrap();
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        // Wait for the hashing, then change a byte in place (same size).
        while !prehash.thread.lock().unwrap().as_ref().unwrap().is_finished() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        file.write_all_at(b"Z", 100).unwrap();
        let plan = ranges_to_send_after(&file, 2 << 20, &map, Some(&prehash)).unwrap();
        assert_eq!(plan.ranges.first().map(|r| r.start), Some(0), "the changed first block is sent: {plan:?}");
        // Hashed for an older version of another length: other blocks.
        let other = Prehash::start(opener(&path), 1 << 20).unwrap();
        assert!(other.hashes_for(&file, &map).is_none());
    }
}
