//! The ES|QL syntax tree and its canonical printer.
//!
//! Every node that an error or a warning can point at carries the byte [`Span`] of its source
//! text; equality ignores spans, so a query and the parse of its printed form compare equal
//! (the printer's fixpoint, tested on every corpus rule and csv-spec query).
//!
//! `Display` prints canonical ES|QL: keywords upper case, one command per line after the
//! first (`\n| `), the fewest parentheses that keep the tree, strings double-quoted with
//! escapes, names backtick-quoted only where the unquoted form would not lex back. A column
//! name that differs from the printed expression (an unnamed `EVAL`/`STATS` field is named
//! after its source text, as Elasticsearch names it) is printed as an explicit assignment, so
//! re-parsing keeps the name.

use std::fmt::{self, Display, Formatter, Write as _};

pub use dragnet_query::Span;

/// A whole query: optional `SET` settings, the source command, then the piped commands.
#[derive(Clone, Debug)]
pub struct Query {
    /// `SET name = value;` statements before the query (Elasticsearch 9.1+, snapshot builds).
    pub settings: Vec<Setting>,
    pub source: Command,
    pub pipes: Vec<Command>,
}

impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings && self.source == other.source && self.pipes == other.pipes
    }
}

impl Query {
    /// The source command, then every piped command, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        std::iter::once(&self.source).chain(&self.pipes)
    }
}

/// `SET name = value;`
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub name: String,
    pub value: Expr,
}

/// One command with the span of its text (keyword to last argument).
#[derive(Clone, Debug)]
pub struct Command {
    pub kind: CommandKind,
    pub span: Span,
}

impl PartialEq for Command {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

/// Which keyword opened a `FROM`-like source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    From,
    /// `TS` (time-series source, with implicit `_tsid` grouping).
    TimeSeries,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CommandKind {
    /// `FROM pattern[, …] [METADATA field[, …]]` or `TS …`.
    From {
        kind: SourceKind,
        indices: Vec<IndexPattern>,
        metadata: Vec<String>,
    },
    /// `ROW field[, …]`
    Row(Vec<Field>),
    /// `SHOW INFO`
    ShowInfo,
    /// `WHERE condition`
    Where(Expr),
    /// `EVAL field[, …]`
    Eval(Vec<Field>),
    /// `STATS agg [WHERE filter][, …] [BY group[, …]]`; `INLINE STATS` when `inline`.
    Stats {
        aggregates: Vec<Aggregate>,
        groups: Vec<Field>,
        inline: bool,
    },
    /// `KEEP pattern[, …]`
    Keep(Vec<String>),
    /// `DROP pattern[, …]`
    Drop(Vec<String>),
    /// `RENAME old AS new[, …]` (also written `new = old`).
    Rename(Vec<Rename>),
    /// `SORT key [ASC|DESC] [NULLS FIRST|LAST][, …]`
    Sort(Vec<SortKey>),
    /// `LIMIT n`
    Limit(u64),
    /// `DISSECT input "pattern" [option = value[, …]]`
    Dissect {
        input: Expr,
        pattern: String,
        options: Vec<(String, Expr)>,
    },
    /// `GROK input "pattern"[, "pattern"…]`
    Grok { input: Expr, patterns: Vec<String> },
    /// `MV_EXPAND field`
    MvExpand(String),
    /// `ENRICH policy [ON field] [WITH [new =] field[, …]]`
    Enrich {
        policy: String,
        on: Option<String>,
        with: Vec<Rename>,
    },
    /// `LOOKUP JOIN index ON condition[, …]`
    LookupJoin { index: IndexPattern, on: Vec<Expr> },
    /// `SAMPLE probability`
    Sample(Expr),
    /// A command Elasticsearch knows whose arguments dragnet keeps as written (`FORK`,
    /// `CHANGE_POINT`, `COMPLETION`, `RERANK`, `FUSE`, `EXPLAIN`, …): none of them can run
    /// here ([`crate::unsupported`] says why), but the query still parses.
    Other { name: String, text: String },
}

/// One source of `FROM`: `[cluster:]index[::selector]`, or a quoted string taken whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPattern {
    pub cluster: Option<String>,
    pub index: String,
    pub selector: Option<String>,
}

