//! dragnet-eql: EQL (Event Query Language) as Elasticsearch runs it.
//!
//! [`parse`] reads the EQL grammar Elasticsearch accepts into a [`Query`] (positioned errors,
//! canonical `Display`); [`compile`] resolves field names against a `dragnet_schema::Schema`
//! into a [`CompiledQuery`] that evaluates `dragnet_event::Event`s with Elasticsearch's
//! semantics, explains its decisions and lists the literals every match must contain (for the
//! prefilter); [`SequenceMatcher`] runs `sequence` queries statefully over time-ordered events,
//! [`SampleMatcher`] runs `sample` queries.
//!
//! Semantics follow how Elasticsearch runs EQL (see the `compile` and `sequence` module docs):
//! field comparisons are Query DSL leaves (any value matches; `!=` and `not` match a missing
//! field), other clauses multi-value aware scripts. Known differences from Elasticsearch:
//! - a field no mapping knows is an error in Elasticsearch unless written `?field`; dragnet
//!   types it by dynamic mapping and lists it in [`CompiledQuery::unknown_fields`];
//! - Lucene regexp operators `@ # & ~ <n-m>` are rejected at compile time (escape them);
//! - division or modulo by zero yields null (Elasticsearch fails the search);
//! - script leaves try at most 4096 combinations of multi-valued fields;
//! - sequence join keys compare as text (`1` and `"1"` join); `@timestamp` ties keep input
//!   order (Elasticsearch uses the tiebreaker field, then its own order);
//! - `sample` events are taken in the order of their references (callers: timestamp order)
//!   where Elasticsearch takes them in index order; keys of unmapped fields sort by the shape
//!   of their values (see the `sample` module);
//! - pipes are applied by the caller.

pub mod ast;
mod compile;
mod functions;
mod lexer;
mod parser;
mod sample;
mod sequence;
mod values;

// Lucene pattern matching, shared with ES|QL (`LIKE` is a Lucene wildcard, `RLIKE` a Lucene regexp).
pub use values::{Wildcard, lucene_regex};

pub use ast::{Expr, ExprKind, Literal, Pipe, Query, QueryBody, Span};
pub use compile::{
    CompileError, CompileOptions, CompiledQuery, Explanation, QueryField, QueryKind,
    RequiredLiteral, compile, compile_with,
};
pub use parser::{MAX_QUERY_DEPTH, ParseError, line_col, parse, parse_expression};
pub use sample::{
    DEFAULT_MAX_SAMPLE_REFERENCES, DEFAULT_MAX_SAMPLES_PER_KEY, SampleMatch, SampleMatcher,
};
pub use sequence::{DEFAULT_MAX_PENDING, SequenceMatch, SequenceMatcher};
