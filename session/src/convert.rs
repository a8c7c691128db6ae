//! `pb` <-> `blit-api` conversions.
//!
//! Decoding validates everything a peer sends: every path goes through
//! [`RelPath::from_bytes`], so a peer's `..`, absolute path or NUL byte is a
//! [`ErrorKind::Protocol`] error, never a path; unknown enum values and
//! malformed checksums are refused the same way.
//!
//! Encoding on the daemon passes failure messages through a [`Mask`], which
//! shows the module's directory as `/<module>` so clients never learn where
//! modules live on the daemon's disk.

use crate::error::{bounded, kind_from_pb, kind_to_pb};
use blit_api::{
    BlockMap, Error, ErrorKind, FileFailure, FileHeader, FileKind, FilterRule, FilterSpec, ManifestItem, PartRange,
    ProgressEvent, RelPath, Result, RuleKind, TransferOptions,
};
use blit_proto::pb;
use prost::bytes::Bytes;
use std::path::Path;

fn bad(what: impl Into<String>) -> Error {
    Error::new(ErrorKind::Protocol, what)
}

/// A path the peer sent, validated.
pub(crate) fn path_from_pb(bytes: &[u8]) -> Result<RelPath> {
    RelPath::from_bytes(bytes.to_vec())
}

fn path_to_pb(path: &RelPath) -> Bytes {
    Bytes::copy_from_slice(path.as_bytes())
}

pub(crate) fn kind_to_pb_kind(kind: FileKind) -> pb::Kind {
    match kind {
        FileKind::File => pb::Kind::File,
        FileKind::Dir => pb::Kind::Dir,
        FileKind::Symlink => pb::Kind::Symlink,
    }
}

pub(crate) fn kind_from_pb_kind(value: i32) -> Result<FileKind> {
    match pb::Kind::try_from(value) {
        Ok(pb::Kind::File) => Ok(FileKind::File),
        Ok(pb::Kind::Dir) => Ok(FileKind::Dir),
        Ok(pb::Kind::Symlink) => Ok(FileKind::Symlink),
        _ => Err(bad(format!("unknown entry kind {value}"))),
    }
}

/// The wire form of a header.
pub(crate) fn header_to_pb(h: &FileHeader) -> pb::Header {
    pb::Header {
        path: path_to_pb(&h.path),
        kind: kind_to_pb_kind(h.kind) as i32,
        size: h.size,
        mtime_ns: h.mtime_ns,
        mode: h.mode,
        link_target: h.link_target.as_ref().map(|t| Bytes::copy_from_slice(t)),
        checksum: h.checksum.map(|c| Bytes::copy_from_slice(&c)),
        resume: h.resume.as_deref().map(block_map_to_pb),
        uid: h.uid,
        gid: h.gid,
        xattrs: h
            .xattrs
            .iter()
            .map(|(n, v)| pb::Xattr { name: Bytes::copy_from_slice(n), value: Bytes::copy_from_slice(v) })
            .collect(),
        hard_link: h.hard_link.as_ref().map(path_to_pb),
    }
}

/// The wire form of a block map.
pub(crate) fn block_map_to_pb(m: &BlockMap) -> pb::BlockMap {
    pb::BlockMap {
        block_size: m.block_size(),
        partial_len: m.partial_len(),
        hashes: m.hashes().iter().flatten().copied().collect::<Vec<u8>>().into(),
        weak: m.weak().iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>().into(),
    }
}

