//! Source files and positions: byte offsets to 1-based line:column, and source snippets.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A 1-based line and column. Columns count Unicode scalar values (`char`s), as editors and
/// compilers do, so a column points at the same character whatever the encoding width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The text of one rule file (or an embedded rule) with its line index.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Arc<Self> {
        let mut line_starts = vec![0];
        line_starts.extend(memchr_newlines(&text));
        Arc::new(Self {
            path: path.into(),
            text,
            line_starts,
        })
    }

    /// The path as given when loading (embedded rules use `<embedded>/<file name>`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The position of a byte offset (clamped to the text; a column inside a multi-byte
    /// character points at that character).
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line_index];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        Position {
            line: line_index + 1,
            column: self.text[start..end].chars().count() + 1,
        }
    }

    /// The byte range of 1-based `line`, without its line terminator.
    pub fn line_range(&self, line: usize) -> Option<Range<usize>> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(line)
            .map(|next| next - 1)
            .unwrap_or(self.text.len());
        let end = if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        Some(start..end.max(start))
    }

    /// The text of 1-based `line`, without its terminator.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        self.line_range(line).map(|r| &self.text[r])
    }
}

fn memchr_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let file = SourceFile::new("x.toml", "ab\nçd\r\nx".to_string());
        assert_eq!(file.position(0), Position { line: 1, column: 1 });
        assert_eq!(file.position(3), Position { line: 2, column: 1 });
        // 'd' is after the two-byte 'ç'
        assert_eq!(file.position(5), Position { line: 2, column: 2 });
        assert_eq!(file.position(8), Position { line: 3, column: 1 });
        assert_eq!(file.line_text(2), Some("çd"));
        assert_eq!(file.line_text(3), Some("x"));
        assert_eq!(file.line_text(4), None);
    }
}
