//! Part ranges through a daemon: several transfers of disjoint ranges of
//! one file land at the same time in its partial copy in a module (pushes
//! over in-stream gRPC and over the TCP data plane, and a local writer on
//! the daemon's machine, each its own open file as another process's
//! would be), none destroys another's bytes, and an ordinary push then
//! lands the file sending none of them again.

mod common;

use blit_api::{FilterSpec, PartRange, TransferOptions, TransferSummary, RESUME_MIN};
use blit_transport_grpc::{GrpcConfig, TransportMode};
use common::{copy_local, push_with, Daemon};
use std::time::Instant;

/// Bytes no two ranges share: an LCG, so a misplaced range shows.
fn content(len: u64) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// Options of one range transfer of `big.bin`, slowed so the transfers
/// overlap in time.
fn range(offset: u64, len: u64) -> TransferOptions {
    TransferOptions::new()
        .filter(FilterSpec::new().files_from(vec![b"big.bin".to_vec()]))
        .part_range(Some(PartRange::new(offset, len).unwrap()))
        .bwlimit(8 << 20)
}

/// `f`'s output, with when it started and ended.
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (Instant, Instant, T) {
    let start = Instant::now();
    let out = f.await;
    (start, Instant::now(), out)
}

fn ok(summary: blit_api::Result<TransferSummary>, what: &str) -> TransferSummary {
    let summary = summary.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(summary.failures.is_empty(), "{what}: {:?}", summary.failures);
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ranges_share_the_partial_copy_and_a_resuming_push_finishes_it() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(module.join("into")).unwrap();
    let size = 2 * RESUME_MIN + 12_345;
    let bytes = content(size);
    std::fs::write(src.join("big.bin"), &bytes).unwrap();
    std::fs::write(src.join("small.txt"), b"not in any range").unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    let remote = daemon.remote("m", "into");
    let third = size / 3;
    let grpc = GrpcConfig::new().transport(TransportMode::Grpc);
    let tcp = GrpcConfig::new().transport(TransportMode::Tcp);
    let (o1, o2, o3) = (range(0, third), range(third, third), range(2 * third, size));
    let dst = module.join("into");
    let (a, b, c) = tokio::join!(
        timed(async { push_with(&src, &remote, &o1, &grpc).await.0 }),
        timed(async { push_with(&src, &remote, &o2, &tcp).await.0 }),
        timed(async { Ok(copy_local(&src, &dst, &o3).await.0) }),
    );
    // They ran at the same time: each started before any ended.
    let last_start = [a.0, b.0, c.0].into_iter().max().unwrap();
    let first_end = [a.1, b.1, c.1].into_iter().min().unwrap();
    assert!(last_start < first_end, "the range transfers did not overlap");
    for ((_, _, summary), want) in [(a, third), (b, third), (c, size - 2 * third)] {
        let summary = ok(summary, "a range");
        assert_eq!((summary.bytes_transferred, summary.bytes_reused), (want, 0));
    }
    let part =
        dst.join(std::ffi::OsStr::new(std::str::from_utf8(&blit_transport_local::part_name(b"big.bin")).unwrap()));
    assert!(!dst.join("big.bin").exists(), "no range commits the file");
    assert!(std::fs::read(&part).unwrap() == bytes, "the partial copy holds every range");

    // The ordinary push (resume is always on in the CLI) sends none of it.
    let whole = TransferOptions::new().resume(true);
    let summary = ok(push_with(&src, &remote, &whole, &tcp).await.0, "the resuming push");
    assert_eq!(summary.bytes_reused, size);
    assert_eq!(summary.bytes_transferred, 16, "only small.txt moved");
    assert!(std::fs::read(dst.join("big.bin")).unwrap() == bytes);
    assert!(!part.exists());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_refuses_an_empty_part_range() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = (t.path().join("src"), t.path().join("module"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(src.join("f"), b"x").unwrap();
    let daemon = Daemon::start(&[("m", &module, false)]).await;
    // Built by hand: PartRange::new would refuse it on this side.
    let empty = TransferOptions::new().part_range(Some(PartRange { offset: 5, len: 0 }));
    let (result, _) = push_with(&src, &daemon.remote("m", ""), &empty, &GrpcConfig::new()).await;
    let e = result.unwrap_err();
    assert_eq!(e.kind(), blit_api::ErrorKind::InvalidInput, "{e}");
    assert!(std::fs::read_dir(&module).unwrap().next().is_none(), "nothing landed");
    daemon.stop().await;
}
