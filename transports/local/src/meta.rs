//! File metadata helpers: headers from `lstat`, nanosecond times, modes and
//! BLAKE3 digests.
//!
//! Everything here works on the entry itself and never follows a symlink:
//! times are set with `utimensat(AT_SYMLINK_NOFOLLOW)` or `futimens` on an open
//! descriptor, and files are opened with `O_NOFOLLOW`.

#[cfg(test)]
use std::ffi::CString;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
#[cfg(test)]
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The permission bits a header carries.
pub(crate) const MODE_MASK: u32 = 0o7777;

/// The process umask, read once from `/proc/self/status` (calling `umask(2)`
/// to read it would briefly change it for every thread). Where it cannot be
/// read, every permission bit counts as stripped, so modes are always set.
pub(crate) fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("Umask:"))?;
                u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
            })
            .unwrap_or(0o777)
    })
}

/// Whether a file created with `mode` ends up with other bits than `mode`
/// (the umask took some away, or special bits the kernel may drop), so the
/// mode must be set explicitly.
pub(crate) fn umask_strips(mode: u32) -> bool {
    mode & umask() != 0 || mode & 0o7000 != 0
}

/// Size of the read buffer used for hashing and for the user-space copy.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

const NANOS: i64 = 1_000_000_000;

/// Modification time in nanoseconds since the Unix epoch (saturating, so a
/// corrupt timestamp cannot overflow).
pub(crate) fn mtime_ns(meta: &Metadata) -> i64 {
    meta.mtime().saturating_mul(NANOS).saturating_add(meta.mtime_nsec())
}

/// Permission bits of `meta`.
pub(crate) fn mode(meta: &Metadata) -> u32 {
    meta.mode() & MODE_MASK
}

fn timespec(ns: i64) -> libc::timespec {
    // Field types differ between targets; the values always fit.
    libc::timespec { tv_sec: ns.div_euclid(NANOS) as libc::time_t, tv_nsec: ns.rem_euclid(NANOS) as _ }
}

fn times(mtime_ns: i64) -> [libc::timespec; 2] {
    // Access time is left alone; only the modification time is carried.
    [libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT }, timespec(mtime_ns)]
}

#[cfg(test)]
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

#[cfg(test)]
/// Sets the modification time of `path` itself (a symlink is not followed).
pub(crate) fn set_mtime_nofollow(path: &Path, mtime_ns: i64) -> io::Result<()> {
    set_mtime(path, mtime_ns, false)
}

#[cfg(test)]
/// Sets the modification time of `path`, following a final symlink only
/// when `follow` is set (for the destination root, which the user named).
pub(crate) fn set_mtime(path: &Path, mtime_ns: i64, follow: bool) -> io::Result<()> {
    let c = c_path(path)?;
    let ts = times(mtime_ns);
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: `c` is a NUL-terminated string and `ts` holds the two timespecs
    // utimensat reads; both outlive the call.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the modification time of an open file.
pub(crate) fn set_fd_mtime(file: &File, mtime_ns: i64) -> io::Result<()> {
    let ts = times(mtime_ns);
    // SAFETY: the descriptor is open for the lifetime of `file` and `ts` holds
    // the two timespecs futimens reads.
    let rc = unsafe { libc::futimens(file.as_raw_fd(), ts.as_ptr()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens `path` for reading without following a final symlink.
pub(crate) fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

#[cfg(test)]
/// BLAKE3 of the regular file at `path`. `buf` is a reusable read buffer.
pub(crate) fn blake3_file(path: &Path, buf: &mut Vec<u8>) -> io::Result<[u8; 32]> {
    blake3_reader(open_nofollow(path)?, buf)
}

/// BLAKE3 of everything `reader` yields.
pub(crate) fn blake3_reader(mut reader: impl Read, buf: &mut Vec<u8>) -> io::Result<[u8; 32]> {
    if buf.len() < BUF_SIZE {
        buf.resize(BUF_SIZE, 0);
    }
    let mut hasher = blake3::Hasher::new();
    loop {
        match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_nanoseconds_and_negative_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        for ns in [1_234_567_891_123_456_789_i64, -1_500_000_001, 0] {
            set_mtime_nofollow(&f, ns).unwrap();
            assert_eq!(mtime_ns(&std::fs::symlink_metadata(&f).unwrap()), ns);
        }
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("missing-target", &link).unwrap();
        set_mtime_nofollow(&link, 42).unwrap();
        assert_eq!(mtime_ns(&std::fs::symlink_metadata(&link).unwrap()), 42);
    }

    #[test]
    fn hashes_match_blake3_and_refuse_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let data = vec![7u8; BUF_SIZE * 2 + 3];
        std::fs::write(&f, &data).unwrap();
        let mut buf = Vec::new();
        assert_eq!(blake3_file(&f, &mut buf).unwrap(), *blake3::hash(&data).as_bytes());
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert!(blake3_file(&link, &mut buf).is_err(), "O_NOFOLLOW must refuse a symlink");
    }
}
