//! Compiled evaluation of the two shipped seed queries on an in-memory ECS event, against the
//! cost of parsing that event from JSON (`serde_json::from_slice`) in the same run.
//!
//! Run: `cargo bench -p dragnet-kql --bench eval`. The last lines print the ratios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
use dragnet_schema::Schema;
use serde_json::Value;

const SSM: &str = "event.dataset:aws.cloudtrail and event.provider:ssm.amazonaws.com and event.action:SendCommand and event.outcome:success";
const AMI: &str = "event.dataset: \"aws.cloudtrail\" and event.provider: \"ec2.amazonaws.com\"
and event.action: ModifyImageAttribute and event.outcome: success
and aws.cloudtrail.request_parameters: (*imageId* and *add* and *userId*)";

/// An ECS document as Elastic's AWS integration indexes a CloudTrail ModifyImageAttribute
/// call (the AMI rule matches it; the SSM rule rejects it on event.provider).
const DOC: &str = r#"{"@timestamp":"2024-05-21T10:00:00.000Z","event":{"action":"ModifyImageAttribute","provider":"ec2.amazonaws.com","outcome":"success","kind":"event","category":["configuration"],"type":["change"],"id":"8a8b2a0e-3f4b-4c55-9d3e-1f2e3d4c5b6a","original":null,"created":"2024-05-21T10:00:05.123Z","ingested":"2024-05-21T10:01:00.000Z"},"cloud":{"provider":"aws","region":"us-east-1","account":{"id":"123456789012"}},"source":{"address":"203.0.113.10","ip":"203.0.113.10","geo":{"country_iso_code":"US"}},"user_agent":{"original":"aws-cli/2.15.0 Python/3.11.6 Linux/6.5 exe/x86_64.ubuntu.22 prompt/off command/ec2.modify-image-attribute"},"user":{"name":"mallory","id":"AIDAEXAMPLEEXAMPLE"},"aws":{"cloudtrail":{"event_version":"1.09","event_type":"AwsApiCall","management_event":"true","read_only":"false","request_id":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","user_identity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/mallory","access_key_id":"AKIAEXAMPLEEXAMPLE"},"request_parameters":"{imageId=ami-0abcd1234ef567890, launchPermission={add={items=[{userId=111122223333}]}}, attributeType=launchPermission}","response_elements":"{_return=true}","flattened":{"request_parameters":{"imageId":"ami-0abcd1234ef567890","attributeType":"launchPermission","launchPermission":{"add":{"items":[{"userId":"111122223333"}]}}}}}}}"#;

struct Prepared {
    compiled: Vec<(String, dragnet_kql::CompiledQuery)>,
    paths: JsonPaths,
    doc: Value,
}

fn prepare() -> Prepared {
    let mut table = FieldTable::new();
    let compiled = [("ssm", SSM), ("ami", AMI)]
        .iter()
        .map(|(name, q)| {
            let parsed = dragnet_kql::parse(q).expect("seed query parses");
            let c = dragnet_kql::compile(&parsed, Schema::builtin(), &mut table).expect("compiles");
            (name.to_string(), c)
        })
        .collect();
    let paths = JsonPaths::bind(&table);
    let doc: Value = serde_json::from_str(DOC).expect("valid JSON");
    Prepared {
        compiled,
        paths,
        doc,
    }
}

fn bench(c: &mut Criterion) {
    let p = prepare();
    let ev = JsonEvent::new(&p.doc, &p.paths);
    assert!(!p.compiled[0].1.matches(&ev) && p.compiled[1].1.matches(&ev));
    c.bench_function("parse event (serde_json::from_slice)", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(DOC.as_bytes())).unwrap()))
    });
    for (name, q) in &p.compiled {
        c.bench_function(&format!("evaluate {name} rule (compiled)"), |b| {
            b.iter(|| black_box(q.matches(black_box(&ev))))
        });
    }
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
    let p = prepare();
    let ev = JsonEvent::new(&p.doc, &p.paths);
    let parse = per_call(20_000, || {
        black_box(serde_json::from_slice::<Value>(black_box(DOC.as_bytes())).unwrap());
    });
    println!("\nbaseline: parse the event from JSON: {parse:?} per event");
    for (name, q) in &p.compiled {
        let eval = per_call(200_000, || {
            black_box(q.matches(black_box(&ev)));
        });
        println!(
            "{name}: compiled evaluation {eval:?} per event = {:.4} x the JSON parse ({:.0}x faster)",
            eval.as_secs_f64() / parse.as_secs_f64(),
            parse.as_secs_f64() / eval.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
