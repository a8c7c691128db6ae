//! Shared fixtures: an in-process daemon, trees, snapshots and canonical
//! event logs.

#![allow(dead_code, unreachable_pub)]

use blit_api::{ProgressEvent, RecordingSink, RelPath, Result, TransferOptions, TransferSummary};
use blit_daemon::{DaemonConfig, ModuleConfig};
use blit_engine::{run_local, DestinationRoles, LocalTransfer, SourceRoles};
use blit_transport_grpc::{GrpcConfig, RemoteSpec};
use blit_transport_local::{LocalDestination, LocalSource, LocalTransport};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{File, FileTimes};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

/// A daemon running in this process on 127.0.0.1:0.
pub struct Daemon {
    pub addr: SocketAddr,
    running: blit_daemon::Running,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Daemon {
    /// Serves `(name, dir, read_only)` modules.
    pub async fn start(modules: &[(&str, &Path, bool)]) -> Daemon {
        Self::start_with(modules, |_| {}).await
    }

    /// Like [`Daemon::start`], with `tune` applied to the configuration
    /// last (limits, timeouts).
    pub async fn start_with(modules: &[(&str, &Path, bool)], tune: impl FnOnce(&mut DaemonConfig)) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = DaemonConfig::new();
        for (name, path, read_only) in modules {
            let comment = format!("the {name} module");
            config
                .add_module(ModuleConfig { read_only: *read_only, comment, ..ModuleConfig::new(*name, *path) })
                .unwrap();
        }
        config.shutdown_grace = Duration::from_secs(1);
        tune(&mut config);
        let running = config.running.clone();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(blit_daemon::run(listener, config, async move {
            stopped.await.ok();
        }));
        Daemon { addr, running, stop: Some(stop), task }
    }

    /// `127.0.0.1:PORT:/module/path`.
    pub fn remote(&self, module: &str, path: &str) -> RemoteSpec {
        let path = RelPath::from_bytes(path.as_bytes().to_vec()).unwrap();
        RemoteSpec::new("127.0.0.1", self.addr.port(), module, path)
    }

    /// Waits (at most 10 s) until no session runs: a session ends when its
    /// reader stops, a moment after the client saw its end.
    pub async fn idle(&self) {
        let waited = tokio::time::timeout(Duration::from_secs(10), self.running.idle()).await;
        waited.unwrap_or_else(|_| panic!("{} sessions still run after 10 s", self.running.now()));
    }

    /// Stops the daemon and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        let result = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        result.expect("the daemon stops within 10 s").unwrap().unwrap();
    }
}

fn local(root: &Path) -> (Arc<LocalSource>, Arc<LocalDestination>) {
    (Arc::new(LocalSource::new(root.to_path_buf())), Arc::new(LocalDestination::new(root.to_path_buf())))
}

/// A client configuration carrying `secret` (none for `None`).
pub fn with_secret(secret: Option<&str>) -> GrpcConfig {
    GrpcConfig::new().secret(secret.map(|s| blit_transport_grpc::Secret::new(s, "test").unwrap()))
}

/// Pushes `src` to `remote`.
pub async fn push(
    src: &Path,
    remote: &RemoteSpec,
    options: &TransferOptions,
) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    push_with(src, remote, options, &GrpcConfig::default()).await
}

/// Pushes `src` to `remote` with `config` (secret, TLS, transport).
pub async fn push_with(
    src: &Path,
    remote: &RemoteSpec,
    options: &TransferOptions,
    config: &GrpcConfig,
) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    let (source, _) = local(src);
    let events = RecordingSink::new();
    let roles = SourceRoles { source: source.clone(), reader: source };
    let r = blit_transport_grpc::push(remote, roles, options, config, events.clone()).await;
    (r, events.events())
}

/// Pulls `remote` into `dst`.
pub async fn pull(
    remote: &RemoteSpec,
    dst: &Path,
    options: &TransferOptions,
) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    pull_with(remote, dst, options, &GrpcConfig::default()).await
}

