//! The daemon's configuration: modules from a TOML file and from flags.
//!
//! ```toml
//! listen = "127.0.0.1:9031"   # optional; --listen wins
//! max_sessions = 64           # optional; transfers at once (--max-sessions)
//! idle_timeout = 300          # optional; seconds a session may stay idle
//! auth_secret_file = "/etc/blit/secret"  # optional; clients must send it
//! tls_cert = "/etc/blit/cert.pem"        # optional, with tls_key: serve TLS
//! tls_key = "/etc/blit/key.pem"
//! landlock = true                        # optional; confine blitd to its modules (Linux)
//!
//! [[module]]
//! name = "photos"            # clients write host:/photos/...
//! path = "/srv/photos"       # relative paths are relative to this file
//! read_only = true           # optional, default false
//! comment = "family photos"  # optional
//! auth_secret_file = "/etc/blit/photos.secret"  # optional; overrides the daemon's
//! allow_owner = false        # optional; accept pushes with --owner/--group
//! allow_setid = false        # optional; keep set-user-ID/set-group-ID bits
//! fsync = false              # optional; flush what pushes land (--fsync)
//! allow_xattrs = ["security.selinux"]  # optional; attributes beyond user.* pushes may set
//! allow_relay = false        # optional; may push to another blitd (copy between daemons)
//! ```
//!
//! On the command line, `--module name=/path` adds a writable module and
//! `--module name=/path:ro` a read-only one; after the last `:` a
//! comma-separated list of `ro`, `rw`, `allow_owner`, `allow_setid`, `allow_relay` and `fsync` sets
//! those keys (`--module name=/path:rw,allow_owner`). A suffix with any other
//! word is part of the path.

use crate::locate::{Seg::Index, Seg::Key, Spans};
use blit_api::{Error, ErrorKind, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use wrap::SourceWrap;

mod wrap;

/// Where blitd listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9031";

/// One module as configured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleConfig {
    /// The name clients use: letters, digits, `.`, `_` and `-`.
    pub name: String,
    /// The directory it serves.
    pub path: PathBuf,
    /// Refuse pushes.
    #[serde(default)]
    pub read_only: bool,
    /// Shown by `blit modules`.
    #[serde(default)]
    pub comment: String,
    /// A file holding the secret clients must send for this module; it
    /// overrides the daemon's `auth_secret_file`.
    #[serde(default)]
    pub auth_secret_file: Option<PathBuf>,
    /// Accept pushes that ask to keep file ownership (`--owner`, `--group`)
    /// and apply the ids they send. Off by default: such a push is refused
    /// at `Open`, and ids a client sends anyway are ignored.
    #[serde(default)]
    pub allow_owner: bool,
    /// Keep the set-user-ID and set-group-ID bits (and file capabilities)
    /// of what clients push. Off by default: files and directories land
    /// without them.
    #[serde(default)]
    pub allow_setid: bool,
    /// Extended attributes pushes may set beyond `user.*` (`--xattrs`):
    /// exact names (`security.selinux`) or prefixes ending in `.*`
    /// (`trusted.*`). Empty by default: `security.*`, `trusted.*` and
    /// `system.*` (POSIX ACLs) attributes a client sends are dropped.
    #[serde(default)]
    pub allow_xattrs: Vec<String>,
    /// Flush every file a push lands, and its directories, to stable
    /// storage, as if each client passed `--fsync` (off by default).
    #[serde(default)]
    pub fsync: bool,
    /// Let clients that prove this module's secret have the daemon push
    /// from it to another blitd (`blit copy HOST1::m/p HOST2::m/p`,
    /// presenting a one-time grant from that daemon). Off by default:
    /// such a request is refused. Requires a secret (the module's or the
    /// daemon's), since it lets clients make this daemon connect out.
    #[serde(default)]
    pub allow_relay: bool,
    /// How messages to clients show the module's root (default `/NAME`).
    /// `blit server` shows the directory its user named; files cannot set it.
    #[serde(skip)]
    pub shown_as: Option<PathBuf>,
}

impl ModuleConfig {
    /// A writable module without comment or secret.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        ModuleConfig {
            name: name.into(),
            path: path.into(),
            read_only: false,
            comment: String::new(),
            auth_secret_file: None,
            allow_owner: false,
            allow_setid: false,
            fsync: false,
            allow_relay: false,
            allow_xattrs: Vec::new(),
            shown_as: None,
        }
    }

    /// Checks `allow_xattrs`: every entry names a namespace and an
    /// attribute (`security.selinux`) or ends in `.*` (`trusted.*`).
    pub fn check_allow_xattrs(&self) -> Result<()> {
        for entry in &self.allow_xattrs {
            let (namespace, rest) = entry.split_once('.').unwrap_or((entry.as_str(), ""));
            let wild = rest.strip_suffix('*');
            let ok = !namespace.is_empty()
                && !namespace.contains('*')
                && !rest.is_empty()
                && wild.is_none_or(|r| r.is_empty() || r.ends_with('.'))
                && !wild.unwrap_or(rest).contains('*')
                && entry.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(invalid(
                    format!("module `{}`: allow_xattrs entry `{entry}` is not an attribute name", self.name),
                    "write NAMESPACE.NAME (security.selinux) or NAMESPACE.* (trusted.*); user.* is always allowed",
                ));
            }
        }
        Ok(())
    }
}

