//! Wiring the roles for each direction. Local, push and pull differ only in
//! where each role runs: the same `LocalSource` / `LocalDestination` serve
//! here and in the daemon, and the engine joins them.

use crate::endpoints::{self, SourceArg};
use crate::remote::Remote;
use crate::TransportArg;
use blit_api::{Error, ErrorKind, Events, FileHeader, RelPath, Result, TransferOptions, TransferSummary};
use blit_engine::{run_local, DestinationRoles, LocalTransfer, SourceRoles};
use blit_transports::local::{LocalDestination, LocalSource};
use blit_transports::remote::{Reach, Route, SecretSource, Target};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn source_roles(root: &Path) -> SourceRoles {
    let source = Arc::new(LocalSource::new(root.to_path_buf()));
    SourceRoles { source: source.clone(), reader: source }
}

fn destination_roles(root: &Path) -> DestinationRoles {
    let destination = Arc::new(LocalDestination::new(root.to_path_buf()));
    DestinationRoles { sink: destination.clone(), writer: blit_transports::bench_writer(destination) }
}

/// Local to local.
pub(crate) async fn local(
    src: &OsStr,
    dst: &OsStr,
    options: TransferOptions,
    events: Events,
) -> Result<TransferSummary> {
    let roots = endpoints::resolve(src, dst)?;
    endpoints::preflight(&roots, options.dry_run)?;
    let transport = blit_transports::registry().get(blit_transports::local::SCHEME)?;
    let transfer = LocalTransfer {
        source: source_roles(&roots.source),
        destination: destination_roles(&roots.destination),
        transport,
        // Both files are here: reading the old one to spare copying parts
        // of the new one saves nothing.
        options: options.delta(false),
    };
    run_local(transfer, events).await
}

/// The module-relative root a push writes to: the remote path, plus the
/// source's name when the trailing-slash rule puts the source inside it.
pub(crate) fn push_root(source: &SourceArg, remote: &Remote) -> Result<RelPath> {
    let mut path = remote.path.clone();
    let into_dir = remote.trailing_slash || remote.path.is_empty();
    if let Some(name) = source.name.as_ref().filter(|_| source.goes_inside(into_dir)) {
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name.as_bytes());
    }
    RelPath::from_bytes(path).map_err(|e| {
        Error::new(ErrorKind::InvalidInput, format!("bad remote path: {}", e.message()))
            .with_hint("remote paths are relative to the module and may not contain `..`")
    })
}

/// The local root a pull writes to. Without a trailing slash the remote
/// entry keeps its name inside DST when it is a directory, or when DST is a
/// directory; a remote file goes to the path DST otherwise.
pub(crate) fn pull_root(remote: &Remote, dst: &OsStr, remote_is_dir: bool) -> PathBuf {
    let dst_path = PathBuf::from(dst);
    let name = remote.path.rsplit(|b| *b == b'/').next().filter(|n| !n.is_empty());
    match name {
        Some(name) if !remote.trailing_slash && (remote_is_dir || endpoints::local_dir_target(dst)) => {
            dst_path.join(OsStr::from_bytes(name))
        }
        _ => dst_path,
    }
}

/// How a remote transfer carries its payload (`--transport`, `--streams`,
/// `--compress`), checked against what this build carries.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    /// Which transport.
    pub(crate) transport: TransportArg,
    /// Pinned data connections.
    pub(crate) streams: Option<u32>,
    /// Data-plane compression.
    pub(crate) compress: String,
    /// Secret and TLS.
    pub(crate) connect: crate::ConnectArgs,
    /// `--dst-secret-file`: the destination daemon's secret in a copy
    /// between two daemons.
    dst_secret_file: Option<std::path::PathBuf>,
    /// Routes over ssh made so far: every use of the same login and
    /// directory (a pull and a move's removals) shares one ssh connection.
    ssh_routes: SshRoutes,
}