/// Pulls `remote` into `dst` with `config` (secret, TLS, transport).
pub async fn pull_with(
    remote: &RemoteSpec,
    dst: &Path,
    options: &TransferOptions,
    config: &GrpcConfig,
) -> (Result<TransferSummary>, Vec<ProgressEvent>) {
    let (_, destination) = local(dst);
    let events = RecordingSink::new();
    let roles = DestinationRoles { sink: destination.clone(), writer: destination };
    let r = blit_transport_grpc::pull(remote, roles, options, config, events.clone()).await;
    (r, events.events())
}

/// A local copy of `src` to `dst`, the reference for events.
pub async fn copy_local(src: &Path, dst: &Path, options: &TransferOptions) -> (TransferSummary, Vec<ProgressEvent>) {
    let (source, _) = local(src);
    let (_, destination) = local(dst);
    let transfer = LocalTransfer {
        source: SourceRoles { source: source.clone(), reader: source },
        destination: DestinationRoles { sink: destination.clone(), writer: destination },
        transport: Arc::new(LocalTransport::new()),
        options: options.clone(),
    };
    let events = RecordingSink::new();
    let summary = run_local(transfer, events.clone()).await.unwrap();
    (summary, events.events())
}

fn write(path: &Path, len: usize, seed: u8) {
    let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed)).collect();
    std::fs::write(path, data).unwrap();
}

fn set_mtime(path: &Path, secs: u64, nanos: u32) {
    let t = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
    File::open(path).unwrap().set_times(FileTimes::new().set_modified(t).set_accessed(t)).unwrap();
}

/// A tree with every kind of entry: empty, small (enough for several
/// shards), and multi-chunk files, empty directories, symlinks, names that
/// are not UTF-8, modes and nanosecond mtimes.
pub fn build_tree(root: &Path) {
    let odd = OsStr::from_bytes(b"d\xffir");
    for dir in ["a/b/c", "empty", "small"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::create_dir_all(root.join(odd)).unwrap();
    for i in 0..1100 {
        write(&root.join(format!("small/s{i:04}")), (i * 7) % 900, i as u8);
    }
    write(&root.join("zero"), 0, 0);
    write(&root.join("a/mid"), 300 * 1024, 3);
    write(&root.join("a/b/c/big"), 2 * 1024 * 1024 + 4321, 9);
    write(&root.join(odd).join(OsStr::from_bytes(b"f\xfe \n")), 77, 5);
    symlink("small/s0001", root.join("rel-link")).unwrap();
    symlink("/nonexistent/target", root.join("abs-link")).unwrap();
    symlink(OsStr::from_bytes(b"\xff"), root.join("a/odd-link")).unwrap();
    std::fs::set_permissions(root.join("zero"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(root.join("a/mid"), std::fs::Permissions::from_mode(0o751)).unwrap();
    std::fs::set_permissions(root.join("a/b"), std::fs::Permissions::from_mode(0o750)).unwrap();
    for (i, file) in ["zero", "a/mid", "a/b/c/big", "small/s0005"].iter().enumerate() {
        set_mtime(&root.join(file), 1_600_000_000 + i as u64, 123_456_789 + i as u32);
    }
    for (i, dir) in ["a/b/c", "a/b", "a", "empty", ""].iter().enumerate() {
        set_mtime(&root.join(dir), 1_500_000_000 + i as u64, 987_654_321 - i as u32);
    }
}

/// Every entry below `root` (and `root` itself): kind, mode and nanosecond
/// mtime, then a content hash or a link target.
pub fn snapshot(root: &Path) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    let describe = |path: &Path| {
        let m = std::fs::symlink_metadata(path).unwrap();
        let meta = format!("{:o} {}.{:09}", m.mode() & 0o7777, m.mtime(), m.mtime_nsec());
        if m.is_dir() {
            format!("dir {meta}")
        } else if m.file_type().is_symlink() {
            format!("link {:?}", std::fs::read_link(path).unwrap())
        } else {
            format!("file {meta} {}", blake3::hash(&std::fs::read(path).unwrap()))
        }
    };
    out.push((Vec::new(), describe(root)));
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            let rel = path.strip_prefix(root).unwrap().as_os_str().as_bytes().to_vec();
            out.push((rel, describe(&path)));
        }
    }
    out.sort();
    out
}

