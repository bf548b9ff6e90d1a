//! EQL evaluation cost against baselines measured in the same run: a corpus EQL rule
//! (`persistence_rds_db_instance_password_modified`, an event query) compiled and evaluated on
//! an in-memory ECS event, against parsing that event from JSON; and the sequence matcher's
//! per-event cost on a stream of 10 000 events over 500 join keys, against evaluating the
//! sequence's step filters alone (the stateless part).
//!
//! Run: `cargo bench -p dragnet-eql --bench eval`. The last lines print the ratios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use dragnet_eql::{CompileOptions, CompiledQuery};
use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
use dragnet_schema::Schema;
use jiff::Timestamp;
use serde_json::{Value, json};

const RDS: &str = r#"info where data_stream.dataset == "aws.cloudtrail"
    and event.provider == "rds.amazonaws.com"
    and event.action in ("ModifyDBInstance", "ModifyDBCluster")
    and event.outcome == "success"
    and stringContains(aws.cloudtrail.request_parameters, "masterUserPassword=*")"#;

const SEQ: &str = r#"sequence by user.name with maxspan=10m
    [any where event.action == "CreateAccessKey"]
    [any where event.action == "AttachUserPolicy"]"#;

/// An ECS document as Elastic's AWS integration indexes a CloudTrail ModifyDBInstance call
/// that sets a new master password (the rule matches it).
const DOC: &str = r#"{"@timestamp":"2024-05-21T10:00:00.000Z","data_stream":{"dataset":"aws.cloudtrail","namespace":"default","type":"logs"},"event":{"action":"ModifyDBInstance","provider":"rds.amazonaws.com","outcome":"success","kind":"event","type":["info"],"id":"8a8b2a0e-3f4b-4c55-9d3e-1f2e3d4c5b6a","created":"2024-05-21T10:00:05.123Z"},"cloud":{"provider":"aws","region":"us-east-1","account":{"id":"123456789012"}},"source":{"address":"203.0.113.10","ip":"203.0.113.10"},"user_agent":{"original":"aws-cli/2.15.0 Python/3.11.6 Linux/6.5"},"user":{"name":"mallory"},"aws":{"cloudtrail":{"event_version":"1.09","event_type":"AwsApiCall","user_identity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/mallory"},"request_parameters":"{dBInstanceIdentifier=prod-db, masterUserPassword=*****, applyImmediately=true}","response_elements":"{dBInstanceIdentifier=prod-db}"}}}"#;

fn event_query(table: &mut FieldTable) -> CompiledQuery {
    let parsed = dragnet_eql::parse(RDS).expect("rule parses");
    let options = CompileOptions {
        category_field: "event.type".into(),
    };
    dragnet_eql::compile_with(&parsed, Schema::builtin(), table, &options).expect("compiles")
}

/// 10 000 events: CreateAccessKey / AttachUserPolicy / other actions over 500 users, one
/// second apart.
fn stream() -> Vec<Value> {
    (0..10_000u64)
        .map(|i| {
            let action = match i % 7 {
                0 => "CreateAccessKey",
                3 => "AttachUserPolicy",
                _ => "DescribeInstances",
            };
            json!({"@timestamp": i, "event": {"action": action}, "user": {"name": format!("user{}", (i * 31) % 500)}})
        })
        .collect()
}

fn run_sequence(q: &CompiledQuery, paths: &JsonPaths, events: &[Value]) -> usize {
    let mut m = q.sequence_matcher::<usize>().expect("a sequence");
    let mut found = 0;
    for (i, doc) in events.iter().enumerate() {
        let ts = Timestamp::from_second(i as i64).expect("valid");
        found += m.on_event(&JsonEvent::new(doc, paths), ts, i).len();
    }
    found + m.finish().len()
}

fn bench(c: &mut Criterion) {
    let mut table = FieldTable::new();
    let q = event_query(&mut table);
    let paths = JsonPaths::bind(&table);
    let doc: Value = serde_json::from_str(DOC).expect("valid JSON");
    let ev = JsonEvent::new(&doc, &paths);
    assert!(q.matches(&ev));
    c.bench_function("parse event (serde_json::from_slice)", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(DOC.as_bytes())).unwrap()))
    });
    c.bench_function("evaluate RDS password rule (compiled EQL)", |b| {
        b.iter(|| black_box(q.matches(black_box(&ev))))
    });
    let mut table = FieldTable::new();
    let parsed = dragnet_eql::parse(SEQ).unwrap();
    let s = dragnet_eql::compile(&parsed, Schema::builtin(), &mut table).unwrap();
    let paths = JsonPaths::bind(&table);
    let events = stream();
    c.bench_function("sequence matcher over 10k events", |b| {
        b.iter(|| black_box(run_sequence(&s, &paths, &events)))
    });
}

/// Mean time per call over `iters` calls, best of 5 rounds.
fn per_call(iters: u32, mut f: impl FnMut()) -> Duration {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed() / iters
        })
        .min()
        .expect("5 rounds")
}

/// The ratios the report quotes, measured side by side in this run.
fn ratios() {
    let mut table = FieldTable::new();
    let q = event_query(&mut table);
    let paths = JsonPaths::bind(&table);
    let doc: Value = serde_json::from_str(DOC).expect("valid JSON");
    let ev = JsonEvent::new(&doc, &paths);
    let parse = per_call(20_000, || {
        black_box(serde_json::from_slice::<Value>(black_box(DOC.as_bytes())).unwrap());
    });
    let eval = per_call(200_000, || {
        black_box(q.matches(black_box(&ev)));
    });
    println!("\nbaseline: parse the event from JSON: {parse:?} per event");
    println!(
        "RDS rule: compiled evaluation {eval:?} per event = {:.4} x the JSON parse",
        eval.as_secs_f64() / parse.as_secs_f64()
    );

    let mut table = FieldTable::new();
    let parsed = dragnet_eql::parse(SEQ).unwrap();
    let s = dragnet_eql::compile(&parsed, Schema::builtin(), &mut table).unwrap();
    let paths = JsonPaths::bind(&table);
    let events = stream();
    let filters_only = per_call(20, || {
        let n = events
            .iter()
            .filter(|d| s.matches(&JsonEvent::new(d, &paths)))
            .count();
        black_box(n);
    });
    let full = per_call(20, || {
        black_box(run_sequence(&s, &paths, &events));
    });
    let n = events.len() as u32;
    println!(
        "sequence: {:?} per event with state vs {:?} per event for the step filters alone = {:.2}x",
        full / n,
        filters_only / n,
        full.as_secs_f64() / filters_only.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
