//! `blit jobs`: a real blitd in this process lists the transfers it runs
//! (a real `blit` push, slowed by `--bwlimit`) and cancels one; the pushing
//! process then exits 1 saying so, and the destination holds each file's
//! old or new content, never a torn one.

mod common;

use common::daemon::Daemon;
use common::*;
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The old and the new content of `big.bin`: 2 MiB, which `--bwlimit 256K`
/// takes 8 s to send, long enough to be seen and cancelled.
fn contents() -> (Vec<u8>, Vec<u8>) {
    let new: Vec<u8> = (0..2u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    (b"the old version".to_vec(), new)
}

/// A source tree with the new `big.bin` and a destination holding the old.
fn trees(t: &Path) -> (OsString, std::path::PathBuf) {
    let (old, new) = contents();
    let (src, module) = (t.join("src"), t.join("module"));
    write(&src.join("big.bin"), &new, 0o644, 2_000, 0);
    write(&module.join("dst/big.bin"), &old, 0o644, 1_000, 0);
    (slash(&src), module)
}

/// Starts `blit copy --bwlimit 256K SRC DST` (with `env`) in the background.
fn slow_copy(src: &OsStr, dst: &OsStr, transport: &str, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blit"));
    command.args([os("copy"), os("--bwlimit"), os("256K"), os("--transport"), os(transport), src, dst]);
    command.env_remove("BLIT_SECRET").stdout(Stdio::null()).stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("start blit copy")
}

/// Waits (at most 30 s) for `child` to end; its output.
fn finished(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("poll the push").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the cancelled push still ran after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("collect the push's output")
}

/// `blit jobs HOST --json` (with `env`), parsed.
fn listed(host: &OsStr, env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let out = blit_with_env(&[os("jobs"), os("--json"), host], env);
    assert!(out.status.success(), "blit jobs: {}", text(&out.stderr));
    text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// Polls the listing (at most 20 s) until `done` holds for it.
fn listed_until(
    host: &OsStr,
    env: &[(&str, &str)],
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = listed(host, env);
        if done(&jobs) {
            return jobs;
        }
        assert!(Instant::now() < deadline, "the listing never became what was awaited: {jobs:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls the listing (at most 20 s) until it shows the transfer `copy`
/// runs; fails with its output if it ends first.
fn running(host: &OsStr, env: &[(&str, &str)], copy: &mut Child) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = listed(host, env);
        if !jobs.is_empty() {
            return jobs;
        }
        if copy.try_wait().expect("poll the copy").is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(copy.stderr.as_mut().expect("stderr is piped"), &mut err).unwrap();
            panic!("the copy ended before it was listed ({:?}): {err}", copy.try_wait());
        }
        assert!(Instant::now() < deadline, "the copy was never listed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `big.bin` in `dir` is whole: its old or its new content.
fn not_torn(dir: &Path) {
    let (old, new) = contents();
    let landed = std::fs::read(dir.join("big.bin")).unwrap();
    assert!(landed == old || landed == new, "a torn file of {} bytes", landed.len());
}

#[test]
fn a_running_push_is_listed_and_cancel_ends_it_with_whole_files() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = trees(t.path());
    let d = Daemon::modules(&[("m", &module, false)]);
    let host = OsString::from(format!("127.0.0.1:{}", d.port));
    assert!(listed(&host, &[]).is_empty(), "nothing runs yet");
    for transport in ["tcp", "grpc"] {
        // Each run starts from the old version (a cancelled push may still
        // land what it had received: whole files).
        write(&module.join("dst/big.bin"), &contents().0, 0o644, 1_000, 0);
        let mut push = slow_copy(&src, &d.url("/m/dst/"), transport, &[]);
        let jobs = running(&host, &[], &mut push);
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let job = &jobs[0];
        assert_eq!(
            (job["role"].as_str(), job["module"].as_str(), job["path"].as_str()),
            (Some("push"), Some("m"), Some("dst"))
        );
        assert!(job["client"].as_str().is_some_and(|c| c.starts_with("127.0.0.1:")), "{job}");
        let id = job["id"].as_str().unwrap().to_owned();
        // The table shows the same job, its path last.
        let out = blit_ok(&[os("jobs"), &host]);
        let table = text(&out.stdout);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 2, "{table}");
        assert!(rows[0].starts_with("ID") && rows[0].ends_with("PATH"), "{table}");
        assert!(rows[1].starts_with(&format!("{id}  push")) && rows[1].ends_with("  /m/dst"), "{table}");
        let out = blit_ok(&[os("jobs"), &host, os("--cancel"), os(&id)]);
        assert!(
            text(&out.stdout).starts_with(&format!("cancelled {id} (push /m/dst from 127.0.0.1:")),
            "{}",
            text(&out.stdout)
        );
        let out = finished(push);
        assert_eq!(out.status.code(), Some(1), "over {transport}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("cancelled on blitd by `blit jobs --cancel`"), "{}", text(&out.stderr));
        not_torn(&module.join("dst"));
        listed_until(&host, &[], |jobs| jobs.is_empty());
        let again = blit(&[os("jobs"), &host, os("--cancel"), os(&id)]);
        assert_eq!(again.status.code(), Some(1));
        assert!(
            text(&again.stderr).contains(&format!("no transfer with id {id} runs on this blitd")),
            "{}",
            text(&again.stderr)
        );
    }
}

#[test]
fn a_running_pull_is_listed_as_pull_and_cancel_keeps_local_files_whole() {
    let t = tempfile::tempdir().unwrap();
    // More than a pull's buffers hold (25 files of 2 MiB, each below the
    // size that lands as a partial file), so blitd is still sending when
    // it is cancelled.
    let (old, new) = contents();
    let (module, back) = (t.path().join("module"), t.path().join("back"));
    write(&module.join("dst/big.bin"), &new, 0o644, 2_000, 0);
    for i in 0..24 {
        write(&module.join(format!("dst/more/{i}.bin")), &new, 0o644, 2_000, 0);
    }
    write(&back.join("big.bin"), &old, 0o644, 1_000, 0);
    let d = Daemon::modules(&[("m", &module, false)]);
    let host = OsString::from(format!("127.0.0.1:{}", d.port));
    let mut pull = slow_copy(&d.url("/m/dst/"), back.as_os_str(), "tcp", &[]);
    let jobs = running(&host, &[], &mut pull);
    assert_eq!((jobs[0]["role"].as_str(), jobs[0]["path"].as_str()), (Some("pull"), Some("dst")), "{jobs:?}");
    let id = jobs[0]["id"].as_str().unwrap();
    let out = blit_ok(&[os("jobs"), os("--json"), &host, os("--cancel"), os(id)]);
    let cancelled: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((cancelled["id"].as_str(), cancelled["role"].as_str()), (Some(id), Some("pull")));
    let out = finished(pull);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cancelled on blitd by `blit jobs --cancel`"), "{}", text(&out.stderr));
    not_torn(&back);
    for i in 0..24 {
        let landed = std::fs::read(back.join(format!("more/{i}.bin"))).unwrap_or_else(|_| new.clone());
        assert!(landed == new, "more/{i}.bin is torn: {} bytes", landed.len());
    }
    listed_until(&host, &[], |jobs| jobs.is_empty());
}

#[test]
fn a_guarded_module_shows_and_cancels_its_jobs_only_with_its_secret() {
    let t = tempfile::tempdir().unwrap();
    let (src, module) = trees(t.path());
    let open = t.path().join("open");
    std::fs::create_dir(&open).unwrap();
    let secret = "open sesame, friend";
    let secret_file = t.path().join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let mut config = blit_daemon::DaemonConfig::new();
    config.add_module_spec(&format!("m={}", module.display())).unwrap();
    config.add_module_spec(&format!("open={}", open.display())).unwrap();
    config.modules[0].auth_secret_file = Some(secret_file);
    let d = Daemon::serve(config);
    let host = OsString::from(format!("127.0.0.1:{}", d.port));
    let with = [("BLIT_SECRET", secret)];
    let mut push = slow_copy(&src, &d.url("/m/dst/"), "auto", &with);
    let jobs = running(&host, &with, &mut push);
    let id = jobs[0]["id"].as_str().unwrap().to_owned();
    // Without the secret the guarded module's job is not shown; a wrong
    // secret is refused outright.
    assert!(listed(&host, &[]).is_empty());
    let out = blit_with_env(&[os("jobs"), &host], &[("BLIT_SECRET", "a guess")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("wrong secret"), "{}", text(&out.stderr));
    let cancel = [os("jobs"), &host, os("--cancel"), os(&id)];
    let out = blit(&cancel);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("module 'm' requires a secret"), "{}", text(&out.stderr));
    assert_eq!(listed(&host, &with).len(), 1, "the refused cancel stopped nothing");
    let out = blit_with_env(&cancel, &with);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = finished(push);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cancelled on blitd"), "{}", text(&out.stderr));
    not_torn(&module.join("dst"));
}

#[test]
fn an_unknown_or_malformed_id_is_refused_clearly() {
    let t = tempfile::tempdir().unwrap();
    let d = Daemon::modules(&[("m", t.path(), false)]);
    let host = OsString::from(format!("127.0.0.1:{}", d.port));
    let out = blit(&[os("jobs"), &host, os("--cancel"), os("0123456789abcdef")]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no transfer with id 0123456789abcdef runs on this blitd") && err.contains("blit jobs HOST"),
        "{err}"
    );
    let out = blit(&[os("jobs"), &host, os("--cancel"), os("../etc")]);
    assert_eq!(out.status.code(), Some(64), "a usage error: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("16 lower-case hex digits"), "{}", text(&out.stderr));
}
