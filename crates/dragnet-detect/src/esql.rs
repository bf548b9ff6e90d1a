//! ES|QL rules: the query runs on DataFusion ([`dragnet_esql_exec`]) once per execution of
//! the rule's schedule, over the events of that execution's window.
//!
//! Kibana runs an ES|QL rule every `interval` over `[now - lookback, now]` (a range filter on
//! `@timestamp`, or `timestamp_override`, beside the query; exceptions as a negated filter),
//! with `NOW()` the execution time, and makes one alert per result row, at most `max_signals`
//! per execution (<https://www.elastic.co/docs/solutions/security/detect-and-alert/esql>):
//! - an aggregating query (`STATS`) gives alerts carrying the row's columns; overlapping
//!   executions can alert on the same row again, as Kibana's documentation warns;
//! - a non-aggregating query gives alerts with the source event's fields and the row's
//!   columns over them; with `METADATA _id` the alert's identity is the event's, so an event
//!   seen by two executions alerts once.
//!
//! dragnet keeps, per candidate event (those the prefilter and exceptions let through), only
//! the columns the optimized plan reads (DataFusion's projection pushdown names them), plus the
//! event's document for non-aggregating queries (in a temporary file, [`DocStore`]).

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dragnet_esql::{CommandKind, ExprKind, Literal, Query};
use dragnet_esql_exec::{
    Catalog, CellTable, Compiled, EsqlType, Executor, Mv, Options, Val, Warnings, compile,
    full_text_column,
};
use dragnet_event::literals::{Cnf, RequiredLiteral, all_of, any_of};
use dragnet_event::{Event, FieldId, FieldTable, Scalar};
use dragnet_rules::Rule;
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::aggregate::{DocStore, EventFields, Schedule, StoredDoc, format_ms, parse_ms};
use crate::detector::{
    DEFAULT_MAX_AGGREGATION_ENTRIES, Detection, Detector, DetectorOptions, DetectorStats,
    TableRequest, TableResult,
};
use crate::exceptions::{NOT_APPLIED_NOTE, Prepared, RuleExceptions, TimeRange};
use dragnet_alert::sha256_hex;

/// Kibana's `max_signals` default.
const DEFAULT_MAX_SIGNALS: usize = 100;

/// The CloudTrail data stream as `FROM` sees it: every field the mapping knows, typed.
pub struct CloudTrailCatalog {
    columns: Vec<(String, EsqlType)>,
    /// The query's `KQL("…")` texts: each becomes a hidden boolean column the detector fills
    /// by running dragnet's KQL engine on the event.
    kql: Vec<String>,
    /// Fields of the other sources a multi-source `FROM` names (`logs-gcp.audit-*`, …): not in
    /// the CloudTrail mapping, so every CloudTrail event has them null.
    /// Adds [`ROW_COLUMN`] (the row's position in the rule's time-sorted rows): the table of a
    /// query's row-local prefix ([`Split`]).
    row_column: bool,
    others: Mutex<Vec<String>>,
}

/// The column that carries each row's position through a query's row-local prefix.
const ROW_COLUMN: &str = "\u{2}row";

/// At most this many fields of other sources are added as null columns to one query.
const MAX_OTHER_SOURCE_FIELDS: usize = 256;

/// Whether `FROM` names data besides the CloudTrail data stream (another integration's
/// pattern, or a pattern broader than CloudTrail's such as `logs-*` or `filebeat-*`).
pub fn names_other_sources(query: &Query) -> bool {
    let CommandKind::From { indices, .. } = &query.source.kind else {
        return false;
    };
    indices
        .iter()
        .any(|i| !i.index.starts_with("logs-aws.cloudtrail"))
}

impl CloudTrailCatalog {
    /// The catalog for one query: only the columns it can reference (its field names, and the
    /// fields its KEEP/DROP wildcards match), when a `KEEP` or `STATS` decides the output's
    /// columns; every mapped field otherwise. DataFusion plans over the CloudTrail mapping's
    /// ~2,000 fields cost it seconds per query to optimize; over the referenced ones,
    /// milliseconds.
    pub fn for_query(schema: &dragnet_schema::Schema, query: &Query) -> CloudTrailCatalog {
        let mut catalog = CloudTrailCatalog::new(schema);
        for command in &query.pipes {
            if let CommandKind::Where(e) = &command.kind {
                collect_kql(e, &mut catalog.kql);
            }
        }
        let narrowing = query
            .pipes
            .iter()
            .any(|c| matches!(c.kind, CommandKind::Keep(_) | CommandKind::Stats { .. }));
        if !narrowing {
            return catalog;
        }
        let mut names: HashSet<String> = HashSet::new();
        let mut patterns: Vec<String> = Vec::new();
        let expr = |e: &dragnet_esql::Expr, names: &mut HashSet<String>| {
            let mut fields = Vec::new();
            collect_fields(e, &mut fields);
            names.extend(fields);
        };
        for command in &query.pipes {
            match &command.kind {
                CommandKind::Where(e) => expr(e, &mut names),
                CommandKind::Eval(fields) | CommandKind::Row(fields) => {
                    fields.iter().for_each(|f| expr(&f.expr, &mut names))
                }
                CommandKind::Stats {
                    aggregates, groups, ..
                } => {
                    for a in aggregates {
                        expr(&a.field.expr, &mut names);
                        if let Some(f) = &a.filter {
                            expr(f, &mut names);
                        }
                    }
                    groups.iter().for_each(|g| expr(&g.expr, &mut names));
                }
                CommandKind::Sort(keys) => keys.iter().for_each(|k| expr(&k.expr, &mut names)),
                CommandKind::Grok { input, .. } | CommandKind::Dissect { input, .. } => {
                    expr(input, &mut names)
                }
                CommandKind::Keep(ps) | CommandKind::Drop(ps) => {
                    for p in ps {
                        if p.contains('*') {
                            patterns.push(p.clone());
                        } else {
                            names.insert(p.clone());
                        }
                    }
                }
                CommandKind::Rename(renames) => renames.iter().for_each(|r| {
                    names.insert(r.old.clone());
                }),
                CommandKind::MvExpand(f) => {
                    names.insert(f.clone());
                }
                _ => {}
            }
        }
        catalog.columns.retain(|(name, _)| {
            names.contains(name)
                || patterns
                    .iter()
                    .any(|p| dragnet_esql_exec::wildcard_match(p, name))
        });
        catalog
    }

    /// The same catalog with [`ROW_COLUMN`].
    fn with_row_column(&self) -> CloudTrailCatalog {
        CloudTrailCatalog {
            columns: self.columns.clone(),
            kql: self.kql.clone(),
            row_column: true,
            others: Mutex::new(
                self.others
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone(),
            ),
        }
    }

