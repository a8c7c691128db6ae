use super::*;
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

#[test]
fn headers_round_trip_and_validate_paths() {
    let h = header("d\u{e9}/f \n", 77);
    let mut enc = Enc::default();
    enc.u64(7).file_header(&h).failure(&Error::new(ErrorKind::NoSpace, "full"));
    let mut dec = Dec(&enc.0);
    assert_eq!(dec.u64().unwrap(), 7);
    assert_eq!(dec.file_header().unwrap(), h);
    let e = dec.failure().unwrap();
    assert_eq!((e.kind(), e.message()), (ErrorKind::NoSpace, "full"));
    dec.end().unwrap();
    let mut evil = Enc::default();
    evil.u64(1).u64(0).u32(0).bytes(b"../etc/passwd");
    assert!(Dec(&evil.0).file_header().unwrap_err().to_string().contains("unsafe"));
    let mut truncated = Enc::default();
    truncated.u64(1).u32(5);
    assert!(Dec(&truncated.0).file_header().is_err());
    let mut long_claim = Enc::default();
    long_claim.u32(u32::MAX);
    assert!(Dec(&long_claim.0).bytes().is_err());
}

#[test]
fn headers_carry_ownership_and_xattrs_only_when_present() {
    let mut h = header("f", 3);
    h.uid = Some(0);
    h.gid = Some(u32::MAX - 1);
    h.xattrs = vec![(b"user.\xff".to_vec(), vec![0, 1, 255]), (b"user.empty".to_vec(), Vec::new())];
    let group_only = FileHeader { gid: Some(9), ..header("g", 0) };
    for h in [h, group_only, header("plain", 1)] {
        let mut enc = Enc::default();
        enc.file_header(&h).failure(&Error::new(ErrorKind::Io, "x"));
        let mut dec = Dec(&enc.0);
        assert_eq!(dec.file_header().unwrap(), h);
        dec.failure().unwrap();
        dec.end().unwrap();
    }
    let mut bad_flags = Enc::default();
    bad_flags.u64(1).u64(0).u32(0).bytes(b"f").u8(4);
    assert!(Dec(&bad_flags.0).file_header().unwrap_err().to_string().contains("flags"));
    let mut huge_count = Enc::default();
    huge_count.u64(1).u64(0).u32(0).bytes(b"f").u8(0).u32(u32::MAX);
    assert!(Dec(&huge_count.0).file_header().is_err());
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

    #[test]
    fn header_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut d = Dec(&bytes);
        let _ = d.file_header();
        let mut d = Dec(&bytes);
        let _ = d.failure();
        let mut d = Dec(&bytes);
        let _ = (d.u64(), d.u64(), d.u64(), d.file_header());
    }
}
