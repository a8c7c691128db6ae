//! Whole files on one connection: `File`, the body, then `End`, or `Abort`
//! when the source fell short. Used by the sending half and by shards for
//! the files that outgrew them.

use crate::frame::{Enc, Tag};
use crate::out::{Body, Out};
use blit_api::{Error, ErrorKind, FileHeader};
use std::fs::File;

/// Sends one whole file: `File`, its data, `End` (or `Abort`).
/// `file` is `None` for a file the walk found empty, which is never opened
/// ([`PayloadReaderExt::open_to_send`]): `File`, then `End`.
pub(crate) fn send_whole(out: &mut Out, h: &FileHeader, file: Option<&File>, header: &mut Enc) -> std::io::Result<()> {
    header.0.clear();
    header.file_header(h);
    out.record(Tag::File, &header.0)?;
    let Some(file) = file else { return out.record(Tag::End, &[]) };
    let (_, end) = out.body(file, 0, h.size)?;
    finish(out, end, h, header)
}

/// Ends a file or range: `End`, or `Abort` with why the source fell short.
pub(crate) fn finish(out: &mut Out, end: Body, h: &FileHeader, header: &mut Enc) -> std::io::Result<()> {
    match end {
        Body::Sent => out.record(Tag::End, &[]),
        Body::Short(e) => {
            let e = match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    Error::new(ErrorKind::Io, "the file shrank while it was being read")
                        .with_path(h.path.display())
                        .with_hint("the source changed during the transfer; rerun to pick up changes")
                }
                _ => Error::io("read", h.path.display(), e),
            };
            header.0.clear();
            header.failure(&e);
            out.record(Tag::Abort, &header.0)
        }
    }
}