/// A named expression (`name = expr`, or an unnamed one named after its source text).
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub expr: Expr,
}

/// One aggregate of `STATS`, with its per-aggregate `WHERE` filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    pub field: Field,
    pub filter: Option<Expr>,
}

/// `old AS new` (both may hold `*` wildcards).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub old: String,
    pub new: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullsOrder {
    First,
    Last,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub order: Option<Order>,
    pub nulls: Option<NullsOrder>,
}

/// An expression with its span in the query text.
#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Self { kind, span }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    /// `=~`: case-insensitive equality (older Elasticsearch versions).
    CaseInsensitiveEq,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::CaseInsensitiveEq => "=~",
        }
    }

    pub fn is_comparison(self) -> bool {
        !matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A column reference (dotted names joined with `.`, backticks removed).
    Field(String),
    /// `?`, `?name`, `?1`, `??name`: a value supplied with the request.
    Param(String),
    /// `name(args…)`, `COUNT(*)` (`star`), with an optional trailing `{"option": value}` map.
    Call {
        name: String,
        args: Vec<Expr>,
        star: bool,
        options: Option<Vec<(String, Expr)>>,
    },
    Neg(Box<Expr>),
    Not(Box<Expr>),
    /// Two or more operands (chains are kept flat: no depth grows with their length).
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `expr [NOT] IN (value, …)`
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `expr [NOT] LIKE|RLIKE pattern` or the list form `LIKE ("a", "b")`. Patterns are
    /// strings, or (9.4+, capability `like_rlike_constant_expression`) expressions that fold
    /// to one (`LIKE concat("a", "*")`).
    Like {
        expr: Box<Expr>,
        patterns: Vec<Expr>,
        regex: bool,
        negated: bool,
    },
    /// `expr IS [NOT] NULL`
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `expr::type`
    Cast {
        expr: Box<Expr>,
        to: String,
    },
    /// `field[::type] : query` (full-text match operator).
    Match {
        field: String,
        cast: Option<String>,
        query: Box<Expr>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    /// Integers in `-(2^64-1)..=2^64-1` (int, long and unsigned_long literals); larger ones
    /// are doubles, as Elasticsearch reads them.
    Integer(i128),
    Decimal(f64),
    String(String),
    /// `1 hour`, `-7 days`: an integer qualified by a time unit (as written, lower-cased).
    TimeSpan {
        value: i128,
        unit: String,
    },
    /// `[1, 2]`, `["a", "b"]`, `[true, false]`: a multi-valued constant.
    List(Vec<Literal>),
}

// ---------------------------------------------------------------------------------------
// Printing

/// Keywords of Elasticsearch's expression lexer mode: an unquoted identifier part spelled
/// like one of these does not lex as an identifier. (`lexer/Expression.g4`, elastic/
/// elasticsearch `x-pack/plugin/esql/src/main/antlr`.)
pub(crate) const EXPRESSION_KEYWORDS: &[&str] = &[
    "and", "asc", "by", "desc", "false", "first", "in", "is", "last", "like", "not", "null",
    "nulls", "or", "rlike", "true", "where",
];

pub(crate) fn is_keyword(word: &str) -> bool {
    EXPRESSION_KEYWORDS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
}

/// `UNQUOTED_IDENTIFIER`: `[a-z][a-z0-9_]*` or `[_@][a-z0-9_]+` (case-insensitive); with
/// `pattern`, `*` is one more letter (`ID_PATTERN` of `lexer/Project.g4`).
pub(crate) fn is_unquoted_part(part: &str, pattern: bool) -> bool {
    let body = |c: char| c.is_ascii_alphanumeric() || c == '_' || (pattern && c == '*');
    let mut chars = part.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || (pattern && c == '*') => chars.all(body),
        Some('_' | '@') => {
            let rest = chars.as_str();
            !rest.is_empty() && rest.chars().all(body)
        }
        _ => false,
    }
}

