//! `blit modules HOST` and `blit ls HOST:/module/path`.

use crate::{remote, ConnectArgs, LsArgs, ModulesArgs, EXIT_FATAL, EXIT_OK};
use blit_api::{Error, ErrorKind, FileHeader, FileKind, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start runtime", "blit", e))
}

fn finish(result: Result<()>) -> u8 {
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("blit: error: {}", crate::escape::for_terminal(&e.to_string()));
            EXIT_FATAL
        }
    }
}

/// Prints the modules of a daemon.
pub(crate) fn modules(args: ModulesArgs) -> u8 {
    finish((|| {
        let (host, port) = remote::parse_host(&args.host)?;
        let modules = runtime()?.block_on(imp::modules(&host, port, &args.connect))?;
        for m in modules {
            if args.json {
                let v = serde_json::json!({"schema": crate::report::JSON_SCHEMA, "name": m.name, "comment": m.comment, "read_only": m.read_only});
                println!("{v}");
            } else {
                let ro = if m.read_only { "ro" } else { "rw" };
                let (name, comment) = (crate::escape::for_terminal(&m.name), crate::escape::for_terminal(&m.comment));
                println!("{name:<20} {ro}  {comment}");
            }
        }
        Ok(())
    })())
}

/// Lists a remote directory.
pub(crate) fn ls(args: LsArgs) -> u8 {
    finish((|| {
        let Some(target) = remote::parse(&args.target)? else {
            return Err(Error::new(ErrorKind::InvalidInput, "`blit ls` lists a daemon's files")
                .with_path(args.target.to_string_lossy().into_owned())
                .with_hint("write HOST:/module/path; use `ls` for local paths"));
        };
        runtime()?.block_on(imp::list(&target, &args.connect, &mut |h: FileHeader| print_entry(&h, args.json)))
    })())
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

mod imp {
    use super::*;
    use blit_transports::remote::{Module, Reach};
    use blit_transports::route;

    pub(super) async fn modules(host: &str, port: u16, connect: &ConnectArgs) -> Result<Vec<Module>> {
        route(&connect.reach(Reach::default()))?.modules(host, port).await
    }

    pub(super) async fn list(
        target: &remote::Remote,
        connect: &ConnectArgs,
        each: &mut (dyn FnMut(FileHeader) + Send),
    ) -> Result<()> {
        let target = crate::wiring::target(target, crate::wiring::remote_path(target)?);
        route(&connect.reach(Reach::default()))?.list(&target, each).await
    }
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
