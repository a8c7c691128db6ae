//! Cases about what the walk and the tree shape produce: roots, nesting,
//! empty directories, symlinks, awkward names and deep paths.

use crate::ctx::{Ctx, Expect, Transfer};
use crate::failure::{ensure, rules, show_path, Failure};
use crate::fixture::{Rng, TreeSpec};
use blit_api::FileKind;

/// Adds a random tree of `depth` levels below `at`: each directory holds
/// `files` files (0 to 2 KiB) and `fanout` subdirectories.
pub(crate) fn random_tree(spec: &mut TreeSpec, rng: &mut Rng, at: &str, depth: usize, fanout: usize, files: usize) {
    let join = |name: String| if at.is_empty() { name } else { format!("{at}/{name}") };
    for i in 0..files {
        let len = rng.below(2048);
        let content = rng.content(len);
        let mtime = rng.mtime_ns();
        spec.file(join(format!("f{i}-{}", rng.name(4))), content, 0o644, mtime);
    }
    if depth == 0 {
        return;
    }
    for i in 0..fanout {
        let dir = join(format!("d{i}-{}", rng.name(3)));
        let mtime = rng.mtime_ns();
        spec.dir(&dir, 0o755, mtime);
        random_tree(spec, rng, &dir, depth - 1, fanout, files);
    }
}

/// A source root directory with a seeded mtime.
pub(crate) fn root(rng: &mut Rng) -> TreeSpec {
    let mut spec = TreeSpec::new();
    spec.dir("", 0o755, rng.mtime_ns());
    spec
}

/// An empty source directory lands as an empty directory, reported once.
pub async fn empty_tree(ctx: &mut Ctx) -> Result<(), Failure> {
    let spec = root(ctx.rng());
    ctx.build(&spec)?;
    let out = ctx.transfer(Transfer::new()).await?;
    ensure(out.done(FileKind::Dir) == vec![Vec::<u8>::new()], rules::EVERY_ENTRY_REPORTED, || {
        format!("expected exactly the root directory done, got {:?}", out.done(FileKind::Dir))
    })
}

/// A source that is one file lands at a file path whose parent is missing.
pub async fn file_to_file_path(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = TreeSpec::new();
    let (content, mtime) = (ctx.rng().content(3000), ctx.rng().mtime_ns());
    spec.file("", content, 0o640, mtime);
    let (src, dst) = (ctx.root().join("one.bin"), ctx.root().join("out/sub/copy.bin"));
    ctx.build_at(&src, &spec)?;
    let out = ctx.transfer(Transfer::new().from(&src).to(&dst)).await?;
    ensure(out.done(FileKind::File) == vec![Vec::<u8>::new()], rules::EVERY_ENTRY_REPORTED, || {
        format!("expected the single file done under the root path, got {:?}", out.done(FileKind::File))
    })
}

/// A single file lands inside an existing directory, next to what is there.
pub async fn file_into_dir(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut src = TreeSpec::new();
    let (content, mtime) = (ctx.rng().content(777), ctx.rng().mtime_ns());
    src.file("", content, 0o600, mtime);
    let mut existing = root(ctx.rng());
    let (content, mtime) = (ctx.rng().content(10), ctx.rng().mtime_ns());
    existing.file("neighbour.txt", content, 0o644, mtime);
    let src_path = ctx.src().join("report.dat");
    ctx.build_at(&src_path, &src)?;
    ctx.build_at(&ctx.dst(), &existing)?;
    let neighbour = ctx.dst().join("neighbour.txt");
    let before = ctx.snapshot(&neighbour)?;
    ctx.transfer(Transfer::new().from(&src_path).to(ctx.dst().join("report.dat"))).await?;
    let after = ctx.snapshot(&neighbour)?;
    before.expect_equal(&after, &ctx.caps()).map_err(|f| f.context("the file already in the directory changed"))
}

/// Directories nested four deep, each with files.
pub async fn nested_dirs(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    random_tree(&mut spec, ctx.rng(), "", 4, 2, 2);
    ctx.build(&spec)?;
    ctx.transfer(Transfer::new()).await.map(drop)
}

/// Empty directories alone, nested, and beside files.
pub async fn empty_dirs(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    for (dir, mode) in [("a", 0o755), ("b", 0o700), ("b/c", 0o755), ("b/c/d", 0o750), ("e", 0o755), ("e/empty", 0o755)]
    {
        let mtime = ctx.rng().mtime_ns();
        spec.dir(dir, mode, mtime);
    }
    let (content, mtime) = (ctx.rng().content(5), ctx.rng().mtime_ns());
    spec.file("e/file", content, 0o644, mtime);
    ctx.build(&spec)?;
    let out = ctx.transfer(Transfer::new()).await?;
    ensure(out.done(FileKind::Dir).len() == 7, rules::EVERY_ENTRY_REPORTED, || {
        let shown: Vec<String> = out.done(FileKind::Dir).iter().map(|p| show_path(p)).collect();
        format!("expected 7 directories done (root included), got {shown:?}")
    })
}

