//! Cases about filters (`TransferOptions::filter`): what the source's walk
//! leaves out, and what a mirroring destination keeps or deletes because of
//! them. Every expectation is worked out by hand from a fixed-shape tree, so
//! a case checks the filter, not a second copy of it: excluded entries are
//! absent from the destination, from the manifest counts
//! ([`Transfer::selected`]) and from the events.

use super::manifest::root;
use crate::ctx::{Ctx, Expect, Outcome, Transfer};
use crate::failure::{ensure, rules, show_path, Failure};
use crate::fixture::TreeSpec;
use crate::tree::Snapshot;
use blit_api::{FilterSpec, TransferOptions};

/// A tree of fixed shape with seeded contents and mtimes:
///
/// ```text
/// keep.txt a.log empty(0 B) big.bin(70,000 B)
/// src/main.rs src/notes.txt src/deep/lib.rs src/deep/debug.log
/// cache/blob(5,000 B)   build/out.o   sub/cache (a file)   sub/build/x
/// ```
fn tree(ctx: &mut Ctx) -> Result<Snapshot, Failure> {
    let mut spec = root(ctx.rng());
    for dir in ["src", "src/deep", "cache", "build", "sub", "sub/build"] {
        let mtime = ctx.rng().mtime_ns();
        spec.dir(dir, 0o755, mtime);
    }
    let files: [(&str, u64); 12] = [
        ("keep.txt", 100),
        ("a.log", 50),
        ("empty", 0),
        ("big.bin", 70_000),
        ("src/main.rs", 300),
        ("src/notes.txt", 20),
        ("src/deep/lib.rs", 2000),
        ("src/deep/debug.log", 10),
        ("cache/blob", 5000),
        ("build/out.o", 70),
        ("sub/cache", 30),
        ("sub/build/x", 5),
    ];
    for (path, len) in files {
        let (content, mtime) = (ctx.rng().content(len), ctx.rng().mtime_ns());
        spec.file(path, content, 0o644, mtime);
    }
    ctx.build(&spec)?;
    ctx.snapshot(&ctx.src())
}

/// `tree` without `paths` (and what lies below them).
fn without(tree: &Snapshot, paths: &[&str]) -> Snapshot {
    let mut out = tree.clone();
    for p in paths {
        out.remove_tree(p.as_bytes());
    }
    out
}

/// `tree` with only the root and `paths`.
fn only(tree: &Snapshot, paths: &[&str]) -> Snapshot {
    let mut out = Snapshot::default();
    for p in std::iter::once("").chain(paths.iter().copied()) {
        if let Some(node) = tree.get(p.as_bytes()) {
            out.insert(p, node.clone());
        }
    }
    out
}

fn filtered(spec: FilterSpec) -> TransferOptions {
    TransferOptions::new().filter(spec)
}

/// No event of the transfer names an excluded path or anything below it.
fn no_event_names(out: &Outcome, excluded: &[&str]) -> Result<(), Failure> {
    let hit =
        out.started().into_iter().chain(out.planned()).find(|p| {
            excluded.iter().any(|x| p.as_slice() == x.as_bytes() || p.starts_with(format!("{x}/").as_bytes()))
        });
    ensure(hit.is_none(), rules::FILTER_APPLIES, || {
        format!("an event names {}, which the filter excludes", show_path(hit.as_deref().unwrap_or_default()))
    })
}

fn same_deleted(out: &Outcome, want: &[&str]) -> Result<(), Failure> {
    let want: Vec<Vec<u8>> = want.iter().map(|p| p.as_bytes().to_vec()).collect();
    let got = out.deleted();
    ensure(got == want, rules::MIRROR_DELETES, || {
        let show = |v: &[Vec<u8>]| v.iter().map(|p| show_path(p)).collect::<Vec<_>>().join(", ");
        format!("mirror deleted [{}], expected [{}]", show(&got), show(&want))
    })
}

/// `--exclude '*.log'`: matching files at any depth stay behind.
pub async fn exclude_skips_matching_files(ctx: &mut Ctx) -> Result<(), Failure> {
    let tree = tree(ctx)?;
    let excluded = ["a.log", "src/deep/debug.log"];
    let transfer = Transfer::new().options(filtered(FilterSpec::new().exclude("*.log")));
    let out = ctx.transfer(transfer.selected(without(&tree, &excluded))).await?;
    no_event_names(&out, &excluded)
}

/// `--exclude cache/ --exclude /build`: a directory-only pattern spares the
/// file `sub/cache`, an anchored one spares `sub/build`.
pub async fn exclude_prunes_directories(ctx: &mut Ctx) -> Result<(), Failure> {
    let tree = tree(ctx)?;
    let excluded = ["cache", "build"];
    let spec = FilterSpec::new().exclude("cache/").exclude("/build");
    let out = ctx.transfer(Transfer::new().options(filtered(spec)).selected(without(&tree, &excluded))).await?;
    no_event_names(&out, &excluded)
}

