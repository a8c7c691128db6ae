//! The tar shard reader (`blit_shard::land_shard` through `receive`) and
//! PAX times: shards of any entries, PAX records for mtime, size, owner,
//! group and extended attributes (valid and malformed: bad numbers, bad
//! percent-encoding, bad base64, huge values), bytes flipped, truncated,
//! landed on disk below a fresh root.

use super::{assert_valid, mutate, name_bytes, path_bytes, sample, Sandbox};
use crate::receive::receive_all;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use blit_api::{Landing, ProgressEvent, RecordingSink, Result};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use blit_shard::parse_mtime;
use proptest::prelude::*;
use prost::bytes::Bytes;
use std::sync::Arc;

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

/// One PAX record, `<len> <key>=<value>\n`; `skew` makes the length lie.
fn pax_record(key: &[u8], value: &[u8], skew: i8) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let shown = (len as i64 + i64::from(skew)).max(0);
    [shown.to_string().as_bytes(), b" ", key, b"=", value, b"\n"].concat()
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

/// A decimal id: valid, negative, past `u32`, huge, or not a number.
fn pax_id() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<u32>().prop_map(|n| n.to_string().into_bytes()),
        Just(b"-1".to_vec()),
        Just(b"4294967296".to_vec()),
        Just(b"99999999999999999999999999".to_vec()),
        Just(b"12a".to_vec()),
        Just(Vec::new()),
    ]
}

/// An extended attribute record's key suffix and value: well-formed
/// (percent-encoded name, base64 value), or with bad percent-encoding, a
/// NUL or empty name, bad base64, or a huge value.
fn pax_xattr() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let name = prop_oneof![
        4 => Just(b"user.blit".to_vec()),
        2 => Just(b"user.%FF%3D%25".to_vec()),
        1 => Just(b"user.%G1".to_vec()),
        1 => Just(b"user.%4".to_vec()),
        1 => Just(b"%00".to_vec()),
        1 => Just(Vec::new()),
        1 => proptest::collection::vec(0x21u8..0x7f, 1..10).prop_filter("no `=`", |n| !n.contains(&b'=')),
    ];
    let value = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(|v| BASE64.encode(v).into_bytes()),
        1 => Just(b"!!not base64".to_vec()),
        1 => Just(b"abc".to_vec()),
        1 => (1usize..200_000).prop_map(|n| BASE64.encode(vec![b'v'; n]).into_bytes()),
    ];
    (name, value)
}

/// The records of one PAX header: any of mtime, size, uid, gid, path and
/// extended attributes, sometimes with a lying length.
fn pax_records(name: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let record = prop_oneof![
        proptest::collection::vec(prop_oneof![Just(b'-'), Just(b'.'), 0x30u8..0x3a], 0..25)
            .prop_map(|t| (b"mtime".to_vec(), t)),
        prop_oneof![0u64..2000, any::<u64>()].prop_map(|n| (b"size".to_vec(), n.to_string().into_bytes())),
        pax_id().prop_map(|v| (b"uid".to_vec(), v)),
        pax_id().prop_map(|v| (b"gid".to_vec(), v)),
        Just((b"path".to_vec(), name)),
        pax_xattr().prop_map(|(n, v)| ([&b"LIBARCHIVE.xattr."[..], &n].concat(), v)),
    ];
    let skew = prop_oneof![8 => Just(0i8), 1 => -3i8..3];
    proptest::collection::vec((record, skew), 0..5)
        .prop_map(|records| records.iter().flat_map(|((k, v), skew)| pax_record(k, v, *skew)).collect())
}

/// A PAX header entry and the regular file it describes.
fn pax_file() -> impl Strategy<Value = Vec<u8>> {
    (name_bytes(), proptest::collection::vec(any::<u8>(), 0..300))
        .prop_flat_map(|(name, data)| (pax_records(name.clone()), Just(name), Just(data)))
        .prop_map(|(pax, name, data)| {
            let mut out = tar_entry(b"././@PaxHeader", b'x', pax.len() as u64, &pax, b"");
            out.extend(tar_entry(&name, b'0', data.len() as u64, &data, b""));
            out
        })
}

