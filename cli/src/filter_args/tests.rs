use super::*;
use crate::{Cli, Command};
use blit_api::RuleKind;
use clap::Parser;

fn parse(args: &[&str]) -> FilterArgs {
    let cli = Cli::try_parse_from([&["blit", "copy", "a", "b"], args].concat()).unwrap();
    match cli.command {
        Command::Copy(t) => t.filter,
        other => panic!("parsed {other:?}"),
    }
}

fn rules(spec: &FilterSpec) -> Vec<(RuleKind, &str)> {
    spec.rules.iter().map(|r| (r.kind, r.pattern.as_str())).collect()
}

#[test]
fn rules_keep_command_line_order_across_flags_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("pats");
    std::fs::write(&from, "# comment\n\nbuild/\r\n*.o\n").unwrap();
    let from = from.to_str().unwrap();
    let args = parse(&["--include", "keep.o", "--exclude-from", from, "--exclude", "*.tmp", "--include", "x"]);
    let spec = args.spec(false).unwrap();
    use RuleKind::{Exclude as E, Include as I};
    assert_eq!(rules(&spec), [(I, "keep.o"), (E, "build/"), (E, "*.o"), (E, "*.tmp"), (I, "x")]);
    let args = parse(&["--exclude", "*", "--include-from", from, "--include", "z"]);
    assert_eq!(rules(&args.spec(false).unwrap()), [(E, "*"), (I, "build/"), (I, "*.o"), (I, "z")]);
}

#[test]
fn files_from_sizes_and_delete_excluded() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list");
    std::fs::write(&list, b"a/b\n\nc\xff\n").unwrap();
    let args = parse(&["--files-from", list.to_str().unwrap(), "--min-size", "1K", "--max-size", "1.5MB"]);
    let spec = args.spec(false).unwrap();
    assert_eq!(spec.files_from, Some(vec![b"a/b".to_vec(), b"c\xff".to_vec()]));
    assert_eq!((spec.min_size, spec.max_size), (Some(1024), Some(1_500_000)));
    let args = parse(&["--delete-excluded"]);
    assert!(args.spec(true).unwrap().delete_excluded);
    let e = args.spec(false).unwrap_err();
    assert!(e.to_string().contains("--delete-excluded"), "{e}");
}

#[test]
fn bad_input_names_what_is_wrong() {
    let e = parse(&["--exclude", "ok", "--include", "[z"]).spec(false).unwrap_err();
    assert!(e.to_string().contains("`[z`"), "{e}");
    let e = parse(&["--exclude-from", "/nonexistent/pats"]).spec(false).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/pats"), "{e}");
    let e = Cli::try_parse_from(["blit", "copy", "a", "b", "--max-size", "12Q"]).unwrap_err();
    assert!(e.to_string().contains("`Q`"), "{e}");
}

#[test]
fn sizes_parse_bytes_and_units() {
    for (text, want) in [("0", 0), ("4096", 4096), ("100K", 100 << 10), ("2MiB", 2 << 20), ("1G", 1 << 30)] {
        assert_eq!(parse_size(text), Ok(want), "{text}");
    }
    assert_eq!(parse_size("3kb"), Ok(3000));
    assert!(parse_size("").is_err() && parse_size("x").is_err() && parse_size("99999999999T").is_err());
}
