//! Extended attributes through the `l*xattr` and `f*xattr` system calls:
//! never through a symlink, names and values as raw bytes. Public so that
//! test suites (`blit-conformance`) read and write them the same way.

use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn c_name(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "attribute name contains a NUL byte"))
}

/// Calls `get(buf)` with a buffer grown until the answer fits (the size can
/// change between the sizing call and the read: `ERANGE` retries).
fn sized(mut get: impl FnMut(&mut [u8]) -> isize) -> io::Result<Vec<u8>> {
    for _ in 0..4 {
        let n = get(&mut []);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; n as usize];
        if buf.is_empty() {
            return Ok(buf);
        }
        let m = get(&mut buf);
        if m >= 0 {
            buf.truncate(m as usize);
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    }
    Err(io::Error::from_raw_os_error(libc::ERANGE))
}

/// Every extended attribute of `path` itself (a symlink is not followed),
/// sorted by name. A filesystem without extended attributes has none.
pub fn list(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let c = c_path(path)?;
    let names = match sized(|buf| {
        // SAFETY: `c` is NUL-terminated; `buf` is valid for `buf.len()` bytes
        // (a zero length only asks for the size).
        unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
    }) {
        Ok(names) => names,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let cn = c_name(name)?;
        let value = sized(|buf| {
            // SAFETY: both strings are NUL-terminated; `buf` is valid for
            // `buf.len()` bytes.
            unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
        });
        match value {
            Ok(value) => out.push((name.to_vec(), value)),
            // Removed since the listing.
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort();
    Ok(out)
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets one attribute on an open file.
pub fn set_fd(file: &std::fs::File, name: &[u8], value: &[u8]) -> io::Result<()> {
    let cn = c_name(name)?;
    // SAFETY: the descriptor is open, `cn` is NUL-terminated and `value` is
    // valid for its length.
    check(unsafe { libc::fsetxattr(file.as_raw_fd(), cn.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
}

/// Sets one attribute on `path` itself (a symlink is not followed).
pub fn set_path(path: &Path, name: &[u8], value: &[u8]) -> io::Result<()> {
    let (c, cn) = (c_path(path)?, c_name(name)?);
    // SAFETY: both strings are NUL-terminated and `value` is valid for its length.
    check(unsafe { libc::lsetxattr(c.as_ptr(), cn.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
}

/// Removes one attribute from `path` itself (a symlink is not followed).
pub fn remove_path(path: &Path, name: &[u8]) -> io::Result<()> {
    let (c, cn) = (c_path(path)?, c_name(name)?);
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::lremovexattr(c.as_ptr(), cn.as_ptr()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supported(dir: &Path) -> bool {
        let probe = dir.join(".xattr-probe");
        std::fs::write(&probe, b"").unwrap();
        let ok = set_path(&probe, b"user.probe", b"1").is_ok();
        std::fs::remove_file(&probe).unwrap();
        ok
    }

    #[test]
    fn lists_sets_and_removes_raw_values() {
        let dir = tempfile::tempdir().unwrap();
        if !supported(dir.path()) {
            eprintln!("skipped: {} does not store user.* extended attributes", dir.path().display());
            return;
        }
        let f = dir.path().join("f");
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(list(&f).unwrap(), Vec::<(Vec<u8>, Vec<u8>)>::new());
        let big = vec![0xabu8; 1000];
        set_path(&f, b"user.b", &big).unwrap();
        set_fd(&std::fs::File::open(&f).unwrap(), b"user.a", &[0, 1, 255]).unwrap();
        let got = list(&f).unwrap();
        assert_eq!(got, vec![(b"user.a".to_vec(), vec![0, 1, 255]), (b"user.b".to_vec(), big)]);
        remove_path(&f, b"user.a").unwrap();
        assert_eq!(list(&f).unwrap().len(), 1);
        // An unknown namespace is refused by the kernel: the error the
        // landing turns into a warning.
        let e = set_path(&f, b"nonsense.x", b"1").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP));
    }
}