/// A block map from the wire, validated ([`BlockMap::new`]).
pub(crate) fn block_map_from_pb(m: pb::BlockMap) -> Result<BlockMap> {
    if !m.hashes.len().is_multiple_of(32) {
        return Err(bad(format!("block hashes of {} bytes, not a multiple of 32", m.hashes.len())));
    }
    if !m.weak.len().is_multiple_of(4) {
        return Err(bad(format!("weak checksums of {} bytes, not a multiple of 4", m.weak.len())));
    }
    let hashes = m.hashes.chunks_exact(32).map(|c| <[u8; 32]>::try_from(c).expect("chunks of 32")).collect();
    let map = BlockMap::new(m.block_size, m.partial_len, hashes)?;
    // Checked against the hashes before it is decoded: never more than one
    // word per block is allocated.
    if !m.weak.is_empty() && m.weak.len() / 4 != map.hashes().len() {
        return Err(bad(format!("{} weak checksums for {} blocks", m.weak.len() / 4, map.hashes().len())));
    }
    let weak = m.weak.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    map.with_weak(weak)
}

/// A header from the wire, validated.
/// A peer's hint that it hashes an older version ([`blit_api::Ahead`]):
/// a regular file's header and a length above zero.
pub(crate) fn ahead_from_pb(a: pb::Ahead) -> Result<blit_api::Ahead> {
    let header = header_from_pb(a.file.ok_or_else(|| bad("a hint without its file"))?)?;
    if header.kind != FileKind::File || a.basis_len == 0 {
        return Err(bad("a hint for no regular file or an empty older version"));
    }
    Ok(blit_api::Ahead { header, basis_len: a.basis_len })
}

pub(crate) fn header_from_pb(h: pb::Header) -> Result<FileHeader> {
    let path = path_from_pb(&h.path)?;
    let kind = kind_from_pb_kind(h.kind)?;
    let checksum = match h.checksum {
        None => None,
        Some(c) => Some(<[u8; 32]>::try_from(c.as_ref()).map_err(|_| bad("a checksum is not 32 bytes"))?),
    };
    let link_target = match (kind, h.link_target) {
        (FileKind::Symlink, Some(t)) => Some(t.to_vec()),
        (FileKind::Symlink, None) => return Err(bad("a symlink header has no target").with_path(path.display())),
        (_, _) => None,
    };
    let hard_link = match (kind, h.hard_link) {
        (_, None) => None,
        (FileKind::File, Some(p)) if !path.is_root() => Some(path_from_pb(&p)?),
        (_, Some(_)) => return Err(bad("a hard link on an entry that cannot be one").with_path(path.display())),
    };
    let mut xattrs = Vec::with_capacity(h.xattrs.len());
    for x in h.xattrs {
        if x.name.is_empty() || x.name.contains(&0) {
            return Err(bad("a malformed extended attribute name").with_path(path.display()));
        }
        xattrs.push((x.name.to_vec(), x.value.to_vec()));
    }
    let header = FileHeader {
        path,
        kind,
        size: h.size,
        mtime_ns: h.mtime_ns,
        mode: h.mode,
        link_target,
        checksum,
        resume: h.resume.map(block_map_from_pb).transpose()?.map(std::sync::Arc::new),
        uid: h.uid,
        gid: h.gid,
        xattrs,
        hard_link,
        // Set by the source's own pipeline, never sent.
        part_range: None,
        prehash: None,
    };
    header.check_bounds().map_err(|e| bad(e.to_string()))?;
    Ok(header)
}

/// The wire form of a per-entry failure, its message masked.
pub(crate) fn failure_to_pb(f: &FileFailure, mask: &Mask) -> pb::Failure {
    pb::Failure { path: path_to_pb(&f.path), kind: kind_to_pb(f.kind) as i32, message: mask.apply(&f.message) }
}

/// A per-entry failure from the wire, validated.
pub(crate) fn failure_from_pb(f: pb::Failure) -> Result<FileFailure> {
    Ok(FileFailure { path: path_from_pb(&f.path)?, kind: kind_from_pb(f.kind), message: bounded(f.message) })
}

/// The error a per-entry failure stands for (for `Landing` and `Incoming`).
pub(crate) fn failure_error(f: &FileFailure) -> Error {
    Error::new(f.kind, f.message.clone())
}

