//! Receiving file bodies without a user-space copy: `splice(2)` from the
//! socket into a pipe, then from the pipe into the file at its offset.
//!
//! On Linux the socket-to-pipe step hands over the pages the network stack
//! holds (on loopback, the very page-cache pages the sender's `sendfile`
//! referenced), and the pipe-to-file step copies them once into the
//! destination's page cache. Reading into a buffer and writing it out would
//! copy twice. Where the kernel refuses (no splice support for the file or
//! the socket), [`Pipe::land`] reports it before moving a byte and the
//! caller falls back to reads and positional writes.

use std::fs::File;
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Bytes a pipe holds (the default maximum for unprivileged processes).
const PIPE_SIZE: usize = 1024 * 1024;

/// How a splice ended when it did not move every byte.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The kernel cannot splice here; nothing moved: use reads and writes.
    Unsupported,
    /// The file refused splicing after `consumed` bytes left the socket;
    /// they were written the ordinary way. Land the rest with reads and
    /// writes (and stop trying splice for this destination).
    Fallback(u64),
    /// The socket failed (fatal for the connection).
    Socket(io::Error),
    /// Writing the file failed after `consumed` bytes left the socket
    /// (the pipe was emptied); the rest of the record is still unread.
    File(io::Error, u64),
}

/// One connection's pipe.
#[derive(Debug)]
pub(crate) struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    size: usize,
}

impl Pipe {
    /// A pipe as large as the system allows (up to 1 MiB).
    pub(crate) fn new() -> io::Result<Pipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two descriptors to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: F_SETPIPE_SZ on a pipe we own; failure leaves the default.
        let set = unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE as libc::c_int) };
        let size = if set > 0 { set as usize } else { 64 * 1024 };
        Ok(Pipe { read, write, size })
    }

    /// Moves `len` bytes from `socket` into `file` at `at`.
    pub(crate) fn land(&self, socket: &TcpStream, file: &File, at: u64, len: u64) -> Result<(), Stop> {
        let mut moved = 0u64;
        let mut off = at as libc::loff_t;
        while moved < len {
            let want = (len - moved).min(self.size as u64) as usize;
            // SAFETY: valid descriptors; null offsets for the socket and the pipe.
            let got = unsafe {
                libc::splice(
                    socket.as_raw_fd(),
                    std::ptr::null_mut(),
                    self.write.as_raw_fd(),
                    std::ptr::null_mut(),
                    want,
                    libc::SPLICE_F_MOVE,
                )
            };
            if got == 0 {
                return Err(Stop::Socket(io::Error::from(io::ErrorKind::UnexpectedEof)));
            }
            if got < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EINVAL | libc::ENOSYS) if moved == 0 => return Err(Stop::Unsupported),
                    Some(libc::EAGAIN) => return Err(Stop::Socket(io::Error::from(io::ErrorKind::TimedOut))),
                    _ => return Err(Stop::Socket(e)),
                }
            }
            let mut in_pipe = got as usize;
            while in_pipe > 0 {
                // SAFETY: valid descriptors; `off` is a local the kernel updates.
                let put = unsafe {
                    libc::splice(
                        self.read.as_raw_fd(),
                        std::ptr::null_mut(),
                        file.as_raw_fd(),
                        &mut off,
                        in_pipe,
                        libc::SPLICE_F_MOVE,
                    )
                };
                if put > 0 {
                    in_pipe -= put as usize;
                    continue;
                }
                let e = if put == 0 { io::Error::from(io::ErrorKind::WriteZero) } else { io::Error::last_os_error() };
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                let written = off as u64 - at;
                let unsupported = matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS));
                let fallback = unsupported && moved == 0 && written == 0;
                // Keep the stream in step: what is in the pipe left the socket.
                let consumed = moved + got as u64;
                return match self.drain(in_pipe, file, off as u64, fallback) {
                    Err(pipe) => Err(Stop::Socket(pipe)),
                    Ok(Some(write)) => Err(Stop::File(write, consumed)),
                    Ok(None) if fallback => Err(Stop::Fallback(consumed)),
                    Ok(None) => Err(Stop::File(e, consumed)),
                };
            }
            moved += got as u64;
        }
        Ok(())
    }

    /// Empties `n` bytes from the pipe, writing them at `at` when `write`.
    /// A failed read of the pipe is the error; a failed write is returned
    /// inside (and the rest is still drained).
    fn drain(&self, mut n: usize, file: &File, mut at: u64, write: bool) -> io::Result<Option<io::Error>> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; n.min(64 * 1024)];
        let mut failed = None;
        while n > 0 {
            let k = n.min(buf.len());
            // SAFETY: reading into a buffer of at least `k` bytes.
            let r = unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), k) };
            if r <= 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(e);
            }
            if write && failed.is_none() {
                if let Err(e) = file.write_all_at(&buf[..r as usize], at) {
                    failed = Some(e);
                }
                at += r as u64;
            }
            n -= r as usize;
        }
        Ok(failed)
    }
}