/// `--include '*.rs' --exclude /build/ --exclude '*'`: the include, listed
/// first, wins for `.rs` files at any depth; directories are entered to find
/// them (and land, even empty), except the one a directory-only rule prunes.
pub async fn include_before_exclude(ctx: &mut Ctx) -> Result<(), Failure> {
    let tree = tree(ctx)?;
    let kept = ["src", "src/main.rs", "src/deep", "src/deep/lib.rs", "cache", "sub", "sub/build"];
    let spec = FilterSpec::new().include("*.rs").exclude("/build/").exclude("*");
    let out = ctx.transfer(Transfer::new().options(filtered(spec)).selected(only(&tree, &kept))).await?;
    no_event_names(&out, &["build", "keep.txt", "a.log", "src/notes.txt", "cache/blob", "sub/cache", "sub/build/x"])
}

/// `--min-size 1 --max-size 4K`: the empty file and the two large ones
/// stay behind; directories are not sized.
pub async fn size_bounds_skip_files(ctx: &mut Ctx) -> Result<(), Failure> {
    let tree = tree(ctx)?;
    let excluded = ["empty", "big.bin", "cache/blob"];
    let spec = FilterSpec::new().min_size(Some(1)).max_size(Some(4096));
    let out = ctx.transfer(Transfer::new().options(filtered(spec)).selected(without(&tree, &excluded))).await?;
    no_event_names(&out, &excluded)
}

/// `--files-from`: listed files, a listed directory's subtree and the
/// directories on the way; a listed path that does not exist is no error.
pub async fn files_from_selects_listed_paths(ctx: &mut Ctx) -> Result<(), Failure> {
    let tree = tree(ctx)?;
    let list = ["src/deep/lib.rs", "cache", "./keep.txt", "not/there"];
    let spec = FilterSpec::new().files_from(list.iter().map(|p| p.as_bytes().to_vec()).collect());
    let kept = ["src", "src/deep", "src/deep/lib.rs", "cache", "cache/blob", "keep.txt"];
    let out = ctx.transfer(Transfer::new().options(filtered(spec)).selected(only(&tree, &kept))).await?;
    no_event_names(&out, &["a.log", "src/main.rs", "src/deep/debug.log", "build", "sub"])
}

/// Copies the whole tree, then adds destination entries the source lacks:
/// `extra.txt` (not excluded), `x.log` and `src/old.log` (excluded).
async fn mirror_fixture(ctx: &mut Ctx) -> Result<Snapshot, Failure> {
    let tree = tree(ctx)?;
    ctx.transfer(Transfer::new()).await?;
    let mut extras = TreeSpec::new();
    for path in ["extra.txt", "x.log", "src/old.log"] {
        let (content, mtime) = (ctx.rng().content(40), ctx.rng().mtime_ns());
        extras.file(path, content, 0o644, mtime);
    }
    ctx.build_at(&ctx.dst(), &extras)?;
    Ok(tree)
}

/// Mirror with `--exclude '*.log' --exclude cache/`: excluded entries at the
/// destination stay (those the source has too, and those it lacks); only
/// the extraneous entry the filter selects is deleted.
pub async fn mirror_keeps_excluded(ctx: &mut Ctx) -> Result<(), Failure> {
    let tree = mirror_fixture(ctx).await?;
    let excluded = ["a.log", "src/deep/debug.log", "cache"];
    let selected = without(&tree, &excluded);
    let mut expected = without(&ctx.snapshot(&ctx.dst())?, &["extra.txt"]);
    for (path, node) in selected.iter() {
        expected.insert(path, node.clone());
    }
    let options = filtered(FilterSpec::new().exclude("*.log").exclude("cache/")).mirror(true);
    let transfer = Transfer::new().options(options).selected(selected).expect(Expect::Tree(expected));
    let out = ctx.transfer(transfer).await?;
    same_deleted(&out, &["extra.txt"])
}

/// The same mirror with `--delete-excluded`: every excluded entry at the
/// destination goes too, and the destination equals the selected source.
pub async fn mirror_delete_excluded_removes_them(ctx: &mut Ctx) -> Result<(), Failure> {
    let tree = mirror_fixture(ctx).await?;
    let excluded = ["a.log", "src/deep/debug.log", "cache"];
    let spec = FilterSpec::new().exclude("*.log").exclude("cache/").delete_excluded(true);
    let options = filtered(spec).mirror(true);
    let out = ctx.transfer(Transfer::new().options(options).selected(without(&tree, &excluded))).await?;
    same_deleted(&out, &["a.log", "cache", "extra.txt", "src/deep/debug.log", "src/old.log", "x.log"])
}
