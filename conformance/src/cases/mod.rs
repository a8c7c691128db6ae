//! The catalogue: every case, its stable id and the capabilities it needs.
//!
//! Cases live in files by area: [`manifest`] (what the walk and the tree
//! shape produce), [`payload`] (sizes, counts and metadata that cross the
//! payload), [`need_list`] (what is judged needed: updates, mirror, dry run,
//! second runs), [`progress`] (what the event log reports), [`errors`]
//! (per-file failures), [`filters`] (include/exclude rules, sizes,
//! files-from, mirror with filters), [`resume`], [`sparse`] and
//! [`part_range`] (files that travel as ranges: partial copies, older
//! versions, holes, a distributed job's pieces) and [`property`] (generated
//! trees). A case is a plain async function over a [`Ctx`]; differences
//! reach it as parameters or capability fields, never as a transport's
//! name.

pub mod errors;
pub mod filters;
pub mod links;
pub mod manifest;
pub mod metadata;
pub mod need_list;
pub mod part_range;
pub mod payload;
pub mod progress;
pub mod property;
pub mod resume;
pub mod sparse;

use crate::ctx::Ctx;
use crate::failure::Failure;
use blit_api::Capabilities;
use payload::Around;
use std::future::Future;
use std::pin::Pin;

/// The future a case function returns.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// A case function.
pub type CaseFn = for<'a> fn(&'a mut Ctx) -> CaseFuture<'a>;

/// A capability a case needs, named after its [`Capabilities`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Need {
    /// [`Capabilities::symlink`].
    Symlink,
    /// [`Capabilities::path_non_utf8`].
    PathNonUtf8,
    /// [`Capabilities::mtime_ns`].
    MtimeNs,
    /// [`Capabilities::checksum`].
    Checksum,
    /// [`Capabilities::mirror`].
    Mirror,
    /// [`Capabilities::per_file_errors`].
    PerFileErrors,
    /// [`Capabilities::resume`].
    Resume,
    /// Not a capability but the machine: the filesystem the trials run in
    /// stores `user.*` extended attributes (probed once; some tmpfs
    /// configurations do not).
    FsUserXattrs,
}

impl Need {
    /// Whether `caps` provides this.
    pub fn met_by(self, caps: &Capabilities) -> bool {
        match self {
            Need::Symlink => caps.symlink,
            Need::PathNonUtf8 => caps.path_non_utf8,
            Need::MtimeNs => caps.mtime_ns,
            Need::Checksum => caps.checksum,
            Need::Mirror => caps.mirror,
            Need::PerFileErrors => caps.per_file_errors,
            Need::Resume => caps.resume,
            Need::FsUserXattrs => metadata::fs_user_xattrs(),
        }
    }

    /// The capability field's name, as shown in an ignored trial's reason.
    pub fn name(self) -> &'static str {
        match self {
            Need::Symlink => "symlink",
            Need::PathNonUtf8 => "path_non_utf8",
            Need::MtimeNs => "mtime_ns",
            Need::Checksum => "checksum",
            Need::Mirror => "mirror",
            Need::PerFileErrors => "per_file_errors",
            Need::Resume => "resume",
            Need::FsUserXattrs => "fs_user_xattrs (the trials' filesystem stores no user.* attributes)",
        }
    }
}

/// One case of the catalogue.
#[derive(Debug)]
pub struct Case {
    /// Stable id: the last segment of the trial name, referred to by
    /// known-failure lists.
    pub id: &'static str,
    /// One line: the behaviour the case proves.
    pub about: &'static str,
    /// Capabilities the case needs; without them its trial is ignored.
    pub needs: &'static [Need],
    /// The case.
    pub run: CaseFn,
}

impl Case {
    /// The needs `caps` does not meet.
    pub fn missing(&self, caps: &Capabilities) -> Vec<Need> {
        self.needs.iter().copied().filter(|n| !n.met_by(caps)).collect()
    }
}

/// Looks a case up by id.
pub fn find(id: &str) -> Option<&'static Case> {
    catalogue().iter().find(|c| c.id == id)
}

