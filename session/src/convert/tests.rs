use super::*;

fn rel(p: &[u8]) -> RelPath {
    RelPath::from_bytes(p.to_vec()).unwrap()
}

fn headers() -> Vec<FileHeader> {
    vec![
        FileHeader {
            path: RelPath::root(),
            kind: FileKind::Dir,
            size: 0,
            mtime_ns: -1_500_000_001,
            mode: 0o755,
            link_target: None,
            checksum: None,
            ..Default::default()
        },
        FileHeader {
            path: rel(b"d\xff/f \n"),
            kind: FileKind::File,
            size: u64::MAX,
            mtime_ns: 1_700_000_000_123_456_789,
            mode: 0o4644,
            link_target: None,
            checksum: Some([7; 32]),
            ..Default::default()
        },
        FileHeader {
            path: rel(b"l"),
            kind: FileKind::Symlink,
            size: 3,
            mtime_ns: 0,
            mode: 0o777,
            link_target: Some(b"../\xfe".to_vec()),
            checksum: None,
            ..Default::default()
        },
    ]
}

#[test]
fn headers_round_trip() {
    for h in headers() {
        assert_eq!(header_from_pb(header_to_pb(&h)).unwrap(), h);
    }
}

#[test]
fn manifest_items_round_trip() {
    let failure = FileFailure { path: rel(b"x"), kind: ErrorKind::PermissionDenied, message: "no".into() };
    let items = headers().into_iter().map(ManifestItem::Entry).chain([
        ManifestItem::DirDone(rel(b"a/b")),
        ManifestItem::Failed(failure),
        ManifestItem::End,
    ]);
    for item in items {
        let back = item_from_pb(item_to_pb(&item, &Mask::none())).unwrap();
        assert_eq!(format!("{back:?}"), format!("{item:?}"));
    }
}

#[test]
fn events_round_trip() {
    let p = rel(b"a/\xff");
    let events = vec![
        ProgressEvent::ManifestProgress { entries: 1, bytes: 2 },
        ProgressEvent::NeedBatch { files: 3, bytes: 4 },
        ProgressEvent::ManifestComplete { entries: 5, bytes: 6, complete: true },
        ProgressEvent::Planned { path: p.clone(), kind: FileKind::File, size: 7, new: true },
        ProgressEvent::Planned { path: p.clone(), kind: FileKind::Dir, size: 0, new: false },
        ProgressEvent::FileStarted { path: p.clone(), kind: FileKind::Symlink, size: 8 },
        ProgressEvent::FileBytes { path: p.clone(), bytes: 9, zero_copy: true },
        ProgressEvent::FileDone { path: p.clone(), kind: FileKind::Dir, bytes: 10 },
        ProgressEvent::FileFailed { path: p.clone(), kind: ErrorKind::NoSpace, message: "full".into() },
        ProgressEvent::Deleted { path: p, kind: FileKind::File },
        ProgressEvent::Warning { message: "could not set the owner of 3 entries".into() },
    ];
    for e in events {
        let back = event_from_pb(event_to_pb(&e, &Mask::none()).unwrap()).unwrap();
        assert_eq!(back, e);
    }
    let started =
        ProgressEvent::Started { direction: blit_api::Direction::Push, transport: "grpc".into(), dry_run: false };
    assert!(event_to_pb(&started, &Mask::none()).is_none());
}

#[test]
fn options_round_trip() {
    let o = TransferOptions::new().checksum(true).mirror(true).dry_run(true);
    assert_eq!(options_from_pb(Some(options_to_pb(&o))).unwrap(), o);
    let synced = TransferOptions::new().fsync(true);
    assert!(options_to_pb(&synced).fsync);
    assert_eq!(options_from_pb(Some(options_to_pb(&synced))).unwrap(), synced);
    let limited = TransferOptions::new().bwlimit(2 << 20);
    assert_eq!(options_to_pb(&limited).bwlimit_bytes_per_sec, 2 << 20);
    assert_eq!(options_from_pb(Some(options_to_pb(&limited))).unwrap(), limited);
    assert_eq!(options_from_pb(None).unwrap(), TransferOptions::new());
}

