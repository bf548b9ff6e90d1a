//! `dragnet esql QUERY INPUT...`: ad-hoc ES|QL over raw CloudTrail (or ECS NDJSON), read like
//! `hunt` reads it. The query runs as a one-rule hunt in which the ES|QL rule hands back its
//! result table (one execution over every event, `NOW()` the wall clock or `--now`, ES|QL's
//! implicit `LIMIT 1000`) instead of alerts; `--explain` prints the DataFusion plan. Also the
//! ES|QL checker `dragnet validate` runs on every `language = "esql"` rule.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dragnet_detect::detector::TableRequest;
use dragnet_detect::esql::CloudTrailCatalog;
use dragnet_engine::RunOptions;
use dragnet_esql_exec::{EsqlType, Executor, Mv, Options, Warnings};
use dragnet_printer::{Cell, Column, Doc, Printer, Row};
use dragnet_rules::{Diagnostic, Rule, SourceText};
use dragnet_schema::Schema;
use serde_json::{Map, Value, json};

use crate::cmd::inputs::{self, EnrichArgs, ReadArgs};
use crate::cmd::query_check::{QueryCheck, query_diagnostics};
use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

/// ES|QL's implicit result limit for a query without `LIMIT` (Elasticsearch's
/// `esql.query.result_truncation_default_size`).
pub const DEFAULT_RESULT_LIMIT: usize = 1_000;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ES|QL query (`FROM logs-aws.cloudtrail-* | …`).
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// CloudTrail or ECS input: files (.json, .json.gz, JSON lines, ECS NDJSON), folders
    /// (searched recursively), `-` for stdin, or s3://bucket/prefix.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Print DataFusion's logical and physical plans, and exit.
    #[arg(long)]
    pub explain: bool,
    /// Print the query in canonical form, and exit.
    #[arg(long)]
    pub canonical: bool,
    /// The instant `NOW()` stands for (RFC 3339); default: the wall clock.
    #[arg(long, value_name = "TIME")]
    pub now: Option<jiff::Timestamp>,
    /// Exit with code 2 when any input was skipped (malformed, truncated, unreadable).
    #[arg(long)]
    pub strict: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub enrich: EnrichArgs,
    #[command(flatten)]
    pub query_limits: crate::output::QueryLimitArgs,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    args.query_limits.apply();
    let query = match dragnet_esql::parse(&args.query) {
        Ok(q) => q,
        Err(e) => {
            diag!("error: query {e}");
            return Ok(Code::Usage);
        }
    };
    if args.canonical {
        let mut out = global.writer()?;
        writeln!(out, "{query}")?;
        out.finish()?;
        return Ok(Code::Ok);
    }
    if let Some(why) = dragnet_esql::unsupported(&query) {
        diag!("error: the query cannot run here: {}", why.reason);
        return Ok(Code::Usage);
    }
    let now_ms = args
        .now
        .unwrap_or_else(jiff::Timestamp::now)
        .as_millisecond();
    // Plan it first: type errors and FROM sources are reported before any input is read.
    let schema = Schema::builtin();
    let catalog = CloudTrailCatalog::for_query(schema, &query);
    let compiled = dragnet_esql_exec::compile(
        &query,
        &args.query,
        &Options {
            catalog: &catalog,
            now_ms,
            now_clock: None,
            default_limit: Some(DEFAULT_RESULT_LIMIT),
            warnings: Warnings::default(),
        },
    );
    let compiled = match compiled {
        Ok(c) => c,
        Err(e) => {
            match e.span {
                Some(span) => {
                    let (line, col) = dragnet_esql::line_col(&args.query, span.start);
                    diag!("error: query {line}:{col}: {e}");
                }
                None => diag!("error: query: {e}"),
            }
            return Ok(Code::Usage);
        }
    };
    if let Some(not_cloudtrail) = non_cloudtrail_sources(&query) {
        diag!(
            "error: FROM {not_cloudtrail} is not CloudTrail data: dragnet esql reads the AWS integration's data stream (FROM logs-aws.cloudtrail-*)"
        );
        return Ok(Code::Usage);
    }
    if args.explain {
        let executor =
            Executor::new(dragnet_esql_exec::DEFAULT_MEMORY_LIMIT).map_err(anyhow::Error::msg)?;
        let text = executor.explain(&compiled).map_err(anyhow::Error::msg)?;
        let mut out = global.writer()?;
        write!(out, "{text}")?;
        out.finish()?;
        return Ok(Code::Ok);
    }
    if args.inputs.is_empty() {
        anyhow::bail!(
            "no INPUT given: name CloudTrail or ECS files or folders, `-` for stdin, or s3://bucket/prefix"
        );
    }
    let rule = esql_rule(&args.query)?;
    let slot = Arc::new(Mutex::new(None));
    let options = RunOptions {
        threads: inputs::worker_threads(args.threads, global.quiet),
        esql_table: Some(TableRequest {
            now_ms,
            limit: Some(DEFAULT_RESULT_LIMIT),
            result: slot.clone(),
        }),
        ..RunOptions::default()
    };
    let run = match inputs::run_ad_hoc(
        global,
        &rule,
        schema,
        &args.enrich,
        &args.read,
        &args.inputs,
        &options,
    )? {
        Ok(run) => run,
        Err(code) => return Ok(code),
    };
    let problems = &run.problems;
    let result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let (table, warnings, rows_fed) = match result {
        Some(r) => (r.table, r.warnings, r.rows_fed),
        // No event reached the rule: the query runs over no rows.
        None => (
            Ok(dragnet_esql_exec::ResultTable {
                columns: compiled.columns.clone(),
                rows: Vec::new(),
            }),
            Vec::new(),
            0,
        ),
    };
    let table = match table {
        Ok(t) => t,
        Err(e) => {
            diag!("error: the query failed: {e}");
            return Ok(Code::Usage);
        }
    };
    if !global.quiet {
        for w in &warnings {
            diag!("warning: {w}");
        }
    }
    let stats = &run.output.stats;
    let format = global.resolve_format("esql", &Format::ALL)?;
    let mut out = global.writer()?;
    write_table(
        &mut out,
        format,
        global.table_options(false),
        &table,
        json!({
            "records_read": stats.records_read,
            "records_skipped": stats.records_skipped,
            "rows_fed": rows_fed,
            "rows": table.rows.len(),
            "files": stats.files,
            "warnings": warnings,
            "problems": problems.iter().map(inputs::problem_json).collect::<Vec<_>>(),
        }),
    )?;
    out.finish()?;
    if !global.quiet {
        diag!(
            "esql: {} records read, {rows_fed} rows fed to DataFusion, {} result rows, {} records skipped, {} inputs unreadable",
            stats.records_read,
            table.rows.len(),
            stats.records_skipped,
            inputs::named_input_errors(problems, &args.inputs).len()
        );
    }
    Ok(inputs::ad_hoc_exit(&run, &args.inputs, args.strict))
}

