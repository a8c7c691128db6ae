use super::*;
use std::io::{Read, Write};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn hello(token: &[u8], index: u8, count: u8) -> Vec<u8> {
    let mut h = token.to_vec();
    h.extend([index, count]);
    h
}

/// Sends `bytes` (then more, as a record would) on a raw connection and
/// returns what came back before the acceptor closed it.
fn raw_attempt(addr: SocketAddr, bytes: &[u8], delay: Duration) -> std::io::Result<Vec<u8>> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    std::thread::sleep(delay);
    s.write_all(bytes)?;
    let _ = s.write_all(&[7u8; 64]);
    let mut back = Vec::new();
    match s.read_to_end(&mut back) {
        Ok(_) => Ok(back),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(back),
        Err(e) => Err(e),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_every_stream_in_order() {
    let acceptor = Acceptor::bind(LOOPBACK, TOKEN_TTL).await.unwrap();
    let addr = acceptor.local_addr().unwrap();
    let token = acceptor.token().clone();
    let accept = tokio::spawn(acceptor.accept());
    let mut out = connect(addr, &token, 3, Duration::from_secs(2)).await.unwrap();
    let mut inn = accept.await.unwrap().unwrap();
    assert_eq!((out.len(), inn.len()), (3, 3));
    for (i, (o, n)) in out.iter_mut().zip(inn.iter_mut()).enumerate() {
        o.write_all(&[i as u8]).unwrap();
        let mut b = [0u8];
        n.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i as u8, "connection {i} pairs with index {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_reused_tokens_are_closed_without_an_answer() {
    let acceptor = Acceptor::bind(LOOPBACK, TOKEN_TTL).await.unwrap();
    let addr = acceptor.local_addr().unwrap();
    let token = acceptor.token().clone();
    let accept = tokio::spawn(acceptor.accept());
    let mut wrong = *token.as_bytes();
    wrong[0] ^= 0x80;
    let back = tokio::task::spawn_blocking(move || raw_attempt(addr, &hello(&wrong, 0, 2), Duration::ZERO));
    assert_eq!(back.await.unwrap().unwrap(), b"", "a wrong token gets no byte back");
    // Connection 0 of 2 is admitted; a second connection 0 is a replay.
    let mut first = std::net::TcpStream::connect(addr).unwrap();
    first.write_all(&hello(token.as_bytes(), 0, 2)).unwrap();
    let mut ack = [0u8];
    first.read_exact(&mut ack).unwrap();
    assert_eq!(ack[0], ACK);
    let t = token.clone();
    let back = tokio::task::spawn_blocking(move || raw_attempt(addr, &hello(t.as_bytes(), 0, 2), Duration::ZERO));
    assert_eq!(back.await.unwrap().unwrap(), b"", "a replayed token gets no byte back");
    let t = token.clone();
    let back = tokio::task::spawn_blocking(move || raw_attempt(addr, &hello(t.as_bytes(), 1, 3), Duration::ZERO));
    assert_eq!(back.await.unwrap().unwrap(), b"", "a count that disagrees is refused");
    // The honest second connection still gets in.
    let mut second = std::net::TcpStream::connect(addr).unwrap();
    second.write_all(&hello(token.as_bytes(), 1, 2)).unwrap();
    second.read_exact(&mut ack).unwrap();
    let streams = accept.await.unwrap().unwrap();
    assert_eq!(streams.len(), 2);
    // Once the set is complete the listener is gone: the token is spent.
    let t = token.clone();
    let late = tokio::task::spawn_blocking(move || raw_attempt(addr, &hello(t.as_bytes(), 0, 2), Duration::ZERO));
    assert!(late.await.unwrap().map_or(true, |b| b.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_tokens_and_idle_connections_are_closed() {
    let acceptor =
        Acceptor::bind(LOOPBACK, Duration::from_millis(400)).await.unwrap().hello_timeout(Duration::from_millis(150));
    let addr = acceptor.local_addr().unwrap();
    let token = acceptor.token().clone();
    let accept = tokio::spawn(acceptor.accept());
    let started = std::time::Instant::now();
    // Idle: connects, says nothing; closed after the hello timeout.
    let idle = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = Vec::new();
        let _ = s.read_to_end(&mut b);
        (b, std::time::Instant::now())
    });
    let (b, closed) = idle.await.unwrap();
    assert!(b.is_empty());
    assert!(closed - started < Duration::from_secs(2), "an idle connection is closed quickly");
    // Late: a correct token presented after the expiry is refused by the check itself.
    let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
    let laddr = listener.local_addr().unwrap();
    let t = token.clone();
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(laddr).await.unwrap();
        s.write_all(&hello(t.as_bytes(), 0, 1)).await.unwrap();
        let mut b = Vec::new();
        let _ = s.read_to_end(&mut b).await;
        b
    });
    let (stream, from) = listener.accept().await.unwrap();
    let expired = Instant::now() - Duration::from_millis(1);
    let refused = read_hello(stream, from, token.clone(), expired, Duration::from_secs(1), None).await;
    assert_eq!(refused.err().map(|(_, why)| why), Some("expired token"));
    assert!(client.await.unwrap().is_empty(), "a late token gets no byte back");
    let e = accept.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_fails_fast_with_a_hint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let token = Token::random().unwrap();
    let e = connect(SocketAddr::new(LOOPBACK, port), &token, 2, Duration::from_secs(2)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.to_string().contains("--transport grpc"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_strangers_cannot_keep_the_real_connections_out() {
    let acceptor = Acceptor::bind(LOOPBACK, TOKEN_TTL).await.unwrap();
    let addr = acceptor.local_addr().unwrap();
    let token = acceptor.token().clone();
    let accept = tokio::spawn(acceptor.accept());
    // Three times as many idle connections as may wait for a hello.
    let mut idle = Vec::new();
    for _ in 0..3 * MAX_PENDING {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let out = connect(addr, &token, 4, Duration::from_secs(2)).await.unwrap();
    let inn = tokio::time::timeout(Duration::from_secs(5), accept).await.unwrap().unwrap().unwrap();
    assert_eq!((out.len(), inn.len()), (4, 4));
    // The oldest idle ones were closed to make room.
    let mut closed = 0;
    for s in &mut idle[..MAX_PENDING] {
        let mut b = [0u8; 1];
        if let Ok(Ok(0)) =
            tokio::time::timeout(Duration::from_millis(50), tokio::io::AsyncReadExt::read(s, &mut b)).await
        {
            closed += 1;
        }
    }
    assert!(closed > 0, "no idle connection was dropped");
}
