//! The fuzz targets of dragnet, one function per target, each driving the public API the CLI
//! uses on one input. A panic is a crash. The AFL binaries (`src/bin/*.rs`) call these, and so
//! does the main workspace's `crates/dragnet/tests/fuzz_regressions.rs` (which includes this
//! file) for every input kept in `fuzz/regressions/<target>/`, so a crash found once stays
//! fixed. This file depends on dragnet's crates only (not on `afl`) for that reason.

use std::io::Cursor;
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};

use dragnet_cloudtrail::{CloudTrailEvent, Mapper, MapperOptions};
use dragnet_event::{Event, FieldTable};
use dragnet_input::{InputOptions, RecordKind, Validation};
use dragnet_schema::Schema;

/// One fuzz target: any input, and any panic is a crash.
pub type Target = fn(&[u8]);

/// Every target, by the name its binary, corpus and regression folders carry.
pub const TARGETS: &[(&str, Target)] = &[
    ("kql", kql),
    ("eql", eql),
    ("esql", esql),
    ("esql_plan", esql_plan),
    ("datemath", datemath),
    ("framer", framer),
    ("gzip", gzip),
    ("mapper", mapper),
];

/// CloudTrail records the compiled queries are evaluated against (the shipped sample), so
/// matching, explaining and the sequence/sample matchers run too, not only the compilers.
const SAMPLE_RECORDS: &str = include_str!("../../samples/cloudtrail/trail-export.jsonl");

/// Instants date math is resolved at: an ordinary one and both ends of the range dragnet
/// supports, where overflow would show.
fn resolve_instants() -> [jiff::Timestamp; 3] {
    [
        jiff::Timestamp::from_second(1_741_943_400).expect("2025-03-14 is representable"),
        jiff::Timestamp::MIN,
        jiff::Timestamp::MAX,
    ]
}

/// A KQL query (the `dragnet kql QUERY` argument, a rule's `query`): parse, compile against
/// the built-in ECS/AWS schema as `dragnet kql` and rule loading do, then everything the CLI
/// asks of the compiled query (canonical form, `--to-dsl`, prefilter literals, matching and
/// `--explain` over CloudTrail records mapped as `hunt` maps them).
pub fn kql(data: &[u8]) {
    // The CLI only ever holds queries as `String`s (arguments, TOML).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let query = match dragnet_kql::parse(text) {
        Ok(q) => q,
        Err(e) => {
            // What `dragnet kql` prints for a syntax error.
            let _ = (e.to_string(), text.lines().nth(e.line.saturating_sub(1)));
            return;
        }
    };
    let _ = query.to_string();
    let mut fields = FieldTable::new();
    let compiled = match dragnet_kql::compile(&query, Schema::builtin(), &mut fields) {
        Ok(c) => c,
        Err(e) => {
            let _ = (e.to_string(), dragnet_kql::line_col(text, e.span.start));
            return;
        }
    };
    let _ = compiled.canonical();
    let _ = compiled.to_dsl();
    let _ = compiled.required_literals();
    let _ = compiled.unknown_fields();
    for_each_sample_event(&fields, |event| {
        let _ = compiled.matches(event);
        let _ = compiled.explain(event);
    });
}