/// A FROM source that cannot be the CloudTrail data stream, if any.
fn non_cloudtrail_sources(query: &dragnet_esql::Query) -> Option<String> {
    let dragnet_esql::CommandKind::From { indices, .. } = &query.source.kind else {
        return None;
    };
    let patterns: Vec<String> = indices.iter().map(|i| i.index.clone()).collect();
    match dragnet_engine::applicability::index_patterns_cover_cloudtrail(&patterns) {
        dragnet_engine::applicability::Coverage::NotCovered(_) => Some(patterns.join(", ")),
        dragnet_engine::applicability::Coverage::Covered(_) => None,
    }
}

/// The query as a Kibana rule export line, read by the same loader as any rule.
fn esql_rule(query: &str) -> anyhow::Result<Rule> {
    let rule = json!({
        "rule_id": "0c5a6d3e-1f7b-4f5e-8c3a-6a0b9b5e2f41",
        "name": "esql search",
        "description": "dragnet esql QUERY",
        "type": "esql",
        "language": "esql",
        "query": query,
        "risk_score": 21,
        "severity": "low",
    });
    let file = dragnet_rules::SourceFile::new("<esql query>.ndjson".to_string(), rule.to_string());
    let outcome = dragnet_rules::load_source(&file);
    match outcome.rules.into_iter().next() {
        Some(rule) => Ok(rule),
        None => {
            let errors: Vec<String> = outcome
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.to_string())
                .collect();
            anyhow::bail!("the query cannot be run as a rule: {}", errors.join("; "))
        }
    }
}

