//! Runs every example of the user guide (`docs/guide.md`) as written, so the
//! guide cannot drift from the tools.
//!
//! The guide is read top to bottom in one sandbox directory:
//! - `<!-- guide-setup: CMD -->` runs CMD (hidden preparation, e.g. making
//!   sample files, or starting another daemon);
//! - a ```` ```toml file=NAME ```` block is written to NAME;
//! - a ```` ```console ```` block runs each `$ ` line with bash; the lines
//!   after a command are exactly what it prints (stdout then stderr); when
//!   one of them holds `...` (varying text), each of them must instead match
//!   some printed line, `...` standing for any text. Every command
//!   must exit 0, except the last one of a ```` ```console exit=N ```` block,
//!   which must exit N;
//! - a `$ blitd ...` command starts the daemon in the background, on an
//!   ephemeral loopback port; later commands reach it as `localhost:`.
//!
//! Sandboxing rewrites only addresses and absolute paths: `/srv/` and
//! `/etc/blit/` become directories of the sandbox, the daemon listens on
//! `127.0.0.1:0`, and `localhost::` (or a final `localhost`) becomes
//! `127.0.0.1:PORT:/` (`127.0.0.1:PORT`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GUIDE: &str = include_str!("../../docs/guide.md");

/// The directory holding the `blit` and `blitd` binaries under test.
fn bin_dir() -> PathBuf {
    let blit = PathBuf::from(env!("CARGO_BIN_EXE_blit"));
    let dir = blit.parent().expect("the blit binary has a parent directory").to_path_buf();
    if !dir.join("blitd").exists() {
        // A workspace test run builds blitd too; a run of this package alone
        // may not have, so build it the same way.
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "blit-daemon", "--bin", "blitd", "--all-features"])
            .status()
            .expect("run cargo to build blitd");
        assert!(status.success(), "building blitd for the guide test failed");
    }
    dir
}

