//! The payload records on one connection: `File`, the body, then `End`, or
//! `Abort` when the source fell short; `SourceFailed` for a file that could
//! not be opened. Which records a file becomes is decided once for every
//! transport ([`blit_api::send_file`]); this frames them. Used by the
//! sending half and by shards for the files that outgrew them.

use crate::frame::{Enc, Tag};
use crate::out::{Body, Out};
use crate::shared::gone;
use blit_api::{short_read, Error, FileHeader, RecordWriter, Result, Sent};
use std::fs::File;
use std::sync::Arc;

/// [`RecordWriter`] over one connection.
pub(crate) struct Records<'o> {
    pub(crate) out: &'o mut Out,
    /// The header encoder, reused between records.
    pub(crate) enc: &'o mut Enc,
    /// The peer, for messages.
    pub(crate) peer: &'o str,
}

impl Records<'_> {
    fn record(&mut self, tag: Tag, fill: impl FnOnce(&mut Enc)) -> Result<()> {
        self.enc.0.clear();
        fill(self.enc);
        self.out.record(tag, &self.enc.0).map_err(|e| gone(self.peer, &e))
    }
}

impl RecordWriter for Records<'_> {
    fn file(&mut self, header: &FileHeader) -> Result<()> {
        self.record(Tag::File, |enc| {
            enc.file_header(header);
        })
    }

    fn body(&mut self, file: &Arc<File>, offset: u64, len: u64) -> Result<Sent> {
        match self.out.body(file, offset, len).map_err(|e| gone(self.peer, &e))? {
            (_, Body::Sent) => Ok(Sent::All),
            (_, Body::Short(e)) => Ok(Sent::Short(e)),
        }
    }

    fn end(&mut self) -> Result<()> {
        self.record(Tag::End, |_| {})
    }

    fn abort(&mut self, error: &Error) -> Result<()> {
        self.record(Tag::Abort, |enc| {
            enc.failure(error);
        })
    }

    fn failed(&mut self, header: &FileHeader, error: &Error) -> Result<()> {
        self.record(Tag::SourceFailed, |enc| {
            enc.file_header(header).failure(error);
        })
    }
}

/// Ends a range of a large file: `End`, or `Abort` with why the source fell
/// short ([`short_read`]).
pub(crate) fn finish(out: &mut Out, end: Body, h: &FileHeader, enc: &mut Enc) -> std::io::Result<()> {
    match end {
        Body::Sent => out.record(Tag::End, &[]),
        Body::Short(e) => {
            enc.0.clear();
            enc.failure(&short_read(h, e));
            out.record(Tag::Abort, &enc.0)
        }
    }
}
