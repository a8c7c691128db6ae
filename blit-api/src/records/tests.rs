use super::*;
use crate::{BlockMap, RelPath, RESUME_BLOCK_MIN};
use std::sync::Arc;

/// What a writer was asked to frame, in order.
#[derive(Debug, PartialEq)]
enum Rec {
    File(String, u64),
    Range(u64, u64),
    Copy(u64, u64, u64),
    Body(u64, u64),
    End,
    Abort(String),
    Failed(String, String),
}

/// Records calls; its body sends `len` bytes unless the file holds fewer.
/// With `.1` set it does not carry copies.
#[derive(Default)]
struct Recorder(Vec<Rec>, bool);

impl RecordWriter for Recorder {
    fn file(&mut self, h: &FileHeader) -> Result<()> {
        assert!(h.resume.is_none(), "no block map reaches the wire");
        self.0.push(Rec::File(h.path.display(), h.size));
        Ok(())
    }
    fn range(&mut self, offset: u64, reused: u64) -> Result<()> {
        self.0.push(Rec::Range(offset, reused));
        Ok(())
    }
    fn carries_copies(&self) -> bool {
        !self.1
    }

    fn copy(&mut self, to: u64, from: u64, len: u64) -> Result<()> {
        self.0.push(Rec::Copy(to, from, len));
        Ok(())
    }
    fn body(&mut self, file: &Arc<File>, offset: u64, len: u64) -> Result<Sent> {
        self.0.push(Rec::Body(offset, len));
        let mut buf = vec![0; len as usize];
        Ok(match std::os::unix::fs::FileExt::read_exact_at(&**file, &mut buf, offset) {
            Ok(()) => Sent::All,
            Err(e) => Sent::Short(e),
        })
    }
    fn end(&mut self) -> Result<()> {
        self.0.push(Rec::End);
        Ok(())
    }
    fn abort(&mut self, e: &Error) -> Result<()> {
        self.0.push(Rec::Abort(e.to_string()));
        Ok(())
    }
    fn failed(&mut self, h: &FileHeader, e: &Error) -> Result<()> {
        assert!(h.resume.is_none(), "no block map reaches the wire");
        self.0.push(Rec::Failed(h.path.display(), e.kind().to_string()));
        Ok(())
    }
}

/// Opens files below a directory, with the walk's header (no refresh), so
/// a test can claim a size the file no longer has.
struct Dir(std::path::PathBuf);

impl PayloadReader for Dir {
    fn open(&self, header: &FileHeader) -> Result<SourceFile> {
        let path = header.path.to_path(&self.0);
        let file = File::open(&path).map_err(|e| Error::io("open", path.display(), e))?;
        Ok(SourceFile { file, header: header.clone() })
    }
}

fn header(name: &str, size: u64) -> FileHeader {
    FileHeader { path: RelPath::from_bytes(name.as_bytes().to_vec()).unwrap(), size, ..FileHeader::default() }
}

fn sent(reader: &Dir, h: &FileHeader) -> Vec<Rec> {
    let mut out = Recorder::default();
    send_file(reader, h, &mut out).unwrap();
    out.0
}

#[test]
fn whole_empty_missing_and_short_files() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("f"), b"hello").unwrap();
    let dir = Dir(t.path().to_path_buf());
    assert_eq!(sent(&dir, &header("f", 5)), [Rec::File("f".into(), 5), Rec::Body(0, 5), Rec::End]);
    // Empty at the walk: never opened (it does not even exist here).
    assert_eq!(sent(&dir, &header("empty", 0)), [Rec::File("empty".into(), 0), Rec::End]);
    let got = sent(&dir, &header("gone", 3));
    assert!(matches!(&got[..], [Rec::Failed(p, _)] if p == "gone"), "{got:?}");
    // Shrank since the walk: the file is aborted, not ended.
    let got = sent(&dir, &header("f", 9));
    assert!(matches!(&got[..], [Rec::File(..), Rec::Body(0, 9), Rec::Abort(why)] if why.contains("shrank")), "{got:?}");
}

