//! The rsync flags people type, with rsync's meaning where blit has the
//! behaviour. Flags rsync has and blit does not are answered in
//! [`crate::usage`], each with its own message.

use clap::Args;
use std::path::PathBuf;

const RSYNC_HELP: &str = "rsync habits";

/// rsync's everyday flags (flattened into copy and mirror).
#[derive(Debug, Clone, Default, Args)]
pub struct RsyncArgs {
    /// Accepted for rsync habit: blit always copies recursively and keeps
    /// symlinks, permissions and modification times, which is what -a
    /// keeps for a user who is not root. Owner and group need -o and -g
    /// (rsync's -a asks for them too), hard links -H, extended attributes
    /// -X; devices and special files are never copied.
    #[arg(short = 'a', long, help_heading = RSYNC_HELP)]
    pub archive: bool,
    /// Accepted for rsync habit: blit always recurses into directories.
    #[arg(short = 'r', long, help_heading = RSYNC_HELP)]
    pub recursive: bool,
    /// Accepted for rsync habit: blit always copies symlinks as symlinks.
    #[arg(short = 'l', long, help_heading = RSYNC_HELP)]
    pub links: bool,
    /// Accepted for rsync habit: blit always keeps modification times.
    #[arg(short = 't', long, help_heading = RSYNC_HELP)]
    pub times: bool,
    /// Accepted for rsync habit: blit always keeps permissions.
    #[arg(long, help_heading = RSYNC_HELP)]
    pub perms: bool,
    /// Compress file data where the transport can (the TCP data plane:
    /// zstd level 3); a local copy and in-stream gRPC send it as it is.
    /// --compress chooses the codec and level.
    #[arg(short = 'z', help_heading = RSYNC_HELP)]
    pub z: bool,
    /// Same as --progress --partial: the bar, and partial files kept.
    #[arg(short = 'P', help_heading = RSYNC_HELP)]
    pub partial_progress: bool,
    /// Keep partial files. Accepted for rsync habit: blit always keeps the
    /// partial copy of a large file an interrupted run leaves, and the next
    /// run reuses what it can (see --resume).
    #[arg(long, help_heading = RSYNC_HELP)]
    pub partial: bool,
    /// Skip files that are newer at the destination than at the source.
    #[arg(short = 'u', long, help_heading = RSYNC_HELP)]
    pub update: bool,
    /// Skip files that already exist at the destination, whatever they hold.
    #[arg(long, help_heading = RSYNC_HELP)]
    pub ignore_existing: bool,
    /// Call files of the same size the same, whatever their modification
    /// times.
    #[arg(long, help_heading = RSYNC_HELP)]
    pub size_only: bool,
    /// Delete at most N entries; the deletions past N are skipped, said in
    /// the summary, and the exit code is 2.
    #[arg(long, value_name = "N", help_heading = RSYNC_HELP)]
    pub max_delete: Option<u64>,
    /// Print one line per changed entry saying what changed, in rsync's
    /// codes: `>f` a file sent, `cd` a directory made or updated, `cL` a
    /// symlink made, `*deleting` an entry removed.
    #[arg(short = 'i', long, help_heading = RSYNC_HELP)]
    pub itemize_changes: bool,
    /// Print the full summary (every count, bytes, rate) when the transfer
    /// ends, even without -v or -p.
    #[arg(long, help_heading = RSYNC_HELP)]
    pub stats: bool,
    /// Accepted for rsync habit: sizes and rates are always printed in
    /// binary units (KiB, MiB). A bare -h prints help.
    #[arg(short = 'h', long, help_heading = RSYNC_HELP)]
    pub human_readable: bool,
    /// Do not cross file systems while walking the source: a directory on
    /// another file system is made, empty, and not entered.
    #[arg(short = 'x', long, help_heading = RSYNC_HELP)]
    pub one_file_system: bool,
    /// Fail when no progress is made for SECONDS (0: wait for ever).
    #[arg(long, value_name = "SECONDS", help_heading = RSYNC_HELP)]
    pub timeout: Option<u64>,
    /// Append what was done to FILE: a line per changed, deleted or failed
    /// entry (with -i's codes) and the summary, each with the time.
    #[arg(long, value_name = "FILE", help_heading = RSYNC_HELP)]
    pub log_file: Option<PathBuf>,
    /// Hard-link files that DIR (a previous copy) holds unchanged instead of
    /// copying them: the basis of snapshot backups. A relative DIR is
    /// relative to the destination, as with rsync; for a daemon, DIR is a
    /// path inside the destination's module (e.g. snapshots/2026-12-03).
    #[arg(long, value_name = "DIR", help_heading = RSYNC_HELP)]
    pub link_dest: Option<std::ffi::OsString>,
    /// Keep each file the transfer replaces or deletes under a backup name
    /// (NAME~ beside it, see --suffix) instead of losing it.
    #[arg(short = 'b', long, help_heading = RSYNC_HELP)]
    pub backup: bool,
    /// Keep backups in DIR, at each file's own relative path (implies -b;
    /// no suffix unless --suffix). A relative DIR is relative to the
    /// destination; for a daemon, DIR is a path inside the module.
    #[arg(long, value_name = "DIR", help_heading = RSYNC_HELP)]
    pub backup_dir: Option<std::ffi::OsString>,
    /// The suffix of backup names (default ~, or none with --backup-dir).
    #[arg(long, value_name = "SUFFIX", help_heading = RSYNC_HELP)]
    pub suffix: Option<std::ffi::OsString>,
    /// Flush each file to stable storage before it takes its name, and each
    /// directory once its entries stopped changing: what the transfer
    /// reports done survives a power loss (slower; see docs/bench.md).
    #[arg(long, help_heading = RSYNC_HELP)]
    pub fsync: bool,
    /// Send changed files whole. Without it, a changed file of 8 MiB or
    /// more that the far side holds an older version of travels as a delta:
    /// only its changed blocks are sent (remote transfers only; a local
    /// copy always copies whole).
    #[arg(short = 'W', long, help_heading = RSYNC_HELP)]
    pub whole_file: bool,
    /// Accepted for rsync habit: blit always keeps the holes of sparse
    /// files (found with SEEK_HOLE at the source, never sent, left as
    /// holes at the destination).
    #[arg(short = 'S', long, help_heading = RSYNC_HELP)]
    pub sparse: bool,
    /// rsync's --info: progress2 (or progress) shows the progress bar; other
    /// words are refused with what blit prints instead.
    #[arg(long, value_name = "FLAGS", value_parser = parse_info, help_heading = RSYNC_HELP)]
    pub info: Option<bool>,
}

/// `--info=progress2`: true for the words that ask for the bar.
fn parse_info(text: &str) -> Result<bool, String> {
    let mut progress = false;
    for word in text.split(',').filter(|w| !w.is_empty()) {
        match word.to_ascii_lowercase().as_str() {
            "progress" | "progress1" | "progress2" => progress = true,
            "progress0" | "none" => {}
            other => {
                return Err(format!(
                    "blit has no --info={other}; use -p for the progress bar, -v or -i for a line per \
                     entry and --stats for the full summary"
                ))
            }
        }
    }
    Ok(progress)
}

impl RsyncArgs {
    /// Whether a flag asks for the progress bar (-P, --info=progress2).
    pub(crate) fn progress(&self) -> bool {
        self.partial_progress || self.info == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_takes_rsyncs_progress_words_and_refuses_the_rest() {
        assert_eq!(parse_info("progress2"), Ok(true));
        assert_eq!(parse_info("PROGRESS2,progress0"), Ok(true));
        assert_eq!(parse_info("none"), Ok(false));
        let refused = parse_info("progress2,name1").unwrap_err();
        assert!(refused.contains("--info=name1") && refused.contains("-i"), "{refused}");
    }
}