/// The wire form of a manifest item.
pub(crate) fn item_to_pb(item: &ManifestItem, mask: &Mask) -> pb::ManifestItem {
    use pb::manifest_item::Item;
    let item = match item {
        ManifestItem::Entry(h) => Item::Entry(header_to_pb(h)),
        ManifestItem::DirDone(p) => Item::DirDone(path_to_pb(p)),
        ManifestItem::Failed(f) => Item::Failed(failure_to_pb(f, mask)),
        ManifestItem::End => Item::End(pb::End {}),
    };
    pb::ManifestItem { item: Some(item) }
}

/// A manifest item from the wire, validated.
pub(crate) fn item_from_pb(item: pb::ManifestItem) -> Result<ManifestItem> {
    use pb::manifest_item::Item;
    match item.item {
        Some(Item::Entry(h)) => Ok(ManifestItem::Entry(header_from_pb(h)?)),
        Some(Item::DirDone(p)) => Ok(ManifestItem::DirDone(path_from_pb(&p)?)),
        Some(Item::Failed(f)) => Ok(ManifestItem::Failed(failure_from_pb(f)?)),
        Some(Item::End(_)) => Ok(ManifestItem::End),
        None => Err(bad("an empty manifest item")),
    }
}

/// The wire form of the options.
pub(crate) fn options_to_pb(o: &TransferOptions) -> pb::Options {
    pb::Options {
        checksum: o.checksum,
        mirror: o.mirror,
        dry_run: o.dry_run,
        bwlimit_bytes_per_sec: o.bwlimit_bytes_per_sec,
        resume: o.resume,
        update: o.update,
        ignore_existing: o.ignore_existing,
        size_only: o.size_only,
        max_delete: o.max_delete,
        one_file_system: o.one_file_system,
        link_dest: o.link_dest.as_deref().map(Bytes::copy_from_slice),
        backup: o.backup,
        backup_dir: o.backup_dir.as_deref().map(Bytes::copy_from_slice),
        backup_suffix: o.backup_suffix.as_deref().map(Bytes::copy_from_slice),
        fsync: o.fsync,
        remove_source: o.remove_source,
        delta: o.delta,
        verify: o.verify,
        part_range: o.part_range.map(|p| pb::PartRange { offset: p.offset, len: p.len }),
        hard_links: o.hard_links,
        owner: o.owner,
        group: o.group,
        xattrs: o.xattrs,
        ..filter_to_pb(&o.filter)
    }
}

/// The filter's fields of the wire options (the rest left at default).
fn filter_to_pb(f: &FilterSpec) -> pb::Options {
    let rule = |r: &FilterRule| pb::FilterRule { include: r.kind == RuleKind::Include, pattern: r.pattern.clone() };
    pb::Options {
        filter_rules: f.rules.iter().map(rule).collect(),
        has_files_from: f.files_from.is_some(),
        files_from: f.files_from.iter().flatten().map(|p| Bytes::copy_from_slice(p)).collect(),
        min_size: f.min_size,
        max_size: f.max_size,
        delete_excluded: f.delete_excluded,
        ..pb::Options::default()
    }
}

/// The filter from the wire options. Patterns and paths are checked where
/// the filter is compiled (`blit_planner::filter::Filter::new`), on the
/// side that walks or judges, so an error names the pattern at fault.
fn filter_from_pb(o: &pb::Options) -> FilterSpec {
    let rule = |r: &pb::FilterRule| {
        if r.include {
            FilterRule::include(r.pattern.clone())
        } else {
            FilterRule::exclude(r.pattern.clone())
        }
    };
    let mut spec = FilterSpec::new().min_size(o.min_size).max_size(o.max_size).delete_excluded(o.delete_excluded);
    spec.rules = o.filter_rules.iter().map(rule).collect();
    if o.has_files_from {
        spec = spec.files_from(o.files_from.iter().map(|p| p.to_vec()).collect());
    }
    spec
}