#[test]
fn part_ranges_round_trip_and_bad_ones_are_refused() {
    let o = TransferOptions::new().resume(true).part_range(Some(blit_api::PartRange { offset: 3 << 20, len: 1 << 20 }));
    let wire = options_to_pb(&o);
    assert_eq!(wire.part_range, Some(pb::PartRange { offset: 3 << 20, len: 1 << 20 }));
    assert_eq!(options_from_pb(Some(wire)).unwrap(), o);
    assert_eq!(options_to_pb(&TransferOptions::new()).part_range, None);
    for (offset, len) in [(0, 0), (7, 0), (u64::MAX, 1), (1, u64::MAX)] {
        let wire = pb::Options { part_range: Some(pb::PartRange { offset, len }), ..pb::Options::default() };
        assert_eq!(options_from_pb(Some(wire)).unwrap_err().kind(), ErrorKind::InvalidInput, "{offset}+{len}");
    }
    let last = pb::Options { part_range: Some(pb::PartRange { offset: u64::MAX - 1, len: 1 }), ..Default::default() };
    assert!(options_from_pb(Some(last)).is_ok(), "a range ending at u64::MAX fits");
}

#[test]
fn filter_options_round_trip() {
    use blit_api::FilterSpec;
    let spec = FilterSpec::new()
        .include("*.rs")
        .exclude("/target/")
        .exclude("*")
        .files_from(vec![b"a/b".to_vec(), b"\xff\xfe".to_vec()])
        .min_size(Some(0))
        .max_size(Some(1 << 40))
        .delete_excluded(true);
    let o = TransferOptions::new().mirror(true).filter(spec);
    let wire = options_to_pb(&o);
    assert_eq!(wire.filter_rules.len(), 3);
    assert!(wire.filter_rules[0].include && !wire.filter_rules[2].include);
    assert_eq!(options_from_pb(Some(wire)).unwrap(), o);
    // An empty files-from list (selects nothing) is not the same as none.
    let empty = TransferOptions::new().filter(FilterSpec::new().files_from(Vec::new()));
    assert_eq!(options_from_pb(Some(options_to_pb(&empty))).unwrap(), empty);
    assert_ne!(empty, TransferOptions::new());
    let plain = TransferOptions::new().filter(FilterSpec::new().exclude("x"));
    assert_eq!(options_from_pb(Some(options_to_pb(&plain))).unwrap().filter.files_from, None);
}

#[test]
fn refuses_unsafe_and_malformed_input() {
    for bad_path in [&b"../etc"[..], b"/etc/passwd", b"a//b", b"a/./b", b"a\0b", b"a/"] {
        let mut h = header_to_pb(&headers()[1]);
        h.path = Bytes::copy_from_slice(bad_path);
        let e = header_from_pb(h).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{:?}", String::from_utf8_lossy(bad_path));
        let item = pb::ManifestItem { item: Some(pb::manifest_item::Item::DirDone(Bytes::copy_from_slice(bad_path))) };
        assert_eq!(item_from_pb(item).unwrap_err().kind(), ErrorKind::Protocol);
        let ev = pb::Event {
            event: Some(pb::event::Event::Deleted(pb::EntryEvent {
                path: Bytes::copy_from_slice(bad_path),
                kind: pb::Kind::File as i32,
                size: 0,
                new: false,
            })),
        };
        assert_eq!(event_from_pb(ev).unwrap_err().kind(), ErrorKind::Protocol);
    }
    let mut h = header_to_pb(&headers()[1]);
    h.checksum = Some(Bytes::from_static(b"short"));
    assert_eq!(header_from_pb(h).unwrap_err().kind(), ErrorKind::Protocol);
    let mut h = header_to_pb(&headers()[1]);
    h.kind = 42;
    assert_eq!(header_from_pb(h).unwrap_err().kind(), ErrorKind::Protocol);
    let mut h = header_to_pb(&headers()[2]);
    h.link_target = None;
    assert_eq!(header_from_pb(h).unwrap_err().kind(), ErrorKind::Protocol);
    assert!(item_from_pb(pb::ManifestItem { item: None }).is_err());
    assert!(event_from_pb(pb::Event { event: None }).is_err());
}