impl ModuleConfig {
    /// Checks `allow_relay`: a module that may push to other daemons needs
    /// a secret, its own or the daemon's (`daemon_secret`), or anyone who
    /// reaches this daemon could make it connect anywhere.
    pub fn check_allow_relay(&self, daemon_secret: bool) -> Result<()> {
        if self.allow_relay && self.auth_secret_file.is_none() && !daemon_secret {
            return Err(invalid(
                format!("module `{}` sets allow_relay but requires no secret", self.name),
                "set auth_secret_file (the module's or the daemon's), or turn allow_relay off",
            ));
        }
        Ok(())
    }
}

/// The file's shape.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    max_sessions: Option<usize>,
    idle_timeout: Option<u64>,
    auth_secret_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    landlock: Option<bool>,
    data_ports: Option<String>,
    #[serde(default, rename = "module")]
    modules: Vec<ModuleConfig>,
}

/// Everything [`crate::run`] needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DaemonConfig {
    /// Where to listen (`None`: [`DEFAULT_LISTEN`]).
    pub listen: Option<SocketAddr>,
    /// The modules served.
    pub modules: Vec<ModuleConfig>,
    /// How long running transfers may go on after a shutdown signal before
    /// they are cancelled (default 10 s).
    pub shutdown_grace: Duration,
    /// Wraps the walker of every pull this daemon serves (default `None`).
    /// For tests only: files and flags cannot set it.
    pub source_wrap: Option<SourceWrap>,
    /// Most transfer sessions at once (default [`DEFAULT_MAX_SESSIONS`]);
    /// beyond it a client is told "blitd is busy (N sessions); retry later".
    pub max_sessions: usize,
    /// How long a session may go without the daemon having anything to
    /// send (the peer stopped sending or reading) before it is ended; also
    /// the most a client may take to send `Open` (at most 10 s) and a new
    /// connection its first bytes (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// A file holding the secret every client must send (a module's own
    /// `auth_secret_file` overrides it); `None`: no daemon-wide secret.
    pub auth_secret_file: Option<PathBuf>,
    /// PEM certificate chain to serve TLS with (set with [`DaemonConfig::tls_key`]).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of [`DaemonConfig::tls_cert`].
    pub tls_key: Option<PathBuf>,
    /// How long a new connection may take to authenticate: its first
    /// bytes, TLS, the HTTP/2 preface and a first request that passes the
    /// secret check, together (default 10 s; at most the idle timeout).
    /// Tests shorten it; files and flags cannot set it.
    pub handshake_timeout: Duration,
    /// Whether `blitd` confines itself with Landlock after startup (see
    /// [`crate::sandbox`]; default true, `landlock = false` in the file).
    /// The library's [`crate::run`] never does: the binary calls
    /// [`crate::sandbox::confine_daemon`] before starting its runtime.
    pub landlock: bool,
    /// The ports the TCP data plane may listen on (`data_ports = "40000-40099"`),
    /// so a firewall can let them through; `None`: any free port. With every
    /// port of the range in use, clients fall back to in-stream gRPC (or fail
    /// with `--transport tcp`).
    pub data_ports: Option<blit_transport_grpc::PortRange>,
    /// How long a grant for a copy between two daemons waits for its push
    /// (default 60 s; see the crate's `grant` module). Tests shorten it;
    /// files and flags cannot set it.
    pub grant_lifetime: Duration,
    /// The count of running sessions (see [`crate::Running`]); keep a clone
    /// to watch the daemon this configuration starts.
    pub running: crate::Running,
}

/// Transfers at once unless configured otherwise.
pub const DEFAULT_MAX_SESSIONS: usize = 64;

/// How long a session may stay idle unless configured otherwise (5 min).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            listen: None,
            modules: Vec::new(),
            shutdown_grace: Duration::from_secs(10),
            source_wrap: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            auth_secret_file: None,
            tls_cert: None,
            tls_key: None,
            handshake_timeout: Duration::from_secs(10),
            landlock: true,
            data_ports: None,
            grant_lifetime: crate::grant::GRANT_LIFETIME,
            running: crate::Running::default(),
        }
    }
}

fn invalid(message: impl Into<String>, hint: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, message).with_hint(hint)
}

/// Parses a listen address (`127.0.0.1:9031`, `[::1]:9031`).
pub fn parse_listen(text: &str) -> Result<SocketAddr> {
    text.parse().map_err(|_| {
        invalid(format!("`{text}` is not a listen address"), "write IP:PORT, e.g. 127.0.0.1:9031 or [::1]:9031")
    })
}

