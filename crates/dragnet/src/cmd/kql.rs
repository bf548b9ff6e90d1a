//! `dragnet kql QUERY INPUT...`: evaluates one KQL query over ECS documents (JSON, a JSON
//! array, NDJSON) or raw CloudTrail records (`{"Records": […]}` or records with
//! `eventVersion`/`eventSource`, mapped the way Elastic's AWS integration does), and prints for
//! each document whether it matches. Also the KQL checker `dragnet validate` runs.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Context as _;
use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
use dragnet_kql::CompiledQuery;
use dragnet_rules::{Diagnostic, Rule, SourceText};
use dragnet_schema::Schema;
use serde_json::Value;

use crate::cmd::query_check::{QueryCheck, query_diagnostics};
use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The KQL query (Kibana syntax).
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Files, folders, `-` (stdin) or `s3://bucket/prefix` with ECS documents or raw
    /// CloudTrail records (JSON, JSON lines, `{"Records":[…]}`, gzip).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Explain each decision: which clause decided, on which values.
    #[arg(long)]
    pub explain: bool,
    /// Print the Elasticsearch Query DSL Kibana would generate, and exit.
    #[arg(long)]
    pub to_dsl: bool,
    /// Print the query in canonical form, and exit.
    #[arg(long)]
    pub canonical: bool,
    /// An Elasticsearch `GET <index>/_mapping` response laid over the built-in field types.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    let query = match dragnet_kql::parse(&args.query) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: query {e}");
            eprintln!(
                "  {}",
                args.query.lines().nth(e.line - 1).unwrap_or_default()
            );
            eprintln!("  {}^", " ".repeat(e.column.saturating_sub(1)));
            return Ok(Code::Usage);
        }
    };
    let overlay;
    let schema: &Schema = match &args.mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read mapping {}", path.display()))?;
            let user = Schema::from_mapping_json(&text)
                .with_context(|| format!("mapping {}", path.display()))?;
            overlay = Schema::builtin().overlay(&user);
            &overlay
        }
        None => Schema::builtin(),
    };
    let mut table = FieldTable::new();
    let compiled = match dragnet_kql::compile(&query, schema, &mut table) {
        Ok(c) => c,
        Err(e) => {
            let (line, col) = dragnet_kql::line_col(&args.query, e.span.start);
            eprintln!("error: query {line}:{col}: {e}");
            return Ok(Code::Usage);
        }
    };
    if global.verbose > 0 {
        for f in compiled.unknown_fields() {
            eprintln!("note: field `{f}` is not in the schema; dynamic mapping types it per value");
        }
    }
    let mut out = global.writer()?;
    if args.canonical || args.to_dsl {
        if args.canonical {
            writeln!(out, "{}", compiled.canonical())?;
        }
        if args.to_dsl {
            serde_json::to_writer_pretty(&mut out, &compiled.to_dsl())?;
            writeln!(out)?;
        }
        return Ok(Code::Ok);
    }
    if args.inputs.is_empty() {
        anyhow::bail!(
            "no INPUT given: name files of ECS documents or CloudTrail records (or `-` for stdin)"
        );
    }
    let paths = JsonPaths::bind(&table);
    let mapper = dragnet_cloudtrail::Mapper::bind(&table, Default::default())
        .context("cannot prepare the CloudTrail mapping")?;
    let format = global.resolve_format("kql", &Format::ALL)?;
    let mut matches = crate::output::MatchPrinter::new(&mut out, format, global);
    let opts = dragnet_input::InputOptions::default();
    let discovered = dragnet_input::discover(&args.inputs, &opts);
    let mut stats = Stats::default();
    for problem in &discovered.problems {
        eprintln!("error: {problem}");
        stats.skipped_inputs += 1;
    }
    let mut write_error = None;
    for source in &discovered.sources {
        let name = source.name();
        let mut on_batch = |batch: dragnet_input::RecordBatch| {
            for (bytes, span) in batch.iter() {
                let location = format!("{name}:{} #{}", span.location.line, span.location.index);
                let decided = match span.kind {
                    dragnet_input::RecordKind::CloudTrail => match mapper.map(bytes) {
                        // Free text and field patterns need the whole document.
                        Ok(ev) if compiled.has_free_text() => {
                            let doc = ev.to_ecs();
                            Ok(decide(
                                &compiled,
                                &JsonEvent::new(&doc, &paths),
                                args.explain,
                            ))
                        }
                        Ok(ev) => Ok(decide(&compiled, &ev, args.explain)),
                        Err(e) => Err(e.to_string()),
                    },
                    dragnet_input::RecordKind::Ecs => {
                        match serde_json::from_slice::<Value>(bytes) {
                            Ok(doc) => Ok(decide(
                                &compiled,
                                &JsonEvent::new(&doc, &paths),
                                args.explain,
                            )),
                            Err(e) => Err(format!("not valid JSON ({e})")),
                        }
                    }
                };
                match decided {
                    Ok((matched, explanation)) => {
                        stats.evaluated += 1;
                        stats.matched += usize::from(matched);
                        if let Err(e) = matches.write(&location, matched, explanation.as_deref()) {
                            write_error = Some(anyhow::Error::from(e));
                            return ControlFlow::Break(());
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {location}: {e}; record skipped");
                        stats.skipped_records += 1;
                    }
                }
            }
            ControlFlow::Continue(())
        };
        let mut on_problem = |p: dragnet_input::Problem| eprintln!("error: {p}");
        let source_stats =
            dragnet_input::read_batches(source, &opts, &mut on_batch, &mut on_problem);
        stats.skipped_records += source_stats.skipped_records as usize;
        if let Some(e) = write_error.take() {
            return Err(e);
        }
    }
    matches.finish(serde_json::json!({"evaluated": stats.evaluated, "matched": stats.matched}))?;
    eprintln!(
        "{} documents evaluated, {} matched, {} records skipped, {} inputs unreadable",
        stats.evaluated, stats.matched, stats.skipped_records, stats.skipped_inputs
    );
    Ok(if stats.evaluated == 0 {
        Code::Usage
    } else {
        Code::Ok
    })
}

#[derive(Default)]
struct Stats {
    evaluated: usize,
    matched: usize,
    skipped_records: usize,
    skipped_inputs: usize,
}

fn decide(
    q: &CompiledQuery,
    ev: &dyn dragnet_event::Event,
    explain: bool,
) -> (bool, Option<String>) {
    if explain {
        let e = q.explain(ev);
        (e.matched, Some(e.to_string()))
    } else {
        (q.matches(ev), None)
    }
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
