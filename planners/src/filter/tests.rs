use super::*;
use blit_api::{ErrorKind, FileKind, FilterSpec, RelPath};

fn filter(spec: FilterSpec) -> Filter {
    Filter::new(&spec).unwrap()
}

fn p(path: &[u8]) -> RelPath {
    RelPath::from_bytes(path).unwrap()
}

fn file(f: &Filter, path: &[u8]) -> bool {
    f.includes(&p(path), FileKind::File, 10)
}

fn dir(f: &Filter, path: &[u8]) -> bool {
    f.includes(&p(path), FileKind::Dir, 0)
}

#[test]
fn default_includes_everything() {
    let f = Filter::default();
    assert!(f.selects_all());
    assert!(file(&f, b"a/b/c") && dir(&f, b"a"));
    let f = filter(FilterSpec::new().delete_excluded(true));
    assert!(f.selects_all() && f.delete_excluded());
}

#[test]
fn unanchored_matches_the_last_component_at_any_depth() {
    let f = filter(FilterSpec::new().exclude("*.log"));
    assert!(!file(&f, b"a.log") && !file(&f, b"x/y/a.log"));
    assert!(file(&f, b"a.log.txt") && file(&f, b"a.logs/b"));
    let f = filter(FilterSpec::new().exclude("node_modules"));
    assert!(!dir(&f, b"node_modules") && !dir(&f, b"web/node_modules"));
    assert!(dir(&f, b"node_modules_old"));
}

#[test]
fn leading_or_inner_slash_anchors_at_the_root() {
    let f = filter(FilterSpec::new().exclude("/build"));
    assert!(!dir(&f, b"build") && dir(&f, b"src/build"));
    let f = filter(FilterSpec::new().exclude("docs/*.md"));
    assert!(!file(&f, b"docs/a.md") && file(&f, b"x/docs/a.md"));
    // `*` never crosses a `/`.
    assert!(file(&f, b"docs/sub/a.md"));
}

#[test]
fn trailing_slash_matches_directories_only() {
    let f = filter(FilterSpec::new().exclude("cache/"));
    assert!(!dir(&f, b"cache") && !dir(&f, b"a/cache"));
    assert!(file(&f, b"cache") && f.includes(&p(b"a/cache"), FileKind::Symlink, 0));
}

#[test]
fn double_star_crosses_directories() {
    let f = filter(FilterSpec::new().exclude("/src/**/gen"));
    assert!(!dir(&f, b"src/gen") && !dir(&f, b"src/a/b/gen") && dir(&f, b"lib/gen"));
    let f = filter(FilterSpec::new().exclude("**/tmp/*.o"));
    assert!(!file(&f, b"tmp/x.o") && !file(&f, b"a/tmp/x.o") && file(&f, b"a/tmp/x.c"));
    let f = filter(FilterSpec::new().exclude("logs/**"));
    assert!(dir(&f, b"logs") && !file(&f, b"logs/a") && !file(&f, b"logs/a/b"));
}

#[test]
fn classes_and_question_marks() {
    let f = filter(FilterSpec::new().exclude("file[0-3]?.txt"));
    assert!(!file(&f, b"file2a.txt") && file(&f, b"file7a.txt") && file(&f, b"file2.txt"));
    let f = filter(FilterSpec::new().exclude("[!a]*"));
    assert!(file(&f, b"abc") && !file(&f, b"bcd"));
}

#[test]
fn first_match_decides_in_the_order_given() {
    let include_first = filter(FilterSpec::new().include("keep.log").exclude("*.log"));
    assert!(file(&include_first, b"d/keep.log") && !file(&include_first, b"d/other.log"));
    let exclude_first = filter(FilterSpec::new().exclude("*.log").include("keep.log"));
    assert!(!file(&exclude_first, b"d/keep.log"));
    // No rule matches: included.
    assert!(file(&exclude_first, b"d/readme"));
}

#[test]
fn include_then_catch_all_exclude_still_enters_directories() {
    let f = filter(FilterSpec::new().include("*.rs").exclude("*"));
    assert!(dir(&f, b"src") && dir(&f, b"src/deep/er"));
    assert!(file(&f, b"src/deep/a.rs") && !file(&f, b"src/deep/a.txt") && !file(&f, b"top.txt"));
    // A directory-only exclude prunes no matter what came before.
    let f = filter(FilterSpec::new().include("*.rs").exclude("target/").exclude("*"));
    assert!(!dir(&f, b"target") && dir(&f, b"src"));
    // An exclude before the include prunes: the include never gets a say.
    let f = filter(FilterSpec::new().exclude("vendor").include("*.rs").exclude("*"));
    assert!(!dir(&f, b"vendor") && dir(&f, b"src"));
    // Without any include, the catch-all prunes everything below the root.
    let f = filter(FilterSpec::new().exclude("*"));
    assert!(!dir(&f, b"src") && dir(&f, b""));
}

#[test]
fn anchored_includes_enter_only_directories_on_their_way() {
    let f = filter(FilterSpec::new().include("/src/**/*.rs").exclude("*"));
    assert!(dir(&f, b"src") && dir(&f, b"src/a/b") && !dir(&f, b"docs"));
    assert!(file(&f, b"src/a/b/x.rs") && !file(&f, b"docs/x.rs") && !file(&f, b"src/a/x.md"));
    let f = filter(FilterSpec::new().include("/a/*/c.txt").exclude("*"));
    assert!(dir(&f, b"a") && dir(&f, b"a/b") && !dir(&f, b"a/b/c") && !dir(&f, b"x"));
    assert!(file(&f, b"a/b/c.txt") && !file(&f, b"a/b/d.txt"));
}

