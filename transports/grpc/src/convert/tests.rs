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
        },
        FileHeader {
            path: rel(b"d\xff/f \n"),
            kind: FileKind::File,
            size: u64::MAX,
            mtime_ns: 1_700_000_000_123_456_789,
            mode: 0o4644,
            link_target: None,
            checksum: Some([7; 32]),
        },
        FileHeader {
            path: rel(b"l"),
            kind: FileKind::Symlink,
            size: 3,
            mtime_ns: 0,
            mode: 0o777,
            link_target: Some(b"../\xfe".to_vec()),
            checksum: None,
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
        ProgressEvent::Planned { path: p.clone(), kind: FileKind::File, size: 7 },
        ProgressEvent::FileStarted { path: p.clone(), kind: FileKind::Symlink, size: 8 },
        ProgressEvent::FileBytes { path: p.clone(), bytes: 9, zero_copy: true },
        ProgressEvent::FileDone { path: p.clone(), kind: FileKind::Dir, bytes: 10 },
        ProgressEvent::FileFailed { path: p.clone(), kind: ErrorKind::NoSpace, message: "full".into() },
        ProgressEvent::Deleted { path: p, kind: FileKind::File },
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
    assert_eq!(options_from_pb(Some(options_to_pb(&o))), o);
    assert_eq!(options_from_pb(None), TransferOptions::new());
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