/// An EQL query (`dragnet eql QUERY`, a rule's `query`): parse, compile as `dragnet eql` does,
/// then the canonical form and prefilter literals; event queries are matched and explained
/// over the sample records, `sequence` and `sample` queries run through their stateful
/// matchers over them.
pub fn eql(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let query = match dragnet_eql::parse(text) {
        Ok(q) => q,
        Err(e) => {
            let _ = (e.to_string(), text.lines().nth(e.line.saturating_sub(1)));
            return;
        }
    };
    let _ = query.to_string();
    let mut fields = FieldTable::new();
    let options = dragnet_eql::CompileOptions::default();
    let compiled = match dragnet_eql::compile_with(&query, Schema::builtin(), &mut fields, &options)
    {
        Ok(c) => c,
        Err(e) => {
            let _ = (e.to_string(), dragnet_eql::line_col(text, e.span.start));
            return;
        }
    };
    let _ = compiled.canonical();
    let _ = compiled.required_literals();
    let _ = compiled.unknown_fields();
    let _ = compiled.pipes();
    let mut sequence = compiled.sequence_matcher::<usize>();
    let mut sample = compiled.sample_matcher::<usize>();
    let start = resolve_instants()[0];
    let mut index = 0usize;
    for_each_sample_event(&fields, |event| {
        match (&mut sequence, &mut sample) {
            (Some(sequence), _) => {
                // One second apart, in order, as `hunt` feeds time-ordered events.
                let ts = start + jiff::SignedDuration::from_secs(index as i64);
                let _ = sequence.on_event(event, ts, index);
            }
            (None, Some(sample)) => {
                let _ = sample.on_event(event, index);
            }
            (None, None) => {
                let _ = compiled.matches(event);
                let _ = compiled.explain(event);
            }
        }
        index += 1;
    });
    if let Some(mut sequence) = sequence {
        let _ = sequence.finish();
        let _ = sequence.warning();
    }
    if let Some(sample) = sample {
        let _ = sample.finish();
    }
}

/// An ES|QL query (a rule's `query`, what `dragnet validate` checks): parse, then what the
/// CLI asks of the result: the error's message and source line, or the canonical form, which
/// must parse back to the same tree, and the reason the query cannot run, if any.
pub fn esql(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let query = match dragnet_esql::parse(text) {
        Ok(q) => q,
        Err(e) => {
            let _ = (e.to_string(), text.lines().nth(e.line.saturating_sub(1)));
            let _ = &text[e.span.start..e.span.end.min(text.len())];
            return;
        }
    };
    let printed = query.to_string();
    // The printer's contract: its output parses back to the same tree (a broken fixpoint is
    // a crash worth keeping).
    match dragnet_esql::parse(&printed) {
        Ok(again) => assert!(
            again == query,
            "printed form parses to another tree:\n{printed}"
        ),
        Err(e) => panic!("printed form does not parse ({e}):\n{printed}"),
    }
    if let Some(u) = dragnet_esql::unsupported(&query) {
        let _ = (u.reason, &text[u.span.start..u.span.end]);
    }
}