fn cell_text(cell: &Mv) -> String {
    match cell.as_slice() {
        [] => "null".to_string(),
        [one] => one.render(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|v| v.render())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn cell_json(cell: &Mv, ty: EsqlType) -> Value {
    let one = |v: &dragnet_esql_exec::Val| match v {
        dragnet_esql_exec::Val::Str(s) => json!(s),
        dragnet_esql_exec::Val::Long(x) => json!(x),
        dragnet_esql_exec::Val::Int(x) => json!(x),
        dragnet_esql_exec::Val::ULong(x) => json!(x),
        dragnet_esql_exec::Val::Double(x) => json!(x),
        dragnet_esql_exec::Val::Bool(x) => json!(x),
        dragnet_esql_exec::Val::Date(_) => json!(v.render()),
    };
    let _ = ty;
    match cell.as_slice() {
        [] => Value::Null,
        [v] => one(v),
        many => Value::Array(many.iter().map(one).collect()),
    }
}

/// The result as a table (columns titled `name:type`), CSV, or one JSON object per row.
fn write_table(
    out: &mut dyn Write,
    format: Format,
    table_options: dragnet_printer::TableOptions,
    table: &dragnet_esql_exec::ResultTable,
    summary: Value,
) -> anyhow::Result<()> {
    let columns: Vec<Column> = table
        .columns
        .iter()
        .map(|(name, ty)| Column::named(name.clone(), format!("{name}:{ty}")).width(4, 60))
        .collect();
    let mut printer = Printer::new(out, format, columns, "rows", table_options);
    for row in &table.rows {
        printer.row(
            || Row::new(row.iter().map(|c| Cell::from(cell_text(c))).collect()),
            || {
                let mut doc = Map::new();
                for ((name, ty), cell) in table.columns.iter().zip(row) {
                    doc.insert(name.clone(), cell_json(cell, *ty));
                }
                Doc::Value(Value::Object(doc))
            },
        )?;
    }
    let mut members = Map::new();
    members.insert("summary".into(), summary);
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|(n, t)| json!({"name": n, "type": t.name()}))
        .collect();
    members.insert("columns".into(), Value::Array(columns));
    printer.finish_with(members, None)?;
    Ok(())
}

/// The `esql` entry of `validate::QUERY_CHECKERS`: a syntax error, placed at its position in
/// the rule file; for a query over CloudTrail, the type check of dragnet's planner against the
/// integration's mapping (what Elasticsearch's analyzer and verifier reject: unknown columns,
/// mistyped operands, misplaced functions) as an error. A function or command dragnet lacks
/// is a warning, not an error: the rule is valid in Elasticsearch, and `hunt` accounts it as
/// unsupported with the same reason. Queries over other integrations' data are parsed only
/// (dragnet does not have their mappings).
pub fn check_rule_query(_rule: &Rule, query: &SourceText) -> Vec<Diagnostic> {
    let text = query.as_str();
    let check = match dragnet_esql::parse(text) {
        Err(e) => QueryCheck::Syntax {
            offset: e.offset(),
            message: e.message,
        },
        Ok(q) => type_check(&q, text),
    };
    query_diagnostics(query, check, |_| String::new())
}

fn type_check(query: &dragnet_esql::Query, text: &str) -> QueryCheck {
    if non_cloudtrail_sources(query).is_some() {
        return QueryCheck::UnknownFields(Vec::new());
    }
    if let Some(why) = dragnet_esql::unsupported(query) {
        return QueryCheck::CannotRun {
            span: why.span.start..why.span.end,
            message: format!("dragnet cannot run this query: {}", why.reason),
        };
    }
    let catalog = CloudTrailCatalog::for_query(Schema::builtin(), query);
    match dragnet_detect::esql::compile_over_cloudtrail(query, text, &catalog, &mut Vec::new()) {
        Ok(_) => QueryCheck::UnknownFields(Vec::new()),
        Err(e) => {
            let span = e.span.map_or(0..text.len(), |s| s.start..s.end);
            // dragnet's gaps, worded by its planner (Elasticsearch knows these functions).
            let gap = e.message.starts_with("Unknown function [")
                || e.message.contains("not supported by dragnet")
                || e.message.contains("which dragnet does not have");
            if gap {
                QueryCheck::CannotRun {
                    span,
                    message: format!("dragnet cannot run this query: {}", e.message),
                }
            } else {
                QueryCheck::Compile {
                    span,
                    message: format!("type error: {}", e.message),
                }
            }
        }
    }
}
