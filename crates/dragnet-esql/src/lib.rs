//! ES|QL for dragnet: a parser for the language as Elasticsearch accepts it in detection rules
//! (its ANTLR grammar, `x-pack/plugin/esql/src/main/antlr/` of elastic/elasticsearch), the
//! syntax tree, its canonical printer, and [`unsupported`]: why a parsed query cannot run
//! outside Elasticsearch.
//!
//! ```
//! let query = dragnet_esql::parse(
//!     "from logs-aws.cloudtrail-* | where event.action == \"GetSecretValue\" | stats n = count(*) by source.ip",
//! )
//! .unwrap();
//! assert_eq!(
//!     query.to_string(),
//!     "FROM logs-aws.cloudtrail-*\n| WHERE event.action == \"GetSecretValue\"\n| STATS n = count(*) BY source.ip"
//! );
//! assert!(dragnet_esql::unsupported(&query).is_none());
//! ```
//!
//! Contract: [`parse`] never panics and works in time linear in the query's length; input
//! over `--max-query-bytes` or nested deeper than `--max-query-depth` (default
//! [`MAX_QUERY_DEPTH`]; both in `dragnet_query::limits`) is refused with an error naming the
//! flag. A [`ParseError`] carries the byte span, `line:column` and what was
//! expected. `parse(&query.to_string()) == query` for every parsed query.

mod ast;
mod lexer;
mod parser;
mod unsupported;

pub use ast::*;
pub use dragnet_query::line_col;
pub use parser::{MAX_QUERY_DEPTH, ParseError, parse};
pub use unsupported::{Unsupported, unsupported};
