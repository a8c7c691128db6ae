//! Remote endpoint syntax, as rsync's.
//!
//! As with rsync and scp, an argument whose part before the first `:` holds
//! no `/` names another machine (write `./name:x` for a local path with a
//! colon in it):
//!
//! - over ssh, with no daemon: `[user@]HOST:path` and
//!   `ssh://[user@]HOST[:PORT]/path`; the path is absolute, or relative to
//!   the login's home (`HOST:backup`, `HOST:~/backup`, `ssh://HOST/~/backup`);
//! - a blitd daemon: `HOST::module/path` (rsync's daemon form),
//!   `blit://HOST[:PORT]/module/path` and `HOST:PORT:/module/path`.
//!
//! Each with `[IPv6]` hosts too.

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
    /// Reached over ssh rather than a daemon's port: then `host` is the
    /// login (`user@host`), `port` is 0, `module` is [`SSH_MODULE`] and
    /// `path` is the last component below [`Ssh::dir`].
    pub(crate) ssh: Option<Ssh>,
}

/// The module name a `blit server` started over ssh serves [`Ssh::dir`] as.
pub(crate) const SSH_MODULE: &str = "ssh";

/// Where ssh logs in and what the far side serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ssh {
    /// `user@host` or `host`, as ssh takes it.
    pub(crate) login: String,
    /// The ssh port (`ssh://host:PORT/`); `None`: ssh's own choice.
    pub(crate) port: Option<u16>,
    /// The directory `blit server` serves: absolute, or relative to the
    /// login's home (`.` for the home itself). It must exist.
    pub(crate) dir: Vec<u8>,
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
    if let Some(url) = s.strip_prefix(b"ssh://") {
        return parse_ssh_url(arg, url).map(Some);
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
    // `HOST:PORT:/module/path`: a daemon on that port. Anything else is a
    // path over ssh.
    match rest.iter().position(|b| *b == b':') {
        Some(i) if i > 0 && rest[..i].iter().all(u8::is_ascii_digit) => {
            let text = std::str::from_utf8(&rest[..i]).unwrap_or_default();
            let port: u16 = text
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(arg, "port must be a number from 1 to 65535"))?;
            match rest[i + 1..].strip_prefix(b"/") {
                Some(path) => remote(arg, host, port, path).map(Some),
                None => Err(bad(arg, "after HOST:PORT: comes /module/path")),
            }
        }
        _ => over_ssh(arg, host, None, rest).map(Some),
    }
}

/// The endpoint for `path` (`module/path`, leading `/` already gone) on
/// `host`:`port`.
fn remote(arg: &OsStr, host: &[u8], port: u16, path: &[u8]) -> Result<Remote> {
    if host.contains(&b'@') {
        return Err(Error::new(ErrorKind::InvalidInput, "a blitd daemon has no user logins")
            .with_path(arg.to_string_lossy().into_owned())
            .with_hint("drop `user@` and give the module's secret with --secret-file or BLIT_SECRET"));
    }
    let host = std::str::from_utf8(host).map_err(|_| bad(arg, "the host name must be UTF-8"))?.to_owned();
    let trailing_slash = path.ends_with(b"/") || path.is_empty();
    let trimmed = trim_slashes(path);
    let (module, path) = match trimmed.iter().position(|b| *b == b'/') {
        Some(i) => (&trimmed[..i], trim_slashes(&trimmed[i + 1..])),
        None => (trimmed, &b""[..]),
    };
    let module = std::str::from_utf8(module).map_err(|_| bad(arg, "the module name must be UTF-8"))?.to_owned();
    Ok(Remote { host, port, module, path: path.to_vec(), trailing_slash, ssh: None })
}

