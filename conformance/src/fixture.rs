//! Seed-generated fixture trees.
//!
//! A case describes the tree it needs as a [`TreeSpec`] (paths as raw bytes,
//! kinds, content, modes, nanosecond mtimes) and [`TreeSpec::materialise`]s
//! it. Content is either literal or [`Content::Seeded`]: generated in 64 KiB
//! blocks from a seed while it is written, so a 64 MiB file never sits in
//! memory. All randomness comes from [`Rng`], seeded per trial, so a seed
//! printed on failure rebuilds the same tree.

use std::ffi::OsStr;
use std::fs::{DirBuilder, File, Permissions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// A small, fast, deterministic generator (SplitMix64). Not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A modification time between 2001 and 2033 with a non-zero nanosecond
    /// part, so that truncation to seconds or microseconds shows.
    pub fn mtime_ns(&mut self) -> i64 {
        let secs = 1_000_000_000 + self.below(1_000_000_000) as i64;
        let nanos = 1 + self.below(999_999_998) as i64;
        secs * 1_000_000_000 + nanos
    }

    /// Seeded content of `len` bytes.
    pub fn content(&mut self, len: u64) -> Content {
        Content::Seeded { len, seed: self.next_u64() }
    }

    /// A lower-case ASCII name of `len` letters.
    pub fn name(&mut self, len: usize) -> String {
        (0..len).map(|_| (b'a' + self.below(26) as u8) as char).collect()
    }
}

/// The SplitMix64 finaliser: a good 64-bit mix.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a fixture file contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// These exact bytes.
    Bytes(Vec<u8>),
    /// `len` pseudo-random bytes derived from `seed`, generated while written.
    Seeded {
        /// Length in bytes.
        len: u64,
        /// Seed of the byte stream.
        seed: u64,
    },
}

impl Content {
    /// The length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Seeded { len, .. } => *len,
        }
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the content into `out`, 64 KiB at a time.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        match self {
            Content::Bytes(b) => out.write_all(b),
            Content::Seeded { len, seed } => {
                // Only as many words as the content needs: tiny files are cheap.
                let size = (*len).min(64 * 1024).div_ceil(8) as usize * 8;
                let mut block = vec![0u8; size];
                let mut rng = Rng::new(*seed);
                let mut left = *len;
                while left > 0 {
                    for word in block.chunks_exact_mut(8) {
                        word.copy_from_slice(&rng.next_u64().to_le_bytes());
                    }
                    let n = left.min(block.len() as u64) as usize;
                    out.write_all(&block[..n])?;
                    left -= n as u64;
                }
                Ok(())
            }
        }
    }
}

/// One entry of a fixture tree. Paths are raw bytes relative to the tree's
/// root, `/`-separated; the empty path is the root itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySpec {
    /// A regular file.
    File {
        /// Relative path.
        path: Vec<u8>,
        /// What it contains.
        content: Content,
        /// Permission bits.
        mode: u32,
        /// Modification time, nanoseconds since the epoch.
        mtime_ns: i64,
    },
    /// A directory (missing parents of any entry are created with mode 0755).
    Dir {
        /// Relative path.
        path: Vec<u8>,
        /// Permission bits, applied after its children exist.
        mode: u32,
        /// Modification time, applied after its children exist.
        mtime_ns: i64,
    },
    /// A symbolic link (its target is never followed).
    Symlink {
        /// Relative path.
        path: Vec<u8>,
        /// Target, raw bytes.
        target: Vec<u8>,
        /// Modification time of the link itself.
        mtime_ns: i64,
    },
}

impl EntrySpec {
    /// The entry's relative path.
    pub fn path(&self) -> &[u8] {
        match self {
            EntrySpec::File { path, .. } | EntrySpec::Dir { path, .. } | EntrySpec::Symlink { path, .. } => path,
        }
    }
}

/// A fixture tree: entries in any order (parents are created as needed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeSpec {
    entries: Vec<EntrySpec>,
}

impl TreeSpec {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a regular file.
    pub fn file(&mut self, path: impl AsRef<[u8]>, content: Content, mode: u32, mtime_ns: i64) -> &mut Self {
        self.push(EntrySpec::File { path: path.as_ref().to_vec(), content, mode, mtime_ns })
    }

    /// Adds a directory.
    pub fn dir(&mut self, path: impl AsRef<[u8]>, mode: u32, mtime_ns: i64) -> &mut Self {
        self.push(EntrySpec::Dir { path: path.as_ref().to_vec(), mode, mtime_ns })
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, path: impl AsRef<[u8]>, target: impl AsRef<[u8]>, mtime_ns: i64) -> &mut Self {
        self.push(EntrySpec::Symlink { path: path.as_ref().to_vec(), target: target.as_ref().to_vec(), mtime_ns })
    }

    /// Adds any entry.
    pub fn push(&mut self, entry: EntrySpec) -> &mut Self {
        self.entries.push(entry);
        self
    }

    /// The entries, in insertion order.
    pub fn entries(&self) -> &[EntrySpec] {
        &self.entries
    }