/// A name as it lexes back to itself: dotted unquoted parts, or one backtick-quoted name.
pub(crate) fn write_name(f: &mut impl fmt::Write, name: &str, pattern: bool) -> fmt::Result {
    if name
        .split('.')
        .all(|p| is_unquoted_part(p, pattern) && !is_keyword(p))
    {
        f.write_str(name)
    } else {
        write!(f, "`{}`", name.replace('`', "``"))
    }
}

pub(crate) fn write_string(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Integer(i) => write!(f, "{i}"),
            // `{:?}` is the shortest text that reads back to the same double, and always
            // has a `.` or an exponent, so it lexes as DECIMAL_LITERAL.
            Literal::Decimal(d) => write!(f, "{d:?}"),
            Literal::String(s) => write_string(f, s),
            Literal::TimeSpan { value, unit } => write!(f, "{value} {unit}"),
            Literal::List(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
        }
    }
}

/// Binding strength of an expression's outermost operator, for parenthesisation.
fn precedence(e: &ExprKind) -> u8 {
    match e {
        ExprKind::Or(_) => 1,
        ExprKind::And(_) => 2,
        ExprKind::Not(_) => 3,
        ExprKind::In { .. } | ExprKind::Like { .. } | ExprKind::IsNull { .. } => 4,
        ExprKind::Match { .. } => 4,
        ExprKind::Binary { op, .. } if op.is_comparison() => 5,
        ExprKind::Binary {
            op: BinaryOp::Add | BinaryOp::Sub,
            ..
        } => 6,
        ExprKind::Binary { .. } => 7,
        ExprKind::Neg(_) => 8,
        ExprKind::Cast { .. } => 9,
        _ => 10,
    }
}

/// Whether the printed expression starts with a digit: after a unary minus it would read
/// back as a negative literal (`-(5)::long` is not `-5::long`). A negative literal prints
/// with its own `-`, which reads back as itself after a sign (`- -5`).
fn starts_with_number(e: &ExprKind) -> bool {
    match e {
        ExprKind::Literal(Literal::Integer(i)) => *i >= 0,
        ExprKind::Literal(Literal::Decimal(d)) => d.is_sign_positive(),
        ExprKind::Literal(Literal::TimeSpan { value, .. }) => *value >= 0,
        ExprKind::Cast { expr, .. } => starts_with_number(&expr.kind),
        ExprKind::Binary { left, .. } => starts_with_number(&left.kind),
        _ => false,
    }
}

fn write_operand(f: &mut Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if precedence(&e.kind) < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn write_list(f: &mut Formatter<'_>, items: &[Expr], min: u8) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_operand(f, item, min)?;
    }
    Ok(())
}

