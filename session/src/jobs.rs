//! `Jobs` and `Cancel`, both sides: the daemon's replies and what the
//! client makes of them (`blit jobs`).
//!
//! A reply comes from the daemon, so the client checks it as any peer's
//! message: the version, a job id of the form blitd gives, a module-relative
//! path that passes [`blit_api::RelPath`]'s checks, a known role, and text fields of
//! bounded length.

use crate::convert::path_from_pb;
use crate::error::protocol;
use blit_api::{Direction, Job, Result};
use blit_proto::{pb, PROTOCOL_VERSION};
use prost::bytes::Bytes;

/// Jobs per `JobsReply`: a reply stays far below the message limit (each
/// job holds at most a path of 4 KiB and two short strings).
pub const JOBS_BATCH: usize = 256;

/// The longest module name or client address a reply may carry.
const MAX_TEXT: usize = 1024;

/// One batch of the reply to `Jobs`.
pub fn jobs_reply(jobs: &[Job]) -> pb::JobsReply {
    pb::JobsReply { protocol_version: PROTOCOL_VERSION, jobs: jobs.iter().map(job_to_pb).collect() }
}

/// The reply to `Cancel`: the job that was told to stop.
pub fn cancel_reply(job: &Job) -> pb::CancelReply {
    pb::CancelReply { protocol_version: PROTOCOL_VERSION, job: Some(job_to_pb(job)) }
}

/// The jobs of one `Jobs` reply batch from `peer`.
pub fn jobs_from_pb(reply: pb::JobsReply, peer: &str) -> Result<Vec<Job>> {
    crate::client::check_version(reply.protocol_version, peer)?;
    reply.jobs.into_iter().map(|job| job_from_pb(job, peer)).collect()
}

/// The job a `Cancel` reply from `peer` names.
pub fn cancelled_from_pb(reply: pb::CancelReply, peer: &str) -> Result<Job> {
    crate::client::check_version(reply.protocol_version, peer)?;
    let job = reply.job.ok_or_else(|| protocol(peer, "a `Cancel` reply without its job"))?;
    job_from_pb(job, peer)
}

fn job_to_pb(job: &Job) -> pb::Job {
    let role = match job.direction {
        Direction::Pull => pb::Role::Pull,
        _ => pb::Role::Push,
    };
    pb::Job {
        id: job.id.clone(),
        module: job.module.clone(),
        path: Bytes::copy_from_slice(job.path.as_bytes()),
        role: role as i32,
        client: job.client.clone(),
        started_unix_ms: job.started_unix_ms,
        elapsed_ms: job.elapsed_ms,
    }
}

fn job_from_pb(job: pb::Job, peer: &str) -> Result<Job> {
    if !Job::is_id(&job.id) {
        return Err(protocol(peer, format!("a job id that is not {} hex digits", Job::ID_LEN)));
    }
    if job.module.is_empty() || job.module.len() > MAX_TEXT || job.client.len() > MAX_TEXT {
        return Err(protocol(peer, format!("job {}: an empty or overlong module name or client address", job.id)));
    }
    let direction = match pb::Role::try_from(job.role) {
        Ok(pb::Role::Push) => Direction::Push,
        Ok(pb::Role::Pull) => Direction::Pull,
        _ => return Err(protocol(peer, format!("job {}: unknown role {}", job.id, job.role))),
    };
    let path = path_from_pb(&job.path).map_err(|e| protocol(peer, format!("job {}: {e}", job.id)))?;
    Ok(Job {
        id: job.id,
        module: job.module,
        path,
        direction,
        client: job.client,
        started_unix_ms: job.started_unix_ms,
        elapsed_ms: job.elapsed_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{ErrorKind, RelPath};

    fn job(direction: Direction) -> Job {
        Job {
            id: "00ff00ff00ff00ff".into(),
            module: "m".into(),
            path: RelPath::from_bytes(b"a/b".to_vec()).unwrap(),
            direction,
            client: "127.0.0.1:5".into(),
            started_unix_ms: 7,
            elapsed_ms: 3,
        }
    }

    #[test]
    fn replies_round_trip() {
        let jobs = [job(Direction::Push), job(Direction::Pull)];
        assert_eq!(jobs_from_pb(jobs_reply(&jobs), "h:1").unwrap(), jobs);
        assert_eq!(cancelled_from_pb(cancel_reply(&jobs[1]), "h:1").unwrap(), jobs[1]);
        let mut old = jobs_reply(&jobs);
        old.protocol_version = 99;
        assert_eq!(jobs_from_pb(old, "h:1").unwrap_err().kind(), ErrorKind::Protocol);
        let empty = pb::CancelReply { protocol_version: PROTOCOL_VERSION, job: None };
        assert_eq!(cancelled_from_pb(empty, "h:1").unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn a_job_that_blitd_would_never_send_is_refused() {
        let bad = |edit: fn(&mut pb::Job)| {
            let mut reply = jobs_reply(&[job(Direction::Push)]);
            edit(&mut reply.jobs[0]);
            jobs_from_pb(reply, "h:1").unwrap_err()
        };
        assert!(bad(|j| j.id = "short".into()).to_string().contains("16 hex digits"));
        assert!(bad(|j| j.role = 9).to_string().contains("unknown role 9"));
        assert!(bad(|j| j.path = Bytes::from_static(b"../up")).to_string().contains("job 00ff00ff00ff00ff"));
        assert!(bad(|j| j.module = "x".repeat(2000)).to_string().contains("overlong"));
        assert!(bad(|j| j.module.clear()).to_string().contains("empty"));
    }
}
