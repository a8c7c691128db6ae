//! The queue on a NATS server: its streams, bucket and consumer, and the
//! operations the submitting command and the workers use.

use crate::{
    ItemDone, JobSpec, JobState, QueueUrl, WorkItem, DONE_STREAM, JOBS_STREAM, MAX_MESSAGE, WORKERS, WORK_STREAM,
};
use async_nats::jetstream::{self, consumer, stream, AckKind};
use blit_api::{Error, ErrorKind, ProgressEvent, Result};
use blit_proto::pb;
use bytes::Bytes;
use futures_util::StreamExt;
use prost::Message;
use std::time::Duration;

/// How long done records are kept (a job older than this cannot resume).
const DONE_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a worker waits for an item before it asks again.
const TAKE_WAIT: Duration = Duration::from_secs(5);

/// A connection to a queue, with its streams and bucket in place.
#[derive(Clone)]
pub struct Queue {
    url: QueueUrl,
    client: async_nats::Client,
    js: jetstream::Context,
    jobs: stream::Stream,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Queue {
    /// Connects to `url` as `name` and makes the work and done streams and
    /// the jobs bucket when they are missing (streams an operator made
    /// beforehand, for example replicated over a cluster, are used as they
    /// are).
    pub async fn connect(url: &QueueUrl, name: &str) -> Result<Queue> {
        let client = url.connect(name).await?;
        let js = jetstream::new(client.clone());
        let shown = url.to_string();
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            Error::new(ErrorKind::Io, format!("the queue's {what}: {e}"))
                .with_path(shown.clone())
                .with_hint("the server needs JetStream on (`nats-server -js`, or `jetstream {}` in its configuration)")
        };
        let work = stream::Config {
            name: WORK_STREAM.into(),
            subjects: vec!["blit.work.>".into()],
            retention: stream::RetentionPolicy::WorkQueue,
            max_message_size: MAX_MESSAGE as i32,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        ensure(&js, work).await.map_err(|e| failed("work stream", &e))?;
        let done = stream::Config {
            name: DONE_STREAM.into(),
            subjects: vec!["blit.done.>".into()],
            max_age: DONE_MAX_AGE,
            max_message_size: MAX_MESSAGE as i32,
            ..Default::default()
        };
        ensure(&js, done).await.map_err(|e| failed("done stream", &e))?;
        let jobs = stream::Config {
            name: JOBS_STREAM.into(),
            subjects: vec!["blit.jobs.>".into()],
            // A key-value store: the last message of each subject is the value.
            max_messages_per_subject: 1,
            max_message_size: MAX_MESSAGE as i32,
            ..Default::default()
        };
        let jobs = ensure(&js, jobs).await.map_err(|e| failed("jobs stream", &e))?;
        Ok(Queue { url: url.clone(), client, js, jobs })
    }

    /// The queue's address (credentials hidden when shown).
    pub fn url(&self) -> &QueueUrl {
        &self.url
    }

    fn io(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::new(ErrorKind::Io, format!("{what}: {e}"))
            .with_path(self.url.to_string())
            .with_hint("check that nats-server is still running and reachable; rerun the command to resume the job")
    }

    async fn get(&self, key: String) -> Result<Option<Bytes>> {
        use async_nats::jetstream::stream::LastRawMessageErrorKind as Kind;
        match self.jobs.get_last_raw_message_by_subject(&format!("blit.jobs.{key}")).await {
            Ok(message) => Ok(Some(message.payload)),
            Err(e) if e.kind() == Kind::NoMessageFound => Ok(None),
            Err(e) => Err(self.io("reading the jobs stream", e)),
        }
    }

    async fn put(&self, key: String, value: Vec<u8>) -> Result<()> {
        self.store(format!("blit.jobs.{key}"), value, None, "writing the jobs stream").await
    }

    /// Publishes `payload` on `subject` (with message id `id`, which the
    /// stream stores once within two minutes) and waits until the server
    /// stored it.
    async fn store(&self, subject: String, payload: Vec<u8>, id: Option<String>, what: &str) -> Result<()> {
        use async_nats::jetstream::context::PublishErrorKind;
        let payload = Bytes::from(payload);
        let mut attempt = 0;
        loop {
            let mut message = jetstream::message::PublishMessage::build().payload(payload.clone());
            if let Some(id) = &id {
                message = message.message_id(id);
            }
            let stored = match self.js.send_publish(subject.clone(), message).await {
                Ok(ack) => ack.await.map(drop),
                Err(e) => Err(e),
            };
            match stored {
                Ok(()) => return Ok(()),
                // A stream another process made a moment ago may not take
                // messages yet (seen on a fresh server with several
                // processes starting at once).
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(self.io(what, e)),
            }
        }
    }

    /// The job named `id`, if the queue knows it.
    pub async fn job(&self, id: &str) -> Result<Option<JobSpec>> {
        self.get(format!("{id}.job")).await?.map(|b| JobSpec::decode(&b)).transpose()
    }

    /// Records `spec` under its id.
    pub async fn put_job(&self, spec: &JobSpec) -> Result<()> {
        self.put(format!("{}.job", spec.id()), spec.encode()).await
    }

    /// Where job `id`'s run stands, if it ever ran.
    pub async fn state(&self, id: &str) -> Result<Option<JobState>> {
        self.get(format!("{id}.state")).await?.map(|b| JobState::decode(&b)).transpose()
    }

    /// Records where job `id`'s run stands.
    pub async fn set_state(&self, id: &str, state: &JobState) -> Result<()> {
        self.put(format!("{id}.state"), state.encode()).await
    }

    /// Removes job `id`'s waiting items and done records (before a new run).
    pub async fn clear(&self, id: &str) -> Result<()> {
        for (name, subject) in [(WORK_STREAM, format!("blit.work.{id}")), (DONE_STREAM, format!("blit.done.{id}"))] {
            let stream = self.js.get_stream(name).await.map_err(|e| self.io("opening a stream", e))?;
            stream.purge().filter(subject).await.map_err(|e| self.io("clearing an earlier run", e))?;
        }
        Ok(())
    }

    /// How many of job `id`'s items the work stream still holds (waiting,
    /// or taken and not acknowledged yet). An item is acknowledged only
    /// after its done record is stored, so a job whose done records are
    /// short while this is 0 lost items (the stream was purged or
    /// replaced).
    pub async fn items_held(&self, id: &str) -> Result<u64> {
        let stream = self.js.get_stream(WORK_STREAM).await.map_err(|e| self.io("opening the work stream", e))?;
        let counting = |e| self.io("counting the job's items", e);
        let mut subjects = stream.info_with_subjects(format!("blit.work.{id}")).await.map_err(counting)?;
        let mut held = 0;
        while let Some(subject) = subjects.next().await {
            held += subject.map_err(counting)?.1 as u64;
        }
        Ok(held)
    }

    /// Publishes `item` and waits until the server stored it. Publishing
    /// the same item (job, run, number) twice within two minutes stores it
    /// once.
    pub async fn publish(&self, item: &WorkItem) -> Result<()> {
        let id = format!("{}.{}.{}", item.job, item.run, item.seq);
        self.store(format!("blit.work.{}", item.job), item.encode(), Some(id), "publishing a work item").await
    }

    /// Records that an item of job `job` landed (or failed for good), and
    /// waits until the server stored the record.
    pub async fn done(&self, job: &str, done: &ItemDone) -> Result<()> {
        let id = format!("{job}.{}.{}", done.run, done.seq);
        self.store(format!("blit.done.{job}"), done.encode(), Some(id), "publishing a done record").await
    }

    /// Every done record of job `id`, oldest first, then each new one as
    /// it arrives.
    pub async fn follow(&self, id: &str) -> Result<Follow> {
        let stream = self.js.get_stream(DONE_STREAM).await.map_err(|e| self.io("opening the done stream", e))?;
        let config = consumer::pull::OrderedConfig {
            filter_subject: format!("blit.done.{id}"),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        };
        let consumer = stream.create_consumer(config).await.map_err(|e| self.io("following the job", e))?;
        let messages = consumer.messages().await.map_err(|e| self.io("following the job", e))?;
        Ok(Follow { messages, from: self.url.to_string() })
    }

    /// The workers' progress events for job `id` from now on.
    pub async fn events(&self, id: &str) -> Result<EventsIn> {
        let sub = self
            .client
            .subscribe(format!("blit.events.{id}"))
            .await
            .map_err(|e| self.io("subscribing to progress", e))?;
        Ok(EventsIn { sub })
    }

    /// Sends `events` of worker `worker` for job `id` (display only: not
    /// stored, lost when nobody listens).
    pub async fn send_events(&self, id: &str, worker: &str, events: &[ProgressEvent]) {
        let events = events.iter().filter_map(blit_session::wire::event_to_wire).collect();
        let body = pb::QueueEvents { worker: worker.to_owned(), events }.encode_to_vec();
        if self.client.publish(format!("blit.events.{id}"), body.into()).await.is_err() {
            tracing::debug!("progress events not sent");
        }
    }

    /// A worker's hold on the shared consumer; a silent worker's item goes
    /// to another one after `lease`.
    pub async fn taker(&self, lease: Duration) -> Result<Taker> {
        let stream = self.js.get_stream(WORK_STREAM).await.map_err(|e| self.io("opening the work stream", e))?;
        let config = consumer::pull::Config {
            durable_name: Some(WORKERS.into()),
            filter_subject: "blit.work.>".into(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: lease,
            max_deliver: -1,
            ..Default::default()
        };
        let mut consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(WORKERS, config.clone())
            .await
            .map_err(|e| self.io("joining the workers", e))?;
        let current = consumer.info().await.map_err(|e| self.io("joining the workers", e))?.config.ack_wait;
        if current != lease {
            // The last worker to start sets the lease for all (a server
            // takes a create of an existing consumer as an update).
            consumer = stream.create_consumer(config).await.map_err(|e| self.io("setting the lease", e))?;
        }
        Ok(Taker { consumer })
    }
}

/// The stream `config` names, made when missing. Two processes that make
/// it at once both get it (the one that loses the race finds it made).
async fn ensure(js: &jetstream::Context, config: stream::Config) -> std::result::Result<stream::Stream, String> {
    let name = config.name.clone();
    match js.get_or_create_stream(config).await {
        Ok(stream) => Ok(stream),
        Err(first) => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            js.get_stream(&name).await.map_err(|_| first.to_string())
        }
    }
}

/// The done records of one job ([`Queue::follow`]).
pub struct Follow {
    messages: consumer::pull::Ordered,
    from: String,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow").finish_non_exhaustive()
    }
}

