//! Deliberately broken transports and harnesses for the suite's own tests.
#![allow(dead_code, unreachable_pub)]

use blit_api::{
    Capabilities, Direction, DirectionSet, Error, FileHeader, FileKind, Landing, PayloadReader, PayloadTransport,
    PlanReceiver, ProgressEvent, RecordingSink, RelPath, Result, SourceFile, TransferSummary,
};
use blit_conformance::{Harness, KnownFailure, LocalHarness, Pair, TransferRequest};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What the naive transport gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Nothing: the control.
    None,
    /// Lands files with their mtime truncated to whole seconds.
    TruncateMtime,
    /// Flips the first byte of every non-empty file it lands.
    Corrupt,
    /// Records one byte more than it wrote.
    ExtraByte,
    /// Drops files the source could not open, without reporting them.
    SwallowFailures,
}

enum Item {
    File(SourceFile),
    Failed(FileHeader, Error),
}

/// A simple, single-stream transport: the source half opens files and hands
/// them over a channel; the receiving half copies them with `read`/`write`.
pub struct Naive {
    flaw: Flaw,
    tx: Mutex<Option<mpsc::Sender<Item>>>,
    rx: Mutex<Option<mpsc::Receiver<Item>>>,
}

impl Naive {
    pub fn new(flaw: Flaw) -> Self {
        let (tx, rx) = mpsc::channel(8);
        Naive { flaw, tx: Mutex::new(Some(tx)), rx: Mutex::new(Some(rx)) }
    }
}

fn land(landing: &Landing, mut src: SourceFile, flaw: Flaw) -> Result<()> {
    if flaw == Flaw::TruncateMtime {
        src.header.mtime_ns -= src.header.mtime_ns.rem_euclid(1_000_000_000);
    }
    let mut incoming = landing.begin(&src.header)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match src.file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let e = Error::io("read", "src", e);
                incoming.fail(&e);
                return Err(e);
            }
        };
        if let Err(e) = incoming.file().write_all(&buf[..n]) {
            let e = Error::io("write", "dst", e);
            incoming.fail(&e);
            return Err(e);
        }
        incoming.record(n as u64);
    }
    if flaw == Flaw::ExtraByte {
        incoming.record(1);
    }
    if flaw == Flaw::Corrupt && incoming.size() > 0 {
        let f = incoming.file();
        f.seek(SeekFrom::Start(0)).and_then(|_| f.write_all(b"\0")).map_err(|e| Error::io("corrupt", "dst", e))?;
    }
    incoming.commit()
}

#[async_trait::async_trait]
impl PayloadTransport for Naive {
    fn name(&self) -> &str {
        match self.flaw {
            Flaw::None => "naive",
            Flaw::TruncateMtime => "naive-truncate-mtime",
            Flaw::Corrupt => "naive-corrupt",
            Flaw::ExtraByte => "naive-extra-byte",
            Flaw::SwallowFailures => "naive-swallow-failures",
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            directions: DirectionSet { local: true, ..DirectionSet::default() },
            symlink: true,
            path_non_utf8: true,
            mtime_ns: true,
            checksum: true,
            mirror: true,
            per_file_errors: true,
            ..Capabilities::default()
        }
    }

