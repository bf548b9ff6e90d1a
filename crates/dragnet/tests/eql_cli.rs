//! End-to-end tests of `dragnet eql` and of the EQL checker in `dragnet validate`, running the
//! real binary.

use assert_cmd::Command;
use predicates::prelude::*;

const EVENTS: &str = r#"{"@timestamp":"2024-05-21T10:00:00Z","event":{"action":"CreateAccessKey"},"user":{"name":"alice"}}
{"@timestamp":"2024-05-21T10:01:00Z","event":{"action":"CreateAccessKey"},"user":{"name":"bob"}}
{"@timestamp":"2024-05-21T10:03:00Z","event":{"action":"AttachUserPolicy"},"user":{"name":"alice"}}
{"@timestamp":"2024-05-21T10:20:00Z","event":{"action":"AttachUserPolicy"},"user":{"name":"bob"}}
this line is not JSON
"#;

fn dragnet() -> Command {
    Command::cargo_bin("dragnet").expect("binary built")
}

/// The ndjson lines of `stdout`, parsed.
fn ndjson(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn events_file() -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new()
        .suffix(".ndjson")
        .tempfile()
        .unwrap();
    std::fs::write(f.path(), EVENTS).unwrap();
    f
}

/// `--all` lists every document with its verdict and place (the default lists matches only:
/// see `event_query_prints_the_matching_events`).
#[test]
fn event_query_reports_each_document_and_skips_bad_lines() {
    let f = events_file();
    let out = dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            "--all",
            r#"any where event.action : "create*""#,
        ])
        .arg(f.path())
        .assert()
        .success()
        .stderr(predicate::str::contains(":5: record 4: not valid JSON"))
        .stderr(predicate::str::contains(
            "4 documents evaluated, 2 matched, 1 records skipped",
        ))
        .get_output()
        .stdout
        .clone();
    let verdicts: Vec<(String, bool)> = ndjson(&out)
        .iter()
        .map(|d| {
            let loc = d["dragnet.location"].as_str().unwrap();
            let line = loc.rsplit_once(':').unwrap().1.to_string();
            (line, d["dragnet.match"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![
            ("1 #0".to_string(), true),
            ("2 #1".to_string(), true),
            ("3 #2".to_string(), false),
            ("4 #3".to_string(), false),
        ]
    );
}

#[test]
fn event_query_prints_the_matching_events() {
    let f = events_file();
    let out = dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            r#"any where event.action : "create*" and user.name == "bob""#,
        ])
        .arg(f.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let docs = ndjson(&out);
    assert_eq!(docs.len(), 1, "{docs:?}");
    // The event's own document, unannotated.
    assert_eq!(
        docs[0],
        serde_json::json!({"@timestamp":"2024-05-21T10:01:00Z","event":{"action":"CreateAccessKey"},"user":{"name":"bob"}})
    );
}

/// `sample` has no order and no span: one event per filter for each join key both filters
/// see, events in filter order, samples in key order.
#[test]
fn sample_query_takes_one_event_per_filter_for_each_key() {
    let f = events_file();
    let q = r#"sample by user.name
        [any where event.action == "AttachUserPolicy"]
        [any where event.action == "CreateAccessKey"]"#;
    let out = dragnet()
        .args(["--format", "ndjson", "eql", q])
        .arg(f.path())
        .assert()
        .success()
        .stderr(predicate::str::contains("2 samples found"))
        .get_output()
        .stdout
        .clone();
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(String, Vec<String>)> = lines
        .iter()
        .map(|l| {
            let events = l["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["@timestamp"].as_str().unwrap().to_string())
                .collect();
            (l["join_keys"][0].as_str().unwrap().to_string(), events)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "alice".into(),
                vec!["2024-05-21T10:03:00Z".into(), "2024-05-21T10:00:00Z".into()]
            ),
            (
                "bob".into(),
                vec!["2024-05-21T10:20:00Z".into(), "2024-05-21T10:01:00Z".into()]
            ),
        ]
    );
    assert_eq!(lines[0]["sample"], 1);
}

#[test]
fn sequence_query_joins_by_key_within_maxspan() {
    let f = events_file();
    let q = r#"sequence by user.name with maxspan=10m
        [any where event.action == "CreateAccessKey"]
        [any where event.action == "AttachUserPolicy"]"#;
    dragnet()
        .args(["--format", "ndjson", "eql", q])
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""join_keys":["alice"]"#))
        .stdout(predicate::str::contains("bob").not())
        .stderr(predicate::str::contains("1 sequences found"));
}

#[test]
fn pipes_order_matches_by_timestamp() {
    let f = tempfile::Builder::new()
        .suffix(".ndjson")
        .tempfile()
        .unwrap();
    std::fs::write(
        f.path(),
        r#"{"@timestamp":"2024-05-21T10:09:00Z","event":{"action":"late"}}
{"@timestamp":"2024-05-21T10:01:00Z","event":{"action":"early"}}
"#,
    )
    .unwrap();
    // head: "up to N events, starting with the earliest matches" (eql-pipe-ref.md).
    let out = dragnet()
        .args(["--format", "ndjson", "eql", "any where true | head 1"])
        .arg(f.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let docs = ndjson(&out);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(docs[0]["event"]["action"], "early");
}

#[test]
fn pipes_keep_the_last_matches() {
    let f = events_file();
    let out = dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            r#"any where event.action : "*" | tail 1"#,
        ])
        .arg(f.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let docs = ndjson(&out);
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert_eq!(docs[0]["@timestamp"], "2024-05-21T10:20:00Z");
}

#[test]
fn syntax_error_points_at_the_column_and_exits_2() {
    dragnet()
        .args(["eql", r#"any where event.action = "x""#, "-"])
        .write_stdin("{}")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("1:24:"))
        .stderr(predicate::str::contains("'=='"));
}

#[test]
fn raw_cloudtrail_records_are_mapped() {
    let f = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(
        f.path(),
        r#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-05-21T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","eventID":"e1","userIdentity":{"type":"IAMUser","userName":"alice"}}]}"#,
    )
    .unwrap();
    let out = dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            r#"any where event.provider == "iam.amazonaws.com" and event.action == "CreateAccessKey""#,
        ])
        .arg(f.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let docs = ndjson(&out);
    assert_eq!(docs.len(), 1, "{docs:?}");
    // The ECS document the AWS integration would index.
    assert_eq!(docs[0]["event"]["provider"], "iam.amazonaws.com");
    assert_eq!(docs[0]["event"]["id"], "e1");
    assert_eq!(docs[0]["user"]["name"], "alice");
}

#[test]
fn validate_reports_eql_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("bad_eql.toml");
    std::fs::write(
        &rule,
        r#"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["Elastic"]
description = "test"
from = "now-9m"
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Elastic License v2"
name = "Bad EQL"
risk_score = 21
rule_id = "7f1f2e7a-0d0a-4b43-9a8c-2e1c5b7f0c11"
severity = "low"
type = "eql"
query = '''
any where event.action = "x"
'''
"#,
    )
    .unwrap();
    dragnet()
        .arg("validate")
        .arg(&rule)
        .assert()
        .code(1)
        // Diagnostics are human-readable on stderr in every format (conventions.md).
        .stderr(predicate::str::contains("eql: syntax error"))
        .stderr(predicate::str::contains("bad_eql.toml:19:24:"));
}

