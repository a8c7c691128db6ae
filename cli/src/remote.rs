//! Remote endpoint syntax: `HOST:/module/path`, `HOST:PORT:/module/path`,
//! `[IPv6]:/module/path`, `[IPv6]:PORT:/module/path`.
//!
//! An argument is remote only when the part before the first `:` contains no
//! `/` and the path after it starts with `/`, as with rsync and scp; write
//! `./name:/x` to mean a local path that contains a colon.

use blit_api::{Error, ErrorKind, Result};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// The daemon's default port.
pub(crate) const DEFAULT_PORT: u16 = 9031;

/// A parsed remote endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    /// Host name or address (IPv6 without brackets).
    pub(crate) host: String,
    /// TCP port of the daemon.
    pub(crate) port: u16,
    /// Module name (first path component).
    pub(crate) module: String,
    /// Path inside the module, without leading `/` (may be empty).
    pub(crate) path: Vec<u8>,
    /// Whether the argument ended with `/` (copy the contents).
    pub(crate) trailing_slash: bool,
}

/// Parses `arg` as a remote endpoint; `Ok(None)` when it is a local path.
pub(crate) fn parse(arg: &OsStr) -> Result<Option<Remote>> {
    let s = arg.as_bytes();
    let (host, rest) = if let Some(inner) = s.strip_prefix(b"[") {
        let Some(end) = inner.iter().position(|b| *b == b']') else {
            return Ok(None);
        };
        match inner[end + 1..].strip_prefix(b":") {
            Some(rest) => (&inner[..end], rest),
            None => return Ok(None),
        }
    } else {
        let Some(colon) = s.iter().position(|b| *b == b':') else {
            return Ok(None);
        };
        if s[..colon].contains(&b'/') || colon == 0 {
            return Ok(None);
        }
        (&s[..colon], &s[colon + 1..])
    };
    // Optional port: digits followed by ':'.
    let (port, path) = match rest.iter().position(|b| *b == b':') {
        Some(i) if i > 0 && rest[..i].iter().all(u8::is_ascii_digit) => {
            let text = std::str::from_utf8(&rest[..i]).unwrap_or_default();
            let port: u16 = text.parse().map_err(|_| bad(arg, "port must be a number from 1 to 65535"))?;
            (port, &rest[i + 1..])
        }
        _ => (DEFAULT_PORT, rest),
    };
    let Some(path) = path.strip_prefix(b"/") else {
        return if s.starts_with(b"[") {
            Err(bad(arg, "the path after the host must start with /module"))
        } else {
            Ok(None)
        };
    };
    let host = std::str::from_utf8(host).map_err(|_| bad(arg, "the host name must be UTF-8"))?.to_owned();
    let trailing_slash = path.ends_with(b"/") || path.is_empty();
    let trimmed = trim_slashes(path);
    let (module, path) = match trimmed.iter().position(|b| *b == b'/') {
        Some(i) => (&trimmed[..i], trim_slashes(&trimmed[i + 1..])),
        None => (trimmed, &b""[..]),
    };
    let module = std::str::from_utf8(module).map_err(|_| bad(arg, "the module name must be UTF-8"))?.to_owned();
    Ok(Some(Remote { host, port, module, path: path.to_vec(), trailing_slash }))
}

fn trim_slashes(mut p: &[u8]) -> &[u8] {
    while let Some(r) = p.strip_suffix(b"/") {
        p = r;
    }
    while let Some(r) = p.strip_prefix(b"/") {
        p = r;
    }
    p
}

fn bad(arg: &OsStr, why: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("bad remote endpoint: {why}"))
        .with_path(arg.to_string_lossy().into_owned())
        .with_hint("write HOST:/module/path, HOST:PORT:/module/path or [IPv6]:PORT:/module/path")
}

/// Parses `HOST`, `HOST:PORT`, `[IPv6]` or `[IPv6]:PORT` (for `blit modules`).
pub(crate) fn parse_host(arg: &str) -> Result<(String, u16)> {
    let probe = format!("{}:/x", arg.trim_end_matches(':'));
    match parse(OsStr::new(&probe))? {
        Some(r) => Ok((r.host, r.port)),
        None => Err(bad(OsStr::new(arg), "expected HOST or HOST:PORT")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<Remote> {
        parse(OsStr::new(s)).unwrap()
    }

    #[test]
    fn parses_every_documented_form() {
        let r = p("backup.example:/photos/2024/").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.module.as_str()), ("backup.example", DEFAULT_PORT, "photos"));
        assert_eq!(r.path, b"2024");
        assert!(r.trailing_slash);
        let r = p("127.0.0.1:9999:/m/a/b").unwrap();
        assert_eq!((r.port, r.path.as_slice(), r.trailing_slash), (9999, &b"a/b"[..], false));
        let r = p("[::1]:/m").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.module.as_str(), r.path.is_empty()), ("::1", DEFAULT_PORT, "m", true));
        let r = p("[fe80::1]:7000:/m/x").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("fe80::1", 7000));
        assert_eq!(parse_host("h:12").unwrap(), ("h".to_owned(), 12));
        assert_eq!(parse_host("[::1]").unwrap(), ("::1".to_owned(), DEFAULT_PORT));
    }

    #[test]
    fn local_paths_stay_local() {
        for s in ["/abs/path", "rel/path", "./host:/x", "dir/a:b", "C", "file:name", ""] {
            assert!(p(s).is_none(), "{s} parsed as remote");
        }
        assert!(parse(OsStr::new("h:99999:/m")).is_err());
    }
}
