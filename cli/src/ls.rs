//! `blit ls HOST::module/path` (or `HOST:path` over ssh): a remote directory in long form (as an
//! rsync daemon's listing is), sorted by name; `-R` goes down every
//! subdirectory and shows each entry by its path below the listed one (as
//! `rsync -r host::module/` does); a file is shown by its own name.
//!
//! Each directory is one `List` call through the daemon's contained
//! descriptor layer ([`crate::remote_walk`], shared with `du` and `find`).

use crate::inspect::{finish, runtime};
use crate::remote_walk::{self, Step};
use crate::{remote, LsArgs};
use blit_api::{FileHeader, FileKind, Result};

/// Lists a remote directory (or file).
pub(crate) fn ls(args: LsArgs) -> u8 {
    finish((|| {
        let target = remote_walk::daemon_target(&args.target, "ls", "lists")?;
        runtime()?.block_on(walk(&target, &args))
    })())
}

/// Prints the listing of `top`, and with `-R` every directory's entries
/// right after the directory ([`remote_walk`]).
async fn walk(top: &remote::Remote, args: &LsArgs) -> Result<()> {
    let route = remote_walk::route(top, &args.connect)?;
    remote_walk::walk(top, &*route, args.recursive, |step| {
        if let Step::Entry(h) | Step::Itself(h) = step {
            print_entry(&h, args.json);
        }
        Ok(())
    })
    .await
}

fn print_entry(h: &FileHeader, json: bool) {
    if json {
        println!("{}", remote_walk::entry_json(h));
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
}
