use super::*;
use blit_api::{ErrorKind, FileFailure, RelPath};

fn sample() -> TransferSummary {
    TransferSummary {
        transport: "tcp".into(),
        streams: 1,
        chunk_size: 1 << 20,
        compression: "zstd:1".into(),
        tuning: "probe".into(),
        first_byte_secs: Some(0.0125),
        entries_scanned: 7,
        entries_transferred: 4,
        files_transferred: 1,
        dirs_transferred: 2,
        symlinks_transferred: 1,
        bytes_transferred: 4 << 20,
        wire_bytes: Some(1 << 20),
        elapsed_secs: 2.0,
        ..Default::default()
    }
}

#[test]
fn the_line_counts_what_it_names_with_plurals() {
    let line = summary_line(&sample());
    assert_eq!(
        line,
        "copied 1 file, 2 directories, 1 symlink (4.0 MiB) in 2.00 s, 2.0 MiB/s; scanned 7 entries; \
         over tcp (1 stream, 1.0 MiB chunks, compression zstd:1, probe), first byte after 12.5 ms"
    );
    let local =
        TransferSummary { transport: "local".into(), files_transferred: 2, elapsed_secs: 1.0, ..Default::default() };
    assert!(summary_line(&local).ends_with("; scanned 0 entries; local"), "{}", summary_line(&local));
}

#[test]
fn a_dry_run_has_no_rate() {
    let s = TransferSummary { dry_run: true, ..sample() };
    let line = summary_line(&s);
    assert!(line.starts_with("would copy 1 file") && !line.contains("/s"), "{line}");
    assert_eq!(json(&s)["rate_bytes_per_sec"], serde_json::Value::Null);
    assert!(stats(&s).contains("none (dry run)"), "{}", stats(&s));
    assert_eq!(json(&sample())["rate_bytes_per_sec"], 2 << 20);
}

#[test]
fn text_and_json_show_the_same_fields() {
    let mut s = sample();
    s.deletions_skipped = 3;
    s.deletions_skipped_reason = Some("--max-delete 1 reached".into());
    s.failures.push(FileFailure {
        path: RelPath::from_bytes(b"bad\xffname".to_vec()).unwrap(),
        kind: ErrorKind::Io,
        message: "x".into(),
    });
    let v = json(&s);
    assert_eq!(v["schema"], JSON_SCHEMA);
    assert_eq!(v["ok"], false);
    assert_eq!(v["failures"][0]["path"], "bad\\xffname");
    assert_eq!(v["failures"][0]["path_b64"], "YmFk/25hbWU=");
    let block = stats(&s);
    for (field, shown) in [
        ("transport", "over tcp"),
        ("entries_scanned", "7"),
        ("files_transferred", "1"),
        ("dirs_transferred", "2"),
        ("symlinks_transferred", "1"),
        ("bytes_transferred", "(4194304 bytes)"),
        ("wire_bytes", "(1048576 bytes)"),
        ("bytes_reused", "reused from partial copies"),
        ("zero_copy_bytes", "zero-copy"),
        ("deleted", "deleted"),
        ("deletions_skipped", "3 deletions skipped: --max-delete 1 reached"),
        ("elapsed_secs", "2.00 s"),
        ("rate_bytes_per_sec", "2.0 MiB/s"),
    ] {
        assert!(v.get(field).is_some(), "JSON lacks {field}: {v}");
        assert!(block.contains(shown), "--stats lacks {field} ({shown}):\n{block}");
    }
    assert!(
        summary_line(&s).contains("; 3 deletions skipped: --max-delete 1 reached; 1 failed;"),
        "{}",
        summary_line(&s)
    );
}

#[test]
fn several_sources_add_up() {
    let mut second = sample();
    second.failures.push(FileFailure { path: RelPath::root(), kind: ErrorKind::Io, message: "x".into() });
    second.transport = "grpc".into();
    let sum = merge(sample(), second);
    assert_eq!((sum.entries_scanned, sum.files_transferred, sum.dirs_transferred), (14, 2, 4));
    assert_eq!((sum.bytes_transferred, sum.wire_bytes, sum.failures.len()), (8 << 20, Some(2 << 20), 1));
    assert_eq!(sum.transport, "grpc");
}

#[test]
fn a_long_line_wraps_at_its_separators() {
    let line = summary_line(&sample());
    for width in [40, 60, 80, 120] {
        let wrapped = wrap(&line, width);
        let text = format!("blit: {wrapped}");
        for l in text.lines() {
            assert!(l.chars().count() < width, "{width}: {l:?}");
        }
        assert_eq!(wrapped.replace("\n      ", " "), line, "nothing is lost or reordered");
    }
    assert_eq!(wrap("short; line", 80), "short; line");
}