/// `[user@]HOST:path` over ssh (`port` from an `ssh://` URL): the far side
/// serves the directory above the path's last component.
fn over_ssh(arg: &OsStr, login: &[u8], port: Option<u16>, path: &[u8]) -> Result<Remote> {
    let login = std::str::from_utf8(login).map_err(|_| bad(arg, "the host name must be UTF-8"))?.to_owned();
    if login.is_empty() || login.ends_with('@') || login.starts_with('-') {
        return Err(bad(arg, "ssh needs a host before `:`"));
    }
    // `~` and `~/x` are the home; `~user` is another's, which only a shell knows.
    let path = match path {
        b"~" => &b""[..],
        _ => match path.strip_prefix(b"~/") {
            Some(rest) => rest,
            None if path.starts_with(b"~") => {
                return Err(Error::new(ErrorKind::Unsupported, "blit cannot expand `~user` on the far side")
                    .with_path(arg.to_string_lossy().into_owned())
                    .with_hint("write the absolute path of that home"))
            }
            None => path,
        },
    };
    let trailing_slash = path.is_empty() || path.ends_with(b"/");
    let absolute = path.starts_with(b"/");
    let mut trimmed = path;
    while let Some(r) = trimmed.strip_suffix(b"/") {
        trimmed = r;
    }
    let (dir, name) = match trimmed.iter().rposition(|b| *b == b'/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (&b""[..], trimmed),
    };
    // `.` and `..` are directories to serve, not names inside one.
    let (dir, name) = if name == b"." || name == b".." { (trimmed, &b""[..]) } else { (dir, name) };
    let dir = match (dir.is_empty(), absolute) {
        (true, true) => b"/".to_vec(),
        (true, false) => b".".to_vec(),
        (false, _) => dir.to_vec(),
    };
    Ok(Remote {
        host: login.clone(),
        port: 0,
        module: SSH_MODULE.to_owned(),
        path: name.to_vec(),
        trailing_slash,
        ssh: Some(Ssh { login, port, dir }),
    })
}

/// `ssh://[user@]HOST[:PORT]/path` (`url` is what follows `ssh://`): the
/// path is absolute, or below the home after `/~/`.
fn parse_ssh_url(arg: &OsStr, url: &[u8]) -> Result<Remote> {
    let slash = url.iter().position(|b| *b == b'/').unwrap_or(url.len());
    let (authority, path) = (&url[..slash], &url[slash..]);
    let (login, port) = match authority.iter().rposition(|b| *b == b':') {
        Some(i) if !authority[i + 1..].contains(&b']') => {
            let text = std::str::from_utf8(&authority[i + 1..]).unwrap_or_default();
            let port = text
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(arg, "port must be a number from 1 to 65535"))?;
            (&authority[..i], Some(port))
        }
        _ => (authority, None),
    };
    let login: Vec<u8> = login.iter().copied().filter(|b| *b != b'[' && *b != b']').collect();
    let path = match path {
        b"" | b"/~" => &b""[..],
        _ => path.strip_prefix(b"/~/").unwrap_or(path),
    };
    over_ssh(arg, &login, port, path)
}

/// `blit://HOST[:PORT]/module/path` (`url` is what follows `blit://`).
fn parse_url(arg: &OsStr, url: &[u8]) -> Result<Remote> {
    let Some(slash) = url.iter().position(|b| *b == b'/') else {
        return Err(bad(arg, "a blit:// address needs /module after the host"));
    };
    let (authority, path) = (&url[..slash], &url[slash..]);
    // `HOST:PORT` and `[IPv6]:PORT` become the `HOST:PORT:/...` form.
    let mut canonical = authority.to_vec();
    let after_host = authority.rsplit(|b| *b == b']').next().unwrap_or_default();
    if !after_host.contains(&b':') {
        canonical.extend_from_slice(format!(":{DEFAULT_PORT}").as_bytes());
    }
    canonical.extend_from_slice(b":");
    canonical.extend_from_slice(path);
    match parse(OsStr::from_bytes(&canonical)) {
        Ok(Some(r)) if !authority.is_empty() && !r.module.is_empty() => Ok(r),
        _ => Err(bad(arg, "write blit://HOST/module/path or blit://HOST:PORT/module/path")),
    }
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
        .with_hint(
            "over ssh write [user@]HOST:path; for a blitd daemon HOST::module/path, HOST:PORT:/module/path \
             or blit://HOST:PORT/module/path",
        )
}