/// Daemons started by the guide, killed when the test ends.
struct Daemons(Vec<Child>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Sandbox {
    dir: PathBuf,
    bins: PathBuf,
    port: Option<u16>,
    daemons: Daemons,
}

impl Sandbox {
    fn rewrite(&self, text: &str) -> String {
        let root = self.dir.display().to_string();
        let mut text =
            text.replace("/srv/", &format!("{root}/srv/")).replace("/etc/blit/", &format!("{root}/etc/blit/"));
        if let Some(port) = self.port {
            text = text.replace("localhost::", &format!("127.0.0.1:{port}:/"));
            if text.ends_with(" localhost") {
                text = format!("{}127.0.0.1:{port}", text.trim_end_matches("localhost"));
            }
        }
        text
    }

    fn command(&self, line: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(line).current_dir(&self.dir);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.bins.clone()];
        paths.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(paths).expect("PATH entries are joinable"));
        cmd.env("NO_COLOR", "1").env("HOME", &self.dir).env_remove("BLIT_SECRET");
        cmd
    }

    fn setup(&mut self, line: &str) {
        if line.starts_with("blitd ") {
            return self.start_daemon(line);
        }
        let out = self.command(&self.rewrite(line)).output().expect("run a guide setup command");
        assert!(out.status.success(), "guide setup `{line}` failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn write_file(&self, name: &str, body: &str) {
        let mut body = self.rewrite(body);
        // The daemon must listen on an ephemeral loopback port.
        body = body
            .lines()
            .map(|l| if l.trim_start().starts_with("listen") { "listen = \"127.0.0.1:0\"" } else { l })
            .collect::<Vec<_>>()
            .join("\n");
        let path = self.dir.join(self.rewrite(name));
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("create the file's directory");
        std::fs::write(&path, body + "\n").expect("write a guide file");
    }

    fn start_daemon(&mut self, line: &str) {
        let mut line = self.rewrite(line.trim_end_matches('&').trim());
        if !line.contains("--config") {
            line.push_str(" --listen 127.0.0.1:0");
        }
        let mut child = self
            .command(&format!("exec {line}"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start blitd");
        let stderr = child.stderr.take().expect("stderr is piped");
        self.daemons.0.push(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("`{line}` did not start"));
        let port = addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("blitd logs IP:PORT");
        self.port = Some(port);
    }

    fn run(&mut self, line: &str, expected: &[String], want_exit: i32) {
        if line.starts_with("blitd ") && !line.contains("--check-config") {
            return self.start_daemon(line);
        }
        let started = Instant::now();
        let out = self.command(&self.rewrite(line)).output().expect("run a guide command");
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let code = out.status.code().unwrap_or(-1);
        assert_eq!(
            code,
            want_exit,
            "guide command `{line}` exited {code} after {:?}, expected {want_exit}; it printed:\n{printed}",
            started.elapsed()
        );
        let root = self.dir.display().to_string();
        let printed = printed.replace(&root, "");
        let expected: Vec<String> = expected.iter().map(|l| self.rewrite(l.trim_end()).replace(&root, "")).collect();
        if !expected.iter().any(|l| l.contains("...")) {
            // No placeholder: the output must be exactly what the guide shows.
            let got: Vec<&str> = printed.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
            let want: Vec<&str> = expected.iter().map(String::as_str).filter(|l| !l.is_empty()).collect();
            assert_eq!(got, want, "guide command `{line}` printed something else than the guide shows");
            return;
        }
        for want in expected.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
            assert!(
                printed.lines().any(|got| matches_with_gaps(got, want)),
                "guide command `{line}` should print a line like `{want}`; it printed:\n{printed}"
            );
        }
    }
}

/// Whether `got` holds the pieces of `want` between its `...` gaps, in order.
fn matches_with_gaps(got: &str, want: &str) -> bool {
    let mut rest = got;
    for piece in want.split("...").map(str::trim).filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn every_guide_example_runs_as_written() {
    let tmp = tempfile::tempdir().expect("create a sandbox");
    let mut sandbox =
        Sandbox { dir: tmp.path().to_path_buf(), bins: bin_dir(), port: None, daemons: Daemons(Vec::new()) };
    let mut lines = GUIDE.lines();
    let mut commands = 0;
    while let Some(line) = lines.next() {
        if let Some(rest) = line.trim().strip_prefix("<!-- guide-setup:") {
            sandbox.setup(rest.trim_end_matches("-->").trim());
            continue;
        }
        let Some(info) = line.strip_prefix("```") else { continue };
        let body: Vec<String> = lines.by_ref().take_while(|l| !l.starts_with("```")).map(str::to_string).collect();
        let mut words = info.split_whitespace();
        match words.next() {
            Some("toml") => {
                if let Some(name) = words.find_map(|w| w.strip_prefix("file=")) {
                    sandbox.write_file(name, &body.join("\n"));
                }
            }
            Some("console") => {
                let exit = words.find_map(|w| w.strip_prefix("exit=")).map_or(0, |n| n.parse().expect("exit=N"));
                let cmds = split_commands(&body);
                let last = cmds.len().saturating_sub(1);
                for (i, (cmd, expected)) in cmds.iter().enumerate() {
                    sandbox.run(cmd, expected, if i == last { exit } else { 0 });
                    commands += 1;
                }
            }
            _ => {}
        }
    }
    assert!(commands >= 20, "the guide should show its tools at work; found only {commands} commands");
}

/// Splits a console block into commands and the output lines after each.
fn split_commands(body: &[String]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in body {
        match line.strip_prefix("$ ") {
            Some(cmd) => out.push((cmd.to_string(), Vec::new())),
            None => {
                if let Some(last) = out.last_mut() {
                    last.1.push(line.clone());
                }
            }
        }
    }
    out
}

#[test]
fn readme_points_to_the_guide() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).expect("README");
    assert!(readme.contains("docs/guide.md"), "README.md should point new users to docs/guide.md");
}
