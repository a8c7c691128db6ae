//! The payload role: carry needed files from the source's reader to the
//! destination's writer.

use crate::{Capabilities, FileHeader, Landing, Result};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One unit of payload work, planned by the source side from need batches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadPlan {
    /// One file, sent whole.
    File(FileHeader),
    /// Several small files sent together (a tar shard on the wire). Only
    /// planned when [`Capabilities::payload_shard`] is set.
    Shard(Vec<FileHeader>),
    /// One large file that may travel as ranges of `range` bytes side by
    /// side, one stream each. Only planned when
    /// [`Capabilities::payload_max_streams`] is above 1; a transport that
    /// uses one stream sends it whole.
    Ranges {
        /// The file.
        header: FileHeader,
        /// Bytes per range (the last may be shorter).
        range: u64,
    },
}

impl PayloadPlan {
    /// The files this plan covers.
    pub fn files(&self) -> &[FileHeader] {
        match self {
            PayloadPlan::File(h) => std::slice::from_ref(h),
            PayloadPlan::Shard(v) => v,
            PayloadPlan::Ranges { header, .. } => std::slice::from_ref(header),
        }
    }
}

/// Sending half of the plan stream.
pub type PlanSender = mpsc::Sender<PayloadPlan>;
/// Receiving half of the plan stream.
pub type PlanReceiver = mpsc::Receiver<PayloadPlan>;

/// A bounded plan channel.
pub fn plan_channel() -> (PlanSender, PlanReceiver) {
    mpsc::channel(64)
}

/// An open source file and its header as of opening (size and mtime may have
/// changed since the walk; the fresh values are what lands).
#[derive(Debug)]
pub struct SourceFile {
    /// The open file, positioned at 0.
    pub file: std::fs::File,
    /// The header refreshed from the open file.
    pub header: FileHeader,
}

impl SourceFile {
    /// The ranges to send and the count of bytes not sent: for a need
    /// entry with a block map ([`FileHeader::resume`]), the blocks that
    /// differ ([`crate::ranges_to_send`]); for a file with holes, its data
    /// ([`crate::data_ranges`]); for a need entry with a part range
    /// ([`FileHeader::part_range`]), that range ([`crate::PartRange::plan`]);
    /// `None` for a file sent whole. Either way the transport sends the
    /// ranges and the count alike, and the destination knows which it asked
    /// for. A read error names the file; report it like a failed open.
    pub fn resume_plan(&self) -> Result<Option<crate::ResumePlan>> {
        if let Some(range) = &self.header.part_range {
            return Ok(Some(range.plan(self.header.size)));
        }
        let Some(map) = &self.header.resume else {
            return crate::data_ranges(&self.file, self.header.size)
                .map_err(|e| crate::Error::io("find the holes of", self.header.path.display(), e));
        };
        crate::ranges_to_send_after(&self.file, self.header.size, map, self.header.prehash.as_deref())
            .map(Some)
            .map_err(|e| crate::Error::io("compare blocks of", self.header.path.display(), e))
    }
}

/// The source endpoint's reader. Blocking: call it from a blocking context.
pub trait PayloadReader: Send + Sync {
    /// Opens the file `header` names. A file that vanished or became
    /// unreadable returns an error naming the path; the caller reports it as a
    /// per-file failure through [`Landing::source_failed`].
    fn open(&self, header: &FileHeader) -> Result<SourceFile>;
}

/// Helpers every [`PayloadReader`] has.
pub trait PayloadReaderExt: PayloadReader {
    /// Opens a planned file for sending, except a file the walk found empty:
    /// there is nothing to read, so it is never opened (`Ok(None)`) and the
    /// sender sends it empty with the walk's header. Every transport's send
    /// path opens files through this, so none spends an open and a close on
    /// an empty file (trees of many empty files are common). A file that
    /// grew since the walk lands empty and is picked up by the next run, as
    /// any change after the walk is. A file offered for resume
    /// ([`FileHeader::resume`]) or given a part range
    /// ([`FileHeader::part_range`]) is always opened: it travels as ranges.
    fn open_to_send(&self, header: &FileHeader) -> Result<Option<SourceFile>> {
        if header.size == 0 && header.resume.is_none() && header.part_range.is_none() {
            return Ok(None);
        }
        self.open(header).map(Some)
    }
}

impl<T: PayloadReader + ?Sized> PayloadReaderExt for T {}

