//! dragnet-eql: EQL (Event Query Language) as Elasticsearch runs it.
//!
//! [`parse`] reads the EQL grammar Elasticsearch accepts into a [`Query`] (positioned errors,
//! canonical `Display`); [`compile`] resolves field names against a `dragnet_schema::Schema`
//! into a [`CompiledQuery`] that evaluates `dragnet_event::Event`s with Elasticsearch's
//! semantics, explains its decisions and lists the literals every match must contain (for the
//! prefilter); [`SequenceMatcher`] runs `sequence` queries statefully over time-ordered events.

pub mod ast;
mod compile;
mod functions;
mod lexer;
mod parser;
mod sequence;
mod values;

pub use ast::{Expr, ExprKind, Literal, Pipe, Query, QueryBody, Span};
pub use compile::{
    CompileError, CompileOptions, CompiledQuery, Explanation, QueryField, QueryKind,
    RequiredLiteral, compile, compile_with,
};
pub use parser::{ParseError, line_col, parse, parse_expression};
pub use sequence::{DEFAULT_MAX_PENDING, SequenceMatch, SequenceMatcher};