    async fn send(&self, mut plans: PlanReceiver, reader: Arc<dyn PayloadReader>) -> Result<()> {
        let tx = self.tx.lock().unwrap().take().expect("send runs once");
        while let Some(plan) = plans.recv().await {
            for header in plan.files().to_vec() {
                let reader = reader.clone();
                let item = tokio::task::spawn_blocking(move || match reader.open(&header) {
                    Ok(file) => Item::File(file),
                    Err(e) => Item::Failed(header, e),
                })
                .await
                .expect("open thread");
                if tx.send(item).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    async fn receive(&self, landing: Landing) -> Result<()> {
        let mut rx = self.rx.lock().unwrap().take().expect("receive runs once");
        let flaw = self.flaw;
        while let Some(item) = rx.recv().await {
            let landing = landing.clone();
            tokio::task::spawn_blocking(move || match item {
                Item::File(file) => drop(land(&landing, file, flaw)),
                Item::Failed(_, _) if flaw == Flaw::SwallowFailures => {}
                Item::Failed(header, e) => landing.source_failed(&header, &e),
            })
            .await
            .expect("landing thread");
        }
        Ok(())
    }
}

/// What the skewed harness does to the local reference's event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skew {
    /// A `FileDone` for a file that never started.
    ExtraDone,
    /// A second `Finished` after the first.
    ExtraTerminal,
    /// No `Started`.
    NoStart,
    /// `Started` claims the push direction.
    WrongDirection,
    /// A consistent extra failure (started, failed, counted in the summary):
    /// only the comparison with the reference can see it.
    PhantomFailure,
}

/// The local harness with its events skewed.
pub struct Skewed {
    inner: LocalHarness,
    skew: Skew,
}

impl Skewed {
    pub fn new(skew: Skew) -> Self {
        Skewed { inner: LocalHarness::new(), skew }
    }
}

#[async_trait::async_trait]
impl Harness for Skewed {
    fn name(&self) -> &str {
        "skewed"
    }

    fn directions(&self) -> DirectionSet {
        self.inner.directions()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn pair(&self, direction: Direction, root: &Path) -> Result<Box<dyn Pair>> {
        Ok(Box::new(SkewedPair { inner: self.inner.pair(direction, root).await?, skew: self.skew }))
    }
}

struct SkewedPair {
    inner: Box<dyn Pair>,
    skew: Skew,
}

#[async_trait::async_trait]
impl Pair for SkewedPair {
    async fn transfer(&mut self, request: TransferRequest) -> Result<TransferSummary> {
        let recorder = RecordingSink::new();
        let mut inner = request.clone();
        inner.events = recorder.clone();
        let mut result = self.inner.transfer(inner).await;
        let mut events = recorder.events();
        let phantom = RelPath::from_bytes(b"phantom".to_vec())?;
        let end = events.len() - 1;
        match self.skew {
            Skew::ExtraDone => {
                events.insert(end, ProgressEvent::FileDone { path: phantom, kind: FileKind::File, bytes: 0 })
            }
            Skew::ExtraTerminal => events.push(events[end].clone()),
            Skew::NoStart => drop(events.remove(0)),
            Skew::WrongDirection => {
                if let ProgressEvent::Started { direction, .. } = &mut events[0] {
                    *direction = Direction::Push;
                }
            }
            Skew::PhantomFailure => {
                let error = Error::new(blit_api::ErrorKind::Io, "phantom");
                events.insert(end, ProgressEvent::FileStarted { path: phantom.clone(), kind: FileKind::File, size: 0 });
                events.insert(end + 1, ProgressEvent::failed(&phantom, &error));
                if let (Some(ProgressEvent::Finished { summary }), Ok(returned)) = (events.last_mut(), result.as_mut())
                {
                    summary.failures.push(blit_api::FileFailure::new(&phantom, &error));
                    *returned = (**summary).clone();
                }
            }
        }
        for e in events {
            request.events.emit(e);
        }
        result
    }

    async fn close(self: Box<Self>) -> Result<()> {
        self.inner.close().await
    }
}

/// A harness that reports other capabilities than its inner one.
pub struct WithCaps<H> {
    pub inner: H,
    pub caps: Capabilities,
}

#[async_trait::async_trait]
impl<H: Harness> Harness for WithCaps<H> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn directions(&self) -> DirectionSet {
        self.inner.directions()
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn known_failures(&self) -> Vec<KnownFailure> {
        self.inner.known_failures()
    }

    async fn pair(&self, direction: Direction, root: &Path) -> Result<Box<dyn Pair>> {
        self.inner.pair(direction, root).await
    }
}
