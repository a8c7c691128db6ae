//! Text from peers made safe for a terminal and for line-based output.
//!
//! Names are already unambiguous text when they reach the CLI: a
//! [`blit_api::RelPath`] displays through [`blit_api::text::escape`]
//! (backslash doubled, bytes that are not UTF-8 as `\xNN`, control
//! characters as escapes). A message, though, is whatever the daemon or the
//! system sent: a newline in it would split one line of output in two, and
//! an escape sequence could rewrite the user's terminal. Every line the CLI
//! prints therefore goes through [`for_terminal`], which escapes control
//! characters (`\n`, `\t`, `\x1b`, `\u{9b}`) and leaves everything else,
//! backslashes included, as it is, so a name inside a message keeps its
//! escapes. JSON output needs none of this: serde escapes its strings.

pub(crate) use blit_api::text::controls as for_terminal;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_names_and_lose_control_characters() {
        assert_eq!(for_terminal("bad\\xffname: open failed"), "bad\\xffname: open failed");
        assert_eq!(for_terminal("a\nb\x1b[2J"), "a\\nb\\x1b[2J");
        assert!(!for_terminal("x\u{7}y\u{9b}").chars().any(char::is_control));
    }
}
