//! What a transport can do, and which way the bytes flow.

/// Which way a transfer flows, seen from the process that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Local source, local destination.
    Local,
    /// Local source, remote destination.
    Push,
    /// Remote source, local destination.
    Pull,
}

impl Direction {
    /// All directions, in a stable order.
    pub const ALL: [Direction; 3] = [Direction::Local, Direction::Push, Direction::Pull];

    /// Stable lower-case name (`local`, `push`, `pull`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Local => "local",
            Direction::Push => "push",
            Direction::Pull => "pull",
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionSet {
    /// Local to local.
    pub local: bool,
    /// Local to remote.
    pub push: bool,
    /// Remote to local.
    pub pull: bool,
}

impl DirectionSet {
    /// Whether `d` is in the set.
    pub fn contains(self, d: Direction) -> bool {
        match d {
            Direction::Local => self.local,
            Direction::Push => self.push,
            Direction::Pull => self.pull,
        }
    }
}

/// What a transport supports. Data, not names: the framework and the
/// conformance suite read these fields; a transport sets only what it supports
/// and fills the rest with `..Capabilities::default()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Directions the transport can carry.
    pub directions: DirectionSet,
    /// Carries several small files as one shard ([`crate::PayloadPlan::Shard`]).
    pub payload_shard: bool,
    /// Upper bound on concurrent payload streams (0 means 1).
    pub payload_max_streams: u32,
    /// Moves bytes without passing them through user space.
    pub payload_zero_copy: bool,
    /// Preserves symbolic links as links.
    pub symlink: bool,
    /// Carries file names that are not valid UTF-8.
    pub path_non_utf8: bool,
    /// Preserves modification times to the nanosecond.
    pub mtime_ns: bool,
    /// Supports `--checksum` comparisons.
    pub checksum: bool,
    /// Supports mirror (delete extraneous destination entries).
    pub mirror: bool,
    /// Reports per-file failures and continues.
    pub per_file_errors: bool,
    /// Carries resumed files: sends only the ranges [`crate::ranges_to_send`]
    /// chose for a need entry with a block map, and lands them through
    /// [`crate::Landing::resume`] (`--resume`).
    pub resume: bool,
}
