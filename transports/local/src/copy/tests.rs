use super::*;
use crate::testutil::header;
use crate::LocalDestination;
use blit_api::{FileKind, Landing, PayloadWriter, ProgressEvent, RecordingSink};
use std::sync::Arc;

/// 3 MiB + 5 bytes of non-repeating data.
fn data() -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..3 * 1024 * 1024 + 5)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Copies `runs` (source offset, destination offset, length) of `content`
/// into `dst/f`, announced as `announced` bytes, and returns the events.
fn copy_runs(
    content: &[u8],
    announced: u64,
    runs: &[(u64, u64, u64)],
    zero_copy: bool,
) -> (tempfile::TempDir, Result<()>, Vec<ProgressEvent>) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::write(&src, content).unwrap();
    std::fs::create_dir(dir.path().join("dst")).unwrap();
    let dest: Arc<dyn PayloadWriter> = Arc::new(LocalDestination::new(dir.path().join("dst")));
    let events = RecordingSink::new();
    let landing = Landing::new(dest, events.clone());
    let mut incoming = landing.begin(&header("f", FileKind::File, announced, 7, 0o640)).unwrap();
    let file = std::fs::File::open(&src).unwrap();
    let flag = AtomicBool::new(zero_copy);
    let mut buf = Vec::new();
    let copied =
        runs.iter().try_for_each(|&(offset, at, len)| copy_at(&file, offset, &mut incoming, at, len, &flag, &mut buf));
    let result = match copied {
        Ok(()) => incoming.commit(),
        Err(e) => {
            incoming.fail(&e);
            Err(e)
        }
    };
    (dir, result, events.events())
}

/// Copies all of `content` (announced as `announced` bytes) into `dst/f`.
fn copy(content: &[u8], announced: u64, zero_copy: bool) -> (tempfile::TempDir, Result<()>, Vec<ProgressEvent>) {
    copy_runs(content, announced, &[(0, 0, announced)], zero_copy)
}

fn bytes(events: &[ProgressEvent], zero: bool) -> u64 {
    events
        .iter()
        .map(|e| match e {
            ProgressEvent::FileBytes { bytes, zero_copy, .. } if *zero_copy == zero => *bytes,
            _ => 0,
        })
        .sum()
}

#[cfg(target_os = "linux")]
#[test]
fn copy_file_range_copies_large_files_byte_for_byte() {
    let content = data();
    let (dir, result, events) = copy(&content, content.len() as u64, true);
    result.unwrap();
    assert!(std::fs::read(dir.path().join("dst/f")).unwrap() == content, "content differs");
    assert_eq!(bytes(&events, true), content.len() as u64, "every byte moved by the kernel");
    assert_eq!(bytes(&events, false), 0);
}

#[test]
fn the_user_space_fallback_copies_byte_for_byte() {
    let content = data();
    let (dir, result, events) = copy(&content, content.len() as u64, false);
    result.unwrap();
    assert!(std::fs::read(dir.path().join("dst/f")).unwrap() == content, "content differs");
    assert_eq!(bytes(&events, false), content.len() as u64);
    assert!(events.iter().filter(|e| matches!(e, ProgressEvent::FileBytes { .. })).count() > 1, "copied in runs");
}

#[test]
fn a_source_shorter_than_announced_fails_and_lands_nothing() {
    for zero_copy in [true, false] {
        let (dir, result, events) = copy(b"short", 100, zero_copy);
        let e = result.unwrap_err();
        assert!(e.to_string().contains("5 of 100"), "{e}");
        assert!(matches!(events.last(), Some(ProgressEvent::FileFailed { .. })), "{events:?}");
        assert_eq!(std::fs::read_dir(dir.path().join("dst")).unwrap().count(), 0, "no file and no temporary left");
    }
}

#[test]
fn empty_files_need_no_copy() {
    let (dir, result, events) = copy(b"", 0, true);
    result.unwrap();
    assert_eq!(std::fs::read(dir.path().join("dst/f")).unwrap(), b"");
    assert_eq!(bytes(&events, true) + bytes(&events, false), 0);
}

#[test]
fn runs_land_at_their_offsets_in_any_order() {
    let content = data();
    // The second half first, from far into the source: file positions play no part.
    let runs = [(2_000_000, 50, 70), (1_000, 0, 50)];
    for zero_copy in [true, false] {
        let (dir, result, events) = copy_runs(&content, 120, &runs, zero_copy);
        result.unwrap();
        let landed = std::fs::read(dir.path().join("dst/f")).unwrap();
        assert_eq!(landed[..50], content[1_000..1_050], "zero_copy {zero_copy}");
        assert_eq!(landed[50..], content[2_000_000..2_000_070], "zero_copy {zero_copy}");
        assert_eq!(bytes(&events, true) + bytes(&events, false), 120);
    }
}
