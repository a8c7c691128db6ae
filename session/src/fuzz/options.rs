//! The options a client sends with `Open`, and the filter a daemon compiles
//! from them (`blit_planner::filter::Filter::new`, on the side that walks or
//! judges). A hostile client controls every pattern and path: compiling
//! must either succeed or fail with [`ErrorKind::InvalidInput`], never
//! panic, and stay bounded in time (the rule-count and list-size limits).

use super::{path_bytes, sample};
use crate::convert::options_from_pb;
use blit_api::{ErrorKind, FileKind, RelPath};
use blit_planner::filter::{Filter, MAX_PATTERN_BYTES, MAX_RULES};
use blit_proto::pb;
use proptest::prelude::*;
use prost::Message as _;

/// Glob text built from the pieces of glob syntax (classes, alternates,
/// escapes, separators) and ordinary names, sometimes any text at all.
fn glob_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("*".to_owned()),
        Just("**".to_owned()),
        Just("?".to_owned()),
        Just("/".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("[!a-z]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        Just("\\".to_owned()),
        Just("-".to_owned()),
        Just("..".to_owned()),
        "[a-z.]{1,5}",
        any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        4 => proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
        1 => ".{0,24}",
    ]
}

/// Wire options with any rules, files-from paths and size bounds.
pub(super) fn pb_options() -> impl Strategy<Value = pb::Options> {
    let rule = (any::<bool>(), glob_text()).prop_map(|(include, pattern)| pb::FilterRule { include, pattern });
    let flags = proptest::collection::vec(any::<bool>(), 13);
    let size = || proptest::option::of(prop_oneof![0u64..100, any::<u64>()]);
    (
        proptest::collection::vec(rule, 0..6),
        any::<bool>(),
        proptest::collection::vec(path_bytes(), 0..5),
        size(),
        size(),
        flags,
        any::<u64>(),
        part_range(),
    )
        .prop_map(|(filter_rules, has_files_from, files_from, min_size, max_size, f, bwlimit, part_range)| {
            pb::Options {
                checksum: f[0],
                mirror: f[1],
                dry_run: f[2],
                resume: f[3],
                hard_links: f[4],
                owner: f[5],
                group: f[6],
                xattrs: f[7],
                delete_excluded: f[8],
                update: f[9],
                ignore_existing: f[10],
                size_only: f[11],
                one_file_system: f[12],
                link_dest: None,
                backup: f[0],
                backup_dir: None,
                backup_suffix: f[1].then(|| b"~".to_vec().into()),
                fsync: f[2],
                remove_source: f[3],
                delta: f[4],
                verify: f[5],
                max_delete: f[9].then_some(bwlimit % 1000),
                bwlimit_bytes_per_sec: bwlimit,
                filter_rules,
                has_files_from,
                files_from: files_from.into_iter().map(Into::into).collect(),
                min_size,
                max_size,
                part_range,
            }
        })
}

/// A part range, or none: sometimes empty, sometimes ending past `u64`.
fn part_range() -> impl Strategy<Value = Option<pb::PartRange>> {
    let offset = prop_oneof![0u64..100, any::<u64>()];
    let len = prop_oneof![Just(0u64), 1u64..100, any::<u64>()];
    proptest::option::of((offset, len).prop_map(|(offset, len)| pb::PartRange { offset, len }))
}

/// Decodes options and compiles their filter as a daemon does; a filter
/// that compiles answers for a few entries.
pub(super) fn check_options(options: Option<pb::Options>) -> Option<Filter> {
    let wire = options.as_ref().and_then(|o| o.part_range);
    let options = match options_from_pb(options) {
        Ok(options) => options,
        Err(e) => {
            let p = wire.expect("only a part range makes options themselves invalid");
            assert!(p.len == 0 || p.offset.checked_add(p.len).is_none(), "a valid part range was refused: {e}");
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            return None;
        }
    };
    let range = options.part_range.map(|r| (r.offset, r.len));
    assert_eq!(range, wire.map(|p| (p.offset, p.len)), "the part range survives decoding");
    match Filter::new(&options.filter) {
        Ok(filter) => {
            for path in [&b"a"[..], b"a/b", b"x/y/z.rs", b"\xff/..."] {
                let path = RelPath::from_bytes(path.to_vec()).expect("a valid path");
                for kind in [FileKind::File, FileKind::Dir] {
                    let _ = filter.includes(&path, kind, 10);
                }
            }
            Some(filter)
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert!(!e.message().is_empty() && e.hint().is_some(), "an error without a message or hint: {e:?}");
            None
        }
    }
}

