//! Bytes of payload a session carried in its own stream (the in-stream
//! data plane), for the summary's `wire_bytes`: the encoded size of every
//! `Payload` frame sent and received.

use crate::frames::{FrameSender, Incoming, FRAME_QUEUE};
use blit_proto::pb;
use prost::Message;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_stream::StreamExt;

fn payload_len(frame: &pb::Frame) -> u64 {
    match frame.body {
        Some(pb::frame::Body::Payload(_)) => frame.encoded_len() as u64,
        _ => 0,
    }
}

/// `incoming`, counting the payload frames it delivers into `bytes`.
pub(crate) fn incoming(incoming: Incoming, bytes: Arc<AtomicU64>) -> Incoming {
    Box::pin(incoming.map(move |frame| {
        if let Ok(frame) = &frame {
            bytes.fetch_add(payload_len(frame), Ordering::Relaxed);
        }
        frame
    }))
}

/// A sender whose frames reach `out`, the payload frames counted into
/// `bytes`. It closes when `out` does, and `out` when it is dropped.
pub(crate) fn outgoing(out: FrameSender, bytes: Arc<AtomicU64>) -> FrameSender {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<pb::Frame>(FRAME_QUEUE);
    tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                frame = rx.recv() => frame,
                () = out.closed() => None,
            };
            let Some(frame) = frame else { break };
            let len = payload_len(&frame);
            if out.send(frame).await.is_err() {
                break;
            }
            bytes.fetch_add(len, Ordering::Relaxed);
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(n: usize) -> pb::Frame {
        let record = pb::PayloadRecord { record: Some(pb::payload_record::Record::Data(vec![7; n].into())) };
        pb::Frame { body: Some(pb::frame::Body::Payload(pb::Payload { records: vec![record] })) }
    }

    #[tokio::test]
    async fn payload_frames_are_counted_both_ways_and_others_not() {
        let bytes = Arc::new(AtomicU64::new(0));
        let (real, mut seen) = tokio::sync::mpsc::channel(4);
        let out = outgoing(real, bytes.clone());
        out.send(payload(100)).await.unwrap();
        out.send(pb::Frame { body: Some(pb::frame::Body::Close(pb::Close::default())) }).await.unwrap();
        drop(out);
        assert!(seen.recv().await.is_some() && seen.recv().await.is_some());
        assert!(seen.recv().await.is_none(), "the real sender closes when the metered one is dropped");
        let sent = bytes.load(Ordering::Relaxed);
        assert_eq!(sent, payload(100).encoded_len() as u64);
        let stream: Incoming = Box::pin(tokio_stream::iter(vec![Ok(payload(50))]));
        let mut counted = incoming(stream, bytes.clone());
        while counted.next().await.is_some() {}
        assert_eq!(bytes.load(Ordering::Relaxed), sent + payload(50).encoded_len() as u64);
    }
}
