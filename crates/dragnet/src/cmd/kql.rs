//! `dragnet kql QUERY INPUT...`: evaluates one KQL query over ECS documents (JSON, a JSON
//! array, NDJSON) or raw CloudTrail records (`{"Records": […]}` or records with
//! `eventVersion`/`eventSource`, mapped the way Elastic's AWS integration does), and prints for
//! each document whether it matches. Also the KQL checker `dragnet validate` runs.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
use dragnet_kql::CompiledQuery;
use dragnet_rules::{Diagnostic, DiagnosticKind, Rule, SourceText};
use dragnet_schema::Schema;
use serde_json::{Value, json};

use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The KQL query (Kibana syntax).
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Files with ECS documents or raw CloudTrail records (`-` for stdin).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
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
    let format = global.format();
    if format == Format::Csv {
        crate::output::write_csv_record(&mut out, &["location", "match"])?;
    }
    let mut stats = Stats::default();
    for input in &args.inputs {
        let name = input.display().to_string();
        let bytes = match read_input(input) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {name}: {e:#}");
                stats.skipped_inputs += 1;
                continue;
            }
        };
        for (location, doc) in documents(&name, &bytes, &mut stats) {
            let raw_cloudtrail =
                doc.get("eventVersion").is_some() && doc.get("eventSource").is_some();
            let (matched, explanation) = if raw_cloudtrail {
                let raw = serde_json::to_vec(&doc).expect("a JSON value serialises");
                match mapper.map(&raw) {
                    Ok(ev) => decide(&compiled, &ev, args.explain),
                    Err(e) => {
                        eprintln!("error: {location}: {e}; record skipped");
                        stats.skipped_records += 1;
                        continue;
                    }
                }
            } else {
                decide(&compiled, &JsonEvent::new(&doc, &paths), args.explain)
            };
            stats.evaluated += 1;
            stats.matched += usize::from(matched);
            write_result(&mut out, format, &location, matched, explanation.as_deref())?;
        }
    }
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

fn read_input(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        anyhow::bail!(
            "gzip input is not supported by `dragnet kql`; decompress it first (or use `dragnet hunt`)"
        );
    }
    Ok(bytes)
}

/// The documents of one input with their locations: a JSON value (an array gives each
/// element, `{"Records": […]}` each record) or JSON lines.
fn documents(name: &str, bytes: &[u8], stats: &mut Stats) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => {
            for (i, v) in items.into_iter().enumerate() {
                out.push((format!("{name}[{i}]"), v));
            }
        }
        Ok(Value::Object(mut map)) if matches!(map.get("Records"), Some(Value::Array(_))) => {
            if let Some(Value::Array(records)) = map.remove("Records") {
                for (i, v) in records.into_iter().enumerate() {
                    out.push((format!("{name}: Records[{i}]"), v));
                }
            }
        }
        Ok(v) => out.push((name.to_owned(), v)),
        Err(_) => {
            for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<Value>(line) {
                    Ok(v) => out.push((format!("{name}:{}", i + 1), v)),
                    Err(e) => {
                        eprintln!(
                            "error: {name}:{}: not valid JSON ({e}); line skipped",
                            i + 1
                        );
                        stats.skipped_records += 1;
                    }
                }
            }
        }
    }
    out
}

fn write_result(
    out: &mut dyn Write,
    format: Format,
    location: &str,
    matched: bool,
    explanation: Option<&str>,
) -> anyhow::Result<()> {
    match format {
        Format::Json | Format::Ndjson => {
            let mut v = json!({"location": location, "match": matched});
            if let Some(e) = explanation {
                v["explanation"] = json!(e);
            }
            serde_json::to_writer(&mut *out, &v)?;
            writeln!(out)?;
        }
        Format::Csv => {
            crate::output::write_csv_record(
                out,
                &[location, if matched { "match" } else { "no match" }],
            )?;
        }
        Format::Table => {
            writeln!(
                out,
                "{location}\t{}",
                if matched { "match" } else { "no match" }
            )?;
            if let Some(e) = explanation {
                for line in e.lines() {
                    writeln!(out, "    {line}")?;
                }
            }
        }
    }
    Ok(())
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
    let text = query.as_str();
    let file = query.file();
    let place = |start: usize, end: usize| {
        let end = end.max(start).min(text.len());
        let start = start.min(end);
        query
            .file_range(start..end)
            .unwrap_or_else(|| query.file_span())
    };
    let parsed = match dragnet_kql::parse(text) {
        Ok(q) => q,
        Err(e) => {
            let end = text[e.offset.min(text.len())..]
                .chars()
                .next()
                .map_or(e.offset, |c| e.offset + c.len_utf8());
            return vec![Diagnostic::error(
                DiagnosticKind::Query,
                file,
                place(e.offset, end),
                format!("syntax error: {}", e.message),
            )];
        }
    };
    let mut table = FieldTable::new();
    match dragnet_kql::compile(&parsed, Schema::builtin(), &mut table) {
        Err(e) => vec![Diagnostic::error(
            DiagnosticKind::Query,
            file,
            place(e.span.start, e.span.end),
            e.message,
        )],
        Ok(c) => c
            .unknown_fields()
            .iter()
            .filter(|f| first_report(f))
            .map(|f| {
                let at = text.find(f.as_str()).unwrap_or(0);
                Diagnostic::warning(
                    DiagnosticKind::Query,
                    file,
                    place(at, at + if at == 0 && !text.starts_with(f.as_str()) { 0 } else { f.len() }),
                    format!("field `{f}` is not in the ECS/AWS schema: Elasticsearch's dynamic mapping would type it (reported once per field)"),
                )
            })
            .collect(),
    }
}
