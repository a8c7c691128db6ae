//! How big a file system is and how much of it is free (`blit df`).

/// The size and free space of one file system, as `statvfs` reports it:
/// bytes are blocks times the fragment size, so they are what the file
/// system can hold, not what `du` adds up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Space {
    /// Size of the file system in bytes.
    pub total_bytes: u64,
    /// Free bytes, including those reserved for the superuser.
    pub free_bytes: u64,
    /// Free bytes an unprivileged user may take (what `df` shows as available).
    pub available_bytes: u64,
    /// Inodes (file slots) in all; 0 when the file system does not count them.
    pub total_inodes: u64,
    /// Free inodes.
    pub free_inodes: u64,
    /// Free inodes an unprivileged user may take.
    pub available_inodes: u64,
}

impl Space {
    /// Bytes in use: the total less what is free.
    pub fn used_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.free_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::Space;

    #[test]
    fn used_is_total_less_free_and_never_wraps() {
        let s = Space { total_bytes: 100, free_bytes: 40, available_bytes: 30, ..Space::default() };
        assert_eq!(s.used_bytes(), 60);
        // A file system that reports more free than total (some network
        // file systems do) shows nothing used rather than a huge number.
        assert_eq!(Space { free_bytes: 101, ..s }.used_bytes(), 0);
    }
}

/// What a source entry must still be for `blit move` to remove it: what
/// the destination reported in place ([`crate::ProgressEvent::InPlace`]),
/// or an empty directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A file or symlink of this kind, size and mtime.
    Entry {
        /// Its kind.
        kind: crate::FileKind,
        /// Its size (a symlink's: its target's length).
        size: u64,
        /// Its mtime in ns since the epoch.
        mtime_ns: i64,
    },
    /// A directory with nothing left in it.
    EmptyDir,
}