/// Parses `HOST`, `HOST:PORT`, `[IPv6]` or `[IPv6]:PORT` (for `blit modules`).
pub(crate) fn parse_host(arg: &str) -> Result<(String, u16)> {
    let arg = arg.trim_end_matches(':');
    let port = arg.rsplit_once(':').filter(|(host, port)| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && (!host.contains(':') || host.ends_with(']'))
    });
    let probe = if port.is_some() { format!("{arg}:/x") } else { format!("{arg}::x") };
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

    /// The ssh parts of `s`: login, port, served directory, path below it.
    fn ssh(s: &str) -> (String, Option<u16>, String, String, bool) {
        let r = p(s).unwrap();
        let ssh = r.ssh.unwrap_or_else(|| panic!("{s} is not ssh"));
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        (ssh.login, ssh.port, text(&ssh.dir), text(&r.path), r.trailing_slash)
    }

    #[test]
    fn daemon_forms() {
        let r = p("127.0.0.1:9999:/m/a/b").unwrap();
        assert_eq!((r.port, r.module.as_str(), r.path.as_slice(), r.trailing_slash), (9999, "m", &b"a/b"[..], false));
        assert!(r.ssh.is_none());
        let r = p("[fe80::1]:7000:/m/x").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("fe80::1", 7000));
        let r = p("backup::photos/2024/").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.module.as_str()), ("backup", DEFAULT_PORT, "photos"));
        assert_eq!((r.path.as_slice(), r.trailing_slash, r.ssh.is_none()), (&b"2024"[..], true, true));
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
        for s in ["blit://h", "blit://h/", "blit:///m", "h::", "h::/m", "h:99999:/m", "h:0:/m", "h:12:x"] {
            let e = parse(OsStr::new(s)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{s}: {e}");
        }
        let e = parse(OsStr::new("me@h::m")).unwrap_err();
        assert!(e.hint().unwrap_or_default().contains("--secret-file"), "{e}");
        assert_eq!(parse_host("h:12").unwrap(), ("h".to_owned(), 12));
        assert_eq!(parse_host("h").unwrap(), ("h".to_owned(), DEFAULT_PORT));
        assert_eq!(parse_host("[::1]").unwrap(), ("::1".to_owned(), DEFAULT_PORT));
        assert_eq!(parse_host("[::1]:8").unwrap(), ("::1".to_owned(), 8));
    }

    #[test]
    fn ssh_forms_serve_the_directory_above_the_last_component() {
        let own = |l: &str, d: &str, n: &str, t: bool| (l.to_owned(), None, d.to_owned(), n.to_owned(), t);
        assert_eq!(ssh("user@host:/srv/backup/"), own("user@host", "/srv", "backup", true));
        assert_eq!(ssh("host:/srv/backup"), own("host", "/srv", "backup", false));
        assert_eq!(ssh("host:/photos"), own("host", "/", "photos", false));
        assert_eq!(ssh("host:/"), own("host", "/", "", true));
        assert_eq!(ssh("server:backup/"), own("server", ".", "backup", true));
        assert_eq!(ssh("server:a/b/c"), own("server", "a/b", "c", false));
        assert_eq!(ssh("server:"), own("server", ".", "", true));
        assert_eq!(ssh("server:~"), own("server", ".", "", true));
        assert_eq!(ssh("server:~/x/y"), own("server", "x", "y", false));
        assert_eq!(ssh("server:../up"), own("server", "..", "up", false));
        assert_eq!(ssh("server:a/.."), own("server", "a/..", "", false));
        assert_eq!(ssh("[::1]:/srv/x"), own("::1", "/srv", "x", false));
        assert_eq!(
            ssh("ssh://me@h:2222/srv/x"),
            ("me@h".to_owned(), Some(2222), "/srv".to_owned(), "x".to_owned(), false)
        );
        assert_eq!(ssh("ssh://h/~/x"), own("h", ".", "x", false));
        assert_eq!(ssh("ssh://h"), own("h", ".", "", true));
        assert_eq!(ssh("ssh://[::1]:22/x"), ("::1".to_owned(), Some(22), "/".to_owned(), "x".to_owned(), false));
        let r = p("user@host:/srv/x").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.module.as_str()), ("user@host", 0, SSH_MODULE));
        for s in ["server:~bob/x", "ssh://h:0/x", "@:x", "ssh:///x"] {
            assert!(parse(OsStr::new(s)).is_err(), "{s}");
        }
    }

    #[test]
    fn local_paths_stay_local() {
        for s in ["/abs/path", "rel/path", "./host:/x", "dir/a:b", "C", ":x", "", "[::1]"] {
            assert!(p(s).is_none(), "{s} parsed as remote");
        }
        let e = parse(OsStr::new("rsync://h:873/m/x")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.hint().unwrap_or_default().contains("blit://h:873/m/x"), "{e}");
    }
}
