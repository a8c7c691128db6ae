//! Options every role sees.

/// What the user asked for, handed to every role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferOptions {
    /// Compare content by BLAKE3 instead of size and mtime.
    pub checksum: bool,
    /// Delete destination entries the source does not have.
    pub mirror: bool,
    /// Judge and report, change nothing.
    pub dry_run: bool,
}

impl TransferOptions {
    /// Options with every switch off.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets checksum mode.
    pub fn checksum(mut self, on: bool) -> Self {
        self.checksum = on;
        self
    }

    /// Sets mirror mode.
    pub fn mirror(mut self, on: bool) -> Self {
        self.mirror = on;
        self
    }

    /// Sets dry-run mode.
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }
}
