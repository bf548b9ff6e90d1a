//! The EQL syntax tree, as Elasticsearch's grammar (`EqlBase.g4`) builds it, and its canonical
//! printed form: printing a parsed query gives a normalized spelling that parses to the same
//! tree (minimal parentheses, double-quoted strings, backticks only where needed).

use std::fmt::{self, Display, Write};

pub use dragnet_query::Span;

/// A whole statement: a query followed by pipes.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub body: QueryBody,
    pub pipes: Vec<Pipe>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueryBody {
    /// `category where condition`.
    Event(EventFilter),
    Sequence(Sequence),
    Sample(Sample),
}

/// `category where condition` (also the inside of `[…]`).
#[derive(Clone, Debug, PartialEq)]
pub struct EventFilter {
    pub category: Category,
    pub condition: Expr,
    pub span: Span,
}

/// The event category before `where`: `any`, or a value of `event.category`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Category {
    Any,
    Named(String),
}

/// `sequence [by keys] [with maxspan=…] step step… [until step]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    pub by: Vec<Expr>,
    pub maxspan: Option<TimeSpan>,
    pub steps: Vec<SequenceStep>,
    pub until: Option<SequenceStep>,
}

/// `[filter] [by keys] [with runs=N]`, or a missing event `![filter]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceStep {
    pub filter: EventFilter,
    /// Written `![…]`: the sequence matches only if no such event occurs.
    pub missing: bool,
    pub by: Vec<Expr>,
    pub runs: Option<u32>,
}

/// `sample [by keys] [filter] [by keys]…`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub by: Vec<Expr>,
    pub steps: Vec<SampleStep>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SampleStep {
    pub filter: EventFilter,
    pub by: Vec<Expr>,
}

/// `maxspan=<value><unit>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSpan {
    pub value: u64,
    pub unit: TimeUnit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    pub fn from_suffix(s: &str) -> Option<TimeUnit> {
        Some(match s {
            "ms" => TimeUnit::Millis,
            "s" => TimeUnit::Seconds,
            "m" => TimeUnit::Minutes,
            "h" => TimeUnit::Hours,
            "d" => TimeUnit::Days,
            _ => return None,
        })
    }

    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Millis => "ms",
            TimeUnit::Seconds => "s",
            TimeUnit::Minutes => "m",
            TimeUnit::Hours => "h",
            TimeUnit::Days => "d",
        }
    }

    fn millis(self) -> u64 {
        match self {
            TimeUnit::Millis => 1,
            TimeUnit::Seconds => 1_000,
            TimeUnit::Minutes => 60_000,
            TimeUnit::Hours => 3_600_000,
            TimeUnit::Days => 86_400_000,
        }
    }
}

impl TimeSpan {
    /// The span in nanoseconds (saturating).
    pub fn nanos(&self) -> i128 {
        i128::from(self.value) * i128::from(self.unit.millis()) * 1_000_000
    }
}

/// A pipe Elasticsearch supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipe {
    /// `| head N`: the first N results.
    Head(u64),
    /// `| tail N`: the last N results.
    Tail(u64),
}

/// An expression with the span of text it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    Field(FieldRef),
    /// `name(args)` or `name~(args)`; `name` as written (functions resolve case-insensitively).
    Call {
        name: String,
        insensitive: bool,
        args: Vec<Expr>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    Arith {
        op: ArithOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Compare {
        op: CmpOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `v in (…)`, `v in~ (…)`, `v not in (…)`, `v not in~ (…)`.
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
        insensitive: bool,
    },
    /// `v : "p"`, `v like "p"`, `v like~ (…)`, `v regex "p"`, `v regex~ (…)`.
    Match {
        value: Box<Expr>,
        op: MatchOp,
        patterns: Vec<Literal>,
        /// Written as a parenthesized list.
        list: bool,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl ArithOp {
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }

    fn level(self) -> u8 {
        match self {
            ArithOp::Add | ArithOp::Sub => 5,
            ArithOp::Mul | ArithOp::Div | ArithOp::Mod => 6,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Neq => "!=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Lte => CmpOp::Gte,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Gte => CmpOp::Lte,
            other => other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `:`: case-insensitive, `*`/`?` wildcards.
    Seq,
    Like,
    LikeInsensitive,
    Regex,
    RegexInsensitive,
}

impl MatchOp {
    pub fn symbol(self) -> &'static str {
        match self {
            MatchOp::Seq => ":",
            MatchOp::Like => "like",
            MatchOp::LikeInsensitive => "like~",
            MatchOp::Regex => "regex",
            MatchOp::RegexInsensitive => "regex~",
        }
    }

    pub fn case_insensitive(self) -> bool {
        matches!(
            self,
            MatchOp::Seq | MatchOp::LikeInsensitive | MatchOp::RegexInsensitive
        )
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::Regex | MatchOp::RegexInsensitive)
    }
}

/// A constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// A field reference: `a.b`, `` `a-b`.c ``, `?a.b` (optional: null when not mapped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRef {
    /// The dotted name (`process.parent.name`).
    pub name: String,
    pub optional: bool,
}

pub(crate) const KEYWORDS: &[&str] = &[
    "and", "any", "by", "false", "in", "join", "like", "maxspan", "not", "null", "of", "or",
    "regex", "sample", "sequence", "true", "until", "where", "with",
];

fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '@')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

