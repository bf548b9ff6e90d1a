//! The KQL syntax tree, as Kibana's grammar builds it, and its canonical printed form.
//!
//! Parentheses leave no node behind and value lists keep their shape (`f:(a or b)` stays one
//! [`Expr::Match`] with a [`ValueList`]), so printing a parsed query gives the query back in a
//! normalized spelling that parses to the same tree.

use std::fmt::{self, Display, Write};

pub use dragnet_query::Span;

/// A parsed query. `root` is `None` for an empty or blank query, which matches everything.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub root: Option<Expr>,
}

/// One query-level node.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `a or b or c` (two or more children).
    Or(Vec<Expr>),
    /// `a and b and c` (two or more children).
    And(Vec<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// `path:{ query }`: fields inside are relative to `path`.
    Nested { path: Literal, query: Box<Expr> },
    /// `field < value` and friends.
    Range {
        field: Literal,
        op: RangeOp,
        value: Literal,
    },
    /// `field:value` or `field:(value list)`.
    Match { field: Literal, values: ValueList },
    /// A value with no field (free text search over the default fields).
    FreeText(Literal),
}

/// The right-hand side of `field:…`.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueList {
    Or(Vec<ValueList>),
    And(Vec<ValueList>),
    Not(Box<ValueList>),
    One(Literal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl RangeOp {
    pub fn symbol(self) -> &'static str {
        match self {
            RangeOp::Lt => "<",
            RangeOp::Lte => "<=",
            RangeOp::Gt => ">",
            RangeOp::Gte => ">=",
        }
    }

    /// The Elasticsearch `range` query key (`lt`, `lte`, `gt`, `gte`).
    pub fn dsl_key(self) -> &'static str {
        match self {
            RangeOp::Lt => "lt",
            RangeOp::Lte => "lte",
            RangeOp::Gt => "gt",
            RangeOp::Gte => "gte",
        }
    }
}

/// A field name or a value, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LiteralKind {
    /// `"…"`: always literal text, `*` included.
    Quoted(String),
    /// Unquoted text without an unescaped `*` (escapes already resolved, trimmed).
    Unquoted(String),
    /// Unquoted text with at least one unescaped `*`.
    Wildcard(Pattern),
    /// Unquoted `true` / `false`.
    Bool(bool),
    /// Unquoted `null`.
    Null,
}

/// A wildcard pattern: literal pieces and `*` (any sequence, possibly empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub parts: Vec<PatternPart>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternPart {
    Text(String),
    Star,
}

impl Pattern {
    /// Kibana's `isLoneWildcard`: exactly one `*` and nothing else (`**` is not lone).
    pub fn is_lone_star(&self) -> bool {
        self.parts.len() == 1 && self.parts[0] == PatternPart::Star
    }

    /// The literal pieces between stars, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            PatternPart::Text(t) => Some(t.as_str()),
            PatternPart::Star => None,
        })
    }
}

impl Literal {
    /// The text the literal stands for (wildcards as `*`, typed literals in their spelling).
    pub fn text(&self) -> String {
        match &self.kind {
            LiteralKind::Quoted(s) | LiteralKind::Unquoted(s) => s.clone(),
            LiteralKind::Wildcard(p) => p
                .parts
                .iter()
                .map(|part| match part {
                    PatternPart::Text(t) => t.as_str(),
                    PatternPart::Star => "*",
                })
                .collect(),
            LiteralKind::Bool(b) => b.to_string(),
            LiteralKind::Null => "null".to_owned(),
        }
    }

    pub fn is_quoted(&self) -> bool {
        matches!(self.kind, LiteralKind::Quoted(_))
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Some(e) => e.fmt(f),
            None => Ok(()),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(items) => join(f, items, " or ", |e| matches!(e, Expr::Or(_))),
            Expr::And(items) => join(f, items, " and ", |e| {
                matches!(e, Expr::Or(_) | Expr::And(_))
            }),
            Expr::Not(inner) => {
                f.write_str("not ")?;
                if matches!(**inner, Expr::Or(_) | Expr::And(_) | Expr::Not(_)) {
                    write!(f, "({inner})")
                } else {
                    inner.fmt(f)
                }
            }
            Expr::Nested { path, query } => write!(f, "{}:{{ {query} }}", FieldName(path)),
            Expr::Range { field, op, value } => {
                write!(f, "{} {} {value}", FieldName(field), op.symbol())
            }
            Expr::Match { field, values } => match values {
                ValueList::One(v) => write!(f, "{}:{v}", FieldName(field)),
                list => write!(f, "{}:({list})", FieldName(field)),
            },
            Expr::FreeText(v) => v.fmt(f),
        }
    }
}

