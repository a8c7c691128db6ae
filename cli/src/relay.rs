//! A copy between two daemons (`blit copy HOST1::m/src HOST2::m/dst`): the
//! source daemon pushes to the destination daemon, and this command only
//! asks and watches.
//!
//! It proves the destination module's secret and asks that daemon for a
//! one-time grant for exactly this push (module, path, options), then
//! proves the source module's secret and asks the source daemon to push
//! there with the grant (`Relay`). The user's secret never reaches the
//! other daemon, and no file byte passes through here: what comes back is
//! the push's progress, rendered and summed up as a push's. The source
//! module must allow it (`allow_relay = true` in the source's blitd.toml).
//! The destination's secret is `--dst-secret-file` when the two differ.
//!
//! The destination root follows the trailing-slash rule of every copy:
//! `HOST1::m/photos HOST2::n/backup/` lands in `backup/photos`, as a push
//! of a local `photos` would. Over ssh (`HOST:path`) there is no daemon to
//! relay through, and the command says so.

use crate::endpoints::SourceArg;
use crate::remote::Remote;
use crate::wiring::{self, Link};
use blit_api::{Error, ErrorKind, Events, Result, TransferOptions, TransferSummary};
use blit_transports::remote::{Reach, RelayTarget};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Copies `from` (the argument `src`) on one daemon to `to` (the argument
/// `dst`) on another, daemon to daemon.
pub(crate) async fn copy(
    (src, from): (&OsStr, &Remote),
    (dst, to): (&OsStr, &Remote),
    options: TransferOptions,
    link: &Link,
    events: Events,
) -> Result<TransferSummary> {
    if from.ssh.is_some() || to.ssh.is_some() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "{} -> {}: a copy between two remote endpoints runs from daemon to daemon, and ssh endpoints have none",
                src.to_string_lossy(),
                dst.to_string_lossy()
            ),
        )
        .with_hint(
            "name both as blitd modules (HOST::module/path, blit://HOST:PORT/module/path or HOST:PORT:/module/path), \
             or copy through this machine: pull to a local path, then push from it",
        ));
    }
    let source = link.route(from)?;
    let destination = link.destination_route(to)?;
    let from_path = wiring::remote_path(from)?;
    let name = from.path.rsplit(|b| *b == b'/').next().filter(|n| !n.is_empty());
    let contents = from.trailing_slash || from_path.is_root();
    let from_target = wiring::target(from, from_path);
    // Only a named entry whose kind decides where it lands needs a look.
    let into_dir = to.trailing_slash || to.path.is_empty();
    let is_dir = match (contents, into_dir) {
        (false, false) => wiring::is_dir(&*source, &from_target).await?,
        _ => true,
    };
    let arg =
        SourceArg { path: PathBuf::new(), is_dir, contents, name: name.map(|n| OsString::from(OsStr::from_bytes(n))) };
    let root = wiring::push_root(&arg, to)?;
    let to_target = wiring::target(to, root);
    let grant = destination.grant(&to_target, &options).await?;
    let tls = link.connect.reach(Reach::default()).tls;
    let to = RelayTarget { target: to_target, grant, tls };
    source.relay(&from_target, &to, &options, events).await
}
