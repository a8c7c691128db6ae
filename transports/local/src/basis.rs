//! Delta transfer at the destination: the older version of a needed file
//! that the new one is built from.
//!
//! With [`blit_api::TransferOptions::delta`], the judge opens the regular
//! file standing at a needed file's name (descriptor-relative, never
//! following a symlink), hashes its blocks into a [`BlockMap`] that travels
//! in the need entry, and remembers what it hashed: device, inode, size,
//! modification and change times ([`Basis`]). It keeps no descriptor, so a
//! mirror of thousands of changed large files holds no thousands of open
//! files. The landing ([`blit_api::Landing::resume`]) reopens the name and
//! starts the new file as a copy of the old one only when it is still the
//! file that was hashed; anything else (replaced, written to, turned into a
//! symlink) fails the file with a message to rerun, and the next run
//! compares again. The source sent the blocks that differ from the map,
//! which the transport writes over the copy.
//!
//! The copy is made by the kernel (`copy_file_range`, which shares extents
//! on file systems that can), into a new temporary file: the old version
//! stays whole under its name until the new one is renamed over it. It is
//! started as soon as the judge has hashed the old version ([`Prepared`]),
//! so it runs while the source compares its file and sends the changed
//! blocks, not after; at most [`PREPARED_MAX`] such copies wait at once
//! (each holds a file as large as the one it copies), and the landing makes
//! the copy itself for files offered beyond that.

use crate::tree::{At, Stat};
use blit_api::{BlockMap, FileHeader, DELTA_MIN};
use rustix::fs::OFlags;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

/// Most copies of older versions made ahead of their landing at once.
pub(crate) const PREPARED_MAX: usize = 2;

/// The older version a delta is built from, as it was when hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Basis {
    stat: Stat,
    ctime_ns: i64,
}

impl Basis {
    fn of(file: &File) -> io::Result<Basis> {
        let meta = file.metadata()?;
        let ctime_ns = meta.ctime().saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec());
        Ok(Basis { stat: Stat::from(&meta), ctime_ns })
    }

    /// Bytes of the older version.
    pub(crate) fn len(&self) -> u64 {
        self.stat.size
    }

    /// Reopens the file named `name` in `dir` for reading; `Ok(None)` when
    /// it is no longer the file that was hashed.
    pub(crate) fn reopen(&self, dir: &Arc<OwnedFd>, name: &std::ffi::CStr) -> io::Result<Option<File>> {
        let at = At { dir: dir.clone(), name: name.to_owned() };
        let file = match open_regular(&at)? {
            Some(file) => file,
            None => return Ok(None),
        };
        Ok(self.is(&file)?.then_some(file))
    }

    /// Whether `file` is still the older version that was hashed (same
    /// identity, size and times: a write since changes its ctime).
    pub(crate) fn is(&self, file: &File) -> io::Result<bool> {
        Ok(Basis::of(file)? == *self)
    }
}

/// Opens the entry at `at` for reading when it is a regular file (never
/// following a symlink, never blocking on a FIFO); `None` otherwise.
fn open_regular(at: &At) -> io::Result<Option<File>> {
    let file = match at.open(OFlags::RDONLY | OFlags::NONBLOCK) {
        Ok(fd) => File::from(fd),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ELOOP | libc::ENOTDIR)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(file.metadata()?.is_file().then_some(file))
}

/// For a needed file `h` of at least [`DELTA_MIN`] bytes whose name `at`
/// holds a non-empty regular file: the file, open, and its identity.
/// `None` when a delta cannot help.
pub(crate) fn open(at: &At, h: &FileHeader) -> io::Result<Option<(File, Basis)>> {
    if h.size < DELTA_MIN {
        return Ok(None);
    }
    let Some(file) = open_regular(at)? else { return Ok(None) };
    let basis = Basis::of(&file)?;
    Ok((basis.len() > 0).then_some((file, basis)))
}

/// The block map of the older version `file` ([`open`]ed as `basis`);
/// `None` when it was written to while it was read (not a version anything
/// can be built on).
pub(crate) fn map(file: &File, basis: &Basis) -> io::Result<Option<BlockMap>> {
    let map = BlockMap::hash_delta(file, BlockMap::delta_block_size(basis.len()), basis.len())?;
    Ok((Basis::of(file)? == *basis).then_some(map))
}

