//! What the real `blitd` binary refuses at startup, and what it sets up:
//! no modules, a short secret, and the open-file limit.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn blitd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_blitd"));
    c.env("NO_COLOR", "1").env("RUST_LOG", "info");
    c
}

#[test]
fn no_modules_is_refused_before_listening_and_by_check_config() {
    for extra in [&[][..], &["--check-config"][..]] {
        let out = blitd().args(["--listen", "127.0.0.1:0"]).args(extra).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("no modules to serve") && err.contains("--module NAME=PATH"), "{err}");
        assert!(!err.contains("listening"), "{err}");
    }
}

#[test]
fn a_short_secret_is_refused_at_startup() {
    let t = tempfile::tempdir().unwrap();
    let secret = t.path().join("secret");
    std::fs::write(&secret, "short\n").unwrap();
    let config = t.path().join("blitd.toml");
    let module = t.path().display();
    let text = format!("auth_secret_file = {secret:?}\n[[module]]\nname = \"m\"\npath = \"{module}\"\n");
    std::fs::write(&config, text).unwrap();
    for extra in [&[][..], &["--check-config"][..]] {
        let out = blitd().args(["--listen", "127.0.0.1:0", "--config"]).arg(&config).args(extra).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("has 5 characters") && err.contains("at least 16"), "{err}");
    }
}

/// The soft limit of open files of process `pid`.
fn soft_nofile(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn the_open_file_soft_limit_is_raised_to_the_hard_limit() {
    let t = tempfile::tempdir().unwrap();
    let mut cmd = blitd();
    cmd.args(["--listen", "127.0.0.1:0", "--module"]).arg(format!("m={}", t.path().display()));
    cmd.stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; the child only lowers its own soft limit.
    unsafe {
        cmd.pre_exec(|| {
            let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
            l.rlim_cur = 256.min(l.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let start = Instant::now();
    let mut seen = String::new();
    while start.elapsed() < Duration::from_secs(20) {
        let Some(Ok(line)) = lines.next() else { break };
        seen.push_str(&line);
        if line.contains("listening") {
            break;
        }
    }
    assert!(seen.contains("listening"), "{seen}");
    let hard = {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_owned();
        line.split_whitespace().nth(4).unwrap().parse::<u64>().unwrap_or(u64::MAX)
    };
    let soft = soft_nofile(pid);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(soft > 256, "still {soft}");
    assert!(soft == hard || hard == u64::MAX, "soft {soft}, hard {hard}");
    assert!(seen.contains(&format!("open-file limit: {soft}")), "{seen}");
}

#[test]
fn blitd_prints_its_completions_and_man_page_and_usage_errors_exit_64() {
    let out = blitd().args(["--completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("_blitd()") && script.contains("--check-config"), "{script}");
    let out = blitd().arg("--man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH blitd 8") && page.contains("\\-\\-max\\-sessions"), "{page}");
    assert!(page.contains("Exit codes: 0 stopped cleanly"), "the man page documents the exit codes");
    let out = blitd().arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", String::from_utf8_lossy(&out.stderr));
}