#[test]
fn mask_hides_the_module_directory() {
    let mask = Mask::module(Path::new("/srv/photos/"), "photos");
    assert_eq!(mask.apply("/srv/photos/a/b: open failed"), "/photos/a/b: open failed");
    let e = Error::new(ErrorKind::NotFound, "read /srv/photos/x failed").with_path("/srv/photos/x").with_hint("h");
    let m = mask.error(&e);
    assert_eq!(m.to_string(), "/photos/x: read /photos/x failed (h)");
    assert_eq!(m.kind(), ErrorKind::NotFound);
    let f = FileFailure { path: rel(b"x"), kind: ErrorKind::Io, message: "/srv/photos/x: bad".into() };
    assert_eq!(failure_to_pb(&f, &mask).message, "/photos/x: bad");
    assert_eq!(Mask::none().apply("/srv/photos"), "/srv/photos");
}

#[test]
fn resume_headers_options_and_events_round_trip() {
    let map = BlockMap::new(1 << 20, (3 << 20) + 5, vec![[1; 32], [2; 32], [3; 32], [4; 32]]).unwrap();
    let h = FileHeader {
        path: rel(b"big"),
        size: 9 << 20,
        resume: Some(std::sync::Arc::new(map.clone())),
        ..Default::default()
    };
    let back = header_from_pb(header_to_pb(&h)).unwrap();
    assert_eq!(back, h);
    assert_eq!(back.resume.unwrap().hashes()[3], [4; 32]);
    // A delta map's weak checksums travel too.
    let weak = vec![1, 0xdead_beef, 3, u32::MAX];
    let h = FileHeader { resume: Some(std::sync::Arc::new(map.with_weak(weak.clone()).unwrap())), ..h };
    let back = header_from_pb(header_to_pb(&h)).unwrap();
    assert_eq!(back.resume.as_deref().unwrap().weak(), weak);
    assert_eq!(back, h);
    let o = TransferOptions::new().resume(true);
    assert!(options_from_pb(Some(options_to_pb(&o))).unwrap().resume);
    assert!(!options_from_pb(Some(options_to_pb(&TransferOptions::new()))).unwrap().resume);
    let e = ProgressEvent::FileResumed { path: rel(b"big"), bytes: 77 };
    assert_eq!(event_from_pb(event_to_pb(&e, &Mask::none()).unwrap()).unwrap(), e);
}

#[test]
fn refuses_malformed_block_maps() {
    let good = block_map_to_pb(&BlockMap::new(1 << 20, 10, vec![[9; 32]]).unwrap());
    let mut ragged = good.clone();
    ragged.hashes = Bytes::from(vec![0u8; 33]);
    let mut short = good.clone();
    short.partial_len = 3 << 20;
    let mut odd = good.clone();
    odd.block_size = 1000;
    let mut ragged_weak = good.clone();
    ragged_weak.weak = Bytes::from(vec![0u8; 5]);
    let mut more_weak = good;
    more_weak.weak = Bytes::from(vec![0u8; 8]);
    for bad in [ragged, short, odd, ragged_weak, more_weak] {
        let h = pb::Header { kind: pb::Kind::File as i32, resume: Some(bad), ..Default::default() };
        assert_eq!(header_from_pb(h).unwrap_err().kind(), ErrorKind::Protocol);
    }
}

