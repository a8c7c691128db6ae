//! The summary of a transfer, for every direction: one line (`-v`, `-p`),
//! the full block (`--stats`) and the JSON object (`--json`) all show the
//! same fields, read from the same [`TransferSummary`].

use crate::names;
use crate::progress_line::{human_bytes, rate};
use blit_api::TransferSummary;

/// Version of the JSON event and summary schema.
pub(crate) const JSON_SCHEMA: u32 = 2;

/// `n thing` or `n things`.
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary of several sources run one after the other: counts add
/// up; the transport facts are the last source's.
pub(crate) fn merge(earlier: TransferSummary, mut last: TransferSummary) -> TransferSummary {
    last.entries_scanned += earlier.entries_scanned;
    last.entries_transferred += earlier.entries_transferred;
    last.files_transferred += earlier.files_transferred;
    last.dirs_transferred += earlier.dirs_transferred;
    last.symlinks_transferred += earlier.symlinks_transferred;
    last.bytes_transferred += earlier.bytes_transferred;
    last.bytes_reused += earlier.bytes_reused;
    last.zero_copy_bytes += earlier.zero_copy_bytes;
    last.wire_bytes = match (earlier.wire_bytes, last.wire_bytes) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    last.deleted += earlier.deleted;
    last.deletions_skipped += earlier.deletions_skipped;
    last.deletions_skipped_reason = last.deletions_skipped_reason.or(earlier.deletions_skipped_reason);
    let mut failures = earlier.failures;
    failures.append(&mut last.failures);
    last.failures = failures;
    last.first_byte_secs = earlier.first_byte_secs.or(last.first_byte_secs);
    last
}

/// Average bytes per second over the whole run; `None` on a dry run
/// (nothing moved) — the bar's last frame uses the same average.
fn summary_rate(s: &TransferSummary) -> Option<u64> {
    if s.dry_run {
        return None;
    }
    rate(s.bytes_transferred, s.elapsed_secs)
}

/// The summary as one JSON object (schema, `ok`, every summary field and
/// `rate_bytes_per_sec`; failure paths carry `path_b64` when not UTF-8).
pub(crate) fn json(s: &TransferSummary) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("schema".into(), JSON_SCHEMA.into());
        o.insert("ok".into(), (!s.has_failures() && s.deletions_skipped == 0).into());
        o.insert("rate_bytes_per_sec".into(), summary_rate(s).into());
        if let Some(list) = o.get_mut("failures").and_then(|f| f.as_array_mut()) {
            for (item, failure) in list.iter_mut().zip(&s.failures) {
                names::add_b64(item, &failure.path);
            }
        }
    }
    v
}

/// What was moved: `3 files, 2 directories, 1 symlink`.
fn what(s: &TransferSummary) -> String {
    let mut parts = vec![count(s.files_transferred, "file", "files")];
    if s.dirs_transferred > 0 {
        parts.push(count(s.dirs_transferred, "directory", "directories"));
    }
    if s.symlinks_transferred > 0 {
        parts.push(count(s.symlinks_transferred, "symlink", "symlinks"));
    }
    parts.join(", ")
}

/// A one-line human summary.
pub(crate) fn summary_line(s: &TransferSummary) -> String {
    let verb = if s.dry_run { "would copy" } else { "copied" };
    let mut line = format!("{verb} {} ({}) in {:.2} s", what(s), human_bytes(s.bytes_transferred), s.elapsed_secs);
    if let Some(r) = summary_rate(s) {
        line.push_str(&format!(", {}/s", human_bytes(r)));
    }
    line.push_str(&format!("; scanned {}", count(s.entries_scanned, "entry", "entries")));
    if s.bytes_reused > 0 {
        // Kept from partial copies (--resume) and older versions (delta).
        line.push_str(&format!("; reused {} already at the destination", human_bytes(s.bytes_reused)));
    }
    if s.deleted > 0 {
        line.push_str(&format!("; {} {}", if s.dry_run { "would delete" } else { "deleted" }, s.deleted));
    }
    if s.deletions_skipped > 0 {
        line.push_str(&format!("; {}", skipped(s)));
    }
    if !s.failures.is_empty() {
        line.push_str(&format!("; {} failed", s.failures.len()));
    }
    line.push_str("; ");
    line.push_str(&transport_text(s));
    line
}

