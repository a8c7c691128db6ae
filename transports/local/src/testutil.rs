//! Helpers shared by the unit tests.

use crate::{meta, LocalDestination, LocalSource};
use blit_api::{
    manifest_channel, need_channel, Events, FileHeader, FileKind, ManifestItem, ManifestSource, NeedBatch,
    NeedListSink, ProgressEvent, RecordingSink, RelPath, Result, TransferOptions,
};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

/// Runs the walker and collects every item.
pub(crate) async fn walk(root: &Path, options: &TransferOptions) -> (Result<()>, Vec<ManifestItem>) {
    let (tx, mut rx) = manifest_channel();
    let source = LocalSource::new(root.to_path_buf());
    let walked = source.manifest(options, tx).await;
    let mut items = Vec::new();
    while let Some(item) = rx.recv().await {
        items.push(item);
    }
    (walked, items)
}

/// The result of one `need_list` run.
pub(crate) struct Judged {
    pub(crate) batches: Vec<NeedBatch>,
    pub(crate) events: Arc<RecordingSink>,
}

impl Judged {
    /// Paths of every needed file, in order.
    pub(crate) fn needed(&self) -> Vec<String> {
        self.batches.iter().flat_map(|b| b.files.iter().map(|h| h.path.display())).collect()
    }

    /// The recorded events.
    pub(crate) fn events(&self) -> Vec<ProgressEvent> {
        self.events.events()
    }
}

/// Feeds `items` to `dest.need_list` and collects the batches.
pub(crate) async fn judge(dest: &LocalDestination, options: &TransferOptions, items: Vec<ManifestItem>) -> Judged {
    let (mtx, mrx) = manifest_channel();
    let (ntx, mut nrx) = need_channel();
    let events = RecordingSink::new();
    // In batches, as a walker sends them.
    let feed = tokio::spawn(async move {
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let batch: Vec<ManifestItem> = items.by_ref().take(blit_api::MANIFEST_BATCH).collect();
            if mtx.send_all(batch).await.is_err() {
                break;
            }
        }
    });
    let collect = tokio::spawn(async move {
        let mut batches = Vec::new();
        while let Some(b) = nrx.recv().await {
            batches.push(b);
        }
        batches
    });
    dest.need_list(options, mrx, ntx, events.clone() as Events).await.unwrap();
    feed.await.unwrap();
    let batches = collect.await.unwrap();
    assert_eq!(batches.last(), Some(&NeedBatch::default()), "the need list ends with an empty batch");
    Judged { batches, events }
}

/// Walks `src` and judges it against `dest`.
pub(crate) async fn walk_and_judge(src: &Path, dest: &LocalDestination, options: &TransferOptions) -> Judged {
    let (walked, items) = walk(src, options).await;
    walked.unwrap();
    judge(dest, options, items).await
}

/// A header for tests.
pub(crate) fn header(path: &str, kind: FileKind, size: u64, mtime_ns: i64, mode: u32) -> FileHeader {
    FileHeader {
        path: RelPath::from_bytes(path.as_bytes().to_vec()).unwrap(),
        kind,
        size,
        mtime_ns,
        mode,
        link_target: None,
        checksum: None,
        ..Default::default()
    }
}

/// Writes a file with content, mode and mtime.
pub(crate) fn write(path: &Path, content: &[u8], mode: u32, mtime_ns: i64) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    meta::set_mtime_nofollow(path, mtime_ns).unwrap();
}

/// `lstat` mtime in nanoseconds.
pub(crate) fn mtime(path: &Path) -> i64 {
    meta::mtime_ns(&std::fs::symlink_metadata(path).unwrap())
}

/// `lstat` permission bits.
pub(crate) fn mode(path: &Path) -> u32 {
    meta::mode(&std::fs::symlink_metadata(path).unwrap())
}

/// Every entry below `root` with kind, mode, mtime, size, content and link
/// target, sorted: equal snapshots mean nothing changed.
pub(crate) fn snapshot(root: &Path) -> Vec<String> {
    fn visit(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let detail = if m.is_symlink() {
                format!("link -> {:?}", std::fs::read_link(&path).unwrap())
            } else if m.is_dir() {
                "dir".to_owned()
            } else {
                format!("file {:?}", std::fs::read(&path).unwrap())
            };
            out.push(format!("{rel} {detail} {:o} {}", meta::mode(&m), meta::mtime_ns(&m)));
            if m.is_dir() {
                visit(&path, root, out);
            }
        }
    }
    let mut out = Vec::new();
    visit(root, root, &mut out);
    out.sort();
    out
}

/// Clears this thread's capabilities that bypass permission checks, so a
/// test running as root sees `EACCES` like an ordinary user. Capabilities are
/// per thread: call it on a thread of its own. Returns false if not possible.
pub(crate) fn drop_dac_override_on_this_thread() -> bool {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return true;
    }
    let mut header = Header { version: 0x2008_0522, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: capget/capset read and write exactly one header and two data
    // records (capability version 3), which these locals provide.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header as *mut Header, data.as_mut_ptr()) != 0 {
            return false;
        }
        // CAP_DAC_OVERRIDE (1), CAP_DAC_READ_SEARCH (2), CAP_FOWNER (3).
        data[0].effective &= !0b1110;
        libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) == 0
    }
}
