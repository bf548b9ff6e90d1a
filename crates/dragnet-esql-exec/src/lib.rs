//! ES|QL execution for dragnet on Apache DataFusion.
//!
//! [`compile`] turns a parsed query ([`dragnet_esql::Query`]) into a DataFusion logical plan
//! over the [`CellTable`] its [`Catalog`] gives `FROM`; [`Executor`] optimizes and runs it.
//! Every column is an Arrow list (ES|QL values may be multi-valued); ES|QL's semantics —
//! null and multi-value rules, three-valued logic, case-sensitive comparison, Lucene
//! `LIKE`/`RLIKE`, `STATS` naming, integer overflow, date math, `GROK`/`DISSECT` — live in
//! the functions of [`functions`], [`aggregates`] and [`pattern`]; DataFusion brings the
//! relational operators: filters, projections, hash aggregation, sorting with spilling,
//! unnesting.
//!
//! Contract: the plan does not know where its rows come from. `dragnet-detect` fills a
//! table from CloudTrail events, the conformance suite from Elasticsearch's csv-spec data,
//! and the lake from Parquet; [`Executor::needed_columns`] says which columns to fill.

pub mod aggregates;
mod compile;
pub mod dates;
mod exec;
pub mod functions;
pub mod pattern;
mod table;
pub mod types;
mod udf;
pub mod value;

pub use aggregates::MAX_VALUES_PER_GROUP;
pub use compile::{
    Catalog, CompileError, Compiled, FULL_TEXT_COLUMN_PREFIX, Options, compile, full_text_column,
    literal_cell, wildcard_match,
};
pub use exec::{DEFAULT_MEMORY_LIMIT, Executor, Prepared, ResultTable};
pub use table::{CellTable, TableBatch};
pub use types::EsqlType;
pub use udf::{MAX_FAILURES_PER_EXPRESSION, MAX_WARNING_LINES, Warnings};
pub use value::{Mv, Val};
