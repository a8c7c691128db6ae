//! Configuration of the pipe transport.

use blit_api::{Error, ErrorKind, Result};
use std::str::FromStr;

/// Largest payload chunk a frame may carry (1 MiB). Receivers refuse longer
/// frames before allocating anything.
pub(crate) const MAX_CHUNK: usize = 1024 * 1024;

/// How the pipe transport frames payloads.
///
/// Parsed from `key=value` options separated by commas
/// (`"chunk_size=65536"`); unknown keys are refused.
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

impl FromStr for PipeConfig {
    type Err = Error;

    fn from_str(options: &str) -> Result<Self> {
        let mut config = PipeConfig::default();
        for pair in options.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |why: &str| Error::new(ErrorKind::InvalidInput, format!("pipe option `{pair}`: {why}"));
            let (key, value) = pair.split_once('=').ok_or_else(|| bad("expected key=value"))?;
            match key.trim() {
                "chunk_size" => {
                    let n = value.trim().parse().map_err(|_| bad("not a number"))?;
                    config = config.with_chunk_size(n)?;
                }
                _ => return Err(bad("unknown option; known: chunk_size")),
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options_and_refuses_bad_ones() {
        assert_eq!("".parse::<PipeConfig>().unwrap(), PipeConfig::default());
        assert_eq!(" chunk_size = 4096 ".parse::<PipeConfig>().unwrap().chunk_size, 4096);
        for bad in ["chunk_size", "chunk_size=x", "chunk_size=0", "chunk_size=2000000", "speed=9"] {
            let e = bad.parse::<PipeConfig>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        }
    }
}
