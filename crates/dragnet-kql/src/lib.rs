//! dragnet-kql: KQL (Kibana Query Language) as Kibana's detection engine runs it.
//!
//! - [`parse`] reads Kibana's full grammar (`kbn-es-query` `grammar.peggy`: keywords in any
//!   case, unquoted values with spaces, backslash escapes, wildcards, ranges, nested `{}`, free text)
//!   into a [`Query`]; errors carry byte offset and line:column ([`ParseError`]); `Display`
//!   prints the canonical form, which parses back to itself.
//! - [`compile`] resolves every field once against a `dragnet_schema::Schema` into a shared
//!   `FieldTable` and gives a [`CompiledQuery`]: [`CompiledQuery::matches`] evaluates a
//!   `dragnet_event::Event` with Elasticsearch's per-type semantics (keyword exact and
//!   case-sensitive with `ignore_above`, constant_keyword from the mapping, text through the
//!   standard analyzer, numbers, booleans, dates with date math in UTC, ip with CIDR,
//!   flattened leaves, dynamic mapping for unknown fields, and no field at all for a path below
//!   a leaf such as `source.geo.location.lat`, listed by [`CompiledQuery::below_leaf_fields`]:
//!   positive clauses on it match nothing, in free text and field patterns too);
//!   [`CompiledQuery::explain`] says
//!   which clause decided on which values; [`CompiledQuery::required_literals`] is a sound CNF
//!   for the prefilter; [`CompiledQuery::to_dsl`] is the Query DSL Kibana generates.
//!
//! Differences from Elastic: dates use the default `strict_date_optional_time||epoch_millis`
//! format only; free text searches the event's fields, and field patterns its unmapped fields,
//! only when the event can list them (`Event::visit_fields`: JSON documents and raw CloudTrail
//! records can; elsewhere free text matches nothing, see [`CompiledQuery::has_free_text`]);
//! `nested` queries need `Event::visit_nested` for same-object semantics (JSON documents and
//! CloudTrail records have it), otherwise clauses may hold in different objects; free text
//! searches every field of the event, as `index.query.default_field: *` would, while a
//! Fleet-installed `logs-aws.cloudtrail-*` template sets that setting to the package's own
//! `keyword`/`text`/`match_only_text`/`wildcard` fields without `default_field: false`,
//! `index: false` or `doc_values: false` (Kibana Fleet `epm/elasticsearch/template/
//! default_settings.ts` `buildDefaultSettings`), so there free text skips numbers, ips,
//! dates, booleans, `constant_keyword`, `flattened` and fields the package does not declare
//! (e.g. `cloud.region`, dynamically mapped ones); JSON floats print as Rust does when compared as
//! keywords (`1.0` reads as `1`).

pub mod ast;
mod compile;
mod parser;
mod text;
mod values;

pub use ast::{Expr, Literal, LiteralKind, Pattern, PatternPart, Query, RangeOp, Span, ValueList};
pub use compile::{CompileError, CompiledQuery, Explanation, QueryField, compile, compile_at};
pub use parser::{MAX_QUERY_DEPTH, ParseError, line_col, parse};