/// Options from the wire; a part range that is empty or overflows is
/// refused ([`ErrorKind::InvalidInput`], see [`PartRange::check`]).
pub(crate) fn options_from_pb(o: Option<pb::Options>) -> Result<TransferOptions> {
    let o = o.unwrap_or_default();
    let filter = filter_from_pb(&o);
    let part_range = o.part_range.map(|p| PartRange::new(p.offset, p.len)).transpose()?;
    Ok(TransferOptions::new()
        .checksum(o.checksum)
        .mirror(o.mirror)
        .dry_run(o.dry_run)
        .bwlimit(o.bwlimit_bytes_per_sec)
        .resume(o.resume)
        .update(o.update)
        .ignore_existing(o.ignore_existing)
        .size_only(o.size_only)
        .max_delete(o.max_delete)
        .one_file_system(o.one_file_system)
        .link_dest(o.link_dest.as_ref().map(|d| d.to_vec()))
        .backup(o.backup, o.backup_dir.as_ref().map(|d| d.to_vec()), o.backup_suffix.as_ref().map(|s| s.to_vec()))
        .hard_links(o.hard_links)
        .owner(o.owner)
        .group(o.group)
        .xattrs(o.xattrs)
        .fsync(o.fsync)
        .remove_source(o.remove_source)
        .delta(o.delta)
        .verify(o.verify)
        .part_range(part_range)
        .filter(filter))
}

fn entry(path: &RelPath, kind: FileKind, size: u64) -> pb::EntryEvent {
    pb::EntryEvent { path: path_to_pb(path), kind: kind_to_pb_kind(kind) as i32, size, new: false }
}

/// The wire form of a destination event. `Started` and the terminal events
/// belong to the client's summary tap and are never sent: `None`.
pub(crate) fn event_to_pb(e: &ProgressEvent, mask: &Mask) -> Option<pb::Event> {
    use pb::event::Event as E;
    let event = match e {
        ProgressEvent::ManifestProgress { entries, bytes } => {
            E::ManifestProgress(pb::Counts { count: *entries, bytes: *bytes })
        }
        ProgressEvent::NeedBatch { files, bytes } => E::NeedBatch(pb::Counts { count: *files, bytes: *bytes }),
        ProgressEvent::ManifestComplete { entries, bytes, complete } => {
            E::ManifestComplete(pb::ManifestComplete { entries: *entries, bytes: *bytes, complete: *complete })
        }
        ProgressEvent::Planned { path, kind, size, new } => {
            E::Planned(pb::EntryEvent { new: *new, ..entry(path, *kind, *size) })
        }
        ProgressEvent::FileStarted { path, kind, size } => E::FileStarted(entry(path, *kind, *size)),
        ProgressEvent::FileBytes { path, bytes, zero_copy } => {
            E::FileBytes(pb::FileBytes { path: path_to_pb(path), bytes: *bytes, zero_copy: *zero_copy })
        }
        ProgressEvent::FileDone { path, kind, bytes } => E::FileDone(entry(path, *kind, *bytes)),
        ProgressEvent::FileFailed { path, kind, message } => E::FileFailed(pb::Failure {
            path: path_to_pb(path),
            kind: kind_to_pb(*kind) as i32,
            message: mask.apply(message),
        }),
        ProgressEvent::Deleted { path, kind } => E::Deleted(entry(path, *kind, 0)),
        ProgressEvent::DeletionsSkipped { count, reason } => {
            E::DeletionsSkipped(pb::DeletionsSkipped { count: *count, reason: mask.apply(reason) })
        }
        ProgressEvent::Warning { message } => E::Warning(mask.apply(message)),
        ProgressEvent::FileResumed { path, bytes } => {
            E::FileResumed(pb::FileBytes { path: path_to_pb(path), bytes: *bytes, zero_copy: false })
        }
        ProgressEvent::InPlace { path, kind, size, mtime_ns } => E::InPlace(pb::InPlace {
            path: path_to_pb(path),
            kind: kind_to_pb_kind(*kind) as i32,
            size: *size,
            mtime_ns: *mtime_ns,
        }),
        _ => return None,
    };
    Some(pb::Event { event: Some(event) })
}

