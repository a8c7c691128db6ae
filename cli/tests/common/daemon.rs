//! A blitd serving in this process, on its own runtime and thread, on
//! 127.0.0.1:0; stopped and joined on drop.

use std::ffi::OsString;
use std::time::Duration;

/// An in-process blitd.
pub struct Daemon {
    /// The port it listens on.
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Serves `config` until dropped.
    pub fn serve(config: blit_daemon::DaemonConfig) -> Daemon {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                ready_tx.send(listener.local_addr().unwrap().port()).unwrap();
                blit_daemon::run(listener, config, async move {
                    stopped.await.ok();
                })
                .await
                .unwrap();
            });
        });
        let port = ready.recv_timeout(Duration::from_secs(10)).expect("the daemon binds within 10 s");
        Daemon { port, stop: Some(stop), thread: Some(thread) }
    }

    /// Serves `(name, dir, read_only)` modules until dropped.
    pub fn modules(modules: &[(&str, &std::path::Path, bool)]) -> Daemon {
        let mut config = blit_daemon::DaemonConfig::new();
        for (name, path, ro) in modules {
            let spec = format!("{name}={}{}", path.display(), if *ro { ":ro" } else { "" });
            config.add_module_spec(&spec).unwrap();
        }
        Daemon::serve(config)
    }

    /// `127.0.0.1:PORT:REST`.
    pub fn url(&self, rest: &str) -> OsString {
        OsString::from(format!("127.0.0.1:{}:{rest}", self.port))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}