/// The routes over ssh a [`Link`] made, by login, port and directory.
#[derive(Clone, Default)]
struct SshRoutes(Arc<std::sync::Mutex<Vec<SshRoute>>>);

/// A route over ssh and the login, port and directory it serves.
type SshRoute = (crate::remote::Ssh, Arc<dyn Route>);

impl std::fmt::Debug for SshRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshRoutes").finish_non_exhaustive()
    }
}

impl Link {
    /// The link the arguments ask for. `--transport tcp` and compression
    /// fail in a build without the TCP data plane; `auto` there means grpc.
    pub(crate) fn from_args(args: &crate::TransferArgs) -> Result<Link> {
        let settings = (args.transport, args.streams, args.compress.as_str(), args.rsync.z);
        Link::new(settings, args.connect.clone(), args.dst_secret_file.clone())
    }

    /// The link for `(--transport, --streams, --compress, -z)` with the
    /// secret and TLS of `connect` (a worker of a distributed job takes the
    /// first four from the job and `connect` from its own command line).
    pub(crate) fn new(
        (transport, streams, compress, z): (TransportArg, Option<u32>, &str, bool),
        connect: crate::ConnectArgs,
        dst_secret_file: Option<std::path::PathBuf>,
    ) -> Result<Link> {
        let not_built =
            || Error::new(ErrorKind::Unsupported, blit_transports::TCP_NOT_BUILT).with_hint("or use --transport grpc");
        let mut transport = transport;
        // -z: zstd where the data plane can carry it; nothing to do otherwise.
        let compress = match (z, compress) {
            (true, "none") if blit_transports::HAS_TCP_DATA_PLANE && transport != TransportArg::Grpc => "zstd",
            _ => compress,
        };
        if !blit_transports::HAS_TCP_DATA_PLANE {
            match transport {
                TransportArg::Tcp => return Err(not_built()),
                TransportArg::Auto => transport = TransportArg::Grpc,
                TransportArg::Grpc => {}
            }
            if compress != "none" {
                return Err(not_built());
            }
        }
        #[cfg(feature = "tcp-data-plane")]
        compress.parse::<blit_transports::tcp::Compression>()?;
        Ok(Link {
            transport,
            streams,
            compress: compress.to_owned(),
            connect,
            dst_secret_file,
            ssh_routes: SshRoutes::default(),
        })
    }

    /// The route to `remote` for this link (over ssh, or to its daemon).
    pub(crate) fn route(&self, remote: &Remote) -> Result<Arc<dyn Route>> {
        let Some(ssh) = &remote.ssh else {
            return crate::ssh::route(remote, &self.connect, self.reach());
        };
        let mut made = self.ssh_routes.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, route)) = made.iter().find(|(key, _)| key == ssh) {
            return Ok(route.clone());
        }
        let route = crate::ssh::route(remote, &self.connect, self.reach())?;
        made.push((ssh.clone(), route.clone()));
        Ok(route)
    }

    /// The route to the destination daemon of a copy between two daemons
    /// (`remote` is a daemon's), with its own secret when
    /// `--dst-secret-file` gives one.
    pub(crate) fn destination_route(&self, remote: &Remote) -> Result<Arc<dyn Route>> {
        let (Some(path), None) = (&self.dst_secret_file, &remote.ssh) else { return self.route(remote) };
        let mut reach = self.connect.reach(self.reach());
        reach.secret = Some(SecretSource::File { path: path.clone(), flag: "--dst-secret-file".to_owned() });
        blit_transports::route(&reach)
    }

    /// The transport settings of this link.
    fn reach(&self) -> Reach {
        Reach {
            transport: self.transport.name().to_owned(),
            streams: self.streams,
            compress: self.compress.clone(),
            ..Reach::default()
        }
    }
}