    pub fn new(schema: &dragnet_schema::Schema) -> CloudTrailCatalog {
        let mut columns = Vec::new();
        for def in schema.fields() {
            let ty = EsqlType::of_field(def.ty);
            if matches!(
                def.ty,
                dragnet_schema::FieldType::Object | dragnet_schema::FieldType::Nested
            ) {
                continue;
            }
            columns.push((def.name.to_string(), ty));
            for sub in &def.multi_fields {
                columns.push((
                    format!("{}.{}", def.name, sub.name),
                    EsqlType::of_field(sub.ty),
                ));
            }
        }
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        columns.dedup_by(|a, b| a.0 == b.0);
        CloudTrailCatalog {
            columns,
            kql: Vec::new(),
            row_column: false,
            others: Mutex::new(Vec::new()),
        }
    }
}

/// The metadata fields `FROM … METADATA` can ask for, and their types.
const METADATA: &[(&str, EsqlType)] = &[
    ("_id", EsqlType::Keyword),
    ("_index", EsqlType::Keyword),
    ("_version", EsqlType::Long),
];

impl Catalog for CloudTrailCatalog {
    fn table(
        &self,
        _indices: &[dragnet_esql::IndexPattern],
        metadata: &[String],
    ) -> Result<Arc<CellTable>, String> {
        let mut columns = self.columns.clone();
        for other in self.others.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            columns.push((other.clone(), EsqlType::Keyword));
        }
        for q in &self.kql {
            columns.push((full_text_column("kql", q), EsqlType::Boolean));
        }

        for m in metadata {
            match METADATA.iter().find(|(name, _)| name == m) {
                Some((name, ty)) => {
                    columns.retain(|(n, _)| n != name);
                    columns.push((name.to_string(), *ty));
                }
                None => {
                    return Err(format!(
                        "metadata field [{m}] is not supported by dragnet (it knows _id, _index and _version)"
                    ));
                }
            }
        }
        // Last: every other column has the same index with and without it.
        if self.row_column {
            columns.push((ROW_COLUMN.to_string(), EsqlType::Long));
        }
        Ok(Arc::new(CellTable::new(columns)))
    }
}

/// One column the plan reads, and where its values come from.
#[derive(Clone, Debug)]
enum Source {
    Field(FieldId),
    /// `KQL("…")` run on the event by dragnet's KQL engine.
    Kql(Arc<dragnet_kql::CompiledQuery>),
    Id,
    Index,
    Version,
}

struct Needed {
    column: usize,
    ty: EsqlType,
    source: Source,
}

struct Row {
    time_ms: i64,
    identity: String,
    cells: Vec<Mv>,
    doc: Option<StoredDoc>,
}

#[derive(Default)]
struct State {
    rows: Vec<Row>,
    store: DocStore,
    matched: u64,
    over_budget: u64,
    bytes: u64,
}

/// A query cut after its leading row-local commands (`WHERE`, `EVAL`, `GROK`, `DISSECT`
/// without `NOW()`): their result for a row is the same in every execution that sees it, so
/// they run once over all the rule's rows and each execution runs only the rest over its
/// window's part of that result. ES|QL's commands compose, so `rest(prefix(rows))` is the
/// query's result; only the warnings of the prefix are given once, not per execution.
struct Split {
    prefix: Query,
    rest: Query,
}

/// What a rule's executions run: `prepared` over `table`, which holds for each execution
/// the slice of `rows` its window sees.
struct Feed {
    table: Arc<CellTable>,
    prepared: dragnet_esql_exec::Prepared,
    rows: dragnet_esql_exec::TableBatch,
    /// Split: the position, among the rule's rows, of each row of `rows` (ascending).
    row_of: Option<Vec<usize>>,
}

impl Feed {
    /// The range of `rows` the window `rows[start..end]` feeds, and its slice.
    fn window(&self, start: usize, end: usize) -> ((usize, usize), dragnet_esql_exec::TableBatch) {
        let (from, to) = match &self.row_of {
            None => (start, end),
            Some(row_of) => (
                row_of.partition_point(|&r| r < start),
                row_of.partition_point(|&r| r < end),
            ),
        };
        ((from, to), self.rows.slice(from, to - from))
    }
}

/// The split of `query`, when its leading commands are row-local and the rest is not empty.
fn split(query: &Query, text: &str) -> Option<Split> {
    let row_local = query
        .pipes
        .iter()
        .take_while(|c| {
            matches!(
                c.kind,
                CommandKind::Where(_)
                    | CommandKind::Eval(_)
                    | CommandKind::Grok { .. }
                    | CommandKind::Dissect { .. }
            ) && !text
                .get(c.span.start..c.span.end)
                .unwrap_or("now(")
                .to_ascii_lowercase()
                .contains("now(")
        })
        .count();
    if row_local == 0 || row_local == query.pipes.len() {
        return None;
    }
    let prefix = Query {
        settings: query.settings.clone(),
        source: query.source.clone(),
        pipes: query.pipes[..row_local].to_vec(),
    };
    let rest = Query {
        settings: query.settings.clone(),
        source: query.source.clone(),
        pipes: query.pipes[row_local..].to_vec(),
    };
    Some(Split { prefix, rest })
}

pub struct EsqlDetector {
    query: Query,
    split: Option<Split>,
    text: String,
    catalog: CloudTrailCatalog,
    needed: Vec<Needed>,
    aggregating: bool,
    uses_now: bool,
    time: EventFields,
    namespace: FieldId,
    schedule: Schedule,
    rule_id: String,
    max_signals: usize,
    exceptions: Option<Arc<RuleExceptions>>,
    range: TimeRange,
    state: Mutex<State>,
    budget: AtomicUsize,
    explain: AtomicBool,
    warnings: Mutex<Vec<String>>,
    table: Mutex<Option<TableRequest>>,
}

