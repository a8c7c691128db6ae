//! blit's distributed jobs on NATS JetStream: one copy or mirror spread over
//! many workers, each running the normal engine on its share.
//!
//! NATS JetStream keeps everything a job needs to survive a dead worker or
//! a dead submitting command, so this crate holds no cluster logic of its
//! own:
//!
//! - **Work items** go to the work-queue stream [`WORK_STREAM`] (subject
//!   `blit.work.<job>`); one durable pull consumer ([`WORKERS`]) hands each
//!   item to one worker. A worker keeps its lease while it works (progress
//!   acknowledgements) and acknowledges only after the item landed; an item
//!   whose worker died goes to another worker once the lease runs out.
//! - **Done records** (one per item: its counts and failures) go to the
//!   stream [`DONE_STREAM`] (subject `blit.done.<job>`), from which the
//!   submitting command, or a rerun of it, adds up the job.
//! - **Job state** (the job itself and where its run stands) lives in the
//!   stream [`JOBS_STREAM`], used as a key-value store (one message kept per
//!   subject `blit.jobs.<job>.job` / `.state`), so a rerun of the same
//!   command finds it ([`JobSpec::id`] is a digest of what the job copies
//!   and how). (JetStream's own key-value API needs a newer server than
//!   Debian's 2.9 to work with the client.)
//! - **Progress events** travel on plain NATS (`blit.events.<job>`): lossy
//!   by design, for the display only; the summary comes from done records.
//!
//! Everything read from NATS is decoded with a size bound and validated
//! like a peer's message ([`item`]): any process that can publish on the
//! server is a peer.

#![deny(missing_docs)]

mod connect;
pub mod item;
mod job;
mod nats;
pub mod testing;

pub use connect::{QueueUrl, CREDS_ENV};
pub use item::{ItemDone, WorkItem, MAX_ITEM_BYTES, MAX_ITEM_ENTRIES};
pub use job::{JobSpec, JobState};
pub use nats::{EventsIn, Follow, Queue, Taken, Taker};

/// The work-queue stream that holds work items.
pub const WORK_STREAM: &str = "BLIT_WORK";
/// The stream that holds done records.
pub const DONE_STREAM: &str = "BLIT_DONE";
/// The stream that holds jobs and their state.
pub const JOBS_STREAM: &str = "BLIT_JOBS";
/// The durable consumer all workers share.
pub const WORKERS: &str = "blit-workers";
/// Most bytes of one NATS message blit reads (the server's default
/// `max_payload`); anything longer is refused before it is decoded.
pub const MAX_MESSAGE: usize = 1024 * 1024;
