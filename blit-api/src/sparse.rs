//! Sparse files: holes are found at the source and never sent, and the
//! destination leaves them holes.
//!
//! A file whose allocated blocks cover less than its size has holes. The
//! source asks the kernel where its data lies (`SEEK_DATA`/`SEEK_HOLE`) and
//! sends only those ranges, with the holes' bytes as the count the
//! destination does not receive, exactly as a resumed file's kept bytes
//! travel ([`crate::ResumePlan`]); every transport that carries resumes
//! carries holes. The destination, which offered no partial copy or older
//! version of the file, lands it in a new temporary file of the full size
//! ([`crate::land_with_holes`]), so what was not written stays a hole. The
//! events count holes as landed bytes (`FileBytes`), not as reused ones.
//!
//! Zeros that are written out (allocated) are data and are sent; holes of a
//! file that is also resumed or sent as a delta travel as that comparison
//! decides.

use crate::ResumePlan;
use rustix::fs::SeekFrom;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;

/// Files smaller than this (128 KiB) are sent whole, holes or not.
pub const SPARSE_MIN: u64 = 128 * 1024;
/// Most data ranges a sparse plan holds; a file more fragmented than this
/// is sent whole (its holes then land as written zeros).
const MAX_RANGES: usize = 64 * 1024;

/// For the open source `file` of `size` bytes: when it has holes, the data
/// ranges to send and the bytes of holes; `None` for a file without holes
/// (the common case costs one `fstat`).
pub fn data_ranges(file: &File, size: u64) -> io::Result<Option<ResumePlan>> {
    let meta = file.metadata()?;
    if size < SPARSE_MIN || meta.blocks().saturating_mul(512) >= size {
        return Ok(None);
    }
    let mut ranges: Vec<Range<u64>> = Vec::new();
    let mut at = 0;
    while at < size {
        let start = match rustix::fs::seek(file, SeekFrom::Data(at)) {
            Ok(start) => start.min(size),
            // No data after `at`: the rest is a hole.
            Err(rustix::io::Errno::NXIO) => break,
            // A file system that cannot tell: send the file whole.
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOTSUP) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if start >= size {
            break;
        }
        let end = match rustix::fs::seek(file, SeekFrom::Hole(start)) {
            Ok(end) => end.clamp(start + 1, size),
            Err(rustix::io::Errno::NXIO) => size,
            Err(e) => return Err(e.into()),
        };
        if ranges.len() == MAX_RANGES {
            return Ok(None);
        }
        ranges.push(start..end);
        at = end;
    }
    let data: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    if data == size {
        return Ok(None);
    }
    Ok(Some(ResumePlan { ranges, copies: Vec::new(), reused: size - data }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn finds_the_data_between_holes_and_nothing_in_a_dense_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse");
        let f = File::options().create(true).truncate(true).read(true).write(true).open(&path).unwrap();
        let mib = 1u64 << 20;
        f.set_len(8 * mib).unwrap();
        f.write_all_at(&[1; 4096], 2 * mib).unwrap();
        f.write_all_at(&[2; 4096], 5 * mib).unwrap();
        match data_ranges(&f, 8 * mib).unwrap() {
            // The file system keeps holes: two data ranges of at least the
            // written bytes, everything else a hole.
            Some(plan) => {
                assert_eq!(plan.ranges.len(), 2, "{:?}", plan.ranges);
                assert!(plan.ranges[0].contains(&(2 * mib)) && plan.ranges[1].contains(&(5 * mib)));
                assert_eq!(plan.reused + plan.bytes(), 8 * mib);
                assert!(plan.bytes() < mib, "{} bytes of data", plan.bytes());
            }
            // A file system without holes allocates everything.
            None => assert!(f.metadata().unwrap().blocks() * 512 >= 8 * mib),
        }
        let dense = dir.path().join("dense");
        std::fs::write(&dense, vec![3u8; (2 * mib) as usize]).unwrap();
        assert!(data_ranges(&File::open(&dense).unwrap(), 2 * mib).unwrap().is_none());
        // All hole: nothing to send.
        let empty = File::options().create(true).truncate(true).write(true).open(dir.path().join("hole")).unwrap();
        empty.set_len(mib).unwrap();
        if let Some(plan) = data_ranges(&empty, mib).unwrap() {
            assert!(plan.ranges.is_empty() && plan.reused == mib, "{plan:?}");
        }
    }
}