macro_rules! case {
    ($id:literal, $about:literal, [$($need:ident),*], $f:path $(, $arg:expr)*) => {{
        fn run(ctx: &mut Ctx) -> CaseFuture<'_> {
            Box::pin($f(ctx $(, $arg)*))
        }
        Case { id: $id, about: $about, needs: &[$(Need::$need),*], run }
    }};
}

static CATALOGUE: &[Case] = &[
    case!("empty_tree", "an empty source directory lands as an empty directory", [], manifest::empty_tree),
    case!("file_to_file_path", "a single-file source lands at a file path", [], manifest::file_to_file_path),
    case!("file_into_directory", "a single file lands inside an existing directory", [], manifest::file_into_dir),
    case!("nested_dirs", "nested directories with files keep their shape", [], manifest::nested_dirs),
    case!("empty_dirs", "empty directories, nested or not, are created", [], manifest::empty_dirs),
    case!("symlinks", "relative, absolute and dangling symlinks land as links", [Symlink], manifest::symlinks),
    case!("names_unicode", "unicode names survive", [], manifest::names, manifest::Names::Unicode),
    case!(
        "names_non_utf8",
        "names that are not UTF-8 survive",
        [PathNonUtf8],
        manifest::names,
        manifest::Names::NonUtf8
    ),
    case!("names_spaces_newlines", "names with spaces and newlines survive", [], manifest::names, manifest::Names::Odd),
    case!("names_long", "255-byte names and long paths survive", [], manifest::names, manifest::Names::Long),
    case!("deep_paths", "a 100-level deep path lands", [], manifest::deep_paths),
    case!("sizes_zero_and_one", "0-byte and 1-byte files land", [], payload::zero_and_one),
    case!("shard_file_max", "files around the shard size limit land", [], payload::shard_file_max),
    case!("shard_files_below", "one file under a full shard", [], payload::shard_files, Around::Below),
    case!("shard_files_at", "exactly a full shard of files", [], payload::shard_files, Around::At),
    case!("shard_files_above", "one file over a full shard", [], payload::shard_files, Around::Above),
    case!("shard_bytes_below", "one byte under a full shard", [], payload::shard_bytes, Around::Below),
    case!("shard_bytes_at", "exactly a full shard of bytes", [], payload::shard_bytes, Around::At),
    case!("shard_bytes_above", "one byte over a full shard", [], payload::shard_bytes, Around::Above),
    case!("need_entries_below", "one entry under a full need batch", [], payload::need_entries, Around::Below),
    case!("need_entries_at", "exactly a full need batch of entries", [], payload::need_entries, Around::At),
    case!("need_entries_above", "one entry over a full need batch", [], payload::need_entries, Around::Above),
    case!("need_bytes_below", "header bytes one under a full need batch", [], payload::need_bytes, Around::Below),
    case!("need_bytes_at", "header bytes exactly a full need batch", [], payload::need_bytes, Around::At),
    case!("need_bytes_above", "header bytes one over a full need batch", [], payload::need_bytes, Around::Above),
    case!("large_file", "a file larger than chunk size x streams lands", [], payload::large_file),
    case!("many_small_files", "10,000 small files land", [], payload::many_small_files),
    case!("modes", "modes 0600, 0755, 0444 and read-only dirs survive", [], payload::modes),
    case!("mtimes_ns", "mtimes keep their nanoseconds on files, dirs and links", [MtimeNs, Symlink], payload::mtimes),
    case!(
        "update_size_differs",
        "a file whose size changed is sent again",
        [],
        need_list::update,
        need_list::Change::Size
    ),
    case!(
        "update_mtime_differs",
        "a file whose mtime changed is sent again",
        [],
        need_list::update,
        need_list::Change::Mtime
    ),
    case!(
        "update_content_checksum",
        "same size and mtime: only checksum mode sees new content",
        [Checksum],
        need_list::update_checksum
    ),
    case!("copy_keeps_extraneous", "copy leaves entries the source lacks alone", [], need_list::copy_keeps_extraneous),
    case!(
        "mirror_deletes",
        "mirror deletes files, dirs and symlinks the source lacks",
        [Mirror, Symlink],
        need_list::mirror_deletes
    ),
    case!("dry_run_copy", "a dry run reports and changes nothing", [], need_list::dry_run, false),
    case!(
        "dry_run_mirror",
        "a mirror dry run reports deletions and deletes nothing",
        [Mirror],
        need_list::dry_run,
        true
    ),
    case!("second_run_idle", "a second run transfers nothing", [MtimeNs], need_list::second_run_idle),
    case!("events_every_entry", "every entry is reported once with its size", [Symlink], progress::every_entry),
    case!(
        "events_in_place_for_move",
        "with remove_source every file and symlink is reported in place once, as the source has it",
        [Symlink, MtimeNs],
        progress::in_place_for_every_file
    ),
    case!(
        "source_removed_during_walk",
        "a file removed during the walk fails alone",
        [PerFileErrors],
        errors::removed_during_walk
    ),
    case!(
        "exclude_skips_matching_files",
        "files matching an exclude pattern at any depth are not sent",
        [],
        filters::exclude_skips_matching_files
    ),
    case!(
        "exclude_prunes_directories",
        "dir-only and anchored excludes leave whole directories out",
        [],
        filters::exclude_prunes_directories
    ),
    case!(
        "include_before_exclude",
        "an include listed before a catch-all exclude wins, at any depth",
        [],
        filters::include_before_exclude
    ),
    case!("size_bounds_skip_files", "min and max size leave files out", [], filters::size_bounds_skip_files),
    case!(
        "files_from_selects_listed_paths",
        "files-from sends listed paths and their parents only",
        [],
        filters::files_from_selects_listed_paths
    ),
    case!(
        "mirror_keeps_excluded",
        "mirror keeps destination entries the filter excludes",
        [Mirror],
        filters::mirror_keeps_excluded
    ),
    case!(
        "mirror_delete_excluded_removes_them",
        "mirror with delete-excluded deletes excluded destination entries",
        [Mirror],
        filters::mirror_delete_excluded_removes_them
    ),
    case!(
        "hard_links_stay_linked",
        "with hard links kept, names of one file stay one file; equal unlinked files stay apart",
        [],
        links::hard_links_stay_linked
    ),
    case!("hard_link_rerun_is_noop", "a second run with hard links kept changes nothing", [], links::rerun_is_noop),
    case!("xattrs_preserved", "user.* extended attributes arrive with --xattrs", [FsUserXattrs], metadata::xattrs),
    case!(
        "owner_group_preserved_when_root",
        "as root owner and group arrive; otherwise entries land and one warning says why",
        [],
        metadata::owner_group
    ),
    case!("random_trees", "generated trees land identically", [], property::random_trees),
    case!(
        "resumes_partial_file",
        "--resume keeps the intact blocks of a partial copy and sends the rest",
        [Resume],
        resume::resumes_partial_file
    ),
    case!(
        "delta_sends_changed_blocks",
        "delta transfer builds on the older version at the destination and sends only its changed blocks",
        [Resume],
        resume::delta_sends_changed_blocks
    ),
    case!(
        "delta_after_an_insertion",
        "delta transfer finds the older version's blocks that bytes inserted before them moved",
        [Resume],
        resume::delta_after_an_insertion
    ),
    case!(
        "part_ranges_land_then_resume",
        "part-range transfers fill the partial copy range by range; a --resume run lands it sending nothing",
        [Resume],
        part_range::part_ranges_land_then_resume
    ),
    case!(
        "sparse_file_keeps_its_holes",
        "a sparse file lands equal to the source and its holes stay holes",
        [Resume],
        sparse::sparse_file_keeps_its_holes
    ),
];

/// Every case, in a stable order.
pub fn catalogue() -> &'static [Case] {
    CATALOGUE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_snake_case() {
        let mut ids: Vec<_> = catalogue().iter().map(|c| c.id).collect();
        assert!(ids.iter().all(|id| id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), catalogue().len());
        assert!(find("many_small_files").is_some() && find("nope").is_none());
    }

    #[test]
    fn needs_are_read_from_capabilities() {
        let case = find("mirror_deletes").unwrap();
        assert_eq!(case.missing(&Capabilities::default()), vec![Need::Mirror, Need::Symlink]);
        let caps = Capabilities { mirror: true, symlink: true, ..Capabilities::default() };
        assert!(case.missing(&caps).is_empty());
    }
}