#[test]
fn non_utf8_names_are_matched_as_bytes() {
    let f = filter(FilterSpec::new().exclude("*.bin").exclude("/raw/caf?"));
    assert!(!file(&f, b"d/\xff\xfe.bin"));
    assert!(file(&f, b"d/\xff\xfe.txt"));
    assert!(!file(&f, b"raw/caf\xe9"));
    assert!(file(&f, b"raw/caf\xe9\xe9"));
}

#[test]
fn sizes_bound_regular_files_only_inclusively() {
    let f = filter(FilterSpec::new().min_size(Some(10)).max_size(Some(20)));
    let size = |kind, n| f.includes(&p(b"x"), kind, n);
    assert!(!size(FileKind::File, 9) && size(FileKind::File, 10) && size(FileKind::File, 20));
    assert!(!size(FileKind::File, 21));
    assert!(size(FileKind::Dir, 0) && size(FileKind::Symlink, 1000));
}

#[test]
fn files_from_selects_listed_paths_and_their_parents() {
    let list = vec![b"./a/b/c.txt".to_vec(), b"/top".to_vec(), b"tree/".to_vec()];
    let f = filter(FilterSpec::new().files_from(list));
    assert!(dir(&f, b"a") && dir(&f, b"a/b") && file(&f, b"a/b/c.txt"));
    assert!(!file(&f, b"a/b/d.txt") && !file(&f, b"a/x") && !dir(&f, b"a/b/c"));
    assert!(file(&f, b"top") && !file(&f, b"other"));
    // A listed directory brings its subtree.
    assert!(dir(&f, b"tree") && file(&f, b"tree/x/y") && dir(&f, b"tree/x"));
    // A parent on the way is a directory, not a file of that name.
    assert!(!file(&f, b"a"));
    // The rules still apply inside.
    let f = filter(FilterSpec::new().files_from(vec![b"tree".to_vec()]).exclude("*.o"));
    assert!(file(&f, b"tree/a.c") && !file(&f, b"tree/a.o"));
    // Listing the root (`.`) selects everything.
    let f = filter(FilterSpec::new().files_from(vec![b".".to_vec()]));
    assert!(file(&f, b"any/thing"));
    // An empty list selects nothing but the root.
    let f = filter(FilterSpec::new().files_from(Vec::new()));
    assert!(!file(&f, b"a") && !dir(&f, b"a") && dir(&f, b""));
}

#[test]
fn bad_input_is_refused_naming_it() {
    let err = Filter::new(&FilterSpec::new().exclude("ok").include("a[")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("`a[`"), "{err}");
    let err = Filter::new(&FilterSpec::new().exclude("/")).unwrap_err();
    assert!(err.to_string().contains("`/`"), "{err}");
    let err = Filter::new(&FilterSpec::new().files_from(vec![b"a/../../etc".to_vec()])).unwrap_err();
    assert!(err.to_string().contains("a/../../etc"), "{err}");
    let err = Filter::new(&FilterSpec::new().min_size(Some(5)).max_size(Some(4))).unwrap_err();
    assert!(err.to_string().contains("--min-size"), "{err}");
}

#[test]
fn files_from_list_is_bounded() {
    // 1,023 bytes in components of 199 (a component may not pass 255).
    let line: Vec<u8> = (0..1023).map(|i| if i % 200 == 199 { b'/' } else { b'x' }).collect();
    let at_limit: Vec<_> = (0..2048).map(|_| line.clone()).collect();
    assert!(Filter::new(&FilterSpec::new().files_from(at_limit.clone())).is_ok());
    let mut over = at_limit;
    over.push(b"y".to_vec());
    let err = Filter::new(&FilterSpec::new().files_from(over)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("2097154 bytes"), "{err}");
}

#[test]
fn the_number_of_rules_is_bounded() {
    let mut spec = FilterSpec::new();
    spec.rules = (0..MAX_RULES).map(|i| blit_api::FilterRule::exclude(format!("n{i}"))).collect();
    assert!(Filter::new(&spec).is_ok());
    spec = spec.exclude("one-more");
    let err = Filter::new(&spec).unwrap_err();
    assert!(err.to_string().contains("10001 filter rules"), "{err}");
}

#[test]
fn anchored_include_components_are_bounded_before_anything_compiles() {
    let deep = |n: usize| vec!["a"; n].join("/");
    // Exactly the limit, over several rules, compiles.
    let half = MAX_COMPONENTS / 2;
    filter(FilterSpec::new().include(deep(half)).include(format!("/{}", deep(half))).exclude("*"));
    let started = std::time::Instant::now();
    let err = Filter::new(&FilterSpec::new().include(deep(half)).include(deep(half + 1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains(&format!("{} path components", MAX_COMPONENTS + 1)), "{err}");
    assert!(err.hint().is_some());
    let err = Filter::new(&FilterSpec::new().include(format!("{}[", "x".repeat(200)))).unwrap_err();
    assert!(err.message().contains("...`") && err.message().len() < 300, "a long pattern is shortened: {err}");
    // The counts are checked first: refusing a huge pattern costs nothing.
    let err = Filter::new(&FilterSpec::new().include(deep(MAX_COMPONENTS + 1))).unwrap_err();
    assert!(err.message().contains("path components"), "{err}");
    let err = Filter::new(&FilterSpec::new().exclude("a").include("*".repeat(MAX_PATTERN_BYTES))).unwrap_err();
    assert!(err.message().contains(&format!("{} bytes", MAX_PATTERN_BYTES + 1)), "{err}");
    assert!(err.hint().is_some());
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    // Excludes never need their components: no limit applies to them.
    filter(FilterSpec::new().exclude(deep(MAX_COMPONENTS + 1)));
}