pub(crate) fn build(
    rule: &Rule,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
    extras: &Prepared,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    let text = rule
        .query
        .as_ref()
        .map(|q| q.as_str())
        .unwrap_or("")
        .to_string();
    let query = dragnet_esql::parse(&text).map_err(|e| RuleStatus::Invalid {
        reason: format!("ES|QL does not parse: {e}"),
    })?;
    if let Some(why) = dragnet_esql::unsupported(&query) {
        return Err(RuleStatus::Unsupported {
            reason: format!("ES|QL: {}", why.reason),
        });
    }
    let schedule = Schedule::of(rule, notes)?;
    let catalog = CloudTrailCatalog::for_query(schema, &query);
    let executor = Executor::new(dragnet_esql_exec::DEFAULT_MEMORY_LIMIT).map_err(|e| {
        RuleStatus::Unsupported {
            reason: format!("ES|QL: {e}"),
        }
    })?;
    let compiled = compile_over_cloudtrail(&query, &text, &catalog, notes).map_err(|e| {
        let reason = located(&text, e);
        RuleStatus::Unsupported {
            reason: format!("ES|QL: {reason}"),
        }
    })?;
    // A query that keeps few columns (KEEP, STATS: the catalog holds only those it names) is
    // split after its row-local commands when both parts plan; the prefix reads the events.
    let narrowed = query
        .pipes
        .iter()
        .any(|c| matches!(c.kind, CommandKind::Keep(_) | CommandKind::Stats { .. }));
    let split = split(&query, &text).filter(|_| narrowed).and_then(|s| {
        let prefix_catalog = catalog.with_row_column();
        let prefix = compile_with(
            &s.prefix,
            &text,
            &prefix_catalog,
            0,
            None,
            None,
            Warnings::default(),
        )
        .ok()?;
        let rest_columns: Vec<(String, EsqlType)> = prefix
            .columns
            .iter()
            .filter(|(n, _)| n != ROW_COLUMN)
            .cloned()
            .collect();
        if rest_columns.len() + 1 != prefix.columns.len() {
            return None;
        }
        let rest_table = Arc::new(CellTable::new(rest_columns));
        compile_with(
            &s.rest,
            &text,
            &rest_table,
            0,
            None,
            None,
            Warnings::default(),
        )
        .ok()?;
        let row = prefix.table.as_ref()?.index_of(ROW_COLUMN)?;
        let mut needed = executor.needed_columns(&prefix).ok()?;
        needed.retain(|&c| c != row);
        Some((s, needed))
    });
    let needed_columns = match &split {
        Some((_, needed)) => needed.clone(),
        None => executor
            .needed_columns(&compiled)
            .map_err(|reason| RuleStatus::Unsupported {
                reason: format!("ES|QL: {reason}"),
            })?,
    };
    let split = split.map(|(s, _)| s);
    let table = compiled
        .table
        .clone()
        .ok_or_else(|| RuleStatus::Unsupported {
            reason: "ES|QL: a rule's query must read events with FROM".into(),
        })?;
    let mut scratch = fields.clone();
    let needed: Vec<Needed> = needed_columns
        .into_iter()
        .map(|column| {
            let (name, ty) = table.columns()[column].clone();
            let source = match name.as_str() {
                "_id" => Source::Id,
                "_index" => Source::Index,
                "_version" => Source::Version,
                _ => match name.strip_prefix(&full_text_column("kql", "")) {
                    Some(kql) => Source::Kql(Arc::new(compile_kql(kql, schema, &mut scratch)?)),
                    None => Source::Field(scratch.intern(&name)),
                },
            };
            Ok(Needed { column, ty, source })
        })
        .collect::<Result<_, RuleStatus>>()?;
    let time = EventFields::intern(rule, &mut scratch);
    let namespace = scratch.intern("data_stream.namespace");
    *fields = scratch;
    let aggregating = query
        .pipes
        .iter()
        .any(|c| matches!(c.kind, CommandKind::Stats { .. }));
    let uses_now = text.to_ascii_lowercase().contains("now(");
    if rule.alert_suppression.is_some() {
        notes.push("alert_suppression not applied: every result row is reported".into());
    }
    if !rule.exceptions_list.is_empty() {
        notes.push(NOT_APPLIED_NOTE.into());
    }
    let exceptions = extras.for_rule(rule, schema, fields, notes)?;
    let cnf = required_literals(&query);
    Ok((
        Box::new(EsqlDetector {
            query,
            split,
            text,
            catalog,
            needed,
            aggregating,
            uses_now,
            time,
            namespace,
            schedule,
            rule_id: rule.rule_id.clone(),
            max_signals: rule.max_signals.map_or(DEFAULT_MAX_SIGNALS, |m| m as usize),
            exceptions,
            range: extras.range,
            state: Mutex::new(State::default()),
            budget: AtomicUsize::new(DEFAULT_MAX_AGGREGATION_ENTRIES),
            explain: AtomicBool::new(false),
            warnings: Mutex::new(Vec::new()),
            table: Mutex::new(None),
        }),
        cnf,
    ))
}

/// Compiles the query over CloudTrail. A `FROM` that also names other sources runs over its
/// CloudTrail part: a field only those sources map is null in every CloudTrail event (as in an
/// Elasticsearch index pattern spanning several mappings), with a note naming them.
pub fn compile_over_cloudtrail(
    query: &Query,
    text: &str,
    catalog: &CloudTrailCatalog,
    notes: &mut Vec<String>,
) -> Result<Compiled, dragnet_esql_exec::CompileError> {
    let multi = names_other_sources(query);
    loop {
        let options = Options {
            catalog,
            now_ms: 0,
            now_clock: None,
            default_limit: None,
            warnings: Warnings::default(),
        };
        match compile(query, text, &options) {
            Ok(c) => {
                let others = catalog.others.lock().unwrap_or_else(|e| e.into_inner());
                if !others.is_empty() {
                    notes.push(format!(
                        "FROM also names other sources: dragnet reads its CloudTrail part, where {} (mapped by the other sources only) are null",
                        others.join(", ")
                    ));
                }
                return Ok(c);
            }
            Err(e) => {
                let unknown = e
                    .message
                    .strip_prefix("Unknown column [")
                    .and_then(|r| r.strip_suffix(']'))
                    .map(str::to_string);
                let mut others = catalog.others.lock().unwrap_or_else(|e| e.into_inner());
                match unknown {
                    Some(field)
                        if multi
                            && others.len() < MAX_OTHER_SOURCE_FIELDS
                            && !others.contains(&field) =>
                    {
                        others.push(field)
                    }
                    _ => return Err(e),
                }
            }
        }
    }
}

fn compile_at(
    query: &Query,
    text: &str,
    catalog: &CloudTrailCatalog,
    now_ms: i64,
    limit: Option<usize>,
    warnings: Warnings,
) -> Result<Compiled, String> {
    compile_with(query, text, catalog, now_ms, None, limit, warnings)
}

fn compile_with(
    query: &Query,
    text: &str,
    catalog: &dyn Catalog,
    now_ms: i64,
    now_clock: Option<Arc<AtomicI64>>,
    limit: Option<usize>,
    warnings: Warnings,
) -> Result<Compiled, String> {
    let options = Options {
        catalog,
        now_ms,
        now_clock,
        default_limit: limit,
        warnings,
    };
    compile(query, text, &options).map_err(|e| located(text, e))
}

/// A compile error as `line:col: message` (the position in the rule's query text).
fn located(text: &str, e: dragnet_esql_exec::CompileError) -> String {
    match e.span {
        Some(span) => {
            let (line, col) = dragnet_esql::line_col(text, span.start);
            format!("{line}:{col}: {}", e.message)
        }
        None => e.message,
    }
}

