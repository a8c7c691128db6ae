//! Reaching a blit server through a program's standard input and output
//! instead of a TCP connection: the ssh route runs `ssh HOST blit server`
//! and speaks blit's protocol over the ssh channel.
//!
//! The program starts at the first request and serves every later one of
//! the same [`Pipe`] (a listing, then the transfer) over one HTTP/2
//! connection. What it writes on standard error is kept (its last lines,
//! bounded) to explain a failure: ssh's own refusal, or the far side's
//! `blit` saying why it could not start.

use blit_api::{Error, ErrorKind, Result};
use hyper_util::rt::TokioIo;
use std::ffi::OsString;
use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tonic::transport::{Channel, Endpoint, Uri};

/// Lines of the program's standard error kept for errors.
const TAIL_LINES: usize = 8;
/// Bytes kept of each such line.
const LINE_BYTES: usize = 512;
/// How long an error waits for the program to exit, to report its status.
const EXIT_WAIT: Duration = Duration::from_secs(2);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The program's standard output (read) and input (write) as one stream.
type Duplex = tokio::io::Join<ChildStdout, ChildStdin>;

/// A program whose standard input and output carry the connection to a
/// blit server (`blit server`), such as `ssh host blit server --root DIR`.
/// Clones share one running program.
#[derive(Clone)]
pub struct Pipe {
    channel: Arc<tokio::sync::OnceCell<Channel>>,
    launch: Arc<Launch>,
}

/// The program, once started; dropping the last [`Pipe`] (and so the
/// connection) kills it if it is still running.
struct Launch {
    argv: Vec<OsString>,
    label: String,
    child: tokio::sync::Mutex<Option<Child>>,
    tail: Arc<Mutex<Vec<String>>>,
    /// Turns true once the program's standard error reached its end.
    said_all: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe").field("argv", &self.launch.argv).finish_non_exhaustive()
    }
}

impl PartialEq for Pipe {
    fn eq(&self, other: &Self) -> bool {
        self.launch.argv == other.launch.argv
    }
}

impl Eq for Pipe {}

impl Pipe {
    /// Runs `argv` (program first) when first needed; `label` names the
    /// peer in errors (`ssh user@host`).
    pub fn new(argv: Vec<OsString>, label: impl Into<String>) -> Self {
        let launch = Launch {
            argv,
            label: label.into(),
            child: Default::default(),
            tail: Arc::default(),
            said_all: tokio::sync::watch::Sender::new(false),
        };
        Pipe { channel: Arc::default(), launch: Arc::new(launch) }
    }

    /// How errors name the peer.
    pub fn label(&self) -> &str {
        &self.launch.label
    }

    /// The connection, started on first use.
    pub(crate) async fn channel(&self) -> Result<Channel> {
        let channel = self
            .channel
            .get_or_try_init(|| async {
                let endpoint = Endpoint::from_static("http://blit.pipe")
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_timeout(Duration::from_secs(20))
                    .initial_stream_window_size(Some(2 * crate::CHUNK_SIZE as u32))
                    .initial_connection_window_size(Some(4 * crate::CHUNK_SIZE as u32));
                match endpoint.connect_with_connector(Connector(self.launch.clone())).await {
                    Ok(channel) => Ok(channel),
                    Err(e) => Err(self.explain(Error::new(ErrorKind::Io, e.to_string()), true).await),
                }
            })
            .await?;
        Ok(channel.clone())
    }

    /// `e`, told in the words of the program when it has ended (see
    /// [`Launch::explain`]); with `wait`, it may take a moment to end.
    pub(crate) async fn explain(&self, e: Error, wait: bool) -> Error {
        self.launch.explain(e, if wait { EXIT_WAIT } else { Duration::ZERO }).await
    }
}