/// The paths below `dir`, sorted (for "nothing was written" checks).
pub fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<_> = snapshot(dir).into_iter().map(|(p, _)| PathBuf::from(OsStr::from_bytes(&p))).collect();
    out.sort();
    out
}

/// The canonical form of an event log: no timings or manifest progress,
/// need batches and byte steps merged, per-path groups in path order,
/// transport, direction and zero-copy details blanked.
pub fn canonical(events: &[ProgressEvent]) -> Vec<String> {
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let (mut need_files, mut need_bytes) = (0, 0);
    let mut groups: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    for event in events {
        let (path, line) = match event {
            ProgressEvent::Started { dry_run, .. } => {
                head.push(format!("started dry_run={dry_run}"));
                continue;
            }
            ProgressEvent::ManifestProgress { .. } => continue,
            ProgressEvent::NeedBatch { files, bytes } => {
                need_files += files;
                need_bytes += bytes;
                continue;
            }
            ProgressEvent::ManifestComplete { entries, bytes, complete } => {
                head.push(format!("manifest {entries} {bytes} {complete}"));
                continue;
            }
            ProgressEvent::Finished { summary: s } => {
                tail.push(format!(
                    "finished entries={} files={} bytes={} deleted={} failures={} dry_run={}",
                    s.entries_scanned,
                    s.entries_transferred,
                    s.bytes_transferred,
                    s.deleted,
                    s.failures.len(),
                    s.dry_run
                ));
                continue;
            }
            ProgressEvent::Failed { kind, .. } => {
                tail.push(format!("failed {kind}"));
                continue;
            }
            ProgressEvent::FileBytes { path, bytes, .. } => {
                let group = groups.entry(path.as_bytes().to_vec()).or_default();
                match group.last_mut().and_then(|l| l.strip_prefix("bytes ").map(|n| n.parse::<u64>().unwrap())) {
                    Some(n) => *group.last_mut().unwrap() = format!("bytes {}", n + bytes),
                    None => group.push(format!("bytes {bytes}")),
                }
                continue;
            }
            ProgressEvent::Planned { path, kind, size, new } => (path, format!("planned {kind:?} {size} new={new}")),
            ProgressEvent::FileStarted { path, kind, size } => (path, format!("started {kind:?} {size}")),
            ProgressEvent::FileDone { path, kind, bytes } => (path, format!("done {kind:?} {bytes}")),
            ProgressEvent::FileFailed { path, kind, .. } => (path, format!("failed {kind}")),
            ProgressEvent::Deleted { path, kind } => (path, format!("deleted {kind:?}")),
            other => (&RelPath::root(), format!("{other:?}")),
        };
        groups.entry(path.as_bytes().to_vec()).or_default().push(line);
    }
    head.insert(1.min(head.len()), format!("need {need_files} {need_bytes}"));
    let body = groups.into_iter().flat_map(|(p, lines)| {
        let p = String::from_utf8_lossy(&p).into_owned();
        lines.into_iter().map(move |l| format!("{p:?}: {l}"))
    });
    head.into_iter().chain(body).chain(tail).collect()
}

/// Asserts two canonical logs are equal, printing both in full otherwise.
pub fn assert_same_events(what: &str, got: &[ProgressEvent], want: &[ProgressEvent]) {
    let (got, want) = (canonical(got), canonical(want));
    if got != want {
        panic!("{what}: event logs differ\n--- got\n{}\n--- want (local)\n{}", got.join("\n"), want.join("\n"));
    }
}

/// The `Open` frame of a session on the root of module `m`: `role`, the
/// `transport` asked for, and room for `manifest_items` (2 need batches).
pub fn open_frame(role: blit_proto::pb::Role, transport: &str, manifest_items: u32) -> blit_proto::pb::Frame {
    use blit_proto::pb;
    let open = pb::Open {
        protocol_version: blit_proto::PROTOCOL_VERSION,
        module: "m".into(),
        path: prost::bytes::Bytes::new(),
        role: role as i32,
        options: None,
        transport: transport.into(),
        window: Some(pb::Window { manifest_items, need_batches: 2, takes_ahead: false }),
    };
    pb::Frame { body: Some(pb::frame::Body::Open(open)) }
}
