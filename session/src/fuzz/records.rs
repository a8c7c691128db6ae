//! Payload record streams (`receive`): whole files, resumed files
//! (`file_range` records), shards and source failures, well-formed or
//! mutated, landed below a fresh root.
//!
//! The destination here lands a resumed file over a fresh file of the
//! full size (a partial copy whose kept bytes read as zeros): what is under test is the receiver's order and
//! range checks, not the partial-copy bookkeeping, which
//! `blit-transport-local` tests with real `.part` files.

use super::messages::{pb_failure, pb_header};
use super::{assert_valid, sample, Sandbox};
use crate::receive::receive_all;
use blit_api::{FileHeader, Landing, LandingFile, PayloadWriter, ProgressEvent, RecordingSink, Result};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use blit_transport_local::LocalDestination;
use proptest::prelude::*;
use prost::bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Any one record; file headers and failures as hostile as the message
/// strategies make them.
pub(super) fn pb_record() -> impl Strategy<Value = pb::PayloadRecord> {
    prop_oneof![
        3 => pb_header().prop_map(Record::FileBegin),
        2 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(|d| Record::Data(d.into())),
        2 => (0u64..80, 0u64..80).prop_map(|(offset, reused)| Record::FileRange(pb::FileRange { offset, reused })),
        1 => (any::<u64>(), 0u64..80, prop_oneof![0u64..80, any::<u64>()])
            .prop_map(|(to, from, len)| Record::FileCopy(pb::FileCopy { to, from, len })),
        1 => Just(Record::FileEnd(pb::FileEnd {})),
        1 => pb_failure().prop_map(Record::FileAbort),
        1 => (pb_header(), pb_failure()).prop_map(|(h, f)| Record::SourceFailed(pb::SourceFailed {
            header: Some(h),
            failure: Some(f),
        })),
        1 => any::<u32>().prop_map(|files| Record::ShardBegin(pb::ShardBegin { files })),
        1 => Just(Record::ShardEnd(pb::ShardEnd {})),
        1 => Just(Record::Done(pb::PayloadDone {})),
    ]
    .prop_map(|record| pb::PayloadRecord { record: Some(record) })
}

/// A writer that lands through a [`LocalDestination`] and lands a resumed
/// file as a fresh one (see the module docs).
struct FreshResume(LocalDestination);

impl PayloadWriter for FreshResume {
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn LandingFile>> {
        self.0.begin(header)
    }

    fn resume(&self, header: &FileHeader, _reused: u64) -> Result<Box<dyn LandingFile>> {
        let mut file = self.0.begin(header)?;
        file.file().set_len(header.size).map_err(|e| blit_api::Error::io("set length", header.path.display(), e))?;
        Ok(file)
    }
}

/// One file of a well-formed stream: its records and the content it must
/// have once landed.
#[derive(Debug, Clone)]
struct Sent {
    path: &'static str,
    records: Vec<Record>,
    content: Vec<u8>,
}

fn file_header(path: &str, size: u64, uid: Option<u32>) -> pb::Header {
    pb::Header {
        path: Bytes::copy_from_slice(path.as_bytes()),
        kind: pb::Kind::File as i32,
        size,
        mode: 0o644,
        mtime_ns: 1_600_000_000_000_000_000,
        uid,
        ..pb::Header::default()
    }
}

/// A whole file (its data in pieces) or a resumed one: the bytes before
/// `a` and between `m` and `b` kept, `a..m` and `b..size` sent as two
/// ranges (either may be empty; a file with every byte kept is one empty
/// range at its end).
fn sent_file() -> impl Strategy<Value = Sent> {
    let path = prop_oneof![Just("a"), Just("b"), Just("d/e"), Just("d/f")];
    let cuts = prop_oneof![
        2 => Just(None),
        2 => proptest::collection::vec(any::<prop::sample::Index>(), 3).prop_map(Some),
        // Every byte kept.
        1 => Just(Some(Vec::new())),
    ];
    (path, proptest::collection::vec(any::<u8>(), 0..64), 1usize..20, cuts).prop_map(|(path, data, piece, cuts)| {
        let size = data.len();
        let mut records = vec![Record::FileBegin(file_header(path, size as u64, None))];
        let pieces = |range: std::ops::Range<usize>| {
            data[range].chunks(piece).map(|c| Record::Data(Bytes::copy_from_slice(c))).collect::<Vec<_>>()
        };
        let content = match cuts {
            None => {
                records.extend(pieces(0..size));
                data.clone()
            }
            Some(cuts) => {
                let mut at: Vec<usize> = cuts.iter().map(|i| i.index(size + 1)).collect();
                if at.is_empty() {
                    at = vec![size; 3];
                }
                at.sort_unstable();
                let (a, m, b) = (at[0], at[1], at[2]);
                let reused = (a + b - m) as u64;
                let range = |offset: usize| Record::FileRange(pb::FileRange { offset: offset as u64, reused });
                if reused == size as u64 {
                    records.push(range(size));
                } else {
                    records.push(range(a));
                    records.extend(pieces(a..m));
                    records.push(range(b));
                    records.extend(pieces(b..size));
                }
                let zeros = |n: usize| vec![0u8; n];
                [zeros(a), data[a..m].to_vec(), zeros(b - m), data[b..].to_vec()].concat()
            }
        };
        records.push(Record::FileEnd(pb::FileEnd {}));
        Sent { path, records, content }
    })
}

