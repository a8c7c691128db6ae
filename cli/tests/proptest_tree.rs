//! Property: any random tree copies to an identical tree (content, kind,
//! mode, mtime to the nanosecond, symlink target), and a rerun changes nothing.

mod common;

use common::*;
use proptest::prelude::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

#[derive(Debug, Clone)]
enum Gen {
    File { size: usize, mode: u32, secs: i64, nsec: i64, seed: u8 },
    Dir(Vec<(Vec<u8>, Gen)>),
    Symlink(Vec<u8>),
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(|s| s.into_bytes()),
        "[a-zA-Z0-9 ._-]{1,20}".prop_map(|s| s.into_bytes()),
        Just("ünï 日本".as_bytes().to_vec()),
        Just(b"raw\xff\x80name".to_vec()),
        Just(b"line\nbreak".to_vec()),
    ]
    .prop_filter("valid component", |n| n != b"." && n != b".." && !n.contains(&b'/') && !n.contains(&0))
}

fn tree() -> impl Strategy<Value = Gen> {
    let leaf = prop_oneof![
        4 => (0usize..70_000, prop::sample::select(vec![0o600u32, 0o644, 0o755, 0o444]), 0i64..2_000_000_000, 0i64..1_000_000_000, any::<u8>())
            .prop_map(|(size, mode, secs, nsec, seed)| Gen::File { size, mode, secs, nsec, seed }),
        1 => name().prop_map(Gen::Symlink),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop::collection::vec((name(), inner), 0..6).prop_map(|mut v| {
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v.dedup_by(|a, b| a.0 == b.0);
            Gen::Dir(v)
        })
    })
}

fn build(path: &std::path::Path, g: &Gen) {
    match g {
        Gen::File { size, mode, secs, nsec, seed } => {
            let data: Vec<u8> = (0..*size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(*seed)).collect();
            write(path, &data, *mode, *secs, *nsec);
        }
        Gen::Symlink(target) => std::os::unix::fs::symlink(OsStr::from_bytes(target), path).unwrap(),
        Gen::Dir(children) => {
            std::fs::create_dir_all(path).unwrap();
            for (n, c) in children {
                build(&path.join(OsStr::from_bytes(n)), c);
            }
            set_mtime(path, 1_234_567_890, 123);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_trees_copy_exactly(children in prop::collection::vec((name(), tree()), 0..8)) {
        let mut children = children;
        children.sort_by(|a, b| a.0.cmp(&b.0));
        children.dedup_by(|a, b| a.0 == b.0);
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        build(&src, &Gen::Dir(children));
        blit_ok(&[OsStr::new("copy"), &slash(&src), dst.as_os_str()]);
        let (a, b) = (snapshot(&src), snapshot(&dst));
        assert_same(&a, &b);
        let s = summary(&blit_ok(&[OsStr::new("copy"), OsStr::new("--json"), &slash(&src), dst.as_os_str()]));
        prop_assert_eq!(&s["entries_transferred"], 0);
    }
}
