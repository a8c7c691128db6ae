//! The shared receiving edge of every transport: lands files through a
//! [`PayloadWriter`] and emits the per-file progress events, so that every
//! transport reports exactly the same way.

use crate::{
    Error, Events, FileFailure, FileHeader, LandingFile, PartRange, PayloadWriter, ProgressEvent, RateLimit, RelPath,
    Result,
};
use std::sync::Arc;

/// Where a transport's receiving half lands files. Cheap to clone.
#[derive(Clone)]
pub struct Landing {
    writer: Arc<dyn PayloadWriter>,
    events: Events,
    limit: Option<Arc<RateLimit>>,
    /// Report `InPlace` after each commit (`blit move`).
    in_place: bool,
    /// A part-range transfer: every file lands as this range of it.
    part: Option<PartRange>,
}

impl std::fmt::Debug for Landing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Landing").finish_non_exhaustive()
    }
}

impl Landing {
    /// A landing that writes through `writer` and reports to `events`.
    pub fn new(writer: Arc<dyn PayloadWriter>, events: Events) -> Self {
        Landing { writer, events, limit: None, in_place: false, part: None }
    }

    /// Lands every file as the range `part` of it, into its partial copy
    /// ([`crate::TransferOptions::part_range`]): [`Landing::resume`] then
    /// calls [`PayloadWriter::land_range`] with the span the range covers
    /// of the header's size and accounts for that span alone (see
    /// `PartRange`'s module docs); [`Landing::begin`] refuses, since a
    /// source that honours the range never sends a file whole.
    pub fn part_range(mut self, part: Option<PartRange>) -> Self {
        self.part = part;
        self
    }

    /// Reports [`ProgressEvent::InPlace`] after each committed file (see
    /// [`crate::TransferOptions::remove_source`]).
    pub fn report_in_place(mut self, on: bool) -> Self {
        self.in_place = on;
        self
    }

    /// Caps the bytes landed through this landing (and its clones) at
    /// `bytes_per_sec`, all files and streams together; 0 removes the cap.
    /// [`Incoming::record`] then sleeps as needed (see [`RateLimit`]).
    pub fn rate_limit(mut self, bytes_per_sec: u64) -> Self {
        self.limit = (bytes_per_sec > 0).then(|| Arc::new(RateLimit::new(bytes_per_sec)));
        self
    }

    /// Starts landing `header` (blocking). Emits `FileStarted`. On failure it
    /// emits `FileFailed` and returns the error: the transport must drain the
    /// file's bytes and go on, unless the error is a volume error
    /// ([`crate::ErrorKind::is_volume_error`]), which must stop the transfer.
    pub fn begin(&self, header: &FileHeader) -> Result<Incoming> {
        if let Some(part) = self.part {
            let e = Error::new(
                crate::ErrorKind::Protocol,
                "the source sent a whole file in a transfer of one part range of it",
            )
            .with_path(header.path.display());
            return self.refuse(header, part.bytes_of(header.size), e);
        }
        self.events.emit(ProgressEvent::FileStarted {
            path: header.path.clone(),
            kind: header.kind,
            size: header.size,
        });
        match self.writer.begin(header) {
            Ok(file) => Ok(self.incoming(header, file, 0, self.in_place)),
            Err(e) => {
                self.events.emit(ProgressEvent::failed(&header.path, &e));
                Err(e)
            }
        }
    }