/// A file being landed: a temporary file in the target directory that becomes
/// the final name only on [`LandingFile::commit`]. Dropping it without commit
/// removes the temporary file, except that a destination may keep the
/// partial copy of a large file for `--resume` (an interrupted transfer);
/// [`LandingFile::discard`] always removes it.
pub trait LandingFile: Send + std::fmt::Debug {
    /// The temporary file to write into (any offset).
    fn file(&mut self) -> &mut std::fs::File;
    /// Sets mode and mtime, then renames over the final name atomically.
    fn commit(self: Box<Self>) -> Result<()>;
    /// Gives the file up for good (it failed): removes the temporary file,
    /// partial copy or not. The default drops it.
    fn discard(self: Box<Self>) {}
    /// How messages name this file (a local destination: the target's
    /// full path); `None` names it by its transfer path.
    fn shown(&self) -> Option<String> {
        None
    }

    /// Whether the bytes the source does not send are holes of a new file
    /// ([`land_with_holes`]) rather than kept from a partial copy or an
    /// older version: [`crate::Landing::resume`] then counts them as landed
    /// bytes, not as reused ones.
    fn holes(&self) -> bool {
        false
    }

    /// Copies `len` bytes at `from` of the older version this file is
    /// built on (a delta: [`PayloadWriter::resume`] over an older version)
    /// to `to` of the temporary file; the source found them there
    /// ([`crate::BlockCopy`]). [`crate::Incoming::copy`] has checked that
    /// `to + len` lies inside the file; the writer checks that `from + len`
    /// lies inside the older version and refuses with
    /// [`crate::ErrorKind::Protocol`] otherwise. The default refuses: this
    /// file is not built on an older version.
    fn copy_from_older(&mut self, from: u64, to: u64, len: u64) -> Result<()> {
        let _ = (from, to, len);
        Err(crate::Error::new(crate::ErrorKind::Protocol, "no older version to copy from"))
    }
}

/// A new file whose unsent bytes are holes (see [`LandingFile::holes`]).
#[derive(Debug)]
struct WithHoles(Box<dyn LandingFile>);

impl LandingFile for WithHoles {
    fn file(&mut self) -> &mut std::fs::File {
        self.0.file()
    }
    fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit()
    }
    fn discard(self: Box<Self>) {
        self.0.discard()
    }
    fn shown(&self) -> Option<String> {
        self.0.shown()
    }
    fn holes(&self) -> bool {
        true
    }
}

/// Starts landing `header` as a new file of its full size that the source
/// sends only the data ranges of ([`crate::data_ranges`]): `writer`'s
/// [`PayloadWriter::begin`], then the file is extended to its size, so
/// what is never written stays a hole. What a [`PayloadWriter::resume`]
/// does when it offered nothing for the file.
pub fn land_with_holes(writer: &(impl PayloadWriter + ?Sized), header: &FileHeader) -> Result<Box<dyn LandingFile>> {
    let mut file = writer.begin(header)?;
    let shown = file.shown().unwrap_or_else(|| header.path.display().to_string());
    file.file().set_len(header.size).map_err(|e| crate::Error::io("size", shown, e))?;
    Ok(Box::new(WithHoles(file)))
}

/// The destination endpoint's writer. Blocking: call it from a blocking
/// context.
pub trait PayloadWriter: Send + Sync {
    /// Starts landing a regular file: creates the temporary file (and missing
    /// parent directories).
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn LandingFile>>;

    /// Starts landing a regular file over the partial copy this writer's
    /// judge offered in the need entry ([`FileHeader::resume`]): reopens it,
    /// keeping its content, cut to `header.size`. `reused` is what the
    /// source will not send; a writer refuses more than its partial copy
    /// holds. For a file it offered nothing for, the unsent bytes are the
    /// holes of a sparse file: it lands it with [`land_with_holes`], which
    /// is all the default does (this writer keeps no partial copies).
    fn resume(&self, header: &FileHeader, reused: u64) -> Result<Box<dyn LandingFile>> {
        let _ = reused;
        land_with_holes(self, header)
    }

