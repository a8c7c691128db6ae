#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod admin;
mod check;
mod config;
mod gate;
mod grant;
mod jobs;
mod limits;
mod list;
mod locate;
mod module;
mod relay;
pub mod sandbox;
mod security;
mod server;
mod stdio;
mod tls;

pub use check::check_config;
pub use config::{
    parse_listen, DaemonConfig, ModuleConfig, SourceWrap, DEFAULT_IDLE_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_SESSIONS,
};
pub use limits::{raise_open_files, Running};
pub use stdio::serve_stdio;

use blit_api::{Error, ErrorKind, Result};
use blit_proto::pb::blit_server::BlitServer;
use blit_transport_grpc::{CHUNK_SIZE, MAX_MESSAGE_SIZE};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::ReceiverStream;

/// Largest HTTP/2 frame the daemon accepts: a pushed 1 MiB chunk crosses in
/// 4 frames instead of 64 of the default 16 KiB (in-stream push of 4 GiB on
/// loopback, null sink: 2.6 s -> 2.2 s; 1 MiB frames measured no better).
/// What a client may have in flight stays bounded by the flow-control
/// windows below, not by the frame size.
const MAX_FRAME: u32 = 256 * 1024;

/// Serves `config`'s modules on `listener` until `shutdown` resolves.
///
/// Checks every module first (it must be an existing directory) and fails
/// without serving when one is wrong. After `shutdown`, it accepts no new
/// connections, lets running transfers go on for
/// [`DaemonConfig::shutdown_grace`], then cancels what is left (those clients
/// get "blitd is shutting down") and returns once every connection closed,
/// or one more grace period later if a client holds its connection open.
///
/// Tests start a daemon in-process on `127.0.0.1:0`:
///
/// ```no_run
/// # async fn run() -> blit_api::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let mut config = blit_daemon::DaemonConfig::new();
/// config.add_module_spec("data=/srv/data")?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let daemon = tokio::spawn(blit_daemon::run(listener, config, async { stopped.await.ok(); }));
/// // ... connect to the listener's address ...
/// stop.send(()).ok();
/// daemon.await.unwrap()?;
/// # Ok(())
/// # }
/// ```
pub async fn run(
    listener: TcpListener,
    config: DaemonConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let modules = Arc::new(module::Modules::new(&config.modules)?);
    let security = Arc::new(security::Security::load(&config)?);
    if let Ok(local) = listener.local_addr() {
        let names: Vec<String> = config.modules.iter().map(|m| m.name.clone()).collect();
        security.warn_if_exposed(local, &names);
    }
    let (quit_tx, mut quit_rx) = watch::channel(false);
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let (hard_tx, mut hard_rx) = watch::channel(false);
    let grace = config.shutdown_grace;
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections; running transfers get {} s", grace.as_secs_f64());
        quit_tx.send_replace(true);
        tokio::time::sleep(grace).await;
        cancel_tx.send_replace(true);
        // Cancelled sessions end at once; a client that keeps its stream
        // open anyway does not hold the daemon up for long.
        tokio::time::sleep(grace.max(Duration::from_secs(1))).await;
        hard_tx.send_replace(true);
    });
    let gate = gate::Gate::new(config.handshake_timeout.min(config.idle_timeout));
    let service = service(&config, modules, security.clone(), cancel_rx, gate.clone());
    // Connections that stay silent are closed before the HTTP/2 server sees them.
    let first_bytes = config.idle_timeout.min(limits::FIRST_BYTES);
    let incoming = ReceiverStream::new(limits::accept_speaking(
        listener,
        quit_rx.clone(),
        first_bytes,
        security.tls.clone(),
        gate,
    ));
    let server = http2().add_service(service).serve_with_incoming_shutdown(incoming, async move {
        let _ = quit_rx.wait_for(|quit| *quit).await;
    });
    tokio::select! {
        served = server => {
            served.map_err(|e| Error::new(ErrorKind::Io, format!("the gRPC server stopped: {e}")).with_source(e))
        }
        _ = hard_rx.wait_for(|stop| *stop) => {
            tracing::warn!("connections still open after the grace period; stopping anyway");
            Ok(())
        }
    }
}

/// The blitd service for `config`'s modules, with its session limits.
fn service(
    config: &DaemonConfig,
    modules: Arc<module::Modules>,
    security: Arc<security::Security>,
    cancel: watch::Receiver<bool>,
    gate: Arc<gate::Gate>,
) -> BlitServer<server::BlitService> {
    let limits = server::Limits {
        sessions: limits::Sessions::new(config.max_sessions, config.running.clone()),
        idle: config.idle_timeout,
    };
    BlitServer::new(
        server::BlitService::new(modules, cancel, config.source_wrap.clone())
            .limits(limits)
            .security(security)
            .gate(gate)
            .data_ports(config.data_ports)
            .grant_lifetime(config.grant_lifetime),
    )
    .max_decoding_message_size(MAX_MESSAGE_SIZE)
    .max_encoding_message_size(MAX_MESSAGE_SIZE)
}

/// The HTTP/2 server settings every connection gets.
fn http2() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .initial_stream_window_size(Some(2 * CHUNK_SIZE as u32))
        .initial_connection_window_size(Some(4 * CHUNK_SIZE as u32))
        .max_frame_size(Some(MAX_FRAME))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
}
