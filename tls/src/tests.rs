use crate::testing::TestPki;
use crate::{BlockingTls, ClientTls, ServerTls, ALPN_DATA};
use blit_api::ErrorKind;
use std::io::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn pair(
    server: ServerTls,
    client: ClientTls,
    host: &str,
) -> (blit_api::Result<BlockingTls>, Option<BlockingTls>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = server.accept(tcp).await.ok()?;
        let mut hello = [0u8; 5];
        tls.read_exact(&mut hello).await.ok()?;
        assert_eq!(&hello, b"hello");
        BlockingTls::from_async(tls.into()).ok()
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let client = match client.connect(host, tcp, ALPN_DATA).await {
        Ok(mut tls) => {
            tls.write_all(b"hello").await.unwrap();
            tls.flush().await.unwrap();
            Ok(BlockingTls::from_async(tls.into()).unwrap())
        }
        Err(e) => Err(e),
    };
    (client, accept.await.unwrap())
}

#[tokio::test]
async fn a_trusted_certificate_carries_bytes_both_ways_after_going_blocking() {
    let pki = TestPki::new(&["127.0.0.1", "localhost"]);
    let server = ServerTls::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
    let client = ClientTls::from_ca_pem(pki.ca_pem.as_bytes(), "test CA").unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let (client, server) = pair(server.clone(), client.clone(), host).await;
        let (mut client, mut server) = (client.unwrap(), server.expect("the server side completes"));
        let t = std::thread::spawn(move || {
            let mut buf = vec![0u8; 100_000];
            server.read_exact(&mut buf).unwrap();
            server.write_all(&buf[..10]).unwrap();
            server.flush().unwrap();
            buf
        });
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&data).unwrap();
        client.flush().unwrap();
        let mut back = [0u8; 10];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, &data[..10]);
        assert_eq!(t.join().unwrap(), data);
        assert!(client.tcp().peer_addr().is_ok());
    }
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_for_another_name_is_refused_naming_the_host() {
    let pki = TestPki::new(&["127.0.0.1"]);
    let other = TestPki::new(&["127.0.0.1"]);
    let server = ServerTls::from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
    let wrong_ca = ClientTls::from_ca_pem(other.ca_pem.as_bytes(), "--tls-ca other.pem").unwrap();
    let (client, server_side) = pair(server.clone(), wrong_ca, "127.0.0.1").await;
    let e = client.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let text = e.to_string();
    assert!(text.contains("`127.0.0.1`") && text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("--tls-ca other.pem"), "{text}");
    assert!(server_side.is_none());
    let right_ca = ClientTls::from_ca_pem(pki.ca_pem.as_bytes(), "ca").unwrap();
    let (client, _) = pair(server, right_ca, "localhost").await;
    let text = client.unwrap_err().to_string();
    assert!(text.contains("`localhost`") && text.contains("not valid for name"), "{text}");
}

#[test]
fn bad_pem_files_are_refused_naming_the_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(&["localhost"]);
    let [ca, cert, key] = pki.write(dir.path());
    assert!(ServerTls::from_pem_files(&cert, &key).is_ok());
    assert!(ClientTls::from_ca_file(&ca).is_ok());
    let e = ServerTls::from_pem_files(&dir.path().join("missing.pem"), &key).unwrap_err();
    assert!(e.to_string().contains("tls_cert") && e.to_string().contains("missing.pem"), "{e}");
    let e = ServerTls::from_pem_files(&cert, &cert).unwrap_err();
    assert!(e.to_string().contains("tls_key"), "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = ServerTls::from_pem_files(&key, &key).unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");
    let other = TestPki::new(&["localhost"]);
    std::fs::write(&key, other.key_pem).unwrap();
    let e = ServerTls::from_pem_files(&cert, &key).unwrap_err();
    assert!(e.to_string().contains("private key of the first certificate"), "{e}");
    let e = ClientTls::from_ca_pem(b"not pem", "--tls-ca x.pem").unwrap_err();
    assert!(e.to_string().contains("--tls-ca x.pem"), "{e}");
}