impl Follow {
    /// The next done record; waits for one.
    pub async fn next(&mut self) -> Result<ItemDone> {
        match self.messages.next().await {
            Some(Ok(message)) => ItemDone::decode(&message.payload, &self.from),
            Some(Err(e)) => {
                Err(Error::new(ErrorKind::Io, format!("following the job: {e}")).with_path(self.from.clone()))
            }
            None => {
                Err(Error::new(ErrorKind::Io, "the queue closed the job's done records").with_path(self.from.clone()))
            }
        }
    }
}

/// The workers' progress events of one job ([`Queue::events`]).
#[derive(Debug)]
pub struct EventsIn {
    sub: async_nats::Subscriber,
}

impl EventsIn {
    /// The next batch of events that decodes (malformed ones are skipped:
    /// they are display only); `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Vec<ProgressEvent>> {
        loop {
            let message = self.sub.next().await?;
            let Ok(batch) = crate::item::decode::<pb::QueueEvents>(&message.payload, "event batch") else { continue };
            let events = batch.events.into_iter().filter_map(|e| blit_session::wire::event_from_wire(e).ok());
            return Some(events.collect());
        }
    }
}

/// A worker's hold on the shared consumer ([`Queue::taker`]).
pub struct Taker {
    consumer: consumer::PullConsumer,
}