    /// Starts landing `header` of which the source sends only some ranges
    /// (blocking; see [`crate::SourceFile::resume_plan`]): over the partial
    /// copy or older version the destination offered for it, whose other
    /// `reused` bytes stay as they are, or, when it offered nothing, as a
    /// new sparse file whose other bytes are holes. Emits `FileStarted`,
    /// then `FileResumed` with `reused` (for holes, `FileBytes` with their
    /// count instead); write each range at its offset and
    /// [`Incoming::record`] its bytes, then [`Incoming::commit`], which
    /// checks that the recorded bytes and `reused` add up to the header's
    /// size. Failures behave as in [`Landing::begin`].
    pub fn resume(&self, header: &FileHeader, reused: u64) -> Result<Incoming> {
        if let Some(part) = self.part {
            return self.land_range(header, part, reused);
        }
        self.events.emit(ProgressEvent::FileStarted {
            path: header.path.clone(),
            kind: header.kind,
            size: header.size,
        });
        let opened = if reused > header.size {
            Err(Error::new(
                crate::ErrorKind::Protocol,
                format!("the source resumed {reused} bytes of a file of {}", header.size),
            )
            .with_path(header.path.display()))
        } else {
            self.writer.resume(header, reused)
        };
        match opened {
            Ok(file) => {
                let holes = file.holes();
                if !holes {
                    self.events.emit(ProgressEvent::FileResumed { path: header.path.clone(), bytes: reused });
                }
                let incoming = self.incoming(header, file, reused, self.in_place);
                if holes && reused > 0 {
                    // Holes land as they are: bytes of the file, never sent.
                    let path = incoming.path.clone();
                    incoming.events.emit(ProgressEvent::FileBytes { path, bytes: reused, zero_copy: false });
                }
                Ok(incoming)
            }
            Err(e) => {
                self.events.emit(ProgressEvent::failed(&header.path, &e));
                Err(e)
            }
        }
    }

    /// [`Landing::resume`] of a part-range transfer: `FileStarted` with the
    /// bytes of the span, then the writer's [`PayloadWriter::land_range`].
    /// The source must leave exactly the bytes outside the span unsent.
    fn land_range(&self, header: &FileHeader, part: PartRange, reused: u64) -> Result<Incoming> {
        let span = part.span(header.size);
        let bytes = span.end - span.start;
        if reused != header.size - bytes {
            let e = Error::new(
                crate::ErrorKind::Protocol,
                format!(
                    "the source leaves {reused} bytes of a file of {} unsent; its part range leaves {}",
                    header.size,
                    header.size - bytes
                ),
            )
            .with_path(header.path.display());
            return self.refuse(header, bytes, e);
        }
        self.events.emit(ProgressEvent::FileStarted { path: header.path.clone(), kind: header.kind, size: bytes });
        match self.writer.land_range(header, span) {
            // Not in place: the file has no name yet.
            Ok(file) => Ok(self.incoming(header, file, reused, false)),
            Err(e) => {
                self.events.emit(ProgressEvent::failed(&header.path, &e));
                Err(e)
            }
        }
    }

    /// The landing of `header` into `file`, of which the source leaves
    /// `reused` bytes unsent; `InPlace` follows its commit if `in_place`.
    fn incoming(&self, header: &FileHeader, file: Box<dyn LandingFile>, reused: u64, in_place: bool) -> Incoming {
        Incoming {
            holes: file.holes(),
            file: Some(file),
            path: header.path.clone(),
            kind: header.kind,
            size: header.size,
            written: 0,
            reused,
            copied: 0,
            events: self.events.clone(),
            limit: self.limit.clone(),
            in_place: in_place.then_some(header.mtime_ns),
        }
    }

    /// Reports `header`'s file (announced as `size` bytes) started and
    /// failed with `e`, and returns `e`.
    fn refuse(&self, header: &FileHeader, size: u64, e: Error) -> Result<Incoming> {
        self.events.emit(ProgressEvent::FileStarted { path: header.path.clone(), kind: header.kind, size });
        self.events.emit(ProgressEvent::failed(&header.path, &e));
        Err(e)
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
    /// Bytes the source does not send ([`Landing::resume`]): kept from a
    /// partial copy or an older version, or holes; 0 otherwise.
    reused: u64,
    /// The `reused` bytes are holes: they count as landed bytes.
    holes: bool,
    /// Bytes of `reused` copied within the older version so far.
    copied: u64,
    events: Events,
    limit: Option<Arc<RateLimit>>,
    /// The header's mtime, when `InPlace` is reported on commit.
    in_place: Option<i64>,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").field("path", &self.path).field("written", &self.written).finish()
    }
}

impl Incoming {
    /// How messages name the file: the destination's name for it
    /// ([`LandingFile::shown`]), else its transfer path.
    pub fn shown(&self) -> String {
        self.file.as_ref().and_then(|f| f.shown()).unwrap_or_else(|| self.path.to_string())
    }

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

    /// Bytes the source does not send: kept from the destination's partial
    /// copy or older version, or holes (0 unless the file was begun with
    /// [`Landing::resume`]).
    pub fn reused(&self) -> u64 {
        self.reused
    }