/// A shard: a few entries, each an ordinary file, an entry of any name,
/// type and (possibly lying) size, or a PAX-described file; sometimes with
/// bytes flipped, sometimes truncated.
fn shard() -> impl Strategy<Value = Vec<u8>> {
    let plain = (name_bytes(), tar_kind(), proptest::collection::vec(any::<u8>(), 0..700), any::<bool>(), path_bytes())
        .prop_map(|(name, kind, data, lie, link)| {
            let claimed = if lie { data.len() as u64 * 3 + 1 } else { data.len() as u64 };
            tar_entry(&name, kind, claimed, &data, &link)
        });
    let clean = ("[a-z]{1,6}(/[a-z]{1,6}){0,2}", proptest::collection::vec(any::<u8>(), 0..700))
        .prop_map(|(name, data)| tar_entry(name.as_bytes(), b'0', data.len() as u64, &data, b""));
    let entry = prop_oneof![clean, plain, pax_file()];
    (
        proptest::collection::vec(entry, 0..5),
        prop_oneof![Just(Vec::new()), proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)],
        proptest::option::weighted(0.3, any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(|(entries, flips, cut, end)| {
            let mut tar = entries.concat();
            if end {
                tar.extend_from_slice(&[0u8; 1024]);
            }
            mutate(tar, &flips, cut)
        })
}

/// Lands `shard` (cut into `chunk`-byte data records) below a fresh root;
/// checks that nothing appeared outside it, no temporary file stayed, and
/// every event names a validated path. Returns the result and the files
/// that landed.
fn land_shard(shard: &[u8], chunk: usize) -> (Result<()>, Vec<String>) {
    let sandbox = Sandbox::new();
    let (tx, rx) = tokio::sync::mpsc::channel(shard.len() / chunk.max(1) + 8);
    let send = |r: Record| tx.try_send(pb::PayloadRecord { record: Some(r) }).expect("room for every record");
    send(Record::ShardBegin(pb::ShardBegin { files: 1 }));
    for piece in shard.chunks(chunk.max(1)) {
        send(Record::Data(Bytes::copy_from_slice(piece)));
    }
    send(Record::ShardEnd(pb::ShardEnd {}));
    send(Record::Done(pb::PayloadDone {}));
    drop(tx);
    let destination = Arc::new(blit_transport_local::LocalDestination::new(sandbox.root.clone()));
    let events = RecordingSink::new();
    let landing = Landing::new(destination, events.clone());
    let result = receive_all(rx, &landing, "fuzz");
    sandbox.check(false);
    let mut landed = Vec::new();
    for event in events.events() {
        if let ProgressEvent::FileStarted { path, .. } | ProgressEvent::FileDone { path, .. } = &event {
            assert_valid(path);
        }
        if let ProgressEvent::FileDone { path, .. } = event {
            landed.push(path.display());
        }
    }
    (result, landed)
}

proptest! {
    #[test]
    fn shards_never_land_outside_their_root(tar in shard(), chunk in 1usize..2048) {
        let _ = land_shard(&tar, chunk);
    }

    #[test]
    fn pax_times_parse_without_panics(text in proptest::collection::vec(prop_oneof![Just(b'-'), Just(b'.'), 0x30u8..0x3a, any::<u8>()], 0..40)) {
        if let Some(ns) = parse_mtime(&text) {
            prop_assert_eq!(parse_mtime(blit_shard::format_mtime(ns).as_bytes()), Some(ns));
        }
    }
}

/// PAX records: key and value.
type PaxRecords<'a> = &'a [(&'a [u8], &'a [u8])];

/// A shard of one PAX-described file `f` holding `ok`, then the end.
fn one_pax_file(records: PaxRecords<'_>) -> Vec<u8> {
    let pax: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v, 0)).collect();
    let mut tar = tar_entry(b"././@PaxHeader", b'x', pax.len() as u64, &pax, b"");
    tar.extend(tar_entry(b"f", b'0', 2, b"ok", b""));
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

#[test]
fn the_shard_strategy_reaches_files_escapes_and_links() {
    let mut tar = tar_entry(b"good", b'0', 2, b"ok", b"");
    tar.extend(tar_entry(b"../evil", b'0', 4, b"evil", b""));
    tar.extend_from_slice(&[0u8; 1024]);
    assert_eq!(land_shard(&tar, 7).1, ["good"], "the good file lands, the escape stops the shard");
    let mut tar = tar_entry(b"a/b/deep", b'0', 1, b"d", b"");
    tar.extend(tar_entry(b"link", b'2', 0, b"", b"/etc"));
    tar.extend_from_slice(&[0u8; 1024]);
    assert_eq!(land_shard(&tar, 512).1, ["a/b/deep"]);
    // The strategy makes such shards itself: some land files, some are
    // refused, and the PAX records it writes hold every key.
    let shards = sample(shard(), 2000);
    let outcomes: Vec<_> = shards.iter().take(150).map(|s| land_shard(s, 512)).collect();
    assert!(outcomes.iter().filter(|(r, landed)| r.is_ok() && !landed.is_empty()).count() > 5, "shards that land");
    assert!(outcomes.iter().filter(|(r, _)| r.is_err()).count() > 5, "shards that are refused");
    let holds = |needle: &[u8]| shards.iter().filter(|s| s.windows(needle.len()).any(|w| w == needle)).count();
    for key in [&b" uid="[..], b" gid=", b" size=", b" mtime=", b" LIBARCHIVE.xattr.user.blit=", b"%G1="] {
        assert!(holds(key) > 5, "PAX records with {}", String::from_utf8_lossy(key));
    }
}