/// The source fields the query's decisions depend on: those that flow, through `EVAL`,
/// `STATS` and `RENAME`, into a `WHERE`, a `STATS … BY` key, a `SORT` key, `MV_EXPAND` or a
/// `GROK`/`DISSECT` input; not those only carried to the output (`VALUES(source.geo.…)`). For
/// the enrichment check: a rule whose decisions read `source.geo.*` needs `--geoip-db`.
pub fn logic_fields(text: &str) -> Vec<String> {
    use std::collections::{BTreeSet, HashMap};
    let Ok(query) = dragnet_esql::parse(text) else {
        return Vec::new();
    };
    let mut derived: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut logic: BTreeSet<String> = BTreeSet::new();
    let deps = |e: &dragnet_esql::Expr, derived: &HashMap<String, BTreeSet<String>>| {
        let mut fields = Vec::new();
        collect_fields(e, &mut fields);
        let mut out = BTreeSet::new();
        for f in fields {
            match derived.get(&f) {
                Some(d) => out.extend(d.iter().cloned()),
                None => {
                    out.insert(f);
                }
            }
        }
        out
    };
    for command in &query.pipes {
        match &command.kind {
            CommandKind::Where(e) => logic.extend(deps(e, &derived)),
            CommandKind::Eval(fields) => {
                for f in fields {
                    let d = deps(&f.expr, &derived);
                    derived.insert(f.name.clone(), d);
                }
            }
            CommandKind::Stats {
                aggregates, groups, ..
            } => {
                let mut next = HashMap::new();
                for a in aggregates {
                    let mut d = deps(&a.field.expr, &derived);
                    if let Some(f) = &a.filter {
                        d.extend(deps(f, &derived));
                    }
                    next.insert(a.field.name.clone(), d);
                }
                for g in groups {
                    let d = deps(&g.expr, &derived);
                    logic.extend(d.iter().cloned());
                    next.insert(g.name.clone(), d);
                }
                derived.extend(next);
            }
            CommandKind::Rename(renames) => {
                for r in renames {
                    let d = derived
                        .get(&r.old)
                        .cloned()
                        .unwrap_or_else(|| BTreeSet::from([r.old.clone()]));
                    derived.insert(r.new.clone(), d);
                }
            }
            CommandKind::Sort(keys) => keys
                .iter()
                .for_each(|k| logic.extend(deps(&k.expr, &derived))),
            CommandKind::Grok { input, .. } | CommandKind::Dissect { input, .. } => {
                logic.extend(deps(input, &derived))
            }
            CommandKind::MvExpand(f) => {
                logic.extend(
                    derived
                        .get(f)
                        .cloned()
                        .unwrap_or_else(|| BTreeSet::from([f.clone()])),
                );
            }
            _ => {}
        }
    }
    logic.into_iter().collect()
}

