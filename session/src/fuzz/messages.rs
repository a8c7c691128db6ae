//! Message conversion (`convert`): generated, mutated and arbitrary
//! `Frame`s, and headers whose new fields (owner, group, extended
//! attributes, hard links, resume block maps) are checked against an
//! independent statement of what is acceptable.

use super::options::{check_options, pb_options};
use super::records::pb_record;
use super::{assert_header, assert_valid, mutate, name_bytes, path_bytes, sample};
use crate::convert::{ahead_from_pb, event_from_pb, failure_from_pb, header_from_pb, item_from_pb};
use blit_api::{ManifestItem, ProgressEvent};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use proptest::prelude::*;
use prost::bytes::Bytes;
use prost::Message;

/// Extended attributes: mostly well-formed, sometimes with an empty name or
/// a NUL byte in it.
fn pb_xattrs() -> impl Strategy<Value = Vec<pb::Xattr>> {
    let name = prop_oneof![
        4 => Just(b"user.blit".to_vec()),
        2 => proptest::collection::vec(1u8..=255, 1..12),
        1 => Just(Vec::new()),
        1 => Just(b"user.n\0ul".to_vec()),
    ];
    let xattr = (name, proptest::collection::vec(any::<u8>(), 0..16))
        .prop_map(|(name, value)| pb::Xattr { name: name.into(), value: value.into() });
    proptest::collection::vec(xattr, 0..3)
}

/// Block maps: half consistent (a valid block size, one hash per block),
/// half with any block size, length and number of hash bytes.
fn pb_block_map() -> impl Strategy<Value = pb::BlockMap> {
    let consistent = (prop_oneof![Just(4096u32), Just(1 << 20), Just(1 << 30)], 0u64..5, any::<bool>())
        .prop_flat_map(|(block_size, blocks, weak)| {
            let bs = u64::from(block_size);
            let len = if blocks == 0 { Just(0).boxed() } else { ((blocks - 1) * bs + 1..=blocks * bs).boxed() };
            (Just(block_size), len, Just(blocks), Just(weak))
        })
        .prop_map(|(block_size, partial_len, blocks, weak)| pb::BlockMap {
            block_size,
            partial_len,
            hashes: vec![7u8; blocks as usize * 32].into(),
            weak: vec![3u8; if weak { blocks as usize * 4 } else { 0 }].into(),
        });
    let any_map = (
        prop_oneof![any::<u32>(), Just(4096u32), Just(0)],
        prop_oneof![any::<u64>(), 0u64..20_000],
        proptest::collection::vec(any::<u8>(), 0..130),
        proptest::collection::vec(any::<u8>(), 0..20),
    )
        .prop_map(|(block_size, partial_len, hashes, weak)| pb::BlockMap {
            block_size,
            partial_len,
            hashes: hashes.into(),
            weak: weak.into(),
        });
    prop_oneof![consistent, any_map]
}

/// Whether a wire block map is acceptable, stated independently of
/// `BlockMap::new`: a power-of-two block size from 4 KiB to 1 GiB, whole
/// 32-byte hashes, exactly one per block, at most 65,536 blocks, and no
/// weak checksums or exactly one 4-byte checksum per block.
fn map_is_consistent(m: &pb::BlockMap) -> bool {
    let bs = u64::from(m.block_size);
    let blocks = if bs == 0 { u64::MAX } else { m.partial_len.div_ceil(bs) };
    m.block_size.is_power_of_two()
        && (4096..=1 << 30).contains(&bs)
        && m.hashes.len().is_multiple_of(32)
        && blocks == (m.hashes.len() / 32) as u64
        && blocks <= 65_536
        && (m.weak.is_empty() || m.weak.len() as u64 == blocks * 4)
}

pub(super) fn pb_header() -> impl Strategy<Value = pb::Header> {
    let base = (
        name_bytes(),
        prop_oneof![3 => 1i32..4, 1 => -2i32..6],
        any::<u64>(),
        any::<i64>(),
        any::<u32>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 30..34)),
    );
    let extra = (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        pb_xattrs(),
        proptest::option::weighted(0.3, name_bytes()),
        proptest::option::weighted(0.3, pb_block_map()),
    );
    (base, extra).prop_map(|((path, kind, size, mtime_ns, mode, link, sum), (uid, gid, xattrs, hard, resume))| {
        pb::Header {
            path: path.into(),
            kind,
            size,
            mtime_ns,
            mode,
            link_target: link.map(Bytes::from),
            checksum: sum.map(Bytes::from),
            uid,
            gid,
            xattrs,
            hard_link: hard.map(Bytes::from),
            resume,
        }
    })
}

pub(super) fn pb_failure() -> impl Strategy<Value = pb::Failure> {
    (path_bytes(), -1i32..14, ".{0,12}").prop_map(|(path, kind, message)| pb::Failure {
        path: path.into(),
        kind,
        message,
    })
}