#[test]
fn pax_owner_and_xattr_records_land_or_stop_the_shard_with_the_reason() {
    let value = BASE64.encode(b"v\0\n=");
    let good: PaxRecords<'_> =
        &[(b"uid", b"0"), (b"gid", b"4000000000"), (b"LIBARCHIVE.xattr.user.%FF%3D", value.as_bytes())];
    let (result, landed) = land_shard(&one_pax_file(good), 100);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(landed, ["f"]);
    let cases: [(PaxRecords<'_>, &str); 9] = [
        (&[(b"size", b"9000000")], "PAX size record"),
        (&[(b"path", b"elsewhere")], "PAX path record"),
        (&[(b"uid", b"-1")], "malformed PAX uid"),
        (&[(b"gid", b"4294967296")], "malformed PAX gid"),
        (&[(b"uid", b"99999999999999999999999999")], "malformed PAX uid"),
        (&[(b"LIBARCHIVE.xattr.user.%G1", b"dg==")], "extended attribute name"),
        (&[(b"LIBARCHIVE.xattr.user.%4", b"dg==")], "extended attribute name"),
        (&[(b"LIBARCHIVE.xattr.%00", b"dg==")], "extended attribute name"),
        (&[(b"LIBARCHIVE.xattr.user.x", b"!!not base64")], "extended attribute value"),
    ];
    for (records, want) in cases {
        let (result, landed) = land_shard(&one_pax_file(records), 100);
        let e = result.expect_err(want);
        assert!(e.to_string().contains(want), "{e} should say {want}");
        assert!(landed.is_empty(), "{landed:?}");
    }
}

/// Regression: the tar crate read a metadata entry of any claimed size into
/// memory (a peer could stream gigabytes into one PAX header), and took
/// file entries of any size. Each is refused from its header, before its
/// bytes are read.
#[test]
fn oversized_metadata_and_entries_stop_the_shard_before_they_are_read() {
    let big = |n: u64| vec![b'7'; n as usize];
    let pax = big(blit_shard::PAX_MAX + 1);
    let mut over_pax = tar_entry(b"././@PaxHeader", b'x', pax.len() as u64, &pax, b"");
    over_pax.extend(tar_entry(b"f", b'0', 2, b"ok", b""));
    let name = big(blit_shard::LONG_NAME_MAX + 1);
    let mut over_name = tar_entry(b"././@LongLink", b'L', name.len() as u64, &name, b"");
    over_name.extend(tar_entry(b"f", b'0', 2, b"ok", b""));
    let data = big(blit_shard::SHARD_ENTRY_MAX + 1);
    let over_entry = tar_entry(b"f", b'0', data.len() as u64, &data, b"");
    let mut twice = tar_entry(b"././@PaxHeader", b'x', 0, b"", b"");
    twice.extend(tar_entry(b"././@PaxHeader", b'x', 0, b"", b""));
    twice.extend(tar_entry(b"f", b'0', 2, b"ok", b""));
    let dangling = tar_entry(b"././@PaxHeader", b'x', 0, b"", b"");
    let cases = [
        (over_pax, "PAX header of 1048577 bytes"),
        (over_name, "long name of 65537 bytes"),
        (over_entry, "shard entry of 1048577 bytes"),
        (twice, "two PAX headers"),
        (dangling, "no entry after it"),
    ];
    for (mut tar, want) in cases {
        tar.extend_from_slice(&[0u8; 1024]);
        let (result, landed) = land_shard(&tar, 1 << 20);
        let e = result.expect_err(want);
        assert!(e.to_string().contains(want), "{e} should say {want}");
        assert!(landed.is_empty(), "{landed:?}");
    }
    // A long name and an entry of SHARD_ENTRY_MAX bytes land.
    let long = [&b"d/"[..], &[b'n'; 200]].concat();
    let mut ok = tar_entry(b"././@LongLink", b'L', 203, &[&long[..], b"\0"].concat(), b"");
    ok.extend(tar_entry(b"x", b'0', 2, b"ok", b""));
    ok.extend(tar_entry(b"f", b'0', blit_shard::SHARD_ENTRY_MAX, &big(blit_shard::SHARD_ENTRY_MAX), b""));
    ok.extend_from_slice(&[0u8; 1024]);
    let (result, landed) = land_shard(&ok, 1 << 20);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(landed, [String::from_utf8(long).expect("ASCII"), "f".to_owned()]);
}
