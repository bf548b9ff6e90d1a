//! Recursive-descent parser for the EQL Elasticsearch accepts (`EqlBase.g4` plus the checks
//! its `LogicalPlanBuilder`/`ExpressionBuilder` make while building the plan).
//!
//! Precedence, loosest first: `or`, `and`, `not`, one (non-chainable) comparison, `+ -`,
//! `* / %`, unary `-`/`+`, a primary with an optional predicate (`in`, `:`, `like`, `regex`).

use std::fmt;

use crate::ast::{
    ArithOp, Category, CmpOp, EventFilter, Expr, ExprKind, FieldRef, Literal, MatchOp, Pipe, Query,
    QueryBody, Sample, SampleStep, Sequence, SequenceStep, Span, TimeSpan, TimeUnit,
};
pub use crate::lexer::{ParseError, line_col};
use crate::lexer::{Tok, Token, lex};

/// Nesting depth (parentheses, `not`, function calls) above which parsing stops with an
/// error instead of risking the stack, unless `--max-query-depth` sets another
/// ([`dragnet_query::limits`]).
pub const MAX_QUERY_DEPTH: usize = 64;

/// The error for a query over the size limit (`--max-query-bytes`), if it is.
fn too_large(src: &str) -> Option<String> {
    (src.len() > dragnet_query::limits::max_query_bytes())
        .then(|| dragnet_query::limits::too_large_message(src.len()))
}

/// Parses an EQL statement (query and pipes).
pub fn parse(src: &str) -> Result<Query, ParseError> {
    if let Some(message) = too_large(src) {
        return Err(ParseError::at(src, 0, message));
    }
    let tokens = lex(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    let q = p.statement()?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.expected("'and', 'or', '|' or end of query"));
    }
    Ok(q)
}

