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

fn events_file() -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new()
        .suffix(".ndjson")
        .tempfile()
        .unwrap();
    std::fs::write(f.path(), EVENTS).unwrap();
    f
}

#[test]
fn event_query_reports_each_document_and_skips_bad_lines() {
    let f = events_file();
    dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            r#"any where event.action : "create*""#,
        ])
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(r#":1","match":true"#))
        .stdout(predicate::str::contains(r#":3","match":false"#))
        .stderr(predicate::str::contains(":5: not valid JSON"))
        .stderr(predicate::str::contains(
            "4 documents evaluated, 2 matched, 1 records skipped",
        ));
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
fn pipes_keep_the_last_matches() {
    let f = events_file();
    dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            r#"any where event.action : "*" | tail 1"#,
        ])
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(":4\"").and(predicate::str::contains(":1\"").not()));
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
    dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            r#"any where event.provider == "iam.amazonaws.com" and event.action == "CreateAccessKey""#,
        ])
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""match":true"#));
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
        .stdout(predicate::str::contains("eql: syntax error"))
        .stdout(predicate::str::contains("bad_eql.toml:19:24:"));
}

#[test]
fn hunt_runs_eql_event_rules_and_reports_sequences_as_unsupported() {
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
            r#"sequence by user.name [any where true] [any where true]"#,
        ),
    )
    .unwrap();
    let data = dir.path().join("trail.json");
    std::fs::write(
        &data,
        r#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-05-21T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","eventID":"5c1b6f0e-2d7a-4c39-9f0a-6a1f5c3e9b10","userIdentity":{"type":"IAMUser","userName":"alice"}}]}"#,
    )
    .unwrap();
    dragnet()
        .args(["--format", "ndjson", "hunt", "-r"])
        .arg(dir.path())
        .arg(&data)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "0b7c3a52-1f0e-4c7e-9c55-1d1f2f0b8a01",
        ))
        .stdout(predicate::str::contains("0b7c3a52-1f0e-4c7e-9c55-1d1f2f0b8a02").not())
        .stderr(predicate::str::contains(
            "EQL sequence rules are not run by hunt yet",
        ));
}

#[test]
fn event_category_field_selects_the_category_source() {
    let f = tempfile::Builder::new()
        .suffix(".ndjson")
        .tempfile()
        .unwrap();
    std::fs::write(
        f.path(),
        r#"{"event":{"type":["info"],"action":"ModifyDBInstance"}}
{"event":{"category":["info"],"action":"ModifyDBInstance"}}
"#,
    )
    .unwrap();
    let q = r#"info where event.action == "ModifyDBInstance""#;
    dragnet()
        .args([
            "--format",
            "ndjson",
            "eql",
            q,
            "--event-category-field",
            "event.type",
        ])
        .arg(f.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(r#":1","match":true"#))
        .stdout(predicate::str::contains(r#":2","match":false"#));
}
