//! The shared receiving edge of every transport: lands files through a
//! [`PayloadWriter`] and emits the per-file progress events, so that every
//! transport reports exactly the same way.

use crate::{Error, Events, FileFailure, FileHeader, LandingFile, PayloadWriter, ProgressEvent, RelPath, Result};
use std::sync::Arc;

/// Where a transport's receiving half lands files. Cheap to clone.
#[derive(Clone)]
pub struct Landing {
    writer: Arc<dyn PayloadWriter>,
    events: Events,
}

impl std::fmt::Debug for Landing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Landing").finish_non_exhaustive()
    }
}

impl Landing {
    /// A landing that writes through `writer` and reports to `events`.
    pub fn new(writer: Arc<dyn PayloadWriter>, events: Events) -> Self {
        Landing { writer, events }
    }

    /// Starts landing `header` (blocking). Emits `FileStarted`. On failure it
    /// emits `FileFailed` and returns the error: the transport must drain the
    /// file's bytes and go on, unless the error is a volume error
    /// ([`crate::ErrorKind::is_volume_error`]), which must stop the transfer.
    pub fn begin(&self, header: &FileHeader) -> Result<Incoming> {
        self.events.emit(ProgressEvent::FileStarted {
            path: header.path.clone(),
            kind: header.kind,
            size: header.size,
        });
        match self.writer.begin(header) {
            Ok(file) => Ok(Incoming {
                file: Some(file),
                path: header.path.clone(),
                kind: header.kind,
                size: header.size,
                written: 0,
                events: self.events.clone(),
            }),
            Err(e) => {
                self.events.emit(ProgressEvent::failed(&header.path, &e));
                Err(e)
            }
        }
    }

    /// Reports that the source could not read `path`: emits `FileStarted` and
    /// `FileFailed`, so the file is accounted for like every other.
    pub fn source_failed(&self, header: &FileHeader, error: &Error) {
        self.events.emit(ProgressEvent::FileStarted {
            path: header.path.clone(),
            kind: header.kind,
            size: header.size,
        });
        self.events.emit(ProgressEvent::failed(&header.path, error));
    }

    /// The event sink, for transports that report extra facts.
    pub fn events(&self) -> &Events {
        &self.events
    }
}

/// One file being landed. Write into [`Incoming::file`], call
/// [`Incoming::record`] for every run of bytes written, then
/// [`Incoming::commit`]. Dropping it without commit discards the temporary
/// file and reports nothing; call [`Incoming::fail`] to report why.
pub struct Incoming {
    file: Option<Box<dyn LandingFile>>,
    path: RelPath,
    kind: crate::FileKind,
    size: u64,
    written: u64,
    events: Events,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").field("path", &self.path).field("written", &self.written).finish()
    }
}

impl Incoming {
    /// The temporary file to write into.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.file.as_mut().expect("Incoming holds its file until commit or fail").file()
    }

    /// The size the header announced.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes recorded so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The path being landed.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// Records `n` bytes written through user space. Emits `FileBytes`.
    pub fn record(&mut self, n: u64) {
        self.add(n, false);
    }

    /// Records `n` bytes the kernel moved without a user-space copy.
    pub fn record_zero_copy(&mut self, n: u64) {
        self.add(n, true);
    }

    fn add(&mut self, n: u64, zero_copy: bool) {
        if n == 0 {
            return;
        }
        self.written += n;
        self.events.emit(ProgressEvent::FileBytes { path: self.path.clone(), bytes: n, zero_copy });
    }

    /// Lands the file under its final name. Emits `FileDone`, or `FileFailed`
    /// and returns the error when the rename or metadata fails. Refuses a file
    /// whose recorded length differs from the header's size.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("Incoming holds its file until commit or fail");
        if self.written != self.size {
            let e = Error::new(
                crate::ErrorKind::Protocol,
                format!("received {} bytes, header announced {}", self.written, self.size),
            )
            .with_path(self.path.display());
            self.events.emit(ProgressEvent::failed(&self.path, &e));
            return Err(e);
        }
        match file.commit() {
            Ok(()) => {
                self.events.emit(ProgressEvent::FileDone {
                    path: self.path.clone(),
                    kind: self.kind,
                    bytes: self.written,
                });
                Ok(())
            }
            Err(e) => {
                self.events.emit(ProgressEvent::failed(&self.path, &e));
                Err(e)
            }
        }
    }

    /// Gives up on this file: removes the temporary file, emits `FileFailed`.
    pub fn fail(mut self, error: &Error) {
        self.file.take();
        self.events.emit(ProgressEvent::failed(&self.path, error));
    }
}

impl FileFailure {
    /// A failure record for `path`.
    pub fn new(path: &RelPath, error: &Error) -> Self {
        FileFailure { path: path.clone(), kind: error.kind(), message: error.to_string() }
    }
}
