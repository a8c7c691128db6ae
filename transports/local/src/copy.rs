//! Copying one open source file into a landing file.
//!
//! The kernel moves the bytes with `copy_file_range` where it can (no
//! user-space copy; reflinks on filesystems that share extents). When the
//! call is not available for this pair of files (`EXDEV`, `ENOSYS`, `EINVAL`,
//! `EOPNOTSUPP`), the copy goes on from the same offset with `read`/`write`
//! through a 256 KiB buffer. After `ENOSYS`, `EXDEV` or `EOPNOTSUPP` the whole
//! transport skips straight to the fallback.

use crate::meta::BUF_SIZE;
use blit_api::{Error, ErrorKind, Incoming, Result};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest run of bytes asked of the kernel at once (also the progress step).
#[cfg(target_os = "linux")]
const ZERO_COPY_CHUNK: u64 = 8 * 1024 * 1024;

/// Copies exactly `incoming.size()` bytes from `src` (at its current offset)
/// into `incoming`, recording every run. `zero_copy` is shared by every
/// worker of a transport and cleared when `copy_file_range` cannot work
/// here; `buf` is the worker's reusable fallback buffer.
pub(crate) fn copy_into(src: &File, incoming: &mut Incoming, zero_copy: &AtomicBool, buf: &mut Vec<u8>) -> Result<()> {
    let size = incoming.size();
    copy_len(src, incoming, size, zero_copy, buf)
}

/// Copies the bytes `range` of `src` to the same offsets of `incoming` (a
/// resumed file), like [`copy_into`].
pub(crate) fn copy_range(
    mut src: &File,
    incoming: &mut Incoming,
    range: Range<u64>,
    zero_copy: &AtomicBool,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let at = SeekFrom::Start(range.start);
    src.seek(at).map_err(|e| io_error("seek source", incoming, e))?;
    incoming.file().seek(at).map_err(|e| io_error("seek", incoming, e))?;
    copy_len(src, incoming, range.end - range.start, zero_copy, buf)
}

/// Copies `len` bytes from the current offset of `src` to the current
/// offset of `incoming`.
fn copy_len(src: &File, incoming: &mut Incoming, len: u64, zero_copy: &AtomicBool, buf: &mut Vec<u8>) -> Result<()> {
    let mut remaining = len;
    #[cfg(target_os = "linux")]
    if remaining > 0 && zero_copy.load(Ordering::Relaxed) {
        remaining = kernel_copy(src, incoming, remaining, zero_copy)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (zero_copy, Ordering::Relaxed);
    if remaining > 0 {
        user_copy(src, incoming, remaining, buf)?;
    }
    Ok(())
}

fn io_error(op: &str, incoming: &Incoming, e: io::Error) -> Error {
    Error::io(op, incoming.path(), e)
}

fn shrank(incoming: &Incoming) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("the source file ended after {} of {} bytes", incoming.written(), incoming.size()),
    )
    .with_path(incoming.path().display())
    .with_hint("the file shrank while it was copied; rerun to copy its final state")
}

/// Copies with `copy_file_range` until done or the call is unsupported;
/// returns the bytes still to copy.
#[cfg(target_os = "linux")]
fn kernel_copy(src: &File, incoming: &mut Incoming, mut remaining: u64, zero_copy: &AtomicBool) -> Result<u64> {
    use std::os::fd::AsRawFd;
    let src_fd = src.as_raw_fd();
    let dst_fd = incoming.file().as_raw_fd();
    while remaining > 0 {
        let len = remaining.min(ZERO_COPY_CHUNK) as usize;
        // SAFETY: both descriptors stay open for the call (`src` and the
        // landing file are borrowed); null offsets use and advance the file
        // positions, so a fallback continues where this stopped.
        let n = unsafe { libc::copy_file_range(src_fd, std::ptr::null_mut(), dst_fd, std::ptr::null_mut(), len, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOSYS | libc::EXDEV | libc::EOPNOTSUPP) => {
                    zero_copy.store(false, Ordering::Relaxed);
                    return Ok(remaining);
                }
                Some(libc::EINVAL) => return Ok(remaining),
                _ => return Err(io_error("copy", incoming, e)),
            }
        }
        if n == 0 {
            return Err(shrank(incoming));
        }
        incoming.record_zero_copy(n as u64);
        remaining -= n as u64;
    }
    Ok(0)
}

/// Copies `remaining` bytes through `buf`.
fn user_copy(mut src: &File, incoming: &mut Incoming, mut remaining: u64, buf: &mut Vec<u8>) -> Result<()> {
    if buf.len() < BUF_SIZE {
        buf.resize(BUF_SIZE, 0);
    }
    while remaining > 0 {
        let want = remaining.min(buf.len() as u64) as usize;
        let n = match src.read(&mut buf[..want]) {
            Ok(0) => return Err(shrank(incoming)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error("read source", incoming, e)),
        };
        if let Err(e) = incoming.file().write_all(&buf[..n]) {
            return Err(io_error("write", incoming, e));
        }
        incoming.record(n as u64);
        remaining -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
