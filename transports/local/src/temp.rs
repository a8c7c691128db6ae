//! Names of the temporary files this process creates beside their
//! targets: `.blit.<pid>.<n>.tmp`, so a later run (the sweep) and mirror
//! know them for what they are.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The prefix of every temporary name this process creates.
pub(crate) fn temp_prefix() -> &'static [u8] {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| format!(".blit.{}.", std::process::id())).as_bytes()
}

/// A fresh temporary name.
pub(crate) fn temp_name() -> Vec<u8> {
    let mut name = Vec::with_capacity(40);
    name.extend_from_slice(temp_prefix());
    let _ = write!(name, "{}.tmp", COUNTER.fetch_add(1, Ordering::Relaxed));
    name
}
