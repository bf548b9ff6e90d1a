//! Tokens of Elasticsearch's EQL lexer (`EqlBase.g4`): lowercase keywords, `IDENTIFIER`
//! (`[A-Za-z_@][A-Za-z0-9_]*`), backtick-quoted identifiers with ```` `` ```` escapes,
//! `name~` function names, double-quoted strings with `\` escapes and `\u{…}`, `"""…"""` raw
//! strings, integers, decimals, `//` and `/* */` comments.

use crate::ast::Span;

pub use dragnet_query::{ParseError, line_col};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An `IDENTIFIER` (keywords included: the parser compares the text).
    Ident(String),
    /// A backtick-quoted identifier, unescaped.
    Quoted(String),
    /// `name~`, a case-insensitive function name (also `in~`, `like~`, `regex~`).
    Tilde(String),
    Str(String),
    Int(String),
    Decimal(String),
    Punct(&'static str),
    Eof,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

const PUNCTS: &[&str] = &[
    "==", "!=", "<=", ">=", "![", ":", "=", "<", ">", "+", "-", "*", "/", "%", ".", ",", "[", "]",
    "(", ")", "|", "?",
];

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
            continue;
        }
        if src[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if src[i..].starts_with("/*") {
            i = block_comment_end(src, i)?;
            continue;
        }
        let start = i;
        if c.is_ascii_alphabetic() || c == b'_' || c == b'@' {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = src[start..i].to_owned();
            // TILDE_IDENTIFIER: a name directly followed by `~`.
            if i < bytes.len() && bytes[i] == b'~' && !word.starts_with('@') {
                i += 1;
                out.push(Token {
                    tok: Tok::Tilde(word),
                    span: Span::new(start, i),
                });
            } else {
                out.push(Token {
                    tok: Tok::Ident(word),
                    span: Span::new(start, i),
                });
            }
            continue;
        }
        if c == b'`' {
            let mut name = String::new();
            i += 1;
            loop {
                match src[i..].chars().next() {
                    None => {
                        return Err(ParseError::at(
                            src,
                            start,
                            "unterminated backtick-quoted field name: expected a closing '`'",
                        ));
                    }
                    Some('`') if src[i + 1..].starts_with('`') => {
                        name.push('`');
                        i += 2;
                    }
                    Some('`') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        name.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            out.push(Token {
                tok: Tok::Quoted(name),
                span: Span::new(start, i),
            });
            continue;
        }
        if c == b'"' {
            let (s, end) = string(src, start)?;
            out.push(Token {
                tok: Tok::Str(s),
                span: Span::new(start, end),
            });
            i = end;
            continue;
        }
        if c == b'\'' {
            return Err(ParseError::at(
                src,
                start,
                "strings enclosed in single quotes (') are not supported in EQL: use double quotes (\")",
            ));
        }
        if c == b'?' && matches!(bytes.get(i + 1), Some(b'"' | b'\'')) {
            return Err(ParseError::at(
                src,
                start,
                "'?\"' does not start a raw string in Elasticsearch EQL: use three double quotes (\"\"\"…\"\"\")",
            ));
        }
        if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let (tok, end) = number(src, start);
            out.push(Token {
                tok,
                span: Span::new(start, end),
            });
            i = end;
            continue;
        }
        if let Some(p) = PUNCTS.iter().find(|p| src[i..].starts_with(**p)) {
            i += p.len();
            out.push(Token {
                tok: Tok::Punct(p),
                span: Span::new(start, i),
            });
            continue;
        }
        let ch = src[i..].chars().next().expect("not at end");
        let hint = match ch {
            '!' => " ('!' only appears in '!=' and in a missing-event step '![…]')",
            '~' => " ('~' must directly follow a function name or in/like/regex)",
            _ => "",
        };
        return Err(ParseError::at(
            src,
            start,
            format!("unexpected character {ch:?}{hint}"),
        ));
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(src.len(), src.len()),
    });
    Ok(out)
}

