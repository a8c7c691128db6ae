//! `blit rm HOST:/module/path...`: removes files, symlinks and directory
//! trees on a daemon. The daemon removes through its held descriptors,
//! depth-first, never following a symlink (a symlink is removed as the
//! link, never what it points to), and refuses read-only modules and a
//! module's root; this side refuses the root too, and `..`, before asking.
//!
//! Unless `-y`, each removal is asked for on the terminal (`remove
//! /module/path? [y/N]`, anything but y or yes keeps it). Without a
//! terminal to ask on and without `-y`, nothing is removed and the exit
//! code is 64, as for any command line that cannot run as given: a script
//! must say `-y`.

use crate::inspect::{finish, runtime};
use crate::remote_walk;
use crate::{RmArgs, EXIT_USAGE};
use blit_api::{Error, ErrorKind, Result};
use std::io::{BufRead, IsTerminal, Write};

/// Removes each target, in order; the first error stops.
pub(crate) fn rm(args: RmArgs) -> u8 {
    if !args.yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "blit: error: blit rm asks before it removes, and there is no terminal to ask on \
             (pass -y to remove without asking)"
        );
        return EXIT_USAGE;
    }
    finish((|| {
        // Every target is checked before anything is asked or removed.
        let mut targets = Vec::with_capacity(args.targets.len());
        for arg in &args.targets {
            let top = remote_walk::daemon_target(arg, "rm", "removes")?;
            let shown = remote_walk::shown(&top);
            let path = crate::wiring::remote_path(&top).map_err(|e| e.with_path(shown.clone()))?;
            if path.is_root() {
                return Err(Error::new(ErrorKind::PermissionDenied, "refused: blit rm never removes a module's root")
                    .with_path(shown)
                    .with_hint(format!("name an entry inside it, such as /{}/old; `blit ls` lists them", top.module)));
            }
            let route = remote_walk::route(&top, &args.connect)?;
            targets.push((shown, crate::wiring::target(&top, path), route));
        }
        let rt = runtime()?;
        for (shown, target, route) in &targets {
            if !args.yes && !ask(shown)? {
                eprintln!("blit: kept {}", crate::escape::for_terminal(shown));
                continue;
            }
            rt.block_on(route.remove(target))?;
            if args.verbose {
                println!("removed {}", crate::escape::for_terminal(shown));
            }
        }
        Ok(())
    })())
}

/// Asks on the terminal whether to remove `shown`; only y or yes (any
/// case) says so.
fn ask(shown: &str) -> Result<bool> {
    eprint!("remove {}? [y/N] ", crate::escape::for_terminal(shown));
    std::io::stderr().flush().map_err(|e| Error::io("ask", "stderr", e))?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Error::io("read the answer", "stdin", e))?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
