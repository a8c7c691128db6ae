//! Names as text, losslessly.
//!
//! A file name may hold any byte but `/` and NUL, so it need not be UTF-8,
//! and it may hold newlines or terminal escape sequences. [`escape`] turns
//! any bytes into printable text that names them unambiguously:
//!
//! - a backslash becomes `\\`;
//! - a byte that is not part of valid UTF-8 becomes `\xNN` (two lowercase
//!   hex digits);
//! - `\n`, `\t` and `\r` become those two-character escapes, any other ASCII
//!   control character (and DEL) `\xNN`, and a C1 control `\u{NN}`;
//! - everything else, including all printable Unicode, stays as it is.
//!
//! Two different names never give the same text, and the text has no
//! control character. This is how [`crate::RelPath`] displays, so every
//! message, `-v` line and failure names a path exactly.

use std::borrow::Cow;
use std::fmt::Write;

/// `bytes` as unambiguous printable text (see the module docs).
pub fn escape(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if !text.chars().any(|c| c.is_control() || c == '\\') {
            return Cow::Borrowed(text);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// `text` with its control characters escaped as [`escape`] does, and
/// everything else (backslashes too) as it is: for text that may embed
/// already escaped names, such as an error message from a peer.
pub fn controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_control(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c => push_control(out, c),
    }
}

/// `c`, or its escape when it is a control character.
fn push_control(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x80 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_borrowed_and_unchanged() {
        assert!(matches!(escape(b"photos/2024/beach.jpg"), Cow::Borrowed(_)));
        assert_eq!(escape("ünïcode names stay".as_bytes()), "ünïcode names stay");
    }

    #[test]
    fn every_odd_byte_gets_a_visible_escape() {
        assert_eq!(escape(b"bad\xffname"), "bad\\xffname");
        assert_eq!(escape(b"a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape(b"\x1b[2Jgone"), "\\x1b[2Jgone");
        assert_eq!(escape("csi\u{9b}".as_bytes()), "csi\\u{9b}");
        // A literal backslash is doubled, so these stay apart.
        assert_eq!(escape(b"bad\\xffname"), "bad\\\\xffname");
        assert_ne!(escape(b"bad\\xffname"), escape(b"bad\xffname"));
        // A truncated UTF-8 sequence shows its bytes.
        assert_eq!(escape(b"caf\xc3"), "caf\\xc3");
    }

    #[test]
    fn controls_leaves_backslashes_for_names_escaped_before() {
        assert!(matches!(controls("bad\\xffname: open failed"), Cow::Borrowed(_)));
        assert_eq!(controls("a\nb\x1b[2J\u{9b}"), "a\\nb\\x1b[2J\\u{9b}");
    }

    proptest::proptest! {
        #[test]
        fn different_names_never_print_the_same(a: Vec<u8>, b: Vec<u8>) {
            proptest::prop_assume!(a != b);
            proptest::prop_assert_ne!(escape(&a), escape(&b));
            proptest::prop_assert!(!escape(&a).chars().any(char::is_control));
        }
    }
}
