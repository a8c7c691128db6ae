//! Property-based fuzzing of every decoder of peer input in this crate:
//! message conversion (`convert`), frames decoded from arbitrary bytes, the
//! tar shard reader (`receive`), PAX times (`shard`) and session windows.
//!
//! Each property feeds generated or mutated input and checks that decoding
//! never panics and never yields a path that did not pass
//! [`RelPath::from_bytes`]; the shard reader must never create anything
//! outside its root. `PROPTEST_CASES` sets the number of cases per property
//! (256 by default; `bench/fuzz.sh` runs many more, in release mode).

use crate::convert::{event_from_pb, failure_from_pb, header_from_pb, item_from_pb, options_from_pb};
use crate::receive::receive_all;
use blit_api::{FileHeader, Landing, ManifestItem, ProgressEvent, RecordingSink, RelPath};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use blit_shard::parse_mtime;
use proptest::prelude::*;
use prost::bytes::Bytes;
use prost::Message;
use std::path::Path;
use std::sync::Arc;

/// Path bytes that are often nearly valid: components drawn from a small
/// alphabet of dangerous and ordinary pieces, joined by `/`, sometimes
/// fully arbitrary.
fn path_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(Vec::new()),
        Just(b"a".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just(b"nul\0".to_vec()),
        Just(b"etc".to_vec()),
        proptest::collection::vec(any::<u8>(), 1..12),
    ];
    prop_oneof![
        proptest::collection::vec(piece, 0..6).prop_map(|p| p.join(&b'/')),
        proptest::collection::vec(piece_or_slash(), 0..40),
    ]
}

fn piece_or_slash() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'/'), Just(b'.'), Just(0u8), any::<u8>()]
}

/// A path that was validated (the only way to hold a `RelPath`) and still
/// validates: nothing decoded skips the check.
fn assert_valid(path: &RelPath) {
    assert!(RelPath::from_bytes(path.as_bytes().to_vec()).is_ok(), "unvalidated path {path:?}");
}

fn assert_header(h: &FileHeader) {
    assert_valid(&h.path);
}

fn pb_header() -> impl Strategy<Value = pb::Header> {
    (
        path_bytes(),
        -2i32..6,
        any::<u64>(),
        any::<i64>(),
        any::<u32>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 30..34)),
    )
        .prop_map(|(path, kind, size, mtime_ns, mode, link, sum)| pb::Header {
            path: path.into(),
            kind,
            size,
            mtime_ns,
            mode,
            link_target: link.map(Bytes::from),
            checksum: sum.map(Bytes::from),
            ..pb::Header::default()
        })
}

fn pb_failure() -> impl Strategy<Value = pb::Failure> {
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
        (path_bytes(), -1i32..5, any::<u64>()).prop_map(|(path, kind, size)| pb::EntryEvent {
            path: path.into(),
            kind,
            size,
        })
    };
    prop_oneof![
        entry().prop_map(|e| Some(E::FileStarted(e))),
        entry().prop_map(|e| Some(E::FileDone(e))),
        entry().prop_map(|e| Some(E::Planned(e))),
        entry().prop_map(|e| Some(E::Deleted(e))),
        (path_bytes(), any::<u64>(), any::<bool>())
            .prop_map(|(p, bytes, zero_copy)| Some(E::FileBytes(pb::FileBytes { path: p.into(), bytes, zero_copy }))),
        pb_failure().prop_map(|f| Some(E::FileFailed(f))),
        (any::<u64>(), any::<u64>()).prop_map(|(count, bytes)| Some(E::NeedBatch(pb::Counts { count, bytes }))),
        Just(None),
    ]
    .prop_map(|event| pb::Event { event })
}