/// `line` (printed after `blit: `) broken between words so that no
/// printed line is `width` columns or wider; continuation lines are
/// indented to line up after `blit: `. A word wider than a line is left
/// whole.
pub(crate) fn wrap(line: &str, width: usize) -> String {
    const INDENT: &str = "      ";
    let room = width.saturating_sub(1);
    let mut out = String::new();
    let mut used = INDENT.len();
    for (n, word) in line.split(' ').enumerate() {
        let len = word.chars().count();
        if n > 0 && used + 1 + len > room {
            out.push('\n');
            out.push_str(INDENT);
            used = INDENT.len();
        } else if n > 0 {
            out.push(' ');
            used += 1;
        }
        out.push_str(word);
        used += len;
    }
    out
}

fn skipped(s: &TransferSummary) -> String {
    let why = s.deletions_skipped_reason.as_deref().unwrap_or("no reason given");
    format!("{} skipped: {why}", count(s.deletions_skipped, "deletion", "deletions"))
}

/// The `--stats` block: every field of the JSON summary, one per line.
pub(crate) fn stats(s: &TransferSummary) -> String {
    let bytes = |n: u64| format!("{} ({n} bytes)", human_bytes(n));
    let rows: Vec<(&str, String)> = vec![
        ("transport", transport_text(s)),
        ("entries scanned", s.entries_scanned.to_string()),
        (if s.dry_run { "files (would copy)" } else { "files copied" }, s.files_transferred.to_string()),
        ("directories made or updated", s.dirs_transferred.to_string()),
        ("symlinks made", s.symlinks_transferred.to_string()),
        ("file data", bytes(s.bytes_transferred)),
        ("on the wire", s.wire_bytes.map_or_else(|| "none (local)".to_owned(), bytes)),
        ("reused from partial copies", bytes(s.bytes_reused)),
        ("zero-copy", bytes(s.zero_copy_bytes)),
        (if s.dry_run { "would delete" } else { "deleted" }, s.deleted.to_string()),
        ("deletions skipped", if s.deletions_skipped > 0 { skipped(s) } else { "0".to_owned() }),
        ("failed", s.failures.len().to_string()),
        ("elapsed", format!("{:.2} s", s.elapsed_secs)),
        ("rate", summary_rate(s).map_or_else(|| "none (dry run)".to_owned(), |r| format!("{}/s", human_bytes(r)))),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

/// How the payload travelled: `local`, or the remote transport with its
/// streams, chunk size, compression, how they were chosen, zero-copy bytes,
/// the time to the first payload byte, and why it fell back, if it did.
pub(crate) fn transport_text(s: &TransferSummary) -> String {
    let mut text = if s.streams == 0 { s.transport.clone() } else { format!("over {}", s.transport) };
    if s.transport == "tcp" && s.streams > 0 {
        let how = if s.tuning.is_empty() { String::new() } else { format!(", {}", s.tuning) };
        text.push_str(&format!(
            " ({}, {} chunks, compression {}{how})",
            count(u64::from(s.streams), "stream", "streams"),
            human_bytes(s.chunk_size),
            s.compression
        ));
    }
    if s.zero_copy_bytes > 0 {
        text.push_str(&format!(", {} zero-copy", human_bytes(s.zero_copy_bytes)));
    }
    if let Some(first) = s.first_byte_secs.filter(|_| s.streams > 0) {
        text.push_str(&format!(", first byte after {:.1} ms", first * 1000.0));
    }
    if let Some(why) = &s.fallback {
        text.push_str(&format!(" (fell back: {why})"));
    }
    text
}

#[cfg(test)]
mod tests;