/// Relative, absolute, dangling and directory symlinks land as links.
pub async fn symlinks(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    let (content, mtime) = (ctx.rng().content(100), ctx.rng().mtime_ns());
    spec.file("dir/target.txt", content, 0o644, mtime);
    let links: [(&str, &[u8]); 6] = [
        ("relative", b"dir/target.txt"),
        ("dir/up", b"../dir/target.txt"),
        ("absolute", b"/etc/hostname"),
        ("dangling", b"does/not/exist"),
        ("to-dir", b"dir"),
        ("odd target", b"  spaces and\nnewline "),
    ];
    for (path, target) in links {
        let mtime = ctx.rng().mtime_ns();
        spec.symlink(path, target, mtime);
    }
    let mtime = ctx.rng().mtime_ns();
    spec.dir("dir", 0o755, mtime);
    ctx.build(&spec)?;
    let out = ctx.transfer(Transfer::new()).await?;
    ensure(out.done(FileKind::Symlink).len() == links.len(), rules::EVERY_ENTRY_REPORTED, || {
        format!("expected {} symlinks done, got {}", links.len(), out.done(FileKind::Symlink).len())
    })
}

/// Which awkward names a `names_*` case uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// Unicode, including two normalisations of the same letter.
    Unicode,
    /// Bytes that are not UTF-8.
    NonUtf8,
    /// Spaces, newlines, tabs, quotes, globs, leading dashes and dots.
    Odd,
    /// 255-byte names and a path of about 2,000 bytes.
    Long,
}

fn name_set(names: Names) -> Vec<Vec<u8>> {
    let s = |v: &[&str]| v.iter().map(|n| n.as_bytes().to_vec()).collect::<Vec<_>>();
    match names {
        Names::Unicode => s(&["unicodé", "e\u{301}", "\u{e9}", "日本語ファイル", "🦀 crab", "Ωμέγα", "עברית", "ǅ"]),
        Names::NonUtf8 => {
            vec![b"latin1-\xe9t\xe9".to_vec(), b"\xff\xfe".to_vec(), b"half-\xc3".to_vec(), b"\x80".to_vec()]
        }
        Names::Odd => s(&[
            "with space",
            " leading",
            "trailing ",
            "new\nline",
            "\nstarts-with-newline",
            "tab\there",
            "carriage\rreturn",
            "back\\slash",
            "quote\"s'",
            "*?[glob]",
            "-dash",
            ".hidden",
            "..double",
            "...",
        ]),
        Names::Long => {
            let mut v = vec![vec![b'n'; 255], vec![b'm'; 254]];
            v.push("é".repeat(127).into_bytes()); // 254 bytes of two-byte letters
            v
        }
    }
}

/// Files and directories named from one awkward set, at two levels.
pub async fn names(ctx: &mut Ctx, names: Names) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    let set = name_set(names);
    for (i, name) in set.iter().enumerate() {
        let (content, mtime) = (ctx.rng().content(i as u64 * 7), ctx.rng().mtime_ns());
        spec.file(name, content, 0o644, mtime);
        let dir = if name.len() + 2 <= 255 { [&name[..], b".d"].concat() } else { format!("dir-{i}").into_bytes() };
        let mut inner = dir.clone();
        inner.push(b'/');
        inner.extend_from_slice(name);
        let (content, mtime) = (ctx.rng().content(3), ctx.rng().mtime_ns());
        spec.file(&inner, content, 0o600, mtime);
    }
    if names == Names::Long {
        // Eight 250-byte levels: a relative path of about 2,000 bytes.
        let long: Vec<String> = (0..8).map(|i| format!("{i}{}", "p".repeat(249))).collect();
        let (content, mtime) = (ctx.rng().content(9), ctx.rng().mtime_ns());
        spec.file(format!("{}/leaf", long.join("/")), content, 0o644, mtime);
    }
    ctx.build(&spec)?;
    let out = ctx.transfer(Transfer::new()).await?;
    let files = out.done(FileKind::File).len();
    let want = set.len() * 2 + usize::from(names == Names::Long);
    ensure(files == want, rules::EVERY_ENTRY_REPORTED, || format!("expected {want} files done, got {files}"))
}

/// A file and an empty directory 100 levels down.
pub async fn deep_paths(ctx: &mut Ctx) -> Result<(), Failure> {
    let mut spec = root(ctx.rng());
    let deep: Vec<String> = (0..100).map(|i| format!("d{i:02}")).collect();
    let deep = deep.join("/");
    let (content, mtime) = (ctx.rng().content(64), ctx.rng().mtime_ns());
    spec.file(format!("{deep}/leaf"), content, 0o644, mtime);
    spec.dir(format!("{deep}/empty"), 0o755, ctx.rng().mtime_ns());
    ctx.build(&spec)?;
    let out = ctx.transfer(Transfer::new().expect(Expect::Source)).await?;
    ensure(out.done(FileKind::Dir).len() == 102, rules::EVERY_ENTRY_REPORTED, || {
        format!("expected 102 directories done (root, 100 levels, one empty), got {}", out.done(FileKind::Dir).len())
    })
}
