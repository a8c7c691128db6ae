//! The pipe payload transport.
//!
//! One [`PipeTransport`] owns both ends of an OS pipe (`std::io::pipe`).
//! [`PayloadTransport::send`] frames the payload records of every planned
//! file into one end ([`StreamWriter`]) and [`PayloadTransport::receive`]
//! lands them from the other ([`land_stream`]), each on a blocking thread.
//! The pipe's own buffer is the only queue between them, so back-pressure is
//! the kernel's: a slow receiver blocks the sender's write. A pipe carries
//! one stream, so files travel one after the other; shards are sent as
//! their files in order.

use crate::config::MAX_CHUNK;
use crate::{PipeConfig, SCHEME};
use blit_api::{
    land_stream, on_blocking_thread, Capabilities, DirectionSet, Error, HalfPart, Landing, PayloadReader,
    PayloadTransport, PlanReceiver, Result, StreamWriter,
};
use std::io::{PipeReader, PipeWriter};
use std::sync::Arc;

/// Moves payloads through an OS pipe as framed records.
///
/// One instance serves one transfer: call [`PayloadTransport::send`] and
/// [`PayloadTransport::receive`] once each, concurrently.
#[derive(Debug)]
pub struct PipeTransport {
    config: PipeConfig,
    reader: HalfPart<PipeReader>,
    writer: HalfPart<PipeWriter>,
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
        Ok(PipeTransport { config, reader: HalfPart::new(reader), writer: HalfPart::new(writer) })
    }
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
            resume: true,
            ..Capabilities::default()
        }
    }

    async fn send(&self, plans: PlanReceiver, reader: Arc<dyn PayloadReader>) -> Result<()> {
        let out = self.writer.take(SCHEME, "send")?;
        let chunk_size = self.config.chunk_size;
        on_blocking_thread(SCHEME, "send", move || {
            // Dropping the writer at the end closes the pipe: the receiver sees the end.
            StreamWriter::new(out, SCHEME, chunk_size).send_plans(plans, &*reader)
        })
        .await
    }

    async fn receive(&self, landing: Landing) -> Result<()> {
        let input = self.reader.take(SCHEME, "receive")?;
        on_blocking_thread(SCHEME, "receive", move || land_stream(&landing, input, SCHEME, MAX_CHUNK)).await
    }
}
