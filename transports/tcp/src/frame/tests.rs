use super::*;
use blit_api::{FileKind, RelPath};
use proptest::prelude::*;

fn header(path: &str, size: u64) -> FileHeader {
    FileHeader {
        path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
        kind: FileKind::File,
        size,
        mtime_ns: -1_234_567_891,
        mode: 0o4755,
        link_target: None,
        checksum: None,
        ..Default::default()
    }
}

#[test]
fn prefixes_round_trip() {
    for (tag, flags, h, d) in [
        (Tag::Data, FLAG_ZERO_COPY, 0, MAX_CHUNK as u64),
        (Tag::Data, FLAG_ZSTD, 4, MAX_DATA_LEN),
        (Tag::File, 0, 40, 0),
        (Tag::Done, 0, 0, 0),
        (Tag::Probe, 0, 0, 1 << 20),
    ] {
        let p = decode_record_header(&encode_prefix(tag, flags, h, d)).unwrap();
        assert_eq!(p, Prefix { tag, flags, header_len: h as u32, data_len: d });
    }
}

#[test]
fn rejects_oversized_and_misplaced_lengths() {
    let cases = [
        (encode_prefix(Tag::Data, 0, 0, MAX_CHUNK as u64 + 1), "data bytes"),
        (encode_prefix(Tag::Data, FLAG_ZSTD, 4, MAX_DATA_LEN + 1), "at most"),
        (encode_prefix(Tag::File, 0, MAX_HEADER_LEN as usize + 1, 0), "record header of"),
        (encode_prefix(Tag::File, 0, 10, 1), "File record"),
        (encode_prefix(Tag::File, 0, 0, 0), "File record"),
        (encode_prefix(Tag::End, 0, 1, 0), "End record"),
        (encode_prefix(Tag::Data, FLAG_ZSTD, 0, 10), "Data record"),
        (encode_prefix(Tag::Data, FLAG_ZSTD | FLAG_ZERO_COPY, 4, 10), "flags"),
        (encode_prefix(Tag::File, FLAG_ZERO_COPY, 10, 0), "flags"),
    ];
    for (bytes, want) in cases {
        let e = decode_record_header(&bytes).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol);
        assert!(e.to_string().contains(want), "{e} should mention {want}");
    }
    let mut reserved = encode_prefix(Tag::End, 0, 0, 0);
    reserved[3] = 1;
    assert!(decode_record_header(&reserved).is_err());
    let mut unknown = encode_prefix(Tag::End, 0, 0, 0);
    unknown[0] = 200;
    assert!(decode_record_header(&unknown).unwrap_err().to_string().contains("unknown record tag"));
    assert!(decode_record_header(&[1, 2, 3]).is_err());
    // u64::MAX and a length that would overflow usize on 32-bit targets.
    assert!(decode_record_header(&encode_prefix(Tag::Data, 0, 0, u64::MAX)).is_err());
}

proptest! {
    #[test]
    fn decoder_never_panics_and_bounds_every_length(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        if let Ok(p) = decode_record_header(&bytes) {
            prop_assert!(p.header_len <= MAX_HEADER_LEN);
            prop_assert!(p.data_len <= MAX_DATA_LEN);
            prop_assert_eq!(encode_prefix(p.tag, p.flags, p.header_len as usize, p.data_len).to_vec(), bytes[..PREFIX_LEN].to_vec());
        }
    }

}

// --- structured fuzzing: file headers with owner, group and extended
// attributes, range and resume-range headers, prefixes of every tag ---

/// A valid file header with or without uid, gid and extended attributes.
fn any_file_header() -> impl Strategy<Value = FileHeader> {
    let xattr = (proptest::collection::vec(1u8..=255, 1..10), proptest::collection::vec(any::<u8>(), 0..20));
    (
        "[a-z\u{e9} ]{1,8}(/[a-z]{1,8}){0,2}",
        any::<u64>(),
        any::<i64>(),
        any::<u32>(),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(xattr, 0..3),
    )
        .prop_map(|(path, size, mtime_ns, mode, uid, gid, xattrs)| FileHeader {
            size,
            mtime_ns,
            mode,
            uid,
            gid,
            xattrs,
            ..header(&path, 0)
        })
}

/// A range header as the sender writes it (`send.rs`): id, offset, length,
/// the bytes kept and copied (none) for a `ResumeRange`, the file's header.
fn encode_range(id: u64, offset: u64, len: u64, reused: Option<u64>, h: &FileHeader) -> Vec<u8> {
    let mut enc = Enc::default();
    enc.u64(id).u64(offset).u64(len);
    if let Some(reused) = reused {
        enc.u64(reused).u64(0);
    }
    enc.file_header(h);
    enc.0
}