proptest! {
    #[test]
    fn options_compile_or_are_refused(options in proptest::option::of(pb_options())) {
        check_options(options);
    }
}

#[test]
fn the_options_strategy_reaches_filters_that_compile_and_filters_that_do_not() {
    let options = sample(pb_options(), 2000);
    let compiled = options.iter().filter(|o| check_options(Some((*o).clone())).is_some_and(|f| !f.selects_all()));
    assert!(compiled.count() > 100, "filters that compile and select something");
    let refused = |why: &str| {
        let refused = options.iter().filter(|o| {
            let whole = pb::Options { part_range: None, ..(*o).clone() };
            let spec = options_from_pb(Some(whole)).expect("options without a part range decode").filter;
            Filter::new(&spec).is_err_and(|e| e.message().contains(why))
        });
        refused.count()
    };
    assert!(refused("invalid filter pattern") > 20, "patterns that do not compile");
    assert!(refused("--files-from names") > 20, "files-from paths that leave the root");
    assert!(refused("--min-size") > 20, "a minimum above the maximum");
    let ranges = |valid: bool| {
        let ranged = options.iter().filter(|o| o.part_range.is_some());
        ranged.filter(|o| options_from_pb(Some((*o).clone())).is_ok() == valid).count()
    };
    assert!(ranges(true) > 20 && ranges(false) > 20, "part ranges kept and part ranges refused");
}

/// The rule-count, pattern-size and component limits hold, refusing costs
/// nothing, and the largest filters those limits let through compile, or
/// are refused, in bounded time: each case below within `BOUND` even in a
/// debug build on a busy machine.
#[test]
fn hostile_filters_compile_in_bounded_time() {
    const BOUND: std::time::Duration = std::time::Duration::from_secs(10);
    let compile = |rules: Vec<pb::FilterRule>| {
        let options = pb::Options { filter_rules: rules, ..pb::Options::default() };
        assert!(options.encoded_len() <= crate::MAX_MESSAGE_SIZE, "a case that fits one message");
        let started = std::time::Instant::now();
        let result = Filter::new(&options_from_pb(Some(options)).expect("options without a part range decode").filter);
        (result, started.elapsed())
    };
    let rule = |include: bool, pattern: String| pb::FilterRule { include, pattern };
    let refused = |rules: Vec<pb::FilterRule>, why: &str| {
        let (result, took) = compile(rules);
        let e = result.err().unwrap_or_else(|| panic!("refused: {why}"));
        assert!(e.message().contains(why) && e.hint().is_some(), "{e:?} should say {why}");
        assert!(took < std::time::Duration::from_millis(200), "refusing took {took:?}");
    };
    // As large as one message allows; as large as the limits allow.
    let huge = |unit: &str| unit.repeat((crate::MAX_MESSAGE_SIZE - 64) / unit.len());
    let most = |unit: &str| unit.repeat(MAX_PATTERN_BYTES / unit.len());
    refused(vec![rule(true, "a".into()); MAX_RULES + 1], "filter rules given");
    refused(vec![rule(false, huge("*/"))], "bytes; the limit");
    refused(vec![rule(true, "a*/".repeat(130)); MAX_RULES], "bytes; the limit");
    refused(vec![rule(true, "a*/".repeat(128)); 129], "path components");
    let alternation = format!("{{{}}}", vec!["x*y?z"; 60].join(","));
    let cases = [
        ("anchored includes at the component limit", vec![rule(true, "a*/".repeat(128)); 128]),
        (
            "alternations up to the byte limit",
            vec![rule(true, alternation.clone()); MAX_PATTERN_BYTES / alternation.len()],
        ),
        ("an anchored exclude at the byte limit", vec![rule(false, most("*/"))]),
        ("a class pattern at the byte limit", vec![rule(true, most("[a-z]"))]),
        ("MAX_RULES short patterns", (0..MAX_RULES).map(|i| rule(i % 2 == 0, format!("d{i}/*.{i}"))).collect()),
    ];
    for (what, rules) in cases {
        let (result, took) = compile(rules);
        if let Err(e) = &result {
            assert!(e.kind() == ErrorKind::InvalidInput && e.hint().is_some(), "{what}: {e:?}");
        }
        eprintln!("{what}: {} in {took:?}", if result.is_ok() { "compiled" } else { "refused" });
        assert!(took < BOUND, "{what}: {took:?}");
    }
}