/// Predicate and comparison operands are Elasticsearch's `valueExpression` /
/// `operatorExpression`: anything looser must be parenthesised.
const VALUE: u8 = 5;
const ARITHMETIC: u8 = 6;

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::Field(name) => write_name(f, name, false),
            ExprKind::Param(p) => f.write_str(p),
            ExprKind::Call {
                name,
                args,
                star,
                options,
            } => {
                // FIRST and LAST are keywords that the grammar also takes as function names.
                let plain = is_unquoted_part(name, false)
                    && (!is_keyword(name)
                        || name.eq_ignore_ascii_case("first")
                        || name.eq_ignore_ascii_case("last"));
                if plain {
                    f.write_str(name)?;
                } else {
                    write!(f, "`{}`", name.replace('`', "``"))?;
                }
                f.write_char('(')?;
                if *star {
                    f.write_char('*')?;
                }
                write_list(f, args, 0)?;
                if let Some(options) = options {
                    if !args.is_empty() {
                        f.write_str(", ")?;
                    }
                    f.write_char('{')?;
                    for (i, (key, value)) in options.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write_string(f, key)?;
                        write!(f, ": {value}")?;
                    }
                    f.write_char('}')?;
                }
                f.write_char(')')
            }
            ExprKind::Neg(inner) => {
                // Parentheses only where the tree needs them: each pair is a nesting level
                // when read back, and the printed form must parse wherever the query did.
                if precedence(&inner.kind) < 8 || starts_with_number(&inner.kind) {
                    return write!(f, "-({inner})");
                }
                let printed = inner.to_string();
                // `- -x`, not `--x`: two signs stay two tokens.
                let gap = if printed.starts_with('-') { " " } else { "" };
                write!(f, "-{gap}{printed}")
            }
            ExprKind::Not(inner) => {
                f.write_str("NOT ")?;
                write_operand(f, inner, 3)
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let (word, min) = if matches!(self.kind, ExprKind::And(_)) {
                    (" AND ", 3)
                } else {
                    (" OR ", 2)
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(word)?;
                    }
                    write_operand(f, item, min)?;
                }
                Ok(())
            }
            ExprKind::Binary { op, left, right } => {
                let (left_min, right_min) = match precedence(&self.kind) {
                    5 => (ARITHMETIC, ARITHMETIC),
                    6 => (6, 7),
                    _ => (7, 8),
                };
                write_operand(f, left, left_min)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, right, right_min)
            }
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                write_operand(f, expr, VALUE)?;
                f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
                write_list(f, list, VALUE)?;
                f.write_char(')')
            }
            ExprKind::Like {
                expr,
                patterns,
                regex,
                negated,
            } => {
                write_operand(f, expr, VALUE)?;
                f.write_str(if *negated { " NOT" } else { "" })?;
                f.write_str(if *regex { " RLIKE " } else { " LIKE " })?;
                if let [one] = patterns.as_slice() {
                    // A lone pattern printed with a leading `(` would read back as a list.
                    let printed = if precedence(&one.kind) < ARITHMETIC {
                        format!("({one})")
                    } else {
                        one.to_string()
                    };
                    return if printed.starts_with('(') {
                        write!(f, "({printed})")
                    } else {
                        f.write_str(&printed)
                    };
                }
                f.write_char('(')?;
                write_list(f, patterns, ARITHMETIC)?;
                f.write_char(')')
            }
            ExprKind::IsNull { expr, negated } => {
                write_operand(f, expr, VALUE)?;
                f.write_str(if *negated { " IS NOT NULL" } else { " IS NULL" })
            }
            ExprKind::Cast { expr, to } => {
                write_operand(f, expr, 9)?;
                write!(f, "::{to}")
            }
            ExprKind::Match { field, cast, query } => {
                write_name(f, field, false)?;
                if let Some(cast) = cast {
                    write!(f, "::{cast}")?;
                }
                write!(f, " : {query}")
            }
        }
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let printed = self.expr.to_string();
        if printed != self.name {
            write_name(f, &self.name, false)?;
            f.write_str(" = ")?;
        }
        f.write_str(&printed)
    }
}

impl Display for IndexPattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // Unquoted, a source ends at a comment start (`foo//` is `foo` and a comment).
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars().all(crate::lexer::is_index_char)
                && !s.contains("//")
                && !s.contains("/*")
        };
        if self.cluster.as_deref().is_none_or(plain)
            && plain(&self.index)
            && self.selector.as_deref().is_none_or(plain)
        {
            if let Some(cluster) = &self.cluster {
                write!(f, "{cluster}:")?;
            }
            f.write_str(&self.index)?;
            if let Some(selector) = &self.selector {
                write!(f, "::{selector}")?;
            }
            Ok(())
        } else {
            // Only a lone index can be quoted; the parser keeps a quoted source whole.
            write_string(f, &self.index)
        }
    }
}

fn write_names(f: &mut Formatter<'_>, names: &[String], pattern: bool) -> fmt::Result {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_name(f, name, pattern)?;
    }
    Ok(())
}

