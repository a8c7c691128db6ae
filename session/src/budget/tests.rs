use super::*;
use crate::convert::Mask;
use crate::send::{send_all, Sender};
use blit_api::{plan_channel, FileHeader, FileKind, PayloadPlan, PayloadReader, RelPath};
use blit_proto::pb;
use blit_proto::pb::payload_record::Record;
use blit_transport_local::LocalSource;
use std::time::Duration;
use tokio::sync::mpsc;

fn header(name: &str, size: u64) -> FileHeader {
    FileHeader {
        path: RelPath::from_bytes(name.as_bytes().to_vec()).unwrap(),
        kind: FileKind::File,
        size,
        mode: 0o644,
        ..FileHeader::default()
    }
}

/// A slow receiver that keeps every record it took until the sender stops
/// sending: the bytes it holds are the bytes in flight. They never exceed
/// the cap, and they reach it, so the budget (not the record queue, which
/// has room for everything here) is what stopped the sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_payload_bytes_never_exceed_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..10 * CHUNK_SIZE + 321).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big"), &big).unwrap();
    let mut shard = Vec::new();
    for i in 0..300 {
        std::fs::write(dir.path().join(format!("s{i}")), vec![i as u8; 20_000]).unwrap();
        shard.push(header(&format!("s{i}"), 20_000));
    }
    let reader: Arc<dyn PayloadReader> = Arc::new(LocalSource::new(dir.path().to_path_buf()));
    let (plans_tx, plans_rx) = plan_channel();
    plans_tx.send(PayloadPlan::File(header("big", big.len() as u64))).await.unwrap();
    plans_tx.send(PayloadPlan::Shard(shard)).await.unwrap();
    drop(plans_tx);
    let budget = Budget::new(PAYLOAD_IN_FLIGHT);
    let (out, mut rx) = mpsc::channel::<pb::PayloadRecord>(4096);
    let sender = {
        let budget = budget.clone();
        tokio::task::spawn_blocking(move || {
            let mask = Mask::none();
            send_all(plans_rx, &Sender { reader: &*reader, out: &out, mask: &mask, budget: &budget })
        })
    };
    let (mut held, mut held_bytes, mut most, mut file, mut total) = (Vec::new(), 0, 0, Vec::new(), 0);
    loop {
        match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            Ok(Some(record)) => {
                if let Some(Record::Data(data)) = &record.record {
                    held_bytes += data.len();
                    total += data.len();
                    if file.len() < big.len() {
                        file.extend_from_slice(data);
                    }
                }
                most = most.max(held_bytes);
                assert!(held_bytes <= PAYLOAD_IN_FLIGHT, "{held_bytes} bytes in flight");
                assert!(budget.held() <= PAYLOAD_IN_FLIGHT);
                let done = matches!(record.record, Some(Record::Done(_)));
                held.push(record);
                if done {
                    break;
                }
            }
            Ok(None) => panic!("the sender stopped without done"),
            // The sender waits: let the held records go.
            Err(_) => {
                held.clear();
                held_bytes = 0;
            }
        }
    }
    sender.await.unwrap().unwrap();
    assert!(most > PAYLOAD_IN_FLIGHT - CHUNK_SIZE, "the receiver held at most {most} bytes: the cap never bit");
    assert_eq!(file, big);
    // The shard's tar stream: 300 entries of 20,000 bytes and their headers.
    assert!(total > big.len() + 300 * 20_000, "{total}");
    drop(held);
    assert_eq!(budget.held(), 0, "every lease came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_buffers_are_reused_not_reallocated() {
    let budget = Budget::new(2 * CHUNK_SIZE);
    let b = budget.clone();
    let addrs = tokio::task::spawn_blocking(move || {
        let mut addrs = Vec::new();
        for _ in 0..8 {
            let mut lease = b.lease_blocking(CHUNK_SIZE, std::future::pending()).unwrap();
            lease.bytes_mut()[0] = 1;
            let bytes = lease.freeze();
            addrs.push(bytes.as_ptr() as usize);
            drop(bytes);
        }
        let small = b.lease_blocking(10, std::future::pending()).unwrap();
        assert_eq!(b.held(), 10, "a small record pins only its bytes");
        drop(small);
        addrs
    })
    .await
    .unwrap();
    assert!(addrs.iter().all(|a| *a == addrs[0]), "{addrs:?}");
    assert_eq!(budget.held(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_records_wait_for_room_and_give_it_back() {
    let budget = Budget::new(2 * CHUNK_SIZE);
    let chunk = Bytes::from(vec![7u8; CHUNK_SIZE]);
    let a = budget.hold(chunk.clone(), std::future::pending()).await.unwrap();
    let b = budget.hold(chunk.slice(..100), std::future::pending()).await.unwrap();
    assert_eq!(budget.held(), CHUNK_SIZE + 100);
    assert_eq!(a, chunk, "holding keeps the bytes as they are");
    let wait = budget.hold(chunk.clone(), std::future::pending());
    assert!(tokio::time::timeout(Duration::from_millis(100), wait).await.is_err(), "no room, so it must wait");
    let gone = budget.hold(chunk.clone(), async {}).await;
    assert!(gone.is_none(), "a receiver that went away ends the wait");
    drop(a);
    let c = tokio::time::timeout(Duration::from_secs(5), budget.hold(chunk.clone(), std::future::pending()))
        .await
        .expect("room came back")
        .unwrap();
    drop((b, c));
    assert_eq!(budget.held(), 0);
}
