//! A job (what it copies and how) and where its run stands.

use crate::item::{bad, decode};
use blit_api::{Result, TransferOptions};
use blit_proto::pb;
use blit_session::relay::{options_from_wire, options_to_wire};
use prost::Message;

/// One copy or mirror, as the submitting command asked for it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// SRC as the command named it: a local path every worker sees, or a
    /// remote address. Never holds a secret.
    pub src: Vec<u8>,
    /// DST as the command named it.
    pub dst: Vec<u8>,
    /// A mirror (deletions after every item landed) rather than a copy.
    pub mirror: bool,
    /// The transfer's options (each item adds its own `files_from`).
    pub options: TransferOptions,
    /// `--transport` (`auto`, `tcp`, `grpc`).
    pub transport: String,
    /// `--streams`.
    pub streams: Option<u32>,
    /// `--compress`.
    pub compress: String,
}

impl JobSpec {
    fn to_pb(&self) -> pb::QueueJob {
        pb::QueueJob {
            src: self.src.clone().into(),
            dst: self.dst.clone().into(),
            mirror: self.mirror,
            options: Some(options_to_wire(&self.options)),
            transport: self.transport.clone(),
            streams: self.streams,
            compress: self.compress.clone(),
        }
    }

    /// The encoded job, as the key-value bucket keeps it.
    pub fn encode(&self) -> Vec<u8> {
        self.to_pb().encode_to_vec()
    }

    /// A job from the key-value bucket, validated.
    pub fn decode(bytes: &[u8]) -> Result<JobSpec> {
        let job: pb::QueueJob = decode(bytes, "job")?;
        if job.src.is_empty() || job.dst.is_empty() {
            return Err(bad("a job without a source or a destination"));
        }
        if job.transport.len() > 16 || job.compress.len() > 32 {
            return Err(bad("a job with an overlong transport or compression name"));
        }
        Ok(JobSpec {
            src: job.src.to_vec(),
            dst: job.dst.to_vec(),
            mirror: job.mirror,
            options: options_from_wire(job.options)?,
            transport: job.transport,
            streams: job.streams,
            compress: job.compress,
        })
    }

    /// The job's name: a digest of everything it copies and how, so the
    /// same command names the same job (and a rerun finds it), and any
    /// other command another. 20 hex digits (80 bits).
    pub fn id(&self) -> String {
        let digest = blake3::hash(&self.encode());
        digest.to_hex()[..20].to_owned()
    }
}

/// Where a job's run stands (see `QueueState` in queue.proto).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobState {
    /// The run's number (1 for the first).
    pub run: u64,
    /// Every item of the run is published.
    pub planned: bool,
    /// Items published so far (all of them once `planned`).
    pub items: u64,
    /// All items landed and the last pass ended.
    pub finished: bool,
}

impl JobState {
    /// The encoded state.
    pub fn encode(&self) -> Vec<u8> {
        pb::QueueState { run: self.run, planned: self.planned, items: self.items, finished: self.finished }
            .encode_to_vec()
    }

    /// A state from the key-value bucket.
    pub fn decode(bytes: &[u8]) -> Result<JobState> {
        let s: pb::QueueState = decode(bytes, "job state")?;
        Ok(JobState { run: s.run, planned: s.planned, items: s.items, finished: s.finished })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            src: b"/data/src/".to_vec(),
            dst: b"blit://h:9031/m/dst".to_vec(),
            mirror: false,
            options: TransferOptions::new().checksum(true),
            transport: "auto".into(),
            streams: None,
            compress: "none".into(),
        }
    }

    #[test]
    fn a_job_round_trips_and_its_id_follows_its_content() {
        let job = spec();
        let back = JobSpec::decode(&job.encode()).unwrap();
        assert_eq!(back.src, job.src);
        assert_eq!(back.dst, job.dst);
        assert!(back.options.checksum);
        assert_eq!(back.id(), job.id());
        assert_eq!(job.id().len(), 20);
        let mirror = JobSpec { mirror: true, ..spec() };
        assert_ne!(mirror.id(), job.id());
        let other = JobSpec { dst: b"/elsewhere".to_vec(), ..spec() };
        assert_ne!(other.id(), job.id());
    }

    #[test]
    fn states_round_trip_and_garbage_is_refused() {
        let s = JobState { run: 3, planned: true, items: 17, finished: false };
        assert_eq!(JobState::decode(&s.encode()).unwrap(), s);
        assert!(JobSpec::decode(b"\xff\xff\xff").is_err());
        assert!(JobSpec::decode(&pb::QueueJob::default().encode_to_vec()).is_err());
    }
}