    /// Creates the tree below `root` (and `root` itself when any entry lies
    /// below it). Directory modes and mtimes are applied last, deepest first,
    /// since creating children changes a directory's mtime.
    pub fn materialise(&self, root: &Path) -> io::Result<()> {
        let at = |p: &[u8]| if p.is_empty() { root.to_path_buf() } else { root.join(OsStr::from_bytes(p)) };
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o755);
        let mut dirs = Vec::new();
        let mut made = std::collections::HashSet::new();
        for e in &self.entries {
            let path = at(e.path());
            match e {
                EntrySpec::Dir { mode, mtime_ns, .. } => {
                    builder.create(&path)?;
                    dirs.push((e.path().iter().filter(|b| **b == b'/').count(), path, *mode, *mtime_ns));
                }
                _ => {
                    if let Some(parent) = path.parent() {
                        if made.insert(parent.to_path_buf()) {
                            builder.create(parent)?;
                        }
                    }
                }
            }
        }
        for e in &self.entries {
            let path = at(e.path());
            match e {
                EntrySpec::File { content, mode, mtime_ns, .. } => {
                    let cap = content.len().clamp(1, 64 * 1024) as usize;
                    let mut out = io::BufWriter::with_capacity(cap, File::create(&path)?);
                    content.write_to(&mut out)?;
                    let file = out.into_inner().map_err(|e| e.into_error())?;
                    file.set_permissions(Permissions::from_mode(*mode))?;
                    drop(file);
                    set_mtime(&path, *mtime_ns)?;
                }
                EntrySpec::Symlink { target, mtime_ns, .. } => {
                    std::os::unix::fs::symlink(OsStr::from_bytes(target), &path)?;
                    set_mtime(&path, *mtime_ns)?;
                }
                EntrySpec::Dir { .. } => {}
            }
        }
        dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
        for (_, path, mode, mtime_ns) in dirs {
            std::fs::set_permissions(&path, Permissions::from_mode(mode))?;
            set_mtime(&path, mtime_ns)?;
        }
        Ok(())
    }
}

/// Sets the modification time of `path` itself, never following a symlink.
pub fn set_mtime(path: &Path, mtime_ns: i64) -> io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let ts = |ns: i64| libc::timespec {
        tv_sec: ns.div_euclid(1_000_000_000) as libc::time_t,
        tv_nsec: ns.rem_euclid(1_000_000_000) as _,
    };
    let times = [libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT }, ts(mtime_ns)];
    // SAFETY: `c` is NUL-terminated and `times` holds the two timespecs that
    // utimensat reads; both outlive the call.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Removes `root` and everything below it, first making every directory
/// writable and searchable again (fixtures contain read-only directories).
pub fn force_remove(root: &Path) -> io::Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
        std::fs::set_permissions(&dir, Permissions::from_mode(0o700))?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    match std::fs::remove_dir_all(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// The environment variable that chooses where trial roots are created.
pub const TMPDIR_ENV: &str = "BLIT_CONFORMANCE_TMPDIR";

/// Free space `/dev/shm` must offer before the suite prefers it.
const SHM_MIN_FREE: u64 = 2 << 30;

/// Where trial roots go: [`TMPDIR_ENV`] if set; else `TMPDIR` if set; else
/// `/dev/shm` when it is a writable memory filesystem with at least 2 GiB
/// free; else the system's temporary directory.
///
/// The suite creates and deletes some hundred thousand files per transport.
/// On a memory filesystem that takes seconds; on a virtual disk it can take
/// minutes, and it measures the disk, not the transport.
pub fn temp_base() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os(TMPDIR_ENV).or_else(|| std::env::var_os("TMPDIR")) {
        return dir.into();
    }
    let shm = std::path::Path::new("/dev/shm");
    if shm_usable(shm) {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

// `statvfs` field types differ between targets (u32 on some 32-bit ones).
#[allow(clippy::useless_conversion)]
fn shm_usable(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: an all-zero statvfs is a valid value for statvfs to overwrite.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a valid, writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    // SAFETY: `c` is NUL-terminated.
    let writable = unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0;
    rc == 0 && writable && u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)) >= SHM_MIN_FREE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_content_is_deterministic_and_exact() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        Content::Seeded { len: 70_000, seed: 7 }.write_to(&mut a).unwrap();
        Content::Seeded { len: 70_000, seed: 7 }.write_to(&mut b).unwrap();
        assert_eq!(a.len(), 70_000);
        assert_eq!(a, b);
        let mut c = Vec::new();
        Content::Seeded { len: 70_000, seed: 8 }.write_to(&mut c).unwrap();
        assert_ne!(a, c);
        let mut r = Rng::new(1);
        assert_ne!(r.next_u64(), r.next_u64());
        assert!(r.mtime_ns() % 1_000_000_000 != 0);
    }

    #[test]
    fn materialises_read_only_dirs_and_cleans_up() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("t");
        let mut spec = TreeSpec::new();
        spec.dir("", 0o755, 5_000_000_001)
            .dir("ro", 0o555, 7_000_000_003)
            .file("ro/f", Content::Bytes(b"x".to_vec()), 0o444, 6_000_000_002)
            .symlink("l", "ro/f", 8_000_000_004);
        spec.materialise(&root).unwrap();
        let m = std::fs::symlink_metadata(root.join("ro")).unwrap();
        assert_eq!(std::os::unix::fs::MetadataExt::mtime_nsec(&m), 3);
        assert_eq!(m.permissions().mode() & 0o7777, 0o555);
        force_remove(&root).unwrap();
        assert!(!root.exists());
    }
}
