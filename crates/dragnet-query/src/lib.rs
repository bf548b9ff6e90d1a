//! The contract between dragnet's query languages (KQL, EQL, later ES|QL) and what runs them.
//!
//! Each language crate parses and compiles its own syntax; what it hands on is the same:
//! [`Span`]s into the query text, a [`CompileError`] at a position, the [`QueryField`]s a
//! compiled query reads, an [`Explanation`] of why an event matched or not, and, for queries
//! that decide one event at a time, the [`EventMatcher`] trait the detectors evaluate. The
//! literals a matching event must hold (for the prefilter) are `dragnet_event::literals`.

use std::fmt;

pub mod limits;

use dragnet_event::{Event, FieldId, OwnedScalar};
use dragnet_schema::FieldType;
use serde_json::{Value, json};

/// Byte range of a piece of the query text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A syntax error: where (byte offset and 1-based line:column) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    /// Byte offset into the query text.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// What was expected and what was found, e.g. `expected value after ':'`.
    pub message: String,
}

impl ParseError {
    /// An error at byte `offset` of `src`.
    pub fn at(src: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(src, offset);
        Self {
            offset,
            line,
            column,
            message: message.into(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset; an offset inside a character
/// counts as that character's start.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Why a query cannot run, with the position of the clause at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    /// Byte range of the offending clause, field or value in the query text.
    pub span: Span,
    pub message: String,
}

impl CompileError {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }
}

/// A field a compiled query reads.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryField {
    /// Name as resolved (nested paths expanded, `*` patterns expanded against the schema).
    pub name: String,
    /// Where its values are read from (a multi-field reads its parent's values).
    pub id: FieldId,
    /// Elasticsearch type from the schema; `None` when unknown (dynamic mapping decides).
    pub ty: Option<FieldType>,
}

/// Which clause decided a match, on which values.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub matched: bool,
    /// The clause in the language's canonical form (`event.action:SendCommand`,
    /// `event.action == "X"`, `and`, `or`, `not`).
    pub clause: String,
    /// For field clauses: the field's values in the event (empty when missing).
    pub values: Vec<OwnedScalar>,
    /// How the field's type made the comparison (`keyword exact, case-sensitive`, …); empty
    /// for boolean nodes.
    pub how: String,
    /// The children that decided the outcome of a boolean node.
    pub children: Vec<Explanation>,
}

impl Explanation {
    /// `{"matched", "clause", "how", "values", "children"}`, recursively (`how` and `values`
    /// only for field clauses): the form alerts carry in `dragnet.explain`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "matched": self.matched,
            "clause": self.clause,
        });
        if !self.how.is_empty() {
            out["how"] = json!(self.how);
            out["values"] = self.values.iter().map(scalar_json).collect();
        }
        if !self.children.is_empty() {
            out["children"] = self.children.iter().map(Explanation::to_json).collect();
        }
        out
    }

    /// Whether this node shows the values it compared: a field clause (with `how`), not a
    /// parenthesised group, with no children.
    fn shows_values(&self) -> bool {
        !self.how.is_empty() && self.children.is_empty() && !self.clause.starts_with('(')
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        let verdict = if self.matched { "MATCH" } else { "NO MATCH" };
        write!(f, "{pad}{verdict} {}", self.clause)?;
        if !self.how.is_empty() {
            write!(f, " [{}]", self.how)?;
        }
        if self.shows_values() {
            if self.values.is_empty() {
                f.write_str(" — field missing")?;
            } else {
                let shown: Vec<String> = self
                    .values
                    .iter()
                    .take(5)
                    .map(|v| match v {
                        OwnedScalar::Str(s) => {
                            format!("{:?}", s.chars().take(120).collect::<String>())
                        }
                        OwnedScalar::Int(i) => i.to_string(),
                        OwnedScalar::Float(x) => x.to_string(),
                        OwnedScalar::Bool(b) => b.to_string(),
                    })
                    .collect();
                write!(f, " — values: {}", shown.join(", "))?;
                if self.values.len() > 5 {
                    write!(f, " (+{} more)", self.values.len() - 5)?;
                }
            }
        }
        writeln!(f)?;
        for c in &self.children {
            c.write(f, depth + 1)?;
        }
        Ok(())
    }
}

/// One line per node, children indented: `MATCH event.action:SendCommand [keyword exact,
/// case-sensitive] — values: "SendCommand"`.
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

fn scalar_json(v: &OwnedScalar) -> Value {
    match v {
        OwnedScalar::Str(s) => json!(s),
        OwnedScalar::Int(i) => json!(i),
        OwnedScalar::Float(f) => json!(f),
        OwnedScalar::Bool(b) => json!(b),
    }
}

/// A compiled query that decides one event at a time (KQL, an EQL event query).
pub trait EventMatcher: Send + Sync {
    /// Whether `event` matches.
    fn matches(&self, event: &dyn Event) -> bool;
    /// Why `event` matches or not.
    fn explain(&self, event: &dyn Event) -> Explanation;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(matched: bool, values: Vec<OwnedScalar>) -> Explanation {
        Explanation {
            matched,
            clause: "event.action:SendCommand".into(),
            values,
            how: "keyword exact, case-sensitive".into(),
            children: vec![],
        }
    }

    #[test]
    fn positions_count_characters_and_never_split_one() {
        assert_eq!(line_col("a:b\nc: é", 7), (2, 4));
        // Inside the two bytes of `é`: its start.
        assert_eq!(line_col("a:b\nc: é", 8), (2, 4));
        assert_eq!(line_col("ab", 99), (1, 3));
        let e = ParseError::at("x\n yz", 3, "expected value");
        assert_eq!(e.to_string(), "2:2: expected value");
    }

    #[test]
    fn explanations_print_one_line_per_node() {
        let e = Explanation {
            matched: false,
            clause: "and".into(),
            values: vec![],
            how: String::new(),
            children: vec![
                leaf(true, vec![OwnedScalar::Str("SendCommand".into())]),
                leaf(false, vec![]),
            ],
        };
        assert_eq!(
            e.to_string(),
            "NO MATCH and\n  MATCH event.action:SendCommand [keyword exact, case-sensitive] — \
             values: \"SendCommand\"\n  NO MATCH event.action:SendCommand [keyword exact, \
             case-sensitive] — field missing\n"
        );
    }

    #[test]
    fn explanations_become_json_with_values_only_on_field_clauses() {
        let e = Explanation {
            matched: true,
            clause: "or".into(),
            values: vec![],
            how: String::new(),
            children: vec![leaf(true, vec![OwnedScalar::Int(3)])],
        };
        assert_eq!(
            e.to_json(),
            json!({"matched": true, "clause": "or", "children": [
                {"matched": true, "clause": "event.action:SendCommand",
                 "how": "keyword exact, case-sensitive", "values": [3]}]})
        );
    }
}
