//! The byte-stream framing: what a `StreamWriter` frames, `land_stream`
//! lands, and a hostile stream is refused before anything is allocated.

use super::*;
use crate::{land_stream, StreamWriter};

/// The stream `send_file` makes of `headers` read from `dir`, in data
/// frames of `chunk` bytes.
fn framed(dir: &std::path::Path, headers: &[FileHeader], chunk: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut out = StreamWriter::new(&mut wire, "test", chunk);
    for h in headers {
        send_file(&Dir(dir.to_path_buf()), h, &mut out).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    wire
}

#[test]
fn files_round_trip_through_the_stream() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a"), b"hello world").unwrap();
    std::fs::write(src.path().join("b"), b"").unwrap();
    let wire = framed(src.path(), &[header("a", 11), header("b", 0), header("gone", 3)], 4);
    let dst = tempfile::tempdir().unwrap();
    let (landing, sink) = temp_landing(dst.path());
    land_stream(&landing, &wire[..], "test", 4).unwrap();
    assert_eq!(std::fs::read(dst.path().join("a.done")).unwrap(), b"hello world");
    assert_eq!(std::fs::read(dst.path().join("b.done")).unwrap(), b"");
    assert_eq!(events_of(&sink), ["done a 11", "done b 0", "failed gone not_found"]);
    // A receiver that takes smaller chunks than the sender sends refuses them.
    let (landing, _) = temp_landing(dst.path());
    let e = land_stream(&landing, &wire[..], "test", 3).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.to_string().contains("announces 4 bytes"), "{e}");
}

#[test]
fn a_stream_that_ends_inside_a_file_fails_that_file() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a"), b"hello").unwrap();
    let mut wire = framed(src.path(), &[header("a", 5)], 64);
    // Cut the `End` frame (a tag and a zero length).
    wire.truncate(wire.len() - 5);
    let dst = tempfile::tempdir().unwrap();
    let (landing, sink) = temp_landing(dst.path());
    let e = land_stream(&landing, &wire[..], "test", 64).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert_eq!(events_of(&sink), ["failed a protocol"]);
    assert!(!dst.path().join("a.done").exists());
}

#[test]
fn a_file_that_gets_more_bytes_than_announced_fails_with_the_protocol_error() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a"), b"hello").unwrap();
    // Announce 3 bytes, send 5.
    let file = Arc::new(File::open(src.path().join("a")).unwrap());
    let mut wire = Vec::new();
    let mut out = StreamWriter::new(&mut wire, "test", 64);
    out.file(&header("a", 3)).unwrap();
    assert!(matches!(out.body(&file, 0, 5).unwrap(), Sent::All));
    out.end().unwrap();
    out.flush().unwrap();
    drop(out);
    let dst = tempfile::tempdir().unwrap();
    let (landing, sink) = temp_landing(dst.path());
    let e = land_stream(&landing, &wire[..], "test", 64).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert_eq!(events_of(&sink), ["failed a protocol"], "the file under way is reported");
}

#[test]
fn hostile_streams_are_refused() {
    let dst = tempfile::tempdir().unwrap();
    let (landing, _) = temp_landing(dst.path());
    let fail = |bytes: &[u8]| land_stream(&landing, bytes, "peer", 1 << 20).unwrap_err();
    // A length over the tag's limit is refused from the frame head alone.
    let e = fail(&[2, 0xff, 0xff, 0xff, 0xff]);
    assert!(e.to_string().contains("announces"), "{e}");
    assert!(fail(&[9, 0, 0, 0, 0]).to_string().contains("unknown tag 9"));
    assert!(fail(&[3, 1, 0, 0, 0, 0]).to_string().contains("announces 1 bytes, more than 0"));
    assert_eq!(fail(&[1, 4, 0]).kind(), ErrorKind::Protocol, "a cut frame head");
    assert_eq!(fail(&[1, 4, 0, 0, 0, 1]).kind(), ErrorKind::Io, "a cut body is the medium's");
    // A range outside a file reaches the lander, which refuses it.
    let mut range = vec![6, 16, 0, 0, 0];
    range.extend_from_slice(&[0; 16]);
    assert!(fail(&range).to_string().contains("range outside a file"));
    // Bytes after a record's body are refused.
    let mut body = crate::wire::Enc::default();
    body.file_header(&header("x", 0)).u8(7);
    let mut trailing = vec![1];
    trailing.extend_from_slice(&(body.0.len() as u32).to_le_bytes());
    trailing.extend_from_slice(&body.0);
    assert_eq!(fail(&trailing).kind(), ErrorKind::Protocol);
    trailing.truncate(trailing.len() - 1);
    trailing[1] -= 1;
    assert_eq!(fail(&trailing).kind(), ErrorKind::Protocol, "a file that never ended");
}
