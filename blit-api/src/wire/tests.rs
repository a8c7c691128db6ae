use super::*;
use proptest::prelude::*;

fn header(path: &str, size: u64) -> FileHeader {
    FileHeader {
        path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
        kind: FileKind::File,
        size,
        mtime_ns: -1_234_567_891,
        mode: 0o4755,
        ..FileHeader::default()
    }
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
    fn header_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut d = Dec(&bytes);
        let _ = d.file_header();
        let mut d = Dec(&bytes);
        let _ = d.failure();
        let mut d = Dec(&bytes);
        let _ = (d.u64(), d.u64(), d.u64(), d.file_header());
    }
}