    /// The path being landed.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// Records `n` bytes written through user space. Emits `FileBytes`.
    /// Under a rate limit ([`Landing::rate_limit`]) it sleeps until the
    /// limit allows these bytes, which slows the sender through the
    /// transport's back-pressure; like [`Landing::begin`], call it from a
    /// blocking thread.
    pub fn record(&mut self, n: u64) {
        self.add(n, false);
    }

    /// Records `n` bytes the kernel moved without a user-space copy; may
    /// sleep like [`Incoming::record`].
    pub fn record_zero_copy(&mut self, n: u64) {
        self.add(n, true);
    }

    fn add(&mut self, n: u64, zero_copy: bool) {
        if n == 0 {
            return;
        }
        self.written += n;
        self.events.emit(ProgressEvent::FileBytes { path: self.path.clone(), bytes: n, zero_copy });
        if let Some(limit) = &self.limit {
            limit.charge(n);
        }
    }

    /// Copies `len` bytes at `from` of the older version the file is built
    /// on to `to` (a [`crate::BlockCopy`] the source sent; blocking).
    /// Copied bytes are part of the `reused` bytes [`Landing::resume`] was
    /// given, so no `FileBytes` is emitted. Checks what the peer sent: the
    /// copy lies inside the file and the copies so far do not exceed
    /// `reused`; the writer checks the older version's side
    /// ([`LandingFile::copy_from_older`]). A bad copy is an
    /// [`crate::ErrorKind::Protocol`] error naming the file; fail the file
    /// with it.
    pub fn copy(&mut self, from: u64, to: u64, len: u64) -> Result<()> {
        let inside = to.checked_add(len).is_some_and(|end| end <= self.size);
        let counted = self.copied.checked_add(len).filter(|&c| c <= self.reused && !self.holes);
        let Some(copied) = counted.filter(|_| inside) else {
            return Err(Error::new(
                crate::ErrorKind::Protocol,
                format!(
                    "a copy of {len} bytes to {to} that does not fit a file of {} ({} reused)",
                    self.size, self.reused
                ),
            )
            .with_path(self.shown()));
        };
        let file = self.file.as_mut().expect("Incoming holds its file until commit or fail");
        file.copy_from_older(from, to, len).map_err(|e| match e.path() {
            Some(_) => e,
            None => e.with_path(self.shown()),
        })?;
        self.copied = copied;
        Ok(())
    }

    /// Lands the file under its final name. Emits `FileDone`, or `FileFailed`
    /// and returns the error when the rename or metadata fails. Refuses a file
    /// whose recorded length differs from the header's size.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("Incoming holds its file until commit or fail");
        if self.written + self.reused != self.size {
            let e = Error::new(
                crate::ErrorKind::Protocol,
                format!("received {} bytes, header announced {}", self.written + self.reused, self.size),
            )
            .with_path(self.path.display());
            file.discard();
            self.events.emit(ProgressEvent::failed(&self.path, &e));
            return Err(e);
        }
        match file.commit() {
            Ok(()) => {
                self.events.emit(ProgressEvent::FileDone {
                    path: self.path.clone(),
                    kind: self.kind,
                    bytes: self.written + if self.holes { self.reused } else { 0 },
                });
                if let Some(mtime_ns) = self.in_place {
                    let (path, kind, size) = (self.path.clone(), self.kind, self.size);
                    self.events.emit(ProgressEvent::InPlace { path, kind, size, mtime_ns });
                }
                Ok(())
            }
            Err(e) => {
                self.events.emit(ProgressEvent::failed(&self.path, &e));
                Err(e)
            }
        }
    }

    /// Gives up on this file: removes the temporary file
    /// ([`LandingFile::discard`]), emits `FileFailed`. Dropping an `Incoming`
    /// instead (the transfer was interrupted) lets a destination keep a
    /// partial copy for `--resume`.
    pub fn fail(mut self, error: &Error) {
        if let Some(file) = self.file.take() {
            file.discard();
        }
        self.events.emit(ProgressEvent::failed(&self.path, error));
    }
}

impl FileFailure {
    /// A failure record for `path`.
    pub fn new(path: &RelPath, error: &Error) -> Self {
        FileFailure { path: path.clone(), kind: error.kind(), message: error.to_string() }
    }
}
