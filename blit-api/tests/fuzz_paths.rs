//! Property-based fuzzing of path validation, the check every path a peer
//! sends goes through: `RelPath::from_bytes` never panics, and whatever it
//! accepts stays below any base it is joined to. `PROPTEST_CASES` sets the
//! number of cases (256 by default; `bench/fuzz.sh` runs many more).

use blit_api::RelPath;
use proptest::prelude::*;
use std::path::{Component, Path};

/// Bytes that are often nearly valid: dangerous and ordinary components,
/// doubled and trailing slashes, NUL, non-UTF-8.
fn path_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(b"...".to_vec()),
        Just(Vec::new()),
        Just(b"a".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"x\0y".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..10),
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..8).prop_map(|p| p.join(&b'/')),
        proptest::collection::vec(prop_oneof![Just(b'/'), Just(b'.'), Just(0u8), any::<u8>()], 0..48),
    ]
}

proptest! {
    #[test]
    fn accepted_paths_never_leave_their_base(bytes in path_bytes()) {
        let Ok(p) = RelPath::from_bytes(bytes.clone()) else { return Ok(()) };
        prop_assert_eq!(p.as_bytes(), &bytes[..]);
        prop_assert!(!bytes.contains(&0));
        let base = Path::new("/base/dir");
        let joined = p.to_path(base);
        prop_assert!(joined.starts_with(base));
        let below: Vec<_> = joined.strip_prefix(base).unwrap().components().collect();
        prop_assert!(below.iter().all(|c| matches!(c, Component::Normal(_))), "{:?}", below);
        prop_assert_eq!(below.len(), p.depth());
        // Every part of the path is itself valid, and rebuilds it.
        let mut rebuilt = RelPath::root();
        for comp in bytes.split(|b| *b == b'/').filter(|c| !c.is_empty()) {
            rebuilt = rebuilt.join(comp);
        }
        prop_assert_eq!(&rebuilt, &p);
        if let Some(parent) = p.parent() {
            prop_assert!(RelPath::from_bytes(parent.as_bytes().to_vec()).is_ok());
            prop_assert_eq!(parent.join(p.file_name()), p.clone());
        }
    }

    #[test]
    fn refused_paths_say_why(bytes in path_bytes()) {
        if let Err(e) = RelPath::from_bytes(bytes.clone()) {
            prop_assert_eq!(e.kind(), blit_api::ErrorKind::Protocol);
            prop_assert!(e.message().contains("unsafe relative path"));
            let escapes = bytes.contains(&0)
                || bytes.split(|b| *b == b'/').any(|c| c.is_empty() || c == b"." || c == b"..");
            prop_assert!(escapes, "refused a safe path {:?}", String::from_utf8_lossy(&bytes));
        }
    }
}
