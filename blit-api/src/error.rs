//! One error type for every role, with a kind a caller can act on.

use std::fmt;

/// Convenience alias used throughout blit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
///
/// New kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A path or peer does not exist.
    NotFound,
    /// The operating system or a peer refused access.
    PermissionDenied,
    /// Something is in the way (for example a directory where a file must land).
    AlreadyExists,
    /// The transport or build does not support the operation.
    Unsupported,
    /// Arguments or configuration are wrong; fix them and retry.
    InvalidInput,
    /// The peer broke the protocol.
    Protocol,
    /// The destination volume is full.
    NoSpace,
    /// The destination volume or module is read-only.
    ReadOnly,
    /// A transient I/O or network failure; retrying may help.
    Io,
    /// The transfer was cancelled.
    Cancelled,
    /// A bug or an unexpected state; the message carries the detail.
    Unexpected,
}

impl ErrorKind {
    /// Every kind, in a stable order: transports that frame errors as one
    /// byte use the index as the wire code, so new kinds are only appended.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::NotFound,
        ErrorKind::PermissionDenied,
        ErrorKind::AlreadyExists,
        ErrorKind::Unsupported,
        ErrorKind::InvalidInput,
        ErrorKind::Protocol,
        ErrorKind::NoSpace,
        ErrorKind::ReadOnly,
        ErrorKind::Io,
        ErrorKind::Cancelled,
        ErrorKind::Unexpected,
    ];

    /// Short, stable name (used in JSON output).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Protocol => "protocol",
            ErrorKind::NoSpace => "no_space",
            ErrorKind::ReadOnly => "read_only",
            ErrorKind::Io => "io",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Unexpected => "unexpected",
        }
    }

    /// Whether the whole transfer must stop (the volume cannot take more data).
    pub fn is_volume_error(self) -> bool {
        matches!(self, ErrorKind::NoSpace | ErrorKind::ReadOnly)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The blit error: a kind, a message, the path or peer it concerns, an optional
/// hint that says what to do next, and the underlying cause.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    path: Option<String>,
    hint: Option<String>,
    source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// Creates an error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), path: None, hint: None, source: None }
    }

    /// Maps an I/O error that happened while doing `op` on `path`.
    pub fn io(op: &str, path: impl fmt::Display, err: std::io::Error) -> Self {
        let kind = kind_of_io(&err);
        let hint = match kind {
            ErrorKind::NoSpace => Some("free space on the destination volume and rerun; finished files are kept"),
            ErrorKind::ReadOnly => Some("the destination is read-only; choose a writable destination"),
            ErrorKind::PermissionDenied => Some("check the permissions of this path"),
            _ => None,
        };
        let mut e = Error::new(kind, format!("{op} failed: {err}")).with_path(path.to_string());
        e.hint = hint.map(str::to_owned);
        e.source = Some(std::sync::Arc::new(err));
        e
    }

    /// Attaches the path (or peer address) the error concerns.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Attaches a hint: what the user should do next.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(std::sync::Arc::new(source));
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without path or hint.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The path or peer the error concerns, if known.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What the user should do next, if known.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Io)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

fn kind_of_io(err: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    if let Some(code) = err.raw_os_error() {
        // ENOSPC, EDQUOT, EROFS: the volume cannot take more data.
        if code == 28 || code == 122 {
            return ErrorKind::NoSpace;
        }
        if code == 30 {
            return ErrorKind::ReadOnly;
        }
    }
    match err.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::AlreadyExists => ErrorKind::AlreadyExists,
        K::Unsupported => ErrorKind::Unsupported,
        K::InvalidInput | K::InvalidData => ErrorKind::InvalidInput,
        _ => ErrorKind::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_kind_once() {
        // A new kind makes this match fail to compile: the reminder to
        // append it to `ALL` (and to the wire mappings).
        let names: std::collections::HashSet<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        for k in ErrorKind::ALL {
            match k {
                ErrorKind::NotFound
                | ErrorKind::PermissionDenied
                | ErrorKind::AlreadyExists
                | ErrorKind::Unsupported
                | ErrorKind::InvalidInput
                | ErrorKind::Protocol
                | ErrorKind::NoSpace
                | ErrorKind::ReadOnly
                | ErrorKind::Io
                | ErrorKind::Cancelled
                | ErrorKind::Unexpected => {}
            }
        }
    }

    #[test]
    fn io_errors_map_to_actionable_kinds() {
        let e = Error::io("open", "/x", std::io::Error::from_raw_os_error(28));
        assert_eq!(e.kind(), ErrorKind::NoSpace);
        assert!(e.kind().is_volume_error());
        assert!(e.to_string().starts_with("/x: open failed"), "{e}");
        assert!(e.hint().unwrap().contains("free space"));
        let e = Error::io("open", "/y", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.path(), Some("/y"));
        assert!(!e.is_retryable());
        let e = Error::io("read", "/z", std::io::Error::from_raw_os_error(30));
        assert_eq!(e.kind(), ErrorKind::ReadOnly);
    }
}
