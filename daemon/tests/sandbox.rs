//! Landlock: a process confined with blitd's rules reads and writes its
//! read-write modules, reads its read-only ones, and nothing else. The
//! confinement is tried in a child process (this test binary, run again),
//! since it cannot be undone; the real `blitd` says in its log whether it
//! could confine itself.

use blit_daemon::sandbox::{confine, Allowed, Confinement};
use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

const CHILD: &str = "BLIT_SANDBOX_CHILD";

/// Runs in the child: confines itself, then tries each access.
fn child(dir: &Path) {
    let allowed = Allowed { read_write: vec![dir.join("rw")], read_only: vec![dir.join("ro")] };
    let c = confine(&allowed);
    println!("confinement: {c:?}");
    let denied = |r: std::io::Result<()>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{what}: {e}");
    };
    std::fs::read(dir.join("rw/f")).unwrap();
    std::fs::write(dir.join("rw/new"), b"n").unwrap();
    std::fs::create_dir(dir.join("rw/d")).unwrap();
    std::fs::read(dir.join("ro/f")).unwrap();
    if c == Confinement::Unavailable {
        std::fs::read(dir.join("outside/f")).unwrap();
        println!("not confined: Landlock is not available here");
        return;
    }
    denied(std::fs::write(dir.join("ro/new"), b"n"), "a write into a read-only module");
    denied(std::fs::read(dir.join("outside/f")).map(drop), "a read outside");
    denied(std::fs::write(dir.join("outside/new"), b"n"), "a write outside");
    denied(std::fs::read_dir(dir.join("outside")).map(drop), "a listing outside");
    println!("confined");
}

#[test]
fn landlock_confines_a_process_to_its_modules() {
    if let Some(dir) = std::env::var_os(CHILD) {
        return child(Path::new(&dir));
    }
    let t = tempfile::tempdir().unwrap();
    for d in ["rw", "ro", "outside"] {
        std::fs::create_dir(t.path().join(d)).unwrap();
        std::fs::write(t.path().join(d).join("f"), b"x").unwrap();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "landlock_confines_a_process_to_its_modules", "--nocapture", "--test-threads", "1"])
        .env(CHILD, t.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("confinement: "), "{text}");
    if text.contains("not confined") {
        eprintln!("Landlock is not available on this kernel: only the unconfined path was checked");
    } else {
        assert!(text.contains("confined\n"), "{text}");
    }
    assert!(!t.path().join("outside/new").exists() && !t.path().join("ro/new").exists());
}

#[test]
fn blitd_says_whether_it_confined_itself_and_can_be_told_not_to() {
    let t = tempfile::tempdir().unwrap();
    let module = t.path().join("m");
    std::fs::create_dir(&module).unwrap();
    let config = t.path().join("blitd.toml");
    for (landlock, want) in [("", "landlock: "), ("landlock = false\n", "landlock: off")] {
        let text = format!("{landlock}[[module]]\nname = \"m\"\npath = \"{}\"\n", module.display());
        std::fs::write(&config, text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_blitd"))
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
        let mut seen = String::new();
        for line in lines.by_ref().take(20) {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("listening on") {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(seen.contains(want), "{landlock:?}: {seen}");
        assert!(seen.contains("listening on"), "{seen}");
        if landlock.is_empty() {
            assert!(
                seen.contains("landlock: enforced")
                    || seen.contains("landlock: partly enforced")
                    || seen.contains("landlock: not available"),
                "{seen}"
            );
        }
    }
}