/// The fields the query's `KQL("…")` calls read (resolved against `schema`: wildcards
/// expanded), for the enrichment check; a KQL query that does not compile reads nothing here
/// (the rule is accounted invalid elsewhere).
pub fn kql_fields(text: &str, schema: &dragnet_schema::Schema) -> Vec<String> {
    let Ok(query) = dragnet_esql::parse(text) else {
        return Vec::new();
    };
    let mut kql = Vec::new();
    for command in &query.pipes {
        if let CommandKind::Where(e) = &command.kind {
            collect_kql(e, &mut kql);
        }
    }
    let mut table = FieldTable::new();
    kql.iter()
        .filter_map(|q| compile_kql(q, schema, &mut table).ok())
        .flat_map(|c| {
            c.fields()
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The KQL query of every `KQL("…")` call in `e` (a constant string argument).
fn collect_kql(e: &dragnet_esql::Expr, out: &mut Vec<String>) {
    each_expr(e, &mut |e| {
        if let ExprKind::Call { name, args, .. } = &e.kind
            && name.eq_ignore_ascii_case("kql")
            && let [a] = args.as_slice()
            && let ExprKind::Literal(Literal::String(q)) = &a.kind
            && !out.contains(q)
        {
            out.push(q.clone());
        }
    });
}

/// A `KQL("…")` argument compiled by dragnet's KQL engine against the CloudTrail mapping, as
/// Elasticsearch runs it against the index (the rule is invalid when the KQL is).
fn compile_kql(
    text: &str,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
) -> Result<dragnet_kql::CompiledQuery, RuleStatus> {
    let query = dragnet_kql::parse(text).map_err(|e| RuleStatus::Invalid {
        reason: format!("ES|QL: the query of KQL(\"{text}\") does not parse: {e}"),
    })?;
    dragnet_kql::compile(&query, schema, fields).map_err(|e| RuleStatus::Invalid {
        reason: format!("ES|QL: the query of KQL(\"{text}\") does not compile: {e}"),
    })
}

fn collect_fields(e: &dragnet_esql::Expr, out: &mut Vec<String>) {
    each_expr(e, &mut |e| match &e.kind {
        ExprKind::Field(f) | ExprKind::Match { field: f, .. } => out.push(f.clone()),
        _ => {}
    });
}

/// Calls `f` with `e` and every expression under it, parents first.
fn each_expr(e: &dragnet_esql::Expr, f: &mut dyn FnMut(&dragnet_esql::Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Call { args, .. } => args.iter().for_each(|a| each_expr(a, f)),
        ExprKind::Neg(x) | ExprKind::Not(x) => each_expr(x, f),
        ExprKind::And(items) | ExprKind::Or(items) => items.iter().for_each(|a| each_expr(a, f)),
        ExprKind::Binary { left, right, .. } => {
            each_expr(left, f);
            each_expr(right, f);
        }
        ExprKind::In { expr, list, .. } => {
            each_expr(expr, f);
            list.iter().for_each(|a| each_expr(a, f));
        }
        ExprKind::Like { expr, patterns, .. } => {
            each_expr(expr, f);
            patterns.iter().for_each(|a| each_expr(a, f));
        }
        ExprKind::IsNull { expr, .. } | ExprKind::Cast { expr, .. } => each_expr(expr, f),
        ExprKind::Match { query, .. } => each_expr(query, f),
        ExprKind::Field(_) | ExprKind::Literal(_) | ExprKind::Param(_) => {}
    }
}

/// What every row the query keeps must contain, from the `WHERE`s before the first command
/// that renames or aggregates: equalities, `IN` lists and `LIKE` patterns on source fields.
pub fn required_literals(query: &Query) -> Cnf {
    let mut defined: HashSet<String> = HashSet::new();
    let mut facts = Vec::new();
    for command in &query.pipes {
        match &command.kind {
            CommandKind::Where(cond) => facts.push(where_facts(cond, &defined)),
            CommandKind::Eval(fields) => defined.extend(fields.iter().map(|f| f.name.clone())),
            CommandKind::Grok { .. }
            | CommandKind::Dissect { .. }
            | CommandKind::Rename(_)
            | CommandKind::MvExpand(_) => {
                // Their outputs are not known here without compiling: stop deriving.
                break;
            }
            CommandKind::Stats { .. }
            | CommandKind::Other { .. }
            | CommandKind::Enrich { .. }
            | CommandKind::LookupJoin { .. } => break,
            _ => {}
        }
    }
    all_of(facts)
}

fn where_facts(e: &dragnet_esql::Expr, defined: &HashSet<String>) -> Cnf {
    let source_field = |e: &dragnet_esql::Expr| match &e.kind {
        ExprKind::Field(f) if !defined.contains(f) && !f.starts_with('_') => Some(f.clone()),
        _ => None,
    };
    let string = |e: &dragnet_esql::Expr| match &e.kind {
        ExprKind::Literal(Literal::String(s)) => Some(s.clone()),
        _ => None,
    };
    let exact = |field: &str, literal: String| RequiredLiteral {
        field: field.to_string(),
        literal,
        exact: true,
        prefix: false,
        case_sensitive: true,
    };
    match &e.kind {
        ExprKind::And(items) => all_of(items.iter().map(|i| where_facts(i, defined))),
        ExprKind::Or(items) => any_of(items.iter().map(|i| where_facts(i, defined))),
        ExprKind::Binary {
            op: dragnet_esql::BinaryOp::Eq,
            left,
            right,
        } => {
            match (
                source_field(left),
                string(right),
                source_field(right),
                string(left),
            ) {
                (Some(f), Some(s), _, _) | (_, _, Some(f), Some(s)) => vec![vec![exact(&f, s)]],
                _ => Vec::new(),
            }
        }
        ExprKind::In {
            expr,
            list,
            negated: false,
        } => {
            let Some(f) = source_field(expr) else {
                return Vec::new();
            };
            let mut clause = Vec::new();
            for item in list {
                match string(item) {
                    Some(s) => clause.push(exact(&f, s)),
                    None => return Vec::new(),
                }
            }
            if clause.is_empty() {
                Vec::new()
            } else {
                vec![clause]
            }
        }
        ExprKind::Like {
            expr,
            patterns,
            regex: false,
            negated: false,
        } => {
            let Some(f) = source_field(expr) else {
                return Vec::new();
            };
            let mut clause = Vec::new();
            for p in patterns {
                let Some(text) = string(p) else {
                    return Vec::new();
                };
                // `\` escapes and `?` make the runs ambiguous: no fact (sound).
                if text.contains('\\') || text.contains('?') {
                    return Vec::new();
                }
                let runs: Vec<&str> = text.split('*').collect();
                let Some((i, longest)) = runs.iter().enumerate().max_by_key(|(_, r)| r.len())
                else {
                    return Vec::new();
                };
                if longest.is_empty() {
                    return Vec::new();
                }
                clause.push(RequiredLiteral {
                    field: f.clone(),
                    literal: longest.to_string(),
                    exact: runs.len() == 1,
                    prefix: i == 0,
                    case_sensitive: true,
                });
            }
            if clause.is_empty() {
                Vec::new()
            } else {
                vec![clause]
            }
        }
        _ => Vec::new(),
    }
}

/// A field's values as ES|QL reads them from doc values: keyword values sorted and
/// de-duplicated, numbers and booleans sorted.
fn cell(event: &dyn Event, field: FieldId, ty: EsqlType) -> Mv {
    let mut out: Mv = Vec::new();
    let _ = event.visit(field, &mut |v| {
        if let Some(x) = convert(v, ty) {
            out.push(x);
        }
        ControlFlow::Continue(())
    });
    if out.len() > 1 {
        out.sort_by(|a, b| match (a, b) {
            (Val::Double(x), Val::Double(y)) => x.total_cmp(y),
            _ => a.compare(b).unwrap_or(std::cmp::Ordering::Equal),
        });
        if matches!(ty, EsqlType::Keyword | EsqlType::Ip | EsqlType::Version) {
            out.dedup();
        }
    }
    out
}

fn convert(v: Scalar<'_>, ty: EsqlType) -> Option<Val> {
    Some(match ty {
        EsqlType::Keyword | EsqlType::Text | EsqlType::Version => {
            Val::Str(v.to_keyword().into_owned())
        }
        EsqlType::Ip => Val::Str(dragnet_esql_exec::functions::ip_text(&v.to_keyword())?),
        EsqlType::Long => match v {
            Scalar::Int(i) => Val::Long(i),
            Scalar::Float(f) if f.is_finite() => Val::Long(f.trunc() as i64),
            Scalar::Str(s) => Val::Long(s.trim().parse().ok()?),
            _ => return None,
        },
        EsqlType::Integer => match v {
            Scalar::Int(i) => Val::Int(i32::try_from(i).ok()?),
            Scalar::Float(f) if f.is_finite() => Val::Int(i32::try_from(f.trunc() as i64).ok()?),
            Scalar::Str(s) => Val::Int(s.trim().parse().ok()?),
            _ => return None,
        },
        EsqlType::UnsignedLong => match v {
            Scalar::Int(i) => Val::ULong(u64::try_from(i).ok()?),
            Scalar::Str(s) => Val::ULong(s.trim().parse().ok()?),
            _ => return None,
        },
        EsqlType::Double => match v {
            Scalar::Int(i) => Val::Double(i as f64),
            Scalar::Float(f) => Val::Double(f),
            Scalar::Str(s) => Val::Double(s.trim().parse().ok()?),
            Scalar::Bool(_) => return None,
        },
        EsqlType::Boolean => match v {
            Scalar::Bool(b) => Val::Bool(b),
            Scalar::Str("true") => Val::Bool(true),
            Scalar::Str("false") => Val::Bool(false),
            _ => return None,
        },
        EsqlType::Date => Val::Date(parse_ms(v)?),
        _ => return None,
    })
}

/// The backing index Elasticsearch would have written the event to: the data stream's
/// first generation, named after the day of the event (the rollover day is unknowable).
fn backing_index(namespace: &str, time_ms: i64) -> String {
    let day = format_ms(time_ms);
    let day = day.get(..10).unwrap_or("1970-01-01").replace('-', ".");
    format!(".ds-logs-aws.cloudtrail-{namespace}-{day}-000001")
}

impl Detector for EsqlDetector {
    fn prepare(&self, options: &DetectorOptions) {
        self.budget.store(
            options
                .max_aggregation_entries
                .unwrap_or(DEFAULT_MAX_AGGREGATION_ENTRIES),
            Ordering::Relaxed,
        );
        *self.table.lock().unwrap_or_else(|e| e.into_inner()) = options.esql_table.clone();
    }

    fn stats(&self) -> Option<DetectorStats> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Some(DetectorStats {
            matched: state.matched,
            entries: state.rows.len() as u64,
            bytes: state.bytes,
        })
    }

    fn warnings(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = self
            .warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if state.over_budget > 0 {
            out.push(format!(
                "limit max-aggregation-entries ({}) reached: {} events were left out of this ES|QL rule's rows, so its alerts may be missing; raise it with --max-aggregation-entries N or narrow the input (--from/--to)",
                self.budget.load(Ordering::Relaxed),
                state.over_budget
            ));
        }
        out
    }

    fn on_event(&self, event: &dyn Event, explain: bool, _out: &mut Vec<Detection>) {
        if self
            .exceptions
            .as_ref()
            .is_some_and(|x| x.excepts(event, explain))
        {
            return;
        }
        if explain {
            self.explain.store(true, Ordering::Relaxed);
        }
        let ad_hoc = self
            .table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        // Without a time an event falls in no window, as Kibana's range filter excludes it
        // (an ad-hoc query has no window: it reads every event).
        let time_ms = match self.time.time_ms(event) {
            Some(t) => t,
            None if ad_hoc => i64::MIN,
            None => return,
        };
        if time_ms != i64::MIN && !self.range.contains(time_ms) {
            return;
        }
        let identity = self.time.event_id(event).unwrap_or_default();
        let mut namespace = String::from("default");
        let _ = event.visit(self.namespace, &mut |v| {
            namespace = v.to_keyword().into_owned();
            ControlFlow::Break(())
        });
        let cells: Vec<Mv> = self
            .needed
            .iter()
            .map(|n| match &n.source {
                Source::Field(id) => cell(event, *id, n.ty),
                Source::Kql(query) => vec![Val::Bool(query.matches(event))],
                Source::Id if identity.is_empty() => Vec::new(),
                Source::Id => vec![Val::Str(identity.clone())],
                Source::Index => vec![Val::Str(backing_index(&namespace, time_ms))],
                Source::Version => vec![Val::Long(1)],
            })
            .collect();
        let doc = if self.aggregating || ad_hoc {
            None
        } else {
            Some(
                event
                    .to_document()
                    .map_or_else(|| "{}".to_string(), |d| d.to_string()),
            )
        };
        let bytes: u64 = cells
            .iter()
            .flatten()
            .map(|v| match v {
                Val::Str(s) => s.len() as u64 + 32,
                _ => 32,
            })
            .sum::<u64>()
            + 64
            + identity.len() as u64;
        let budget = self.budget.load(Ordering::Relaxed);
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *guard;
        state.matched += 1;
        if state.rows.len() >= budget {
            state.over_budget += 1;
            return;
        }
        let doc = doc.map(|d| state.store.put(d.as_bytes()));
        state.bytes += bytes;
        state.rows.push(Row {
            time_ms,
            identity,
            cells,
            doc,
        });
    }

    fn finish_into(&self, sink: &mut dyn FnMut(Detection)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows = std::mem::take(&mut state.rows);
        rows.sort_by(|a, b| {
            a.time_ms
                .cmp(&b.time_ms)
                .then_with(|| a.identity.cmp(&b.identity))
        });
        // The same record delivered twice (same eventID) is one event.
        rows.dedup_by(|a, b| {
            !a.identity.is_empty() && a.identity == b.identity && a.time_ms == b.time_ms
        });
        let request = self.table.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(request) = request {
            let result = self.run_once(&rows, &request);
            *request.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            return;
        }
        if rows.is_empty() {
            return;
        }
        let executor = match Executor::new(dragnet_esql_exec::DEFAULT_MEMORY_LIMIT) {
            Ok(e) => e,
            Err(e) => {
                self.warn(format!("ES|QL rule not run: {e}"));
                return;
            }
        };
        let warnings = Warnings::default();
        // Planned and optimized once; each execution sets the clock NOW() reads and the rows.
        let clock = Arc::new(AtomicI64::new(0));
        let columns: Vec<usize> = self.needed.iter().map(|n| n.column).collect();
        let feed = match self.feed(&mut rows, &columns, &executor, &clock, &warnings) {
            Ok(feed) => feed,
            Err(e) => {
                self.warn(e);
                return;
            }
        };
        let mut alerted: HashSet<String> = HashSet::new();
        let (interval, lookback) = (self.schedule.interval_ms, self.schedule.lookback_ms);
        // Executions whose window holds at least one event, in time order: each row is seen
        // by the executions from the first at or after it to the last whose look-back reaches
        // it; overlapping spans merge.
        let mut spans: Vec<(i64, i64)> = Vec::new();
        for r in &rows {
            let first = self.schedule.run_at_or_after(r.time_ms);
            let last = first + (r.time_ms + lookback - first).div_euclid(interval) * interval;
            match spans.last_mut() {
                Some((_, end)) if first <= *end + interval => *end = (*end).max(last),
                _ => spans.push((first, last)),
            }
        }
        let mut failures = 0u64;
        // Executions that see the same rows get the same result (the query has no NOW()): run
        // once, alert per execution (Kibana's alert ids differ per execution).
        let mut last: Option<((usize, usize), dragnet_esql_exec::ResultTable)> = None;
        for (first, end_t) in spans {
            let mut t = first;
            while t <= end_t {
                let start = rows.partition_point(|r| r.time_ms < t - lookback);
                let end = rows.partition_point(|r| r.time_ms <= t);
                let window_at = t;
                t += interval;
                if start >= end {
                    continue;
                }
                let window = &rows[start..end];
                let (fed, batch) = feed.window(start, end);
                let reuse = !self.uses_now && last.as_ref().is_some_and(|(range, _)| *range == fed);
                if !reuse {
                    clock.store(window_at, Ordering::Relaxed);
                    feed.table.set_batches(vec![batch]);
                    let result = executor.run_prepared(&feed.prepared);
                    feed.table.set_batches(Vec::new());
                    match result {
                        Ok(result) => last = Some((fed, result)),
                        Err(e) => {
                            last = None;
                            failures += 1;
                            if failures == 1 {
                                self.warn(format!(
                                    "ES|QL rule failed at execution {}: {e}",
                                    format_ms(window_at)
                                ));
                            }
                            continue;
                        }
                    }
                }
                if let Some((_, result)) = &last {
                    for row in &result.rows {
                        if let Some(d) = self.detection(
                            &result.columns,
                            row.clone(),
                            window_at,
                            window,
                            &mut state.store,
                            &mut alerted,
                        ) {
                            sink(d);
                        }
                    }
                }
            }
        }
        if failures > 1 {
            self.warn(format!("ES|QL rule failed at {failures} executions in all"));
        }
        let (lines, dropped) = warnings.lines();
        if !lines.is_empty() {
            let mut w = format!("ES|QL warnings ({} lines", lines.len());
            if dropped > 0 {
                w.push_str(&format!(", {dropped} more left out"));
            }
            w.push_str("): ");
            w.push_str(
                &lines
                    .iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" / "),
            );
            self.warn(w);
        }
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        self.finish_into(&mut |d| out.push(d));
    }
}

fn json_value(v: &Val) -> Value {
    match v {
        Val::Str(s) => json!(s),
        Val::Long(x) => json!(x),
        Val::Int(x) => json!(x),
        Val::ULong(x) => json!(x),
        Val::Double(x) => json!(x),
        Val::Bool(x) => json!(x),
        Val::Date(ms) => json!(format_ms(*ms)),
    }
}

fn json_cell(cell: &Mv) -> Option<Value> {
    match cell.as_slice() {
        [] => None,
        [one] => Some(json_value(one)),
        many => Some(Value::Array(many.iter().map(json_value).collect())),
    }
}

impl EsqlDetector {
    /// The ad-hoc run of `dragnet esql`: one execution over every row.
    /// What the executions read: the whole query over a slice of the rows, or (split) the
    /// rest of the query over a slice of the prefix's output, computed here once.
    fn feed(
        &self,
        rows: &mut [Row],
        columns: &[usize],
        executor: &Executor,
        clock: &Arc<AtomicI64>,
        warnings: &Warnings,
    ) -> Result<Feed, String> {
        let plan = |query: &Query, catalog: &dyn Catalog, clock: Option<Arc<AtomicI64>>, limit| {
            let compiled = compile_with(
                query,
                &self.text,
                catalog,
                0,
                clock,
                limit,
                warnings.clone(),
            )
            .map_err(|e| format!("ES|QL rule failed to plan: {e}"))?;
            let prepared = executor
                .prepare(&compiled)
                .map_err(|e| format!("ES|QL rule failed to plan: {e}"))?;
            Ok::<_, String>((compiled, prepared))
        };
        let built = |e: String| format!("ES|QL rule failed to build its rows: {e}");
        // The cells move into Arrow columns (the rows keep their time, identity and document).
        let cells: Vec<Vec<Mv>> = rows
            .iter_mut()
            .map(|r| std::mem::take(&mut r.cells))
            .collect();
        let Some(split) = &self.split else {
            let (compiled, prepared) = plan(
                &self.query,
                &self.catalog,
                Some(clock.clone()),
                Some(self.max_signals),
            )?;
            let table = compiled.table.ok_or("ES|QL rule reads no table")?;
            // Every row once, in time order: each execution reads the slice its window holds.
            let all = table
                .batch(columns, &cells)
                .map_err(|e| built(e.to_string()))?;
            return Ok(Feed {
                table,
                prepared,
                rows: all,
                row_of: None,
            });
        };
        // The prefix, once over every row (each tagged with its position).
        let prefix_catalog = self.catalog.with_row_column();
        let (compiled, prepared) = plan(&split.prefix, &prefix_catalog, None, None)?;
        let table = compiled.table.ok_or("ES|QL rule reads no table")?;
        let row_column = table.index_of(ROW_COLUMN).ok_or("no row column")?;
        let mut tagged_columns = columns.to_vec();
        tagged_columns.push(row_column);
        let batch = {
            let tagged: Vec<Vec<Mv>> = cells
                .into_iter()
                .enumerate()
                .map(|(i, mut c)| {
                    c.push(vec![Val::Long(i as i64)]);
                    c
                })
                .collect();
            table
                .batch(&tagged_columns, &tagged)
                .map_err(|e| built(e.to_string()))?
        };
        table.set_batches(vec![batch]);
        let out = executor.run_prepared_table(&prepared);
        table.set_batches(Vec::new());
        let out = out.map_err(|e| format!("ES|QL rule failed: {e}"))?;
        // The rest, over the prefix's output columns (all but the row's position).
        let position = compiled
            .columns
            .iter()
            .position(|(n, _)| n == ROW_COLUMN)
            .ok_or("the row column did not reach the prefix's output")?;
        let rest_columns: Vec<(String, EsqlType)> = compiled
            .columns
            .iter()
            .filter(|(n, _)| n != ROW_COLUMN)
            .cloned()
            .collect();
        let rest_table = Arc::new(CellTable::new(rest_columns));
        let mut row_of = Vec::with_capacity(out.rows);
        let mut arrays = Vec::new();
        for (c, array) in &out.columns {
            if *c == position {
                let positions = dragnet_esql_exec::value::Column::new(array, EsqlType::Long);
                for i in 0..out.rows {
                    match positions.get(i).first() {
                        Some(Val::Long(r)) => row_of.push(*r as usize),
                        _ => return Err("ES|QL rule failed: a prefix row lost its position".into()),
                    }
                }
            } else {
                arrays.push((arrays.len(), array.clone()));
            }
        }
        let (_, rest_prepared) = plan(
            &split.rest,
            &rest_table,
            Some(clock.clone()),
            Some(self.max_signals),
        )?;
        Ok(Feed {
            table: rest_table,
            prepared: rest_prepared,
            rows: dragnet_esql_exec::TableBatch {
                rows: row_of.len(),
                columns: arrays,
            },
            row_of: Some(row_of),
        })
    }

    fn run_once(&self, rows: &[Row], request: &TableRequest) -> TableResult {
        let warnings = Warnings::default();
        let failed = |e: String| TableResult {
            table: Err(e),
            warnings: Vec::new(),
            rows_fed: rows.len(),
        };
        let executor = match Executor::new(dragnet_esql_exec::DEFAULT_MEMORY_LIMIT) {
            Ok(e) => e,
            Err(e) => return failed(e),
        };
        let compiled = match compile_at(
            &self.query,
            &self.text,
            &self.catalog,
            request.now_ms,
            request.limit,
            warnings.clone(),
        ) {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
        if let Some(table) = &compiled.table {
            let columns: Vec<usize> = self.needed.iter().map(|n| n.column).collect();
            let cells: Vec<Vec<Mv>> = rows.iter().map(|r| r.cells.clone()).collect();
            match table.batch(&columns, &cells) {
                Ok(batch) => table.set_batches(vec![batch]),
                Err(e) => return failed(e.to_string()),
            }
        }
        let table = executor.run(&compiled);
        let (mut lines, dropped) = warnings.lines();
        if dropped > 0 {
            lines.push(format!(
                "{dropped} more warning lines left out (at most {} are kept)",
                dragnet_esql_exec::MAX_WARNING_LINES
            ));
        }
        TableResult {
            table,
            warnings: lines,
            rows_fed: rows.len(),
        }
    }

    fn warn(&self, message: String) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }

    fn detection(
        &self,
        columns: &[(String, EsqlType)],
        row: Vec<Mv>,
        execution_ms: i64,
        window: &[Row],
        store: &mut DocStore,
        alerted: &mut HashSet<String>,
    ) -> Option<Detection> {
        let mut fields = Map::new();
        for ((name, _), cell) in columns.iter().zip(&row) {
            if let Some(v) = json_cell(cell) {
                fields.insert(name.clone(), v);
            }
        }
        let cell_of = |name: &str| {
            columns
                .iter()
                .position(|(n, _)| n == name)
                .and_then(|i| json_cell(&row[i]))
        };
        let event_id = cell_of("_id").and_then(|v| v.as_str().map(str::to_string));
        let explanation = self.explain.load(Ordering::Relaxed).then(|| {
            json!({
                "execution": format_ms(execution_ms),
                "window": {"from": format_ms(execution_ms - self.schedule.lookback_ms), "to": format_ms(execution_ms)},
                "row": Value::Object(fields.clone()),
            })
        });
        if !self.aggregating
            && let Some(id) = &event_id
        {
            // Kibana: the alert's identity is the source event's (`_id`, `_index`, `_version`),
            // so an event seen by overlapping executions alerts once.
            let identity = sha256_hex(format!("{}\u{1f}{id}", self.rule_id).as_bytes());
            if !alerted.insert(identity.clone()) {
                return None;
            }
            let source = window.iter().find(|r| &r.identity == id)?;
            let mut doc: Map<String, Value> = match source.doc.map(|d| store.get(d)) {
                Some(text) => serde_json::from_str::<Value>(&text)
                    .ok()?
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                None => Map::new(),
            };
            for (k, v) in fields {
                if !k.starts_with('_') {
                    doc.insert(k, v);
                }
            }
            let timestamp = Some(format_ms(source.time_ms));
            return Some(Detection::Document {
                ecs: Value::Object(doc),
                id: identity,
                index: dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
                timestamp,
                explanation,
            });
        }
        // One alert per row and execution (overlapping executions may repeat a row).
        let mut key = format!("{}\u{1f}{execution_ms}", self.rule_id);
        for ((name, _), cell) in columns.iter().zip(&row) {
            key.push('\u{1f}');
            key.push_str(name);
            key.push('=');
            key.push_str(&json_cell(cell).map(|v| v.to_string()).unwrap_or_default());
        }
        let id = sha256_hex(key.as_bytes());
        let timestamp = format_ms(execution_ms);
        let mut doc = fields;
        doc.retain(|k, _| !k.starts_with('_'));
        doc.insert("@timestamp".into(), json!(timestamp));
        Some(Detection::Document {
            ecs: Value::Object(doc),
            id,
            index: dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
            timestamp: Some(timestamp),
            explanation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_literals_feed_the_prefilter() {
        let q = dragnet_esql::parse(
            "from logs-aws.cloudtrail-* | where event.provider == \"s3.amazonaws.com\" and event.action in (\"A\", \"B\") and user_agent.original like \"*aws-cli*\" | stats c = count(*) by source.ip | where c > 3",
        )
        .unwrap();
        let cnf = required_literals(&q);
        assert_eq!(cnf.len(), 3);
        assert_eq!(cnf[0][0].literal, "s3.amazonaws.com");
        assert_eq!(cnf[1].len(), 2);
        assert_eq!(cnf[2][0].literal, "aws-cli");
        assert!(!cnf[2][0].exact);
        // A field an EVAL redefined says nothing about the event.
        let q =
            dragnet_esql::parse("from x | eval event.action = \"A\" | where event.action == \"A\"")
                .unwrap();
        assert!(required_literals(&q).is_empty());
        let q = dragnet_esql::parse("from x | where event.action == \"A\" or source.ip is null")
            .unwrap();
        assert!(required_literals(&q).is_empty());
    }

    #[test]
    fn logic_fields_follow_values_into_conditions_and_keys() {
        let fields = logic_fields(
            "from x | eval c = source.geo.country_name | stats n = count_distinct(c), v = values(source.as.organization.name) by user.name | where n >= 2",
        );
        assert_eq!(fields, ["source.geo.country_name", "user.name"]);
    }

    #[test]
    fn other_sources_fields_are_null_only_when_from_names_other_sources() {
        let catalog = CloudTrailCatalog::new(dragnet_schema::Schema::builtin());
        let text = "from logs-aws.cloudtrail-*, logs-gcp.audit-* | where gcp.audit.method_name == \"x\" or event.action == \"y\"";
        let q = dragnet_esql::parse(text).unwrap();
        let mut notes = Vec::new();
        assert!(compile_over_cloudtrail(&q, text, &catalog, &mut notes).is_ok());
        assert!(notes[0].contains("gcp.audit.method_name"), "{notes:?}");
        let catalog = CloudTrailCatalog::new(dragnet_schema::Schema::builtin());
        let text = "from logs-aws.cloudtrail-* | where gcp.audit.method_name == \"x\"";
        let q = dragnet_esql::parse(text).unwrap();
        let Err(err) = compile_over_cloudtrail(&q, text, &catalog, &mut Vec::new()) else {
            panic!("a column no source maps must be an error");
        };
        assert_eq!(err.message, "Unknown column [gcp.audit.method_name]");
    }

    #[test]
    fn split_cuts_after_the_leading_row_local_commands_without_now() {
        let cut = |q: &str| {
            let query = dragnet_esql::parse(q).unwrap();
            split(&query, q).map(|s| (s.prefix.pipes.len(), s.rest.pipes.len()))
        };
        assert_eq!(
            cut(
                "FROM logs-* | WHERE a == 1 | EVAL b = 2 | GROK c \"%{WORD:d}\" | STATS n = COUNT(*) BY b | WHERE n > 1"
            ),
            Some((3, 2))
        );
        // NOW() differs per execution: the command stays with the rest.
        assert_eq!(
            cut(
                "FROM logs-* | WHERE a == 1 | WHERE @timestamp > NOW() - 1 hour | STATS n = COUNT(*)"
            ),
            Some((1, 2))
        );
        // Nothing row-local first, or nothing after it: no split.
        assert_eq!(cut("FROM logs-* | STATS n = COUNT(*) | WHERE n > 1"), None);
        assert_eq!(cut("FROM logs-* | WHERE a == 1 | EVAL b = 2"), None);
    }

    #[test]
    fn backing_index_names_follow_the_data_stream() {
        assert_eq!(
            backing_index("default", 0),
            ".ds-logs-aws.cloudtrail-default-1970.01.01-000001"
        );
    }
}
