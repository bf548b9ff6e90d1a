//! Tokens of ES|QL's expression mode, read on demand at a byte position.
//!
//! Elasticsearch's lexer switches modes per command (`lexer/*.g4` of elastic/elasticsearch
//! `x-pack/plugin/esql/src/main/antlr`, main branch as stored 2026: `Expression.g4` for
//! WHERE/EVAL/STATS/SORT…, `From.g4` for index patterns, `Project.g4` for KEEP/DROP name
//! patterns, `Rename.g4`, `Enrich.g4`). Here the parser knows which mode it is in and calls
//! the matching function of this module at its current position: every function reads
//! forward only, so the whole query is lexed in linear time.
//!
//! Keywords are case-insensitive (`options { caseInsensitive = true; }`), identifiers keep
//! their case.

/// One expression-mode token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// An unquoted word: identifier or keyword (`and`, `by`, …), as written.
    Word(String),
    /// A backtick-quoted identifier, unescaped (` `` ` is one backtick).
    QuotedIdent(String),
    /// A string literal, unescaped.
    Str(String),
    Int(String),
    Decimal(String),
    /// `?`, `?name`, `?1`, `??name`, as written.
    Param(String),
    /// Punctuation and operators: `==`, `(`, `|`, …
    Punct(&'static str),
    Eof,
}

impl Tok {
    /// How an error message names the token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("`{w}`"),
            Tok::QuotedIdent(w) => format!("`{w}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Int(t) | Tok::Decimal(t) => format!("the number `{t}`"),
            Tok::Param(p) => format!("the parameter `{p}`"),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::Eof => "the end of the query".into(),
        }
    }

    pub(crate) fn is_word(&self, keyword: &str) -> bool {
        matches!(self, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }
}

/// A lexing failure: byte offset and message.
pub(crate) type LexError = (usize, String);

/// Skips whitespace and comments (`// …`, `/* … */`, which nest as in Elasticsearch's
/// `MULTILINE_COMMENT : '/*' (MULTILINE_COMMENT|.)*? '*/'`). Returns the next position.
pub(crate) fn skip_trivia(src: &str, mut pos: usize) -> Result<usize, LexError> {
    let bytes = src.as_bytes();
    loop {
        match bytes.get(pos..pos + 2) {
            Some(b"//") => {
                pos = src[pos..].find('\n').map_or(src.len(), |i| pos + i + 1);
                continue;
            }
            Some(b"/*") => {
                let start = pos;
                let mut depth = 0usize;
                loop {
                    match bytes.get(pos..pos + 2) {
                        Some(b"/*") => {
                            depth += 1;
                            pos += 2;
                        }
                        Some(b"*/") => {
                            depth -= 1;
                            pos += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        Some(_) => pos += 1,
                        None => {
                            return Err((
                                start,
                                "unterminated `/*` comment: close it with `*/`".into(),
                            ));
                        }
                    }
                }
                continue;
            }
            _ => {}
        }
        match bytes.get(pos) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => pos += 1,
            _ => return Ok(pos),
        }
    }
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'@'
}

