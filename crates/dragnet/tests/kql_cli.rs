//! End-to-end tests of `dragnet kql` and of the KQL checker in `dragnet validate`, running the
//! real binary.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn dragnet() -> Command {
    let mut cmd = Command::cargo_bin("dragnet").expect("dragnet binary");
    cmd.env_remove("NO_COLOR");
    cmd
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const SSM: &str = "event.dataset:aws.cloudtrail and event.provider:ssm.amazonaws.com and event.action:SendCommand and event.outcome:success";

#[test]
fn evaluates_ecs_ndjson_per_document() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docs.ndjson");
    std::fs::write(
        &file,
        concat!(
            r#"{"@timestamp":"2024-05-21T10:00:00Z","event":{"provider":"ssm.amazonaws.com","action":"SendCommand","outcome":"success"}}"#,
            "\n",
            r#"{"@timestamp":"2024-05-21T10:00:00Z","event":{"provider":"ssm.amazonaws.com","action":"SendCommand","outcome":"failure"}}"#,
            "\n",
            "{broken\n",
        ),
    )
    .unwrap();
    dragnet()
        .args(["--format", "ndjson", "kql", SSM])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            r#"docs.ndjson:1 #0","match":true"#,
        ))
        .stdout(predicate::str::contains(
            r#"docs.ndjson:2 #1","match":false"#,
        ))
        .stderr(predicate::str::contains("line 3"))
        .stderr(predicate::str::contains(
            "2 documents evaluated, 1 matched, 1 records skipped",
        ));
}

#[test]
fn explains_the_deciding_clause() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doc.json");
    std::fs::write(
        &file,
        r#"{"@timestamp":"2024-05-21T10:00:00Z","event":{"provider":"ssm.amazonaws.com","action":"SendCommand","outcome":"failure"}}"#,
    )
    .unwrap();
    dragnet()
        .args(["--format", "table", "kql", "--explain", SSM])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("no match"))
        .stdout(predicate::str::contains("NO MATCH event.outcome:success"))
        .stdout(predicate::str::contains("\"failure\""));
}

#[test]
fn raw_cloudtrail_records_are_mapped_like_the_aws_integration() {
    // Raw S3 delivery: eventSource -> event.provider, eventName -> event.action, no errorCode
    // -> event.outcome success, errorCode -> failure (Elastic AWS integration pipeline).
    let record = |name: &str, error: Option<&str>| {
        let mut r = serde_json::json!({
            "eventVersion": "1.08", "eventTime": "2024-05-21T10:00:00Z",
            "eventSource": "ssm.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory",
                             "accountId": "123456789012", "userName": "mallory"},
            "eventID": format!("id-{name}-{}", error.unwrap_or("ok")),
            "eventType": "AwsApiCall", "recipientAccountId": "123456789012"
        });
        if let Some(e) = error {
            r["errorCode"] = serde_json::json!(e);
        }
        r
    };
    let body = serde_json::json!({"Records": [
        record("SendCommand", None),
        record("SendCommand", Some("AccessDenied")),
        record("ListCommands", None),
    ]});
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trail.json");
    std::fs::write(&file, body.to_string()).unwrap();
    dragnet()
        .args(["--format", "ndjson", "kql", SSM])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains(r#" #0","match":true"#))
        .stdout(predicate::str::contains(r#" #1","match":false"#))
        .stdout(predicate::str::contains(r#" #2","match":false"#))
        .stderr(predicate::str::contains("3 documents evaluated, 1 matched"));
}

#[test]
fn prints_dsl_and_canonical_form() {
    dragnet()
        .args([
            "kql",
            "--to-dsl",
            "event.action:Send* and aws.cloudtrail.user_identity.type:Root",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"wildcard\""))
        .stdout(predicate::str::contains("\"term\""));
    dragnet()
        .args(["kql", "--canonical", "a : b OR NOT c:(d AND e)"])
        .assert()
        .success()
        .stdout("a:b or not c:(d and e)\n");
}

#[test]
fn syntax_errors_are_positioned_and_exit_2() {
    dragnet()
        .args(["kql", "event.action:SendCommand and x:", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("1:32: expected value after ':'"));
}

#[test]
fn validate_reports_kql_errors_at_their_place_in_the_toml() {
    let seed = std::fs::read_to_string(repo().join("rules/initial_access_via_system_manager.toml"))
        .unwrap();
    let broken = seed.replace(
        "event.action:SendCommand and",
        "event.action:SendCommand and (",
    );
    assert_ne!(seed, broken);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, &broken).unwrap();
    // The error is at the end of the query: the line of the closing `'''`.
    let end_line = broken
        .lines()
        .position(|l| l.starts_with("'''") && l.len() == 3)
        .unwrap()
        + 1;
    dragnet()
        .args(["--format", "table", "validate"])
        .arg(&file)
        .assert()
        .code(1)
        // Diagnostics are human-readable on stderr in every format (conventions.md).
        .stderr(predicate::str::contains(format!(
            "broken.toml:{end_line}:1: error: kql: syntax error: expected ')'"
        )));
    dragnet()
        .args(["validate"])
        .arg(repo().join("rules"))
        .assert()
        .success();
}

#[test]
fn a_user_mapping_changes_field_types() {
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("doc.json");
    std::fs::write(
        &doc,
        r#"{"@timestamp":"2024-05-21T10:00:00Z","event":{"action":"x"},"custom":{"n":"9"}}"#,
    )
    .unwrap();
    let mapping = dir.path().join("mapping.json");
    std::fs::write(
        &mapping,
        r#"{"logs-x":{"mappings":{"properties":{"custom":{"properties":{"n":{"type":"long"}}}}}}}"#,
    )
    .unwrap();
    // Unmapped, "9" is a keyword: "9" > "10" in byte order.
    dragnet()
        .args(["--format", "csv", "kql", "custom.n > 10"])
        .arg(&doc)
        .assert()
        .success()
        .stdout(predicate::str::contains(",match"));
    // Mapped as long, 9 > 10 is false.
    dragnet()
        .args(["--format", "csv", "kql", "--mapping"])
        .arg(&mapping)
        .arg("custom.n > 10")
        .arg(&doc)
        .assert()
        .success()
        .stdout(predicate::str::contains(",no match"));
}
