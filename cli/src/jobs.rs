//! `blit jobs HOST[:PORT]`: the transfers running on a daemon, and
//! `--cancel ID` to stop one.
//!
//! The daemon shows only the transfers of modules whose secret this blit
//! presents (`--secret-file`, `BLIT_SECRET`) and of modules that need none;
//! cancelling needs the secret of the transfer's module. A cancelled
//! transfer ends at once, as one cut short by a daemon's shutdown: its
//! client exits 1 saying it was cancelled, files that landed are complete
//! (every file lands by rename), and a rerun finishes the rest.
//!
//! The table has one row per transfer, oldest first: its id, its role seen
//! from the client (`push`: the client sends), how long it has run, the
//! client's address and `/module/path` last (it may be long). With
//! `--json`, one object per transfer (docs/json.md).

use crate::inspect::{finish, runtime};
use crate::{remote, JobsArgs};
use blit_api::Job;
use blit_transports::remote::Reach;

/// Lists a daemon's running transfers, or cancels one.
pub(crate) fn jobs(args: JobsArgs) -> u8 {
    finish((|| {
        let (host, port) = remote::parse_host(&args.host)?;
        let route = blit_transports::route(&args.connect.reach(Reach::default()))?;
        let rt = runtime()?;
        if let Some(id) = &args.cancel {
            let job = rt.block_on(route.cancel(&host, port, id))?;
            match args.json {
                true => println!("{}", json(&job)),
                false => println!("cancelled {}", crate::escape::for_terminal(&described(&job))),
            }
            return Ok(());
        }
        if !args.json {
            println!("{:<16}  {:<4}  {:>8}  {:<21}  PATH", "ID", "ROLE", "ELAPSED", "CLIENT");
        }
        rt.block_on(route.jobs(&host, port, &mut |job| print(&job, args.json)))
    })())
}

/// Checks an id given to `--cancel` (a usage error when it cannot be one).
pub(crate) fn parse_id(id: &str) -> std::result::Result<String, String> {
    match Job::is_id(id) {
        true => Ok(id.to_owned()),
        false => Err(format!("a job id is {} lower-case hex digits, as `blit jobs HOST` shows it", Job::ID_LEN)),
    }
}

fn print(job: &Job, json: bool) {
    if json {
        println!("{}", self::json(job));
        return;
    }
    let client = if job.client.is_empty() { "-" } else { &job.client };
    let row = format!(
        "{:<16}  {:<4}  {:>8}  {client:<21}  {}",
        job.id,
        job.direction.as_str(),
        elapsed(job.elapsed_ms),
        job.shown()
    );
    println!("{}", crate::escape::for_terminal(&row));
}

/// `ID (push /module/path from CLIENT)`.
fn described(job: &Job) -> String {
    let client = if job.client.is_empty() { String::new() } else { format!(" from {}", job.client) };
    format!("{} ({} {}{client})", job.id, job.direction.as_str(), job.shown())
}

/// One job as JSON: its fields, `role` for its direction, and `path_b64`
/// when its path is not UTF-8.
fn json(job: &Job) -> serde_json::Value {
    let mut v = serde_json::json!({
        "schema": crate::report::JSON_SCHEMA,
        "id": job.id,
        "role": job.direction.as_str(),
        "module": job.module,
        "path": job.path,
        "client": job.client,
        "started_unix_ms": job.started_unix_ms,
        "elapsed_ms": job.elapsed_ms,
    });
    crate::names::add_b64(&mut v, &job.path);
    v
}

/// `M:SS`, or `H:MM:SS` from an hour on.
fn elapsed(ms: u64) -> String {
    let s = ms / 1000;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{Direction, RelPath};

    #[test]
    fn elapsed_reads_as_a_clock() {
        assert_eq!(elapsed(999), "0:00");
        assert_eq!(elapsed(61_000), "1:01");
        assert_eq!(elapsed(3_600_000 + 2 * 60_000 + 3_000), "1:02:03");
    }

    #[test]
    fn ids_are_checked_before_asking() {
        assert_eq!(parse_id("00ff00ff00ff00ff").unwrap(), "00ff00ff00ff00ff");
        assert!(parse_id("00FF00FF00FF00FF").unwrap_err().contains("16 lower-case hex digits"));
    }

    #[test]
    fn json_names_the_role_and_an_exact_path() {
        let job = Job {
            id: "00ff00ff00ff00ff".into(),
            module: "m".into(),
            path: RelPath::from_bytes(b"a/\xff".to_vec()).unwrap(),
            direction: Direction::Pull,
            client: String::new(),
            started_unix_ms: 5,
            elapsed_ms: 6,
        };
        let v = json(&job);
        assert_eq!((v["role"].as_str(), v["module"].as_str()), (Some("pull"), Some("m")));
        assert_eq!(v["path_b64"], "YS//");
        assert_eq!(described(&job), "00ff00ff00ff00ff (pull /m/a/\\xff)");
    }
}
