//! The transport's own errors and their mapping into [`blit_api::Error`].

use blit_api::{Error, ErrorKind};
use std::fmt;
use std::io;

/// What can go wrong on the pipe itself (file errors are reported per file).
#[derive(Debug)]
pub(crate) enum PipeError {
    /// Reading or writing the pipe failed.
    Io { op: &'static str, source: io::Error },
    /// A frame announced more bytes than its tag allows.
    TooLong { tag: u8, len: usize, max: usize },
    /// A frame with an unknown tag.
    UnknownTag(u8),
    /// A frame that does not decode, or arrives out of order.
    Malformed(String),
}

impl fmt::Display for PipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipeError::Io { op, source } => write!(f, "{op} the pipe: {source}"),
            PipeError::TooLong { tag, len, max } => write!(f, "frame {tag} announces {len} bytes, more than {max}"),
            PipeError::UnknownTag(tag) => write!(f, "unknown frame tag {tag}"),
            PipeError::Malformed(what) => write!(f, "malformed frame: {what}"),
        }
    }
}

impl From<PipeError> for Error {
    fn from(e: PipeError) -> Self {
        match e {
            PipeError::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe => {
                Error::new(ErrorKind::Cancelled, "the receiving half of the pipe stopped")
            }
            PipeError::Io { op, source } => Error::io(op, "pipe", source),
            other => {
                Error::new(ErrorKind::Protocol, other.to_string()).with_hint("both halves must run the same build")
            }
        }
    }
}
