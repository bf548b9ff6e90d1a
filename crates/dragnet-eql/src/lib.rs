//! dragnet-eql: EQL (Event Query Language) as Elasticsearch runs it.
//!
//! [`parse`] reads the EQL grammar Elasticsearch accepts into a [`Query`] (positioned errors,
//! canonical `Display`); [`compile`] resolves field names against a `dragnet_schema::Schema`
//! into a [`CompiledQuery`] that evaluates `dragnet_event::Event`s with Elasticsearch's
//! semantics; [`SequenceMatcher`] runs `sequence` queries statefully over time-ordered events.

pub mod ast;
mod lexer;
mod parser;

pub use ast::{Expr, ExprKind, Literal, Query, QueryBody, Span};
pub use parser::{ParseError, line_col, parse, parse_expression};
