//! The transfers running on this daemon (`blit jobs`): a registry of
//! sessions, each under an id of 16 random hex digits, and the per-session
//! signal `Cancel` raises.
//!
//! A session is registered after it passed every check and holds a session
//! slot, so the registry never holds more than `max_sessions` entries; its
//! [`Registration`] lives with the session's watcher
//! ([`crate::limits::watch_session`]) and removes the entry when the
//! session ends. Ids are random (the operating system's generator), so one
//! job's id tells nothing about another's; cancelling still needs the
//! secret of the job's module (`crate::server`).

use blit_api::{Direction, Error, ErrorKind, Job, RelPath, Result};
use blit_proto::pb;
use blit_transport_grpc::server::{jobs_reply, JOBS_BATCH};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};
use tokio::sync::watch;
use tokio_stream::Stream;
use tonic::Status;

/// The response stream of `Jobs`.
pub(crate) type JobsStream = Pin<Box<dyn Stream<Item = Result<pb::JobsReply, Status>> + Send + 'static>>;

/// `jobs` as the `Jobs` answer: batches of at most [`JOBS_BATCH`], none
/// when nothing runs.
pub(crate) fn stream(jobs: &[Job]) -> JobsStream {
    let batches: Vec<pb::JobsReply> = jobs.chunks(JOBS_BATCH).map(jobs_reply).collect();
    Box::pin(tokio_stream::iter(batches.into_iter().map(Ok)))
}

/// The running sessions.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    running: Mutex<HashMap<String, Entry>>,
}

/// One running session: what `blit jobs` shows, and its cancel signal.
#[derive(Debug)]
struct Entry {
    job: Job,
    since: Instant,
    stop: watch::Sender<bool>,
}

impl Entry {
    /// The job with its elapsed time as of now.
    fn now(&self) -> Job {
        Job { elapsed_ms: self.since.elapsed().as_millis() as u64, ..self.job.clone() }
    }
}

/// A registered session; dropping it removes the entry.
#[derive(Debug)]
pub(crate) struct Registration {
    jobs: Arc<Jobs>,
    id: String,
    stop: watch::Receiver<bool>,
}

impl Registration {
    /// Resolves once `Cancel` named this session.
    pub(crate) async fn cancelled(&mut self) {
        // The sender lives in the entry this registration removes on drop.
        if self.stop.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Its id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.jobs.lock().remove(&self.id);
    }
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a session that starts now.
    pub(crate) fn register(
        self: &Arc<Self>,
        module: &str,
        path: &RelPath,
        direction: Direction,
        client: Option<SocketAddr>,
    ) -> Result<Registration> {
        let (stop, watching) = watch::channel(false);
        let started_unix_ms =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
        let mut running = self.lock();
        let id = loop {
            let id = random_id()?;
            if !running.contains_key(&id) {
                break id;
            }
        };
        let job = Job {
            id: id.clone(),
            module: module.to_owned(),
            path: path.clone(),
            direction,
            client: client.map(|a| a.to_string()).unwrap_or_default(),
            started_unix_ms,
            elapsed_ms: 0,
        };
        running.insert(id.clone(), Entry { job, since: Instant::now(), stop });
        Ok(Registration { jobs: self.clone(), id, stop: watching })
    }

    /// The running jobs of the modules `visible` admits, oldest first.
    pub(crate) fn list(&self, visible: impl Fn(&str) -> bool) -> Vec<Job> {
        let mut jobs: Vec<(Instant, Job)> =
            self.lock().values().filter(|e| visible(&e.job.module)).map(|e| (e.since, e.now())).collect();
        jobs.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        jobs.into_iter().map(|(_, job)| job).collect()
    }

    /// The module of job `id`, if it runs.
    pub(crate) fn module_of(&self, id: &str) -> Option<String> {
        self.lock().get(id).map(|e| e.job.module.clone())
    }

    /// Tells job `id` to stop; the job as it was, or the error for an id
    /// that names no running job.
    pub(crate) fn cancel(&self, id: &str) -> Result<Job> {
        let running = self.lock();
        let entry = running.get(id).ok_or_else(|| unknown(id))?;
        entry.stop.send_replace(true);
        Ok(entry.now())
    }
}

/// 16 hex digits from the operating system's random generator.
fn random_id() -> Result<String> {
    let mut bytes = [0u8; Job::ID_LEN / 2];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        Error::new(ErrorKind::Unexpected, format!("the system random generator failed: {e}"))
            .with_hint("blitd needs /dev/urandom or getrandom(2) to name transfers")
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The error for an id no running job has; an id that does not even have
/// the form of one is not repeated back.
fn unknown(id: &str) -> Error {
    let hint = "`blit jobs HOST` lists the running transfers; a transfer leaves the list when it ends";
    if Job::is_id(id) {
        Error::new(ErrorKind::NotFound, format!("no transfer with id {id} runs on this blitd")).with_hint(hint)
    } else {
        Error::new(ErrorKind::NotFound, format!("that is not a job id ({} hex digits)", Job::ID_LEN)).with_hint(hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register(jobs: &Arc<Jobs>, module: &str) -> Registration {
        let path = RelPath::from_bytes(b"dir".to_vec()).unwrap();
        jobs.register(module, &path, Direction::Push, Some("127.0.0.1:9".parse().unwrap())).unwrap()
    }

    #[test]
    fn a_session_is_listed_until_its_registration_drops() {
        let jobs = Arc::new(Jobs::default());
        let a = register(&jobs, "a");
        let b = register(&jobs, "b");
        assert!(Job::is_id(a.id()) && a.id() != b.id());
        let listed: Vec<String> = jobs.list(|_| true).into_iter().map(|j| j.id).collect();
        assert_eq!(listed, [a.id(), b.id()], "oldest first");
        let only_b = jobs.list(|m| m == "b");
        assert_eq!(only_b.len(), 1);
        assert_eq!((only_b[0].module.as_str(), only_b[0].client.as_str()), ("b", "127.0.0.1:9"));
        assert_eq!(jobs.module_of(a.id()).as_deref(), Some("a"));
        let gone = a.id().to_owned();
        drop(a);
        assert_eq!(jobs.list(|_| true).len(), 1);
        assert_eq!(jobs.module_of(&gone), None);
        let e = jobs.cancel(&gone).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains(&gone), "{e}");
        let e = jobs.cancel("../../etc\n").unwrap_err();
        assert!(!e.to_string().contains("etc"), "an odd id is not echoed: {e}");
    }

    #[tokio::test]
    async fn the_answer_comes_in_bounded_batches() {
        use tokio_stream::StreamExt;
        let jobs = Arc::new(Jobs::default());
        let held: Vec<Registration> = (0..JOBS_BATCH + 44).map(|_| register(&jobs, "a")).collect();
        let sizes: Vec<usize> = stream(&jobs.list(|_| true)).map(|b| b.unwrap().jobs.len()).collect().await;
        assert_eq!(sizes, [JOBS_BATCH, 44]);
        drop(held);
        assert_eq!(stream(&jobs.list(|_| true)).collect::<Vec<_>>().await.len(), 0, "nothing runs: no batch");
    }

    #[tokio::test]
    async fn cancel_wakes_only_the_named_session() {
        let jobs = Arc::new(Jobs::default());
        let mut a = register(&jobs, "a");
        let mut b = register(&jobs, "a");
        let job = jobs.cancel(b.id()).unwrap();
        assert_eq!(job.id, b.id());
        tokio::time::timeout(std::time::Duration::from_secs(5), b.cancelled()).await.expect("b was cancelled");
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), a.cancelled()).await;
        assert!(waited.is_err(), "a runs on");
    }
}
