//! Where things are in a configuration file: byte offsets to line and
//! column, and keys (`module[2].path`) to the line they are written on, so
//! that every configuration error points at the text to fix.
//!
//! Syntax and shape errors come from `toml` with a byte span. Errors found
//! later, such as a module directory that does not exist, know only which
//! key they concern; [`Spans::locate`] looks that key up in the document's
//! spans (`toml_edit`, the parser `toml` itself uses) and prefixes the
//! message with `line L, column C`.

use blit_api::Error;
use toml_edit::{ImDocument, Item, Table};

/// One step of a key path: a table key or an index into an array of tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    /// `name` in a table.
    Key(&'a str),
    /// The n-th table of an array of tables (`[[module]]`), from 0.
    Index(usize),
}

/// The spans of one TOML text.
pub(crate) struct Spans<'a> {
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
}

impl<'a> Spans<'a> {
    /// Spans of `text`; a text that does not parse has none (only offsets
    /// can then be located).
    pub(crate) fn new(text: &'a str) -> Self {
        Spans { text, doc: ImDocument::parse(text).ok() }
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// Where the key at `path` is written (its key, or its value when the
    /// key has no span of its own).
    pub(crate) fn find(&self, path: &[Seg<'_>]) -> Option<(usize, usize)> {
        let doc = self.doc.as_ref()?;
        let mut table: &Table = doc.as_table();
        let mut item: Option<&Item> = None;
        let mut span = None;
        for seg in path {
            match (*seg, item) {
                (Seg::Key(name), None | Some(Item::Table(_))) => {
                    if let Some(Item::Table(t)) = item {
                        table = t;
                    }
                    let found = table.get(name)?;
                    span = table.key(name).and_then(|k| k.span()).or_else(|| found.span());
                    item = Some(found);
                }
                (Seg::Index(i), Some(Item::ArrayOfTables(tables))) => {
                    table = tables.get(i)?;
                    span = table.span().or(span);
                    item = None;
                }
                _ => return None,
            }
        }
        span.map(|span| self.line_col(span.start))
    }

    /// The key whose value holds byte `offset`, written as a path
    /// (`listen`, `module[1].path`); `None` outside every value.
    pub(crate) fn key_at(&self, offset: usize) -> Option<String> {
        let doc = self.doc.as_ref()?;
        let mut path = String::new();
        let mut table = doc.as_table();
        'descend: loop {
            for (name, item) in table.iter() {
                let inside = |span: Option<std::ops::Range<usize>>| span.is_some_and(|s| s.contains(&offset));
                match item {
                    Item::Table(t) if inside(t.span()) || t.iter().any(|(_, i)| inside(i.span())) => {
                        push_key(&mut path, name);
                        table = t;
                        continue 'descend;
                    }
                    Item::ArrayOfTables(tables) => {
                        let found = tables
                            .iter()
                            .enumerate()
                            .find(|(_, t)| inside(t.span()) || t.iter().any(|(_, i)| inside(i.span())));
                        if let Some((i, t)) = found {
                            push_key(&mut path, name);
                            path.push_str(&format!("[{i}]"));
                            table = t;
                            continue 'descend;
                        }
                    }
                    Item::Value(_) if inside(item.span()) => {
                        push_key(&mut path, name);
                        return Some(path);
                    }
                    _ => {}
                }
            }
            return None;
        }
    }

    /// `error`, its message prefixed with where `path` is written; unchanged
    /// when the key is not in the text (it came from a flag).
    pub(crate) fn locate(&self, error: Error, path: &[Seg<'_>]) -> Error {
        match self.find(path) {
            Some(at) => at_line(error, at),
            None => error,
        }
    }
}

fn push_key(path: &mut String, name: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
}

/// `error` with `line L, column C: ` before its message (and the path it
/// named, which moves into the message), keeping its kind, hint and cause.
pub(crate) fn at_line(error: Error, (line, col): (usize, usize)) -> Error {
    let message = match error.path() {
        Some(path) => format!("line {line}, column {col}: {path}: {}", error.message()),
        None => format!("line {line}, column {col}: {}", error.message()),
    };
    let mut out = Error::new(error.kind(), message);
    if let Some(hint) = error.hint() {
        out = out.with_hint(hint.to_owned());
    }
    out.with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use blit_api::ErrorKind;

    const TEXT: &str = "listen = \"127.0.0.1:1\"\n\n[[module]]\nname = \"a\"\npath = \"/a\"\n\n[[module]]\n  name = \"é\"\n  path = \"/b\"\n";

    #[test]
    fn finds_keys_by_path() {
        let s = Spans::new(TEXT);
        assert_eq!(s.find(&[Seg::Key("listen")]), Some((1, 1)));
        assert_eq!(s.find(&[Seg::Key("module"), Seg::Index(0), Seg::Key("path")]), Some((5, 1)));
        assert_eq!(s.find(&[Seg::Key("module"), Seg::Index(1), Seg::Key("path")]), Some((9, 3)));
        assert_eq!(s.find(&[Seg::Key("module"), Seg::Index(1)]).map(|(l, _)| l), Some(7));
        assert_eq!(s.find(&[Seg::Key("module"), Seg::Index(2), Seg::Key("path")]), None);
        assert_eq!(s.find(&[Seg::Key("nope")]), None);
    }

    #[test]
    fn names_the_key_of_a_value() {
        let s = Spans::new(TEXT);
        assert_eq!(s.key_at(TEXT.find("127").unwrap()).as_deref(), Some("listen"));
        assert_eq!(s.key_at(TEXT.find("/b").unwrap()).as_deref(), Some("module[1].path"));
        assert_eq!(s.key_at(TEXT.find("\"a\"").unwrap()).as_deref(), Some("module[0].name"));
        assert_eq!(s.key_at(0), None, "a key, not a value");
    }

    #[test]
    fn columns_count_characters() {
        let s = Spans::new(TEXT);
        let after_e = TEXT.find('é').unwrap() + 'é'.len_utf8();
        assert_eq!(s.line_col(after_e), (8, 12));
        assert_eq!(s.line_col(after_e - 1), (8, 11), "inside a character: the character's column");
        assert_eq!(s.line_col(usize::MAX).0, 10);
    }

    #[test]
    fn located_errors_keep_kind_hint_and_path() {
        let s = Spans::new(TEXT);
        let e = Error::new(ErrorKind::NotFound, "gone").with_path("/a").with_hint("create it");
        let e = s.locate(e, &[Seg::Key("module"), Seg::Index(0), Seg::Key("path")]);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.to_string(), "line 5, column 1: /a: gone (create it)");
        let flag = s.locate(Error::new(ErrorKind::NotFound, "gone"), &[Seg::Key("module"), Seg::Index(5)]);
        assert_eq!(flag.to_string(), "gone", "a key the file does not have: no location");
    }
}
