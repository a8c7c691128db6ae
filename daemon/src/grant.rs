//! One-time grants: how a daemon lets another daemon push into one of its
//! modules for a copy between two daemons without the user's secret
//! leaving the user.
//!
//! A client that proves a module's secret asks for a grant (`Grant`) for
//! one push: the module, the path, and the exact options. The daemon
//! answers a token of 32 random bytes from the operating system's CSPRNG
//! (64 hex digits) and keeps only its BLAKE3 digest. The client hands the
//! token to the source daemon (`Relay`), which presents it as the secret of
//! its push. The token opens exactly one `Transfer`:
//!
//! - it is consumed the first time a `Transfer` presents it, whatever that
//!   session asks, so a second use is refused;
//! - the session must be a push into the same module and path with the same
//!   options (a grant for a copy cannot mirror, and no grant opens another
//!   path or module); anything else is refused;
//! - it must be used within [`GRANT_LIFETIME`] (configurable for tests);
//! - it opens nothing but that session: `List`, `Remove`, `Jobs` and the
//!   others never take a grant as a secret.
//!
//! At most [`MAX_GRANTS`] grants wait at once; expired ones are dropped
//! before a new one is counted. Only clients that proved a secret can make
//! them, so a stranger cannot grow the table.

use blit_api::{Error, ErrorKind, RelPath, Result, TransferOptions};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a grant waits for its push unless configured otherwise.
pub(crate) const GRANT_LIFETIME: Duration = Duration::from_secs(60);

/// Most grants waiting for their push at once.
pub(crate) const MAX_GRANTS: usize = 256;

/// What one grant admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The module.
    pub(crate) module: String,
    /// The push's root in it.
    pub(crate) path: RelPath,
    /// The push's options, exactly.
    pub(crate) options: TransferOptions,
}

/// The grants waiting for their push, by the digest of their token.
#[derive(Debug)]
pub(crate) struct Grants {
    lifetime: Duration,
    waiting: Mutex<HashMap<[u8; 32], (Scope, Instant)>>,
}

impl Grants {
    /// No grants; each new one lives `lifetime`.
    pub(crate) fn new(lifetime: Duration) -> Self {
        Grants { lifetime, waiting: Mutex::default() }
    }

    /// How long a grant lives.
    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new grant for `scope`: its token (64 hex digits).
    pub(crate) fn issue(&self, scope: Scope) -> Result<String> {
        self.issue_at(scope, Instant::now())
    }

    fn issue_at(&self, scope: Scope, now: Instant) -> Result<String> {
        let mut waiting = self.lock();
        waiting.retain(|_, (_, expires)| *expires > now);
        if waiting.len() >= MAX_GRANTS {
            return Err(Error::new(
                ErrorKind::Io,
                format!("{MAX_GRANTS} grants are waiting for their push; this blitd issues no more for now"),
            )
            .with_hint(format!("retry within {} s, once unused grants expire", self.lifetime.as_secs().max(1))));
        }
        let mut token = [0u8; 32];
        getrandom::getrandom(&mut token).map_err(|e| {
            Error::new(ErrorKind::Unexpected, format!("the system's random source failed: {e}"))
                .with_hint("retry; check the daemon's log")
        })?;
        let text: String = token.iter().map(|b| format!("{b:02x}")).collect();
        waiting.insert(digest(&text), (scope, now + self.lifetime));
        Ok(text)
    }

    /// Whether `presented` is a grant that waits for its push (the
    /// session's `Open`, read next, then [`Grants::take`]s it).
    pub(crate) fn waiting(&self, presented: &str) -> bool {
        let now = Instant::now();
        self.lock().get(&digest(presented)).is_some_and(|(_, expires)| *expires > now)
    }

    /// Uses up the grant `presented` for a session that asks for `asked`:
    /// whatever the answer, the grant is gone. Refused when it is unknown,
    /// used, expired, or was issued for anything else.
    pub(crate) fn take(&self, presented: &str, asked: &Scope) -> Result<()> {
        self.take_at(presented, asked, Instant::now())
    }

    fn take_at(&self, presented: &str, asked: &Scope, now: Instant) -> Result<()> {
        let refused = |why: &str| {
            Error::new(ErrorKind::PermissionDenied, format!("the grant {why}"))
                .with_hint("grants are made for one push by `blit copy` between two daemons; run it again")
        };
        match self.lock().remove(&digest(presented)) {
            None => Err(refused("is unknown or was used already")),
            Some((_, expires)) if expires <= now => Err(refused("expired before its push began")),
            Some((scope, _)) if scope != *asked => Err(refused(&format!(
                "is for a push into /{}/{} with other options",
                scope.module,
                scope.path.display()
            ))),
            Some(_) => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Scope, Instant)>> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The key a token is kept under: the daemon never holds a token itself.
fn digest(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(module: &str, path: &str, mirror: bool) -> Scope {
        Scope {
            module: module.to_owned(),
            path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
            options: TransferOptions::new().mirror(mirror),
        }
    }

    #[test]
    fn a_grant_opens_its_own_push_once() {
        let grants = Grants::new(GRANT_LIFETIME);
        let token = grants.issue(scope("m", "a", false)).unwrap();
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(grants.waiting(&token) && !grants.waiting("guess"));
        grants.take(&token, &scope("m", "a", false)).unwrap();
        let e = grants.take(&token, &scope("m", "a", false)).unwrap_err();
        assert!(e.to_string().contains("used already"), "{e}");
        assert!(!grants.waiting(&token));
    }

    #[test]
    fn a_grant_opens_nothing_else_and_is_gone_after_the_attempt() {
        let grants = Grants::new(GRANT_LIFETIME);
        for other in [scope("m", "b", false), scope("n", "a", false), scope("m", "a", true), scope("m", "a/b", false)] {
            let token = grants.issue(scope("m", "a", false)).unwrap();
            let e = grants.take(&token, &other).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied);
            assert!(e.to_string().contains("/m/a with other options"), "{e}");
            assert!(grants.take(&token, &scope("m", "a", false)).is_err(), "a refused attempt uses it up");
        }
    }

    #[test]
    fn a_grant_expires_and_the_table_is_bounded() {
        let grants = Grants::new(Duration::from_secs(60));
        let now = Instant::now();
        let token = grants.issue_at(scope("m", "a", false), now).unwrap();
        let e = grants.take_at(&token, &scope("m", "a", false), now + Duration::from_secs(61)).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        for _ in 0..MAX_GRANTS {
            grants.issue_at(scope("m", "a", false), now).unwrap();
        }
        let e = grants.issue_at(scope("m", "a", false), now).unwrap_err();
        assert!(e.to_string().contains("256 grants are waiting"), "{e}");
        // Expired grants make room.
        grants.issue_at(scope("m", "a", false), now + Duration::from_secs(61)).unwrap();
        assert_eq!(grants.lock().len(), 1);
    }
}
