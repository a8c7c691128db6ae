use super::*;
use blit_api::{ErrorKind, FileFailure, RelPath};

fn p(s: &str) -> RelPath {
    RelPath::from_bytes(s.as_bytes().to_vec()).unwrap()
}

/// A healthy log: root dir and one 10-byte file, in two byte steps.
fn healthy() -> (Vec<ProgressEvent>, TransferSummary) {
    let summary = TransferSummary {
        direction: Some(Direction::Local),
        transport: "t".into(),
        entries_scanned: 2,
        entries_transferred: 2,
        files_transferred: 1,
        dirs_transferred: 1,
        bytes_transferred: 10,
        ..TransferSummary::default()
    };
    let events = vec![
        ProgressEvent::Started { direction: Direction::Local, transport: "t".into(), dry_run: false },
        ProgressEvent::FileStarted { path: RelPath::root(), kind: FileKind::Dir, size: 0 },
        ProgressEvent::FileDone { path: RelPath::root(), kind: FileKind::Dir, bytes: 0 },
        ProgressEvent::ManifestProgress { entries: 2, bytes: 10 },
        ProgressEvent::NeedBatch { files: 1, bytes: 10 },
        ProgressEvent::FileStarted { path: p("f"), kind: FileKind::File, size: 10 },
        ProgressEvent::FileBytes { path: p("f"), bytes: 4, zero_copy: true },
        ProgressEvent::FileBytes { path: p("f"), bytes: 6, zero_copy: false },
        ProgressEvent::FileDone { path: p("f"), kind: FileKind::File, bytes: 10 },
        ProgressEvent::ManifestComplete { entries: 2, bytes: 10, complete: true },
        ProgressEvent::Finished { summary: Box::new(summary.clone()) },
    ];
    (events, summary)
}

fn rule_of(events: &[ProgressEvent], summary: &TransferSummary) -> Option<String> {
    let expected = Expected { direction: Direction::Local, dry_run: false, result: Ok(summary), source: (2, 10) };
    check(events, &expected).err().map(|f| f.rule().to_owned())
}

/// Applies `edit` to the healthy log and returns the rule it breaks.
fn broken_by(edit: impl FnOnce(&mut Vec<ProgressEvent>, &mut TransferSummary)) -> Option<String> {
    let (mut events, mut summary) = healthy();
    edit(&mut events, &mut summary);
    rule_of(&events, &summary)
}

fn set_summary(events: &mut [ProgressEvent], summary: &TransferSummary) {
    if let Some(ProgressEvent::Finished { summary: s }) = events.last_mut() {
        **s = summary.clone();
    }
}

#[test]
fn the_healthy_log_passes() {
    let (events, summary) = healthy();
    assert_eq!(rule_of(&events, &summary), None);
}

#[test]
fn each_break_names_its_rule() {
    let r = |s: &str| Some(s.to_owned());
    assert_eq!(broken_by(|e, _| drop(e.remove(0))), r(rules::ONE_START_FIRST));
    assert_eq!(broken_by(|e, _| e.insert(3, e[0].clone())), r(rules::ONE_START_FIRST));
    assert_eq!(
        broken_by(|e, _| e.push(ProgressEvent::ManifestProgress { entries: 2, bytes: 10 })),
        r(rules::NOTHING_AFTER_TERMINAL)
    );
    assert_eq!(broken_by(|e, _| drop(e.pop())), r(rules::ONE_TERMINAL_LAST));
    assert_eq!(
        broken_by(
            |e, _| e[0] = ProgressEvent::Started { direction: Direction::Push, transport: "t".into(), dry_run: false }
        ),
        r(rules::START_MATCHES_REQUEST)
    );
    assert_eq!(broken_by(|_, s| s.bytes_transferred = 11), r(rules::TERMINAL_MATCHES_RESULT));
    assert_eq!(broken_by(|e, _| drop(e.remove(8))), r(rules::FILES_END_ONCE));
    assert_eq!(broken_by(|e, _| e.insert(9, e[8].clone())), r(rules::FILES_END_ONCE));
    assert_eq!(
        broken_by(|e, _| e.insert(9, ProgressEvent::FileBytes { path: p("f"), bytes: 1, zero_copy: false })),
        r(rules::BYTES_INSIDE_FILE)
    );
    assert_eq!(
        broken_by(|e, _| e[7] = ProgressEvent::FileBytes { path: p("f"), bytes: 5, zero_copy: false }),
        r(rules::BYTES_MATCH_SIZE)
    );
    assert_eq!(
        broken_by(|e, _| e[4] = ProgressEvent::NeedBatch { files: 2, bytes: 10 }),
        r(rules::BYTES_MATCH_NEED_LIST)
    );
    assert_eq!(
        broken_by(|e, _| e[9] = ProgressEvent::ManifestComplete { entries: 3, bytes: 10, complete: true }),
        r(rules::MANIFEST_MATCHES_SOURCE)
    );
    assert_eq!(
        broken_by(|e, _| e[3] = ProgressEvent::ManifestProgress { entries: 9, bytes: 10 }),
        r(rules::MANIFEST_MATCHES_SOURCE)
    );
    assert_eq!(
        broken_by(|e, s| {
            s.deleted = 1;
            set_summary(e, s);
        }),
        r(rules::SUMMARY_MATCHES_EVENTS)
    );
    assert_eq!(
        broken_by(|e, s| {
            s.failures.push(FileFailure { path: p("x"), kind: ErrorKind::Io, message: "m".into() });
            set_summary(e, s);
        }),
        r(rules::SUMMARY_MATCHES_EVENTS)
    );
}

#[test]
fn a_failed_transfer_must_end_with_failed_of_its_kind() {
    let (mut events, _) = healthy();
    let error = Error::new(ErrorKind::NoSpace, "full");
    events.pop();
    events.push(ProgressEvent::Failed { kind: ErrorKind::NoSpace, message: "full".into() });
    let expected = Expected { direction: Direction::Local, dry_run: false, result: Err(&error), source: (2, 10) };
    assert!(check(&events, &expected).is_ok());
    events.pop();
    events.push(ProgressEvent::Failed { kind: ErrorKind::Io, message: "io".into() });
    assert_eq!(check(&events, &expected).unwrap_err().rule(), rules::TERMINAL_MATCHES_RESULT);
}

#[test]
fn messages_point_at_the_event() {
    let (mut events, summary) = healthy();
    events.push(ProgressEvent::Deleted { path: p("late"), kind: FileKind::File });
    let expected = Expected { direction: Direction::Local, dry_run: false, result: Ok(&summary), source: (2, 10) };
    let msg = check(&events, &expected).unwrap_err().to_string();
    assert!(msg.starts_with("rule `nothing-after-terminal` broken: 1 event(s) follow"), "{msg}");
    assert!(msg.contains(">   11  Deleted"), "{msg}");
}
