//! Defence in depth: after startup, where the kernel has Landlock, blitd
//! confines its own file access to its modules (read-only modules for
//! reading only) and the files it reads at start (secrets, TLS certificate
//! and key). Everything blitd does on behalf of a peer already goes through
//! the descriptor-relative layer; this is what stops a bug in that layer
//! from reaching the rest of the machine.
//!
//! The rules apply to the thread that calls [`confine`] and every thread it
//! starts afterwards, so `blitd` calls it before it builds its runtime.
//! `landlock = false` in blitd.toml turns it off. The log says which:
//! `landlock: enforced`, `landlock: partly enforced (this kernel's Landlock
//! ABI lacks some rights)`, or `landlock: not available on this kernel`.

use crate::DaemonConfig;
use landlock::{path_beneath_rules, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, ABI};
use std::path::{Path, PathBuf};

/// How far the confinement went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    /// Every right blitd restricts is enforced.
    Enforced,
    /// The kernel's Landlock enforces some of the rights.
    Partial,
    /// No Landlock here (or it is off).
    Unavailable,
}

/// What blitd may touch: module directories and the files it reads at
/// start.
#[derive(Debug, Default, Clone)]
pub struct Allowed {
    /// Read, write, create, delete, rename beneath these.
    pub read_write: Vec<PathBuf>,
    /// Read and list beneath these (or read this file).
    pub read_only: Vec<PathBuf>,
}

impl Allowed {
    /// What `config` needs: its modules, secret files and TLS files.
    pub fn of(config: &DaemonConfig) -> Allowed {
        let mut a = Allowed::default();
        for m in &config.modules {
            if m.read_only {
                a.read_only.push(m.path.clone());
            } else {
                a.read_write.push(m.path.clone());
            }
            a.read_only.extend(m.auth_secret_file.clone());
        }
        a.read_only.extend(config.auth_secret_file.iter().chain(&config.tls_cert).chain(&config.tls_key).cloned());
        // A benchmark build's null sink lands every file in /dev/null.
        a.read_write.extend(blit_transports::null_sink_path().map(std::path::Path::to_path_buf));
        a
    }
}

/// Confines the calling thread (and the threads it starts later) to
/// `allowed`. Returns how far that went.
pub fn confine(allowed: &Allowed) -> Confinement {
    let abi = ABI::V5;
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(paths(&allowed.read_write), AccessFs::from_all(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(paths(&allowed.read_only), AccessFs::from_read(abi))))
        .and_then(|r| r.restrict_self());
    match status {
        Ok(s) => match s.ruleset {
            RulesetStatus::FullyEnforced => Confinement::Enforced,
            RulesetStatus::PartiallyEnforced => Confinement::Partial,
            RulesetStatus::NotEnforced => Confinement::Unavailable,
        },
        Err(e) => {
            tracing::warn!("landlock: could not set up the rules: {e}");
            Confinement::Unavailable
        }
    }
}

fn paths(list: &[PathBuf]) -> impl Iterator<Item = &Path> {
    list.iter().map(PathBuf::as_path)
}

/// [`confine`]s to what `config` needs, then logs the result.
pub fn confine_daemon(config: &DaemonConfig) -> Confinement {
    // What the filesystem layer reads from the system once (the umask),
    // read before it would be out of reach.
    blit_transports::local::warm_up();
    let c = confine(&Allowed::of(config));
    match c {
        Confinement::Enforced => tracing::info!("landlock: enforced; file access is confined to the modules"),
        Confinement::Partial => tracing::info!(
            "landlock: partly enforced (this kernel's Landlock ABI lacks some rights); file access is confined to \
             the modules for the rights it has"
        ),
        Confinement::Unavailable => {
            tracing::info!("landlock: not available on this kernel; running without it (containment still holds)")
        }
    }
    c
}
