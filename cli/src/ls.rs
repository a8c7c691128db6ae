//! `blit ls HOST::module/path` (or `HOST:path` over ssh): a remote directory in long form (as an
//! rsync daemon's listing is), sorted by name; `-R` goes down every
//! subdirectory and shows each entry by its path below the listed one (as
//! `rsync -r host::module/` does); a file is shown by its own name.
//!
//! Each directory is one `List` call through the daemon's contained
//! descriptor layer; what is held is the rest of each directory on the way
//! down to the one being printed.

use crate::inspect::{finish, runtime};
use crate::{remote, LsArgs};
use blit_api::{Error, ErrorKind, FileHeader, FileKind, Result};

/// Lists a remote directory (or file).
pub(crate) fn ls(args: LsArgs) -> u8 {
    finish((|| {
        let Some(target) = remote::parse(&args.target)? else {
            return Err(Error::new(ErrorKind::InvalidInput, "`blit ls` lists another machine's files")
                .with_path(args.target.to_string_lossy().into_owned())
                .with_hint("write HOST::module/path for a daemon or HOST:path over ssh; use `ls` for local paths"));
        };
        runtime()?.block_on(walk(&target, &args))
    })())
}

/// Prints the listing of `top`, and with `-R` every directory's entries
/// right after the directory (the order of sorted full paths, as rsync and
/// `find` show a tree).
async fn walk(top: &remote::Remote, args: &LsArgs) -> Result<()> {
    // The directories being printed, innermost last: each one's path below
    // `top` and the entries of it not printed yet.
    let mut open = vec![(Vec::new(), listing(top, &[], &args.connect).await?)];
    while let Some((below, entries)) = open.last_mut() {
        let Some(mut h) = entries.next() else {
            open.pop();
            continue;
        };
        let below = below.clone();
        if h.path.is_root() {
            // The target itself (a file or a symlink): its own name.
            h.path = named(&top.path);
        } else if !below.is_empty() {
            h.path = blit_api::RelPath::from_bytes(join(&below, h.path.as_bytes()))
                .map_err(|e| Error::new(ErrorKind::Protocol, e.message().to_owned()))?;
        }
        print_entry(&h, args.json);
        if args.recursive && h.kind == FileKind::Dir && !h.path.is_root() {
            let path = h.path.as_bytes().to_vec();
            let entries = listing(top, &path, &args.connect).await?;
            open.push((path, entries));
        }
    }
    Ok(())
}

/// The entries of `below` (a path below `top`), sorted by name.
async fn listing(
    top: &remote::Remote,
    below: &[u8],
    connect: &crate::ConnectArgs,
) -> Result<std::vec::IntoIter<FileHeader>> {
    let mut here = top.clone();
    if !below.is_empty() {
        here.path = join(&top.path, below);
    }
    let mut entries = Vec::new();
    list(&here, connect, &mut |h: FileHeader| entries.push(h)).await?;
    entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(entries.into_iter())
}

fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut joined = a.to_vec();
    if !joined.is_empty() {
        joined.push(b'/');
    }
    joined.extend_from_slice(b);
    joined
}

/// The last component of `path` as a path of its own (the root for none).
fn named(path: &[u8]) -> blit_api::RelPath {
    let name = path.rsplit(|b| *b == b'/').next().unwrap_or_default();
    blit_api::RelPath::from_bytes(name.to_vec()).unwrap_or_else(|_| blit_api::RelPath::root())
}

async fn list(
    target: &remote::Remote,
    connect: &crate::ConnectArgs,
    each: &mut (dyn FnMut(FileHeader) + Send),
) -> Result<()> {
    let route = crate::ssh::route(target, connect, blit_transports::remote::Reach::default())?;
    let target = crate::wiring::target(target, crate::wiring::remote_path(target)?);
    route.list(&target, each).await
}

fn print_entry(h: &FileHeader, json: bool) {
    if json {
        let mut v = serde_json::json!({
            "schema": crate::report::JSON_SCHEMA, "path": h.path, "kind": h.kind, "size": h.size,
            "mtime_ns": h.mtime_ns, "mode": h.mode,
            "link_target": h.link_target.as_deref().map(crate::names::exact_or_escaped),
        });
        crate::names::add_b64(&mut v, &h.path);
        if let Some(target) = h.link_target.as_deref().filter(|t| std::str::from_utf8(t).is_err()) {
            v["link_target_b64"] = crate::names::base64(target).into();
        }
        println!("{v}");
        return;
    }
    let kind = match h.kind {
        FileKind::Dir => 'd',
        FileKind::Symlink => 'l',
        FileKind::File => '-',
    };
    let mut perms = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (h.mode >> shift) & 7;
        perms.push(if bits & 4 != 0 { 'r' } else { '-' });
        perms.push(if bits & 2 != 0 { 'w' } else { '-' });
        perms.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    let name = if h.path.is_root() { ".".to_owned() } else { h.path.display() };
    let link = h.link_target.as_ref().map(|t| format!(" -> {}", blit_api::text::escape(t))).unwrap_or_default();
    let shown = crate::escape::for_terminal(&format!("{name}{link}")).into_owned();
    println!("{kind}{perms} {:>12} {} {shown}", h.size, utc(h.mtime_ns.div_euclid(1_000_000_000)));
}

/// `YYYY-MM-DD HH:MM` in UTC from Unix seconds.
fn utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = crate::log_file::civil(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00");
    }

    #[test]
    fn names_and_joins() {
        assert_eq!(super::named(b"a/b/file.txt").as_bytes(), b"file.txt");
        assert_eq!(super::named(b"top").as_bytes(), b"top");
        assert!(super::named(b"").is_root());
        assert_eq!(super::join(b"", b"x"), b"x");
        assert_eq!(super::join(b"a/b", b"x"), b"a/b/x");
    }
}