fn write_fields(f: &mut Formatter<'_>, fields: &[Field]) -> fmt::Result {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{field}")?;
    }
    Ok(())
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CommandKind::From {
                kind,
                indices,
                metadata,
            } => {
                f.write_str(match kind {
                    SourceKind::From => "FROM ",
                    SourceKind::TimeSeries => "TS ",
                })?;
                for (i, index) in indices.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{index}")?;
                }
                if !metadata.is_empty() {
                    write!(f, " METADATA {}", metadata.join(", "))?;
                }
                Ok(())
            }
            CommandKind::Row(fields) => {
                f.write_str("ROW ")?;
                write_fields(f, fields)
            }
            CommandKind::ShowInfo => f.write_str("SHOW INFO"),
            CommandKind::Where(e) => write!(f, "WHERE {e}"),
            CommandKind::Eval(fields) => {
                f.write_str("EVAL ")?;
                write_fields(f, fields)
            }
            CommandKind::Stats {
                aggregates,
                groups,
                inline,
            } => {
                f.write_str(if *inline { "INLINE STATS" } else { "STATS" })?;
                for (i, agg) in aggregates.iter().enumerate() {
                    f.write_str(if i > 0 { ", " } else { " " })?;
                    write!(f, "{}", agg.field)?;
                    if let Some(filter) = &agg.filter {
                        write!(f, " WHERE {filter}")?;
                    }
                }
                if !groups.is_empty() {
                    f.write_str(" BY ")?;
                    write_fields(f, groups)?;
                }
                Ok(())
            }
            CommandKind::Keep(names) => {
                f.write_str("KEEP ")?;
                write_names(f, names, true)
            }
            CommandKind::Drop(names) => {
                f.write_str("DROP ")?;
                write_names(f, names, true)
            }
            CommandKind::Rename(renames) => {
                f.write_str("RENAME ")?;
                for (i, r) in renames.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_name(f, &r.old, true)?;
                    f.write_str(" AS ")?;
                    write_name(f, &r.new, true)?;
                }
                Ok(())
            }
            CommandKind::Sort(keys) => {
                f.write_str("SORT ")?;
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", key.expr)?;
                    match key.order {
                        Some(Order::Asc) => f.write_str(" ASC")?,
                        Some(Order::Desc) => f.write_str(" DESC")?,
                        None => {}
                    }
                    match key.nulls {
                        Some(NullsOrder::First) => f.write_str(" NULLS FIRST")?,
                        Some(NullsOrder::Last) => f.write_str(" NULLS LAST")?,
                        None => {}
                    }
                }
                Ok(())
            }
            CommandKind::Limit(n) => write!(f, "LIMIT {n}"),
            CommandKind::Dissect {
                input,
                pattern,
                options,
            } => {
                f.write_str("DISSECT ")?;
                write_operand(f, input, 9)?;
                f.write_char(' ')?;
                write_string(f, pattern)?;
                for (i, (name, value)) in options.iter().enumerate() {
                    f.write_str(if i > 0 { ", " } else { " " })?;
                    write_name(f, name, false)?;
                    write!(f, " = {value}")?;
                }
                Ok(())
            }
            CommandKind::Grok { input, patterns } => {
                f.write_str("GROK ")?;
                write_operand(f, input, 9)?;
                for (i, p) in patterns.iter().enumerate() {
                    f.write_str(if i > 0 { ", " } else { " " })?;
                    write_string(f, p)?;
                }
                Ok(())
            }
            CommandKind::MvExpand(name) => {
                f.write_str("MV_EXPAND ")?;
                write_name(f, name, false)
            }
            CommandKind::Enrich { policy, on, with } => {
                write!(f, "ENRICH {policy}")?;
                if let Some(on) = on {
                    f.write_str(" ON ")?;
                    write_name(f, on, true)?;
                }
                for (i, r) in with.iter().enumerate() {
                    f.write_str(if i > 0 { ", " } else { " WITH " })?;
                    if r.new != r.old {
                        write_name(f, &r.new, true)?;
                        f.write_str(" = ")?;
                    }
                    write_name(f, &r.old, true)?;
                }
                Ok(())
            }
            CommandKind::LookupJoin { index, on } => {
                write!(f, "LOOKUP JOIN {index} ON ")?;
                write_list(f, on, 0)
            }
            CommandKind::Sample(p) => write!(f, "SAMPLE {p}"),
            CommandKind::Other { name, text } => {
                f.write_str(name)?;
                if !text.is_empty() {
                    write!(f, " {text}")?;
                }
                Ok(())
            }
        }
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for setting in &self.settings {
            f.write_str("SET ")?;
            write_name(f, &setting.name, false)?;
            writeln!(f, " = {};", setting.value)?;
        }
        write!(f, "{}", self.source)?;
        for command in &self.pipes {
            write!(f, "\n| {command}")?;
        }
        Ok(())
    }
}