#[test]
fn hunt_runs_eql_event_and_sequence_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rule = |name: &str, id: &str, query: &str| {
        format!(
            r#"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["Elastic"]
description = "test"
from = "now-9m"
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Elastic License v2"
name = "{name}"
risk_score = 21
rule_id = "{id}"
severity = "low"
type = "eql"
query = '''
{query}
'''
"#
        )
    };
    std::fs::write(
        dir.path().join("event.toml"),
        rule(
            "EQL event",
            "0b7c3a52-1f0e-4c7e-9c55-1d1f2f0b8a01",
            r#"any where event.provider == "iam.amazonaws.com" and event.action : "createaccesskey""#,
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("seq.toml"),
        rule(
            "EQL sequence",
            "0b7c3a52-1f0e-4c7e-9c55-1d1f2f0b8a02",
            r#"sequence by user.name with maxspan=10m
  [any where event.action == "CreateAccessKey"]
  [any where event.action == "AttachUserPolicy"]"#,
        ),
    )
    .unwrap();
    let data = dir.path().join("trail.json");
    // Out of time order on purpose; bob's AttachUserPolicy has no CreateAccessKey before it.
    std::fs::write(
        &data,
        r#"{"Records":[
{"eventVersion":"1.08","eventTime":"2024-05-21T10:05:00Z","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","awsRegion":"us-east-1","eventID":"e2","userIdentity":{"type":"IAMUser","userName":"alice"}},
{"eventVersion":"1.08","eventTime":"2024-05-21T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","eventID":"e1","userIdentity":{"type":"IAMUser","userName":"alice"}},
{"eventVersion":"1.08","eventTime":"2024-05-21T10:06:00Z","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","awsRegion":"us-east-1","eventID":"e3","userIdentity":{"type":"IAMUser","userName":"bob"}}
]}"#,
    )
    .unwrap();
    let out = dragnet()
        .args(["--format", "ndjson", "hunt", "-r"])
        .arg(dir.path())
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rule_id = |a: &serde_json::Value| {
        a["kibana.alert.rule.rule_id"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let events = alerts
        .iter()
        .filter(|a| rule_id(a).ends_with("8a01"))
        .count();
    assert_eq!(
        events, 1,
        "the event rule matches the CreateAccessKey record"
    );
    let seqs: Vec<_> = alerts
        .iter()
        .filter(|a| rule_id(a).ends_with("8a02"))
        .collect();
    // Kibana builds one shell alert per sequence plus one building-block alert per event,
    // linked by `kibana.alert.group.id` (buildAlertGroupFromSequence).
    let shells: Vec<_> = seqs
        .iter()
        .filter(|a| a["kibana.alert.building_block_type"].is_null())
        .collect();
    let blocks: Vec<_> = seqs
        .iter()
        .filter(|a| a["kibana.alert.building_block_type"] == "default")
        .collect();
    assert_eq!(
        shells.len(),
        1,
        "one sequence: alice's two events, not bob's"
    );
    assert_eq!(
        blocks.len(),
        2,
        "one building block per event of the sequence"
    );
    assert_eq!(
        seqs.len(),
        3,
        "nothing but the shell and its building blocks"
    );
    let group = &shells[0]["kibana.alert.group.id"];
    assert!(group.is_string(), "{}", shells[0]);
    assert!(blocks.iter().all(|b| &b["kibana.alert.group.id"] == group));
    let text = shells[0].to_string();
    // The shell's source is what the sequence's events share: alice, the join key.
    assert_eq!(shells[0]["user"]["name"], "alice", "{text}");
    assert!(text.contains("\"e1\"") && text.contains("\"e2\""), "{text}");
}

#[test]
fn event_category_field_selects_the_category_source() {
    let f = tempfile::Builder::new()
        .suffix(".ndjson")
        .tempfile()
        .unwrap();
    std::fs::write(
        f.path(),
        // ECS documents carry @timestamp (hunt and the searches read ECS so).
        r#"{"@timestamp":"2024-05-21T10:00:00Z","event":{"type":["info"],"action":"ModifyDBInstance"}}
{"@timestamp":"2024-05-21T10:00:00Z","event":{"category":["info"],"action":"ModifyDBInstance"}}
"#,
    )
    .unwrap();
    let q = r#"info where event.action == "ModifyDBInstance""#;
    dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            "--all",
            q,
            "--event-category-field",
            "event.type",
        ])
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(r#":1 #0","dragnet.match":true"#))
        .stdout(predicate::str::contains(r#":2 #1","dragnet.match":false"#));
}
