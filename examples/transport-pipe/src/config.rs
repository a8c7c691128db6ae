//! Configuration of the pipe transport.

use blit_api::{Error, ErrorKind, Result};

/// Largest payload chunk a frame may carry (1 MiB). Receivers refuse longer
/// frames before allocating anything.
pub(crate) const MAX_CHUNK: usize = 1024 * 1024;

/// How the pipe transport frames payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipeConfig {
    /// Bytes of file content per data frame (1 to 1 MiB; default 256 KiB).
    pub chunk_size: usize,
}

impl Default for PipeConfig {
    fn default() -> Self {
        PipeConfig { chunk_size: 256 * 1024 }
    }
}

impl PipeConfig {
    /// Sets the chunk size; refuses 0 and anything over 1 MiB.
    pub fn with_chunk_size(mut self, chunk_size: usize) -> Result<Self> {
        if chunk_size == 0 || chunk_size > MAX_CHUNK {
            return Err(Error::new(ErrorKind::InvalidInput, format!("chunk_size {chunk_size} is out of range"))
                .with_hint("choose a chunk size from 1 byte to 1 MiB"));
        }
        self.chunk_size = chunk_size;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_chunk_sizes_out_of_range() {
        assert_eq!(PipeConfig::default().with_chunk_size(4096).unwrap().chunk_size, 4096);
        for bad in [0, MAX_CHUNK + 1] {
            assert_eq!(PipeConfig::default().with_chunk_size(bad).unwrap_err().kind(), ErrorKind::InvalidInput);
        }
    }
}
