//! Routes to daemons: how this build pushes to, pulls from, lists, asks and
//! administers (`df`, `rm`, `jobs`) blitd, and the one place that says so
//! when it cannot.
//!
//! [`crate::route`] gives the route a remote transfer takes: blit's gRPC
//! protocol to a daemon's port, or the same protocol through ssh
//! ([`Reach::via`]) to a `blit server` that ssh starts. A build without the `grpc`
//! feature has none, and every remote call fails with
//! [`blit_api::GRPC_NOT_BUILT`].

use blit_api::{Events, Expect, FileHeader, FileKind, Job, RelPath, Result, Space, TransferOptions, TransferSummary};
use blit_engine::{DestinationRoles, SourceRoles};
use std::ffi::OsString;
use std::path::PathBuf;

/// A daemon, one of its modules, and a path inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// The daemon's port.
    pub port: u16,
    /// The module.
    pub module: String,
    /// The module-relative path (the root for the module itself).
    pub path: RelPath,
}

/// Where the secret blitd requires comes from. Its `Debug` form never
/// shows a value given in the environment.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The first line of a file; `flag` names it in errors.
    File {
        /// The file.
        path: PathBuf,
        /// What named it (`--secret-file`).
        flag: String,
    },
    /// A value given in the environment variable `name`.
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::File { path, flag } => {
                f.debug_struct("File").field("path", path).field("flag", flag).finish()
            }
            SecretSource::Env { name, .. } => f.debug_struct("Env").field("name", name).finish_non_exhaustive(),
        }
    }
}

/// How to reach a daemon and carry a session's payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// `auto`, `tcp` or `grpc` (empty: `grpc`).
    pub transport: String,
    /// Pinned data connections.
    pub streams: Option<u32>,
    /// Data-plane compression (`none`, `zstd[:LEVEL]`, `auto`; empty: `none`).
    pub compress: String,
    /// The secret, if blitd requires one.
    pub secret: Option<SecretSource>,
    /// Connect with TLS: `Some(None)` trusts the system's roots,
    /// `Some(Some(file))` the CA certificates in that PEM file.
    pub tls: Option<Option<PathBuf>>,
    /// Reach the server through a program's standard input and output
    /// (ssh running `blit server`) instead of a daemon's TCP port.
    pub via: Option<Via>,
}

/// A program whose standard input and output carry the connection: the
/// ssh route runs `ssh HOST blit server --root DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The program and its arguments.
    pub argv: Vec<OsString>,
    /// How errors name the peer (`user@host`).
    pub label: String,
}

/// A module as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its name.
    pub name: String,
    /// What the operator wrote about it.
    pub comment: String,
    /// Pushes into it are refused.
    pub read_only: bool,
}

/// A one-time grant a destination daemon issued for one push
/// ([`Route::grant`]); the relaying daemon presents it in place of the
/// module's secret. `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct Grant {
    #[cfg(feature = "grpc")]
    pub(crate) grpc: blit_transport_grpc::Grant,
}

/// Where a relayed push goes ([`Route::relay`]).
#[derive(Debug, Clone)]
pub struct RelayTarget {
    /// The destination daemon, module and path.
    pub target: Target,
    /// What its daemon issued for this push.
    pub grant: Grant,
    /// How the relaying daemon reaches it, as [`Reach::tls`]: `None` plain
    /// TCP, `Some(None)` TLS trusting the relaying daemon's system roots,
    /// `Some(Some(file))` TLS trusting the CA certificates in this local
    /// PEM file (their text travels with the request).
    pub tls: Option<Option<PathBuf>>,
}

/// One way of reaching daemons.
#[async_trait::async_trait]
pub trait Route: Send + Sync {
    /// Sends the files of `source` to `target`.
    async fn push(
        &self,
        target: &Target,
        source: SourceRoles,
        options: &TransferOptions,
        events: Events,
    ) -> Result<TransferSummary>;
    /// Fetches the files below `target` into `destination`.
    async fn pull(
        &self,
        target: &Target,
        destination: DestinationRoles,
        options: &TransferOptions,
        events: Events,
    ) -> Result<TransferSummary>;
    /// The entries `target` names, in the daemon's order (a single file
    /// under the root's empty path).
    async fn list(&self, target: &Target, each: &mut (dyn FnMut(FileHeader) + Send)) -> Result<()>;
    /// The modules a daemon serves.
    async fn modules(&self, host: &str, port: u16) -> Result<Vec<Module>>;
    /// The size and free space of the file system that holds `target`.
    async fn space(&self, target: &Target) -> Result<Space>;
    /// Removes the entry `target` names (a directory with everything below
    /// it; a symlink as the link, never its target) and says what it was.
    /// The daemon refuses a module's root and read-only modules.
    async fn remove(&self, target: &Target) -> Result<FileKind>;
    /// Removes the entry `target` names only if it is still what `expect`
    /// says (`blit move`); false when it was kept because it differs.
    async fn remove_if(&self, target: &Target, expect: Expect) -> Result<bool>;
    /// The transfers running on a daemon that this route's secret may see
    /// (those of modules without a secret and of the modules whose secret
    /// it is), oldest first, each as it arrives.
    async fn jobs(&self, host: &str, port: u16, each: &mut (dyn FnMut(Job) + Send)) -> Result<()>;
    /// Tells the running transfer `id` to stop (the daemon requires the
    /// secret of its module) and returns it as it was.
    async fn cancel(&self, host: &str, port: u16, id: &str) -> Result<Job>;
    /// Asks the daemon of `target` for a one-time grant to push into it
    /// with exactly `options` (a copy between two daemons); the route's
    /// secret must open its module, which must be writable.
    async fn grant(&self, target: &Target, options: &TransferOptions) -> Result<Grant>;
    /// Asks the daemon of `from` to push it to `to` with `options` (a copy
    /// between two daemons, with the route's payload settings): file bytes
    /// go from daemon to daemon, and `events` sees what a push shows its
    /// client. The route's secret must open `from`'s module, which must
    /// allow relays (`allow_relay`).
    async fn relay(
        &self,
        from: &Target,
        to: &RelayTarget,
        options: &TransferOptions,
        events: Events,
    ) -> Result<TransferSummary>;
}

/// The session protocol this build speaks, for `--version`.
pub fn protocol() -> Option<u32> {
    #[cfg(feature = "grpc")]
    return Some(blit_transport_grpc::PROTOCOL_VERSION);
    #[cfg(not(feature = "grpc"))]
    None
}