impl std::fmt::Debug for Taker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taker").finish_non_exhaustive()
    }
}

impl Taker {
    /// The next item, waiting a few seconds for one; `None` when none came.
    pub async fn next(&self) -> Result<Option<Taken>> {
        let io = |e: &dyn std::fmt::Display| Error::new(ErrorKind::Io, format!("taking a work item: {e}"));
        let mut batch =
            self.consumer.fetch().max_messages(1).expires(TAKE_WAIT).messages().await.map_err(|e| io(&e))?;
        let Some(message) = batch.next().await else { return Ok(None) };
        let message = message.map_err(|e| io(&e))?;
        let attempt = message.info().map(|i| i.delivered.max(1) as u64).unwrap_or(1);
        let item = WorkItem::decode(&message.payload);
        Ok(Some(Taken { item, attempt, message }))
    }
}

/// An item a worker took: it answers with exactly one of [`Taken::ack`],
/// [`Taken::give_back`] or [`Taken::discard`], and calls [`Taken::keep`]
/// while it works.
pub struct Taken {
    /// The item, or why it does not decode.
    pub item: Result<WorkItem>,
    /// 1 the first time the item is handed out, 2 the second, ...
    pub attempt: u64,
    message: jetstream::Message,
}

impl std::fmt::Debug for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taken").field("item", &self.item).field("attempt", &self.attempt).finish()
    }
}

impl Taken {
    /// Renews the lease: the item stays with this worker.
    pub async fn keep(&self) {
        let _ = self.message.ack_with(AckKind::Progress).await;
    }

    /// The item landed: it leaves the queue (confirmed by the server).
    pub async fn ack(&self) -> Result<()> {
        self.message
            .double_ack()
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("acknowledging a work item: {e}")))
    }

    /// Hands the item back, to be taken again after `delay`; waits until
    /// the server confirmed (a worker about to exit must not lose it to an
    /// unsent message: the item would then wait for its lease).
    pub async fn give_back(&self, delay: Option<Duration>) {
        let _ = self.message.double_ack_with(AckKind::Nak(delay)).await;
    }

    /// Drops an item that can never be done (it does not decode).
    pub async fn discard(&self) {
        let _ = self.message.double_ack_with(AckKind::Term).await;
    }
}
