//! `dragnet eql QUERY INPUT...`: a hunting search. The EQL query runs as a one-rule hunt over
//! raw CloudTrail (mapped the way Elastic's AWS integration does) or ECS documents, read like
//! `hunt` reads them. An event query prints the matching events (`--all`: every event with its
//! verdict; `--explain`: how the query decided); a `sequence` or `sample` query prints each
//! group found with its join keys and events, as `hunt` finds them. Pipes (`| head N`,
//! `| tail N`) keep the first or last N results. Also the EQL checker `dragnet validate` runs.

use std::io::Write;

use dragnet_eql::QueryKind;
use dragnet_event::FieldTable;
use dragnet_rules::{Diagnostic, Rule, SourceText};
use dragnet_schema::Schema;

use crate::cmd::query_check::{QueryCheck, query_diagnostics};
use crate::cmd::search::{Kind, Query, SearchArgs};
use crate::exit::Code;
use crate::output::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The EQL query (Elasticsearch syntax).
    #[arg(value_name = "QUERY")]
    pub query: String,
    #[command(flatten)]
    pub search: SearchArgs,
    /// The field event categories (`process where …`) are read from, as the EQL search API's
    /// `event_category_field` (a rule's `event_category_override`).
    #[arg(long, value_name = "FIELD", default_value = "event.category")]
    pub event_category_field: String,
    /// The field sequences and samples are ordered by, as the EQL search API's
    /// `timestamp_field`.
    #[arg(long, value_name = "FIELD", default_value = "@timestamp")]
    pub timestamp_field: String,
    /// For a sequence or sample query whose candidate events (those matching a step) arrive
    /// out of time order, keep at most N of them for sorting (input in time order streams and
    /// is not capped). Past it, events are dropped with a warning
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_sequence_candidates: usize,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    args.search.query_limits.apply();
    let query = match dragnet_eql::parse(&args.query) {
        Ok(q) => q,
        Err(e) => {
            diag!("error: query {e}");
            diag!(
                "  {}",
                args.query.lines().nth(e.line - 1).unwrap_or_default()
            );
            diag!("  {}^", " ".repeat(e.column.saturating_sub(1)));
            return Ok(Code::Usage);
        }
    };
    let overlay = args.search.schema()?;
    let schema = overlay.as_ref().unwrap_or_else(|| Schema::builtin());
    let options = dragnet_eql::CompileOptions {
        category_field: args.event_category_field.clone(),
    };
    let compiled = match dragnet_eql::compile_with(&query, schema, &mut FieldTable::new(), &options)
    {
        Ok(c) => c,
        Err(e) => {
            let (line, col) = dragnet_eql::line_col(&args.query, e.span.start);
            diag!("error: query {line}:{col}: {e}");
            return Ok(Code::Usage);
        }
    };
    if global.verbose > 0 {
        for f in compiled.unknown_fields() {
            diag!("note: field `{f}` is not in the schema; dynamic mapping types it per value");
        }
    }
    if args.search.canonical {
        let mut out = global.writer()?;
        writeln!(out, "{}", compiled.canonical())?;
        out.finish()?;
        return Ok(Code::Ok);
    }
    let kind = match compiled.kind() {
        QueryKind::Event => Kind::Event,
        QueryKind::Sequence => Kind::Sequence,
        QueryKind::Sample => Kind::Sample,
    };
    if args.search.all && kind != Kind::Event {
        anyhow::bail!(
            "--all lists every event of an event query; a {} query reports the groups it finds (drop --all)",
            kind.label()
        );
    }
    let search = Query {
        command: "eql",
        text: &args.query,
        kind,
        pipes: compiled.pipes().to_vec(),
        event_category_field: Some(args.event_category_field.clone()),
        timestamp_field: Some(args.timestamp_field.clone()),
        max_sequence_candidates: Some(args.max_sequence_candidates),
    };
    crate::cmd::search::run(global, &args.search, &search, schema)
}

/// The EQL checker of `dragnet validate`: syntax errors, queries Elasticsearch would reject
/// (compile errors), and each field the schema does not know (a warning, once per field).
pub fn check_rule_query(_rule: &Rule, query: &SourceText) -> Vec<Diagnostic> {
    let check = match dragnet_eql::parse(query.as_str()) {
        Err(e) => QueryCheck::Syntax {
            offset: e.offset,
            message: e.message,
        },
        Ok(parsed) => {
            match dragnet_eql::compile(&parsed, Schema::builtin(), &mut FieldTable::new()) {
                Err(e) => QueryCheck::Compile {
                    span: e.span.start..e.span.end,
                    message: e.message,
                },
                Ok(c) => QueryCheck::UnknownFields(c.unknown_fields().to_vec()),
            }
        }
    };
    query_diagnostics(query, check, |f| {
        format!(
            "field `{f}` is not in the ECS/AWS schema: Elasticsearch's dynamic mapping would type it (pass a _mapping if your index defines it; mark it `?{f}` if it may be absent)"
        )
    })
}