/// Block comments nest, as `BRACKETED_COMMENT` does.
fn block_comment_end(src: &str, start: usize) -> Result<usize, ParseError> {
    let mut depth = 0usize;
    let mut i = start;
    while i < src.len() {
        if src[i..].starts_with("/*") {
            depth += 1;
            i += 2;
        } else if src[i..].starts_with("*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += src[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    Err(ParseError::at(
        src,
        start,
        "unterminated comment: expected '*/'",
    ))
}

fn number(src: &str, start: usize) -> (Tok, usize) {
    let b = src.as_bytes();
    let mut i = start;
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    let mut decimal = false;
    if i < b.len() && b[i] == b'.' {
        // `1.foo` is not a number followed by a field: DECIMAL_VALUE takes `1.` whole.
        decimal = true;
        i += 1;
        digits(&mut i);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            decimal = true;
            i = j;
            digits(&mut i);
        }
    }
    let text = src[start..i].to_owned();
    (
        if decimal {
            Tok::Decimal(text)
        } else {
            Tok::Int(text)
        },
        i,
    )
}

/// A `"…"` string (escapes resolved) or a `"""…"""` raw string; returns the end offset.
fn string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    if src[start..].starts_with("\"\"\"") {
        let body = start + 3;
        let Some(rel) = src[body..].find("\"\"\"") else {
            return Err(ParseError::at(
                src,
                start,
                "unterminated raw string: expected closing '\"\"\"'",
            ));
        };
        // Up to two more quotes belong to the content (`"""a""""` is `a"`), as the lexer's
        // `'"""' .*? '"""' '"'? '"'?` reads them.
        let mut end = body + rel + 3;
        let mut content_end = body + rel;
        for _ in 0..2 {
            if src[end..].starts_with('"') {
                end += 1;
                content_end += 1;
            }
        }
        return Ok((src[body..content_end].to_owned(), end));
    }
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(c) = src[i..].chars().next() else {
            return Err(ParseError::at(
                src,
                start,
                "unterminated string: expected a closing '\"'",
            ));
        };
        match c {
            '"' => return Ok((out, i + 1)),
            '\r' | '\n' => {
                return Err(ParseError::at(
                    src,
                    i,
                    "line break inside a string: write it as \\n, or use a raw string \"\"\"…\"\"\"",
                ));
            }
            '\\' => {
                let Some(e) = src[i + 1..].chars().next() else {
                    return Err(ParseError::at(
                        src,
                        i,
                        "unterminated escape at end of query",
                    ));
                };
                i += 1 + e.len_utf8();
                match e {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    '\\' => out.push('\\'),
                    'u' => {
                        let esc_start = i - 2;
                        let rest = &src[i..];
                        let close = rest.find('}');
                        let hex = match (rest.starts_with('{'), close) {
                            (true, Some(close)) => &rest[1..close],
                            _ => {
                                return Err(ParseError::at(
                                    src,
                                    esc_start,
                                    "invalid unicode escape: expected \\u{XXXX} with 2 to 8 hex digits",
                                ));
                            }
                        };
                        let ch = (2..=8)
                            .contains(&hex.len())
                            .then(|| u32::from_str_radix(hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32);
                        match ch {
                            Some(ch) => out.push(ch),
                            None => {
                                return Err(ParseError::at(
                                    src,
                                    esc_start,
                                    format!(
                                        "invalid unicode escape \\u{{{hex}}}: expected 2 to 8 hex digits naming a valid code point"
                                    ),
                                ));
                            }
                        }
                        i += close.expect("checked") + 1;
                    }
                    other => {
                        return Err(ParseError::at(
                            src,
                            i - 1 - other.len_utf8(),
                            format!(
                                "unknown escape sequence \\{other}: valid escapes are \\n \\r \\t \\b \\f \\\" \\' \\\\ and \\u{{XXXX}}; for regular expressions or Windows paths use a raw string \"\"\"…\"\"\""
                            ),
                        ));
                    }
                }
            }
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
}
