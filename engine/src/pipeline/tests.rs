//! The engine's own wiring, with fake roles: which error wins, when the
//! destination stops waiting, what the planner flushes, and the options the
//! engine refuses centrally.

use super::*;
use blit_api::{Capabilities, FileHeader, FileKind, NeedBatch, PayloadPlan, PlanReceiver, RelPath, SourceFile};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

fn err(kind: ErrorKind) -> Error {
    Error::new(kind, format!("{kind:?} on purpose"))
}

fn file(name: &str, size: u64) -> FileHeader {
    FileHeader {
        path: RelPath::from_bytes(name.as_bytes().to_vec()).unwrap(),
        kind: FileKind::File,
        size,
        ..FileHeader::default()
    }
}

/// A transport that drains its plans, and whose receiving half either
/// returns at once or never.
struct FakeTransport {
    caps: Capabilities,
    receive_never_ends: bool,
    send_result: fn() -> Result<()>,
}

impl FakeTransport {
    fn new(caps: Capabilities) -> Self {
        FakeTransport { caps, receive_never_ends: false, send_result: || Ok(()) }
    }
}

#[async_trait::async_trait]
impl PayloadTransport for FakeTransport {
    fn name(&self) -> &str {
        "fake"
    }
    fn capabilities(&self) -> Capabilities {
        self.caps
    }
    async fn send(&self, mut plans: PlanReceiver, _reader: Arc<dyn PayloadReader>) -> Result<()> {
        while plans.recv().await.is_some() {}
        (self.send_result)()
    }
    async fn receive(&self, _landing: Landing) -> Result<()> {
        if self.receive_never_ends {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

/// A sink that records what it saw and answers with `verdict`.
struct FakeSink {
    verdict: fn() -> Result<()>,
    resume_seen: Mutex<Option<bool>>,
    finished: AtomicBool,
}

impl FakeSink {
    fn new(verdict: fn() -> Result<()>) -> Arc<Self> {
        Arc::new(FakeSink { verdict, resume_seen: Mutex::new(None), finished: AtomicBool::new(false) })
    }
}

#[async_trait::async_trait]
impl NeedListSink for FakeSink {
    async fn need_list(
        &self,
        options: &TransferOptions,
        _m: ManifestReceiver,
        needs: NeedSender,
        _e: Events,
    ) -> Result<()> {
        *self.resume_seen.lock().unwrap() = Some(options.resume);
        let verdict = (self.verdict)();
        if verdict.is_ok() {
            let _ = needs.send(NeedBatch::of(Vec::new())).await;
        }
        verdict
    }
    async fn finish(&self, _options: &TransferOptions, _events: Events) -> Result<u64> {
        self.finished.store(true, Ordering::SeqCst);
        Ok(0)
    }
}

struct NoWriter;

impl PayloadWriter for NoWriter {
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn blit_api::LandingFile>> {
        Err(err(ErrorKind::Unexpected).with_path(header.path.display()))
    }
}

struct NoReader;

impl PayloadReader for NoReader {
    fn open(&self, header: &FileHeader) -> Result<SourceFile> {
        Err(err(ErrorKind::NotFound).with_path(header.path.display()))
    }
}

/// A walk that sends `End`, or fails.
struct FakeSource(fn() -> Result<()>);

#[async_trait::async_trait]
impl ManifestSource for FakeSource {
    async fn manifest(&self, _options: &TransferOptions, out: ManifestSender) -> Result<()> {
        let result = (self.0)();
        if result.is_ok() {
            let _ = out.send(blit_api::ManifestItem::End).await;
        }
        result
    }
}

fn destination(sink: Arc<FakeSink>) -> DestinationRoles {
    DestinationRoles { sink, writer: Arc::new(NoWriter) }
}

async fn run_dest(sink: Arc<FakeSink>, transport: Arc<FakeTransport>, options: &TransferOptions) -> Result<u64> {
    let (_manifest_tx, manifest_rx) = manifest_channel();
    let (need_tx, mut need_rx) = need_channel();
    tokio::spawn(async move { while need_rx.recv().await.is_some() {} });
    let events: Events = blit_api::RecordingSink::new();
    run_destination(destination(sink), transport, options, manifest_rx, need_tx, events).await
}

#[test]
fn first_error_prefers_a_real_error_over_cancellations() {
    let got = first_error([Err(err(ErrorKind::Cancelled)), Ok(()), Err(err(ErrorKind::Io))]);
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Io);
    let got = first_error([Ok(()), Err(err(ErrorKind::Cancelled))]);
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(first_error([Ok(()), Ok(())]).is_ok());
}

#[tokio::test]
async fn a_failing_judge_ends_the_destination_without_waiting_for_payload() {
    let sink = FakeSink::new(|| Err(err(ErrorKind::Protocol)));
    let transport = Arc::new(FakeTransport { receive_never_ends: true, ..FakeTransport::new(Capabilities::default()) });
    let options = TransferOptions::new();
    let run = run_dest(sink.clone(), transport, &options);
    let got = tokio::time::timeout(Duration::from_secs(5), run).await.expect("the destination ended");
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Protocol);
    assert!(!sink.finished.load(Ordering::SeqCst), "a failed judge never reaches finish");
}

#[tokio::test]
async fn a_finished_destination_runs_finish() {
    let sink = FakeSink::new(|| Ok(()));
    run_dest(sink.clone(), Arc::new(FakeTransport::new(Capabilities::default())), &TransferOptions::new())
        .await
        .unwrap();
    assert!(sink.finished.load(Ordering::SeqCst));
}

#[tokio::test]
async fn resume_is_refused_centrally_for_a_transport_that_cannot_carry_it() {
    let asked = TransferOptions::new().resume(true);
    for (carries, want) in [(false, false), (true, true)] {
        let sink = FakeSink::new(|| Ok(()));
        let caps = Capabilities { resume: carries, ..Capabilities::default() };
        run_dest(sink.clone(), Arc::new(FakeTransport::new(caps)), &asked).await.unwrap();
        assert_eq!(*sink.resume_seen.lock().unwrap(), Some(want), "transport carries resume: {carries}");
    }
}

#[tokio::test]
async fn the_walks_error_wins_over_a_cancelled_send() {
    let roles = SourceRoles { source: Arc::new(FakeSource(|| Err(err(ErrorKind::Io)))), reader: Arc::new(NoReader) };
    let transport = Arc::new(FakeTransport {
        send_result: || Err(err(ErrorKind::Cancelled)),
        ..FakeTransport::new(Capabilities::default())
    });
    let (manifest_tx, _manifest_rx) = manifest_channel();
    let (need_tx, need_rx) = need_channel();
    need_tx.send(NeedBatch::of(Vec::new())).await.unwrap();
    let got = run_source(roles, transport, &TransferOptions::new(), manifest_tx, need_rx).await;
    assert_eq!(got.unwrap_err().kind(), ErrorKind::Io);
}

#[tokio::test]
async fn needs_are_planned_per_batch_and_end_with_the_empty_batch() {
    let (need_tx, need_rx) = need_channel();
    let (plan_tx, mut plan_rx) = blit_api::plan_channel();
    let planner = tokio::spawn(plan_needs(need_rx, plan_tx, true, 1, None, Prehashes::new(Arc::new(NoReader))));
    need_tx.send(NeedBatch::of(vec![file("a", 10), file("b", 20), file("c", 30)])).await.unwrap();
    // The batch boundary flushes the partial shard: no need to wait for more.
    let plan = tokio::time::timeout(Duration::from_secs(5), plan_rx.recv()).await.unwrap().unwrap();
    let PayloadPlan::Shard(files) = plan else { panic!("small files travel as a shard: {plan:?}") };
    assert_eq!(files.len(), 3);
    need_tx.send(NeedBatch::of(Vec::new())).await.unwrap();
    planner.await.unwrap().unwrap();
    assert!(plan_rx.recv().await.is_none(), "nothing after the end");
}

#[tokio::test]
async fn files_cut_into_ranges_go_first_in_their_batch() {
    let (need_tx, need_rx) = need_channel();
    let (plan_tx, mut plan_rx) = blit_api::plan_channel();
    let planner = tokio::spawn(plan_needs(need_rx, plan_tx, true, 4, None, Prehashes::new(Arc::new(NoReader))));
    let batch = vec![file("small", 10), file("medium", 1 << 20), file("big", 64 << 20), file("tiny", 1)];
    need_tx.send(NeedBatch::of(batch)).await.unwrap();
    need_tx.send(NeedBatch::of(Vec::new())).await.unwrap();
    planner.await.unwrap().unwrap();
    let mut order = Vec::new();
    while let Some(plan) = plan_rx.recv().await {
        order.push(match plan {
            PayloadPlan::Ranges { header, range } => format!("{} in {range}", header.path),
            PayloadPlan::File(h) => h.path.display(),
            PayloadPlan::Shard(files) => format!("shard of {}", files.len()),
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(order, ["medium in 262144", "big in 4194304", "shard of 2"]);
}

#[tokio::test]
async fn a_need_list_without_its_final_batch_is_a_cancellation() {
    let (need_tx, need_rx) = need_channel();
    let (plan_tx, _plan_rx) = blit_api::plan_channel();
    need_tx.send(NeedBatch::of(vec![file("a", 1)])).await.unwrap();
    drop(need_tx);
    let e = plan_needs(need_rx, plan_tx, false, 1, None, Prehashes::new(Arc::new(NoReader))).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert!(e.to_string().contains("without its final batch"), "{e}");
}

/// Opens files of a directory by their paths.
struct DirReader(std::path::PathBuf);

impl PayloadReader for DirReader {
    fn open(&self, header: &FileHeader) -> Result<SourceFile> {
        let file = std::fs::File::open(self.0.join(header.path.display())).map_err(|e| Error::io("open", "", e))?;
        Ok(SourceFile { file, header: header.clone() })
    }
}

#[tokio::test]
async fn hints_start_hashing_and_the_entry_with_a_map_takes_it() {
    let dir = tempfile::tempdir().unwrap();
    let size = blit_api::DELTA_MIN + 5;
    let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    for name in ["big", "other"] {
        std::fs::write(dir.path().join(name), &bytes).unwrap();
    }
    let map = Arc::new(
        blit_api::BlockMap::hash_delta(
            &std::fs::File::open(dir.path().join("big")).unwrap(),
            blit_api::BlockMap::delta_block_size(size),
            size,
        )
        .unwrap(),
    );
    let (need_tx, need_rx) = need_channel();
    let (plan_tx, mut plan_rx) = blit_api::plan_channel();
    let ahead = Prehashes::new(Arc::new(DirReader(dir.path().to_path_buf())));
    let planner = tokio::spawn(plan_needs(need_rx, plan_tx, false, 1, None, ahead));
    let hint = |name| blit_api::Ahead { header: file(name, size), basis_len: size };
    // Hints alone are not the end of the need list.
    need_tx.send(NeedBatch { files: vec![], ahead: vec![hint("big"), hint("other")] }).await.unwrap();
    let with_map = FileHeader { resume: Some(map.clone()), ..file("big", size) };
    // "other" comes without a map (its comparison failed): nothing to take.
    need_tx.send(NeedBatch::of(vec![with_map, file("other", size)])).await.unwrap();
    let mut planned = Vec::new();
    for _ in 0..2 {
        let plan = tokio::time::timeout(Duration::from_secs(5), plan_rx.recv()).await.unwrap().unwrap();
        planned.extend(plan.files().iter().cloned());
    }
    need_tx.send(NeedBatch::of(Vec::new())).await.unwrap();
    planner.await.unwrap().unwrap();
    let big = planned.iter().find(|h| h.path.as_bytes() == b"big").unwrap();
    let other = planned.iter().find(|h| h.path.as_bytes() == b"other").unwrap();
    assert!(other.prehash.is_none(), "an entry without a map takes no hashing");
    let prehash = big.prehash.as_ref().expect("the entry with a map takes the hashing its hint started");
    let opened = std::fs::File::open(dir.path().join("big")).unwrap();
    let hashes = prehash.hashes_for(&opened, &map).expect("the hashing is of this file's blocks");
    assert_eq!(hashes, map.hashes(), "an unchanged file hashes like the map");
}
