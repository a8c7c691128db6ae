//! The source's half of hashing ahead: files the destination said it is
//! comparing with an older version ([`blit_api::NeedBatch::ahead`]) are
//! hashed here meanwhile, and the need entry that follows with the block
//! map takes the result ([`blit_api::FileHeader::prehash`]).

use blit_api::{Ahead, FileHeader, PayloadReader, Prehash};
use std::collections::VecDeque;
use std::sync::Arc;

/// Most files hashed ahead at once: the destination hashes one older
/// version at a time, so the newest hint is the one that matters; an older
/// one whose entry never came (the comparison failed) is stopped.
const AHEAD_MAX: usize = 2;

/// The hashings running for hints whose need entries have not come yet.
pub(super) struct Prehashes {
    reader: Arc<dyn PayloadReader>,
    running: VecDeque<(blit_api::RelPath, Arc<Prehash>)>,
}

impl Prehashes {
    pub(super) fn new(reader: Arc<dyn PayloadReader>) -> Self {
        Prehashes { reader, running: VecDeque::new() }
    }

    /// Starts hashing the file `hint` names (opened through the reader, on
    /// the hashing's own thread); the oldest hashing stops when
    /// [`AHEAD_MAX`] run already.
    pub(super) fn start(&mut self, hint: Ahead) {
        let Ahead { header, basis_len } = hint;
        if header.size < blit_api::DELTA_MIN || basis_len == 0 {
            return;
        }
        let path = header.path.clone();
        let reader = self.reader.clone();
        let open = move || reader.open(&header).ok().map(|source| source.file);
        let Some(prehash) = Prehash::start(open, basis_len) else { return };
        self.running.retain(|(p, _)| *p != path);
        if self.running.len() >= AHEAD_MAX {
            self.running.pop_front();
        }
        self.running.push_back((path, Arc::new(prehash)));
    }

    /// `h` with the hashing started for it, when it came with a block map
    /// to compare against; a hashing for a file that came without one
    /// stops.
    pub(super) fn attach(&mut self, mut h: FileHeader) -> FileHeader {
        let at = self.running.iter().position(|(p, _)| *p == h.path);
        if let Some((_, prehash)) = at.and_then(|at| self.running.remove(at)) {
            h.prehash = h.resume.is_some().then_some(prehash);
        }
        h
    }
}
