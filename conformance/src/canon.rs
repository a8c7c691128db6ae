//! The canonical form of an event log, which two runs can compare whatever
//! their timing.
//!
//! Canonicalising keeps what every transport must agree on and drops what
//! legitimately varies:
//!
//! - wall-clock fields go (`elapsed_secs`), and so does `ManifestProgress`,
//!   whose coalescing is timing;
//! - `NeedBatch` events merge into one total (how the need list is cut into
//!   batches depends on timing), placed after `Started`;
//! - events that name a path are grouped per path, keeping their order within
//!   the path (parallel transfers interleave files), and the groups are
//!   sorted by raw path bytes;
//! - consecutive `FileBytes` of a path merge into one total and lose their
//!   `zero_copy` flag (chunking is a transport detail);
//! - transport names, directions and zero-copy byte counts are blanked: the
//!   first two differ by construction between a transport and the
//!   reference, and whether the kernel could avoid a copy depends on the
//!   filesystem as much as on [`blit_api::Capabilities::payload_zero_copy`].
//!   They are checked elsewhere (`start-matches-request`) or not at all;
//! - failure messages are dropped (they hold absolute paths and each
//!   transport's wording); the path and [`blit_api::ErrorKind`] stay.
//!
//! The terminal event comes last. No other capability flag changes what an
//! event says today; a future capability-dependent field is blanked here.

use crate::failure::show_path;
use blit_api::{FileKind, ProgressEvent, TransferSummary};
use std::collections::BTreeMap;
use std::fmt;

/// A canonical event log: one line per canonical event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanonicalLog {
    lines: Vec<String>,
}

impl CanonicalLog {
    /// Canonicalises a recorded event stream.
    pub fn from_events(events: &[ProgressEvent]) -> Self {
        let mut head = Vec::new();
        let mut tail = Vec::new();
        let (mut need_files, mut need_bytes, mut batches) = (0u64, 0u64, 0u64);
        let mut groups: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
        let mut bytes_open: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for event in events {
            let (path, line) = match event {
                ProgressEvent::Started { dry_run, .. } => {
                    head.push(format!("started dry_run={dry_run}"));
                    continue;
                }
                ProgressEvent::ManifestProgress { .. } => continue,
                ProgressEvent::NeedBatch { files, bytes } => {
                    (need_files, need_bytes, batches) = (need_files + files, need_bytes + bytes, batches + 1);
                    continue;
                }
                ProgressEvent::ManifestComplete { entries, bytes, complete } => {
                    head.push(format!("manifest entries={entries} bytes={bytes} complete={complete}"));
                    continue;
                }
                ProgressEvent::Finished { summary } => {
                    tail.push(finished(summary));
                    continue;
                }
                ProgressEvent::Failed { kind, .. } => {
                    tail.push(format!("failed kind={kind}"));
                    continue;
                }
                ProgressEvent::FileBytes { path, bytes, .. } => {
                    *bytes_open.entry(path.as_bytes().to_vec()).or_default() += bytes;
                    continue;
                }
                ProgressEvent::Planned { path, kind, size, new } => {
                    (path, format!("planned {} size={size} new={new}", kind_str(*kind)))
                }
                ProgressEvent::FileStarted { path, kind, size } => {
                    (path, format!("started {} size={size}", kind_str(*kind)))
                }
                ProgressEvent::FileResumed { path, bytes } => (path, format!("resumed bytes={bytes}")),
                ProgressEvent::FileDone { path, kind, bytes } => {
                    (path, format!("done {} bytes={bytes}", kind_str(*kind)))
                }
                ProgressEvent::FileFailed { path, kind, .. } => (path, format!("failed kind={kind}")),
                ProgressEvent::Deleted { path, kind } => (path, format!("deleted {}", kind_str(*kind))),
                ProgressEvent::InPlace { path, kind, size, mtime_ns } => {
                    (path, format!("in_place {} size={size} mtime={mtime_ns}", kind_str(*kind)))
                }
                other => {
                    head.push(format!("other {other:?}"));
                    continue;
                }
            };
            let key = path.as_bytes().to_vec();
            let group = groups.entry(key.clone()).or_default();
            if let Some(n) = bytes_open.remove(&key) {
                group.push(format!("bytes {n}"));
            }
            group.push(line);
        }
        for (path, n) in bytes_open {
            groups.entry(path).or_default().push(format!("bytes {n}"));
        }
        // Batches with no files would be a protocol oddity worth seeing.
        let mut lines = head;
        let insert_at = usize::from(!lines.is_empty() && lines[0].starts_with("started"));
        lines.insert(insert_at, format!("need files={need_files} bytes={need_bytes}"));
        if batches > 0 && need_files == 0 {
            lines.push(format!("need empty_batches={batches}"));
        }
        for (path, group) in groups {
            let shown = show_path(&path);
            lines.extend(group.into_iter().map(|l| format!("{shown} | {l}")));
        }
        lines.extend(tail);
        CanonicalLog { lines }
    }