/// Whether a range is acceptable, stated independently of the decoder.
fn range_fits(offset: u64, len: u64, reused: Option<u64>, size: u64) -> bool {
    let inside = u128::from(offset) + u128::from(len) <= u128::from(size);
    let kept = reused.is_none_or(|r| r <= size);
    inside && kept && (len > 0 || reused == Some(size))
}

/// Ranges: usually inside a small file, sometimes anywhere.
fn any_range() -> impl Strategy<Value = (u64, u64, u64, Option<u64>, FileHeader)> {
    (any_file_header(), any::<u64>(), any::<bool>(), prop_oneof![0u64..40, any::<u64>()], 0u64..40, 0u64..45).prop_map(
        |(mut h, id, resumed, size, offset, len)| {
            h.size = size;
            let reused = resumed.then(|| if size > 0 && len % 3 == 0 { size } else { offset.min(size) });
            (id, offset, len.min(size.saturating_sub(offset).max(len % 2)), reused, h)
        },
    )
}

fn flip(mut bytes: Vec<u8>, flips: &[(prop::sample::Index, u8)], cut: Option<prop::sample::Index>) -> Vec<u8> {
    if !bytes.is_empty() {
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
    }
    bytes
}

fn check_decoded(h: &FileHeader) {
    assert!(RelPath::from_bytes(h.path.as_bytes().to_vec()).is_ok(), "unvalidated path {:?}", h.path);
    assert!(h.xattrs.iter().all(|(n, _)| !n.is_empty() && !n.contains(&0)), "{:?}", h.xattrs);
    assert_eq!(h.kind, FileKind::File);
}

fn sample<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..count).map(|_| proptest::strategy::ValueTree::current(&strategy.new_tree(&mut runner).unwrap())).collect()
}

