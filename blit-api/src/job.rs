//! A transfer running on a daemon, as `blit jobs` lists it.

use crate::{Direction, RelPath};

/// One running transfer session of a daemon. The daemon gives each an id
/// of [`Job::ID_LEN`] random lower-case hex digits when it accepts the
/// session; the id names it until it ends, for listing and cancelling.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    /// The daemon's id for it (what `blit jobs --cancel` takes).
    pub id: String,
    /// The module it reads or writes.
    pub module: String,
    /// The module-relative path of its transfer root (the root: empty).
    pub path: RelPath,
    /// Seen from its client: [`Direction::Push`] when the client sends and
    /// the daemon lands files, [`Direction::Pull`] when the daemon sends.
    pub direction: Direction,
    /// The client's address as the daemon saw it; empty when unknown (a
    /// `blit server` over ssh has none).
    pub client: String,
    /// When the daemon accepted it, in ms since the Unix epoch (the
    /// daemon's clock).
    pub started_unix_ms: u64,
    /// How long it has run, in ms, by the daemon's monotonic clock (so a
    /// client's clock does not matter).
    pub elapsed_ms: u64,
}

impl Job {
    /// How many hex digits a job id has.
    pub const ID_LEN: usize = 16;

    /// Whether `id` has the form of a job id: [`Job::ID_LEN`] lower-case
    /// hex digits.
    pub fn is_id(id: &str) -> bool {
        id.len() == Job::ID_LEN && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }

    /// `/module/path`, as the user writes it after `HOST:` (a path that is
    /// not UTF-8 as [`RelPath::display`] escapes it).
    pub fn shown(&self) -> String {
        match self.path.is_root() {
            true => format!("/{}", self.module),
            false => format!("/{}/{}", self.module, self.path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sixteen_lower_case_hex_digits() {
        assert!(Job::is_id("0123456789abcdef"));
        assert!(!Job::is_id("0123456789ABCDEF"), "upper case");
        assert!(!Job::is_id("0123456789abcde"), "short");
        assert!(!Job::is_id("0123456789abcdef0"), "long");
        assert!(!Job::is_id("0123456789abcdeg"), "not hex");
    }

    #[test]
    fn shown_is_the_module_path() {
        let job = |path: &[u8]| Job {
            id: "0123456789abcdef".into(),
            module: "m".into(),
            path: RelPath::from_bytes(path.to_vec()).unwrap(),
            direction: Direction::Push,
            client: String::new(),
            started_unix_ms: 0,
            elapsed_ms: 0,
        };
        assert_eq!(job(b"a/b").shown(), "/m/a/b");
        assert_eq!(job(b"").shown(), "/m");
    }
}
