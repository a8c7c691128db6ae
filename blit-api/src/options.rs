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
    /// Most payload bytes per second landed at the destination, all streams
    /// together; 0 means no limit. The destination's [`crate::Landing`]
    /// enforces it, so it holds for every transport and direction.
    pub bwlimit_bytes_per_sec: u64,
    /// Keep hard-linked regular files linked at the destination (`-H`): the
    /// walker sends the second and later names of an inode as
    /// [`crate::FileHeader::hard_link`] entries, which carry no payload.
    pub hard_links: bool,
    /// Preserve the owning user id ([`crate::FileHeader::uid`]).
    pub owner: bool,
    /// Preserve the owning group id ([`crate::FileHeader::gid`]).
    pub group: bool,
    /// Preserve extended attributes ([`crate::FileHeader::xattrs`]).
    pub xattrs: bool,
    /// Which entries take part: include/exclude rules, a files-from list,
    /// size bounds. The source's walk applies it, and a mirroring
    /// destination keeps what it excludes (see [`crate::FilterSpec`]).
    pub filter: crate::FilterSpec,
    /// Continue partial copies an interrupted run left at the destination:
    /// compare their blocks by BLAKE3 and send only what differs (see
    /// [`crate::BlockMap`]). Without it, leftover partial copies are removed.
    pub resume: bool,
    /// Skip files that are newer at the destination than at the source
    /// (rsync's `-u`/`--update`).
    pub update: bool,
    /// Skip every file that already exists at the destination, whatever
    /// its content (rsync's `--ignore-existing`).
    pub ignore_existing: bool,
    /// Call files with the same size the same, whatever their mtimes
    /// (rsync's `--size-only`).
    pub size_only: bool,
    /// Delete at most this many entries (rsync's `--max-delete`); the rest
    /// are skipped and reported as [`crate::ProgressEvent::DeletionsSkipped`].
    pub max_delete: Option<u64>,
    /// Do not cross file systems while walking the source (rsync's
    /// `-x`/`--one-file-system`): a directory on another device than the
    /// source root is copied as an empty directory.
    pub one_file_system: bool,
    /// rsync's `--link-dest`: a needed file that a previous copy in this
    /// directory holds unchanged (same size, mtime, mode; same content
    /// with checksums) is hard-linked from there instead of being sent.
    /// The destination interprets it: a local path (absolute, or relative
    /// to the destination root), or for a daemon a path inside the module.
    pub link_dest: Option<Vec<u8>>,
    /// rsync's `--backup`: a file the transfer replaces or deletes is kept
    /// under a backup name (see [`TransferOptions::backup_suffix`] and
    /// [`TransferOptions::backup_dir`]) instead of being lost.
    pub backup: bool,
    /// rsync's `--backup-dir`: backups go to this directory (a local path
    /// absolute or relative to the destination root; for a daemon a path
    /// inside the module), at the file's own relative path. Implies
    /// [`TransferOptions::backup`].
    pub backup_dir: Option<Vec<u8>>,
    /// rsync's `--suffix`: appended to a backup's name; `~` by default
    /// without a backup directory, nothing with one.
    pub backup_suffix: Option<Vec<u8>>,
    /// rsync's `--fsync`: the destination flushes each file to stable
    /// storage before it takes its final name, and each directory once its
    /// entries stopped changing, so a power loss after the transfer loses
    /// nothing it reported done.
    pub fsync: bool,
    /// `blit move`: the destination reports each entry that is in place and
    /// equal to its header (`ProgressEvent::InPlace`), so the source can be
    /// removed entry by entry; it changes nothing at the destination.
    pub remove_source: bool,
    /// Delta transfer (rsync's default between machines; off with
    /// `--whole-file`): for a needed file of at least [`crate::DELTA_MIN`]
    /// bytes whose destination holds an older version, the destination
    /// hashes that version's blocks ([`crate::BlockMap`]) and the source
    /// sends only the blocks that differ; the destination builds the new
    /// file from the old one and those blocks.
    pub delta: bool,
    /// `--verify`: the source hashes each regular file (BLAKE3) as it walks,
    /// and the destination re-reads each file it landed before giving it
    /// its name; a file whose content differs from the source's hash fails
    /// (as a per-file failure) and keeps its old version.
    pub verify: bool,
    /// For a distributed job: of each regular file the destination needs
    /// (normally one, chosen with the filter's `files_from`), move only
    /// these bytes, into the file's partial copy, and leave it uncommitted
    /// for a later `--resume` transfer to finish (see [`crate::PartRange`]).
    /// Needs a transport that carries resumes ([`crate::Capabilities::resume`]).
    pub part_range: Option<crate::PartRange>,
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

    /// Sets the filter.
    pub fn filter(mut self, filter: crate::FilterSpec) -> Self {
        self.filter = filter;
        self
    }

    /// Sets hard-link preservation.
    pub fn hard_links(mut self, on: bool) -> Self {
        self.hard_links = on;
        self
    }

    /// Sets owner (uid) preservation.
    pub fn owner(mut self, on: bool) -> Self {
        self.owner = on;
        self
    }

    /// Sets group (gid) preservation.
    pub fn group(mut self, on: bool) -> Self {
        self.group = on;
        self
    }

    /// Sets extended-attribute preservation.
    pub fn xattrs(mut self, on: bool) -> Self {
        self.xattrs = on;
        self
    }

    /// Limits the payload to `bytes_per_sec` (0: no limit).
    pub fn bwlimit(mut self, bytes_per_sec: u64) -> Self {
        self.bwlimit_bytes_per_sec = bytes_per_sec;
        self
    }

    /// Sets resume mode (continue partial copies, see [`TransferOptions::resume`]).
    pub fn resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }

    /// Flushes landed files and their directories to stable storage (see
    /// [`TransferOptions::fsync`]).
    pub fn fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }

    /// Sends only the changed blocks of large files the destination holds
    /// an older version of (see [`TransferOptions::delta`]).
    pub fn delta(mut self, on: bool) -> Self {
        self.delta = on;
        self
    }

    /// Checks each landed file against the source's hash (see
    /// [`TransferOptions::verify`]).
    pub fn verify(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }

    /// Moves only `range` of each needed file, into its partial copy (see
    /// [`TransferOptions::part_range`]).
    pub fn part_range(mut self, range: Option<crate::PartRange>) -> Self {
        self.part_range = range;
        self
    }

    /// Reports what is in place for `blit move` (see
    /// [`TransferOptions::remove_source`]).
    pub fn remove_source(mut self, on: bool) -> Self {
        self.remove_source = on;
        self
    }

    /// Skips files newer at the destination (see [`TransferOptions::update`]).
    pub fn update(mut self, on: bool) -> Self {
        self.update = on;
        self
    }

    /// Skips files that exist at the destination (see [`TransferOptions::ignore_existing`]).
    pub fn ignore_existing(mut self, on: bool) -> Self {
        self.ignore_existing = on;
        self
    }

    /// Compares files by size alone (see [`TransferOptions::size_only`]).
    pub fn size_only(mut self, on: bool) -> Self {
        self.size_only = on;
        self
    }

    /// Limits deletions (see [`TransferOptions::max_delete`]).
    pub fn max_delete(mut self, most: Option<u64>) -> Self {
        self.max_delete = most;
        self
    }

    /// Keeps the walk on the source root's file system (see [`TransferOptions::one_file_system`]).
    pub fn one_file_system(mut self, on: bool) -> Self {
        self.one_file_system = on;
        self
    }

    /// Sets the directory unchanged files are hard-linked from (see [`TransferOptions::link_dest`]).
    pub fn link_dest(mut self, dir: Option<Vec<u8>>) -> Self {
        self.link_dest = dir;
        self
    }

    /// Keeps backups of replaced and deleted files (see [`TransferOptions::backup`]).
    pub fn backup(mut self, on: bool, dir: Option<Vec<u8>>, suffix: Option<Vec<u8>>) -> Self {
        self.backup = on || dir.is_some();
        self.backup_dir = dir;
        self.backup_suffix = suffix;
        self
    }
}
