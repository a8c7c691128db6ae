//! A tmux server of its own (on a socket in a temporary directory), for
//! tests that need `blit` in a real terminal.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server on its own socket, killed on drop.
pub struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    /// A server whose socket lives in `dir` (started by the first command).
    pub fn new(dir: &Path) -> Tmux {
        Tmux { socket: dir.join("tmux.sock") }
    }

    /// Runs a tmux command on this server; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs (.ci/run installs it)");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the pane shows, wrapped lines joined back (`-J`), so a line
    /// tmux had to wrap shows as one line wider than the pane.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", "blit"])
    }

    /// Waits (at most 30 s) until the pane shows `text`; the screen then.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {text:?} within 30 s:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").output();
    }
}
