//! The pipe payload transport.
//!
//! One [`PipeTransport`] owns both ends of an OS pipe (`std::io::pipe`).
//! [`PayloadTransport::send`] writes framed files into one end and
//! [`PayloadTransport::receive`] reads them from the other, each on a
//! blocking thread. The pipe's own buffer is the only queue between them, so
//! back-pressure is the kernel's: a slow receiver blocks the sender's write.
//! A pipe carries one stream, so files travel one after the other; shards
//! are sent as their files in order.

use crate::{payload, PipeConfig, SCHEME};
use blit_api::{
    Capabilities, DirectionSet, Error, ErrorKind, Landing, PayloadReader, PayloadTransport, PlanReceiver, Result,
};
use std::io::{PipeReader, PipeWriter};
use std::sync::{Arc, Mutex, PoisonError};

/// Moves payloads through an OS pipe as framed records.
///
/// One instance serves one transfer: call [`PayloadTransport::send`] and
/// [`PayloadTransport::receive`] once each, concurrently.
#[derive(Debug)]
pub struct PipeTransport {
    config: PipeConfig,
    reader: Mutex<Option<PipeReader>>,
    writer: Mutex<Option<PipeWriter>>,
}

impl PipeTransport {
    /// A transport with the default [`PipeConfig`].
    pub fn new() -> Result<Self> {
        Self::with_config(PipeConfig::default())
    }

    /// A transport with `config`. Fails when the pipe cannot be created (too
    /// many open files).
    pub fn with_config(config: PipeConfig) -> Result<Self> {
        let (reader, writer) = std::io::pipe().map_err(|e| Error::io("create", "pipe", e))?;
        Ok(PipeTransport { config, reader: Mutex::new(Some(reader)), writer: Mutex::new(Some(writer)) })
    }
}

fn taken(half: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("this PipeTransport's {half} half already ran"))
        .with_hint("create one PipeTransport per transfer")
}

fn join_error(half: &str, e: tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Unexpected, format!("the pipe transport's {half} thread failed: {e}"))
}

#[async_trait::async_trait]
impl PayloadTransport for PipeTransport {
    fn name(&self) -> &str {
        SCHEME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            directions: DirectionSet { local: true, ..DirectionSet::default() },
            payload_shard: true,
            payload_max_streams: 1,
            symlink: true,
            path_non_utf8: true,
            mtime_ns: true,
            checksum: true,
            mirror: true,
            per_file_errors: true,
            ..Capabilities::default()
        }
    }

    async fn send(&self, plans: PlanReceiver, reader: Arc<dyn PayloadReader>) -> Result<()> {
        let out = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take().ok_or_else(|| taken("send"))?;
        let chunk_size = self.config.chunk_size;
        tokio::task::spawn_blocking(move || payload::send(plans, &*reader, out, chunk_size))
            .await
            .map_err(|e| join_error("send", e))?
    }

    async fn receive(&self, landing: Landing) -> Result<()> {
        let input =
            self.reader.lock().unwrap_or_else(PoisonError::into_inner).take().ok_or_else(|| taken("receive"))?;
        tokio::task::spawn_blocking(move || payload::receive(&landing, input))
            .await
            .map_err(|e| join_error("receive", e))?
    }
}

#[cfg(test)]
mod tests;