/// Rows the `esql_plan` target's queries run over: the columns of Elasticsearch's csv-spec
/// `employees` index (so the csv-spec queries of the seed corpus plan) and a few CloudTrail
/// ones, every ES|QL type dragnet reads, with nulls, multi-values, extremes and non-ASCII text.
fn esql_plan_table() -> std::sync::Arc<dragnet_esql_exec::CellTable> {
    use dragnet_esql_exec::{CellTable, EsqlType as T, Mv, Val};
    let s = |v: &str| Val::Str(v.into());
    let ip = |v: &str| Val::Str(dragnet_esql_exec::functions::ip_text(v).expect("an address"));
    // (column, type, the three rows' cells)
    let columns: Vec<(&str, T, [Mv; 3])> = vec![
        (
            "@timestamp",
            T::Date,
            [
                vec![Val::Date(1_716_285_600_000)],
                vec![Val::Date(0)],
                vec![],
            ],
        ),
        (
            "event.action",
            T::Keyword,
            [vec![s("CreateAccessKey")], vec![s("RunInstances")], vec![]],
        ),
        (
            "message",
            T::Text,
            [
                vec![s("user alice created a key")],
                vec![s("ünïcödé ✓ \\ %{x}")],
                vec![],
            ],
        ),
        (
            "source.ip",
            T::Ip,
            [
                vec![ip("203.0.113.7")],
                vec![ip("10.0.0.1"), ip("2001:db8::1")],
                vec![],
            ],
        ),
        (
            "emp_no",
            T::Integer,
            [vec![Val::Int(10001)], vec![Val::Int(i32::MIN)], vec![]],
        ),
        (
            "first_name",
            T::Keyword,
            [vec![s("Georgi")], vec![s("")], vec![]],
        ),
        (
            "last_name",
            T::Keyword,
            [vec![s("Facello")], vec![s("Simmel")], vec![s("X")]],
        ),
        ("gender", T::Keyword, [vec![s("M")], vec![], vec![s("F")]]),
        (
            "salary",
            T::Integer,
            [vec![Val::Int(57305)], vec![Val::Int(i32::MAX)], vec![]],
        ),
        (
            "languages",
            T::Integer,
            [vec![Val::Int(2)], vec![], vec![Val::Int(0)]],
        ),
        (
            "height",
            T::Double,
            [vec![Val::Double(2.03)], vec![Val::Double(f64::MAX)], vec![]],
        ),
        (
            "still_hired",
            T::Boolean,
            [vec![Val::Bool(true)], vec![Val::Bool(false)], vec![]],
        ),
        (
            "avg_worked_seconds",
            T::Long,
            [
                vec![Val::Long(i64::MAX)],
                vec![Val::Long(-3), Val::Long(7)],
                vec![],
            ],
        ),
        (
            "job_positions",
            T::Keyword,
            [
                vec![s("Accountant"), s("Senior Python Developer")],
                vec![],
                vec![s("c")],
            ],
        ),
        (
            "is_rehired",
            T::Boolean,
            [
                vec![Val::Bool(false), Val::Bool(true)],
                vec![],
                vec![Val::Bool(true)],
            ],
        ),
        (
            "salary_change",
            T::Double,
            [
                vec![Val::Double(-7.23), Val::Double(11.17)],
                vec![Val::Double(0.0)],
                vec![],
            ],
        ),
        (
            "birth_date",
            T::Date,
            [
                vec![Val::Date(-515_376_000_000)],
                vec![],
                vec![Val::Date(i64::MAX / 4)],
            ],
        ),
        (
            "hire_date",
            T::Date,
            [vec![Val::Date(520_128_000_000)], vec![Val::Date(0)], vec![]],
        ),
    ];
    let table = CellTable::new(
        columns
            .iter()
            .map(|(n, t, _)| (n.to_string(), *t))
            .collect(),
    );
    let rows: Vec<Vec<Mv>> = (0..3)
        .map(|r| {
            columns
                .iter()
                .map(|(_, _, cells)| cells[r].clone())
                .collect()
        })
        .collect();
    let all: Vec<usize> = (0..columns.len()).collect();
    let batch = table.batch(&all, &rows).expect("the rows fit the columns");
    table.set_batches(vec![batch]);
    std::sync::Arc::new(table)
}

/// Target `esql_plan`: a query that parses is planned over a small table of every type
/// (type checks, ES|QL semantics as DataFusion functions and rewrites), optimized by DataFusion
/// and run, as `dragnet esql` does; a planning or execution error is fine, a panic is a crash.
pub fn esql_plan(data: &[u8]) {
    static TABLE: OnceLock<std::sync::Arc<dragnet_esql_exec::CellTable>> = OnceLock::new();
    static EXECUTOR: OnceLock<dragnet_esql_exec::Executor> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = dragnet_esql::parse(text) else {
        return;
    };
    let catalog = TABLE.get_or_init(esql_plan_table).clone();
    let options = dragnet_esql_exec::Options {
        catalog: &catalog,
        now_ms: 1_716_285_600_000,
        now_clock: None,
        default_limit: Some(1000),
        warnings: dragnet_esql_exec::Warnings::default(),
    };
    let Ok(compiled) = dragnet_esql_exec::compile(&query, text, &options) else {
        return;
    };
    let executor = EXECUTOR.get_or_init(|| {
        // A small pool: a query that would hold much more must spill or fail, not grow.
        dragnet_esql_exec::Executor::new(64 << 20).expect("an executor starts")
    });
    if let Ok(result) = executor.run(&compiled) {
        assert_eq!(
            result.columns.len(),
            compiled.columns.len(),
            "the result has the planned columns"
        );
        for row in &result.rows {
            assert_eq!(row.len(), compiled.columns.len(), "a row has every column");
        }
        let _ = options.warnings.lines();
    }
}

