//! String values that keep where they came from, so that a query parser can report an error
//! at the right `line:col` of the rule file, not just an offset inside the query.
//!
//! Mapping a byte offset of the decoded value back to the file:
//! - literal strings (`'…'`, `'''…'''`) hold their text verbatim, so the mapping is exact
//!   (the newline right after an opening `'''` is trimmed, as TOML says, and skipped here);
//! - basic strings (`"…"`, `"""…"""`) are decoded again while walking: each escape
//!   (`\n`, `\"`, `\uXXXX`, …) maps to the position of its backslash, and a line-ending
//!   backslash (which swallows the following whitespace) maps to the next kept character.
//!   This is exact for every string the TOML parser accepts.
//! - values from a Kibana NDJSON export map to the start of their line: JSON is parsed
//!   without spans, so the column is not known (`SourceText::is_exact` says so).

use std::ops::Range;
use std::sync::Arc;

use crate::source::{Position, SourceFile};

/// A string from a rule file with its origin.
#[derive(Clone, Debug)]
pub struct SourceText {
    value: String,
    origin: Origin,
}

#[derive(Clone, Debug)]
enum Origin {
    /// `raw` is the whole TOML string literal, quotes included.
    Toml {
        file: Arc<SourceFile>,
        raw: Range<usize>,
    },
    /// `line` is the NDJSON line holding the value.
    Json {
        file: Arc<SourceFile>,
        line: Range<usize>,
    },
}

impl SourceText {
    pub(crate) fn toml(value: String, file: &Arc<SourceFile>, raw: Range<usize>) -> Self {
        Self {
            value,
            origin: Origin::Toml {
                file: Arc::clone(file),
                raw,
            },
        }
    }

    pub(crate) fn json(value: String, file: &Arc<SourceFile>, line: Range<usize>) -> Self {
        Self {
            value,
            origin: Origin::Json {
                file: Arc::clone(file),
                line,
            },
        }
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The file this text was read from.
    pub fn file(&self) -> &Arc<SourceFile> {
        match &self.origin {
            Origin::Toml { file, .. } | Origin::Json { file, .. } => file,
        }
    }

    /// The byte range in the file of the whole value (for TOML: the string literal with its
    /// quotes; for NDJSON: the line).
    pub fn file_span(&self) -> Range<usize> {
        match &self.origin {
            Origin::Toml { raw, .. } => raw.clone(),
            Origin::Json { line, .. } => line.clone(),
        }
    }

    /// Whether [`Self::file_offset`] is exact (TOML) or only the line (NDJSON).
    pub fn is_exact(&self) -> bool {
        matches!(self.origin, Origin::Toml { .. })
    }

    /// The byte offset in the file of byte `offset` of the value (`offset == len` maps to
    /// the closing quote). `None` if `offset` is past the end or not on a char boundary.
    pub fn file_offset(&self, offset: usize) -> Option<usize> {
        if offset > self.value.len() || !self.value.is_char_boundary(offset) {
            return None;
        }
        match &self.origin {
            Origin::Json { line, .. } => Some(line.start),
            Origin::Toml { file, raw } => {
                map_toml_offset(&file.text()[raw.clone()], offset).map(|inner| raw.start + inner)
            }
        }
    }

    /// The 1-based line and column in the file of byte `offset` of the value.
    pub fn position(&self, offset: usize) -> Option<Position> {
        Some(self.file().position(self.file_offset(offset)?))
    }

    /// The file byte range of `range` inside the value.
    pub fn file_range(&self, range: Range<usize>) -> Option<Range<usize>> {
        let start = self.file_offset(range.start)?;
        let end = self.file_offset(range.end)?;
        Some(start..end.max(start))
    }
}

impl std::ops::Deref for SourceText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.value
    }
}

impl PartialEq<str> for SourceText {
    fn eq(&self, other: &str) -> bool {
        self.value == other
    }
}

