use super::*;
use crate::frame::{encode_prefix, Tag};
use blit_api::{FileKind, ProgressEvent, RecordingSink, RelPath};
use blit_transport_local::LocalDestination;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

#[test]
fn a_connection_that_breaks_mid_file_fails_the_file_naming_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut feed = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (inbound, _) = listener.accept().unwrap();
    let mut conn = Conn::new(Link::Plain(inbound), "test peer".into(), Duration::from_secs(5)).unwrap();
    // A raw data record announcing 1 MiB, of which 1000 bytes arrive before the connection closes.
    feed.write_all(&encode_prefix(Tag::Data, 0, 0, 1 << 20)).unwrap();
    feed.write_all(&[7u8; 1000]).unwrap();
    drop(feed);
    let dir = tempfile::tempdir().unwrap();
    let events = RecordingSink::new();
    let landing = Landing::new(Arc::new(LocalDestination::new(dir.path().to_path_buf())), events.clone());
    let closer = crate::shared::Closer::default();
    let tuning = Mutex::new(None);
    let ctx = Receiving {
        landing: &landing,
        peer: "test peer",
        idle: Duration::from_secs(5),
        closer: &closer,
        tuning: &tuning,
    };
    let header = FileHeader {
        path: RelPath::from_bytes(b"f".to_vec()).unwrap(),
        kind: FileKind::File,
        size: 1 << 20,
        mode: 0o644,
        ..FileHeader::default()
    };
    let e = land_file(&mut conn, header, &ctx).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    let failed: Vec<_> = events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProgressEvent::FileFailed { path, message, .. } => Some((path.display(), message)),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "f");
    assert!(failed[0].1.contains("test peer") && failed[0].1.contains("connection"), "{failed:?}");
    assert!(!failed[0].1.contains("write"), "a broken connection is not the file's write error: {failed:?}");
    assert!(!dir.path().join("f").exists(), "nothing torn lands");
}