proptest! {
    #[test]
    fn file_headers_round_trip_and_mutations_never_panic(
        h in any_file_header(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut enc = Enc::default();
        enc.file_header(&h);
        let mut dec = Dec(&enc.0);
        prop_assert_eq!(dec.file_header().unwrap(), h);
        dec.end().unwrap();
        let mutated = flip(enc.0, &flips, cut);
        if let Ok(decoded) = Dec(&mutated).file_header() {
            check_decoded(&decoded);
        }
    }

    #[test]
    fn range_headers_decode_only_when_the_range_fits(
        (id, offset, len, reused, h) in any_range(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let bytes = encode_range(id, offset, len, reused, &h);
        let decoded = range_header(&mut Dec(&bytes), reused.is_some());
        if range_fits(offset, len, reused, h.size) {
            let want = RangeHeader { id, offset, len, reused, copied: 0, file: h };
            prop_assert_eq!(decoded.unwrap(), want);
        } else {
            let e = decoded.unwrap_err();
            prop_assert!(e.to_string().contains("outside"), "{}", e);
        }
        // Either tag over mutated bytes: never a panic, never a range that
        // does not fit.
        let mutated = flip(bytes, &flips, cut);
        for resumed in [false, true] {
            if let Ok(r) = range_header(&mut Dec(&mutated), resumed) {
                prop_assert!(range_fits(r.offset, r.len, r.reused, r.file.size));
                prop_assert!(r.copied <= r.reused.unwrap_or(0), "{:?}", r);
                prop_assert_eq!(r.reused.is_some(), resumed);
                check_decoded(&r.file);
            }
        }
    }

    #[test]
    fn prefixes_of_every_tag_are_bounded(
        tag in 0u8..16,
        flags in prop_oneof![0u8..4, any::<u8>()],
        header_len in prop_oneof![Just(0u32), 1u32..64, Just(4), Just(MAX_HEADER_LEN), Just(MAX_HEADER_LEN + 1), any::<u32>()],
        data_len in prop_oneof![Just(0u64), 1u64..64, Just(u64::from(MAX_CHUNK)), Just(MAX_DATA_LEN), Just(MAX_DATA_LEN + 1), any::<u64>()],
    ) {
        let mut bytes = encode_prefix(Tag::Done, flags, header_len as usize, data_len);
        bytes[0] = tag;
        if let Ok(p) = decode_record_header(&bytes) {
            prop_assert!(p.header_len <= MAX_HEADER_LEN && p.data_len <= MAX_DATA_LEN);
            if matches!(p.tag, Tag::Range | Tag::ResumeRange | Tag::Copy | Tag::File) {
                prop_assert!(p.flags == 0 && p.header_len > 0 && p.data_len == 0, "{:?}", p);
            }
        }
    }
}

#[test]
fn the_frame_strategies_reach_owners_xattrs_and_resume_ranges() {
    let headers = sample(any_file_header(), 500);
    assert!(headers.iter().filter(|h| h.uid.is_some() && h.gid.is_none()).count() > 20, "uid alone");
    assert!(headers.iter().filter(|h| h.gid.is_some() && h.uid.is_none()).count() > 20, "gid alone");
    assert!(headers.iter().filter(|h| h.xattrs.len() > 1).count() > 20, "several xattrs");
    let ranges = sample(any_range(), 2000);
    let count = |resumed: bool, fits: bool| {
        let matching =
            ranges.iter().filter(|(_, o, l, r, h)| r.is_some() == resumed && range_fits(*o, *l, *r, h.size) == fits);
        matching.count()
    };
    for resumed in [false, true] {
        assert!(count(resumed, true) > 50, "ranges that fit, resumed: {resumed}");
        assert!(count(resumed, false) > 50, "ranges that do not fit, resumed: {resumed}");
    }
    let empty_resumed =
        ranges.iter().filter(|(_, o, l, r, h)| *l == 0 && *r == Some(h.size) && range_fits(*o, *l, *r, h.size));
    assert!(empty_resumed.count() > 10, "resumed files with nothing left to send");
    // ResumeRange prefixes decode; a resume range with data in the prefix does not.
    assert_eq!(decode_record_header(&encode_prefix(Tag::ResumeRange, 0, 60, 0)).unwrap().tag, Tag::ResumeRange);
    assert!(decode_record_header(&encode_prefix(Tag::ResumeRange, 0, 60, 1)).is_err());
    // A range past the end, a reused count past the size, an empty range of
    // a file that was not resumed: each names the file.
    for (offset, len, reused) in [(5, 6, None), (0, 1, Some(11)), (10, 0, None), (3, 0, Some(9))] {
        let e = range_header(&mut Dec(&encode_range(1, offset, len, reused, &header("big/f", 10))), reused.is_some());
        assert!(e.unwrap_err().to_string().contains("outside big/f (10 bytes"), "{offset}+{len} {reused:?}");
    }
}

#[test]
fn copy_headers_round_trip_and_refuse_copies_that_do_not_fit() {
    let h = header("big/f", 100);
    let copy = |to, from, len| blit_api::BlockCopy { to, from, len };
    let encode = |kept: (u64, u64), copies: &[blit_api::BlockCopy]| {
        let mut enc = Enc::default();
        encode_copies(&mut enc, 7, kept, copies, &h);
        enc.0
    };
    let copies = [copy(0, 50, 10), copy(90, 0, 10)];
    let got = copy_header(&mut Dec(&encode((30, 20), &copies))).unwrap();
    let want = CopyHeader { id: 7, reused: 30, copied: 20, copies: copies.to_vec(), file: h.clone() };
    assert_eq!(got, want);
    // Past the end, overflowing, empty, more copied than kept, more kept
    // than the file: each names the file.
    for (kept, c) in [
        ((30, 20), copy(91, 0, 10)),
        ((30, 20), copy(u64::MAX, 0, 2)),
        ((30, 20), copy(0, 0, 0)),
        ((30, 31), copy(0, 0, 1)),
        ((101, 20), copy(0, 0, 1)),
    ] {
        let e = copy_header(&mut Dec(&encode(kept, &[c]))).unwrap_err();
        assert!(e.to_string().contains("outside big/f (100 bytes"), "{kept:?} {c:?}: {e}");
    }
    // No copies, or more than a record may hold.
    assert!(copy_header(&mut Dec(&encode((30, 20), &[]))).is_err());
    let many = vec![copy(0, 0, 1); MAX_COPIES_PER_RECORD + 1];
    assert!(copy_header(&mut Dec(&encode((100, 100), &many))).is_err());
    // A count larger than the bytes that follow is a short header, not an
    // allocation.
    let mut lying = Enc::default();
    lying.u64(7).u64(30).u64(20).u32(MAX_COPIES_PER_RECORD as u32);
    assert!(copy_header(&mut Dec(&lying.0)).is_err());
    // A ResumeRange copying more than it keeps.
    let mut enc = Enc::default();
    enc.u64(1).u64(0).u64(5).u64(30).u64(31).file_header(&h);
    assert!(range_header(&mut Dec(&enc.0), true).is_err());
    assert_eq!(decode_record_header(&encode_prefix(Tag::Copy, 0, 60, 0)).unwrap().tag, Tag::Copy);
    assert!(decode_record_header(&encode_prefix(Tag::Copy, 0, 60, 1)).is_err());
}
