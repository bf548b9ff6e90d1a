//! `dragnet kql` / `dragnet eql` as hunting searches: a query is a one-rule hunt. The query
//! becomes a rule (type query or eql, `index = ["logs-aws.cloudtrail-*"]`), the engine runs it
//! over the inputs exactly as `hunt` runs rules (files, folders, gzip, `-`, `s3://`, every input
//! limit, GeoIP/ASN enrichment, the same problem reporting), and hands back the matching events
//! (with `--all`, every event and whether it matched), which are printed instead of alerts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use dragnet_engine::{Alert, Capture, CapturedEvent, RunOptions};
use dragnet_schema::Schema;
use serde_json::{Value, json};

use dragnet_printer::{Cell, Column, Cut, Doc, Printer, Row, Show, Style, TableOptions};

use crate::cmd::inputs::{self, EnrichArgs, ReadArgs};
use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

/// The flags `kql` and `eql` share.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// CloudTrail or ECS input: files (.json, .json.gz, JSON lines, ECS NDJSON), folders
    /// (searched recursively), `-` for stdin, or s3://bucket/prefix.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Explain each decision: which clause decided, on which values.
    #[arg(long)]
    pub explain: bool,
    /// List every event, matching or not, with its verdict (for testing a query).
    #[arg(long)]
    pub all: bool,
    /// Print the query in canonical form, and exit.
    #[arg(long)]
    pub canonical: bool,
    /// An Elasticsearch `GET <index>/_mapping` response laid over the built-in field types.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Exit with code 2 when any input was skipped (malformed, truncated, unreadable).
    #[arg(long)]
    pub strict: bool,
    /// Worker threads (default: one per core; RAYON_NUM_THREADS is honoured too); at most 4 per
    /// core and 256: more is clamped with a warning.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub enrich: EnrichArgs,
    #[command(flatten)]
    pub query_limits: crate::output::QueryLimitArgs,
}

impl SearchArgs {
    /// The builtin field types, with `--mapping` laid over them.
    pub fn schema(&self) -> anyhow::Result<Option<Schema>> {
        let Some(path) = &self.mapping else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read mapping {}", path.display()))?;
        let user = Schema::from_mapping_json(&text).with_context(|| {
            format!(
                "mapping {}: give the JSON of Elasticsearch's GET <index>/_mapping",
                path.display()
            )
        })?;
        Ok(Some(Schema::builtin().overlay(&user)))
    }
}

/// What the search looks for.
pub struct Query<'a> {
    /// `kql` or `eql`: names the command in messages.
    pub command: &'static str,
    pub text: &'a str,
    pub kind: Kind,
    /// EQL `| head N` / `| tail N`.
    pub pipes: Vec<dragnet_eql::Pipe>,
    /// EQL: the field event categories are read from (`event_category_override`).
    pub event_category_field: Option<String>,
    /// EQL: the field sequences and samples are ordered by.
    pub timestamp_field: Option<String>,
    /// EQL sequences and samples: candidate events kept for sorting at most.
    pub max_sequence_candidates: Option<usize>,
}

/// Whether a query decides per event or finds groups of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Event,
    Sequence,
    Sample,
}

impl Kind {
    /// `event`, `sequence` or `sample`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Sequence => "sequence",
            Kind::Sample => "sample",
        }
    }
}