/// Converts everything a frame carries, the way the session reader does.
fn convert_frame(frame: pb::Frame) {
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
            for h in n.files {
                if let Ok(h) = header_from_pb(h) {
                    assert_header(&h);
                }
            }
        }
        Some(Body::Events(e)) => {
            for event in e.events {
                if let Ok(event) = event_from_pb(event) {
                    let path = match &event {
                        ProgressEvent::FileStarted { path, .. }
                        | ProgressEvent::FileDone { path, .. }
                        | ProgressEvent::FileBytes { path, .. }
                        | ProgressEvent::FileFailed { path, .. }
                        | ProgressEvent::Planned { path, .. }
                        | ProgressEvent::Deleted { path, .. } => Some(path),
                        _ => None,
                    };
                    if let Some(p) = path {
                        assert_valid(p);
                    }
                }
            }
        }
        Some(Body::Payload(p)) => {
            for record in p.records.into_iter().filter_map(|r| r.record) {
                match record {
                    Record::FileBegin(h) => {
                        if let Ok(h) = header_from_pb(h) {
                            assert_header(&h);
                        }
                    }
                    Record::FileAbort(f) => {
                        if let Ok(f) = failure_from_pb(f) {
                            assert_valid(&f.path);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(Body::Open(open)) => {
            let _ = crate::convert::path_from_pb(&open.path);
            let _ = options_from_pb(open.options);
            #[cfg(any(feature = "client", feature = "server"))]
            let _ = crate::link::Window::from_pb(open.window);
        }
        _ => {}
    }
}

fn pb_frame() -> impl Strategy<Value = pb::Frame> {
    use pb::frame::Body;
    prop_oneof![
        proptest::collection::vec(pb_item(), 0..8).prop_map(|items| Body::Manifest(pb::Manifest { items })),
        proptest::collection::vec(pb_header(), 0..8).prop_map(|files| Body::Need(pb::Need { files })),
        proptest::collection::vec(pb_event(), 0..8).prop_map(|events| Body::Events(pb::Events { events })),
        proptest::collection::vec(pb_header(), 0..4).prop_map(|hs| Body::Payload(pb::Payload {
            records: hs.into_iter().map(|h| pb::PayloadRecord { record: Some(Record::FileBegin(h)) }).collect(),
        })),
    ]
    .prop_map(|body| pb::Frame { body: Some(body) })
}

// --- tar shards -----------------------------------------------------------

/// One raw tar entry (ustar layout, GNU magic): any name, type and size
/// field, then `data` padded to 512 bytes.
fn tar_entry(name: &[u8], kind: u8, claimed: u64, data: &[u8], link: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    let n = name.len().min(100);
    h[..n].copy_from_slice(&name[..n]);
    let l = link.len().min(100);
    h[157..157 + l].copy_from_slice(&link[..l]);
    let octal = |field: &mut [u8], value: u64| {
        let w = field.len() - 1;
        let text = format!("{:0w$o}", value % 8u64.pow(w as u32));
        field[..w].copy_from_slice(text.as_bytes());
    };
    octal(&mut h[100..108], 0o644);
    octal(&mut h[124..136], claimed);
    octal(&mut h[136..148], 1_600_000_000);
    h[156] = kind;
    h[257..265].copy_from_slice(b"ustar  \0");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn tar_kind() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'0'),
        Just(b'0'),
        Just(0u8),
        Just(b'1'),
        Just(b'2'),
        Just(b'5'),
        Just(b'x'),
        Just(b'L'),
        any::<u8>()
    ]
}

/// A shard: a few entries of any name, type and (possibly lying) size,
/// sometimes with bytes flipped, sometimes truncated.
fn shard() -> impl Strategy<Value = Vec<u8>> {
    let entry = (path_bytes(), tar_kind(), proptest::collection::vec(any::<u8>(), 0..700), any::<bool>(), path_bytes())
        .prop_map(|(name, kind, data, lie, link)| {
            let data = if kind == b'x' {
                let mut pax = b"path=".to_vec();
                pax.extend_from_slice(&name);
                pax.push(b'\n');
                let mut rec = format!("{} ", pax.len() + 4).into_bytes();
                rec.extend_from_slice(&pax);
                rec
            } else {
                data
            };
            let claimed = if lie { data.len() as u64 * 3 + 1 } else { data.len() as u64 };
            tar_entry(&name, kind, claimed, &data, &link)
        });
    (
        proptest::collection::vec(entry, 0..5),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        proptest::option::of(any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(|(entries, flips, cut, end)| {
            let mut tar = entries.concat();
            if end {
                tar.extend_from_slice(&[0u8; 1024]);
            }
            if !tar.is_empty() {
                for (at, byte) in flips {
                    let i = at.index(tar.len());
                    tar[i] = byte;
                }
                if let Some(cut) = cut {
                    tar.truncate(cut.index(tar.len()));
                }
            }
            tar
        })
}

/// Every path below `dir`.
fn everything_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Lands `shard` (cut into `chunk`-byte data records) below a fresh root;
/// checks that nothing appeared outside it, no temporary file stayed, and
/// every event names a validated path.
fn land_shard(shard: &[u8], chunk: usize) -> Vec<String> {
    let t = tempfile::tempdir().expect("a temporary directory");
    let root = t.path().join("root");
    std::fs::create_dir(&root).expect("the root");
    std::fs::write(t.path().join("canary"), b"c").expect("the canary");
    let (tx, rx) = tokio::sync::mpsc::channel(shard.len() / chunk.max(1) + 8);
    let send = |r: Record| tx.try_send(pb::PayloadRecord { record: Some(r) }).expect("room for every record");
    send(Record::ShardBegin(pb::ShardBegin { files: 1 }));
    for piece in shard.chunks(chunk.max(1)) {
        send(Record::Data(Bytes::copy_from_slice(piece)));
    }
    send(Record::ShardEnd(pb::ShardEnd {}));
    send(Record::Done(pb::PayloadDone {}));
    drop(tx);
    let destination = Arc::new(blit_transport_local::LocalDestination::new(root.clone()));
    let events = RecordingSink::new();
    let landing = Landing::new(destination, events.clone());
    let _ = receive_all(rx, &landing, "fuzz");
    let outside: Vec<_> = std::fs::read_dir(t.path()).expect("list").map(|e| e.expect("entry").file_name()).collect();
    let mut outside: Vec<_> = outside.into_iter().map(|n| n.to_string_lossy().into_owned()).collect();
    outside.sort();
    assert_eq!(outside, ["canary", "root"], "the shard wrote outside its root");
    assert_eq!(std::fs::read(t.path().join("canary")).expect("canary"), b"c");
    for p in everything_below(&root) {
        let name = p.file_name().expect("a name").to_string_lossy().into_owned();
        assert!(!name.starts_with(".blit."), "a temporary file stayed: {}", p.display());
        let m = std::fs::symlink_metadata(&p).expect("metadata");
        assert!(m.is_file() || m.is_dir(), "a shard made something other than files: {}", p.display());
    }
    let mut landed = Vec::new();
    for event in events.events() {
        if let ProgressEvent::FileStarted { path, .. } | ProgressEvent::FileDone { path, .. } = &event {
            assert_valid(path);
        }
        if let ProgressEvent::FileDone { path, .. } = event {
            landed.push(path.display());
        }
    }
    landed
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
    fn generated_frames_convert_without_panics(frame in pb_frame()) {
        convert_frame(frame);
    }

    #[test]
    fn mutated_frames_decode_and_convert_without_panics(
        frame in pb_frame(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = frame.encode_to_vec();
        if !bytes.is_empty() {
            for (at, byte) in flips {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
        }
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

    #[test]
    fn shards_never_land_outside_their_root(tar in shard(), chunk in 1usize..2048) {
        let _landed = land_shard(&tar, chunk);
    }

    #[test]
    fn pax_times_parse_without_panics(text in proptest::collection::vec(prop_oneof![Just(b'-'), Just(b'.'), 0x30u8..0x3a, any::<u8>()], 0..40)) {
        if let Some(ns) = parse_mtime(&text) {
            prop_assert_eq!(parse_mtime(blit_shard::format_mtime(ns).as_bytes()), Some(ns));
        }
    }
}

#[test]
fn the_shard_strategy_reaches_files_escapes_and_links() {
    // A sanity check that the generator is not vacuous: a hand-made shard
    // with an escape, a link and a good file.
    let mut tar = tar_entry(b"good", b'0', 2, b"ok", b"");
    tar.extend(tar_entry(b"../evil", b'0', 4, b"evil", b""));
    tar.extend_from_slice(&[0u8; 1024]);
    assert_eq!(land_shard(&tar, 7), ["good"], "the good file lands, the escape stops the shard");
    let mut tar = tar_entry(b"a/b/deep", b'0', 1, b"d", b"");
    tar.extend(tar_entry(b"link", b'2', 0, b"", b"/etc"));
    tar.extend_from_slice(&[0u8; 1024]);
    assert_eq!(land_shard(&tar, 512), ["a/b/deep"]);
}