fn pb_item() -> impl Strategy<Value = pb::ManifestItem> {
    use pb::manifest_item::Item;
    prop_oneof![
        pb_header().prop_map(|h| Some(Item::Entry(h))),
        path_bytes().prop_map(|p| Some(Item::DirDone(p.into()))),
        pb_failure().prop_map(|f| Some(Item::Failed(f))),
        Just(Some(Item::End(pb::End {}))),
        Just(None),
    ]
    .prop_map(|item| pb::ManifestItem { item })
}

fn pb_event() -> impl Strategy<Value = pb::Event> {
    use pb::event::Event as E;
    let entry = || {
        (path_bytes(), -1i32..5, any::<u64>(), any::<bool>()).prop_map(|(path, kind, size, new)| pb::EntryEvent {
            path: path.into(),
            kind,
            size,
            new,
        })
    };
    let bytes = || {
        (path_bytes(), any::<u64>(), any::<bool>()).prop_map(|(p, bytes, zero_copy)| pb::FileBytes {
            path: p.into(),
            bytes,
            zero_copy,
        })
    };
    prop_oneof![
        entry().prop_map(|e| Some(E::FileStarted(e))),
        entry().prop_map(|e| Some(E::FileDone(e))),
        entry().prop_map(|e| Some(E::Planned(e))),
        entry().prop_map(|e| Some(E::Deleted(e))),
        bytes().prop_map(|b| Some(E::FileBytes(b))),
        bytes().prop_map(|b| Some(E::FileResumed(b))),
        ".{0,40}".prop_map(|w| Some(E::Warning(w))),
        pb_failure().prop_map(|f| Some(E::FileFailed(f))),
        (any::<u64>(), any::<u64>()).prop_map(|(count, bytes)| Some(E::NeedBatch(pb::Counts { count, bytes }))),
        Just(None),
    ]
    .prop_map(|event| pb::Event { event })
}

fn pb_open() -> impl Strategy<Value = pb::Open> {
    (path_bytes(), -1i32..4, proptest::option::of(pb_options()), proptest::option::of((any::<u32>(), any::<u32>())))
        .prop_map(|(path, role, options, window)| pb::Open {
            path: path.into(),
            role,
            options,
            window: window.map(|(manifest_items, need_batches)| pb::Window {
                manifest_items,
                need_batches,
                takes_ahead: manifest_items % 2 == 0,
            }),
            ..pb::Open::default()
        })
}

pub(super) fn pb_frame() -> impl Strategy<Value = pb::Frame> {
    use pb::frame::Body;
    prop_oneof![
        proptest::collection::vec(pb_item(), 0..8).prop_map(|items| Body::Manifest(pb::Manifest { items })),
        (proptest::collection::vec(pb_header(), 0..8), proptest::collection::vec(pb_ahead(), 0..3))
            .prop_map(|(files, ahead)| Body::Need(pb::Need { files, ahead })),
        proptest::collection::vec(pb_event(), 0..8).prop_map(|events| Body::Events(pb::Events { events })),
        proptest::collection::vec(pb_record(), 0..8).prop_map(|records| Body::Payload(pb::Payload { records })),
        pb_open().prop_map(Body::Open),
    ]
    .prop_map(|body| pb::Frame { body: Some(body) })
}

fn pb_ahead() -> impl Strategy<Value = pb::Ahead> {
    (proptest::option::of(pb_header()), any::<u64>()).prop_map(|(file, basis_len)| pb::Ahead { file, basis_len })
}

/// Decodes a hint and checks the result against what was sent.
fn check_ahead(a: pb::Ahead) {
    let sent_len = a.basis_len;
    if let Ok(decoded) = ahead_from_pb(a) {
        assert!(decoded.basis_len == sent_len && sent_len > 0, "a hint's length was changed or is zero");
        assert_eq!(decoded.header.kind, blit_api::FileKind::File, "a hint for something not a file");
        assert_header(&decoded.header);
    }
}

/// Decodes a header and checks the result against what was sent.
fn check_header(h: pb::Header) {
    let map_ok = h.resume.as_ref().is_none_or(map_is_consistent);
    let names_ok = h.xattrs.iter().all(|x| !x.name.is_empty() && !x.name.contains(&0));
    let sent_link = h.hard_link.clone();
    if let Ok(decoded) = header_from_pb(h) {
        assert!(map_ok, "an inconsistent block map was accepted: {:?}", decoded.resume);
        assert!(names_ok, "a malformed xattr name was accepted");
        assert_eq!(decoded.hard_link.is_some(), sent_link.is_some(), "a hard link was dropped or invented");
        assert_header(&decoded);
    }
}

