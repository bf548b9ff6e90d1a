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

/// The ndjson lines of `stdout`, parsed.
fn ndjson(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// (location suffix after the file name, match) of each `--all` ndjson line.
fn verdicts(stdout: &[u8]) -> Vec<(String, bool)> {
    ndjson(stdout)
        .iter()
        .map(|d| {
            let loc = d["dragnet.location"].as_str().unwrap();
            let at = loc.rsplit_once(':').unwrap().1.to_string();
            (at, d["dragnet.match"].as_bool().unwrap())
        })
        .collect()
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
    let out = dragnet()
        .args(["--format", "ndjson", "kql", "--all", SSM])
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains("docs.ndjson:3: record 2: "))
        .stderr(predicate::str::contains(
            "2 documents evaluated, 1 matched, 1 records skipped",
        ))
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        verdicts(&out),
        vec![("1 #0".to_string(), true), ("2 #1".to_string(), false)]
    );
    // Without --all: the matching event's document only.
    let out = dragnet()
        .args(["--format", "ndjson", "kql", SSM])
        .arg(&file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let docs = ndjson(&out);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["event"]["outcome"], "success");
    assert!(docs[0].get("dragnet.match").is_none(), "{}", docs[0]);
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
    // A non-matching document is listed (with why) under --all.
    dragnet()
        .args(["--format", "table", "kql", "--all", "--explain", SSM])
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
    let out = dragnet()
        .args(["--format", "ndjson", "kql", "--all", SSM])
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains("3 documents evaluated, 1 matched"))
        .get_output()
        .stdout
        .clone();
    let got: Vec<(String, bool)> = verdicts(&out)
        .into_iter()
        .map(|(at, m)| (at.split_once(' ').unwrap().1.to_string(), m))
        .collect();
    assert_eq!(
        got,
        vec![
            ("#0".to_string(), true),
            ("#1".to_string(), false),
            ("#2".to_string(), false)
        ]
    );
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
    // The `match` column (the last) of the one data row of `--all` CSV output.
    let verdict = |stdout: &[u8]| -> String {
        let text = String::from_utf8_lossy(stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with(",match"), "{text}");
        lines[1].rsplit(',').next().unwrap().to_string()
    };
    // Unmapped, "9" is a keyword: "9" > "10" in byte order.
    let out = dragnet()
        .args(["--format", "csv", "kql", "--all", "custom.n > 10"])
        .arg(&doc)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(verdict(&out), "match");
    // Mapped as long, 9 > 10 is false.
    let out = dragnet()
        .args(["--format", "csv", "kql", "--all", "--mapping"])
        .arg(&mapping)
        .arg("custom.n > 10")
        .arg(&doc)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(verdict(&out), "no match");
}
