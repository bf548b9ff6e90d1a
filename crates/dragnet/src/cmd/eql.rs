//! `dragnet eql QUERY INPUT...`: evaluates one EQL query over ECS documents (JSON, a JSON
//! array, NDJSON) or raw CloudTrail records (mapped the way Elastic's AWS integration does).
//! An event query prints, for each document, whether it matches; a `sequence` query orders the
//! documents by `@timestamp` (or `--timestamp-field`; input order breaks ties) and prints each
//! sequence found. Pipes
//! (`| head N`, `| tail N`) keep the first or last N results. Also the EQL checker that
//! `dragnet validate` runs.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use dragnet_eql::{CompiledQuery, Pipe, QueryKind};
use dragnet_event::{Event, FieldId, FieldTable, JsonEvent, JsonPaths, Scalar};
use dragnet_rules::{Diagnostic, Rule, SourceText};
use dragnet_schema::Schema;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cmd::query_check::{QueryCheck, query_diagnostics};
use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The EQL query (Elasticsearch syntax).
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Files with ECS documents or raw CloudTrail records (`-` for stdin).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Explain each decision of an event query: which clause decided, on which values.
    #[arg(long)]
    pub explain: bool,
    /// Print the query in canonical form, and exit.
    #[arg(long)]
    pub canonical: bool,
    /// An Elasticsearch `GET <index>/_mapping` response laid over the built-in field types.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// The field event categories (`process where …`) are read from, as the EQL search API's
    /// `event_category_field` (a rule's `event_category_override`).
    #[arg(long, value_name = "FIELD", default_value = "event.category")]
    pub event_category_field: String,
    /// The field sequences are ordered by, as the EQL search API's `timestamp_field`.
    #[arg(long, value_name = "FIELD", default_value = "@timestamp")]
    pub timestamp_field: String,
    /// Most pending (incomplete) sequences kept in memory; the oldest are dropped beyond it.
    #[arg(long, value_name = "N", default_value_t = dragnet_eql::DEFAULT_MAX_PENDING)]
    pub max_pending: usize,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    let query = match dragnet_eql::parse(&args.query) {
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
    let options = dragnet_eql::CompileOptions {
        category_field: args.event_category_field.clone(),
    };
    let compiled = match dragnet_eql::compile_with(&query, schema, &mut table, &options) {
        Ok(c) => c,
        Err(e) => {
            let (line, col) = dragnet_eql::line_col(&args.query, e.span.start);
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
    if args.canonical {
        writeln!(out, "{}", compiled.canonical())?;
        return Ok(Code::Ok);
    }
    if args.inputs.is_empty() {
        anyhow::bail!(
            "no INPUT given: name files of ECS documents or CloudTrail records (or `-` for stdin)"
        );
    }
    let ts_field = table.intern(&args.timestamp_field);
    let paths = JsonPaths::bind(&table);
    let mapper = dragnet_cloudtrail::Mapper::bind(&table, Default::default())
        .context("cannot prepare the CloudTrail mapping")?;
    let mut stats = Stats::default();
    let mut docs: Vec<(String, Value)> = Vec::new();
    for input in &args.inputs {
        let name = input.display().to_string();
        match read_input(input) {
            Ok(bytes) => docs.extend(documents(&name, &bytes, &mut stats)),
            Err(e) => {
                eprintln!("error: {name}: {e:#}");
                stats.skipped_inputs += 1;
            }
        }
    }
    // Evaluates `f` on the document as an event (raw CloudTrail records are mapped first).
    let with_event = |location: &str, doc: &Value, f: &mut dyn FnMut(&dyn Event)| -> bool {
        if doc.get("eventVersion").is_some() && doc.get("eventSource").is_some() {
            let raw = serde_json::to_vec(doc).expect("a JSON value serialises");
            match mapper.map(&raw) {
                Ok(ev) => f(&ev),
                Err(e) => {
                    eprintln!("error: {location}: {e}; record skipped");
                    return false;
                }
            }
        } else {
            f(&JsonEvent::new(doc, &paths));
        }
        true
    };
    let format = global.resolve_format("eql", &Format::ALL)?;
    if compiled.kind() == QueryKind::Event {
        let mut results = Vec::new();
        for (location, doc) in &docs {
            let mut decided = (false, None);
            let mut ts = None;
            if !with_event(location, doc, &mut |ev| {
                decided = decide(&compiled, ev, args.explain);
                ts = timestamp_of(ev, ts_field);
            }) {
                stats.skipped_records += 1;
                continue;
            }
            stats.evaluated += 1;
            stats.matched += usize::from(decided.0);
            results.push((location.clone(), decided.0, decided.1, ts));
        }
        if !compiled.pipes().is_empty() {
            // Pipes see the matches as Elasticsearch returns them: in timestamp order (events
            // without a timestamp last; input order breaks ties).
            let mut matched: Vec<_> = results.into_iter().filter(|r| r.1).collect();
            matched.sort_by_key(|r| (r.3.is_none(), r.3));
            results = apply_pipes(compiled.pipes(), matched);
        }
        let mut matches = crate::output::MatchPrinter::new(&mut out, format, global);
        for (location, matched, explanation, _) in &results {
            matches.write(location, *matched, explanation.as_deref())?;
        }
        matches.finish(json!({"evaluated": stats.evaluated, "matched": stats.matched}))?;
        eprintln!(
            "{} documents evaluated, {} matched, {} records skipped, {} inputs unreadable",
            stats.evaluated, stats.matched, stats.skipped_records, stats.skipped_inputs
        );
    } else {
        let (label, found) = if compiled.kind() == QueryKind::Sample {
            let found = run_sample(&compiled, &args, &docs, ts_field, &with_event, &mut stats);
            ("sample", found)
        } else {
            let found = run_sequence(&compiled, &args, &docs, ts_field, &with_event, &mut stats);
            ("sequence", found)
        };
        let found = apply_pipes(compiled.pipes(), found);
        let mut printer = crate::output::SequencePrinter::new(&mut out, format, label, global);
        for (i, s) in found.iter().enumerate() {
            write_sequence(&mut printer, i + 1, s)?;
        }
        printer.finish(json!({"evaluated": stats.evaluated, label: found.len()}))?;
        eprintln!(
            "{} documents evaluated, {} {label}s found, {} records skipped, {} without a usable @timestamp, {} inputs unreadable",
            stats.evaluated,
            found.len(),
            stats.skipped_records,
            stats.no_timestamp,
            stats.skipped_inputs
        );
    }
    Ok(if stats.evaluated == 0 {
        Code::Usage
    } else {
        Code::Ok
    })
}

type Found = dragnet_eql::SequenceMatch<String>;

/// Runs a callback on a document seen as an event; false when the record could not be mapped.
type WithEvent<'a> = dyn Fn(&str, &Value, &mut dyn FnMut(&dyn Event)) -> bool + 'a;

/// The documents with a usable timestamp, as (timestamp, index) in time order (input order
/// breaks ties); the others are counted and warned about.
fn in_time_order(
    args: &Args,
    docs: &[(String, Value)],
    ts_field: FieldId,
    with_event: &WithEvent<'_>,
    stats: &mut Stats,
) -> Vec<(Timestamp, usize)> {
    let mut timed: Vec<(Timestamp, usize)> = Vec::new();
    for (i, (location, doc)) in docs.iter().enumerate() {
        let mut ts = None;
        if !with_event(location, doc, &mut |ev| ts = timestamp_of(ev, ts_field)) {
            stats.skipped_records += 1;
            continue;
        }
        match ts {
            Some(t) => timed.push((t, i)),
            None => {
                eprintln!(
                    "warning: {location}: no usable {}; left out of sequences and samples",
                    args.timestamp_field
                );
                stats.no_timestamp += 1;
            }
        }
    }
    // A stable sort: the input order breaks ties.
    timed.sort_by_key(|(t, _)| *t);
    timed
}

fn run_sequence(
    compiled: &CompiledQuery,
    args: &Args,
    docs: &[(String, Value)],
    ts_field: FieldId,
    with_event: &WithEvent<'_>,
    stats: &mut Stats,
) -> Vec<Found> {
    let timed = in_time_order(args, docs, ts_field, with_event, stats);
    let mut matcher = compiled
        .sequence_matcher::<String>()
        .expect("a sequence query")
        .with_capacity(args.max_pending);
    let mut found = Vec::new();
    for (ts, i) in timed {
        let (location, doc) = &docs[i];
        with_event(location, doc, &mut |ev| {
            found.extend(matcher.on_event(ev, ts, location.clone()));
        });
        stats.evaluated += 1;
    }
    found.extend(matcher.finish());
    if let Some(w) = matcher.warning() {
        eprintln!("warning: {w}");
    }
    found
}

/// Runs a `sample` query: per join key, one event per filter, the earliest ones (as `hunt`
/// picks them; see `dragnet_eql::SampleMatcher`), samples in key order.
fn run_sample(
    compiled: &CompiledQuery,
    args: &Args,
    docs: &[(String, Value)],
    ts_field: FieldId,
    with_event: &WithEvent<'_>,
    stats: &mut Stats,
) -> Vec<Found> {
    let timed = in_time_order(args, docs, ts_field, with_event, stats);
    // References order events by time, then input position.
    let mut matcher = compiled
        .sample_matcher::<(Timestamp, usize)>()
        .expect("a sample query")
        .with_capacity(args.max_pending);
    for &(ts, i) in &timed {
        let (location, doc) = &docs[i];
        with_event(location, doc, &mut |ev| {
            matcher.on_event(ev, (ts, i));
        });
        stats.evaluated += 1;
    }
    if let Some(w) = matcher.warning() {
        eprintln!("warning: {w}");
    }
    matcher
        .finish()
        .into_iter()
        .map(|s| Found {
            key: s.key,
            events: s
                .events
                .into_iter()
                .map(|(ts, i)| (ts, docs[i].0.clone()))
                .collect(),
        })
        .collect()
}

fn timestamp_of(ev: &dyn Event, field: FieldId) -> Option<Timestamp> {
    let mut out = None;
    ev.any(field, &mut |v| {
        out = match v {
            Scalar::Str(s) => s.parse::<Timestamp>().ok(),
            Scalar::Int(ms) => Timestamp::from_millisecond(ms).ok(),
            _ => None,
        };
        out.is_some()
    });
    out
}

fn apply_pipes<T>(pipes: &[Pipe], mut items: Vec<T>) -> Vec<T> {
    for p in pipes {
        match *p {
            Pipe::Head(n) => items.truncate(usize::try_from(n).unwrap_or(usize::MAX)),
            Pipe::Tail(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                let skip = items.len().saturating_sub(n);
                items.drain(..skip);
            }
        }
    }
    items
}

#[derive(Default)]
struct Stats {
    evaluated: usize,
    matched: usize,
    skipped_records: usize,
    skipped_inputs: usize,
    no_timestamp: usize,
}

fn decide(q: &CompiledQuery, ev: &dyn Event, explain: bool) -> (bool, Option<String>) {
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
            "gzip input is not supported by `dragnet eql`; decompress it first (or use `dragnet hunt`)"
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

/// Writes sequence (or sample) `n`: its join keys and events.
fn write_sequence(
    printer: &mut crate::output::SequencePrinter<'_>,
    n: usize,
    s: &Found,
) -> anyhow::Result<()> {
    let join_keys: Vec<Value> = s
        .key
        .iter()
        .map(|k| k.as_ref().map_or(Value::Null, |k| json!(k)))
        .collect();
    printer.write(&crate::output::SequenceRow {
        n,
        join_keys: &join_keys,
        events: s
            .events
            .iter()
            .map(|(t, loc)| (t.to_string(), loc.as_str()))
            .collect(),
    })?;
    Ok(())
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