fn is_word_body(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The token starting at `pos` (trivia already skipped) and the position after it.
pub(crate) fn next_token(src: &str, pos: usize) -> Result<(Tok, usize), LexError> {
    let bytes = src.as_bytes();
    let Some(&c) = bytes.get(pos) else {
        return Ok((Tok::Eof, pos));
    };
    let at = |i: usize| bytes.get(pos + i).copied();
    if is_word_start(c) {
        let end = pos
            + 1
            + bytes[pos + 1..]
                .iter()
                .take_while(|&&b| is_word_body(b))
                .count();
        // `_` and `@` alone (or `@` followed by nothing usable) are not identifiers.
        if (c == b'_' || c == b'@') && end == pos + 1 {
            return Err((pos, format!("`{}` alone is not an identifier", c as char)));
        }
        return Ok((Tok::Word(src[pos..end].to_owned()), end));
    }
    if c.is_ascii_digit() || (c == b'.' && at(1).is_some_and(|d| d.is_ascii_digit())) {
        return Ok(number(src, pos));
    }
    match c {
        b'"' => return string(src, pos),
        b'`' => return quoted_ident(src, pos),
        b'?' => {
            let mut end = pos + 1;
            if bytes.get(end) == Some(&b'?') {
                end += 1;
            }
            end += bytes[end..]
                .iter()
                .take_while(|&&b| is_word_body(b))
                .count();
            return Ok((Tok::Param(src[pos..end].to_owned()), end));
        }
        _ => {}
    }
    const PUNCT: &[&str] = &[
        "==", "!=", "<=", ">=", "=~", "::", "<", ">", "=", ":", ",", ".", "+", "-", "*", "/", "%",
        "(", ")", "[", "]", "{", "}", "|", ";",
    ];
    for p in PUNCT {
        if src[pos..].starts_with(p) {
            return Ok((Tok::Punct(p), pos + p.len()));
        }
    }
    let ch = src[pos..].chars().next().unwrap_or('?');
    Err((pos, format!("unexpected character `{}`", ch.escape_debug())))
}

/// `INTEGER_LITERAL : DIGIT+` and `DECIMAL_LITERAL : DIGIT+ DOT DIGIT* | DOT DIGIT+ |
/// DIGIT+ (DOT DIGIT*)? EXPONENT | DOT DIGIT+ EXPONENT` with `EXPONENT : [e] [+-]? DIGIT+`.
fn number(src: &str, pos: usize) -> (Tok, usize) {
    let bytes = src.as_bytes();
    let digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut end = pos + digits(pos);
    let mut decimal = false;
    if bytes.get(end) == Some(&b'.') {
        decimal = true;
        end += 1;
        end += digits(end);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exp = end + 1;
        if matches!(bytes.get(exp), Some(b'+' | b'-')) {
            exp += 1;
        }
        let n = digits(exp);
        if n > 0 {
            decimal = true;
            end = exp + n;
        }
    }
    let text = src[pos..end].to_owned();
    (
        if decimal {
            Tok::Decimal(text)
        } else {
            Tok::Int(text)
        },
        end,
    )
}

/// `QUOTED_STRING : '"' (ESCAPE_SEQUENCE | UNESCAPED_CHARS)* '"' | '"""' .*? '"""' '"'? '"'?`
/// with `ESCAPE_SEQUENCE : '\\' [tnr"\\]` and no raw line breaks in the first form. A
/// triple-quoted string takes its content verbatim (no escapes); up to two quotes right after
/// the closing `"""` belong to the content, as Elasticsearch cuts three from each end.
fn string(src: &str, pos: usize) -> Result<(Tok, usize), LexError> {
    if src[pos..].starts_with("\"\"\"") {
        let body = pos + 3;
        let Some(close) = src[body..].find("\"\"\"") else {
            return Err((
                pos,
                "unterminated `\"\"\"` string: close it with `\"\"\"`".into(),
            ));
        };
        let mut end = body + close + 3;
        for _ in 0..2 {
            if src.as_bytes().get(end) == Some(&b'"') {
                end += 1;
            }
        }
        return Ok((Tok::Str(src[body..end - 3].to_owned()), end));
    }
    let mut out = String::new();
    let mut chars = src[pos + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Tok::Str(out), pos + 1 + i + 1)),
            '\\' => match chars.next() {
                Some((_, 't')) => out.push('\t'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, other)) => {
                    return Err((
                        pos + 1 + i,
                        format!(
                            "unknown escape `\\{}` in a string: only \\t \\n \\r \\\" \\\\ are escapes; write `\\\\` for a backslash or use a triple-quoted \"\"\"…\"\"\" string",
                            other.escape_debug()
                        ),
                    ));
                }
                None => break,
            },
            '\n' | '\r' => {
                return Err((
                    pos + 1 + i,
                    "line break inside a string: write `\\n`, or use a triple-quoted \"\"\"…\"\"\" string".into(),
                ));
            }
            c => out.push(c),
        }
    }
    Err((pos, "unterminated string: close it with `\"`".into()))
}

/// `QUOTED_ID : '`' ( ~'`' | '``' )+ '`'`
fn quoted_ident(src: &str, pos: usize) -> Result<(Tok, usize), LexError> {
    let (name, end) = quoted_ident_text(src, pos)?;
    Ok((Tok::QuotedIdent(name), end))
}

pub(crate) fn quoted_ident_text(src: &str, pos: usize) -> Result<(String, usize), LexError> {
    let bytes = src.as_bytes();
    let mut out = String::new();
    let mut i = pos + 1;
    loop {
        let Some(rel) = src[i..].find('`') else {
            return Err((
                pos,
                "unterminated quoted name: close it with a backtick".into(),
            ));
        };
        out.push_str(&src[i..i + rel]);
        i += rel + 1;
        if bytes.get(i) == Some(&b'`') {
            out.push('`');
            i += 1;
        } else {
            break;
        }
    }
    if out.is_empty() {
        return Err((
            pos,
            "empty quoted name ``: a name needs at least one character".into(),
        ));
    }
    Ok((out, i))
}

/// A character of an unquoted index pattern (`UNQUOTED_SOURCE` of `lexer/From.g4`): anything
/// but blanks and the characters that end or split a source (`,` `|` `"` `[` `]` `(` `)` `=`
/// `:`), and not the start of a comment (checked by the caller).
pub(crate) fn is_index_char(c: char) -> bool {
    !matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | ',' | '|' | '"' | '[' | ']' | '(' | ')' | '=' | ':' | '`'
    )
}