/// A copy of an older version being made ahead of its landing, in the
/// stable `.part` of the new file (see `partial`); dropped untaken, it
/// waits for the copy and removes the `.part`.
///
/// The thread that copies hands the copy over ([`Prepared::take`]); the
/// copy starts its own writeback as it goes ([`copy_older_version`]). The
/// older version's cached pages stay: the copies the source sends read them
/// (after an insertion, the whole file), and they go when the file does.
#[derive(Debug)]
pub(crate) struct Prepared {
    copy: Option<mpsc::Receiver<io::Result<(File, bool)>>>,
    dir: Arc<OwnedFd>,
    part: CString,
    /// Counts the copies waiting (see [`PREPARED_MAX`]).
    waiting: Arc<AtomicUsize>,
}

impl Prepared {
    /// Starts copying the first `len` bytes of `old` into `part` (just
    /// created in `dir`) and cutting it to `size`, unless [`PREPARED_MAX`]
    /// copies wait already or no thread can be had (then the `.part` is
    /// removed and `None`).
    pub(crate) fn start(
        old: &File,
        (part_file, part): (File, CString),
        dir: Arc<OwnedFd>,
        len: u64,
        size: u64,
        waiting: &Arc<AtomicUsize>,
    ) -> Option<Prepared> {
        let mut prepared = Prepared { copy: None, dir, part, waiting: waiting.clone() };
        if waiting.fetch_add(1, Ordering::SeqCst) >= PREPARED_MAX {
            return None;
        }
        let old = old.try_clone().ok()?;
        let (done_tx, done_rx) = mpsc::channel();
        let spawned = std::thread::Builder::new().name("blit-delta-copy".into()).spawn(move || {
            let copied = copy_older_version(&old, &part_file, len)
                .and_then(|shared| part_file.set_len(size).map(|()| (part_file, shared)));
            let _ = done_tx.send(copied);
        });
        spawned.ok()?;
        prepared.copy = Some(done_rx);
        Some(prepared)
    }

    /// Waits for the copy: the `.part` holding the older version cut to the
    /// new size, its name, and whether it shares the older version's blocks
    /// (see [`copy_older_version`]).
    pub(crate) fn take(mut self) -> io::Result<(File, CString, bool)> {
        let copy = self.copy.take().ok_or_else(|| io::Error::other("no copy was started"))?;
        let (file, shared) = copy.recv().unwrap_or_else(|_| Err(io::Error::other("the copy stopped")))?;
        // Taken: the landing owns the `.part` now (on an error, drop
        // removes it).
        Ok((file, std::mem::take(&mut self.part), shared))
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if let Some(copy) = self.copy.take() {
            // The copy is done with the `.part` once it reported.
            let _ = copy.recv();
        }
        if !self.part.is_empty() {
            let _ = rustix::fs::unlinkat(&*self.dir, self.part.as_c_str(), rustix::fs::AtFlags::empty());
        }
    }
}

/// Bytes copied between two starts of writeback (64 MiB).
const WRITEBACK_STEP: u64 = 64 << 20;

/// Copies the first `len` bytes of the older version `old` into `copy`, an
/// empty file on the same file system; `Ok(true)` when the copy shares the
/// older version's blocks instead of holding its own.
///
/// Where the file system can (XFS with reflink, btrfs), the copy is a clone
/// (`FICLONE`): nothing is written, and [`unshare`] makes a shifted copy
/// into it write fresh blocks. Elsewhere the bytes are copied, starting the
/// writeback of each [`WRITEBACK_STEP`] as soon as it is copied. Renaming
/// a new file over an existing name makes some file systems (ext4's
/// `auto_da_alloc`) write the new file's data out first, inside the
/// rename: for a delta that is the whole copy of the older version. Written
/// out step by step while the copy goes on, it is mostly on its way when
/// the landing commits, even when the copy is the last thing the landing
/// waits for (starting it only after the copy left a 1 GiB pull's rename
/// waiting 0.27 s for it here). A failed start only leaves the work to the
/// commit.
pub(crate) fn copy_older_version(old: &File, copy: &File, len: u64) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    if rustix::fs::ioctl_ficlone(copy, old).is_ok() {
        return Ok(true);
    }
    let mut at = 0;
    while at < len {
        let step = (len - at).min(WRITEBACK_STEP);
        copy_range(old, at, copy, at, step)?;
        #[cfg(target_os = "linux")]
        // SAFETY: the descriptor is borrowed for the call; the range is
        // what was just copied.
        unsafe {
            libc::sync_file_range(copy.as_raw_fd(), at as i64, step as i64, libc::SYNC_FILE_RANGE_WRITE)
        };
        at += step;
    }
    Ok(false)
}