impl Display for ValueList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueList::Or(items) => join(f, items, " or ", |v| matches!(v, ValueList::Or(_))),
            ValueList::And(items) => join(f, items, " and ", |v| {
                matches!(v, ValueList::Or(_) | ValueList::And(_))
            }),
            ValueList::Not(inner) => {
                f.write_str("not ")?;
                if matches!(**inner, ValueList::One(_)) {
                    inner.fmt(f)
                } else {
                    write!(f, "({inner})")
                }
            }
            ValueList::One(v) => v.fmt(f),
        }
    }
}

/// A field name in canonical form: quoting only matters when the name holds a `*` (quoted, it
/// is a literal name; unquoted, a pattern), so other quoted names print unquoted.
struct FieldName<'a>(&'a Literal);

impl Display for FieldName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.kind {
            LiteralKind::Quoted(s) if !s.contains('*') && !s.is_empty() && s.trim() == s => {
                let plain = Literal {
                    kind: LiteralKind::Unquoted(s.clone()),
                    span: self.0.span,
                };
                let printed = plain.to_string();
                // `true`/`false`/`null` would read back as typed literals: keep the quotes.
                if matches!(printed.as_str(), "true" | "false" | "null") {
                    self.0.fmt(f)
                } else {
                    f.write_str(&printed)
                }
            }
            _ => self.0.fmt(f),
        }
    }
}

fn join<T: Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    sep: &str,
    needs_parens: impl Fn(&T) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            item.fmt(f)?;
        }
    }
    Ok(())
}

impl Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LiteralKind::Quoted(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\t' => f.write_str("\\t")?,
                        '\r' => f.write_str("\\r")?,
                        '\n' => f.write_str("\\n")?,
                        c => f.write_char(c)?,
                    }
                }
                f.write_char('"')
            }
            LiteralKind::Unquoted(s) => {
                if s.is_empty() {
                    // Cannot be written unquoted; only reachable for hand-built trees.
                    return f.write_str("\"\"");
                }
                // A parsed unquoted literal is never `true`/`false`/`null` and never starts or
                // ends with whitespace (the grammar trims it), so it always prints back as is.
                write_unquoted(f, s)
            }
            LiteralKind::Wildcard(p) => {
                for part in &p.parts {
                    match part {
                        PatternPart::Star => f.write_char('*')?,
                        PatternPart::Text(t) => write_unquoted(f, t)?,
                    }
                }
                Ok(())
            }
            LiteralKind::Bool(b) => write!(f, "{b}"),
            LiteralKind::Null => f.write_str("null"),
        }
    }
}

/// KQL whitespace (`Space` in the grammar).
pub(crate) fn is_kql_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{a0}')
}

/// Writes unquoted text so that the grammar reads it back unchanged: special characters and
/// keywords are escaped, control whitespace is spelled as an escape (so trimming keeps it).
fn write_unquoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev_is_space = i > 0 && is_kql_space(chars[i - 1]);
        let keyword_len = keyword_at(&chars, i, prev_is_space);
        if let Some(len) = keyword_len {
            if chars[i] == 'n' {
                // `\n` would read as a newline escape: spell the `n` as a unicode escape.
                f.write_str("\\u006e")?;
                for &k in &chars[i + 1..i + len] {
                    f.write_char(k)?;
                }
            } else {
                f.write_char('\\')?;
                for &k in &chars[i..i + len] {
                    f.write_char(k)?;
                }
            }
            i += len;
            continue;
        }
        match c {
            '\\' | '(' | ')' | ':' | '<' | '>' | '"' | '*' | '{' | '}' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            '\n' => f.write_str("\\n")?,
            c => f.write_char(c)?,
        }
        i += 1;
    }
    Ok(())
}

/// Length of a keyword the grammar would stop an unquoted literal at, starting at `i`.
fn keyword_at(chars: &[char], i: usize, prev_is_space: bool) -> Option<usize> {
    let word = |w: &str| -> bool {
        let n = w.len();
        i + n <= chars.len()
            && chars[i..i + n]
                .iter()
                .zip(w.chars())
                .all(|(a, b)| a.eq_ignore_ascii_case(&b))
    };
    // At the end of the text, whatever is printed next (` and `, ` }`) may be a space.
    let space_after = |n: usize| chars.get(i + n).is_none_or(|&c| is_kql_space(c));
    if word("not") && space_after(3) {
        return Some(3);
    }
    if prev_is_space {
        if word("or") && space_after(2) {
            return Some(2);
        }
        if word("and") && space_after(3) {
            return Some(3);
        }
    }
    None
}