/// An unquoted source run at `pos` (empty if none).
pub(crate) fn index_run(src: &str, pos: usize) -> usize {
    let mut end = pos;
    for (i, c) in src[pos..].char_indices() {
        let here = pos + i;
        if !is_index_char(c) || src[here..].starts_with("//") || src[here..].starts_with("/*") {
            break;
        }
        end = here + c.len_utf8();
    }
    end
}

/// A name pattern of KEEP/DROP/RENAME at `pos` (`qualifiedNamePattern`: parts of letters,
/// digits, `_`, `@`, `*` and backtick-quoted pieces, joined by `.`). Returns the pattern
/// with backticks removed and the end position, or `None` when no name starts there.
pub(crate) fn name_pattern(src: &str, pos: usize) -> Result<Option<(String, usize)>, LexError> {
    let bytes = src.as_bytes();
    let mut out = String::new();
    let mut i = pos;
    loop {
        // One dot-separated part: a run of unquoted chunks and quoted pieces.
        let part_start = i;
        loop {
            match bytes.get(i) {
                Some(b'`') => {
                    let (text, end) = quoted_ident_text(src, i)?;
                    out.push_str(&text);
                    i = end;
                }
                Some(&c) if is_word_body(c) || c == b'@' || c == b'*' => {
                    out.push(c as char);
                    i += 1;
                }
                _ => break,
            }
        }
        if i == part_start {
            if i == pos {
                return Ok(None);
            }
            return Err((i, "expected a name after `.`".into()));
        }
        let continues = |c: u8| is_word_body(c) || c == b'@' || c == b'*' || c == b'`';
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(|&c| continues(c)) {
            out.push('.');
            i += 1;
        } else {
            return Ok(Some((out, i)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            pos = skip_trivia(src, pos).unwrap();
            let (t, end) = next_token(src, pos).unwrap();
            if t == Tok::Eof {
                return out;
            }
            out.push(t);
            pos = end;
        }
    }

    #[test]
    fn numbers_follow_the_integer_and_decimal_rules() {
        assert_eq!(
            toks("1 1.5 .5 1. 1e5 1.5E-3 2e x"),
            vec![
                Tok::Int("1".into()),
                Tok::Decimal("1.5".into()),
                Tok::Decimal(".5".into()),
                Tok::Decimal("1.".into()),
                Tok::Decimal("1e5".into()),
                Tok::Decimal("1.5E-3".into()),
                Tok::Int("2".into()),
                Tok::Word("e".into()),
                Tok::Word("x".into()),
            ]
        );
    }

    #[test]
    fn strings_unescape_and_triple_quotes_are_verbatim() {
        assert_eq!(
            toks(r#""a\"b\\c\td" """x\d"y""" """q"""""#),
            vec![
                Tok::Str("a\"b\\c\td".into()),
                Tok::Str("x\\d\"y".into()),
                Tok::Str("q\"".into()),
            ]
        );
        assert!(
            next_token(r#""\d""#, 0)
                .unwrap_err()
                .1
                .contains("unknown escape")
        );
        assert!(
            next_token("\"a\nb\"", 0)
                .unwrap_err()
                .1
                .contains("line break")
        );
        assert!(
            next_token("\"abc", 0)
                .unwrap_err()
                .1
                .contains("unterminated")
        );
    }

    #[test]
    fn comments_nest_and_are_skipped() {
        assert_eq!(
            toks("a /* x /* y */ z */ b // c\n d"),
            vec![
                Tok::Word("a".into()),
                Tok::Word("b".into()),
                Tok::Word("d".into())
            ]
        );
        assert!(skip_trivia("/* a /* b */", 0).is_err());
    }

    #[test]
    fn quoted_names_params_and_operators() {
        assert_eq!(
            toks("`a``b` ?x ??y ? == =~ :: <= !="),
            vec![
                Tok::QuotedIdent("a`b".into()),
                Tok::Param("?x".into()),
                Tok::Param("??y".into()),
                Tok::Param("?".into()),
                Tok::Punct("=="),
                Tok::Punct("=~"),
                Tok::Punct("::"),
                Tok::Punct("<="),
                Tok::Punct("!="),
            ]
        );
    }

    #[test]
    fn name_patterns_join_quoted_pieces() {
        assert_eq!(
            name_pattern("aws.*, x", 0).unwrap(),
            Some(("aws.*".into(), 5))
        );
        assert_eq!(
            name_pattern("`a.b`.c*", 0).unwrap(),
            Some(("a.b.c*".into(), 8))
        );
        assert_eq!(name_pattern(", x", 0).unwrap(), None);
    }
}
