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
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest run of bytes asked of the kernel at once (also the progress step).
#[cfg(target_os = "linux")]
const ZERO_COPY_CHUNK: u64 = 8 * 1024 * 1024;

/// Copies the bytes `offset..offset + len` of `src` to offset `at` of
/// `incoming`, recording every run. Offsets are explicit: neither file's
/// position is used or moved. `zero_copy` is shared by every worker of a
/// transport and cleared when `copy_file_range` cannot work here; `buf` is
/// the worker's reusable fallback buffer.
pub(crate) fn copy_at(
    src: &File,
    offset: u64,
    incoming: &mut Incoming,
    at: u64,
    len: u64,
    zero_copy: &AtomicBool,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let mut done = 0;
    #[cfg(target_os = "linux")]
    if len > 0 && zero_copy.load(Ordering::Relaxed) {
        done = kernel_copy(src, offset, incoming, at, len, zero_copy)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (zero_copy, Ordering::Relaxed);
    if done < len {
        user_copy(src, offset + done, incoming, at + done, len - done, buf)?;
    }
    Ok(())
}

fn io_error(op: &str, incoming: &Incoming, e: io::Error) -> Error {
    Error::io(op, incoming.shown(), e)
}

fn shrank(incoming: &Incoming) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("the source file ended after {} of {} bytes", incoming.written(), incoming.size()),
    )
    .with_path(incoming.shown())
    .with_hint("the file shrank while it was copied; rerun to copy its final state")
}

/// Copies with `copy_file_range` until done or the call is unsupported;
/// returns the bytes copied.
#[cfg(target_os = "linux")]
fn kernel_copy(
    src: &File,
    offset: u64,
    incoming: &mut Incoming,
    at: u64,
    len: u64,
    zero_copy: &AtomicBool,
) -> Result<u64> {
    use std::os::fd::AsRawFd;
    let src_fd = src.as_raw_fd();
    let dst_fd = incoming.file().as_raw_fd();
    let mut done = 0;
    while done < len {
        let step = (len - done).min(ZERO_COPY_CHUNK) as usize;
        let mut off_in = (offset + done) as libc::loff_t;
        let mut off_out = (at + done) as libc::loff_t;
        // SAFETY: both descriptors stay open for the call (`src` and the
        // landing file are borrowed); the offsets are locals the call
        // updates, the file positions are left alone.
        let n = unsafe { libc::copy_file_range(src_fd, &mut off_in, dst_fd, &mut off_out, step, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOSYS | libc::EXDEV | libc::EOPNOTSUPP) => {
                    zero_copy.store(false, Ordering::Relaxed);
                    return Ok(done);
                }
                Some(libc::EINVAL) => return Ok(done),
                _ => return Err(io_error("copy", incoming, e)),
            }
        }
        if n == 0 {
            return Err(shrank(incoming));
        }
        incoming.record_zero_copy(n as u64);
        done += n as u64;
    }
    Ok(done)
}

/// Copies `len` bytes through `buf`, from `offset` of `src` to `at`.
fn user_copy(src: &File, offset: u64, incoming: &mut Incoming, at: u64, len: u64, buf: &mut Vec<u8>) -> Result<()> {
    if buf.len() < BUF_SIZE {
        buf.resize(BUF_SIZE, 0);
    }
    let mut done = 0;
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        let n = match src.read_at(&mut buf[..want], offset + done) {
            Ok(0) => return Err(shrank(incoming)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error("read source", incoming, e)),
        };
        if let Err(e) = incoming.file().write_all_at(&buf[..n], at + done) {
            return Err(io_error("write", incoming, e));
        }
        incoming.record(n as u64);
        done += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
