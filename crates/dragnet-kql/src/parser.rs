//! Recursive-descent parser for the KQL grammar as Kibana defines it (`grammar.peggy` of
//! `@kbn/es-query`): keywords in any letter case, unquoted values with spaces, `\` escapes.
//!
//! The PEG's backtracking never rescues a failed `or`/`and` continuation (what follows could
//! only be an error), so the parser commits after each keyword and reports the inner error,
//! which names what was expected at the exact position.

use std::fmt;

use crate::ast::{
    Expr, Literal, LiteralKind, Pattern, PatternPart, Query, RangeOp, Span, ValueList, is_kql_space,
};

/// Nesting depth (parentheses, `not`, nested fields) above which parsing stops with an
/// error instead of risking the stack, unless `--max-query-depth` sets another
/// ([`dragnet_query::limits`]).
pub const MAX_QUERY_DEPTH: usize = 256;

/// The error for a query over the size limit (`--max-query-bytes`), if it is.
fn too_large(src: &str) -> Option<String> {
    (src.len() > dragnet_query::limits::max_query_bytes())
        .then(|| dragnet_query::limits::too_large_message(src.len()))
}

pub use dragnet_query::{ParseError, line_col};

/// Parses a KQL query. An empty or blank query parses to [`Query`] with no root (match all).
pub fn parse(src: &str) -> Result<Query, ParseError> {
    if let Some(message) = too_large(src) {
        return Err(ParseError::at(src, 0, message));
    }
    let mut p = Parser {
        src,
        pos: 0,
        depth: 0,
    };
    p.skip_spaces();
    if p.at_end() {
        return Ok(Query { root: None });
    }
    let root = p.or_query()?;
    p.skip_spaces();
    if !p.at_end() {
        return Err(p.unexpected_after_query());
    }
    Ok(Query { root: Some(root) })
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_at(&self, pos: usize) -> Option<char> {
        self.src.get(pos..).and_then(|s| s.chars().next())
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, offset, message.into())
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of input".to_owned(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn skip_spaces(&mut self) -> bool {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !is_kql_space(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.pos > start
    }

    /// Case-insensitive ASCII word at `pos`.
    fn word_at(&self, pos: usize, word: &str) -> bool {
        self.src
            .get(pos..pos + word.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(word))
    }

    fn space_at(&self, pos: usize) -> bool {
        self.peek_at(pos).is_some_and(is_kql_space)
    }

    /// `Space+ 'kw'i Space+` starting at the current position: returns the position after it.
    fn binary_keyword(&self, word: &str) -> Option<usize> {
        let mut pos = self.pos;
        let mut saw_space = false;
        while let Some(c) = self.peek_at(pos).filter(|&c| is_kql_space(c)) {
            pos += c.len_utf8();
            saw_space = true;
        }
        if !saw_space || !self.word_at(pos, word) {
            return None;
        }
        pos += word.len();
        if !self.space_at(pos) {
            return None;
        }
        while let Some(c) = self.peek_at(pos).filter(|&c| is_kql_space(c)) {
            pos += c.len_utf8();
        }
        Some(pos)
    }

    /// `'not'i Space+` at the current position.
    fn not_keyword(&self) -> Option<usize> {
        if !self.word_at(self.pos, "not") || !self.space_at(self.pos + 3) {
            return None;
        }
        let mut pos = self.pos + 3;
        while let Some(c) = self.peek_at(pos).filter(|&c| is_kql_space(c)) {
            pos += c.len_utf8();
        }
        Some(pos)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        let limit = dragnet_query::limits::max_query_depth(MAX_QUERY_DEPTH);
        if self.depth > limit {
            return Err(self.error(self.pos, dragnet_query::limits::too_deep_message(limit)));
        }
        Ok(())
    }

    fn unexpected_after_query(&self) -> ParseError {
        let found = self.found();
        let mut msg = format!("expected 'and', 'or' or end of query, found {found}");
        if self.word_at(self.pos, "not") {
            msg.push_str(
                " (an unquoted value stops before 'not ', even inside a word: quote the value \
                 or escape it as \\Not)",
            );
        } else if self.peek() == Some('\\') {
            msg.push_str(
                " (in unquoted text '\\' may only escape \\ ( ) : < > \" * { }, a keyword, \
                 \\t \\r \\n or \\uXXXX; quote the value instead)",
            );
        } else if matches!(self.peek(), Some('<' | '>' | ':' | '"')) {
            msg.push_str(" (escape special characters with '\\' or quote the value)");
        }
        self.error(self.pos, msg)
    }

    fn or_query(&mut self) -> PResult<Expr> {
        self.enter()?;
        let first = self.and_query()?;
        let mut items = vec![first];
        while let Some(next) = self.binary_keyword("or") {
            self.pos = next;
            items.push(self.and_query()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn and_query(&mut self) -> PResult<Expr> {
        let first = self.not_query()?;
        let mut items = vec![first];
        while let Some(next) = self.binary_keyword("and") {
            self.pos = next;
            items.push(self.not_query()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn not_query(&mut self) -> PResult<Expr> {
        if let Some(next) = self.not_keyword() {
            self.pos = next;
            return Ok(Expr::Not(Box::new(self.sub_query()?)));
        }
        self.sub_query()
    }

    fn sub_query(&mut self) -> PResult<Expr> {
        if self.peek() == Some('(') {
            self.pos += 1;
            self.skip_spaces();
            let inner = self.or_query()?;
            self.skip_spaces();
            if self.peek() != Some(')') {
                return Err(self.error(
                    self.pos,
                    format!("expected ')', 'and' or 'or', found {}", self.found()),
                ));
            }
            self.pos += 1;
            return Ok(inner);
        }
        self.expression()
    }

    /// NestedQuery / FieldRangeExpression / FieldValueExpression / ValueExpression: all begin
    /// with a literal, so read it once and decide on what follows.
    fn expression(&mut self) -> PResult<Expr> {
        if self.not_keyword().is_some() {
            return Err(self.error(
                self.pos,
                "expected a field or value, found 'not' ('not' cannot follow 'not'; use parentheses: not (not …))",
            ));
        }
        let Some(literal) = self.literal()? else {
            return Err(self.error(
                self.pos,
                format!("expected a field, value or '(', found {}", self.found()),
            ));
        };
        let after_literal = self.pos;
        self.skip_spaces();
        match self.peek() {
            Some(':') => {
                let colon = self.pos;
                self.pos += 1;
                self.skip_spaces();
                if self.peek() == Some('{') {
                    self.pos += 1;
                    self.enter()?;
                    self.skip_spaces();
                    let query = self.or_query()?;
                    self.skip_spaces();
                    if self.peek() != Some('}') {
                        return Err(self.error(
                            self.pos,
                            format!("expected '}}', 'and' or 'or', found {}", self.found()),
                        ));
                    }
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Expr::Nested {
                        path: literal,
                        query: Box::new(query),
                    });
                }
                let _ = colon;
                let values = self.list_of_values()?;
                Ok(Expr::Match {
                    field: literal,
                    values,
                })
            }
            Some(c @ ('<' | '>')) => {
                let op_start = self.pos;
                self.pos += 1;
                let op = if self.peek() == Some('=') {
                    self.pos += 1;
                    if c == '<' { RangeOp::Lte } else { RangeOp::Gte }
                } else if c == '<' {
                    RangeOp::Lt
                } else {
                    RangeOp::Gt
                };
                self.skip_spaces();
                let Some(value) = self.literal()? else {
                    return Err(self.error(
                        self.pos,
                        format!(
                            "expected value after '{}', found {}",
                            &self.src[op_start..self.pos].trim_end(),
                            self.found()
                        ),
                    ));
                };
                Ok(Expr::Range {
                    field: literal,
                    op,
                    value,
                })
            }
            _ => {
                self.pos = after_literal;
                Ok(Expr::FreeText(literal))
            }
        }
    }

    fn list_of_values(&mut self) -> PResult<ValueList> {
        if self.peek() == Some('(') {
            self.pos += 1;
            self.enter()?;
            self.skip_spaces();
            let inner = self.or_values()?;
            self.skip_spaces();
            if self.peek() != Some(')') {
                return Err(self.error(
                    self.pos,
                    format!(
                        "expected ')', 'and' or 'or' in value list, found {}",
                        self.found()
                    ),
                ));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        match self.literal()? {
            Some(v) => Ok(ValueList::One(v)),
            None => {
                let mut msg = format!("expected value after ':', found {}", self.found());
                if self.not_keyword().is_some() {
                    msg.push_str(" ('not' needs parentheses here: field:(not value))");
                }
                Err(self.error(self.pos, msg))
            }
        }
    }

    fn or_values(&mut self) -> PResult<ValueList> {
        let mut items = vec![self.and_values()?];
        while let Some(next) = self.binary_keyword("or") {
            self.pos = next;
            items.push(self.and_values()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            ValueList::Or(items)
        })
    }

    fn and_values(&mut self) -> PResult<ValueList> {
        let mut items = vec![self.not_values()?];
        while let Some(next) = self.binary_keyword("and") {
            self.pos = next;
            items.push(self.not_values()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            ValueList::And(items)
        })
    }

    fn not_values(&mut self) -> PResult<ValueList> {
        if let Some(next) = self.not_keyword() {
            self.pos = next;
            self.enter()?;
            let inner = self.list_of_values()?;
            self.depth -= 1;
            return Ok(ValueList::Not(Box::new(inner)));
        }
        self.list_of_values()
    }

    /// QuotedString / UnquotedLiteral. `None` when neither starts here.
    fn literal(&mut self) -> PResult<Option<Literal>> {
        if self.peek() == Some('"') {
            return self.quoted().map(Some);
        }
        self.unquoted()
    }

    fn quoted(&mut self) -> PResult<Literal> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(
                    self.error(start, "unterminated quoted string: expected a closing '\"'")
                );
            };
            match c {
                '"' => {
                    self.pos += 1;
                    break;
                }
                '\\' => {
                    if let Some((ch, len)) = self.escape_whitespace_or_unicode() {
                        out.push(ch);
                        self.pos += len;
                    } else if let Some(n @ ('\\' | '"')) = self.peek_at(self.pos + 1) {
                        out.push(n);
                        self.pos += 2;
                    } else {
                        // Any other backslash is an ordinary character in quoted text.
                        out.push('\\');
                        self.pos += 1;
                    }
                }
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
        Ok(Literal {
            kind: LiteralKind::Quoted(out),
            span: Span {
                start,
                end: self.pos,
            },
        })
    }

    /// `\t` `\r` `\n` or `\uXXXX` at the current position (which holds a backslash).
    fn escape_whitespace_or_unicode(&self) -> Option<(char, usize)> {
        match self.peek_at(self.pos + 1)? {
            't' => Some(('\t', 2)),
            'r' => Some(('\r', 2)),
            'n' => Some(('\n', 2)),
            'u' => {
                let hex = self.src.get(self.pos + 2..self.pos + 6)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                let code = u32::from_str_radix(hex, 16).ok()?;
                // JavaScript's String.fromCharCode yields a lone surrogate for D800–DFFF;
                // Rust strings cannot hold one, so it becomes U+FFFD.
                Some((char::from_u32(code).unwrap_or('\u{fffd}'), 6))
            }
            _ => None,
        }
    }

    /// Space 'or'i Space / Space 'and'i Space / 'not'i Space at `pos`.
    fn keyword_starts(&self, pos: usize) -> bool {
        if self.word_at(pos, "not") && self.space_at(pos + 3) {
            return true;
        }
        if let Some(c) = self.peek_at(pos).filter(|&c| is_kql_space(c)) {
            let p = pos + c.len_utf8();
            return (self.word_at(p, "or") && self.space_at(p + 2))
                || (self.word_at(p, "and") && self.space_at(p + 3));
        }
        false
    }

    fn unquoted(&mut self) -> PResult<Option<Literal>> {
        let start = self.pos;
        let mut parts: Vec<PatternPart> = Vec::new();
        let mut text = String::new();
        let mut any_star = false;
        while let Some(c) = self.peek() {
            if c == '\\' {
                if let Some((ch, len)) = self.escape_whitespace_or_unicode() {
                    text.push(ch);
                    self.pos += len;
                    continue;
                }
                if let Some(n @ ('\\' | '(' | ')' | ':' | '<' | '>' | '"' | '*' | '{' | '}')) =
                    self.peek_at(self.pos + 1)
                {
                    text.push(n);
                    self.pos += 2;
                    continue;
                }
                let after = self.pos + 1;
                let kw = ["or", "and", "not"]
                    .into_iter()
                    .find(|w| self.word_at(after, w));
                if let Some(w) = kw {
                    text.push_str(&self.src[after..after + w.len()]);
                    self.pos = after + w.len();
                    continue;
                }
                let bad = self
                    .peek_at(after)
                    .map_or("end of input".to_owned(), |c| format!("{c:?}"));
                return Err(self.error(
                    self.pos,
                    format!(
                        "invalid escape '\\' before {bad}: in unquoted text '\\' may only escape \\ ( ) : < > \" * {{ }}, a keyword (or, and, not), \\t \\r \\n or \\uXXXX; quote the value (\"…\") to keep a backslash"
                    ),
                ));
            }
            if c == '*' {
                if !text.is_empty() {
                    parts.push(PatternPart::Text(std::mem::take(&mut text)));
                }
                parts.push(PatternPart::Star);
                any_star = true;
                self.pos += 1;
                continue;
            }
            if matches!(c, '(' | ')' | ':' | '<' | '>' | '"' | '{' | '}') {
                break;
            }
            if self.keyword_starts(self.pos) {
                break;
            }
            text.push(c);
            self.pos += c.len_utf8();
        }
        if self.pos == start {
            return Ok(None);
        }
        if !text.is_empty() {
            parts.push(PatternPart::Text(text));
        }
        js_trim_parts(&mut parts);
        let span = Span {
            start,
            end: self.pos,
        };
        let kind = if any_star {
            LiteralKind::Wildcard(Pattern { parts })
        } else {
            let s = match parts.pop() {
                Some(PatternPart::Text(t)) => t,
                _ => String::new(),
            };
            match s.as_str() {
                "true" => LiteralKind::Bool(true),
                "false" => LiteralKind::Bool(false),
                "null" => LiteralKind::Null,
                _ => LiteralKind::Unquoted(s),
            }
        };
        Ok(Some(Literal { kind, span }))
    }
}

/// JavaScript `String.prototype.trim` whitespace.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

/// Trims like Kibana's `chars.join('').trim()`: only the outer text pieces can lose spaces.
fn js_trim_parts(parts: &mut Vec<PatternPart>) {
    if let Some(PatternPart::Text(t)) = parts.first_mut() {
        let trimmed = t.trim_start_matches(is_js_space);
        *t = trimmed.to_owned();
    }
    if let Some(PatternPart::Text(t)) = parts.last_mut() {
        let trimmed = t.trim_end_matches(is_js_space);
        *t = trimmed.to_owned();
    }
    parts.retain(|p| !matches!(p, PatternPart::Text(t) if t.is_empty()));
}

impl fmt::Display for crate::ast::PatternPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternPart::Text(t) => f.write_str(t),
            PatternPart::Star => f.write_str("*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(q: &str) -> String {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}")).to_string()
    }

    fn err(q: &str) -> String {
        parse(q).expect_err(q).to_string()
    }

    #[test]
    fn precedence_and_case_insensitive_keywords() {
        assert_eq!(canon("a:1 OR b:2 AnD c:3"), "a:1 or b:2 and c:3");
        assert!(
            matches!(parse("a:1 or b:2 and c:3").unwrap().root, Some(Expr::Or(ref v)) if v.len() == 2)
        );
        assert_eq!(canon("NOT a:1 and b:2"), "not a:1 and b:2");
        assert_eq!(canon("(a:1 or b:2) and c:3"), "(a:1 or b:2) and c:3");
        assert_eq!(canon("not (a:1 or b:2)"), "not (a:1 or b:2)");
    }

    #[test]
    fn unquoted_values_keep_spaces_and_stop_at_keywords() {
        assert_eq!(canon("f: S3 Browser "), "f:S3 Browser");
        assert_eq!(canon("f: *S3 Browser* and g:x"), "f:*S3 Browser* and g:x");
        assert!(err("msg: cannot find").contains("found 'n'"));
        // A trailing keyword is escaped: whatever follows the value may start with a space.
        assert_eq!(canon("f:b or"), r"f:b \or");
        assert_eq!(canon(r"f:can\Not find"), r"f:can\Not find");
        assert_eq!(canon(r"f:\or"), r"f:or");
        assert_eq!(canon(r"f:a \or b"), r"f:a \or b");
    }

    #[test]
    fn escapes_and_quotes() {
        let q = parse(r#"f:C\:\\Windows\*"#).unwrap();
        let Some(Expr::Match {
            values: ValueList::One(v),
            ..
        }) = q.root
        else {
            panic!()
        };
        assert_eq!(v.kind, LiteralKind::Unquoted(r"C:\Windows*".into()));
        let q = parse(r#"f:"C:\Windows *x*""#).unwrap();
        let Some(Expr::Match {
            values: ValueList::One(v),
            ..
        }) = q.root
        else {
            panic!()
        };
        assert_eq!(v.kind, LiteralKind::Quoted(r"C:\Windows *x*".into()));
        assert!(err(r"f:C:\Windows").contains("expected 'and', 'or'"));
        assert!(err(r"f:foo\qbar").contains("invalid escape"));
        // `\n` wins over the escaped keyword `\not`.
        let q = parse(r"f:\not").unwrap();
        let Some(Expr::Match {
            values: ValueList::One(v),
            ..
        }) = q.root
        else {
            panic!()
        };
        assert_eq!(v.kind, LiteralKind::Unquoted("ot".into()));
    }

    #[test]
    fn typed_literals_wildcards_exists() {
        let q = parse("f:true").unwrap();
        assert!(matches!(
            q.root,
            Some(Expr::Match {
                values: ValueList::One(Literal {
                    kind: LiteralKind::Bool(true),
                    ..
                }),
                ..
            })
        ));
        let q = parse("f: * ").unwrap();
        let Some(Expr::Match {
            values: ValueList::One(v),
            ..
        }) = q.root
        else {
            panic!()
        };
        assert!(matches!(v.kind, LiteralKind::Wildcard(ref p) if p.is_lone_star()));
        let q = parse("f:**").unwrap();
        let Some(Expr::Match {
            values: ValueList::One(v),
            ..
        }) = q.root
        else {
            panic!()
        };
        assert!(matches!(v.kind, LiteralKind::Wildcard(ref p) if !p.is_lone_star()));
    }

    #[test]
    fn errors_carry_positions() {
        let e = parse("event.action:SendCommand and x:").unwrap_err();
        assert_eq!((e.line, e.column, e.offset), (1, 32, 31));
        assert!(
            e.to_string().starts_with("1:32: expected value after ':'"),
            "{e}"
        );
        let e = parse("a:1 and\n  (b:2").unwrap_err();
        assert_eq!((e.line, e.column), (2, 7));
        assert!(err("not not a:1").contains("'not' cannot follow"));
        assert!(err("not(a:1)").contains("expected"));
        // No implicit AND: `1 b` is one value, then `:` is unexpected.
        assert!(err("a:1 b:2").contains("found ':'"));
    }

    #[test]
    fn nested_ranges_free_text_empty() {
        assert_eq!(
            canon("top:{ a:1 and b:{ c:2 } }"),
            "top:{ a:1 and b:{ c:2 } }"
        );
        assert_eq!(
            canon("@timestamp >= now-1d/d and n<5"),
            "@timestamp >= now-1d/d and n < 5"
        );
        assert_eq!(canon(r#""hello world" or x"#), r#""hello world" or x"#);
        assert_eq!(parse("  ").unwrap().root, None);
        assert_eq!(canon("f:(a or b and not c)"), "f:(a or b and not c)");
        assert!(
            parse("f:(not not c)").is_err(),
            "Kibana: NotListOfValues takes a ListOfValues"
        );
        assert_eq!(canon("f:(not (not c))"), "f:(not (not c))");
        assert!(err("f: not c").contains("needs parentheses"));
        assert_eq!(canon("*.name: x"), "*.name:x");
    }

    /// Issue 16: the depth limit named no flag, and query size had no limit.
    #[test]
    fn nesting_and_size_limits_name_their_flags() {
        use dragnet_query::limits::DEFAULT_MAX_QUERY_BYTES;
        let n = 100_000;
        for deep in [
            format!("{}a:1{}", "(".repeat(n), ")".repeat(n)),
            format!("{}a:1{}", "not (".repeat(n), ")".repeat(n)),
            format!("{}1{}", "a:{ ".repeat(n), " }".repeat(n)),
            format!("a:{}1{}", "(".repeat(n), ")".repeat(n)),
        ] {
            let e = parse(&deep).unwrap_err();
            assert!(
                e.message.contains(
                    "query nests deeper than 256 levels; simplify it or raise the limit with --max-query-depth (at most 1024)"
                ),
                "{e}"
            );
        }
        let ors = vec!["a:1"; DEFAULT_MAX_QUERY_BYTES / 7 + 1].join(" or ");
        let e = parse(&ors).unwrap_err();
        assert!(
            e.message.contains(&format!(
                "over the limit of {DEFAULT_MAX_QUERY_BYTES} bytes; split it into several rules or raise the limit with --max-query-bytes"
            )),
            "{e}"
        );
        assert!(parse(&vec!["a:1"; 40_000].join(" or ")).is_ok());
    }
}