/// Converts everything a frame carries, the way the session reader does.
pub(super) fn convert_frame(frame: pb::Frame) {
    use pb::frame::Body;
    match frame.body {
        Some(Body::Manifest(m)) => {
            for item in m.items {
                match item_from_pb(item) {
                    Ok(ManifestItem::Entry(h)) => assert_header(&h),
                    Ok(ManifestItem::DirDone(p)) => assert_valid(&p),
                    Ok(ManifestItem::Failed(f)) => assert_valid(&f.path),
                    Ok(_) | Err(_) => {}
                }
            }
        }
        Some(Body::Need(n)) => {
            n.files.into_iter().for_each(check_header);
            n.ahead.into_iter().for_each(check_ahead);
        }
        Some(Body::Events(e)) => {
            for event in e.events.into_iter().filter_map(|e| event_from_pb(e).ok()) {
                if let Some(p) = event.path() {
                    assert_valid(p);
                }
            }
        }
        Some(Body::Payload(p)) => {
            for record in p.records.into_iter().filter_map(|r| r.record) {
                match record {
                    Record::FileBegin(h) => check_header(h),
                    Record::FileAbort(f) => {
                        if let Ok(f) = failure_from_pb(f) {
                            assert_valid(&f.path);
                        }
                    }
                    Record::SourceFailed(sf) => {
                        if let Some(h) = sf.header {
                            check_header(h);
                        }
                        if let Ok(f) = failure_from_pb(sf.failure.unwrap_or_default()) {
                            assert_valid(&f.path);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(Body::Open(open)) => {
            let _ = crate::convert::path_from_pb(&open.path);
            check_options(open.options);
            let _ = crate::link::Window::from_pb(open.window);
        }
        _ => {}
    }
}

proptest! {
    #[test]
    fn paths_decode_only_when_safe(bytes in path_bytes()) {
        if let Ok(p) = crate::convert::path_from_pb(&bytes) {
            prop_assert!(!bytes.contains(&0) && !bytes.starts_with(b"/"));
            prop_assert!(bytes.is_empty() || bytes.split(|b| *b == b'/').all(|c| !c.is_empty() && c != b"." && c != b".."));
            prop_assert_eq!(p.as_bytes(), &bytes[..]);
        }
    }

    #[test]
    fn headers_decode_only_when_consistent(h in pb_header()) {
        check_header(h);
    }

    #[test]
    fn generated_frames_convert_without_panics(frame in pb_frame()) {
        convert_frame(frame);
    }

    #[test]
    fn mutated_frames_decode_and_convert_without_panics(
        frame in pb_frame(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let bytes = mutate(frame.encode_to_vec(), &flips, cut);
        if let Ok(frame) = pb::Frame::decode(&bytes[..]) {
            convert_frame(frame);
        }
    }

    #[test]
    fn arbitrary_bytes_as_frames_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(frame) = pb::Frame::decode(&bytes[..]) {
            convert_frame(frame);
        }
    }
}

#[test]
fn the_header_strategy_reaches_owners_xattrs_hard_links_and_block_maps() {
    let headers = sample(pb_header(), 4000);
    let decoded: Vec<_> = headers.iter().filter_map(|h| header_from_pb(h.clone()).ok()).collect();
    let count = |f: &dyn Fn(&blit_api::FileHeader) -> bool| decoded.iter().filter(|h| f(h)).count();
    // Accepted headers carry every new field...
    assert!(count(&|h| h.uid.is_some() && h.gid.is_some()) > 10, "owner and group");
    assert!(count(&|h| !h.xattrs.is_empty()) > 10, "extended attributes");
    assert!(count(&|h| h.hard_link.is_some()) > 10, "hard links");
    assert!(count(&|h| h.resume.as_ref().is_some_and(|m| !m.hashes().is_empty())) > 10, "block maps");
    // ...and each new refusal is reached.
    let refused = |why: &str| {
        headers.iter().filter(|h| header_from_pb((*h).clone()).is_err_and(|e| e.to_string().contains(why))).count()
    };
    assert!(refused("extended attribute name") > 10, "malformed xattr names");
    assert!(refused("hard link on an entry") > 10, "hard links on directories and symlinks");
    assert!(refused("block map") + refused("block hashes") > 10, "inconsistent block maps");
}

#[test]
fn the_frame_strategy_reaches_new_events_options_and_records() {
    use pb::frame::Body;
    let frames = sample(pb_frame(), 3000);
    let events: Vec<_> = frames
        .iter()
        .filter_map(|f| match &f.body {
            Some(Body::Events(e)) => Some(e.events.iter().filter_map(|e| event_from_pb(e.clone()).ok())),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(events.iter().any(|e| matches!(e, ProgressEvent::Warning { .. })), "warnings");
    assert!(events.iter().any(|e| matches!(e, ProgressEvent::FileResumed { .. })), "file_resumed");
    let opens = frames.iter().filter_map(|f| match &f.body {
        Some(Body::Open(o)) => o.options.as_ref(),
        _ => None,
    });
    assert!(opens.filter(|o| !o.filter_rules.is_empty() && o.has_files_from).count() > 10, "filters in Open");
    let ranges = frames.iter().filter(|f| match &f.body {
        Some(Body::Payload(p)) => p.records.iter().any(|r| matches!(r.record, Some(Record::FileRange(_)))),
        _ => false,
    });
    assert!(ranges.count() > 10, "file_range records");
}