#[test]
fn a_resumed_file_sends_only_the_ranges_that_differ() {
    let t = tempfile::tempdir().unwrap();
    let block = u64::from(RESUME_BLOCK_MIN);
    let size = 4 * block;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(t.path().join("big"), &data).unwrap();
    // The destination kept the first three blocks, the second one wrong.
    let mut partial = data[..3 * block as usize].to_vec();
    partial[block as usize] ^= 1;
    std::fs::write(t.path().join("partial"), &partial).unwrap();
    let kept = File::open(t.path().join("partial")).unwrap();
    let map = BlockMap::hash_file(&kept, size, 3 * block).unwrap();
    assert_eq!(u64::from(map.block_size()), block, "one block per RESUME_BLOCK_MIN at this size");
    let mut h = header("big", size);
    h.resume = Some(Arc::new(map));
    let dir = Dir(t.path().to_path_buf());
    let reused = 2 * block;
    assert_eq!(
        sent(&dir, &h),
        [
            Rec::File("big".into(), size),
            Rec::Range(block, reused),
            Rec::Body(block, block),
            Rec::Range(3 * block, reused),
            Rec::Body(3 * block, block),
            Rec::End
        ]
    );
    // Nothing differs: one empty range at the end commits it.
    std::fs::write(t.path().join("partial"), &data).unwrap();
    let kept = File::open(t.path().join("partial")).unwrap();
    h.resume = Some(Arc::new(BlockMap::hash_file(&kept, size, size).unwrap()));
    assert_eq!(sent(&dir, &h), [Rec::File("big".into(), size), Rec::Range(size, size), Rec::End]);
}

#[test]
fn a_writer_without_resume_refuses_a_range() {
    struct Plain;
    impl RecordWriter for Plain {
        fn file(&mut self, _: &FileHeader) -> Result<()> {
            Ok(())
        }
        fn body(&mut self, _: &Arc<File>, _: u64, _: u64) -> Result<Sent> {
            Ok(Sent::All)
        }
        fn end(&mut self) -> Result<()> {
            Ok(())
        }
        fn abort(&mut self, _: &Error) -> Result<()> {
            Ok(())
        }
        fn failed(&mut self, _: &FileHeader, _: &Error) -> Result<()> {
            Ok(())
        }
    }
    assert_eq!(Plain.range(0, 0).unwrap_err().kind(), ErrorKind::Unsupported);
    assert_eq!(Plain.copy(0, 0, 1).unwrap_err().kind(), ErrorKind::Unsupported);
}

#[test]
fn a_delta_sends_its_copies_after_the_first_range() {
    let t = tempfile::tempdir().unwrap();
    let block = 4096u64;
    let old: Vec<u8> = (0..10 * block).map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8).collect();
    // 100 bytes inserted into the second block: the first block stays,
    // the rest moved by 100 bytes.
    let mut new = old.clone();
    new.splice(5000..5000, [7u8; 100]);
    std::fs::write(t.path().join("old"), &old).unwrap();
    std::fs::write(t.path().join("big"), &new).unwrap();
    let kept = File::open(t.path().join("old")).unwrap();
    let mut h = header("big", new.len() as u64);
    h.resume = Some(Arc::new(BlockMap::hash_delta(&kept, block as u32, old.len() as u64).unwrap()));
    let (size, moved) = (new.len() as u64, 2 * block + 100);
    let reused = size - block - 100;
    assert_eq!(
        sent(&Dir(t.path().to_path_buf()), &h),
        [
            Rec::File("big".into(), size),
            Rec::Range(block, reused),
            Rec::Copy(moved, 2 * block, size - moved),
            Rec::Body(block, block + 100),
            Rec::End
        ]
    );
    // A writer that carries no copies gets them as data.
    let mut plain = Recorder(Vec::new(), true);
    send_file(&Dir(t.path().to_path_buf()), &h, &mut plain).unwrap();
    let whole = [Rec::File("big".into(), size), Rec::Range(block, block), Rec::Body(block, size - block), Rec::End];
    assert_eq!(plain.0, whole);
}

/// Lands into files of a temporary directory (no resume).
struct TempWriter(std::path::PathBuf);

#[derive(Debug)]
struct TempFile(File, std::path::PathBuf);

impl crate::LandingFile for TempFile {
    fn file(&mut self) -> &mut File {
        &mut self.0
    }
    fn commit(self: Box<Self>) -> Result<()> {
        std::fs::rename(&self.1, self.1.with_extension("done")).map_err(|e| Error::io("commit", "t", e))
    }
}

impl crate::PayloadWriter for TempWriter {
    fn begin(&self, header: &FileHeader) -> Result<Box<dyn crate::LandingFile>> {
        let path = header.path.to_path(&self.0);
        let file = File::create(&path).map_err(|e| Error::io("create", path.display(), e))?;
        Ok(Box::new(TempFile(file, path)))
    }
}

/// A landing into `dir` and the sink of its events.
fn temp_landing(dir: &std::path::Path) -> (crate::Landing, Arc<crate::RecordingSink>) {
    let sink = crate::RecordingSink::new();
    (crate::Landing::new(Arc::new(TempWriter(dir.to_path_buf())), sink.clone()), sink)
}

