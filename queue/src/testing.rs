//! A real `nats-server -js` for tests: started on a free loopback port with
//! its own store directory, stopped (killed) when dropped. Not for
//! production use.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `nats-server` with JetStream on.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    port: u16,
    /// The store directory (and the server's log, `server.log`).
    pub dir: tempfile::TempDir,
}

/// The nats-server program: `NATS_SERVER` if set, else `nats-server` on the
/// PATH, else Debian's `/usr/sbin/nats-server`.
pub fn program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
}

impl NatsServer {
    /// Starts one with JetStream on; `extra` are more arguments (for example
    /// `["--user", "u", "--pass", "p"]`). Panics when it cannot (a test
    /// without its server must fail, not pass).
    pub fn start(extra: &[&str]) -> NatsServer {
        let program = program().expect("nats-server is not installed (Debian: apt-get install nats-server)");
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let log = dir.path().join("server.log");
        let child = Command::new(&program)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "--http_port", "0"])
            .arg("-sd")
            .arg(dir.path().join("store"))
            .arg("-l")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let mut server = NatsServer { child, port, dir };
        server.wait_ready(&log);
        server
    }

    fn wait_ready(&mut self, log: &std::path::Path) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                panic!("nats-server exited ({status}): {text}");
            }
            let ready = std::fs::read_to_string(log).is_ok_and(|t| t.contains("Server is ready"));
            if ready && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not get ready in 20 s: {}", std::fs::read_to_string(log).unwrap_or_default());
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Removes every message of stream `name`, as an operator's `nats
    /// stream purge` would. Panics when it cannot.
    pub fn purge(&self, name: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let client = async_nats::connect(self.url()).await.expect("connect to nats-server");
            let stream = async_nats::jetstream::new(client).get_stream(name).await.expect("the stream exists");
            stream.purge().await.expect("purge");
        });
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now (the server binds it a moment later).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}