/// Maps `target` (a byte offset in the decoded value) to a byte offset in `raw` (the literal
/// with its delimiters).
fn map_toml_offset(raw: &str, target: usize) -> Option<usize> {
    let (delim, basic) = if raw.starts_with("'''") {
        ("'''", false)
    } else if raw.starts_with("\"\"\"") {
        ("\"\"\"", true)
    } else if raw.starts_with('\'') {
        ("'", false)
    } else if raw.starts_with('"') {
        ("\"", true)
    } else {
        return None;
    };
    let mut start = delim.len();
    if delim.len() == 3 {
        if raw[start..].starts_with('\n') {
            start += 1;
        } else if raw[start..].starts_with("\r\n") {
            start += 2;
        }
    }
    let body = &raw[start..raw.len().saturating_sub(delim.len()).max(start)];
    if !basic {
        return (target <= body.len()).then_some(start + target);
    }
    // Walk the basic string, decoding as we go.
    let bytes = body.as_bytes();
    let mut i = 0; // in body
    let mut decoded = 0; // in value
    while i < bytes.len() {
        if decoded >= target {
            // Skip a line-ending backslash's whitespace before answering, so the offset
            // points at the character that is actually kept.
            if let Some(next) = skip_line_continuation(body, i) {
                i = next;
                continue;
            }
            return Some(start + i);
        }
        if bytes[i] == b'\\' {
            if let Some(next) = skip_line_continuation(body, i) {
                i = next;
                continue;
            }
            let (raw_len, decoded_len) = match bytes.get(i + 1) {
                Some(b'u') => (6, decode_hex_len(&body[i + 2..], 4)),
                Some(b'U') => (10, decode_hex_len(&body[i + 2..], 8)),
                Some(b'x') => (4, decode_hex_len(&body[i + 2..], 2)),
                Some(_) => (2, 1),
                None => return None,
            };
            i += raw_len;
            decoded += decoded_len;
        } else {
            let ch_len = body[i..].chars().next().map_or(1, char::len_utf8);
            i += ch_len;
            decoded += ch_len;
        }
    }
    (decoded == target).then_some(start + i)
}

/// If a line-ending backslash starts at `i`, the offset after the whitespace it swallows.
fn skip_line_continuation(body: &str, i: usize) -> Option<usize> {
    let rest = body.get(i..)?;
    let after = rest.strip_prefix('\\')?;
    let trimmed = after.trim_start_matches([' ', '\t']);
    if !(trimmed.starts_with('\n') || trimmed.starts_with("\r\n")) {
        return None;
    }
    let kept = trimmed.trim_start_matches([' ', '\t', '\n', '\r']);
    Some(body.len() - kept.len())
}

/// UTF-8 length of the character a `\u`/`\U`/`\x` escape produces.
fn decode_hex_len(hex: &str, digits: usize) -> usize {
    hex.get(..digits)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(doc: &str, key: &str, offset: usize, expect: (usize, usize)) {
        let parsed = toml::de::DeTable::parse(doc).unwrap();
        let (_, value) = parsed
            .get_ref()
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .unwrap();
        let text = value.get_ref().as_str().unwrap().to_string();
        let file = SourceFile::new("t.toml", doc.to_string());
        let st = SourceText::toml(text, &file, value.span());
        let pos = st.position(offset).unwrap();
        assert_eq!((pos.line, pos.column), expect, "{key} offset {offset}");
    }

    #[test]
    fn literal_multiline_maps_exactly() {
        let doc = "a = 1\nquery = '''\nfoo and\n  bar:\"x\"\n'''\n";
        check(doc, "query", 0, (3, 1)); // f
        check(doc, "query", 8, (4, 1)); // first space of line 2
        check(doc, "query", 10, (4, 3)); // b
    }

    #[test]
    fn literal_single_line_maps_exactly() {
        check("q = 'ab c'", "q", 3, (1, 9));
    }

    #[test]
    fn basic_strings_map_through_escapes() {
        // value: a"b<TAB>c  -> offsets: a0 "1 b2 \t3 c4
        let doc = "q = \"a\\\"b\\tc\"";
        check(doc, "q", 0, (1, 6));
        check(doc, "q", 1, (1, 7)); // the backslash of \"
        check(doc, "q", 2, (1, 9)); // b
        check(doc, "q", 4, (1, 12)); // c
        // \u00e9 is two bytes in the value
        let doc = "q = \"\\u00e9x\"";
        check(doc, "q", 2, (1, 12));
    }

    #[test]
    fn basic_multiline_line_continuation() {
        // value: "ab" + "cd"  (the backslash swallows newline and indentation)
        let doc = "q = \"\"\"\nab\\\n    cd\"\"\"";
        check(doc, "q", 0, (2, 1));
        check(doc, "q", 2, (3, 5)); // c
        check(doc, "q", 3, (3, 6)); // d
    }

    #[test]
    fn json_text_maps_to_line_start() {
        let file = SourceFile::new("x.ndjson", "{}\n{\"query\":\"a\"}\n".to_string());
        let st = SourceText::json("a".into(), &file, 3..16);
        assert!(!st.is_exact());
        assert_eq!(st.position(0), Some(Position { line: 2, column: 1 }));
        assert_eq!(st.position(5), None);
    }
}
