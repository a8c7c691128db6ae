//! Remote endpoint syntax for a blitd daemon: `HOST:/module/path`,
//! `HOST:PORT:/module/path`, `HOST::module/path` (rsync's daemon form),
//! `blit://HOST[:PORT]/module/path`, and the same with `[IPv6]` hosts.
//!
//! As with rsync and scp, an argument whose part before the first `:` holds
//! no `/` names another machine. One that is none of the daemon forms above
//! (`user@host:path`, `server:backup/`) is what rsync sends over ssh, which
//! blit cannot do yet: it is refused with the daemon forms in the hint,
//! never taken as a local directory that happens to contain a colon (write
//! `./name:x` for that).

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
    if let Some(url) = s.strip_prefix(b"blit://") {
        return parse_url(arg, url).map(Some);
    }
    if let Some(rest) = s.strip_prefix(b"rsync://") {
        // An rsync daemon's URL: the same module path, on a blitd.
        let rest = String::from_utf8_lossy(rest);
        return Err(Error::new(ErrorKind::Unsupported, "rsync:// names an rsync daemon; blit talks to blitd")
            .with_path(arg.to_string_lossy().into_owned())
            .with_hint(format!("for a blitd serving the same modules write blit://{rest}")));
    }
    if s.starts_with(b"ssh://") {
        return Err(not_a_daemon(arg));
    }
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
    // rsync's daemon form: `HOST::module/path`.
    if let Some(path) = rest.strip_prefix(b":") {
        if path.starts_with(b"/") || trim_slashes(path).is_empty() {
            return Err(bad(arg, "after `::` comes the module name"));
        }
        return remote(arg, host, DEFAULT_PORT, path).map(Some);
    }
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
            Err(not_a_daemon(arg))
        };
    };
    remote(arg, host, port, path).map(Some)
}

/// The endpoint for `path` (`module/path`, leading `/` already gone) on
/// `host`:`port`.
fn remote(arg: &OsStr, host: &[u8], port: u16, path: &[u8]) -> Result<Remote> {
    if host.contains(&b'@') {
        // `user@host:...`: a login, which only ssh has.
        return Err(not_a_daemon(arg));
    }
    let host = std::str::from_utf8(host).map_err(|_| bad(arg, "the host name must be UTF-8"))?.to_owned();
    let trailing_slash = path.ends_with(b"/") || path.is_empty();
    let trimmed = trim_slashes(path);
    let (module, path) = match trimmed.iter().position(|b| *b == b'/') {
        Some(i) => (&trimmed[..i], trim_slashes(&trimmed[i + 1..])),
        None => (trimmed, &b""[..]),
    };
    let module = std::str::from_utf8(module).map_err(|_| bad(arg, "the module name must be UTF-8"))?.to_owned();
    Ok(Remote { host, port, module, path: path.to_vec(), trailing_slash })
}

/// `blit://HOST[:PORT]/module/path` (`url` is what follows `blit://`).
fn parse_url(arg: &OsStr, url: &[u8]) -> Result<Remote> {
    let Some(slash) = url.iter().position(|b| *b == b'/') else {
        return Err(bad(arg, "a blit:// address needs /module after the host"));
    };
    let (authority, path) = (&url[..slash], &url[slash..]);
    // `HOST:PORT` and `[IPv6]:PORT` become the `HOST:PORT:/...` form.
    let mut canonical = authority.to_vec();
    canonical.extend_from_slice(b":");
    canonical.extend_from_slice(path);
    match parse(OsStr::from_bytes(&canonical)) {
        Ok(Some(r)) if !authority.is_empty() && !r.module.is_empty() => Ok(r),
        _ => Err(bad(arg, "write blit://HOST/module/path or blit://HOST:PORT/module/path")),
    }
}

/// The refusal of what rsync would run over ssh.
fn not_a_daemon(arg: &OsStr) -> Error {
    let shown = arg.to_string_lossy();
    let bare = shown.split_once("://").map_or(&*shown, |(_, rest)| rest);
    let host = bare.split([':', '/']).next().unwrap_or_default().rsplit('@').next().unwrap_or_default().to_owned();
    Error::new(ErrorKind::Unsupported, "this names another machine over ssh, which blit cannot do yet")
        .with_path(shown.into_owned())
        .with_hint(format!(
            "for a blitd daemon write {host}::MODULE/path (or {host}:/MODULE/path, blit://{host}:PORT/MODULE/path); \
             for a local path with a colon in its name write ./{}",
            arg.to_string_lossy()
        ))
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
        .with_hint("write HOST::module/path, HOST:/module/path, HOST:PORT:/module/path or blit://HOST:PORT/module/path")
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
    fn rsync_and_url_daemon_forms() {
        let r = p("backup::photos/2024/").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.module.as_str()), ("backup", DEFAULT_PORT, "photos"));
        assert_eq!((r.path.as_slice(), r.trailing_slash), (&b"2024"[..], true));
        let r = p("[::1]::m").unwrap();
        assert_eq!((r.host.as_str(), r.module.as_str(), r.path.is_empty()), ("::1", "m", true));
        let r = p("blit://h.example:7000/m/a/b").unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.module.as_str(), r.path.as_slice()),
            ("h.example", 7000, "m", &b"a/b"[..])
        );
        let r = p("blit://h/m/").unwrap();
        assert_eq!((r.port, r.module.as_str(), r.trailing_slash), (DEFAULT_PORT, "m", true));
        let r = p("blit://[fe80::1]:7001/m").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("fe80::1", 7001));
        for s in ["blit://h", "blit://h/", "blit:///m", "h::", "h::/m"] {
            let e = parse(OsStr::new(s)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{s}: {e}");
        }
    }

    #[test]
    fn local_paths_stay_local_and_ssh_forms_are_refused() {
        for s in ["/abs/path", "rel/path", "./host:/x", "dir/a:b", "C", ":x", ""] {
            assert!(p(s).is_none(), "{s} parsed as remote");
        }
        assert!(parse(OsStr::new("h:99999:/m")).is_err());
        let e = parse(OsStr::new("rsync://h:873/m/x")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.hint().unwrap_or_default().contains("blit://h:873/m/x"), "{e}");
        for s in ["user@host:path", "user@host:/srv/x", "server:backup/", "file:name", "ssh://host/x", "h:"] {
            let e = parse(OsStr::new(s)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{s}: {e}");
            let hint = e.hint().unwrap_or_default().to_owned();
            assert!(hint.contains("::MODULE/path") && hint.contains(&format!("./{s}")), "{s}: {hint}");
        }
    }
}