impl Launch {
    /// Starts the program (once).
    async fn spawn(&self) -> std::result::Result<Duplex, BoxError> {
        let mut child = self.child.lock().await;
        if child.is_some() {
            return Err(format!("the connection through `{}` ended", self.label).into());
        }
        let (program, args) = self.argv.split_first().ok_or("no program to run")?;
        let mut started = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", program.to_string_lossy()))?;
        let (Some(input), Some(output), Some(errors)) =
            (started.stdout.take(), started.stdin.take(), started.stderr.take())
        else {
            return Err("the program's pipes are missing".into());
        };
        let (tail, said_all) = (self.tail.clone(), self.said_all.clone());
        tokio::spawn(async move {
            let mut errors = tokio::io::BufReader::new(errors);
            // Each line is kept to LINE_BYTES, however long the far side makes it.
            let mut line = Vec::with_capacity(LINE_BYTES);
            loop {
                let chunk = match errors.fill_buf().await {
                    Ok(chunk) if !chunk.is_empty() => chunk,
                    _ => break,
                };
                let (part, ended) = match chunk.iter().position(|b| *b == b'\n') {
                    Some(i) => (&chunk[..i], true),
                    None => (chunk, false),
                };
                let room = LINE_BYTES.saturating_sub(line.len());
                line.extend_from_slice(&part[..part.len().min(room)]);
                let used = part.len() + usize::from(ended);
                errors.consume(used);
                if ended {
                    let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                    line.clear();
                    tracing::debug!("remote: {text}");
                    let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    if tail.len() == TAIL_LINES {
                        tail.remove(0);
                    }
                    tail.push(text);
                }
            }
            // A last line without its newline.
            if !line.is_empty() {
                let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                if tail.len() == TAIL_LINES {
                    tail.remove(0);
                }
                tail.push(String::from_utf8_lossy(&line).trim_end().to_owned());
            }
            said_all.send_replace(true);
        });
        *child = Some(started);
        Ok(tokio::io::join(input, output))
    }

    /// `e`, told in the words of the program when it has ended (waiting at
    /// most `wait` for that): its exit status and the last lines it wrote
    /// on standard error, with what to do.
    async fn explain(&self, e: Error, wait: Duration) -> Error {
        let status = {
            let mut child = self.child.lock().await;
            match child.as_mut() {
                Some(child) if wait.is_zero() => child.try_wait().ok().flatten(),
                Some(child) => tokio::time::timeout(wait, child.wait()).await.ok().and_then(|s| s.ok()),
                None => None,
            }
        };
        let Some(status) = status else {
            return e;
        };
        // Its last words may still be on their way through the pipe.
        let mut said_all = self.said_all.subscribe();
        let _ = tokio::time::timeout(EXIT_WAIT, said_all.wait_for(|done| *done)).await;
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner).clone();
        // The line that says what went wrong: the last one naming an error
        // (a usage error ends with a line of advice), else the last one.
        let said = tail
            .iter()
            .rev()
            .find(|l| l.to_ascii_lowercase().contains("error"))
            .or_else(|| tail.iter().rev().find(|l| !l.is_empty()))
            .cloned();
        let message = match (&said, status.code()) {
            (Some(said), _) => said.clone(),
            (None, Some(code)) => format!("the connection ended (exit status {code})"),
            (None, None) => format!("the connection ended ({status})"),
        };
        let hint = match status.code() {
            Some(127) => Some("the far side has no such program: install blit there, or name it with --blit-path PROGRAM"),
            Some(64) => Some("the far side's blit does not know `blit server`: install this release of blit there"),
            Some(255) => Some(
                "ssh could not connect or log in: try `ssh HOST true` by hand; for a blitd daemon write HOST::MODULE/path",
            ),
            // The far side said why itself.
            _ if said.is_some() => None,
            _ => Some("for a blitd daemon instead of ssh write HOST::MODULE/path"),
        };
        let kind = if status.code() == Some(255) { ErrorKind::Io } else { e.kind() };
        let error = Error::new(kind, message).with_path(self.label.clone());
        match hint {
            Some(hint) => error.with_hint(hint),
            None => error,
        }
    }
}

/// Starts the program on the connection's first (and only) connect.
struct Connector(Arc<Launch>);

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Duplex>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let launch = self.0.clone();
        Box::pin(async move { launch.spawn().await.map(TokioIo::new) })
    }
}
