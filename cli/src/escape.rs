//! Text from files and peers made safe for a terminal and for line-based
//! output.
//!
//! File names may hold any byte but `/` and NUL, and a daemon's messages are
//! whatever the daemon sends: a newline would split one entry over two lines
//! of `-v` output, and an escape sequence could rewrite the user's terminal.
//! Every control character is therefore shown as an escape (`\n`, `\t`,
//! `\x1b`, `\u{9b}`) and a backslash as `\\`, so what is printed stays one
//! line per entry and means one thing. JSON output needs none of this:
//! serde escapes its strings.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with control characters and backslashes escaped.
pub(crate) fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
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
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_and_unchanged() {
        assert!(matches!(for_terminal("photos/2024/beach.jpg"), Cow::Borrowed(_)));
        assert_eq!(for_terminal("ünïcode names stay"), "ünïcode names stay");
    }

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(for_terminal("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(for_terminal("\x1b[2Jgone"), "\\x1b[2Jgone");
        assert_eq!(for_terminal("del\x7f"), "del\\x7f");
        assert_eq!(for_terminal("csi\u{9b}"), "csi\\u{9b}");
        // A backslash is escaped too, so `\n` in a name is told apart from a newline.
        assert_eq!(for_terminal("back\\nslash"), "back\\\\nslash");
        assert!(!for_terminal("x\u{7}y").chars().any(char::is_control));
    }
}