/// The rule a search runs: the query over the AWS integration's CloudTrail data stream. A
/// Kibana rule export line, read by the same loader as any rule.
fn query_rule(query: &Query<'_>) -> anyhow::Result<dragnet_rules::Rule> {
    let (rule_type, language) = match query.command {
        "eql" => ("eql", "eql"),
        _ => ("query", "kuery"),
    };
    let mut rule = json!({
        "rule_id": "6d1f0f3e-5b7a-4c1e-9a57-d2a9e7c0a5e1",
        "name": format!("{} search", query.command),
        "description": format!("dragnet {} QUERY", query.command),
        "type": rule_type,
        "language": language,
        "query": query.text,
        "index": ["logs-aws.cloudtrail-*"],
        "risk_score": 21,
        "severity": "low",
    });
    if let Some(field) = &query.event_category_field {
        rule["event_category_override"] = json!(field);
    }
    if let Some(field) = &query.timestamp_field {
        rule["timestamp_field"] = json!(field);
    }
    let file = dragnet_rules::SourceFile::new(
        format!("<{} query>.ndjson", query.command),
        rule.to_string(),
    );
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

/// Runs the search and prints its results; the exit code as `conventions.md` sets it.
pub fn run(
    global: &GlobalArgs,
    args: &SearchArgs,
    query: &Query<'_>,
    schema: &Schema,
) -> anyhow::Result<Code> {
    if args.inputs.is_empty() {
        anyhow::bail!(
            "no INPUT given: name CloudTrail or ECS files or folders, `-` for stdin, or s3://bucket/prefix"
        );
    }
    let rule = query_rule(query)?;
    let options = RunOptions {
        // Sequences and samples name their join keys in the explanation of their shell alert.
        explain: args.explain || query.kind != Kind::Event,
        threads: inputs::worker_threads(args.threads, global.quiet),
        max_sequence_candidates: query.max_sequence_candidates,
        capture: if args.all {
            Capture::All
        } else {
            Capture::Matches
        },
        // A search lists every problem, as it lists every event it captures (both in memory:
        // searches are for testing queries; `hunt` is the bounded command).
        max_problems: Some(usize::MAX),
        ..RunOptions::default()
    };
    let mut run = match inputs::run_ad_hoc(
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
    let events = std::mem::take(&mut run.output.events);
    let (output, problems) = (&run.output, &run.problems);
    let stats = &output.stats;
    let evaluated = stats.records_evaluated + stats.records_prefiltered;
    let format = global.resolve_format(query.command, &Format::ALL)?;
    let mut out = global.writer()?;
    let found_line = match query.kind {
        Kind::Event => {
            let matched = events.iter().filter(|e| e.matched).count();
            let listed = with_pipes(&query.pipes, events, args.all);
            write_events(
                &mut out,
                format,
                global.table_options(false),
                &listed,
                args,
                summary_json(stats, problems, evaluated, ("matched", matched)),
            )?;
            format!("{matched} matched")
        }
        Kind::Sequence | Kind::Sample => {
            let groups = groups(&output.alerts, query.kind);
            let groups = apply_pipes(&query.pipes, groups);
            write_groups(
                &mut out,
                format,
                global.table_options(false),
                query.kind,
                &groups,
                summary_json(
                    stats,
                    problems,
                    evaluated,
                    (
                        if query.kind == Kind::Sample {
                            "samples"
                        } else {
                            "sequences"
                        },
                        groups.len(),
                    ),
                ),
            )?;
            format!("{} {}s found", groups.len(), query.kind.label())
        }
    };
    out.finish()?;
    if !global.quiet {
        diag!(
            "{}: {evaluated} documents evaluated, {found_line}, {} records skipped, {} inputs unreadable",
            query.command,
            stats.records_skipped,
            inputs::named_input_errors(problems, &args.inputs).len()
        );
    }
    Ok(inputs::ad_hoc_exit(&run, &args.inputs, args.strict))
}

/// The JSON document's summary: `evaluated` documents, and what was `found` (`matched`, or
/// `sequences` / `samples` with their count).
fn summary_json(
    stats: &dragnet_engine::RunStats,
    problems: &[dragnet_input::Problem],
    evaluated: u64,
    found: (&str, usize),
) -> Value {
    json!({
        "evaluated": evaluated,
        found.0: found.1,
        "records_read": stats.records_read,
        "records_skipped": stats.records_skipped,
        "files": stats.files,
        "files_skipped": stats.files_skipped,
        "problems": problems.iter().map(inputs::problem_json).collect::<Vec<_>>(),
    })
}

/// The events to list: with pipes, the matches in time order (as Elasticsearch returns them:
/// events without a timestamp last, input order breaking ties), then `| head` / `| tail`;
/// without, every captured event in input order.
fn with_pipes(
    pipes: &[dragnet_eql::Pipe],
    events: Vec<CapturedEvent>,
    all: bool,
) -> Vec<CapturedEvent> {
    if pipes.is_empty() {
        return events;
    }
    if all {
        diag!("note: with pipes, only matching events are listed (pipes limit results)");
    }
    let mut matched: Vec<CapturedEvent> = events.into_iter().filter(|e| e.matched).collect();
    let time = |e: &CapturedEvent| first(&e.doc, "@timestamp").parse::<jiff::Timestamp>().ok();
    matched.sort_by_key(|e| {
        let t = time(e);
        (t.is_none(), t)
    });
    apply_pipes(pipes, matched)
}

fn apply_pipes<T>(pipes: &[dragnet_eql::Pipe], mut items: Vec<T>) -> Vec<T> {
    for p in pipes {
        match *p {
            dragnet_eql::Pipe::Head(n) => {
                items.truncate(usize::try_from(n).unwrap_or(usize::MAX));
            }
            dragnet_eql::Pipe::Tail(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                let skip = items.len().saturating_sub(n);
                items.drain(..skip);
            }
        }
    }
    items
}

/// One sequence or sample found: its join keys and its events' ECS documents in order.
pub struct Group {
    pub join_keys: Value,
    pub events: Vec<Value>,
}

/// The sequences (or samples) in the run's alerts: each shell alert with its building blocks
/// (Kibana's alert group), in the order the alerts sort.
fn groups(alerts: &[Alert], kind: Kind) -> Vec<Group> {
    let mut order: Vec<String> = Vec::new();
    let mut keys: std::collections::HashMap<String, Value> = Default::default();
    let mut events: std::collections::HashMap<String, Vec<(u64, Value)>> = Default::default();
    for a in alerts {
        let Some(group) = a.group_id().map(str::to_string) else {
            continue;
        };
        if let Some(index) = a.group.as_ref().and_then(|g| g.index) {
            events
                .entry(group)
                .or_default()
                .push((index, a.event().unwrap_or(Value::Null)));
        } else {
            let key = a.doc()["dragnet.explain"][kind.label()]["join_keys"].clone();
            keys.insert(group.clone(), key);
            order.push(group);
        }
    }
    order
        .into_iter()
        .map(|g| {
            let mut evs = events.remove(&g).unwrap_or_default();
            evs.sort_by_key(|(i, _)| *i);
            Group {
                join_keys: keys.remove(&g).unwrap_or(Value::Null),
                events: evs.into_iter().map(|(_, e)| e).collect(),
            }
        })
        .collect()
}

fn first(doc: &Value, path: &str) -> String {
    dragnet_alert::field_strings(doc, path)
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The key fields of an event: (CSV key, table title, field, min and max table width,
/// priority when the table must fit a width).
const EVENT_FIELDS: [(&str, &str, &str, usize, usize, u8); 6] = [
    ("time", "time", "@timestamp", 20, 24, 8),
    ("action", "action", "event.action", 10, 40, 8),
    ("actor", "actor", "user.name", 8, 40, 7),
    ("source_ip", "source ip", "source.ip", 9, 39, 6),
    ("outcome", "outcome", "event.outcome", 7, 7, 4),
    ("event_id", "event id", "event.id", 8, 36, 3),
];

fn event_columns(show: Show) -> Vec<Column> {
    EVENT_FIELDS
        .iter()
        .map(|&(key, title, _, min, max, priority)| {
            Column::new(key, title)
                .width(min, max)
                .priority(priority)
                .show(show)
        })
        .collect()
}

fn event_cells(doc: &Value) -> Vec<Cell> {
    EVENT_FIELDS
        .iter()
        .map(|(_, _, field, ..)| Cell::from(first(doc, field)))
        .collect()
}

fn location(e: &CapturedEvent) -> String {
    format!("{}:{} #{}", e.source, e.location.line, e.location.index)
}

fn verdict(matched: bool) -> &'static str {
    if matched { "match" } else { "no match" }
}

/// An event as json/ndjson list it: its ECS document; with `--all` or `--explain` also where
/// it was read (`dragnet.location`), with `--all` whether it matched (`dragnet.match`), with
/// `--explain` how the query decided (`dragnet.explain`).
fn event_json(e: &CapturedEvent, args: &SearchArgs) -> Value {
    let mut doc = e.doc.clone();
    if let Value::Object(map) = &mut doc {
        if args.all || args.explain {
            map.insert("dragnet.location".into(), json!(location(e)));
        }
        if args.all {
            map.insert("dragnet.match".into(), json!(e.matched));
        }
        if let Some(x) = &e.explanation {
            map.insert("dragnet.explain".into(), json!(x));
        }
    }
    doc
}

/// Prints the events of an event query: a table of key fields (with `--explain`, each
/// event's explanation under it), CSV of the same, or the ECS documents as json/ndjson.
fn write_events(
    out: &mut dyn Write,
    format: Format,
    table: TableOptions,
    events: &[CapturedEvent],
    args: &SearchArgs,
    summary: Value,
) -> anyhow::Result<()> {
    let mut columns = event_columns(Show::Always);
    columns.push(
        Column::new("location", "location")
            .width(16, 80)
            .priority(5)
            .cut(Cut::Start),
    );
    if args.all {
        columns.push(Column::new("match", "match").width(5, 8).priority(9));
    }
    if args.explain {
        columns.push(Column::new("explanation", "explanation").show(Show::Never));
    }
    let mut printer = Printer::new(out, format, columns, "events", table);
    for e in events {
        printer.row(
            || {
                let mut cells = event_cells(&e.doc);
                cells.push(Cell::from(location(e)));
                if args.all {
                    let style = if e.matched { Style::Bold } else { Style::Plain };
                    cells.push(Cell::styled(verdict(e.matched), style));
                }
                let explanation = e.explanation.clone().unwrap_or_default();
                let detail = explanation.lines().map(str::to_string).collect();
                if args.explain {
                    cells.push(Cell::from(explanation));
                }
                Row { cells, detail }
            },
            || Doc::Value(event_json(e, args)),
        )?;
    }
    let mut members = serde_json::Map::new();
    members.insert("summary".into(), summary);
    printer.finish_with(members, None)?;
    Ok(())
}

/// Prints the sequences (or samples) found: a table row per group (its number and join keys)
/// with its events under it, a CSV record per event, `{label: n, join_keys, events: [ECS
/// documents]}` per group in json/ndjson.
fn write_groups(
    out: &mut dyn Write,
    format: Format,
    table: TableOptions,
    kind: Kind,
    groups: &[Group],
    summary: Value,
) -> anyhow::Result<()> {
    let label = kind.label();
    let mut columns = vec![
        Column::new(label, label).width(4, 10).priority(9),
        Column::new("join_keys", "join keys")
            .width(10, 80)
            .priority(8),
    ];
    columns.extend(event_columns(Show::Never));
    let json_key = if kind == Kind::Sample {
        "samples"
    } else {
        "sequences"
    };
    let mut printer = Printer::new(out, format, columns, json_key, table);
    for (i, g) in groups.iter().enumerate() {
        let n = (i + 1).to_string();
        let keys = g.join_keys.to_string();
        let doc =
            || Doc::Value(json!({label: i + 1, "join_keys": g.join_keys, "events": g.events}));
        if format == Format::Csv {
            for e in &g.events {
                printer.row(
                    || {
                        let mut cells = vec![Cell::from(n.as_str()), Cell::from(keys.as_str())];
                        cells.extend(event_cells(e));
                        Row::new(cells)
                    },
                    doc,
                )?;
            }
            continue;
        }
        printer.row(
            || Row {
                cells: vec![Cell::from(n.as_str()), Cell::from(keys.as_str())],
                detail: g
                    .events
                    .iter()
                    .map(|e| {
                        EVENT_FIELDS
                            .iter()
                            .map(|(_, _, field, ..)| first(e, field))
                            .filter(|v| !v.is_empty())
                            .collect::<Vec<_>>()
                            .join("  ")
                    })
                    .collect(),
            },
            doc,
        )?;
    }
    let mut members = serde_json::Map::new();
    members.insert("summary".into(), summary);
    printer.finish_with(members, None)?;
    Ok(())
}