/// A destination event from the wire, validated.
pub(crate) fn event_from_pb(e: pb::Event) -> Result<ProgressEvent> {
    use pb::event::Event as E;
    let entry = |e: pb::EntryEvent| -> Result<(RelPath, FileKind, u64)> {
        Ok((path_from_pb(&e.path)?, kind_from_pb_kind(e.kind)?, e.size))
    };
    Ok(match e.event.ok_or_else(|| bad("an empty event"))? {
        E::ManifestProgress(c) => ProgressEvent::ManifestProgress { entries: c.count, bytes: c.bytes },
        E::NeedBatch(c) => ProgressEvent::NeedBatch { files: c.count, bytes: c.bytes },
        E::ManifestComplete(m) => {
            ProgressEvent::ManifestComplete { entries: m.entries, bytes: m.bytes, complete: m.complete }
        }
        E::Planned(e) => {
            let new = e.new;
            let (path, kind, size) = entry(e)?;
            ProgressEvent::Planned { path, kind, size, new }
        }
        E::FileStarted(e) => {
            let (path, kind, size) = entry(e)?;
            ProgressEvent::FileStarted { path, kind, size }
        }
        E::FileBytes(b) => {
            ProgressEvent::FileBytes { path: path_from_pb(&b.path)?, bytes: b.bytes, zero_copy: b.zero_copy }
        }
        E::FileDone(e) => {
            let (path, kind, bytes) = entry(e)?;
            ProgressEvent::FileDone { path, kind, bytes }
        }
        E::FileFailed(f) => {
            let f = failure_from_pb(f)?;
            ProgressEvent::FileFailed { path: f.path, kind: f.kind, message: f.message }
        }
        E::Deleted(e) => {
            let (path, kind, _) = entry(e)?;
            ProgressEvent::Deleted { path, kind }
        }
        E::FileResumed(b) => ProgressEvent::FileResumed { path: path_from_pb(&b.path)?, bytes: b.bytes },
        E::InPlace(p) => ProgressEvent::InPlace {
            path: path_from_pb(&p.path)?,
            kind: kind_from_pb_kind(p.kind)?,
            size: p.size,
            mtime_ns: p.mtime_ns,
        },
        E::Warning(message) => ProgressEvent::Warning { message: bounded(message) },
        E::DeletionsSkipped(d) => ProgressEvent::DeletionsSkipped { count: d.count, reason: bounded(d.reason) },
    })
}

/// Hides where a module lives on the daemon: every occurrence of the
/// module's directory in an outgoing message becomes `/<module>`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mask {
    replace: Option<(String, String)>,
}

impl Mask {
    /// A mask that changes nothing (the client side).
    pub(crate) fn none() -> Self {
        Mask::default()
    }

    /// Shows `dir` as `/<module>`.
    pub(crate) fn module(dir: &Path, module: &str) -> Self {
        let real = dir.display().to_string();
        let real = real.trim_end_matches('/').to_owned();
        if real.is_empty() {
            return Mask::none();
        }
        Mask { replace: Some((real, format!("/{module}"))) }
    }

    /// `text` with the module's directory hidden.
    pub(crate) fn apply(&self, text: &str) -> String {
        match &self.replace {
            Some((real, shown)) => text.replace(real.as_str(), shown),
            None => text.to_owned(),
        }
    }

    /// `error` with its message, path and hint masked.
    pub(crate) fn error(&self, error: &Error) -> Error {
        if self.replace.is_none() {
            return error.clone();
        }
        let mut masked = Error::new(error.kind(), self.apply(error.message()));
        if let Some(path) = error.path() {
            masked = masked.with_path(self.apply(path));
        }
        if let Some(hint) = error.hint() {
            masked = masked.with_hint(self.apply(hint));
        }
        masked
    }
}

#[cfg(test)]
mod tests;
