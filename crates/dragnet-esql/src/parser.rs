//! Recursive-descent parser for ES|QL, following Elasticsearch's ANTLR grammar
//! (elastic/elasticsearch `x-pack/plugin/esql/src/main/antlr/`, read through the stored-source
//! index: `EsqlBaseParser.g4` @ 985155a2 (commands, FROM/METADATA, ENRICH, RENAME…),
//! `parser/Expression.g4` @ eef4311b (boolean/value/operator/primary expressions, constants,
//! function calls with option maps, the `:` match operator), `lexer/Expression.g4` @ 01a3f6f3
//! (tokens), plus the lexer mode files `From.g4`, `Project.g4`, `Rename.g4`, `Enrich.g4`; and
//! the newer syntax Elasticsearch's csv-spec tests use: `INLINE STATS`, `RENAME new = old`,
//! `STATS … WHERE`, expression LIKE patterns). Older spellings it still reads are noted where
//! they are handled.
//!
//! Operator precedence, loosest first, as `booleanExpression` / `valueExpression` /
//! `operatorExpression` / `primaryExpression` layer it:
//!
//! ```text
//! OR < AND < NOT < predicates (IN, LIKE, RLIKE, IS [NOT] NULL, `:` match; one per operand)
//!    < comparisons (==, !=, <, <=, >, >=, =~; not chained) < + - < * / % < unary - +
//!    < `::` casts < literals, names, calls, parentheses
//! ```
//!
//! Every recursion goes through [`Parser::enter`], which refuses nesting past
//! [`MAX_QUERY_DEPTH`]; `AND`/`OR` chains are kept flat, and every other binary operator
//! counts as one level, so the tree is never deeper than the limit.

use crate::ast::*;
use crate::lexer::{self, LexError, Tok};

/// Nesting levels (parentheses, NOT, unary minus, casts, binary operators) above which
/// parsing stops, unless `--max-query-depth` (`dragnet_query::limits`, at most 1024) says
/// otherwise: the parser, the printer and every later walk recurse once per level. A level
/// costs at most 4.3 KiB of stack optimised (measured: nested parentheses or calls, 1,020 of
/// them in 4.3 MiB; within the 8 KiB a level `dragnet_engine::stack_for_depth` gives a raised
/// depth) and about 22 KiB unoptimised, so a query at this default fits a 2 MiB thread
/// (rayon workers, test threads) either way. The rules of the detection-rules corpus and
/// Elasticsearch's csv-spec queries nest fewer than 12 levels.
pub const MAX_QUERY_DEPTH: usize = 64;

/// A syntax error: where (byte span, 1-based line and column in characters) and what was
/// expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub span: Span,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ParseError {
    fn new(src: &str, span: Span, message: impl Into<String>) -> Self {
        let (line, column) = dragnet_query::line_col(src, span.start);
        Self {
            span,
            line,
            column,
            message: message.into(),
        }
    }

    /// Byte offset of the error's start.
    pub fn offset(&self) -> usize {
        self.span.start
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

type Result<T> = std::result::Result<T, ParseError>;

/// Parses one ES|QL query.
pub fn parse(src: &str) -> Result<Query> {
    if src.len() > dragnet_query::limits::max_query_bytes() {
        return Err(ParseError::new(
            src,
            Span::new(0, 0),
            dragnet_query::limits::too_large_message(src.len()),
        ));
    }
    let mut p = Parser {
        max_depth: dragnet_query::limits::max_query_depth(MAX_QUERY_DEPTH),
        src,
        pos: 0,
        last_end: 0,
        depth: 0,
        peeked: None,
    };
    p.query()
}

/// Time units of a qualified integer literal (`1 hour`), upper-cased: Elasticsearch's
/// `EsqlDataTypeConverter.parseTemporalAmount` (`INTERVALS`), which rejects any other.
const TIME_UNITS: &[&str] = &[
    "MILLISECOND",
    "MILLISECONDS",
    "MS",
    "SECOND",
    "SECONDS",
    "SEC",
    "S",
    "MINUTE",
    "MINUTES",
    "MIN",
    "M",
    "HOUR",
    "HOURS",
    "H",
    "DAY",
    "DAYS",
    "D",
    "WEEK",
    "WEEKS",
    "W",
    "MONTH",
    "MONTHS",
    "MO",
    "QUARTER",
    "QUARTERS",
    "Q",
    "YEAR",
    "YEARS",
    "YR",
    "Y",
];

const COMPARISONS: &[(&str, BinaryOp)] = &[
    ("==", BinaryOp::Eq),
    ("!=", BinaryOp::Neq),
    ("<", BinaryOp::Lt),
    ("<=", BinaryOp::Lte),
    (">", BinaryOp::Gt),
    (">=", BinaryOp::Gte),
    ("=~", BinaryOp::CaseInsensitiveEq),
];
const ADDITIVE: &[(&str, BinaryOp)] = &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)];
const MULTIPLICATIVE: &[(&str, BinaryOp)] = &[
    ("*", BinaryOp::Mul),
    ("/", BinaryOp::Div),
    ("%", BinaryOp::Mod),
];

/// Commands Elasticsearch accepts that dragnet keeps as written (see
/// [`CommandKind::Other`]), lower case.
const OTHER_PROCESSING_COMMANDS: &[&str] = &[
    "change_point",
    "completion",
    "fork",
    "fuse",
    "rerank",
    "rrf",
    "mmr",
];

const PROCESSING_COMMANDS: &str = "WHERE, EVAL, STATS, KEEP, DROP, RENAME, SORT, LIMIT, DISSECT, GROK, MV_EXPAND, ENRICH, LOOKUP JOIN, INLINE STATS, SAMPLE, CHANGE_POINT, COMPLETION, FORK, FUSE, RERANK";

/// What [`Parser::primary_leaf`] found.
enum Primary {
    Leaf(Expr),
    /// `(` consumed at this position.
    Parenthesised(usize),
    /// The function name consumed (starting at this position).
    Call(usize, String),
}

struct Parser<'a> {
    src: &'a str,
    /// Position after the last consumed token.
    pos: usize,
    /// End of the last consumed token (spans end there).
    last_end: usize,
    depth: usize,
    /// [`MAX_QUERY_DEPTH`], or what `--max-query-depth` set.
    max_depth: usize,
    /// The expression-mode token at `pos`: (pos it was read at, start, token, end).
    peeked: Option<(usize, usize, Tok, usize)>,
}

impl<'a> Parser<'a> {
    fn err(&self, span: Span, message: impl Into<String>) -> ParseError {
        ParseError::new(self.src, span, message)
    }

    fn lex_err(&self, (at, message): LexError) -> ParseError {
        self.err(self.char_span(at), message)
    }