fn events_of(sink: &crate::RecordingSink) -> Vec<String> {
    sink.events()
        .iter()
        .filter_map(|e| match e {
            crate::ProgressEvent::FileDone { path, bytes, .. } => Some(format!("done {path} {bytes}")),
            crate::ProgressEvent::FileFailed { path, kind, .. } => Some(format!("failed {path} {kind}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lander_lands_checks_and_reports_every_record() {
    let t = tempfile::tempdir().unwrap();
    let (landing, sink) = temp_landing(t.path());
    let mut lander = Lander::new(&landing);
    lander.file(header("a", 5)).unwrap();
    assert!(lander.busy());
    lander.data(b"hel").unwrap();
    lander.data(b"lo").unwrap();
    lander.end().unwrap();
    assert_eq!(std::fs::read(t.path().join("a.done")).unwrap(), b"hello");
    lander.file(header("b", 4)).unwrap();
    lander.data(b"ab").unwrap();
    lander.abort(&Error::new(ErrorKind::Io, "the file shrank")).unwrap();
    lander.failed(&header("c", 1), &Error::new(ErrorKind::NotFound, "gone")).unwrap();
    lander.done().unwrap();
    assert_eq!(events_of(&sink), ["done a 5", "failed b io", "failed c not_found"]);
    // Records that do not fit together are a broken protocol.
    #[track_caller]
    fn protocol(r: Result<()>) {
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Protocol);
    }
    protocol(Lander::new(&landing).data(b"x"));
    protocol(Lander::new(&landing).end());
    protocol(Lander::new(&landing).abort(&Error::new(ErrorKind::Io, "x")));
    let mut l = Lander::new(&landing);
    l.file(header("d", 2)).unwrap();
    protocol(l.data(b"xyz"));
    let mut l = Lander::new(&landing);
    l.file(header("e", 2)).unwrap();
    l.data(b"e").unwrap();
    protocol(l.range(0, 0));
    let mut l = Lander::new(&landing);
    l.file(header("f", 2)).unwrap();
    protocol(l.file(header("g", 1)));
    let mut l = Lander::new(&landing);
    l.file(header("h", 2)).unwrap();
    l.data(b"h").unwrap();
    protocol(l.done());
    let mut dir = header("i", 0);
    dir.kind = crate::FileKind::Dir;
    protocol(Lander::new(&landing).file(dir));
}

#[test]
fn a_file_that_cannot_be_written_is_skipped_and_a_broken_stream_fails_it() {
    let t = tempfile::tempdir().unwrap();
    let (landing, sink) = temp_landing(t.path());
    let mut lander = Lander::new(&landing);
    lander.file(header("w", 4)).unwrap();
    let refused = lander.write(2, false, |_, _| Err(io::Error::other("bad sector"))).unwrap();
    assert!(refused, "a write error is the file's, reported");
    assert!(!lander.write(2, false, |_, _| panic!("a skipped file is not written")).unwrap());
    lander.end().unwrap();
    lander.file(header("s", 4)).unwrap();
    lander.data(b"ab").unwrap();
    let e = lander.stop(Error::new(ErrorKind::Cancelled, "the stream broke"));
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert!(!lander.busy());
    assert_eq!(events_of(&sink), ["failed w io", "failed s cancelled"]);
}

#[test]
fn a_copy_the_landing_refuses_fails_its_file_and_a_misplaced_one_breaks_the_stream() {
    let t = tempfile::tempdir().unwrap();
    let (landing, sink) = temp_landing(t.path());
    let mut lander = Lander::new(&landing);
    // This writer offered nothing: the unsent bytes are holes, never copies.
    lander.file(header("holes", 10)).unwrap();
    lander.range(0, 6).unwrap();
    lander.copy(4, 0, 6).unwrap();
    assert!(!lander.write(4, false, |_, _| panic!("a failed file is not written")).unwrap());
    lander.end().unwrap();
    assert_eq!(events_of(&sink), ["failed holes protocol"]);
    let mut l = Lander::new(&landing);
    l.file(header("p", 10)).unwrap();
    assert_eq!(l.copy(0, 0, 1).unwrap_err().kind(), ErrorKind::Protocol, "before the first range");
    let mut l = Lander::new(&landing);
    l.file(header("w", 1)).unwrap();
    l.data(b"w").unwrap();
    assert_eq!(l.copy(0, 0, 1).unwrap_err().kind(), ErrorKind::Protocol, "in a whole file");
    assert_eq!(Lander::new(&landing).copy(0, 0, 1).unwrap_err().kind(), ErrorKind::Protocol, "outside a file");
}

#[path = "tests/stream.rs"]
mod stream;
