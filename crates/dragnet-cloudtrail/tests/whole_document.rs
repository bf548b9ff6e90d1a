//! The whole-document questions of the `Event` trait on raw CloudTrail records
//! (`visit_fields` for KQL free text and field patterns, `visit_nested` for `path:{…}`): a KQL
//! query must give the same answer on a raw record as on the ECS document `to_ecs` makes of it,
//! read back from its JSON text as `dragnet normalize` output would be.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;

use dragnet_cloudtrail::{Mapper, MapperOptions};
use dragnet_event::{Event, FieldTable, JsonEvent, JsonPaths};
use dragnet_schema::Schema;
use serde_json::Value;

/// Free text (plain, quoted, wildcard), field patterns over mapped and unmapped fields, and
/// free text combined with field clauses.
const QUERIES: &[&str] = &[
    "SendCommand",
    "\"AccessDenied\"",
    "AccessDenied",
    "*amazonaws.com",
    "\"ec2.amazonaws.com\"",
    "ec2.amazonaws.com",
    "*Denied*",
    "AwsApiCall",
    "us-east-1",
    "success",
    "true",
    "443",
    "2.0",
    "root",
    "Root",
    "ro*",
    "*.name: root",
    "*.name: ro*",
    "*.name: *",
    "user.*: *",
    "aws.cloudtrail.event_*: AwsApiCall",
    "aws.cloudtrail.flattened.*: *",
    "aws.cloudtrail.flattened.request_parameters.*: *",
    "*.id: *",
    "*.region: us-east-1",
    "source.* : *",
    "not AccessDenied",
    "AssumeRole and event.outcome: success",
    "event.provider: s3.amazonaws.com or *Bucket*",
    "not (*amazonaws.com or event.action: *)",
];

fn records_of(path: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(mut bytes) = std::fs::read(path) else {
        return;
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            return;
        }
        bytes = plain;
    }
    let name = path.display().to_string();
    let values = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut m)) => match m.remove("Records") {
            Some(Value::Array(a)) => a,
            _ => vec![Value::Object(m)],
        },
        Ok(Value::Array(a)) => a,
        Ok(_) => return,
        Err(_) => bytes
            .split(|b| *b == b'\n')
            .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
            .collect(),
    };
    for (i, v) in values.iter().enumerate() {
        if v.is_object() {
            out.push((format!("{name} #{i}"), serde_json::to_vec(v).unwrap()));
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out);
        } else if p.to_string_lossy().contains(".json") {
            records_of(&p, out);
        }
    }
}

#[test]
fn free_text_and_field_patterns_agree_between_raw_records_and_their_ecs_documents() {
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let mut records = Vec::new();
    walk(&datasets, &mut records);
    assert!(
        records.len() > 1000,
        "expected the CloudTrail datasets' records, found {}",
        records.len()
    );
    // Free text materialises every record: unoptimised builds check every 8th record to stay
    // fast; release (CI) checks them all.
    let step = if cfg!(debug_assertions) { 8 } else { 1 };
    let records: Vec<_> = records.into_iter().step_by(step).collect();
    let schema = Schema::builtin();
    let mut table = FieldTable::new();
    let compiled: Vec<_> = QUERIES
        .iter()
        .map(|q| {
            let parsed = dragnet_kql::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            let c = dragnet_kql::compile(&parsed, schema, &mut table)
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            assert!(c.has_free_text(), "{q} should search the whole document");
            c
        })
        .collect();
    let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
    let paths = JsonPaths::bind(&table);
    let mut matched = vec![0usize; QUERIES.len()];
    let mut disagreements = Vec::new();
    for (name, raw) in &records {
        let Ok(event) = mapper.map(raw) else {
            continue;
        };
        let text = serde_json::to_string(&event.to_ecs()).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let ecs = JsonEvent::new(&doc, &paths);
        for (i, c) in compiled.iter().enumerate() {
            let (on_raw, on_ecs) = (c.matches(&event), c.matches(&ecs));
            if on_raw != on_ecs {
                disagreements.push(format!(
                    "{name}: `{}` raw={on_raw} ecs={on_ecs}\nraw:\n{}ecs:\n{}",
                    QUERIES[i],
                    c.explain(&event),
                    c.explain(&ecs)
                ));
            }
            matched[i] += usize::from(on_raw);
        }
    }
    for (q, n) in QUERIES.iter().zip(&matched) {
        println!("{n:6} records match `{q}`");
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements, first ones:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(5)].join("\n")
    );
    // The comparison is not vacuous: free text and patterns find records, and not all of them.
    for q in [
        "SendCommand",
        "\"AccessDenied\"",
        "*amazonaws.com",
        "*.name: ro*",
    ] {
        let n = matched[QUERIES.iter().position(|x| *x == q).unwrap()];
        assert!(n > 0 && n < records.len(), "`{q}` matched {n} records");
    }
}

fn one(query: &str, raw: &str) -> bool {
    let mut table = FieldTable::new();
    let parsed = dragnet_kql::parse(query).unwrap();
    let c = dragnet_kql::compile(&parsed, Schema::builtin(), &mut table).unwrap();
    let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
    c.matches(&mapper.map(raw.as_bytes()).unwrap())
}

#[test]
fn raw_records_list_their_fields() {
    let raw = r#"{"eventName":"SendCommand","eventSource":"ssm.amazonaws.com","errorCode":"AccessDenied","userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root"}}"#;
    let mapper = Mapper::bind(&FieldTable::new(), MapperOptions::default()).unwrap();
    let event = mapper.map(raw.as_bytes()).unwrap();
    let mut seen = Vec::new();
    let listed = event.visit_fields(&mut |name, v| {
        seen.push(format!("{name}={}", v.to_keyword()));
        ControlFlow::Continue(())
    });
    assert_eq!(listed, Some(ControlFlow::Continue(())));
    for want in [
        "event.action=SendCommand",
        "event.provider=ssm.amazonaws.com",
        "aws.cloudtrail.error_code=AccessDenied",
        "cloud.service.name=ssm",
    ] {
        assert!(seen.iter().any(|s| s == want), "{want} not in {seen:?}");
    }
    assert!(one("SendCommand", raw));
    assert!(one("*.name: ssm", raw));
    assert!(one("not *.name: root", raw));
    assert!(!one("StartSession", raw));
}

#[test]
fn nested_clauses_hold_within_one_object_of_a_raw_record() {
    // Two resources: the type of one and the ARN of the other.
    let raw = r#"{"eventName":"CopyObject","eventSource":"s3.amazonaws.com","resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}]}"#;
    assert!(one(
        r#"aws.cloudtrail.resources:{ type: "AWS::S3::Bucket" and arn: "arn:aws:s3:::b" }"#,
        raw
    ));
    assert!(!one(
        r#"aws.cloudtrail.resources:{ type: "AWS::S3::Bucket" and arn: "arn:aws:s3:::b/k" }"#,
        raw
    ));
    // Outside a nested group the same clauses may hold in different objects.
    assert!(one(
        r#"aws.cloudtrail.resources.type: "AWS::S3::Bucket" and aws.cloudtrail.resources.arn: "arn:aws:s3:::b/k""#,
        raw
    ));
}
