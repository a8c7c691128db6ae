//! Large files arrive in ranges over several connections: one landing per
//! file, shared by the connections that carry its ranges.
//!
//! The first range of a file to arrive (on any connection) begins its
//! landing; every range then writes at its own offsets with positional
//! writes through a duplicate of the landing file's descriptor, so
//! connections never wait for each other's disk writes, and records its
//! bytes as they land. When every range has been accounted for (landed or
//! aborted) the file is committed, or, if a range was aborted or failed to
//! write, it was failed exactly once. Ranges must lie inside the announced
//! size and add up to it; anything else is a protocol error.
//!
//! A file the destination resumes (`ResumeRange` records) begins through
//! [`Landing::resume`] over its partial copy: its ranges add up to the size
//! less the bytes it keeps, and a file with nothing to send arrives as one
//! empty range. A delta file may also carry `Copy` records (on any
//! connection, before or after its ranges; the first record of either kind
//! begins the landing): each copy is made within the older version
//! ([`Incoming::copy`]) and counts toward the file's completion like a
//! range, so the file is committed only once its ranges and its copies
//! (every record states their total) are all in.

use crate::inbound::protocol;
use blit_api::{keep_going, Error, FileHeader, Incoming, Landing, Result};
use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The files whose ranges are arriving.
#[derive(Debug, Default)]
pub(crate) struct Assembly {
    files: Mutex<HashMap<u64, Arc<Entry>>>,
}

/// Where one range of a file goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    /// The file's id within the transfer.
    pub(crate) id: u64,
    /// The range's first byte.
    pub(crate) offset: u64,
    /// The range's length.
    pub(crate) len: u64,
    /// For a resumed file: the bytes the destination keeps.
    pub(crate) reused: Option<u64>,
    /// Of those, the bytes its `Copy` records copy, all together.
    pub(crate) copied: u64,
}

/// One file being assembled.
#[derive(Debug)]
pub(crate) struct Entry {
    header: FileHeader,
    /// For a resumed file: the bytes kept from the partial copy.
    reused: Option<u64>,
    /// Of those, the bytes copied within the older version.
    copied: u64,
    /// A duplicate of the landing file's descriptor, for positional writes.
    file: Option<File>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// `None` once failed (reported) or committed.
    incoming: Option<Incoming>,
    accounted: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Assembly {
    /// A range of file `id` begins: checks it against the file's header and
    /// begins the landing when it is the file's first range.
    pub(crate) fn begin(&self, span: Span, header: FileHeader, landing: &Landing, peer: &str) -> Result<Arc<Entry>> {
        let Span { id, reused, copied, .. } = span;
        let mut files = lock(&self.files);
        let entry = match files.get(&id) {
            Some(entry) => {
                let same = entry.reused == reused && entry.copied == copied;
                if entry.header.size != header.size || entry.header.path != header.path || !same {
                    return Err(protocol(peer, format!("ranges of file {id} with different headers")));
                }
                entry.clone()
            }
            None => {
                let begun = match reused {
                    Some(reused) => landing.resume(&header, reused),
                    None => landing.begin(&header),
                };
                // A file whose landing failed is remembered as failed, so its
                // other ranges (on other connections) do not begin it again.
                let (incoming, file, failed) = match begun {
                    Ok(mut incoming) => match incoming.file().try_clone() {
                        Ok(file) => (Some(incoming), Some(file), Ok(())),
                        Err(e) => {
                            let e = Error::io("duplicate the landing file", header.path.display(), e);
                            incoming.fail(&e);
                            (None, None, keep_going(Err(e)))
                        }
                    },
                    Err(e) => (None, None, keep_going(Err(e))),
                };
                let state = Mutex::new(State { incoming, accounted: 0 });
                let entry = Arc::new(Entry { header, reused, copied, file, state });
                files.insert(id, entry.clone());
                failed?;
                entry
            }
        };
        // `Dec::range_header` checked that the range lies inside the file.
        Ok(entry)
    }

    /// The file to write a range into, or `None` once the file failed.
    pub(crate) fn target(entry: &Entry) -> Option<&File> {
        lock(&entry.state).incoming.as_ref()?;
        entry.file.as_ref()
    }

    /// Records `n` bytes that landed.
    pub(crate) fn landed(entry: &Entry, n: u64, zero_copy: bool) {
        if let Some(incoming) = lock(&entry.state).incoming.as_mut() {
            if zero_copy {
                incoming.record_zero_copy(n);
            } else {
                incoming.record(n);
            }
        }
    }

    /// Makes `copies` within the older version the file is built on. A
    /// copy the landing refuses fails the file once (and a volume error
    /// stops the transfer); the copies are counted by [`Assembly::end`]
    /// either way.
    pub(crate) fn copy(entry: &Entry, copies: &[blit_api::BlockCopy]) -> Result<()> {
        let mut state = lock(&entry.state);
        for c in copies {
            let Some(incoming) = state.incoming.as_mut() else { return Ok(()) };
            if let Err(e) = incoming.copy(c.from, c.to, c.len) {
                if let Some(incoming) = state.incoming.take() {
                    incoming.fail(&e);
                }
                return keep_going(Err(e));
            }
        }
        Ok(())
    }

    /// A write failed: fails the file once (and stops the transfer on a
    /// volume error).
    pub(crate) fn write_failed(entry: &Entry, e: std::io::Error) -> Result<()> {
        let e = Error::io("write", entry.header.path.display(), e);
        if let Some(incoming) = lock(&entry.state).incoming.take() {
            incoming.fail(&e);
        }
        keep_going(Err(e))
    }

    /// A range of `len` bytes (or copies of `len` bytes in all) ended:
    /// landed (`abort` is `None`) or aborted by the source. Commits or fails
    /// the file once all its ranges and copies are in.
    pub(crate) fn end(&self, id: u64, entry: &Entry, len: u64, abort: Option<Error>, peer: &str) -> Result<()> {
        let done = {
            let mut state = lock(&entry.state);
            state.accounted = state.accounted.saturating_add(len);
            // `Dec::range_header` and `copy_header` checked copied <= reused <= size.
            let expected = entry.header.size - entry.reused.unwrap_or(0) + entry.copied;
            if state.accounted > expected {
                return Err(protocol(peer, format!("overlapping ranges of {}", entry.header.path)));
            }
            if let Some(e) = abort {
                if let Some(incoming) = state.incoming.take() {
                    incoming.fail(&e);
                }
            }
            (state.accounted == expected).then(|| state.incoming.take())
        };
        let Some(incoming) = done else { return Ok(()) };
        lock(&self.files).remove(&id);
        match incoming {
            Some(incoming) => keep_going(incoming.commit()),
            None => Ok(()),
        }
    }

    /// Files some of whose ranges never arrived.
    pub(crate) fn unfinished(&self) -> Vec<String> {
        lock(&self.files).values().map(|e| e.header.path.display()).collect()
    }
}