impl DaemonConfig {
    /// No modules, default listen address and grace period.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a TOML configuration; relative module paths are taken
    /// relative to `base` (the file's directory).
    /// Errors say where: `line L, column C: ...` (see `locate`).
    pub fn from_toml(text: &str, base: &Path) -> Result<Self> {
        let spans = Spans::new(text);
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let start = e.span().map_or(0, |span| span.start);
            let (line, col) = spans.line_col(start);
            let key = spans.key_at(start).map_or_else(String::new, |key| format!(" (`{key}`)"));
            invalid(
                format!("invalid configuration at line {line}, column {col}{key}: {}", e.message().trim_end()),
                "see `blitd --help` or the commented example contrib/blitd.toml",
            )
        })?;
        let mut config = DaemonConfig::new();
        config.listen =
            file.listen.as_deref().map(parse_listen).transpose().map_err(|e| spans.locate(e, &[Key("listen")]))?;
        if let Some(max) = file.max_sessions {
            config.set_max_sessions(max).map_err(|e| spans.locate(e, &[Key("max_sessions")]))?;
        }
        if let Some(secs) = file.idle_timeout {
            config.set_idle_timeout(Duration::from_secs(secs)).map_err(|e| spans.locate(e, &[Key("idle_timeout")]))?;
        }
        let rel = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        config.auth_secret_file = file.auth_secret_file.map(rel);
        config.tls_cert = file.tls_cert.map(rel);
        config.tls_key = file.tls_key.map(rel);
        config.landlock = file.landlock.unwrap_or(true);
        config.data_ports = file
            .data_ports
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| spans.locate(e, &[Key("data_ports")]))?;
        let tls_key = if config.tls_cert.is_some() { "tls_cert" } else { "tls_key" };
        config.check_tls_pair().map_err(|e| spans.locate(e, &[Key(tls_key)]))?;
        for (i, mut module) in file.modules.into_iter().enumerate() {
            if module.path.is_relative() {
                module.path = base.join(&module.path);
            }
            module.auth_secret_file = module.auth_secret_file.map(rel);
            module
                .check_allow_xattrs()
                .map_err(|e| spans.locate(e, &[Key("module"), Index(i), Key("allow_xattrs")]))?;
            config.add_module(module).map_err(|e| spans.locate(e, &[Key("module"), Index(i), Key("name")]))?;
        }
        Ok(config)
    }

    /// Reads and parses a TOML configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read configuration", path.display(), e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml(&text, base).map_err(|e| e.with_path(path.display().to_string()))
    }

    /// Adds a module given as `name=/path`, optionally followed by `:` and
    /// a comma-separated list of `ro`, `rw`, `allow_owner`, `allow_setid`,
    /// `allow_relay` and `fsync` (`name=/path:ro`, `name=/path:rw,allow_owner`).
    pub fn add_module_spec(&mut self, spec: &str) -> Result<()> {
        let hint = "write --module NAME=PATH, or NAME=PATH:ro for a read-only module";
        let (name, path) = spec.split_once('=').ok_or_else(|| invalid(format!("`{spec}` is not NAME=PATH"), hint))?;
        let mut module = ModuleConfig::new(name, path);
        if let Some((path, flags)) = path.rsplit_once(':') {
            let known = ["ro", "rw", "allow_owner", "allow_setid", "allow_relay", "fsync"];
            if flags.split(',').all(|flag| known.contains(&flag)) {
                module.path = path.into();
                for flag in flags.split(',') {
                    match flag {
                        "ro" => module.read_only = true,
                        "rw" => module.read_only = false,
                        "allow_owner" => module.allow_owner = true,
                        "fsync" => module.fsync = true,
                        "allow_relay" => module.allow_relay = true,
                        _ => module.allow_setid = true,
                    }
                }
            }
        }
        if module.path.as_os_str().is_empty() {
            return Err(invalid(format!("module `{name}` has no path"), hint));
        }
        self.add_module(module)
    }

    /// `tls_cert` and `tls_key` come together or not at all.
    pub(crate) fn check_tls_pair(&self) -> Result<()> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => Err(invalid("tls_cert is set but tls_key is not", "set both tls_cert and tls_key")),
            (None, Some(_)) => Err(invalid("tls_key is set but tls_cert is not", "set both tls_cert and tls_key")),
            _ => Ok(()),
        }
    }

    /// Sets [`DaemonConfig::max_sessions`] (at least 1).
    pub fn set_max_sessions(&mut self, max: usize) -> Result<()> {
        if max == 0 {
            return Err(invalid("max_sessions is 0", "allow at least one session"));
        }
        self.max_sessions = max;
        Ok(())
    }

    /// Sets [`DaemonConfig::idle_timeout`] (more than zero).
    pub fn set_idle_timeout(&mut self, idle: Duration) -> Result<()> {
        if idle.is_zero() {
            return Err(invalid("idle_timeout is 0", "give sessions at least one second"));
        }
        self.idle_timeout = idle;
        Ok(())
    }

    /// Adds a module after checking its name.
    pub fn add_module(&mut self, module: ModuleConfig) -> Result<()> {
        check_name(&module.name)?;
        if self.modules.iter().any(|m| m.name == module.name) {
            return Err(invalid(
                format!("module `{}` is defined twice", module.name),
                "give every module its own name",
            ));
        }
        self.modules.push(module);
        Ok(())
    }
}

/// Module names: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            format!("`{name}` is not a valid module name"),
            "use 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`",
        ))
    }
}

#[cfg(test)]
mod tests;