/// Lands `records` below a fresh root; checks the root stays the only
/// thing written and every event names a valid path. A stream that breaks
/// off inside a file of 8 MiB or more leaves its `.part` copy, by design
/// (`parts_allowed`). Returns the result
/// and the files under the root with their content.
fn land(records: Vec<Record>, parts_allowed: bool) -> (Result<()>, BTreeMap<String, Vec<u8>>) {
    let sandbox = Sandbox::new();
    let (tx, rx) = tokio::sync::mpsc::channel(records.len() + 1);
    for record in records {
        tx.try_send(pb::PayloadRecord { record: Some(record) }).expect("room for every record");
    }
    drop(tx);
    let destination = Arc::new(FreshResume(LocalDestination::new(sandbox.root.clone())));
    let events = RecordingSink::new();
    let result = receive_all(rx, &Landing::new(destination, events.clone()), "fuzz");
    sandbox.check(parts_allowed);
    for event in events.events() {
        if let ProgressEvent::FileStarted { path, .. } | ProgressEvent::FileDone { path, .. } = &event {
            assert_valid(path);
        }
    }
    let mut files = BTreeMap::new();
    for p in super::everything_below(&sandbox.root).into_iter().filter(|p| p.is_file()) {
        let name = p.strip_prefix(&sandbox.root).expect("below the root").to_string_lossy().into_owned();
        files.insert(name, std::fs::read(&p).expect("a landed file"));
    }
    (result, files)
}

proptest! {
    #[test]
    fn well_formed_record_streams_land_exactly(files in proptest::collection::vec(sent_file(), 0..5)) {
        let mut records: Vec<Record> = files.iter().flat_map(|f| f.records.clone()).collect();
        records.push(Record::Done(pb::PayloadDone {}));
        let (result, landed) = land(records, false);
        prop_assert!(result.is_ok(), "{:?}", result);
        let mut want = BTreeMap::new();
        for f in &files {
            want.insert(f.path.to_owned(), f.content.clone());
        }
        prop_assert_eq!(landed, want);
    }

    #[test]
    fn mutated_record_streams_never_land_outside_their_root(
        files in proptest::collection::vec(sent_file(), 0..4),
        inserted in proptest::collection::vec((any::<prop::sample::Index>(), pb_record()), 0..4),
        removed in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
        done in any::<bool>(),
    ) {
        let mut records: Vec<Record> = files.into_iter().flat_map(|f| f.records).collect();
        for at in removed {
            if !records.is_empty() {
                records.remove(at.index(records.len()));
            }
        }
        for (at, record) in inserted {
            let record = record.record.expect("a record");
            records.insert(at.index(records.len() + 1), record);
        }
        if done {
            records.push(Record::Done(pb::PayloadDone {}));
        }
        let _ = land(records, true);
    }
}

#[test]
fn the_record_strategies_reach_resumed_files_and_hostile_ranges() {
    let files = sample(sent_file(), 500);
    let resumed = files.iter().filter(|f| f.records.iter().any(|r| matches!(r, Record::FileRange(_))));
    assert!(resumed.count() > 100, "resumed files");
    let ranges = |f: &Sent| f.records.iter().filter(|r| matches!(r, Record::FileRange(_))).count();
    let kept_all = files.iter().filter(|f| ranges(f) == 1 && f.records.len() == 3 && !f.content.is_empty());
    assert!(kept_all.count() > 5, "resumed files with nothing left to send");
    let two = files.iter().filter(|f| ranges(f) == 2 && f.records.len() > 5);
    assert!(two.count() > 50, "resumed files sent as two ranges with data");
    // A range of a file that was not resumed, and one that does not fit,
    // are refused with the peer named.
    let begin = Record::FileBegin(file_header("a", 4, Some(7)));
    let data = Record::Data(Bytes::from_static(b"abcd"));
    let range = |offset, reused| Record::FileRange(pb::FileRange { offset, reused });
    let end = Record::FileEnd(pb::FileEnd {});
    let done = Record::Done(pb::PayloadDone {});
    let cases = [
        (vec![begin.clone(), data.clone(), range(0, 0), end.clone(), done.clone()], "does not fit"),
        (vec![begin.clone(), range(1, 1), range(5, 1), end.clone(), done.clone()], "does not fit"),
        (vec![begin.clone(), range(0, 2), range(0, 1), end.clone(), done.clone()], "does not fit"),
        (vec![range(0, 0), done.clone()], "outside a file"),
        (vec![begin.clone(), range(0, 0), data.clone(), data.clone(), end.clone(), done.clone()], "more bytes"),
    ];
    for (records, want) in cases {
        let (result, landed) = land(records, false);
        let e = result.expect_err(want);
        assert!(e.to_string().contains(want) && e.to_string().contains("fuzz"), "{e} should say {want}");
        assert!(landed.is_empty(), "a refused stream landed {landed:?}");
    }
}

/// Regression (found by `mutated_record_streams_never_land_outside_their_root`):
/// a file announced at the root of a destination that is a directory (a
/// daemon's module) was landed through a temporary file beside the root,
/// and a large one's `.part` stayed there when the stream broke off. It is
/// refused now, before anything is created.
#[test]
fn a_file_at_the_root_of_a_directory_destination_writes_nothing_beside_it() {
    for size in [5, blit_api::RESUME_MIN + 1] {
        let header = Record::FileBegin(file_header("", size, None));
        let data = Record::Data(Bytes::from_static(b"abcde"));
        for records in [vec![header.clone(), data.clone()], vec![header, data, Record::FileEnd(pb::FileEnd {})]] {
            // `land` checks that nothing appeared beside the root.
            let (result, landed) = land(records, false);
            assert!(result.is_err(), "{size} bytes: {result:?}");
            assert!(landed.is_empty(), "{landed:?}");
        }
    }
}
