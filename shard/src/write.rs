//! Sending a shard: one loop for every transport.
//!
//! [`write_shard`] reads each planned file through the source's reader and
//! appends it to a tar stream written into the transport's [`ShardOut`],
//! which cuts the stream into its own records as it fills; the shard is
//! never held whole, only the current file (at most [`SHARD_ENTRY_MAX`]
//! bytes). Files the walk found empty are appended without being opened
//! ([`PayloadReaderExt::open_to_send`]).

use crate::format::{append, SHARD_ENTRY_MAX};
use blit_api::{Error, ErrorKind, FileHeader, PayloadReader, PayloadReaderExt, SourceFile};
use std::io::{self, Read, Write};

/// Where a shard goes: the tar bytes as a `Write` (cut into records by the
/// transport), and the files that could not be read.
pub trait ShardOut: Write {
    /// Reports a planned file that could not be opened or read; it is not
    /// in the shard. Called between writes, so the record goes out before
    /// tar bytes that are still waiting in the transport's partial record,
    /// which a receiver accepts anywhere inside the shard.
    fn source_failed(&mut self, header: &FileHeader, error: &Error) -> io::Result<()>;
}

fn shrank(header: &FileHeader) -> Error {
    Error::new(ErrorKind::Io, "the file shrank while it was being read")
        .with_path(header.path.display())
        .with_hint("the source changed during the transfer; rerun to pick up changes")
}

/// Writes the shard of `headers` into `out` and ends the tar stream (`buf`
/// is scratch space for one file, kept between shards).
///
/// Returns `out`, which may still hold a partial record the transport must
/// send, and the files that grew past [`SHARD_ENTRY_MAX`] since the walk,
/// open, to send whole after the shard. A failing `out` stops it with that
/// error; a file that cannot be read is reported through
/// [`ShardOut::source_failed`] and the shard goes on.
pub fn write_shard<O: ShardOut>(
    out: O,
    headers: Vec<FileHeader>,
    reader: &dyn PayloadReader,
    buf: &mut Vec<u8>,
) -> io::Result<(O, Vec<SourceFile>)> {
    let mut tar = tar::Builder::new(out);
    let mut alone = Vec::new();
    for header in headers {
        let source = match reader.open_to_send(&header) {
            Ok(Some(source)) => source,
            Ok(None) => {
                append(&mut tar, &header, &[])?;
                continue;
            }
            Err(e) => {
                tar.get_mut().source_failed(&header, &e)?;
                continue;
            }
        };
        let fresh = &source.header;
        if fresh.size > SHARD_ENTRY_MAX || fresh.path.is_root() {
            alone.push(source);
            continue;
        }
        buf.clear();
        match (&source.file).take(fresh.size).read_to_end(buf) {
            Ok(n) if n as u64 == fresh.size => append(&mut tar, fresh, buf)?,
            Ok(_) => tar.get_mut().source_failed(fresh, &shrank(fresh))?,
            Err(e) => tar.get_mut().source_failed(fresh, &Error::io("read", fresh.path.display(), e))?,
        }
    }
    Ok((tar.into_inner()?, alone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{FileKind, RelPath, Result};
    use std::path::PathBuf;
    use std::sync::Mutex;

    /// Opens real files under a directory and remembers which it opened.
    struct Counting(PathBuf, Mutex<Vec<String>>);

    impl PayloadReader for Counting {
        fn open(&self, header: &FileHeader) -> Result<SourceFile> {
            self.1.lock().unwrap().push(header.path.display());
            let path = self.0.join(header.path.display());
            let file = std::fs::File::open(&path).map_err(|e| Error::io("open", header.path.display(), e))?;
            // A file that grew shows its new size; one that shrank keeps the
            // old one, as when it shrinks between the open and the read.
            let size = file.metadata().unwrap().len().max(header.size);
            Ok(SourceFile { file, header: FileHeader { size, ..header.clone() } })
        }
    }

    /// Collects the tar bytes and the reported failures.
    #[derive(Default)]
    struct Collect(Vec<u8>, Vec<String>);

    impl Write for Collect {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.write(data)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl ShardOut for Collect {
        fn source_failed(&mut self, header: &FileHeader, _: &Error) -> io::Result<()> {
            self.1.push(header.path.display());
            Ok(())
        }
    }

    fn header(name: &str, size: u64) -> FileHeader {
        FileHeader {
            path: RelPath::from_bytes(name.as_bytes().to_vec()).unwrap(),
            kind: FileKind::File,
            size,
            mode: 0o600,
            mtime_ns: 7,
            ..FileHeader::default()
        }
    }

    #[test]
    fn empty_files_go_in_unopened_and_the_rest_as_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"abc").unwrap();
        std::fs::write(dir.path().join("shrunk"), b"x").unwrap();
        std::fs::write(dir.path().join("grew"), vec![1u8; SHARD_ENTRY_MAX as usize + 1]).unwrap();
        let reader = Counting(dir.path().to_path_buf(), Mutex::default());
        let headers = vec![
            header("e1", 0),
            header("a", 3),
            header("e2", 0),
            header("missing", 4),
            header("shrunk", 5),
            header("grew", 10),
        ];
        let (out, alone) = write_shard(Collect::default(), headers, &reader, &mut Vec::new()).unwrap();
        assert_eq!(*reader.1.lock().unwrap(), ["a", "missing", "shrunk", "grew"], "empty files must not be opened");
        assert_eq!(out.1, ["missing", "shrunk"]);
        assert_eq!(alone.len(), 1);
        assert_eq!(alone[0].header.path.display(), "grew");
        let mut archive = tar::Archive::new(&out.0[..]);
        let mut entries = archive.entries().unwrap().raw(true);
        let mut got = Vec::new();
        while let Some((mut entry, h)) = crate::read::next_file(&mut entries).unwrap() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            got.push((h.path.display(), h.mode, h.mtime_ns, data));
        }
        let want = [("e1", b"".to_vec()), ("a", b"abc".to_vec()), ("e2", b"".to_vec())];
        assert_eq!(got, want.map(|(p, d)| (p.to_owned(), 0o600, 7, d)));
    }
}
