//! Random fixture trees for property tests (proptest strategies).
//!
//! [`tree`] generates names (ASCII, unicode, spaces and newlines, long, and
//! non-UTF-8 bytes when the capabilities allow), kinds (files, directories,
//! and symlinks when allowed), sizes around the shard limit, modes and
//! nanosecond mtimes. Strategies shrink: `conformance/tests/proptest_trees.rs`
//! uses them with proptest's runner; the `random_trees` case draws a few
//! trees from the trial seed without shrinking, so that every harness runs
//! them through the normal suite.

use crate::fixture::{Rng, TreeSpec};
use blit_api::Capabilities;
use blit_planner::shard::SHARD_FILE_MAX;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::collections::BTreeMap;

/// A generated entry before it is flattened into a [`TreeSpec`].
#[derive(Debug, Clone)]
enum Gen {
    File { len: u64, seed: u64, mode: u32, mtime_ns: i64 },
    Link { target: Vec<u8>, mtime_ns: i64 },
    Dir { mode: u32, mtime_ns: i64, children: BTreeMap<Vec<u8>, Gen> },
}

fn usable(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.starts_with(b".blit") && !name.contains(&b'/')
}

fn name(caps: Capabilities) -> BoxedStrategy<Vec<u8>> {
    let unicode = prop::sample::select(vec!["é", "e\u{301}", "日本", "🦀", "Ω", "ǅ", "ß"]);
    let mut options = vec![
        (4, "[a-z0-9_]{1,10}".prop_map(String::into_bytes).boxed()),
        (2, "[a-zA-Z0-9 ._-]{1,16}".prop_map(String::into_bytes).boxed()),
        (2, ("[a-z]{0,4}", unicode).prop_map(|(a, u)| format!("{a}{u}").into_bytes()).boxed()),
        (1, "[a-z]{1,4}[ \n\t\r][a-z]{0,4}".prop_map(String::into_bytes).boxed()),
        (1, (200usize..=255).prop_map(|n| vec![b'L'; n]).boxed()),
    ];
    if caps.path_non_utf8 {
        let raw = prop::collection::vec(1u8..=255, 1..12).prop_filter("not UTF-8", |b| std::str::from_utf8(b).is_err());
        options.push((1, raw.boxed()));
    }
    prop::strategy::Union::new_weighted(options).prop_filter("a usable name", |n| usable(n)).boxed()
}

fn mtime() -> impl Strategy<Value = i64> + Clone {
    (0i64..4_000_000_000, 0i64..1_000_000_000).prop_map(|(s, ns)| s * 1_000_000_000 + ns)
}

fn file() -> impl Strategy<Value = Gen> + Clone {
    let len = prop_oneof![
        6 => 0u64..=64,
        3 => 65u64..=8192,
        1 => (SHARD_FILE_MAX - 1)..=(SHARD_FILE_MAX + 1),
    ];
    let mode = prop::sample::select(vec![0o644u32, 0o600, 0o755, 0o444, 0o640]);
    (len, any::<u64>(), mode, mtime()).prop_map(|(len, seed, mode, mtime_ns)| Gen::File { len, seed, mode, mtime_ns })
}

fn link() -> impl Strategy<Value = Gen> + Clone {
    let target = prop_oneof![
        "(\\.\\./)?[a-z]{1,6}(/[a-z]{1,6}){0,2}".prop_map(String::into_bytes),
        "/[a-z]{1,8}/[a-z ]{1,8}".prop_map(String::into_bytes),
    ];
    (target, mtime()).prop_map(|(target, mtime_ns)| Gen::Link { target, mtime_ns })
}

fn dir_mode() -> impl Strategy<Value = u32> + Clone {
    prop::sample::select(vec![0o755u32, 0o700, 0o750, 0o555])
}

/// Random trees for a harness with `caps`: up to about 40 entries, four
/// levels deep. Symlinks appear only with [`Capabilities::symlink`] and
/// non-UTF-8 names only with [`Capabilities::path_non_utf8`].
pub fn tree(caps: Capabilities) -> impl Strategy<Value = TreeSpec> {
    let leaf = if caps.symlink { prop_oneof![4 => file(), 1 => link()].boxed() } else { file().boxed() };
    let names = name(caps);
    let dir_names = names.clone();
    let node = leaf.prop_recursive(4, 40, 6, move |inner| {
        (dir_mode(), mtime(), prop::collection::btree_map(dir_names.clone(), inner, 0..6))
            .prop_map(|(mode, mtime_ns, children)| Gen::Dir { mode, mtime_ns, children })
    });
    (dir_mode(), mtime(), prop::collection::btree_map(names, node, 0..8)).prop_map(|(mode, mtime_ns, children)| {
        let mut spec = TreeSpec::new();
        flatten(&mut spec, Vec::new(), &Gen::Dir { mode, mtime_ns, children });
        spec
    })
}

fn flatten(spec: &mut TreeSpec, path: Vec<u8>, node: &Gen) {
    match node {
        Gen::File { len, seed, mode, mtime_ns } => {
            spec.file(&path, crate::fixture::Content::Seeded { len: *len, seed: *seed }, *mode, *mtime_ns);
        }
        Gen::Link { target, mtime_ns } => {
            spec.symlink(&path, target, *mtime_ns);
        }
        Gen::Dir { mode, mtime_ns, children } => {
            spec.dir(&path, *mode, *mtime_ns);
            for (name, child) in children {
                let mut p = path.clone();
                if !p.is_empty() {
                    p.push(b'/');
                }
                p.extend_from_slice(name);
                flatten(spec, p, child);
            }
        }
    }
}

/// Draws `count` trees for `caps` from `seed`, deterministically (no
/// shrinking; use proptest's runner with [`tree`] for that).
pub fn generate(caps: Capabilities, seed: u64, count: usize) -> Result<Vec<TreeSpec>, String> {
    let mut rng = Rng::new(seed);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let strategy = tree(caps);
    (0..count).map(|_| strategy.new_tree(&mut runner).map(|t| t.current()).map_err(|e| e.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_respects_caps() {
        let none = Capabilities::default();
        let a = generate(none, 42, 5).unwrap();
        assert_eq!(a, generate(none, 42, 5).unwrap());
        assert_ne!(a, generate(none, 43, 5).unwrap());
        for spec in &a {
            for e in spec.entries() {
                assert!(std::str::from_utf8(e.path()).is_ok(), "non-UTF-8 name without the capability");
                assert!(!matches!(e, crate::fixture::EntrySpec::Symlink { .. }), "symlink without the capability");
            }
        }
    }
}
