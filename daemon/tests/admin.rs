//! `Space` and `Remove` against an in-process blitd: the client functions
//! of blit-transport-grpc, and a raw gRPC client sending what no blit
//! would (escaping paths, the module root, another protocol version).

mod common;

use blit_api::{ErrorKind, FileKind};
use blit_proto::pb::{self, blit_client::BlitClient};
use blit_transport_grpc::GrpcConfig;
use common::Daemon;
use prost::bytes::Bytes;
use std::os::unix::fs::symlink;
use std::path::Path;

async fn raw(daemon: &Daemon) -> BlitClient<tonic::transport::Channel> {
    let url = format!("http://{}", daemon.addr);
    BlitClient::new(tonic::transport::Endpoint::from_shared(url).unwrap().connect().await.unwrap())
}

fn remove_request(path: &[u8], version: u32) -> pb::RemoveRequest {
    pb::RemoveRequest {
        protocol_version: version,
        module: "m".into(),
        path: Bytes::copy_from_slice(path),
        expect: None,
    }
}

/// A module `m` with a tree, a file, and a symlink to a directory outside.
fn module(t: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (module, outside) = (t.join("m"), t.join("outside"));
    std::fs::create_dir_all(module.join("tree/a/b")).unwrap();
    std::fs::write(module.join("tree/a/b/f"), b"x").unwrap();
    std::fs::write(module.join("x"), b"x").unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), b"keep").unwrap();
    symlink(&outside, module.join("out")).unwrap();
    (module, outside)
}

#[tokio::test]
async fn remove_and_space_through_the_client() {
    let t = tempfile::tempdir().unwrap();
    let (dir, outside) = module(t.path());
    let d = Daemon::start(&[("m", &dir, false)]).await;
    let config = GrpcConfig::default();
    let space = blit_transport_grpc::space(&d.remote("m", ""), &config).await.unwrap();
    let fs = rustix::fs::statvfs(&dir).unwrap();
    assert_eq!(space.total_bytes, fs.f_blocks * fs.f_frsize);
    assert!(space.free_bytes <= space.total_bytes, "{space:?}");
    assert_eq!(blit_transport_grpc::remove(&d.remote("m", "tree"), &config).await.unwrap(), FileKind::Dir);
    assert!(!dir.join("tree").exists());
    assert_eq!(blit_transport_grpc::remove(&d.remote("m", "out"), &config).await.unwrap(), FileKind::Symlink);
    assert!(std::fs::symlink_metadata(dir.join("out")).is_err(), "the link is gone");
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep", "its target is not");
    let e = blit_transport_grpc::remove(&d.remote("m", "tree"), &config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("/m/tree: no such file"), "{e}");
    d.stop().await;
}

#[tokio::test]
async fn a_raw_client_cannot_remove_outside_the_module_or_its_root() {
    let t = tempfile::tempdir().unwrap();
    let (dir, outside) = module(t.path());
    let d = Daemon::start(&[("m", &dir, false)]).await;
    let mut client = raw(&d).await;
    let version = blit_proto::PROTOCOL_VERSION;
    for (path, code, says) in [
        (&b"tree/../x"[..], tonic::Code::PermissionDenied, "refused the path"),
        (b"../outside/keep", tonic::Code::PermissionDenied, "refused the path"),
        (b"/etc/hostname", tonic::Code::PermissionDenied, "refused the path"),
        (b"out/keep", tonic::Code::PermissionDenied, "symlink"),
        (b"", tonic::Code::PermissionDenied, "never removes a module's root"),
        (b".", tonic::Code::PermissionDenied, "refused the path"),
    ] {
        let e = client.remove(remove_request(path, version)).await.unwrap_err();
        assert_eq!(e.code(), code, "{}: {e:?}", String::from_utf8_lossy(path));
        assert!(e.message().contains(says), "{}: {}", String::from_utf8_lossy(path), e.message());
    }
    let e = client.remove(remove_request(b"x", version + 1)).await.unwrap_err();
    assert!(e.message().contains("protocol version mismatch"), "{}", e.message());
    let e = client
        .space(pb::SpaceRequest { protocol_version: version + 1, module: "m".into(), path: Bytes::new() })
        .await
        .unwrap_err();
    assert!(e.message().contains("protocol version mismatch"), "{}", e.message());
    assert!(dir.join("x").exists() && dir.join("tree/a/b/f").exists(), "nothing was removed");
    assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");
    d.stop().await;
}

#[tokio::test]
async fn a_read_only_module_refuses_removals_but_answers_space() {
    let t = tempfile::tempdir().unwrap();
    let (dir, _) = module(t.path());
    let d = Daemon::start(&[("m", &dir, true)]).await;
    let config = GrpcConfig::default();
    let e = blit_transport_grpc::remove(&d.remote("m", "x"), &config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    assert!(e.to_string().contains("module `m` is read-only; removals are refused"), "{e}");
    assert!(dir.join("x").exists());
    assert!(blit_transport_grpc::space(&d.remote("m", "tree"), &config).await.unwrap().total_bytes > 0);
    d.stop().await;
}