#[test]
fn ownership_xattrs_and_hard_links_round_trip() {
    let h = FileHeader {
        path: rel(b"d/second"),
        size: 5,
        mode: 0o4755,
        uid: Some(0),
        gid: Some(u32::MAX - 1),
        xattrs: vec![(b"user.\xff".to_vec(), vec![0, 255]), (b"security.x".to_vec(), Vec::new())],
        hard_link: Some(rel(b"first")),
        ..FileHeader::default()
    };
    let wire = header_to_pb(&h);
    assert_eq!((wire.uid, wire.gid, wire.xattrs.len()), (Some(0), Some(u32::MAX - 1), 2));
    assert_eq!(header_from_pb(wire).unwrap(), h);
    let plain = FileHeader { path: rel(b"p"), ..FileHeader::default() };
    let wire = header_to_pb(&plain);
    assert!(wire.uid.is_none() && wire.gid.is_none() && wire.xattrs.is_empty() && wire.hard_link.is_none());
    assert_eq!(header_from_pb(wire).unwrap(), plain);

    let o = TransferOptions::new().hard_links(true).owner(true).group(false).xattrs(true);
    let wire = options_to_pb(&o);
    assert!(wire.hard_links && wire.owner && !wire.group && wire.xattrs);
    assert_eq!(options_from_pb(Some(wire)).unwrap(), o);
    let o = TransferOptions::new().group(true);
    assert_eq!(options_from_pb(Some(options_to_pb(&o))).unwrap(), o);
}

#[test]
fn refuses_bad_hard_links_and_xattr_names() {
    let dir_link = pb::Header {
        kind: pb::Kind::Dir as i32,
        path: Bytes::from_static(b"d"),
        hard_link: Some(Bytes::from_static(b"x")),
        ..pb::Header::default()
    };
    assert_eq!(header_from_pb(dir_link).unwrap_err().kind(), ErrorKind::Protocol);
    let escape = pb::Header {
        kind: pb::Kind::File as i32,
        path: Bytes::from_static(b"f"),
        hard_link: Some(Bytes::from_static(b"../etc/passwd")),
        ..pb::Header::default()
    };
    assert_eq!(header_from_pb(escape).unwrap_err().kind(), ErrorKind::Protocol);
    let nul = pb::Header {
        kind: pb::Kind::File as i32,
        path: Bytes::from_static(b"f"),
        xattrs: vec![pb::Xattr { name: Bytes::from_static(b"user.a\0b"), value: Bytes::new() }],
        ..pb::Header::default()
    };
    assert_eq!(header_from_pb(nul).unwrap_err().kind(), ErrorKind::Protocol);
}

#[test]
fn refuses_oversized_headers_and_cuts_long_messages() {
    use crate::error::MAX_MESSAGE;
    let mut h = header_to_pb(&headers()[1]);
    h.path = Bytes::from(vec![b'p'; RelPath::MAX_NAME + 1]);
    assert_eq!(header_from_pb(h).unwrap_err().kind(), ErrorKind::Protocol);
    let mut h = header_to_pb(&headers()[2]);
    h.link_target = Some(Bytes::from(vec![b't'; FileHeader::MAX_LINK_TARGET + 1]));
    assert_eq!(header_from_pb(h).unwrap_err().kind(), ErrorKind::Protocol);
    let fat = pb::Header {
        kind: pb::Kind::File as i32,
        path: Bytes::from_static(b"f"),
        xattrs: vec![pb::Xattr { name: Bytes::from_static(b"user.a"), value: Bytes::from(vec![0; 40 << 10]) }],
        ..pb::Header::default()
    };
    assert_eq!(header_from_pb(fat).unwrap_err().kind(), ErrorKind::Protocol);
    let long = "é".repeat(MAX_MESSAGE);
    let f = failure_from_pb(pb::Failure { path: Bytes::from_static(b"f"), kind: 0, message: long }).unwrap();
    assert!(f.message.len() <= MAX_MESSAGE + 8 && f.message.ends_with("[cut]"), "{}", f.message.len());
}
