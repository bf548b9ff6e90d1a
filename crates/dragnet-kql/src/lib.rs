//! dragnet-kql: KQL (Kibana Query Language) as Kibana's detection engine runs it.
//!
//! [`parse`] reads Kibana's full grammar into a [`Query`] (positioned errors, canonical
//! `Display`); [`compile`] resolves field names against a `dragnet_schema::Schema` into a
//! [`CompiledQuery`] that evaluates `dragnet_event::Event`s with Elasticsearch's per-type
//! semantics, explains its decisions, lists the literals every match must contain (for the
//! prefilter) and renders the Query DSL Kibana would send.

pub mod ast;
mod compile;
mod parser;
mod text;
mod values;

pub use ast::{Expr, Literal, LiteralKind, Pattern, PatternPart, Query, RangeOp, Span, ValueList};
pub use compile::{
    CompileError, CompiledQuery, Explanation, QueryField, RequiredLiteral, compile, compile_at,
};
pub use parser::{ParseError, line_col, parse};
