//! Property-based fuzzing of every decoder of peer input in this crate, one
//! module per decoder: message conversion and frames (`messages`), the
//! options and the filter a daemon compiles from them (`options`), payload
//! record streams (`records`), the tar shard reader and PAX records
//! (`shards`).
//!
//! Each property feeds generated or mutated input and checks that decoding
//! never panics and never yields a path that did not pass
//! [`RelPath::from_bytes`]; what lands on disk must stay inside its root.
//! `PROPTEST_CASES` sets the number of cases per property (256 by default;
//! `bench/fuzz.sh` runs many more, in release mode). Each module also
//! samples its own strategies and checks that they reach the fields they
//! exist for, so a strategy that quietly stops generating them fails.

mod messages;
mod options;
mod records;
mod shards;

use blit_api::{FileHeader, RelPath};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use std::path::{Path, PathBuf};

/// Path bytes that are often nearly valid: components drawn from a small
/// alphabet of dangerous and ordinary pieces, joined by `/`, sometimes
/// fully arbitrary.
fn path_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(Vec::new()),
        Just(b"a".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"nul\0".to_vec()),
        Just(b"etc".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..12),
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..6).prop_map(|p| p.join(&b'/')),
        proptest::collection::vec(piece_or_slash(), 0..40),
    ]
}

/// Names: ordinary relative paths as often as the hostile mix of
/// [`path_bytes`], so that decoders get past the path check too.
fn name_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof!["[a-z]{1,6}(/[a-z]{1,6}){0,2}".prop_map(String::into_bytes), path_bytes()]
}

fn piece_or_slash() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'/'), Just(b'.'), Just(0u8), any::<u8>()]
}

/// `bytes` with bytes overwritten at `flips`, then cut at `cut`: the
/// mutations of the generated-then-mutated properties.
fn mutate(mut bytes: Vec<u8>, flips: &[(prop::sample::Index, u8)], cut: Option<prop::sample::Index>) -> Vec<u8> {
    if !bytes.is_empty() {
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
    }
    bytes
}

/// A path that was validated (the only way to hold a `RelPath`) and still
/// validates: nothing decoded skips the check.
fn assert_valid(path: &RelPath) {
    assert!(RelPath::from_bytes(path.as_bytes().to_vec()).is_ok(), "unvalidated path {path:?}");
}

/// Every path of a decoded header is valid, and what it carries is
/// consistent: a hard link only on a regular file that is not the root, a
/// link target only on a symlink, extended attribute names non-empty and
/// free of NUL bytes, a block map with one hash (and none or one weak
/// checksum) per block.
fn assert_header(h: &FileHeader) {
    assert_valid(&h.path);
    if let Some(target) = &h.hard_link {
        assert_valid(target);
        assert!(h.kind == blit_api::FileKind::File && !h.path.is_root(), "a hard link on {h:?}");
    }
    assert_eq!(h.link_target.is_some(), h.kind == blit_api::FileKind::Symlink, "{h:?}");
    for (name, _) in &h.xattrs {
        assert!(!name.is_empty() && !name.contains(&0), "xattr name {name:?}");
    }
    if let Some(map) = &h.resume {
        let blocks = map.partial_len().div_ceil(u64::from(map.block_size()));
        assert!(map.block_size().is_power_of_two() && map.block_size() >= 4096, "{map:?}");
        assert_eq!(blocks, map.hashes().len() as u64, "{map:?}");
        assert!(map.weak().is_empty() || map.weak().len() == map.hashes().len(), "{map:?}");
    }
}

/// `count` values drawn from `strategy` (a fixed seed: deterministic).
fn sample<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..count).map(|_| strategy.new_tree(&mut runner).expect("a value").current()).collect()
}

/// Every path below `dir`.
fn everything_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A fresh `root` beside a canary file, for a property that lands input.
struct Sandbox {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("the root");
        std::fs::write(dir.path().join("canary"), b"c").expect("the canary");
        Sandbox { dir, root }
    }

    /// Checks that nothing appeared beside the root, the canary is intact,
    /// and the root holds only regular files and directories, with no
    /// temporary file left except `.part` copies an interrupted large file
    /// keeps (by design, for `--resume`) when `parts_allowed`.
    fn check(&self, parts_allowed: bool) {
        let outside = std::fs::read_dir(self.dir.path()).expect("list").map(|e| e.expect("entry").file_name());
        let mut outside: Vec<_> = outside.map(|n| n.to_string_lossy().into_owned()).collect();
        outside.sort();
        assert_eq!(outside, ["canary", "root"], "input wrote outside its root");
        assert_eq!(std::fs::read(self.dir.path().join("canary")).expect("canary"), b"c");
        for p in everything_below(&self.root) {
            let name = p.file_name().expect("a name").to_string_lossy().into_owned();
            let part = parts_allowed && name.ends_with(".part");
            assert!(!name.starts_with(".blit.") || part, "a temporary file stayed: {}", p.display());
            let m = std::fs::symlink_metadata(&p).expect("metadata");
            assert!(m.is_file() || m.is_dir(), "input made something other than files: {}", p.display());
        }
    }
}
