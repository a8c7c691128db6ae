//! `blit df HOST:/module[/path]`: the size and free space of the file
//! system that holds a module (or a path in it), as the daemon's
//! `fstatvfs` of its held descriptor reports them; `blit df HOST` shows
//! every module the daemon serves. Bytes are exact unless `-h`; use% is
//! used / (used + available), rounded up, as `df` computes it.

use crate::inspect::{finish, runtime};
use crate::remote::{self, Remote};
use crate::remote_walk;
use crate::DfArgs;
use blit_api::Space;

/// Prints the space of one module path or of every module of a daemon.
pub(crate) fn df(args: DfArgs) -> u8 {
    finish((|| {
        let rt = runtime()?;
        // `HOST` and `HOST:PORT` name a daemon (every module); anything
        // else is one remote path (`HOST::module`, `HOST:path` over ssh).
        let daemon_only = args.target.to_str().is_some_and(|a| {
            let after_host = a.rsplit_once(']').map_or(a, |(_, rest)| rest);
            let tail = after_host.rsplit_once(':').map_or("", |(_, port)| port);
            !a.contains('/') && !after_host.contains("::") && tail.bytes().all(|b| b.is_ascii_digit())
        });
        let parsed = if daemon_only { Ok(None) } else { remote::parse(&args.target) };
        let targets = match parsed {
            Ok(Some(target)) => vec![target],
            parsed => {
                let Some((host, port)) = args.target.to_str().and_then(|a| remote::parse_host(a).ok()) else {
                    parsed?;
                    return remote_walk::daemon_target(&args.target, "df", "measures").map(drop);
                };
                let daemon = blit_transports::route(&args.connect.reach(Default::default()))?;
                let modules = rt.block_on(daemon.modules(&host, port))?;
                let module = |name| Remote {
                    host: host.clone(),
                    port,
                    module: name,
                    path: Vec::new(),
                    trailing_slash: true,
                    ssh: None,
                };
                modules.into_iter().map(|m| module(m.name)).collect()
            }
        };
        if !args.output.json {
            print_head(&args);
        }
        for top in &targets {
            let target = crate::wiring::target(top, crate::wiring::remote_path(top)?);
            let space = rt.block_on(remote_walk::route(top, &args.connect)?.space(&target))?;
            print(&remote_walk::shown(top), &space, &args);
        }
        Ok(())
    })())
}

/// Used as a share of what a user may fill, in percent rounded up.
fn use_percent(space: &Space) -> Option<u64> {
    let used = space.used_bytes();
    let room = used.checked_add(space.available_bytes).filter(|r| *r > 0)?;
    Some((u128::from(used) * 100).div_ceil(u128::from(room)) as u64)
}

fn print_head(args: &DfArgs) {
    let mut line = format!("{:<20} {:>15} {:>15} {:>15} {:>5}", "PATH", "SIZE", "USED", "AVAIL", "USE%");
    if args.inodes {
        line.push_str(&format!(" {:>12} {:>12}", "INODES", "IFREE"));
    }
    println!("{line}");
}

fn print(shown: &str, space: &Space, args: &DfArgs) {
    if args.output.json {
        let mut v = serde_json::to_value(space).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("schema".into(), crate::report::JSON_SCHEMA.into());
            o.insert("path".into(), shown.into());
            o.insert("used_bytes".into(), space.used_bytes().into());
        }
        println!("{v}");
        return;
    }
    let size = |n: u64| args.output.bytes(n);
    let percent = use_percent(space).map_or("-".to_owned(), |p| format!("{p}%"));
    let mut line = format!(
        "{:<20} {:>15} {:>15} {:>15} {percent:>5}",
        crate::escape::for_terminal(shown),
        size(space.total_bytes),
        size(space.used_bytes()),
        size(space.available_bytes),
    );
    if args.inodes {
        line.push_str(&format!(" {:>12} {:>12}", space.total_inodes, space.free_inodes));
    }
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn use_percent_rounds_up_and_knows_an_empty_file_system() {
        let s = Space { total_bytes: 1000, free_bytes: 600, available_bytes: 550, ..Space::default() };
        // 400 used of 950 a user may fill: 42.1%, shown as 43%.
        assert_eq!(use_percent(&s), Some(43));
        assert_eq!(use_percent(&Space::default()), None);
    }
}
