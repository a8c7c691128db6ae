use super::*;
use crate::frame::encode_prefix;
use std::io::Write;
use std::net::{TcpListener, TcpStream};

/// A receiving [`Conn`] and the raw socket that feeds it.
fn pair() -> (Conn, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let feed = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (inbound, _) = listener.accept().unwrap();
    let conn = Conn::new(Link::Plain(inbound), "test peer".into(), std::time::Duration::from_secs(5)).unwrap();
    (conn, feed)
}

/// One compressed data record: `packed` announced as `raw` bytes.
fn record(raw: u32, packed: &[u8]) -> Vec<u8> {
    let mut out = encode_prefix(Tag::Data, FLAG_ZSTD, 4, packed.len() as u64).to_vec();
    out.extend_from_slice(&raw.to_be_bytes());
    out.extend_from_slice(packed);
    out
}

fn end() -> Vec<u8> {
    encode_prefix(Tag::End, 0, 0, 0).to_vec()
}

/// Everything the conn yields until `End`, or its error.
fn drain(conn: &mut Conn) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match conn.piece()? {
            Piece::Data { len, .. } => {
                assert!(len <= PIECE);
                out.extend_from_slice(conn.bytes(len));
            }
            Piece::End => return Ok(out),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_compressed_record_inflates_piece_by_piece() {
    let data: Vec<u8> = (0..MAX_ZSTD_RAW).map(|i| (i % 251) as u8 ^ (i / 4096) as u8).collect();
    let packed = zstd::bulk::compress(&data, 3).unwrap();
    let (mut conn, mut feed) = pair();
    feed.write_all(&[record(MAX_ZSTD_RAW, &packed), end()].concat()).unwrap();
    assert_eq!(drain(&mut conn).unwrap(), data);
    assert!(conn.zin.len() <= ZIN, "no buffer sized from the announcement");
}

#[test]
fn records_that_lie_about_their_size_are_protocol_errors() {
    let data = vec![7u8; 100_000];
    let packed = zstd::bulk::compress(&data, 3).unwrap();
    let too_big = zstd::bulk::compress(&vec![0u8; 2 * MAX_ZSTD_RAW as usize], 3).unwrap();
    for (bytes, why) in [
        (record(MAX_ZSTD_RAW + 1, &packed), "raw bytes"),
        (record(0, &packed), "raw bytes"),
        (record(50_000, &packed), "longer than"),
        (record(200_000, &packed), "shorter than"),
        (record(100_000, &[1, 2, 3, 4, 5, 6, 7, 8]), "corrupt"),
        // A frame that needs a larger window than receivers accept.
        (record(MAX_ZSTD_RAW, &too_big), "compressed record"),
    ] {
        let (mut conn, mut feed) = pair();
        feed.write_all(&[bytes, end()].concat()).unwrap();
        let e = drain(&mut conn).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{why}: {e}");
        assert!(e.to_string().contains(why), "{why}: {e}");
    }
}

#[test]
fn a_record_that_announces_a_lot_and_sends_little_holds_no_memory() {
    let (mut conn, mut feed) = pair();
    // 16 MiB announced on the wire, 10 bytes sent, then silence.
    let mut bytes = encode_prefix(Tag::Data, FLAG_ZSTD, 4, crate::frame::MAX_DATA_LEN).to_vec();
    bytes.extend_from_slice(&MAX_ZSTD_RAW.to_be_bytes());
    bytes.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0]);
    feed.write_all(&bytes).unwrap();
    drop(feed);
    assert!(drain(&mut conn).is_err());
    assert!(conn.zin.len() <= ZIN && conn.buf.len() <= PIECE);
}