impl Expr {
    /// Printing precedence: higher binds tighter.
    fn level(&self) -> u8 {
        match &self.kind {
            ExprKind::Or(_) => 1,
            ExprKind::And(_) => 2,
            ExprKind::Not(_) => 3,
            ExprKind::Compare { .. } => 4,
            ExprKind::Arith { op, .. } => op.level(),
            ExprKind::Neg(_) => 7,
            ExprKind::In { .. } | ExprKind::Match { .. } => 8,
            ExprKind::Literal(_) | ExprKind::Field(_) | ExprKind::Call { .. } => 9,
        }
    }

    /// The field this expression is, if it is a bare field reference.
    pub fn as_field(&self) -> Option<&FieldRef> {
        match &self.kind {
            ExprKind::Field(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_literal(&self) -> Option<&Literal> {
        match &self.kind {
            ExprKind::Literal(l) => Some(l),
            _ => None,
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, e: &Expr, min_level: u8) -> fmt::Result {
    if e.level() < min_level {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(l) => l.fmt(f),
            ExprKind::Field(r) => r.fmt(f),
            ExprKind::Call {
                name,
                insensitive,
                args,
            } => {
                f.write_str(name)?;
                if *insensitive {
                    f.write_char('~')?;
                }
                f.write_char('(')?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                f.write_char(')')
            }
            ExprKind::Neg(inner) => {
                f.write_char('-')?;
                write_operand(f, inner, 7)
            }
            ExprKind::Arith { op, left, right } => {
                write_operand(f, left, op.level())?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, right, op.level() + 1)
            }
            ExprKind::Compare { op, left, right } => {
                write_operand(f, left, 5)?;
                write!(f, " {} ", op.symbol())?;
                write_operand(f, right, 5)
            }
            ExprKind::In {
                value,
                list,
                negated,
                insensitive,
            } => {
                write_operand(f, value, 9)?;
                f.write_str(if *negated { " not in" } else { " in" })?;
                if *insensitive {
                    f.write_char('~')?;
                }
                f.write_str(" (")?;
                for (i, a) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    a.fmt(f)?;
                }
                f.write_char(')')
            }
            ExprKind::Match {
                value,
                op,
                patterns,
                list,
            } => {
                write_operand(f, value, 9)?;
                write!(f, " {} ", op.symbol())?;
                if *list {
                    f.write_char('(')?;
                    for (i, p) in patterns.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        p.fmt(f)?;
                    }
                    f.write_char(')')
                } else {
                    patterns[0].fmt(f)
                }
            }
            ExprKind::Not(inner) => {
                f.write_str("not ")?;
                write_operand(f, inner, 3)
            }
            ExprKind::And(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    write_operand(f, e, 3)?;
                }
                Ok(())
            }
            ExprKind::Or(items) => {
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    write_operand(f, e, 2)?;
                }
                Ok(())
            }
        }
    }
}

/// Writes `s` as a double-quoted EQL string with escapes.
pub(crate) fn write_string(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => {
                let s = format!("{x:?}");
                // Debug keeps a `.` or an exponent, so it reads back as a decimal.
                f.write_str(&s)
            }
            Literal::Str(s) => write_string(f, s),
        }
    }
}

impl Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.optional {
            f.write_char('?')?;
        }
        for (i, seg) in self.name.split('.').enumerate() {
            if i > 0 {
                f.write_char('.')?;
            }
            if is_plain_identifier(seg) {
                f.write_str(seg)?;
            } else {
                f.write_char('`')?;
                f.write_str(&seg.replace('`', "``"))?;
                f.write_char('`')?;
            }
        }
        Ok(())
    }
}

impl Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Category::Any => f.write_str("any"),
            Category::Named(n) if is_plain_identifier(n) => f.write_str(n),
            Category::Named(n) => write_string(f, n),
        }
    }
}

impl Display for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} where {}", self.category, self.condition)
    }
}

impl Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.unit.suffix())
    }
}

fn write_keys(f: &mut fmt::Formatter<'_>, keys: &[Expr]) -> fmt::Result {
    if keys.is_empty() {
        return Ok(());
    }
    f.write_str(" by ")?;
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        k.fmt(f)?;
    }
    Ok(())
}

impl Display for SequenceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing {
            f.write_char('!')?;
        }
        write!(f, "[{}]", self.filter)?;
        write_keys(f, &self.by)?;
        if let Some(n) = self.runs {
            write!(f, " with runs={n}")?;
        }
        Ok(())
    }
}

impl Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            QueryBody::Event(e) => e.fmt(f)?,
            QueryBody::Sequence(s) => {
                f.write_str("sequence")?;
                write_keys(f, &s.by)?;
                if let Some(span) = &s.maxspan {
                    write!(f, " with maxspan={span}")?;
                }
                for step in &s.steps {
                    write!(f, "\n  {step}")?;
                }
                if let Some(until) = &s.until {
                    write!(f, "\nuntil {until}")?;
                }
            }
            QueryBody::Sample(s) => {
                f.write_str("sample")?;
                write_keys(f, &s.by)?;
                for step in &s.steps {
                    write!(f, "\n  [{}]", step.filter)?;
                    write_keys(f, &step.by)?;
                }
            }
        }
        for p in &self.pipes {
            match p {
                Pipe::Head(n) => write!(f, " | head {n}")?,
                Pipe::Tail(n) => write!(f, " | tail {n}")?,
            }
        }
        Ok(())
    }
}
