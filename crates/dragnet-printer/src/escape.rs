//! Untrusted text made safe to show on a terminal or in a spreadsheet: the one place that
//! decides which characters are escaped, and how.
//!
//! Record values (user agents, request parameters), rule text (names, descriptions, notes) and
//! file names come from whoever wrote the log, the rule or the folder. Printed raw, an ESC
//! starts a terminal escape sequence (colours, cursor moves, window titles, OSC 8 links), CR
//! rewrites the line already shown, BEL rings, the C1 controls are escape sequences of their
//! own on some terminals, and the bidirectional overrides reorder what is shown (a file named
//! `exe.txt` that is really `txt.exe`). Each is shown visibly instead, never dropped: `\x1b`,
//! `\r`, `\u{9b}`, `\u{202e}`.

use std::borrow::Cow;

/// What [`escape_controls`] does with line feeds and tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Newlines {
    /// Kept: text that may span lines (a rule's note, a whole diagnostic message, a CSV cell,
    /// which RFC 4180 quoting keeps in one field).
    Keep,
    /// Escaped as `\n` and `\t`: text that must stay on one line (a path or a name inside a
    /// message).
    Escape,
}

/// Whether `c` is shown escaped: the C0 controls (U+0000–U+001F, ESC, BEL and CR among them),
/// DEL, the C1 controls (U+0080–U+009F), and the bidirectional embeddings, overrides and
/// isolates (U+202A–U+202E, U+2066–U+2069).
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character ([`is_unsafe_char`]) written visibly: `\n`, `\r`, `\t`
/// by name, the other C0 controls and DEL as `\xNN`, the C1 controls and bidi controls as
/// `\u{NNNN}`. Line feeds and tabs are kept or escaped as `newlines` says. Borrowed when
/// nothing needs escaping (the common case). A backslash is not itself escaped: the aim is
/// that nothing in the text can act on the terminal, not that the text can be decoded back.
pub fn escape_controls(text: &str, newlines: Newlines) -> Cow<'_, str> {
    let keep = |c: char| newlines == Newlines::Keep && matches!(c, '\n' | '\t');
    let Some(first) = text.find(|c: char| is_unsafe_char(c) && !keep(c)) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !is_unsafe_char(c) || keep(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            _ => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_shown_not_dropped() {
        let t = "a\x1b[31mred\x07\r\u{7f}\u{9b}2J\u{202e}txt.exe\u{2066}";
        assert_eq!(
            escape_controls(t, Newlines::Keep),
            "a\\x1b[31mred\\x07\\r\\x7f\\u{9b}2J\\u{202e}txt.exe\\u{2066}"
        );
        assert_eq!(escape_controls("\0", Newlines::Keep), "\\x00");
    }

    #[test]
    fn newlines_and_tabs_are_kept_or_escaped() {
        assert_eq!(escape_controls("a\n\tb", Newlines::Keep), "a\n\tb");
        assert_eq!(escape_controls("a\n\tb", Newlines::Escape), "a\\n\\tb");
        // CR is escaped either way: it rewrites the line on a terminal.
        assert_eq!(escape_controls("a\r\nb", Newlines::Keep), "a\\r\nb");
    }

    #[test]
    fn safe_text_is_borrowed_unchanged() {
        for t in [
            "",
            "plain",
            "日本語 é ü",
            "C:\\path\\x1b",
            "\u{a0}\u{200b}\u{2028}",
        ] {
            assert!(matches!(
                escape_controls(t, Newlines::Escape),
                Cow::Borrowed(b) if b == t
            ));
        }
    }
}