/// Shortest range [`unshare`] frees before it is written (64 KiB).
pub(crate) const UNSHARE_MIN: u64 = 64 << 10;

/// Before `len` bytes at `at` of `copy`, a clone of the older version
/// ([`copy_older_version`] said so), are written whole with bytes from
/// elsewhere: frees that range (a hole), so the write allocates fresh
/// blocks instead of first copying each shared block aside. Writing 1 GiB
/// shifted by 1000 bytes over a clone took 1.07 s on XFS here, 0.28 s over
/// the hole. Ranges under [`UNSHARE_MIN`] are left alone (a call each); a
/// failure only leaves the slower write.
pub(crate) fn unshare(copy: &File, at: u64, len: u64) {
    #[cfg(target_os = "linux")]
    if len >= UNSHARE_MIN {
        use rustix::fs::FallocateFlags;
        let _ = rustix::fs::fallocate(copy, FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE, at, len);
    }
}

/// Copies the `len` bytes at `from` of `src` to `to` of `dst`: with
/// `copy_file_range` where the kernel can, else through a buffer. Neither
/// file's position is used.
pub(crate) fn copy_range(src: &File, from: u64, dst: &File, to: u64, len: u64) -> io::Result<()> {
    let mut done = 0u64;
    #[cfg(target_os = "linux")]
    while done < len {
        let step = (len - done).min(1 << 30) as usize;
        let mut off_in = (from + done) as libc::loff_t;
        let mut off_out = (to + done) as libc::loff_t;
        // SAFETY: both descriptors are borrowed open files for the call; the
        // offsets are locals the call updates.
        let n = unsafe { libc::copy_file_range(src.as_raw_fd(), &mut off_in, dst.as_raw_fd(), &mut off_out, step, 0) };
        match n {
            0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the older version shrank")),
            n if n > 0 => done += n as u64,
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::Interrupted => {}
                e if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EXDEV | libc::EOPNOTSUPP | libc::EINVAL)) => {
                    break
                }
                e => return Err(e),
            },
        }
    }
    let mut buf = vec![0u8; crate::meta::BUF_SIZE.min(len.saturating_sub(done) as usize)];
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        src.read_exact_at(&mut buf[..want], from + done)?;
        dst.write_all_at(&buf[..want], to + done)?;
        done += want as u64;
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{copy_range, unshare, UNSHARE_MIN};
    use std::os::unix::fs::FileExt;

    #[test]
    fn a_shifted_copy_over_a_freed_range_leaves_the_bytes_around_it() {
        let dir = tempfile::tempdir().unwrap();
        let len = 1usize << 20;
        let old: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4096) as u8).collect();
        std::fs::write(dir.path().join("old"), &old).unwrap();
        std::fs::write(dir.path().join("copy"), &old).unwrap();
        let old_file = std::fs::File::open(dir.path().join("old")).unwrap();
        let copy = std::fs::OpenOptions::new().read(true).write(true).open(dir.path().join("copy")).unwrap();

        // Not block-aligned at either end, as a shift by an insertion is.
        let (from, to, n) = (12_345u64, 13_345u64, 700_001u64);
        assert!(n >= UNSHARE_MIN);
        unshare(&copy, to, n);
        copy_range(&old_file, from, &copy, to, n).unwrap();

        let mut want = old.clone();
        want[to as usize..(to + n) as usize].copy_from_slice(&old[from as usize..(from + n) as usize]);
        let mut got = vec![0u8; len];
        copy.read_exact_at(&mut got, 0).unwrap();
        assert!(got == want, "bytes around the freed range must stay the older version's");
    }
}