/// The module-relative path a remote argument names.
pub(crate) fn remote_path(remote: &Remote) -> Result<RelPath> {
    RelPath::from_bytes(remote.path.clone()).map_err(|e| {
        Error::new(ErrorKind::InvalidInput, format!("bad remote path: {}", e.message()))
            .with_hint("remote paths are relative to the module and may not contain `..`")
    })
}

/// The daemon, module and `path` a remote argument names.
pub(crate) fn target(remote: &Remote, path: RelPath) -> Target {
    Target { host: remote.host.clone(), port: remote.port, module: remote.module.clone(), path }
}

/// Local source to a daemon.
pub(crate) async fn push(
    src: &OsStr,
    remote: &Remote,
    options: TransferOptions,
    link: &Link,
    events: Events,
) -> Result<TransferSummary> {
    let route = link.route(remote)?;
    let source = endpoints::inspect_source(src)?;
    let root = push_root(&source, remote)?;
    route.push(&target(remote, root), source_roles(&source.path), &options, events).await
}

/// A daemon's tree to a local destination.
pub(crate) async fn pull(
    remote: &Remote,
    dst: &OsStr,
    options: TransferOptions,
    link: &Link,
    events: Events,
) -> Result<TransferSummary> {
    let route = link.route(remote)?;
    let path = remote_path(remote)?;
    let needs_kind = !remote.trailing_slash && !path.is_root() && !endpoints::local_dir_target(dst);
    let target = target(remote, path);
    let remote_is_dir = if needs_kind { is_dir(&*route, &target).await? } else { true };
    let root = pull_root(remote, dst, remote_is_dir);
    endpoints::check_destination(&root, options.dry_run)?;
    route.pull(&target, destination_roles(&root), &options, events).await
}

/// Whether the remote path names a directory: listing a non-directory
/// yields exactly that entry, under the root's (empty) path.
pub(crate) async fn is_dir(route: &dyn Route, target: &Target) -> Result<bool> {
    let mut itself = false;
    route.list(target, &mut |h: FileHeader| itself |= h.path.is_root()).await?;
    Ok(!itself)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::parse;

    fn remote(s: &str) -> Remote {
        parse(OsStr::new(s)).unwrap().unwrap()
    }

    #[test]
    fn push_root_follows_the_trailing_slash_rule() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("photos");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a.jpg"), b"x").unwrap();
        let src = endpoints::inspect_source(dir.as_os_str()).unwrap();
        assert_eq!(push_root(&src, &remote("h::m/backup")).unwrap().as_bytes(), b"backup/photos");
        let mut with_slash = dir.as_os_str().to_owned();
        with_slash.push("/");
        let src = endpoints::inspect_source(&with_slash).unwrap();
        assert_eq!(push_root(&src, &remote("h::m/backup")).unwrap().as_bytes(), b"backup");
        let file = endpoints::inspect_source(dir.join("a.jpg").as_os_str()).unwrap();
        assert_eq!(push_root(&file, &remote("h::m/in/")).unwrap().as_bytes(), b"in/a.jpg");
        assert_eq!(push_root(&file, &remote("h::m/renamed.jpg")).unwrap().as_bytes(), b"renamed.jpg");
        assert!(push_root(&file, &remote("h::m/../etc")).is_err());
    }

    #[test]
    fn pull_root_follows_the_trailing_slash_rule() {
        let t = tempfile::tempdir().unwrap();
        let dst = t.path().join("new");
        assert_eq!(pull_root(&remote("h::m/photos"), dst.as_os_str(), true), dst.join("photos"));
        assert_eq!(pull_root(&remote("h::m/photos/"), dst.as_os_str(), true), dst);
        assert_eq!(pull_root(&remote("h::m/a.jpg"), dst.as_os_str(), false), dst);
        assert_eq!(pull_root(&remote("h::m/a.jpg"), t.path().as_os_str(), false), t.path().join("a.jpg"));
        assert_eq!(pull_root(&remote("h::m"), dst.as_os_str(), true), dst);
    }
}