    /// The span of the character at `at` (empty at the end): spans always fall on character
    /// boundaries, so callers can slice the query with them.
    fn char_span(&self, at: usize) -> Span {
        let at = at.min(self.src.len());
        let len = self.src[at..].chars().next().map_or(0, char::len_utf8);
        Span::new(at, at + len)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            let at = self.pos;
            return Err(self.err(
                Span::new(at, at),
                dragnet_query::limits::too_deep_message(self.max_depth),
            ));
        }
        Ok(())
    }

    fn leave(&mut self, levels: usize) {
        self.depth -= levels;
    }

    // --- tokens (expression mode) ----------------------------------------------------

    /// The next token: (start, token, end).
    fn peek(&mut self) -> Result<(usize, Tok, usize)> {
        if let Some((at, start, tok, end)) = &self.peeked
            && *at == self.pos
        {
            return Ok((*start, tok.clone(), *end));
        }
        let start = lexer::skip_trivia(self.src, self.pos).map_err(|e| self.lex_err(e))?;
        let (tok, end) = lexer::next_token(self.src, start).map_err(|e| self.lex_err(e))?;
        self.peeked = Some((self.pos, start, tok.clone(), end));
        Ok((start, tok, end))
    }

    fn peek_tok(&mut self) -> Result<Tok> {
        Ok(self.peek()?.1)
    }

    /// Consumes the next token, returning its start.
    fn bump(&mut self) -> Result<usize> {
        let (start, _, end) = self.peek()?;
        self.pos = end;
        self.last_end = end;
        Ok(start)
    }

    /// The start of the next token (after trivia).
    fn next_start(&mut self) -> Result<usize> {
        Ok(self.peek()?.0)
    }

    fn at_punct(&mut self, p: &str) -> Result<bool> {
        Ok(matches!(self.peek_tok()?, Tok::Punct(q) if q == p))
    }

    fn at_word(&mut self, keyword: &str) -> Result<bool> {
        Ok(self.peek_tok()?.is_word(keyword))
    }

    fn eat_punct(&mut self, p: &str) -> Result<bool> {
        if self.at_punct(p)? {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn eat_word(&mut self, keyword: &str) -> Result<bool> {
        if self.at_word(keyword)? {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn unexpected(&mut self, expected: &str) -> ParseError {
        match self.peek() {
            Ok((start, tok, end)) => self.err(
                if end > start {
                    Span::new(start, end)
                } else {
                    self.char_span(start)
                },
                format!("expected {expected}, found {}", tok.describe()),
            ),
            Err(e) => e,
        }
    }

    fn expect_punct(&mut self, p: &str, context: &str) -> Result<()> {
        if self.eat_punct(p)? {
            return Ok(());
        }
        Err(self.unexpected(&format!("`{p}` {context}")))
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.last_end.max(start))
    }

    // --- query and commands ------------------------------------------------------------

    fn query(&mut self) -> Result<Query> {
        let mut settings = Vec::new();
        while self.at_word("set")? {
            self.bump()?;
            let name = self.qualified_name("a setting name after SET")?;
            self.expect_punct("=", "after the setting name")?;
            let value = self.constant("a setting value")?;
            self.expect_punct(";", "after a SET statement")?;
            settings.push(Setting { name, value });
        }
        let source = self.source_command()?;
        let mut pipes = Vec::new();
        loop {
            if self.eat_punct("|")? {
                pipes.push(self.processing_command()?);
            } else if self.peek_tok()? == Tok::Eof {
                return Ok(Query {
                    settings,
                    source,
                    pipes,
                });
            } else {
                return Err(self.unexpected("`|` or the end of the query"));
            }
        }
    }

    fn command_word(&mut self, expected: &str) -> Result<(usize, String)> {
        match self.peek_tok()? {
            Tok::Word(w) => {
                let start = self.bump()?;
                Ok((start, w.to_ascii_lowercase()))
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn source_command(&mut self) -> Result<Command> {
        let (start, word) = self.command_word("a source command (FROM, ROW, SHOW INFO, TS)")?;
        let kind = match word.as_str() {
            "from" => self.from(SourceKind::From)?,
            "ts" => self.from(SourceKind::TimeSeries)?,
            "row" => CommandKind::Row(self.fields()?),
            "show" => {
                if !self.eat_word("info")? {
                    return Err(self.unexpected("INFO after SHOW"));
                }
                CommandKind::ShowInfo
            }
            "explain" | "promql" | "metrics" => self.other(word.to_ascii_uppercase())?,
            _ => {
                return Err(self.err(
                    Span::new(start, self.last_end),
                    format!(
                        "expected a source command (FROM, ROW, SHOW INFO, TS), found `{}`",
                        &self.src[start..self.last_end]
                    ),
                ));
            }
        };
        Ok(Command {
            kind,
            span: self.span_from(start),
        })
    }

    fn processing_command(&mut self) -> Result<Command> {
        let (start, word) =
            self.command_word(&format!("a command after `|` ({PROCESSING_COMMANDS})"))?;
        let kind = match word.as_str() {
            "where" => CommandKind::Where(self.boolean()?),
            "eval" => CommandKind::Eval(self.fields()?),
            "stats" => self.stats(false)?,
            // `INLINE STATS` (9.2+); `INLINESTATS` in earlier snapshot builds.
            "inlinestats" => self.stats(true)?,
            "inline" if self.eat_word("stats")? => self.stats(true)?,
            "keep" => CommandKind::Keep(self.name_patterns("KEEP")?),
            "drop" => CommandKind::Drop(self.name_patterns("DROP")?),
            "rename" => self.rename()?,
            "sort" => self.sort()?,
            "limit" => self.limit()?,
            "dissect" => self.dissect()?,
            "grok" => self.grok()?,
            "mv_expand" => {
                CommandKind::MvExpand(self.qualified_name("a field name after MV_EXPAND")?)
            }
            "enrich" => self.enrich()?,
            "lookup" if self.eat_word("join")? => self.lookup_join()?,
            "sample" => CommandKind::Sample(self.constant("a probability after SAMPLE")?),
            "left" | "right" | "full" if self.at_word("join")? => {
                self.bump()?;
                self.other(format!("{} JOIN", word.to_ascii_uppercase()))?
            }
            w if OTHER_PROCESSING_COMMANDS.contains(&w) => self.other(w.to_ascii_uppercase())?,
            _ => {
                return Err(self.err(
                    Span::new(start, self.last_end),
                    format!(
                        "unknown command `{}`: expected one of {PROCESSING_COMMANDS}",
                        &self.src[start..self.last_end]
                    ),
                ));
            }
        };
        Ok(Command {
            kind,
            span: self.span_from(start),
        })
    }

    /// The rest of a command dragnet keeps as text: up to the next `|` outside parentheses,
    /// brackets, braces, strings, quoted names and comments.
    fn other(&mut self, name: String) -> Result<CommandKind> {
        let bytes = self.src.as_bytes();
        let begin = self.pos;
        let mut i = begin;
        let mut open: Vec<usize> = Vec::new();
        while i < bytes.len() {
            let next = lexer::skip_trivia(self.src, i).map_err(|e| self.lex_err(e))?;
            if next != i {
                i = next;
                continue;
            }
            match bytes[i] {
                b'"' | b'`' => {
                    let (_, end) = lexer::next_token(self.src, i).map_err(|e| self.lex_err(e))?;
                    i = end;
                    continue;
                }
                b'(' | b'[' | b'{' => open.push(i),
                // The guard pops the matching opening; only an unmatched closing gets here.
                b')' | b']' | b'}' if open.pop().is_none() => {
                    return Err(self.err(
                        self.char_span(i),
                        format!("`{}` closes nothing in {name}", bytes[i] as char),
                    ));
                }
                b'|' if open.is_empty() => break,
                _ => {}
            }
            i += 1;
        }
        if let Some(&at) = open.last() {
            return Err(self.err(
                self.char_span(at),
                format!("`{}` is never closed in {name}", bytes[at] as char),
            ));
        }
        let text = self.src[begin..i].trim();
        self.pos = i;
        self.last_end = begin + (self.src[begin..i].trim_end().len());
        Ok(CommandKind::Other {
            name,
            text: text.to_owned(),
        })
    }

    /// `FROM indexPattern (, indexPattern)* (METADATA name (, name)*)?` in the FROM lexer
    /// mode (`lexer/From.g4`): `[cluster:]index[::selector]` or a quoted string.
    fn from(&mut self, kind: SourceKind) -> Result<CommandKind> {
        let keyword = match kind {
            SourceKind::From => "FROM",
            SourceKind::TimeSeries => "TS",
        };
        let mut indices = vec![self.index_pattern(keyword)?];
        while self.eat_raw(",")? {
            indices.push(self.index_pattern(keyword)?);
        }
        let mut metadata = Vec::new();
        let bracketed = self.peek_raw_is("[")? && {
            let at = self.raw_start()?;
            self.word_at(at + 1)?
                .is_some_and(|(w, _, _)| w.eq_ignore_ascii_case("metadata"))
        };
        if bracketed {
            // `[METADATA _id]`: the form of 8.11-8.12, still accepted by the grammar.
            self.eat_raw("[")?;
        }
        if let Some((word, _, end)) = self.word_at(self.raw_start()?)?
            && word.eq_ignore_ascii_case("metadata")
        {
            self.pos = end;
            self.last_end = end;
            loop {
                let at = self.raw_start()?;
                let end = lexer::index_run(self.src, at);
                if end == at {
                    return Err(
                        self.raw_unexpected(at, "a metadata field name (_id, _index, _version…)")
                    );
                }
                metadata.push(self.src[at..end].to_owned());
                self.pos = end;
                self.last_end = end;
                if !self.eat_raw(",")? {
                    break;
                }
            }
        }
        if bracketed && !self.eat_raw("]")? {
            let at = self.raw_start()?;
            return Err(self.raw_unexpected(at, "`]` to close `[METADATA …`"));
        }
        Ok(CommandKind::From {
            kind,
            indices,
            metadata,
        })
    }

    fn index_pattern(&mut self, keyword: &str) -> Result<IndexPattern> {
        let at = self.raw_start()?;
        if self.src[at..].starts_with('"') {
            let (tok, end) = lexer::next_token(self.src, at).map_err(|e| self.lex_err(e))?;
            let Tok::Str(index) = tok else {
                unreachable!("a `\"` starts a string token")
            };
            self.pos = end;
            self.last_end = end;
            return Ok(IndexPattern {
                cluster: None,
                index,
                selector: None,
            });
        }
        let run = |p: &Self, at: usize, what: &str| -> Result<(String, usize)> {
            let end = lexer::index_run(p.src, at);
            if end == at {
                return Err(p.raw_unexpected(at, what));
            }
            Ok((p.src[at..end].to_owned(), end))
        };
        let (first, mut end) = run(
            self,
            at,
            &format!("an index pattern after {keyword} or `,`"),
        )?;
        let mut cluster = None;
        let mut index = first;
        let mut selector = None;
        let rest = &self.src[end..];
        if rest.starts_with("::") {
            let (s, e) = run(self, end + 2, "a selector after `::` (data, failures)")?;
            selector = Some(s);
            end = e;
        } else if rest.starts_with(':') {
            let (i, e) = run(self, end + 1, "an index pattern after `cluster:`")?;
            cluster = Some(index);
            index = i;
            end = e;
            if self.src[end..].starts_with("::") {
                let (s, e) = run(self, end + 2, "a selector after `::` (data, failures)")?;
                selector = Some(s);
                end = e;
            }
        }
        self.pos = end;
        self.last_end = end;
        Ok(IndexPattern {
            cluster,
            index,
            selector,
        })
    }

    // --- helpers for the modes that do not use expression tokens -------------------------

    /// The position of the next non-trivia character.
    fn raw_start(&self) -> Result<usize> {
        lexer::skip_trivia(self.src, self.pos).map_err(|e| self.lex_err(e))
    }

    fn peek_raw_is(&self, s: &str) -> Result<bool> {
        Ok(self.src[self.raw_start()?..].starts_with(s))
    }

    /// Consumes `s` (a punctuation) if it comes next.
    fn eat_raw(&mut self, s: &str) -> Result<bool> {
        let at = self.raw_start()?;
        if self.src[at..].starts_with(s) {
            self.pos = at + s.len();
            self.last_end = self.pos;
            return Ok(true);
        }
        Ok(false)
    }

    /// The word (letters, digits, `_`) at `at`, if one starts there: (word, start, end).
    fn word_at(&self, at: usize) -> Result<Option<(String, usize, usize)>> {
        let at = lexer::skip_trivia(self.src, at).map_err(|e| self.lex_err(e))?;
        let len = self.src.as_bytes()[at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count();
        Ok((len > 0).then(|| (self.src[at..at + len].to_owned(), at, at + len)))
    }

    fn raw_unexpected(&self, at: usize, expected: &str) -> ParseError {
        let found = match self.src[at..].chars().next() {
            None => "the end of the query".to_owned(),
            Some(c) => format!("`{}`", c.escape_debug()),
        };
        self.err(
            self.char_span(at),
            format!("expected {expected}, found {found}"),
        )
    }

    fn name_pattern(&mut self, expected: &str) -> Result<String> {
        let at = self.raw_start()?;
        match lexer::name_pattern(self.src, at).map_err(|e| self.lex_err(e))? {
            Some((name, end)) => {
                self.pos = end;
                self.last_end = end;
                Ok(name)
            }
            None => Err(self.raw_unexpected(at, expected)),
        }
    }

    /// `KEEP`/`DROP`: name patterns in the PROJECT lexer mode (`lexer/Project.g4`).
    fn name_patterns(&mut self, command: &str) -> Result<Vec<String>> {
        let mut names =
            vec![self.name_pattern(&format!("a column name or pattern after {command}"))?];
        while self.eat_raw(",")? {
            names.push(self.name_pattern("a column name or pattern after `,`")?);
        }
        Ok(names)
    }

    /// `RENAME old AS new` or `RENAME new = old` (9.1+), comma-separated (`lexer/Rename.g4`).
    fn rename(&mut self) -> Result<CommandKind> {
        let mut renames = Vec::new();
        loop {
            let first = self.name_pattern("a column name after RENAME or `,`")?;
            let at = self.raw_start()?;
            if let Some((w, _, end)) = self.word_at(at)?
                && w.eq_ignore_ascii_case("as")
            {
                self.pos = end;
                self.last_end = end;
                let new = self.name_pattern("the new column name after AS")?;
                renames.push(Rename { old: first, new });
            } else if self.src[at..].starts_with('=') && !self.src[at..].starts_with("==") {
                self.pos = at + 1;
                self.last_end = self.pos;
                let old = self.name_pattern("the column to rename after `=`")?;
                renames.push(Rename { old, new: first });
            } else {
                return Err(self.raw_unexpected(at, "AS (`old AS new`) or `=` (`new = old`)"));
            }
            if !self.eat_raw(",")? {
                return Ok(CommandKind::Rename(renames));
            }
        }
    }

    /// `ENRICH [mode:]policy [ON field] [WITH [new =] field, …]` (`lexer/Enrich.g4`).
    fn enrich(&mut self) -> Result<CommandKind> {
        let at = self.raw_start()?;
        let end = at
            + self.src[at..]
                .find(|c: char| c.is_whitespace() || c == '|' || c == ',')
                .unwrap_or(self.src.len() - at);
        if end == at {
            return Err(self.raw_unexpected(at, "an enrich policy name after ENRICH"));
        }
        let policy = self.src[at..end].to_owned();
        self.pos = end;
        self.last_end = end;
        let mut on = None;
        if let Some((w, _, end)) = self.word_at(self.pos)?
            && w.eq_ignore_ascii_case("on")
        {
            self.pos = end;
            on = Some(self.name_pattern("the match field after ON")?);
        }
        let mut with = Vec::new();
        if let Some((w, _, end)) = self.word_at(self.pos)?
            && w.eq_ignore_ascii_case("with")
        {
            self.pos = end;
            loop {
                let first = self.name_pattern("an enrich field after WITH or `,`")?;
                let at = self.raw_start()?;
                if self.src[at..].starts_with('=') && !self.src[at..].starts_with("==") {
                    self.pos = at + 1;
                    let old = self.name_pattern("an enrich field after `=`")?;
                    with.push(Rename { old, new: first });
                } else {
                    with.push(Rename {
                        old: first.clone(),
                        new: first,
                    });
                }
                if !self.eat_raw(",")? {
                    break;
                }
            }
        }
        Ok(CommandKind::Enrich { policy, on, with })
    }

    /// `LOOKUP JOIN index ON condition (, condition)*` (`parser/Join.g4`).
    fn lookup_join(&mut self) -> Result<CommandKind> {
        let index = self.index_pattern("LOOKUP JOIN")?;
        if !self.eat_word("on")? {
            return Err(self.unexpected("ON after the lookup index"));
        }
        let mut on = vec![self.boolean()?];
        while self.eat_punct(",")? {
            on.push(self.boolean()?);
        }
        Ok(CommandKind::LookupJoin { index, on })
    }

    fn stats(&mut self, inline: bool) -> Result<CommandKind> {
        let mut aggregates = Vec::new();
        if !self.at_word("by")? && !self.at_punct("|")? && self.peek_tok()? != Tok::Eof {
            loop {
                let field = self.field()?;
                let filter = if self.eat_word("where")? {
                    Some(self.boolean()?)
                } else {
                    None
                };
                aggregates.push(Aggregate { field, filter });
                if !self.eat_punct(",")? {
                    break;
                }
            }
        }
        let groups = if self.eat_word("by")? {
            self.fields()?
        } else {
            Vec::new()
        };
        Ok(CommandKind::Stats {
            aggregates,
            groups,
            inline,
        })
    }

    fn sort(&mut self) -> Result<CommandKind> {
        let mut keys = Vec::new();
        loop {
            let expr = self.boolean()?;
            let order = if self.eat_word("asc")? {
                Some(Order::Asc)
            } else if self.eat_word("desc")? {
                Some(Order::Desc)
            } else {
                None
            };
            let nulls = if self.eat_word("nulls")? {
                if self.eat_word("first")? {
                    Some(NullsOrder::First)
                } else if self.eat_word("last")? {
                    Some(NullsOrder::Last)
                } else {
                    return Err(self.unexpected("FIRST or LAST after NULLS"));
                }
            } else {
                None
            };
            keys.push(SortKey { expr, order, nulls });
            if !self.eat_punct(",")? {
                return Ok(CommandKind::Sort(keys));
            }
        }
    }

    fn limit(&mut self) -> Result<CommandKind> {
        let (start, tok, end) = self.peek()?;
        if let Tok::Int(text) = tok {
            self.bump()?;
            return text.parse::<u64>().map(CommandKind::Limit).map_err(|_| {
                self.err(
                    Span::new(start, end),
                    format!("LIMIT {text} is too large: the most is {}", u64::MAX),
                )
            });
        }
        Err(self.unexpected("a non-negative integer after LIMIT"))
    }

    /// `DISSECT input "pattern" (name = constant (, name = constant)*)?`
    fn dissect(&mut self) -> Result<CommandKind> {
        let input = self.postfix()?;
        let pattern = self.string("the dissect pattern (a string) after the input")?;
        let mut options = Vec::new();
        if matches!(self.peek_tok()?, Tok::Word(ref w) if !is_keyword(w))
            || matches!(self.peek_tok()?, Tok::QuotedIdent(_))
        {
            loop {
                let name = self.qualified_name("an option name (APPEND_SEPARATOR)")?;
                self.expect_punct("=", "after the DISSECT option name")?;
                let value = self.constant("the option's value")?;
                options.push((name, value));
                if !self.eat_punct(",")? {
                    break;
                }
            }
        }
        Ok(CommandKind::Dissect {
            input,
            pattern,
            options,
        })
    }

    /// `GROK input "pattern" (, "pattern")*`
    fn grok(&mut self) -> Result<CommandKind> {
        let input = self.postfix()?;
        let mut patterns = vec![self.string("the grok pattern (a string) after the input")?];
        while self.eat_punct(",")? {
            patterns.push(self.string("a grok pattern (a string) after `,`")?);
        }
        Ok(CommandKind::Grok { input, patterns })
    }

    fn string(&mut self, expected: &str) -> Result<String> {
        if let Tok::Str(s) = self.peek_tok()? {
            self.bump()?;
            return Ok(s);
        }
        Err(self.unexpected(expected))
    }

    /// `field (, field)*`
    fn fields(&mut self) -> Result<Vec<Field>> {
        let mut fields = vec![self.field()?];
        while self.eat_punct(",")? {
            fields.push(self.field()?);
        }
        Ok(fields)
    }

    /// `(qualifiedName =)? booleanExpression`; an unnamed field is named after its source
    /// text, as Elasticsearch names the column (`EVAL a + 1` makes a column `a + 1`).
    fn field(&mut self) -> Result<Field> {
        let saved = (self.pos, self.last_end);
        if let Some(name) = self.try_qualified_name()? {
            if self.at_punct("=")? {
                self.bump()?;
                let expr = self.boolean()?;
                return Ok(Field { name, expr });
            }
            (self.pos, self.last_end) = saved;
        }
        let expr = self.boolean()?;
        let name = self.src[expr.span.start..expr.span.end].to_owned();
        Ok(Field { name, expr })
    }

    /// `identifier (. identifier)*` if one comes next (consumed), else nothing consumed.
    fn try_qualified_name(&mut self) -> Result<Option<String>> {
        let mut name = String::new();
        loop {
            match self.peek_tok()? {
                Tok::Word(w) if !is_keyword(&w) => name.push_str(&w),
                Tok::QuotedIdent(w) => name.push_str(&w),
                _ if name.is_empty() => return Ok(None),
                _ => return Err(self.unexpected("a name after `.`")),
            }
            self.bump()?;
            if !self.at_punct(".")? {
                return Ok(Some(name));
            }
            self.bump()?;
            name.push('.');
        }
    }

    fn qualified_name(&mut self, expected: &str) -> Result<String> {
        match self.try_qualified_name()? {
            Some(name) => Ok(name),
            None => Err(self.unexpected(expected)),
        }
    }

    // --- expressions --------------------------------------------------------------------

    /// `booleanExpression`: OR of ANDs of NOTs of predicates.
    fn boolean(&mut self) -> Result<Expr> {
        self.enter()?;
        let start = self.next_start()?;
        let first = self.and()?;
        let result = if self.at_word("or")? {
            let mut items = vec![first];
            while self.eat_word("or")? {
                items.push(self.and()?);
            }
            Expr::new(ExprKind::Or(items), self.span_from(start))
        } else {
            first
        };
        self.leave(1);
        Ok(result)
    }

    fn and(&mut self) -> Result<Expr> {
        let start = self.next_start()?;
        let first = self.not()?;
        if !self.at_word("and")? {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_word("and")? {
            items.push(self.not()?);
        }
        Ok(Expr::new(ExprKind::And(items), self.span_from(start)))
    }

    fn not(&mut self) -> Result<Expr> {
        if !self.at_word("not")? {
            return self.predicate();
        }
        let start = self.bump()?;
        self.enter()?;
        let inner = self.not()?;
        self.leave(1);
        Ok(Expr::new(
            ExprKind::Not(Box::new(inner)),
            self.span_from(start),
        ))
    }

    /// A value, then at most one of `[NOT] IN (…)`, `[NOT] LIKE|RLIKE …`, `IS [NOT] NULL`,
    /// `: query`.
    fn predicate(&mut self) -> Result<Expr> {
        let start = self.next_start()?;
        let left = self.value()?;
        self.predicate_tail(start, left)
    }

    /// What may follow a value in [`Self::predicate`]. A function of its own (never inlined)
    /// so its large frame is not on the stack while operands recurse: nesting depth costs
    /// stack in every recursive function, unoptimised builds most.
    #[inline(never)]
    fn predicate_tail(&mut self, start: usize, left: Expr) -> Result<Expr> {
        let negated = if self.at_word("not")? {
            self.bump()?;
            if !(self.at_word("in")? || self.at_word("like")? || self.at_word("rlike")?) {
                return Err(self.unexpected("IN, LIKE or RLIKE after NOT"));
            }
            true
        } else {
            false
        };
        let tok = self.peek_tok()?;
        let kind = if tok.is_word("in") {
            self.bump()?;
            self.expect_punct("(", "after IN")?;
            let mut list = vec![self.value()?];
            while self.eat_punct(",")? {
                list.push(self.value()?);
            }
            self.expect_punct(")", "to close the IN list")?;
            ExprKind::In {
                expr: Box::new(left),
                list,
                negated,
            }
        } else if tok.is_word("like") || tok.is_word("rlike") {
            self.bump()?;
            let regex = tok.is_word("rlike");
            // `LIKE "a*"`, `LIKE ("a*", "b*")`, and (9.4+, capability
            // `like_rlike_constant_expression`) `LIKE concat("a", "*")`: a pattern is an
            // operator expression that must fold to a string.
            let patterns = if self.eat_punct("(")? {
                let mut patterns = vec![self.arith()?];
                while self.eat_punct(",")? {
                    patterns.push(self.arith()?);
                }
                self.expect_punct(")", "to close the pattern list")?;
                patterns
            } else {
                vec![self.arith()?]
            };
            ExprKind::Like {
                expr: Box::new(left),
                patterns,
                regex,
                negated,
            }
        } else if tok.is_word("is") {
            self.bump()?;
            let negated = self.eat_word("not")?;
            if !self.eat_word("null")? {
                return Err(self.unexpected(if negated {
                    "NULL after IS NOT"
                } else {
                    "NULL or NOT NULL after IS"
                }));
            }
            ExprKind::IsNull {
                expr: Box::new(left),
                negated,
            }
        } else if tok == Tok::Punct(":") {
            // `matchBooleanExpression : qualifiedName (:: dataType)? : constant`
            let (field, cast) = match &left.kind {
                ExprKind::Field(name) => (name.clone(), None),
                ExprKind::Cast { expr, to } => match &expr.kind {
                    ExprKind::Field(name) => (name.clone(), Some(to.clone())),
                    _ => {
                        return Err(self.err(
                            left.span,
                            "the match operator `:` needs a field name on its left",
                        ));
                    }
                },
                _ => {
                    return Err(self.err(
                        left.span,
                        "the match operator `:` needs a field name on its left",
                    ));
                }
            };
            self.bump()?;
            let query = self.constant("a constant after the match operator `:`")?;
            ExprKind::Match {
                field,
                cast,
                query: Box::new(query),
            }
        } else {
            return Ok(left);
        };
        Ok(Expr::new(kind, self.span_from(start)))
    }

    /// `valueExpression`: arithmetic, optionally compared once.
    fn value(&mut self) -> Result<Expr> {
        let start = self.next_start()?;
        let left = self.arith()?;
        let Some(op) = self.next_operator(COMPARISONS)? else {
            return Ok(left);
        };
        self.enter()?;
        let right = self.arith()?;
        self.leave(1);
        Ok(Expr::new(
            ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            self.span_from(start),
        ))
    }

    fn arith(&mut self) -> Result<Expr> {
        self.binary_chain(ADDITIVE, Self::term)
    }

    fn term(&mut self) -> Result<Expr> {
        self.binary_chain(MULTIPLICATIVE, Self::unary)
    }

    /// Consumes the next token if it is one of `ops`, returning its operator.
    #[inline(never)]
    fn next_operator(&mut self, ops: &[(&'static str, BinaryOp)]) -> Result<Option<BinaryOp>> {
        let tok = self.peek_tok()?;
        let Some(&(_, op)) = ops.iter().find(|(s, _)| tok == Tok::Punct(s)) else {
            return Ok(None);
        };
        self.bump()?;
        Ok(Some(op))
    }

    /// A left-associative chain of `operand (op operand)*`; each operator is one level of
    /// the tree, so it counts toward [`MAX_QUERY_DEPTH`].
    fn binary_chain(
        &mut self,
        ops: &[(&'static str, BinaryOp)],
        operand: fn(&mut Self) -> Result<Expr>,
    ) -> Result<Expr> {
        let start = self.next_start()?;
        let mut left = operand(self)?;
        let mut levels = 0;
        while let Some(op) = self.next_operator(ops)? {
            self.enter()?;
            levels += 1;
            let right = operand(self)?;
            left = Expr::new(
                ExprKind::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                self.span_from(start),
            );
        }
        self.leave(levels);
        Ok(left)
    }

    /// Unary `-`/`+`; a sign directly before a number is part of the literal
    /// (`integerValue : (PLUS | MINUS)? INTEGER_LITERAL`), so `-5::long` casts `-5`.
    fn unary(&mut self) -> Result<Expr> {
        let (start, tok, _) = self.peek()?;
        let negative = match tok {
            Tok::Punct("-") => true,
            Tok::Punct("+") => false,
            _ => return self.postfix(),
        };
        self.bump()?;
        self.enter()?;
        let result = if matches!(self.peek_tok()?, Tok::Int(_) | Tok::Decimal(_)) {
            let literal = self.number(start, negative)?;
            self.casts(start, literal)?
        } else {
            let operand = self.unary()?;
            if negative {
                Expr::new(ExprKind::Neg(Box::new(operand)), self.span_from(start))
            } else {
                let mut operand = operand;
                operand.span = self.span_from(start);
                operand
            }
        };
        self.leave(1);
        Ok(result)
    }

    /// A primary expression with its `::type` casts.
    fn postfix(&mut self) -> Result<Expr> {
        let start = self.next_start()?;
        let primary = self.primary()?;
        self.casts(start, primary)
    }

    fn casts(&mut self, start: usize, mut expr: Expr) -> Result<Expr> {
        let mut levels = 0;
        while self.eat_punct("::")? {
            self.enter()?;
            levels += 1;
            let to = match self.peek_tok()? {
                Tok::Word(w) => {
                    self.bump()?;
                    w
                }
                _ => return Err(self.unexpected("a type name after `::`")),
            };
            expr = Expr::new(
                ExprKind::Cast {
                    expr: Box::new(expr),
                    to,
                },
                self.span_from(start),
            );
        }
        self.leave(levels);
        Ok(expr)
    }

    /// A number token (already known to come next) as a literal, with its sign; an integer
    /// followed by a word is a time span (`1 hour`).
    fn number(&mut self, start: usize, negative: bool) -> Result<Expr> {
        let (tok_start, tok, tok_end) = self.peek()?;
        self.bump()?;
        let span = Span::new(tok_start, tok_end);
        let literal = match tok {
            Tok::Int(text) => {
                let magnitude = text.parse::<u64>().ok();
                let value = magnitude.map(|m| if negative { -(m as i128) } else { m as i128 });
                if let Tok::Word(unit) = self.peek_tok()?
                    && !is_keyword(&unit)
                {
                    let (unit_start, _, unit_end) = self.peek()?;
                    self.bump()?;
                    let Some(value) = value else {
                        return Err(self.err(span, format!("time span {text} {unit} is too large")));
                    };
                    if !TIME_UNITS.iter().any(|u| u.eq_ignore_ascii_case(&unit)) {
                        return Err(self.err(
                            Span::new(unit_start, unit_end),
                            format!("unknown time unit `{unit}`: expected one of millisecond(s)/ms, second(s)/sec/s, minute(s)/min/m, hour(s)/h, day(s)/d, week(s)/w, month(s)/mo, quarter(s)/q, year(s)/yr/y"),
                        ));
                    }
                    Literal::TimeSpan {
                        value,
                        unit: unit.to_ascii_lowercase(),
                    }
                } else {
                    match value {
                        Some(v) => Literal::Integer(v),
                        // Past unsigned_long: Elasticsearch reads the literal as a double.
                        None => Literal::Decimal(self.double(&text, negative, span)?),
                    }
                }
            }
            Tok::Decimal(text) => Literal::Decimal(self.double(&text, negative, span)?),
            _ => unreachable!("number() is only called before a number token"),
        };
        Ok(Expr::new(ExprKind::Literal(literal), self.span_from(start)))
    }

    fn double(&self, text: &str, negative: bool, span: Span) -> Result<f64> {
        let v: f64 = text
            .parse()
            .map_err(|_| self.err(span, format!("`{text}` is not a number")))?;
        if !v.is_finite() {
            return Err(self.err(span, format!("number `{text}` is too large for a double")));
        }
        Ok(if negative { -v } else { v })
    }

    /// A `constant`: literal (with sign), list literal or parameter.
    fn constant(&mut self, expected: &str) -> Result<Expr> {
        let (start, tok, _) = self.peek()?;
        let expr = match tok {
            Tok::Punct("-" | "+") => {
                self.bump()?;
                if !matches!(self.peek_tok()?, Tok::Int(_) | Tok::Decimal(_)) {
                    return Err(self.unexpected("a number after the sign"));
                }
                self.number(start, tok == Tok::Punct("-"))?
            }
            Tok::Int(_) | Tok::Decimal(_) | Tok::Str(_) | Tok::Param(_) | Tok::Punct("[") => {
                self.primary()?
            }
            Tok::Word(w)
                if ["null", "true", "false"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                self.primary()?
            }
            _ => return Err(self.unexpected(expected)),
        };
        Ok(expr)
    }

    /// Parentheses and calls recurse from here, every other primary is a leaf read by
    /// [`Self::primary_leaf`] (kept out of this frame, see [`Self::predicate_tail`]).
    fn primary(&mut self) -> Result<Expr> {
        match self.primary_leaf()? {
            Primary::Leaf(expr) => Ok(expr),
            Primary::Parenthesised(start) => self.parenthesised(start),
            Primary::Call(start, name) => self.call(start, name),
        }
    }

    fn parenthesised(&mut self, start: usize) -> Result<Expr> {
        let mut inner = self.boolean()?;
        if !self.eat_punct(")")? {
            return Err(self.unclosed(start, ")", "to close the `(` at"));
        }
        inner.span = self.span_from(start);
        Ok(inner)
    }

    /// The error for a missing `)`/`]`; the opening's position is only worked out here (it
    /// costs a scan of the text before it).
    #[cold]
    #[inline(never)]
    fn unclosed(&mut self, start: usize, close: &str, what: &str) -> ParseError {
        let context = format!("`{close}` {what} {}", self.position(start));
        self.unexpected(&context)
    }

    #[inline(never)]
    fn primary_leaf(&mut self) -> Result<Primary> {
        let (start, tok, end) = self.peek()?;
        let kind = match tok {
            Tok::Int(_) | Tok::Decimal(_) => return Ok(Primary::Leaf(self.number(start, false)?)),
            Tok::Str(s) => {
                self.bump()?;
                ExprKind::Literal(Literal::String(s))
            }
            Tok::Param(p) => {
                self.bump()?;
                ExprKind::Param(p)
            }
            Tok::Punct("(") => {
                self.bump()?;
                return Ok(Primary::Parenthesised(start));
            }
            Tok::Punct("[") => {
                self.bump()?;
                ExprKind::Literal(self.list_literal(start)?)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => {
                self.bump()?;
                ExprKind::Literal(Literal::Null)
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") => {
                self.bump()?;
                ExprKind::Literal(Literal::Bool(w.eq_ignore_ascii_case("true")))
            }
            // FIRST/LAST are keywords but also aggregate function names.
            Tok::Word(w)
                if (w.eq_ignore_ascii_case("first") || w.eq_ignore_ascii_case("last"))
                    && self.followed_by_paren(end)? =>
            {
                self.bump()?;
                return Ok(Primary::Call(start, w));
            }
            Tok::Word(w) if is_keyword(&w) => {
                return Err(self.err(
                    Span::new(start, end),
                    format!(
                        "expected an expression, found the keyword {}",
                        w.to_ascii_uppercase()
                    ),
                ));
            }
            Tok::Word(_) | Tok::QuotedIdent(_) => {
                if let Tok::Word(w) | Tok::QuotedIdent(w) = &tok
                    && self.followed_by_paren(end)?
                {
                    self.bump()?;
                    return Ok(Primary::Call(start, w.clone()));
                }
                let name = self.try_qualified_name()?.expect("a name token comes next");
                ExprKind::Field(name)
            }
            _ => return Err(self.unexpected("an expression")),
        };
        Ok(Primary::Leaf(Expr::new(kind, self.span_from(start))))
    }

    fn position(&self, at: usize) -> String {
        let (line, col) = dragnet_query::line_col(self.src, at);
        format!("{line}:{col}")
    }

    fn followed_by_paren(&self, end: usize) -> Result<bool> {
        let next = lexer::skip_trivia(self.src, end).map_err(|e| self.lex_err(e))?;
        Ok(self.src[next..].starts_with('('))
    }

    /// `name ( [* | args [, {map}]] )`, the name already consumed.
    fn call(&mut self, start: usize, name: String) -> Result<Expr> {
        self.expect_punct("(", "after the function name")?;
        let mut args = Vec::new();
        let mut star = false;
        let mut options = None;
        if self.at_punct("*")? {
            self.bump()?;
            star = true;
        } else if !self.at_punct(")")? {
            loop {
                if self.at_punct("{")? {
                    options = Some(self.map()?);
                    break;
                }
                args.push(self.boolean()?);
                if !self.eat_punct(",")? {
                    break;
                }
            }
        }
        if !self.eat_punct(")")? {
            return Err(self.unclosed_call(&name));
        }
        Ok(Expr::new(
            ExprKind::Call {
                name,
                args,
                star,
                options,
            },
            self.span_from(start),
        ))
    }

    #[cold]
    #[inline(never)]
    fn unclosed_call(&mut self, name: &str) -> ParseError {
        self.unexpected(&format!("`)` to close the arguments of {name}()"))
    }

    /// `{ "key": constant, … }` (function options, e.g. of MATCH).
    #[inline(never)]
    fn map(&mut self) -> Result<Vec<(String, Expr)>> {
        self.expect_punct("{", "to open the options")?;
        let mut entries = Vec::new();
        if !self.at_punct("}")? {
            loop {
                let key = self.string("an option name (a string)")?;
                self.expect_punct(":", "after the option name")?;
                let value = self.constant("the option's value (a constant)")?;
                entries.push((key, value));
                if !self.eat_punct(",")? {
                    break;
                }
            }
        }
        self.expect_punct("}", "to close the options")?;
        Ok(entries)
    }

    /// `[` numbers | booleans | strings `]` (the `[` consumed): one kind per list.
    fn list_literal(&mut self, start: usize) -> Result<Literal> {
        let mut items = Vec::new();
        loop {
            let item = self.constant("a number, boolean or string in the list")?;
            let ExprKind::Literal(literal) = item.kind else {
                return Err(self.err(
                    item.span,
                    "a list holds numbers, booleans or strings, not parameters",
                ));
            };
            let kind = |l: &Literal| match l {
                Literal::Integer(_) | Literal::Decimal(_) => 0,
                Literal::Bool(_) => 1,
                Literal::String(_) => 2,
                _ => 3,
            };
            if kind(&literal) == 3 {
                return Err(self.err(item.span, "a list holds numbers, booleans or strings"));
            }
            if let Some(first) = items.first()
                && kind(first) != kind(&literal)
            {
                return Err(self.err(
                    item.span,
                    "a list holds one kind of value: all numbers, all booleans or all strings",
                ));
            }
            items.push(literal);
            if !self.eat_punct(",")? {
                break;
            }
        }
        if !self.eat_punct("]")? {
            return Err(self.unclosed(start, "]", "to close the list opened at"));
        }
        Ok(Literal::List(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(src: &str) -> Query {
        let query = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let printed = query.to_string();
        let again = parse(&printed).unwrap_or_else(|e| panic!("{printed}: {e}"));
        assert_eq!(
            again, query,
            "printed form does not parse back to the same tree: {printed}"
        );
        assert_eq!(again.to_string(), printed);
        query
    }

    /// The canonical print of `ROW x = <expr>`'s expression.
    fn expr(src: &str) -> String {
        let query = q(&format!("ROW x = {src}"));
        let CommandKind::Row(fields) = &query.source.kind else {
            unreachable!()
        };
        fields[0].expr.to_string()
    }

    fn err(src: &str) -> ParseError {
        match parse(src) {
            Ok(q) => panic!("{src} parsed as {q}"),
            Err(e) => e,
        }
    }

    #[test]
    fn boolean_precedence_is_or_and_not() {
        assert_eq!(expr("a OR b AND c"), "a OR b AND c");
        assert_eq!(expr("(a OR b) AND c"), "(a OR b) AND c");
        assert_eq!(expr("NOT a AND b"), "NOT a AND b");
        assert_eq!(expr("NOT (a AND b)"), "NOT (a AND b)");
        // NOT binds looser than comparisons and predicates.
        let query = q("ROW x = NOT a == 1");
        let CommandKind::Row(fields) = &query.source.kind else {
            unreachable!()
        };
        assert!(matches!(&fields[0].expr.kind, ExprKind::Not(inner)
            if matches!(inner.kind, ExprKind::Binary { op: BinaryOp::Eq, .. })));
        // Chains stay flat; a nested group keeps its parentheses.
        assert_eq!(expr("a or b or (c or d)"), "a OR b OR (c OR d)");
    }

    #[test]
    fn arithmetic_precedence_and_associativity() {
        assert_eq!(expr("1 + 2 * 3"), "1 + 2 * 3");
        assert_eq!(expr("(1 + 2) * 3"), "(1 + 2) * 3");
        assert_eq!(expr("a - (b - c)"), "a - (b - c)");
        assert_eq!(expr("a - b - c"), "a - b - c");
        assert_eq!(expr("a / (b * c) % d"), "a / (b * c) % d");
        assert_eq!(expr("-a * b"), "-a * b");
        assert_eq!(expr("-(a * b)"), "-(a * b)");
        assert_eq!(expr("a + 1 > b * 2"), "a + 1 > b * 2");
        assert_eq!(expr("(a > b) == true"), "(a > b) == true");
        // Comparisons do not chain (Elasticsearch: operatorExpression cmp operatorExpression).
        assert!(err("ROW x = a < b < c").message.contains("found `<`"));
    }

    #[test]
    fn signs_fold_into_number_literals_and_casts_bind_tightest() {
        let query = q("ROW x = -5::long, y = -a::long, z = -(5), w = - -1, v = +3");
        let CommandKind::Row(fields) = &query.source.kind else {
            unreachable!()
        };
        assert!(matches!(&fields[0].expr.kind, ExprKind::Cast { expr, .. }
            if expr.kind == ExprKind::Literal(Literal::Integer(-5))));
        assert!(matches!(&fields[1].expr.kind, ExprKind::Neg(inner)
            if matches!(inner.kind, ExprKind::Cast { .. })));
        assert_eq!(fields[2].expr.to_string(), "-(5)");
        assert_eq!(fields[3].expr.to_string(), "- -1");
        assert_eq!(expr("- - a"), "- -a");
        assert_eq!(expr("-(-(a))"), "- -a");
        assert_eq!(fields[4].expr.to_string(), "3");
        assert_eq!(expr("(a + b)::string::keyword"), "(a + b)::string::keyword");
        assert_eq!(expr("-(1::long)"), "-(1::long)");
    }

    #[test]
    fn predicates_in_like_rlike_is_null_and_match() {
        assert_eq!(expr("a not in (1, 2 + 3)"), "a NOT IN (1, 2 + 3)");
        assert_eq!(expr("a + 1 IN (b)"), "a + 1 IN (b)");
        assert_eq!(
            expr("true in (starts_with(a, \"x\"), b)"),
            "true IN (starts_with(a, \"x\"), b)"
        );
        assert_eq!(expr("a like \"x*\""), "a LIKE \"x*\"");
        assert_eq!(
            expr("a not rlike (\"x.*\", \"y\")"),
            "a NOT RLIKE (\"x.*\", \"y\")"
        );
        assert_eq!(expr("a LIKE (\"x\")"), "a LIKE \"x\"");
        assert_eq!(expr("a like concat(b, \"*\")"), "a LIKE concat(b, \"*\")");
        assert_eq!(expr("a rlike (p)"), "a RLIKE p");
        assert_eq!(expr("a like ((b + c) * d)"), "a LIKE ((b + c) * d)");
        assert_eq!(
            expr("a is not null and b is null"),
            "a IS NOT NULL AND b IS NULL"
        );
        assert_eq!(expr("(a == b) is null"), "a == b IS NULL");
        assert_eq!(expr("title : \"x\""), "title : \"x\"");
        assert_eq!(expr("f::text : \"x\" OR g : 1"), "f::text : \"x\" OR g : 1");
        // One predicate per operand, as in the grammar.
        assert!(
            err("ROW x = a IS NULL IS NULL")
                .message
                .contains("found `IS`")
        );
        assert!(
            err("ROW x = a + 1 : \"q\"")
                .message
                .contains("needs a field name")
        );
        assert!(
            err("ROW x = a NOT b")
                .message
                .contains("IN, LIKE or RLIKE after NOT")
        );
    }

    #[test]
    fn literals() {
        assert_eq!(expr("1"), "1");
        assert_eq!(expr("1.5"), "1.5");
        assert_eq!(expr(".5"), "0.5");
        assert_eq!(expr("1."), "1.0");
        assert_eq!(expr("1e3"), "1000.0");
        assert_eq!(expr("1.5e-7"), "1.5e-7");
        assert_eq!(expr("18446744073709551615"), "18446744073709551615");
        assert_eq!(expr("18446744073709551616"), "1.8446744073709552e19");
        assert_eq!(expr("\"a\\\"b\\\\c\\n\""), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(expr("\"\"\"a\\d\"\"\""), "\"a\\\\d\"");
        assert_eq!(expr("TRUE"), "true");
        assert_eq!(expr("Null"), "null");
        assert_eq!(expr("1 hour"), "1 hour");
        assert_eq!(expr("7 DAYS"), "7 days");
        assert_eq!(expr("-1 h"), "-1 h");
        assert_eq!(expr("now() - 10 minutes"), "now() - 10 minutes");
        assert_eq!(expr("[1, -2.5]"), "[1, -2.5]");
        assert_eq!(expr("[\"a\", \"b\"]"), "[\"a\", \"b\"]");
        assert_eq!(expr("[true, false]"), "[true, false]");
        assert_eq!(expr("?"), "?");
        assert_eq!(expr("?name + ?1"), "?name + ?1");
        assert!(
            err("ROW x = 5 lightyears")
                .message
                .contains("unknown time unit `lightyears`")
        );
        assert!(
            err("ROW x = [1, \"a\"]")
                .message
                .contains("one kind of value")
        );
        assert!(err("ROW x = 1e999").message.contains("too large"));
    }

    #[test]
    fn names_functions_and_quoting() {
        assert_eq!(
            expr("`source.as.organization.name`"),
            "source.as.organization.name"
        );
        assert_eq!(expr("`a b`.c"), "`a b.c`");
        assert_eq!(expr("@timestamp"), "@timestamp");
        assert_eq!(expr("`by`"), "`by`");
        assert_eq!(expr("`x``y`"), "`x``y`");
        assert_eq!(expr("COUNT(*)"), "COUNT(*)");
        assert_eq!(expr("count()"), "count()");
        assert_eq!(
            expr("DATE_TRUNC(5 minute, @timestamp)"),
            "DATE_TRUNC(5 minute, @timestamp)"
        );
        assert_eq!(
            expr("match(title, \"x\", {\"fuzziness\": 1, \"operator\": \"AND\"})"),
            "match(title, \"x\", {\"fuzziness\": 1, \"operator\": \"AND\"})"
        );
        assert_eq!(expr("KQL(\"\"\"a:b\"\"\")"), "KQL(\"a:b\")");
        assert!(err("ROW x = and").message.contains("found the keyword AND"));
    }

    #[test]
    fn every_command() {
        let query = q(
            r#"from logs-aws.cloudtrail-*, remote:logs-*, "quoted index", idx::failures metadata _id, _index, _version
            | where event.dataset == "aws.cloudtrail" // a comment
            | eval a = 1, b + 2, /* inline */ c = concat(x, "y")
            | stats c = count(*) where a > 1, values(b), max(x) by d = date_trunc(1 hour, @timestamp), host.name
            | inline stats m = max(a) by b
            | keep a, aws.*, `b.c`, *x*
            | drop _*, tmp
            | rename a as b, c = d
            | sort a desc nulls first, b, c asc nulls last
            | limit 10
            | dissect msg "%{a} %{?b}" append_separator = "-"
            | grok msg "%{WORD:w}", "%{IP:ip}"
            | mv_expand tags
            | enrich _any:policy on x with y = z, w
            | lookup join lookup_idx on key, other
            | sample 0.5
            | change_point value on @timestamp as type, pvalue
            | fork (where a > 1) (where b | limit 2)"#,
        );
        assert_eq!(q(&query.to_string()), query);
        let names: Vec<String> = query
            .pipes
            .iter()
            .map(|c| c.to_string().split(' ').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "WHERE",
                "EVAL",
                "STATS",
                "INLINE",
                "KEEP",
                "DROP",
                "RENAME",
                "SORT",
                "LIMIT",
                "DISSECT",
                "GROK",
                "MV_EXPAND",
                "ENRICH",
                "LOOKUP",
                "SAMPLE",
                "CHANGE_POINT",
                "FORK"
            ]
        );
        let CommandKind::From {
            indices, metadata, ..
        } = &query.source.kind
        else {
            unreachable!()
        };
        assert_eq!(indices[1].cluster.as_deref(), Some("remote"));
        assert_eq!(indices[2].index, "quoted index");
        assert_eq!(indices[3].selector.as_deref(), Some("failures"));
        assert_eq!(metadata, &["_id", "_index", "_version"]);
        // Unnamed fields are named after their source text (comments included).
        let CommandKind::Eval(fields) = &query.pipes[1].kind else {
            unreachable!()
        };
        assert_eq!(fields[1].name, "b + 2");
        let CommandKind::Stats {
            aggregates, groups, ..
        } = &query.pipes[2].kind
        else {
            unreachable!()
        };
        assert_eq!(aggregates[1].field.name, "values(b)");
        assert!(aggregates[0].filter.is_some());
        assert_eq!(groups[0].name, "d");
        assert_eq!(groups[1].name, "host.name");
        let CommandKind::Rename(renames) = &query.pipes[6].kind else {
            unreachable!()
        };
        assert_eq!(
            renames[1],
            Rename {
                old: "d".into(),
                new: "c".into()
            }
        );
        assert_eq!(
            query.pipes[16].to_string(),
            "FORK (where a > 1) (where b | limit 2)"
        );
        q("row a = 1, b = \"x\"");
        q("show info");
        q("FROM a [METADATA _id]");
        q("TS metrics-* | STATS max(x) BY tbucket(1 hour)");
        q("SET unmapped_fields = \"nullify\"; FROM a | KEEP b");
        q("FROM a | STATS");
        q("FROM a | STATS BY b");
    }

    /// The printed form nests no deeper than the query (found by fuzzing: `- - - … x` at the
    /// depth limit printed as `-(-(-(…)))`, twice as deep, which no longer parsed).
    #[test]
    fn printing_adds_no_nesting() {
        let signs = "- ".repeat(MAX_QUERY_DEPTH - 4);
        q(&format!(
            "ROW x = {signs}a, y = {signs}5, z = {signs}+5::long, w = {signs}-5, v = {signs}-0.0"
        ));
    }

    /// Index names that hold a comment start are quoted when printed (found by fuzzing:
    /// `"foo//"` printed bare read back as `foo` and a comment).
    #[test]
    fn index_names_with_comment_starts_stay_quoted() {
        let query = q(r#"FROM "foo//", "a/*b", c/d"#);
        assert_eq!(query.to_string(), r#"FROM "foo//", "a/*b", c/d"#);
    }

    #[test]
    fn quoted_function_and_option_names_print_back() {
        assert_eq!(expr("`my fn`(1)"), "`my fn`(1)");
        assert_eq!(expr("`count`(*)"), "count(*)");
        assert_eq!(expr("first(a)"), "first(a)");
        q("ROW a = \"x\" | DISSECT a \"%{b}\" `a.by` = \"-\"");
    }

    #[test]
    fn unnamed_fields_keep_their_source_text_through_printing() {
        let query = q("ROW a = 1 | EVAL  a+1 ,COUNT( * )");
        let CommandKind::Eval(fields) = &query.pipes[0].kind else {
            unreachable!()
        };
        assert_eq!(fields[0].name, "a+1");
        assert_eq!(fields[1].name, "COUNT( * )");
        assert_eq!(
            query.pipes[0].to_string(),
            "EVAL `a+1` = a + 1, `COUNT( * )` = COUNT(*)"
        );
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        let e = err("FROM a\n| WHERE x ==");
        assert_eq!((e.line, e.column), (2, 13));
        assert_eq!(
            e.message,
            "expected an expression, found the end of the query"
        );
        let e = err("FROM a | FOO x");
        assert_eq!((e.line, e.column, e.span), (1, 10, Span::new(9, 12)));
        assert!(
            e.message
                .starts_with("unknown command `FOO`: expected one of WHERE"),
            "{e}"
        );
        let e = err("ROW x = (1 + 2");
        assert_eq!(
            e.message,
            "expected `)` to close the `(` at 1:9, found the end of the query"
        );
        assert_eq!(
            err("FROM").message,
            "expected an index pattern after FROM or `,`, found the end of the query"
        );
        assert_eq!(
            err("WHERE a").message,
            "expected a source command (FROM, ROW, SHOW INFO, TS), found `WHERE`"
        );
        assert_eq!(
            err("FROM a | LIMIT -1").message,
            "expected a non-negative integer after LIMIT, found `-`"
        );
        assert!(
            err("FROM a | KEEP")
                .message
                .contains("a column name or pattern after KEEP")
        );
        assert!(
            err("FROM a | RENAME a b")
                .message
                .contains("AS (`old AS new`)")
        );
        assert!(
            err("FROM a | SORT a NULLS")
                .message
                .contains("FIRST or LAST after NULLS")
        );
        assert!(
            err("FROM a | FORK (where x")
                .message
                .contains("never closed")
        );
        assert!(err("ROW x = \"é\\q\"").message.contains("unknown escape"));
        assert!(
            err("FROM a | WHERE x /* open")
                .message
                .contains("unterminated `/*` comment")
        );
        let e = err("ROW x = 1 1");
        assert_eq!(
            e.message,
            "expected `|` or the end of the query, found the number `1`"
        );
        // Columns count characters, not bytes.
        let e = err("ROW x = \"é\" +");
        assert_eq!((e.line, e.column), (1, 14));
    }

    #[test]
    fn hostile_input_hits_named_limits_not_the_stack() {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(hostile_input)
            .unwrap()
            .join()
            .unwrap();
    }

    fn hostile_input() {
        let deep = format!("ROW x = {}1{}", "(".repeat(100_000), ")".repeat(100_000));
        let e = err(&deep);
        assert!(
            e.message
                .contains("query nests deeper than 64 levels; simplify it or raise the limit with --max-query-depth (at most 1024)"),
            "{e}"
        );
        for prefix in ["NOT ", "-", "- ", "f("] {
            let e = err(&format!("ROW x = {}a", prefix.repeat(100_000)));
            assert!(e.message.contains("--max-query-depth"), "{prefix}: {e}");
        }
        let e = err(&format!("ROW x = a{}", "::long".repeat(100_000)));
        assert!(e.message.contains("--max-query-depth"), "{e}");
        let e = err(&format!("ROW x = a{}", " + a".repeat(100_000)));
        assert!(e.message.contains("--max-query-depth"), "{e}");
        // Flat chains of AND/OR and long pipelines are fine.
        q(&format!("ROW x = {}", vec!["a == 1"; 40_000].join(" OR ")));
        q(&format!("ROW x = 1{}", " | EVAL y = x".repeat(20_000)));
        use dragnet_query::limits::DEFAULT_MAX_QUERY_BYTES;
        let big = format!("ROW x = \"{}\"", "a".repeat(DEFAULT_MAX_QUERY_BYTES));
        assert!(err(&big).message.contains(&format!(
            "over the limit of {DEFAULT_MAX_QUERY_BYTES} bytes; split it into several rules or raise the limit with --max-query-bytes"
        )));
    }

    #[test]
    fn parsing_time_is_linear_in_the_query_length() {
        // Many parenthesised groups, strings and comments in one 4 MB query: each token is
        // read a bounded number of times (no per-token scan of the text before it).
        let unit = "(a) == \"x\" /* c */ OR ";
        let big = format!(
            "ROW x = {}true",
            unit.repeat((dragnet_query::limits::DEFAULT_MAX_QUERY_BYTES - 64) / unit.len())
        );
        let started = std::time::Instant::now();
        q(&big);
        let limit = if cfg!(debug_assertions) { 60 } else { 10 };
        assert!(
            started.elapsed().as_secs() < limit,
            "{:?}",
            started.elapsed()
        );
    }

    /// The deepest nesting the limit lets through parses and prints on a 2 MiB stack (a
    /// rayon worker's), even unoptimised.
    #[test]
    fn the_deepest_accepted_nesting_fits_a_two_mib_stack() {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(deepest_accepted_nesting)
            .unwrap()
            .join()
            .unwrap();
    }

    fn deepest_accepted_nesting() {
        // (opening, closing, levels each nesting counts)
        for (open, close, levels) in [
            ("(", ")", 1),
            ("f(", ")", 1),
            ("NOT (", ")", 2),
            ("-(", ")", 2),
        ] {
            let depth = MAX_QUERY_DEPTH / levels - 1;
            let src = format!("ROW x = {}a{}", open.repeat(depth), close.repeat(depth));
            let query = q(&src);
            drop(query);
            let deeper = depth + 2;
            let src = format!("ROW x = {}a{}", open.repeat(deeper), close.repeat(deeper));
            assert!(err(&src).message.contains("--max-query-depth"), "{open}");
        }
        // A chain of binary operators is as deep as it is long.
        q(&format!("ROW x = a{}", " + a".repeat(MAX_QUERY_DEPTH - 2)));
    }

    /// Error spans fall on character boundaries (found by fuzzing: a one-byte span inside a
    /// multi-byte character).
    #[test]
    fn error_spans_slice_the_query() {
        for src in [
            "ROW a = \"x\" | where 🔥",
            "ROW a = 1 🔥",
            "FROM a | KEEP 🔥",
            "FROM a | FORK (x 🔥",
            "FROM a | FORK ü)",
            "FROM a | WHERE x ==",
            "ROW a = \"\\é\"",
            "FROM a 🔥",
            "ROW a = (1",
        ] {
            let e = err(src);
            assert!(
                src.is_char_boundary(e.span.start)
                    && src.is_char_boundary(e.span.end.min(src.len()))
                    && e.span.end <= src.len(),
                "{src}: {e} {:?}",
                e.span
            );
        }
    }

    #[test]
    fn no_panic_on_truncations_of_a_rich_query() {
        let src = "SET a = 1; FROM x, \"y\" METADATA _id | WHERE a NOT LIKE (\"\"\"a\"\"\", \"b\") AND b::long IS NOT NULL | EVAL c = `q``r` / -1 day | STATS n = COUNT(*) WHERE c : \"x\" BY d | KEEP `a`* | RENAME a AS b | SORT n DESC NULLS LAST | DISSECT m \"%{a}\" x = \"y\" | FORK ([1,2]) | LIMIT 3 /* é */ // ü";
        for (i, _) in src.char_indices() {
            for part in [&src[..i], &src[i..]] {
                if let Err(e) = parse(part) {
                    let _ = &part[e.span.start..e.span.end];
                }
            }
        }
    }
}