/// Maps each sample record with a mapper bound to `fields` (as the engine binds one to the
/// fields its rules intern) and hands the event to `each`.
fn for_each_sample_event(fields: &FieldTable, mut each: impl FnMut(&dyn Event)) {
    let Ok(mapper) = Mapper::bind(fields, MapperOptions::default()) else {
        return;
    };
    for line in SAMPLE_RECORDS.lines() {
        if let Ok(event) = mapper.map(line.as_bytes()) {
            each(&event);
        }
    }
}

/// Date math as `--from/--to` and a rule's `from`/`to` give it (`now-6m`, `now/d`), and a
/// rule's `interval`: parse, then resolve at ordinary and extreme instants.
pub fn datemath(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match dragnet_rules::DateMath::parse(text) {
        Ok(math) => {
            let _ = math.fixed_offset();
            let _ = math.to_string();
            for now in resolve_instants() {
                let _ = math.resolve(now);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(interval) = dragnet_rules::Interval::parse(text) {
        let _ = interval.duration();
    }
}

/// Any bytes as an input file, through the reader path `hunt` and `normalize` use for stdin and
/// files (gzip recognised by its magic, every shape detected by the framer), with the default
/// limits, in both validation modes (`hunt`: framing; `--validate-json`, `normalize`: full).
/// Every delivered span is read.
pub fn framer(data: &[u8]) {
    for validate in [Validation::Framing, Validation::Full] {
        read_as_input(data, validate);
    }
}

/// Gzip bytes (the fuzzer mutates compressed streams built from CloudTrail files) through the
/// decoder with the decompression limits, then the framer, as `hunt` reads a `.json.gz`.
pub fn gzip(data: &[u8]) {
    read_as_input(data, Validation::Framing);
}

fn read_as_input(data: &[u8], validate: Validation) {
    let opts = InputOptions {
        validate,
        ..InputOptions::default()
    };
    let name: Arc<str> = "fuzz-input".into();
    let _ = dragnet_input::read_reader(
        Box::new(Cursor::new(data.to_vec())),
        name,
        &opts,
        &mut |batch| {
            for (bytes, span) in batch.iter() {
                let _ = (bytes.len(), span.location, span.kind);
                if span.kind == RecordKind::Ecs {
                    let _ = dragnet_input::parse_json_within(bytes, opts.max_depth);
                }
            }
            ControlFlow::Continue(())
        },
        &mut |problem| {
            let _ = problem.to_string();
        },
    );
}

/// The mapper bound to every field the mapping can produce, with the default options.
fn full_mapper() -> &'static (FieldTable, Mapper) {
    static MAPPER: OnceLock<(FieldTable, Mapper)> = OnceLock::new();
    MAPPER.get_or_init(|| {
        let mut fields = FieldTable::new();
        for name in dragnet_cloudtrail::field_names() {
            fields.intern(name);
        }
        let mapper =
            Mapper::bind(&fields, MapperOptions::default()).expect("no MaxMind database to open");
        (fields, mapper)
    })
}

/// One CloudTrail record's bytes through the real mapper at the default `--max-json-depth`:
/// every field visited as rules read them, then the whole ECS document as `normalize` writes
/// it.
pub fn mapper(data: &[u8]) {
    let (fields, mapper) = full_mapper();
    let max_depth = InputOptions::default().max_depth;
    let event: CloudTrailEvent<'_> = match mapper.map_within(data, max_depth) {
        Ok(event) => event,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for (id, _) in fields.iter() {
        let _ = event.visit(id, &mut |value| {
            let _ = value.to_keyword();
            ControlFlow::Continue(())
        });
    }
    let document = event.to_ecs();
    let _ = serde_json::to_string(&document);
}