    /// Merges the lines of each group of paths (names of one file): their
    /// path becomes the group's, and the group's lines are sorted and placed
    /// where its first line was. Which name of a hard-linked file carries
    /// the payload depends on walk order, which legitimately varies.
    pub fn alias(mut self, groups: &[Vec<Vec<u8>>]) -> Self {
        for group in groups {
            let shown: Vec<String> = group.iter().map(|p| format!("{} | ", show_path(p))).collect();
            let label =
                format!("same file {{{}}} | ", group.iter().map(|p| show_path(p)).collect::<Vec<_>>().join(", "));
            let mut merged = Vec::new();
            let mut at = None;
            let mut kept = Vec::with_capacity(self.lines.len());
            for line in self.lines {
                match shown.iter().find(|s| line.starts_with(s.as_str())) {
                    Some(s) => {
                        at.get_or_insert(kept.len());
                        merged.push(format!("{label}{}", &line[s.len()..]));
                    }
                    None => kept.push(line),
                }
            }
            merged.sort();
            if let Some(at) = at {
                kept.splice(at..at, merged);
            }
            self.lines = kept;
        }
        self
    }

    /// The canonical lines.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The index of the first line where `self` and `other` differ.
    pub fn first_difference(&self, other: &CanonicalLog) -> Option<usize> {
        let n = self.lines.len().max(other.lines.len());
        (0..n).find(|i| self.lines.get(*i) != other.lines.get(*i))
    }
}

impl fmt::Display for CanonicalLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.lines.iter().enumerate() {
            writeln!(f, "    {i:>5}  {line}")?;
        }
        Ok(())
    }
}

fn kind_str(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
    }
}

fn finished(s: &TransferSummary) -> String {
    let mut failures: Vec<String> =
        s.failures.iter().map(|f| format!("{}:{}", show_path(f.path.as_bytes()), f.kind)).collect();
    failures.sort();
    format!(
        "finished entries={} files={} bytes={} reused={} deleted={} dry_run={} failures=[{}]",
        s.entries_scanned,
        s.entries_transferred,
        s.bytes_transferred,
        s.bytes_reused,
        s.deleted,
        s.dry_run,
        failures.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::{Direction, RelPath};

    fn p(s: &str) -> RelPath {
        RelPath::from_bytes(s.as_bytes().to_vec()).unwrap()
    }

    fn run(order: &[usize], transport: &str, chunks: &[u64]) -> Vec<ProgressEvent> {
        let mut events =
            vec![ProgressEvent::Started { direction: Direction::Local, transport: transport.into(), dry_run: false }];
        events.push(ProgressEvent::ManifestProgress { entries: 1, bytes: 0 });
        events.push(ProgressEvent::NeedBatch { files: 1, bytes: 10 });
        events.push(ProgressEvent::NeedBatch { files: 1, bytes: 0 });
        let files = [("b", 10u64), ("a", 0)];
        for i in order {
            let (name, size) = files[*i];
            events.push(ProgressEvent::FileStarted { path: p(name), kind: FileKind::File, size });
            if size > 0 {
                for (j, c) in chunks.iter().enumerate() {
                    events.push(ProgressEvent::FileBytes { path: p(name), bytes: *c, zero_copy: j % 2 == 0 });
                }
            }
            events.push(ProgressEvent::FileDone { path: p(name), kind: FileKind::File, bytes: size });
        }
        events.push(ProgressEvent::ManifestComplete { entries: 3, bytes: 10, complete: true });
        let summary =
            TransferSummary { transport: transport.into(), elapsed_secs: order.len() as f64, ..Default::default() };
        events.push(ProgressEvent::Finished { summary: Box::new(summary) });
        events
    }

    #[test]
    fn timing_chunking_and_names_do_not_matter() {
        let a = CanonicalLog::from_events(&run(&[0, 1], "local", &[10]));
        let b = CanonicalLog::from_events(&run(&[1, 0], "pipe", &[3, 3, 4]));
        assert_eq!(a, b, "\n{a}\n{b}");
        assert_eq!(a.lines()[0], "started dry_run=false");
        assert_eq!(a.lines()[1], "need files=2 bytes=10");
        assert!(a.lines().contains(&"\"b\" | bytes 10".to_owned()), "{a}");
        assert!(a.lines().last().unwrap().starts_with("finished"));
    }

    #[test]
    fn real_differences_show() {
        let a = CanonicalLog::from_events(&run(&[0, 1], "local", &[10]));
        let b = CanonicalLog::from_events(&run(&[0, 1], "local", &[4, 5]));
        let i = a.first_difference(&b).unwrap();
        assert_eq!(b.lines()[i], "\"b\" | bytes 9");
        let mut extra = run(&[0, 1], "local", &[10]);
        extra.insert(5, ProgressEvent::FileBytes { path: p("b"), bytes: 1, zero_copy: false });
        assert_ne!(a, CanonicalLog::from_events(&extra));
    }
}