    /// Starts writing the bytes `span` of `header`'s file into its partial
    /// copy, for a transfer with [`crate::TransferOptions::part_range`]
    /// ([`crate::Landing`] calls it with the span it worked out from its own
    /// options, never from the peer). The writer opens the partial copy, or
    /// creates it at `header.size` with everything unwritten left as holes;
    /// it never cuts it, never writes outside `span` itself, and the
    /// returned file's commit gives it no name and no metadata: a later
    /// resuming transfer does. Other transfers may be writing other ranges
    /// of the same partial copy at the same time: nothing here may remove
    /// or replace it. The default refuses ([`crate::ErrorKind::Unsupported`]):
    /// this writer keeps no partial copies.
    fn land_range(&self, header: &FileHeader, span: std::ops::Range<u64>) -> Result<Box<dyn LandingFile>> {
        let _ = span;
        Err(crate::Error::new(
            crate::ErrorKind::Unsupported,
            "this destination keeps no partial copies to land a part range in",
        )
        .with_path(header.path.display()))
    }
}

/// Moves planned payloads from a [`PayloadReader`] to a [`PayloadWriter`].
///
/// # Contract
///
/// A transport has two halves that run concurrently, possibly in different
/// processes: [`send`](Self::send) on the source side and
/// [`receive`](Self::receive) on the destination side. For every file of
/// every plan, exactly one of these happens on the receiving side:
/// [`Landing::begin`] followed by the bytes, [`crate::Incoming::record`] for
/// each run of bytes written, and [`crate::Incoming::commit`] or
/// [`crate::Incoming::fail`]; or [`Landing::source_failed`] when the source
/// could not read it. `send` returns when every plan was sent; `receive`
/// returns when every sent file was landed or failed. A volume error
/// (no space, read-only) stops `receive` with that error. Transports may
/// carry many files at once; they must never hold a whole large file in
/// memory.
///
/// # Event order
///
/// The transport emits no event itself: [`Landing`] and [`crate::Incoming`]
/// emit `FileStarted`, `FileBytes`, then `FileDone` or `FileFailed` per file,
/// so every transport reports identically.
///
/// # Implementing
///
/// Implement both halves, set [`Capabilities`] to what you support, and run
/// `blit-conformance` against your harness. See `docs/writing-a-transport.md`.
#[async_trait::async_trait]
pub trait PayloadTransport: Send + Sync {
    /// Short stable name used in summaries (`local`, `grpc`, `tcp`, ...).
    fn name(&self) -> &str;

    /// What this transport supports.
    fn capabilities(&self) -> Capabilities;

    /// Source half: reads each planned file and sends it.
    async fn send(&self, plans: PlanReceiver, reader: Arc<dyn PayloadReader>) -> Result<()>;

    /// Destination half: lands every file that arrives.
    async fn receive(&self, landing: Landing) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlockMap, RelPath};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Opens real files under a directory and counts the opens.
    struct Counting(std::path::PathBuf, AtomicUsize);

    impl PayloadReader for Counting {
        fn open(&self, header: &FileHeader) -> Result<SourceFile> {
            self.1.fetch_add(1, Ordering::SeqCst);
            let file = std::fs::File::open(self.0.join(header.path.display()))
                .map_err(|e| crate::Error::io("open", header.path.display(), e))?;
            Ok(SourceFile { file, header: header.clone() })
        }
    }

    fn header(name: &str, size: u64) -> FileHeader {
        FileHeader { path: RelPath::from_bytes(name.as_bytes().to_vec()).unwrap(), size, ..FileHeader::default() }
    }

    #[test]
    fn empty_files_are_never_opened_to_send() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("full"), b"abc").unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        let reader = Counting(dir.path().to_path_buf(), AtomicUsize::new(0));
        let dyn_reader: &dyn PayloadReader = &reader;
        assert!(dyn_reader.open_to_send(&header("empty", 0)).unwrap().is_none());
        // Not even a file that is gone: an empty file costs no system call.
        assert!(reader.open_to_send(&header("gone", 0)).unwrap().is_none());
        assert_eq!(reader.1.load(Ordering::SeqCst), 0);
        let opened = reader.open_to_send(&header("full", 3)).unwrap().expect("a file with bytes is opened");
        assert_eq!(opened.header.size, 3);
        assert!(reader.open_to_send(&header("gone", 5)).is_err());
        assert_eq!(reader.1.load(Ordering::SeqCst), 2);
        // A resumed file needs its content for the block compare, whatever the walk saw.
        let map = BlockMap::new(BlockMap::block_size_for(0), 0, Vec::new()).unwrap();
        let resumed = FileHeader { resume: Some(Arc::new(map)), ..header("empty", 0) };
        assert!(reader.open_to_send(&resumed).unwrap().is_some());
        assert_eq!(reader.1.load(Ordering::SeqCst), 3);
    }
}