/// Parses a lone condition (the part after `where`), for tests and tools.
pub fn parse_expression(src: &str) -> Result<Expr, ParseError> {
    if let Some(message) = too_large(src) {
        return Err(ParseError::at(src, 0, message));
    }
    let tokens = lex(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
    };
    let e = p.expression()?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.expected("'and', 'or' or end of expression"));
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Quoted(s) => write!(f, "`{s}`"),
            Tok::Tilde(s) => write!(f, "'{s}~'"),
            Tok::Str(s) => {
                let short: String = s.chars().take(40).collect();
                write!(f, "string {short:?}")
            }
            Tok::Int(s) | Tok::Decimal(s) => write!(f, "number {s}"),
            Tok::Punct(p) => write!(f, "'{p}'"),
            Tok::Eof => f.write_str("end of query"),
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.tokens[self.pos - 1].span.end
        }
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if !matches!(t.tok, Tok::Eof) {
            self.pos += 1;
        }
        t
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError::at(self.src, offset, message)
    }

    fn expected(&self, what: &str) -> ParseError {
        let mut msg = format!("expected {what}, found {}", self.peek());
        match self.peek() {
            Tok::Punct("=") => msg.push_str(" ('=' is not an EQL operator: use '==' or ':')"),
            Tok::Ident(w)
                if crate::ast::KEYWORDS.contains(&w.to_lowercase().as_str())
                    && w != &w.to_lowercase() =>
            {
                msg.push_str(" (EQL keywords are lowercase)");
            }
            _ => {}
        }
        self.error(self.span().start, msg)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str, what: &str) -> PResult<Span> {
        if self.is_punct(p) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(what))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        let limit = dragnet_query::limits::max_query_depth(MAX_QUERY_DEPTH);
        if self.depth > limit {
            return Err(self.error(
                self.span().start,
                dragnet_query::limits::too_deep_message(limit),
            ));
        }
        Ok(())
    }

    fn statement(&mut self) -> PResult<Query> {
        let body = if self.is_kw("sequence") {
            QueryBody::Sequence(self.sequence()?)
        } else if self.is_kw("sample") {
            QueryBody::Sample(self.sample()?)
        } else if self.is_kw("join") {
            return Err(self.error(
                self.span().start,
                "'join' is not supported by Elasticsearch EQL: use 'sequence' or 'sample'",
            ));
        } else {
            QueryBody::Event(self.event_filter()?)
        };
        let mut pipes = Vec::new();
        while self.is_punct("|") {
            self.bump();
            pipes.push(self.pipe()?);
        }
        Ok(Query { body, pipes })
    }

    fn pipe(&mut self) -> PResult<Pipe> {
        let span = self.span();
        let name = match self.peek() {
            Tok::Ident(n) => n.clone(),
            _ => return Err(self.expected("a pipe name ('head' or 'tail') after '|'")),
        };
        self.bump();
        let make: fn(u64) -> Pipe = match name.as_str() {
            "head" => Pipe::Head,
            "tail" => Pipe::Tail,
            other => {
                return Err(self.error(
                    span.start,
                    format!(
                        "pipe '{other}' is not supported by Elasticsearch EQL (supported: head, tail)"
                    ),
                ));
            }
        };
        let arg_span = self.span();
        match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                match n.parse::<u64>() {
                    Ok(v) if v > 0 => Ok(make(v)),
                    _ => Err(self.error(
                        arg_span.start,
                        format!("pipe '{name}' needs a positive integer, found {n}"),
                    )),
                }
            }
            _ => Err(self.expected(&format!("a positive integer after '| {name}'"))),
        }
    }

    fn event_filter(&mut self) -> PResult<EventFilter> {
        let start = self.span().start;
        let category = match self.peek().clone() {
            Tok::Ident(w) if w == "any" => {
                self.bump();
                Category::Any
            }
            Tok::Ident(w) if !crate::ast::KEYWORDS.contains(&w.as_str()) => {
                self.bump();
                Category::Named(w)
            }
            Tok::Str(s) => {
                self.bump();
                Category::Named(s)
            }
            _ => {
                return Err(self.expected(
                    "an event category ('any', a name like 'process', or a quoted name)",
                ));
            }
        };
        if !self.eat_kw("where") {
            return Err(self.expected("'where' after the event category"));
        }
        let condition = self.expression()?;
        Ok(EventFilter {
            category,
            condition,
            span: Span::new(start, self.prev_end()),
        })
    }

    fn join_keys(&mut self) -> PResult<Vec<Expr>> {
        let mut keys = vec![self.expression()?];
        while self.eat_punct(",") {
            keys.push(self.expression()?);
        }
        Ok(keys)
    }

    fn maxspan(&mut self) -> PResult<TimeSpan> {
        // `with` already consumed.
        if !self.eat_kw("maxspan") {
            return Err(self.expected("'maxspan' after 'with'"));
        }
        self.expect_punct("=", "'=' after 'maxspan'")?;
        let num_span = self.span();
        let value = match self.peek().clone() {
            Tok::Int(n) => {
                self.bump();
                n.parse::<u64>()
                    .map_err(|_| self.error(num_span.start, format!("maxspan {n} is too large")))?
            }
            Tok::Decimal(n) => {
                return Err(self.error(
                    num_span.start,
                    format!("maxspan must be a whole number of a time unit, found {n}"),
                ));
            }
            _ => return Err(self.expected("a time value after 'maxspan=' (e.g. 10m)")),
        };
        let unit_span = self.span();
        let unit = match self.peek().clone() {
            Tok::Ident(u) => {
                self.bump();
                TimeUnit::from_suffix(&u).ok_or_else(|| {
                    self.error(
                        unit_span.start,
                        format!(
                            "unrecognized time unit '{u}' in maxspan: use one of ms, s, m, h, d"
                        ),
                    )
                })?
            }
            _ => {
                return Err(self.error(
                    unit_span.start,
                    "maxspan needs a time unit (ms, s, m, h or d), e.g. maxspan=10m",
                ));
            }
        };
        Ok(TimeSpan { value, unit })
    }

    fn sequence(&mut self) -> PResult<Sequence> {
        self.bump(); // sequence
        let mut by = Vec::new();
        let mut maxspan = None;
        if self.eat_kw("by") {
            by = self.join_keys()?;
            if self.eat_kw("with") {
                maxspan = Some(self.maxspan()?);
            }
        } else if self.eat_kw("with") {
            maxspan = Some(self.maxspan()?);
            if self.is_kw("by") {
                return Err(self.error(
                    self.span().start,
                    "write 'sequence by …' before 'with maxspan=…', not after",
                ));
            }
        }
        let mut steps = Vec::new();
        while self.is_punct("[") || self.is_punct("![") {
            steps.push(self.sequence_step(true)?);
        }
        // `with runs=N` counts as N steps (Elasticsearch expands it before this check).
        let expanded: u32 = steps.iter().map(|s| s.runs.unwrap_or(1)).sum();
        if expanded < 2 {
            return Err(self.expected(if steps.is_empty() {
                "a sequence step '[category where condition]'"
            } else {
                "a second sequence step (a sequence needs at least two, or 'with runs=N')"
            }));
        }
        let until = if self.is_kw("until") {
            let at = self.span().start;
            self.bump();
            if !self.is_punct("[") {
                return Err(self.expected("'[' starting the 'until' condition"));
            }
            let step = self.sequence_step(false)?;
            if step.runs.is_some() {
                return Err(self.error(at, "'with runs' is not allowed on an 'until' step"));
            }
            Some(step)
        } else {
            None
        };
        let positive = steps.iter().filter(|s| !s.missing).count();
        if positive == 0 {
            return Err(self.error(
                self.prev_end(),
                "a sequence needs at least one step that is not a missing event '![…]'",
            ));
        }
        if steps.iter().any(|s| s.missing) && maxspan.is_none() {
            return Err(self.error(
                self.prev_end(),
                "missing events '![…]' need 'with maxspan=…' on the sequence",
            ));
        }
        let expected_keys = steps[0].by.len();
        for s in steps.iter().chain(until.iter()) {
            if s.by.len() != expected_keys {
                return Err(self.error(
                    s.filter.span.start,
                    format!(
                        "inconsistent number of join keys: the first step has {expected_keys}, this one {}",
                        s.by.len()
                    ),
                ));
            }
        }
        Ok(Sequence {
            by,
            maxspan,
            steps,
            until,
        })
    }

    fn sequence_step(&mut self, allow_missing: bool) -> PResult<SequenceStep> {
        let missing = if self.is_punct("![") {
            if !allow_missing {
                return Err(self.error(
                    self.span().start,
                    "a missing event '![…]' cannot be the 'until' condition",
                ));
            }
            true
        } else {
            false
        };
        self.bump(); // [ or ![
        let filter = self.event_filter()?;
        self.expect_punct("]", "']' closing the step")?;
        let by = if self.eat_kw("by") {
            self.join_keys()?
        } else {
            Vec::new()
        };
        let mut runs = None;
        if self.is_kw("with") && matches!(self.peek_at(1), Tok::Ident(w) if w != "maxspan") {
            let at = self.span().start;
            self.bump();
            let key = match self.bump().tok {
                Tok::Ident(k) => k,
                _ => unreachable!("checked above"),
            };
            if key != "runs" {
                return Err(self.error(
                    at,
                    format!("unknown step option '{key}': only 'with runs=N' is allowed on a step"),
                ));
            }
            self.expect_punct("=", "'=' after 'runs'")?;
            let num_span = self.span();
            let n = match self.peek().clone() {
                Tok::Int(n) => {
                    self.bump();
                    n.parse::<u32>().ok()
                }
                _ => return Err(self.expected("a number after 'runs='")),
            };
            match n {
                Some(n) if (1..=100).contains(&n) => runs = Some(n),
                _ => {
                    return Err(
                        self.error(num_span.start, "the 'runs' value must be between 1 and 100")
                    );
                }
            }
            if missing {
                return Err(self.error(at, "'with runs' is not allowed on a missing event '![…]'"));
            }
        }
        Ok(SequenceStep {
            filter,
            missing,
            by,
            runs,
        })
    }

    fn sample(&mut self) -> PResult<Sample> {
        self.bump(); // sample
        let by = if self.eat_kw("by") {
            self.join_keys()?
        } else {
            Vec::new()
        };
        let mut steps = Vec::new();
        while self.is_punct("[") {
            self.bump();
            let filter = self.event_filter()?;
            self.expect_punct("]", "']' closing the sample filter")?;
            let by = if self.eat_kw("by") {
                self.join_keys()?
            } else {
                Vec::new()
            };
            steps.push(SampleStep { filter, by });
        }
        if self.is_kw("with") || self.is_kw("until") || self.is_punct("![") {
            return Err(self.error(
                self.span().start,
                "sample queries do not support 'with maxspan', 'with runs', 'until' or missing events",
            ));
        }
        if steps.is_empty() {
            return Err(self.expected("a sample filter '[category where condition]'"));
        }
        let n = by.len() + steps[0].by.len();
        if n == 0 {
            return Err(self.error(
                steps[0].filter.span.start,
                "a sample needs join keys: 'sample by field …' or '[…] by field'",
            ));
        }
        for s in &steps {
            if s.by.len() != steps[0].by.len() {
                return Err(self.error(
                    s.filter.span.start,
                    "inconsistent number of join keys across sample filters",
                ));
            }
        }
        Ok(Sample { by, steps })
    }

    fn expression(&mut self) -> PResult<Expr> {
        self.enter()?;
        let first = self.and_expr()?;
        let mut items = vec![first];
        while self.eat_kw("or") {
            items.push(self.and_expr()?);
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().expect("one")
        } else {
            let span = items[0].span.to(items[items.len() - 1].span);
            Expr {
                kind: ExprKind::Or(items),
                span,
            }
        })
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let first = self.not_expr()?;
        let mut items = vec![first];
        while self.eat_kw("and") {
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one")
        } else {
            let span = items[0].span.to(items[items.len() - 1].span);
            Expr {
                kind: ExprKind::And(items),
                span,
            }
        })
    }

    fn not_expr(&mut self) -> PResult<Expr> {
        if self.is_kw("not") {
            let start = self.bump().span;
            self.enter()?;
            let inner = self.not_expr()?;
            self.depth -= 1;
            let span = start.to(inner.span);
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                span,
            });
        }
        // `descendant of [...]` and friends.
        if let (Tok::Ident(rel), Tok::Ident(of)) = (self.peek(), self.peek_at(1))
            && of == "of"
            && !crate::ast::KEYWORDS.contains(&rel.as_str())
        {
            return Err(self.error(
                self.span().start,
                format!("lineage relationship '{rel} of' is not supported by Elasticsearch EQL"),
            ));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let left = self.additive()?;
        let op = match self.peek() {
            Tok::Punct("==") => CmpOp::Eq,
            Tok::Punct("!=") => CmpOp::Neq,
            Tok::Punct("<") => CmpOp::Lt,
            Tok::Punct("<=") => CmpOp::Lte,
            Tok::Punct(">") => CmpOp::Gt,
            Tok::Punct(">=") => CmpOp::Gte,
            Tok::Punct("=") => {
                return Err(self.error(
                    self.span().start,
                    "'=' is not supported as an equal operator: use '==' (case-sensitive) or ':' (case-insensitive)",
                ));
            }
            _ => return Ok(left),
        };
        self.bump();
        let right = self.additive()?;
        if matches!(
            self.peek(),
            Tok::Punct("==" | "!=" | "<" | "<=" | ">" | ">=")
        ) {
            return Err(self.error(
                self.span().start,
                "comparisons cannot be chained: join them with 'and' (a < b and b <= c)",
            ));
        }
        let span = left.span.to(right.span);
        Ok(Expr {
            kind: ExprKind::Compare {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            span,
        })
    }

    fn additive(&mut self) -> PResult<Expr> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("+") => ArithOp::Add,
                Tok::Punct("-") => ArithOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.multiplicative()?;
            let span = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Arith {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span,
            };
        }
    }

    fn multiplicative(&mut self) -> PResult<Expr> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("*") => ArithOp::Mul,
                Tok::Punct("/") => ArithOp::Div,
                Tok::Punct("%") => ArithOp::Mod,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary()?;
            let span = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Arith {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span,
            };
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.is_punct("-") || self.is_punct("+") {
            let t = self.bump();
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            if t.tok == Tok::Punct("+") {
                return Ok(inner);
            }
            let span = t.span.to(inner.span);
            // Fold `-<number>` into a negative literal, as the builder does.
            let kind = match inner.kind {
                ExprKind::Literal(Literal::Int(i)) => ExprKind::Literal(Literal::Int(-i)),
                ExprKind::Literal(Literal::Float(x)) => ExprKind::Literal(Literal::Float(-x)),
                other => ExprKind::Neg(Box::new(Expr {
                    kind: other,
                    span: inner.span,
                })),
            };
            return Ok(Expr { kind, span });
        }
        let primary = self.primary()?;
        self.predicate(primary)
    }

    fn predicate(&mut self, value: Expr) -> PResult<Expr> {
        let start = value.span;
        // `not in` / `not in~`
        let negated = self.is_kw("not") && matches!(self.peek_at(1), Tok::Ident(w) if w == "in")
            || self.is_kw("not") && matches!(self.peek_at(1), Tok::Tilde(w) if w == "in");
        if negated {
            self.bump();
        }
        let insensitive = match self.peek() {
            Tok::Ident(w) if w == "in" => false,
            Tok::Tilde(w) if w == "in" => true,
            _ => {
                if negated {
                    unreachable!("checked above");
                }
                return self.match_predicate(value);
            }
        };
        self.bump();
        self.expect_punct("(", "'(' starting the 'in' list")?;
        let mut list = vec![self.expression()?];
        while self.eat_punct(",") {
            list.push(self.expression()?);
        }
        let end = self.expect_punct(")", "',' or ')' in the 'in' list")?;
        Ok(Expr {
            kind: ExprKind::In {
                value: Box::new(value),
                list,
                negated,
                insensitive,
            },
            span: start.to(end),
        })
    }

    fn match_predicate(&mut self, value: Expr) -> PResult<Expr> {
        let op = match self.peek() {
            Tok::Punct(":") => MatchOp::Seq,
            Tok::Ident(w) if w == "like" => MatchOp::Like,
            Tok::Tilde(w) if w == "like" => MatchOp::LikeInsensitive,
            Tok::Ident(w) if w == "regex" => MatchOp::Regex,
            Tok::Tilde(w) if w == "regex" => MatchOp::RegexInsensitive,
            _ => return Ok(value),
        };
        self.bump();
        let what = format!(
            "a constant or a '(' list of constants after '{}'",
            op.symbol()
        );
        if self.eat_punct("(") {
            let mut patterns = vec![self.constant(&what)?];
            while self.eat_punct(",") {
                patterns.push(self.constant(&what)?);
            }
            let end = self.expect_punct(")", "',' or ')' in the pattern list")?;
            return Ok(Expr {
                span: value.span.to(end),
                kind: ExprKind::Match {
                    value: Box::new(value),
                    op,
                    patterns,
                    list: true,
                },
            });
        }
        let end = self.span();
        let pattern = self.constant(&what)?;
        Ok(Expr {
            span: value.span.to(end),
            kind: ExprKind::Match {
                value: Box::new(value),
                op,
                patterns: vec![pattern],
                list: false,
            },
        })
    }

    fn constant(&mut self, what: &str) -> PResult<Literal> {
        let span = self.span();
        match self.primary()? {
            Expr {
                kind: ExprKind::Literal(l),
                ..
            } => Ok(l),
            _ => Err(self.error(span.start, format!("expected {what}"))),
        }
    }

    fn number(&self, text: &str, decimal: bool, span: Span) -> PResult<Literal> {
        if decimal {
            return text
                .parse::<f64>()
                .map(Literal::Float)
                .map_err(|_| self.error(span.start, format!("invalid number {text}")));
        }
        text.parse::<i64>().map(Literal::Int).map_err(|_| {
            self.error(
                span.start,
                format!("integer {text} does not fit in a signed 64-bit long"),
            )
        })
    }

    fn primary(&mut self) -> PResult<Expr> {
        let span = self.span();
        let lit = |kind| Ok(Expr { kind, span });
        match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                lit(ExprKind::Literal(Literal::Str(s)))
            }
            Tok::Int(n) => {
                self.bump();
                let l = self.number(&n, false, span)?;
                lit(ExprKind::Literal(l))
            }
            Tok::Decimal(n) => {
                self.bump();
                let l = self.number(&n, true, span)?;
                lit(ExprKind::Literal(l))
            }
            Tok::Punct("(") => {
                self.bump();
                let inner = self.expression()?;
                let end = self.expect_punct(")", "')' closing the parenthesis")?;
                Ok(Expr {
                    kind: inner.kind,
                    span: span.to(end),
                })
            }
            Tok::Punct("?") => {
                self.bump();
                let mut f = self.qualified_name()?;
                if let ExprKind::Field(r) = &mut f.kind {
                    r.optional = true;
                }
                f.span = span.to(f.span);
                Ok(f)
            }
            Tok::Ident(w) if w == "null" => {
                self.bump();
                lit(ExprKind::Literal(Literal::Null))
            }
            Tok::Ident(w) if w == "true" || w == "false" => {
                self.bump();
                lit(ExprKind::Literal(Literal::Bool(w == "true")))
            }
            Tok::Ident(w)
                if matches!(self.peek_at(1), Tok::Punct("("))
                    && !crate::ast::KEYWORDS.contains(&w.as_str()) =>
            {
                self.call(w, false)
            }
            Tok::Tilde(w)
                if matches!(self.peek_at(1), Tok::Punct("("))
                    && !crate::ast::KEYWORDS.contains(&w.as_str()) =>
            {
                self.call(w, true)
            }
            Tok::Ident(w) if !crate::ast::KEYWORDS.contains(&w.as_str()) => self.qualified_name(),
            Tok::Quoted(_) => self.qualified_name(),
            _ => Err(self.expected("a field, a constant, a function call or '('")),
        }
    }

    fn call(&mut self, name: String, insensitive: bool) -> PResult<Expr> {
        let start = self.bump().span;
        self.bump(); // (
        let mut args = Vec::new();
        if !self.is_punct(")") {
            args.push(self.expression()?);
            while self.eat_punct(",") {
                args.push(self.expression()?);
            }
        }
        let end = self.expect_punct(")", "',' or ')' in the function arguments")?;
        Ok(Expr {
            kind: ExprKind::Call {
                name,
                insensitive,
                args,
            },
            span: start.to(end),
        })
    }

    fn identifier(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Ident(w) if !crate::ast::KEYWORDS.contains(&w.as_str()) => {
                self.bump();
                Ok(w)
            }
            Tok::Quoted(w) => {
                self.bump();
                Ok(w)
            }
            Tok::Ident(w) => Err(self.error(
                self.span().start,
                format!("'{w}' is a keyword: quote the field name with backticks (`{w}`)"),
            )),
            _ => Err(self.expected("a field name")),
        }
    }

    fn qualified_name(&mut self) -> PResult<Expr> {
        let start = self.span();
        let mut name = self.identifier()?;
        loop {
            if self.is_punct(".") {
                self.bump();
                name.push('.');
                name.push_str(&self.identifier()?);
            } else if self.is_punct("[") && matches!(self.peek_at(1), Tok::Int(_)) {
                return Err(self.error(
                    self.span().start,
                    "array indexes are not supported in Elasticsearch EQL field names",
                ));
            } else {
                break;
            }
        }
        Ok(Expr {
            kind: ExprKind::Field(FieldRef {
                name,
                optional: false,
            }),
            span: Span::new(start.start, self.prev_end()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(q: &str) -> String {
        let parsed = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        let printed = parsed.to_string();
        let again = parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(again.to_string(), printed);
        printed
    }

    #[test]
    fn basic_event_query() {
        assert_eq!(
            round_trip("process where process.name == \"cmd.exe\""),
            "process where process.name == \"cmd.exe\""
        );
        assert_eq!(round_trip("any where true"), "any where true");
    }

    #[test]
    fn precedence_and_parens() {
        assert_eq!(
            round_trip("any where not a == 1 and (b == 2 or c == 3)"),
            "any where not a == 1 and (b == 2 or c == 3)"
        );
        assert_eq!(
            round_trip("any where (1 + 2) * x == -3"),
            "any where (1 + 2) * x == -3"
        );
        assert_eq!(
            round_trip("any where a - (b - c) > 1"),
            "any where a - (b - c) > 1"
        );
        assert_eq!(
            round_trip("any where not (a or b)"),
            "any where not (a or b)"
        );
    }

    #[test]
    fn predicates() {
        assert_eq!(
            round_trip("any where a : (\"x*\", \"y?\") and b like~ \"Z\" and c not in~ (\"q\", 1)"),
            "any where a : (\"x*\", \"y?\") and b like~ \"Z\" and c not in~ (\"q\", 1)"
        );
        assert_eq!(
            round_trip(r#"any where a regex """\d+\\""""#),
            r#"any where a regex "\\d+\\\\""#
        );
    }

    #[test]
    fn strings_and_identifiers() {
        assert_eq!(
            round_trip(r#"any where `my-field`.`a``b` == "t\tq\"\u{41}" and ?x.y != null"#),
            r#"any where `my-field`.`a``b` == "t\tq\"A" and ?x.y != null"#
        );
        assert_eq!(
            round_trip("\"my-cat\" where startsWith~(a, \"x\")"),
            "\"my-cat\" where startsWith~(a, \"x\")"
        );
    }

    #[test]
    fn sequences() {
        let q = "sequence by user.name with maxspan=10m [any where event.action == \"A\"] by x [any where true] by y with runs=2 until [any where z == 1] by w | head 3";
        assert_eq!(
            round_trip(q),
            "sequence by user.name with maxspan=10m\n  [any where event.action == \"A\"] by x\n  [any where true] by y with runs=2\nuntil [any where z == 1] by w | head 3"
        );
        let q = "sequence with maxspan=1h [a where true] ![b where true] [c where true]";
        round_trip(q);
        round_trip("sample by host [file where true] [process where true]");
    }

    fn err(q: &str) -> ParseError {
        parse(q).expect_err(q)
    }

    #[test]
    fn errors_name_position_and_expectation() {
        let e = err("process where a = 1");
        assert_eq!((e.line, e.column, e.offset), (1, 17, 16));
        assert!(e.message.contains("'=='"), "{e}");
        let e = err("process where\n  a == 'x'");
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("single quotes"), "{e}");
        let e = err("process where a < b < c");
        assert!(e.message.contains("chained"), "{e}");
        let e = err("sequence [a where true]");
        assert!(e.message.contains("second sequence step"), "{e}");
        let e = err("sequence [a where true] ![b where true]");
        assert!(e.message.contains("maxspan"), "{e}");
        let e = err("sequence with maxspan=10 [a where true] [b where true]");
        assert!(e.message.contains("time unit"), "{e}");
        let e = err("sequence with maxspan=10y [a where true] [b where true]");
        assert!(e.message.contains("unrecognized time unit 'y'"), "{e}");
        let e = err("any where true | count");
        assert!(e.message.contains("not supported"), "{e}");
        let e = err("any where a == \"\\d\"");
        assert!(e.message.contains("unknown escape"), "{e}");
        let e = err("any where a AND b");
        assert!(e.message.contains("lowercase"), "{e}");
        let e = err("process where descendant of [process where true]");
        assert!(e.message.contains("not supported"), "{e}");
        let e = err("sequence by a [x where true] by b [y where true]");
        assert!(e.message.contains("inconsistent"), "{e}");
        let e = err("any where a[0] == 1");
        assert!(e.message.contains("array indexes"), "{e}");
        let e = err("sequence [a where true] [b where true] with runs=0");
        assert!(e.message.contains("between 1 and 100"), "{e}");
    }

    #[test]
    fn comments_are_ignored() {
        assert_eq!(
            round_trip("any where /* c /* nested */ */ a == 1 // tail\n and b == 2"),
            "any where a == 1 and b == 2"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let q = format!("any where {}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(err(&q).message.contains("nests deeper"));
    }

    /// Issue 16: the depth limit named no flag, and query size had no limit.
    #[test]
    fn nesting_and_size_limits_name_their_flags() {
        use dragnet_query::limits::DEFAULT_MAX_QUERY_BYTES;
        let n = 100_000;
        for deep in [
            format!("any where {}a == 1{}", "(".repeat(n), ")".repeat(n)),
            format!("any where {}a == 1", "not ".repeat(n)),
            format!("any where {}a{}", "length(".repeat(n), ")".repeat(n)),
            format!("any where a == {}1{}", "-(".repeat(n), ")".repeat(n)),
        ] {
            let e = err(&deep);
            assert!(
                e.message.contains(
                    "query nests deeper than 64 levels; simplify it or raise the limit with --max-query-depth (at most 1024)"
                ),
                "{e}"
            );
        }
        let ors = format!(
            "any where {}",
            vec!["a == 1"; DEFAULT_MAX_QUERY_BYTES / 10 + 1].join(" or ")
        );
        let e = err(&ors);
        assert!(
            e.message.contains(&format!(
                "over the limit of {DEFAULT_MAX_QUERY_BYTES} bytes; split it into several rules or raise the limit with --max-query-bytes"
            )),
            "{e}"
        );
        assert!(
            parse(&format!(
                "any where {}",
                vec!["a == 1"; 40_000].join(" or ")
            ))
            .is_ok()
        );
    }
}
