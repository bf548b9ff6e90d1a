//! `dragnet kql QUERY INPUT...`: a hunting search. The KQL query runs as a one-rule hunt over
//! raw CloudTrail (mapped the way Elastic's AWS integration does) or ECS documents, read like
//! `hunt` reads them, and the matching events are printed (`--all`: every event, with its
//! verdict; `--explain`: how the query decided). Also `--to-dsl`, `--canonical`, and the KQL
//! checker `dragnet validate` runs.

use std::io::Write;

use dragnet_event::FieldTable;
use dragnet_rules::{Diagnostic, Rule, SourceText};
use dragnet_schema::Schema;

use crate::cmd::query_check::{QueryCheck, query_diagnostics};
use crate::cmd::search::{Kind, Query, SearchArgs};
use crate::exit::Code;
use crate::output::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The KQL query (Kibana syntax).
    #[arg(value_name = "QUERY")]
    pub query: String,
    #[command(flatten)]
    pub search: SearchArgs,
    /// Print the Elasticsearch Query DSL Kibana would generate, and exit.
    #[arg(long)]
    pub to_dsl: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    args.search.query_limits.apply();
    let query = match dragnet_kql::parse(&args.query) {
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
    let compiled = match dragnet_kql::compile(&query, schema, &mut FieldTable::new()) {
        Ok(c) => c,
        Err(e) => {
            let (line, col) = dragnet_kql::line_col(&args.query, e.span.start);
            diag!("error: query {line}:{col}: {e}");
            return Ok(Code::Usage);
        }
    };
    if global.verbose > 0 {
        for f in compiled.unknown_fields() {
            diag!("note: field `{f}` is not in the schema; dynamic mapping types it per value");
        }
    }
    if args.search.canonical || args.to_dsl {
        let mut out = global.writer()?;
        if args.search.canonical {
            writeln!(out, "{}", compiled.canonical())?;
        }
        if args.to_dsl {
            serde_json::to_writer_pretty(&mut out, &compiled.to_dsl())?;
            writeln!(out)?;
        }
        out.finish()?;
        return Ok(Code::Ok);
    }
    let search = Query {
        command: "kql",
        text: &args.query,
        kind: Kind::Event,
        pipes: Vec::new(),
        event_category_field: None,
        timestamp_field: None,
        max_sequence_candidates: None,
    };
    crate::cmd::search::run(global, &args.search, &search, schema)
}

/// True the first time a field is seen in this process: unknown fields are reported once per
/// field, not once per rule.
fn first_report(field: &str) -> bool {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    seen.lock()
        .map(|mut s| s.insert(field.to_owned()))
        .unwrap_or(true)
}

/// The KQL checker of `dragnet validate`: syntax errors, queries Elasticsearch would reject
/// (compile errors), and each field the schema does not know (a warning, once per field).
pub fn check_rule_query(_rule: &Rule, query: &SourceText) -> Vec<Diagnostic> {
    let check = match dragnet_kql::parse(query.as_str()) {
        Err(e) => QueryCheck::Syntax {
            offset: e.offset,
            message: e.message,
        },
        Ok(parsed) => {
            match dragnet_kql::compile(&parsed, Schema::builtin(), &mut FieldTable::new()) {
                Err(e) => QueryCheck::Compile {
                    span: e.span.start..e.span.end,
                    message: e.message,
                },
                Ok(c) => QueryCheck::UnknownFields(
                    c.unknown_fields()
                        .iter()
                        .filter(|f| first_report(f))
                        .cloned()
                        .collect(),
                ),
            }
        }
    };
    query_diagnostics(query, check, |f| {
        format!(
            "field `{f}` is not in the ECS/AWS schema: Elasticsearch's dynamic mapping would type it (reported once per field)"
        )
    })
}
