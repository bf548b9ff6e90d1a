//! End-to-end: EQL sequence rules give byte-identical alerts whatever the order of the input —
//! one file in time order, the same events over several files in order or shuffled, 1, 2 or 3
//! worker threads — whether the engine streams them through its reorder window or sorts them
//! through temporary files (`DRAGNET_SEQUENCE_MEMORY` shrinks the budgets so a few thousand
//! generated CloudTrail records exercise both paths).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

const RULE_WITH_MAXSPAN: &str = r#"
sequence by user.name with maxspan=10m
  [any where event.action == "CreateAccessKey"]
  [any where event.action == "AttachUserPolicy"]
until [any where event.action == "DeleteAccessKey"]
"#;

// No maxspan: pending state ends only by replacement, so it lives until the end of the run.
const RULE_WITHOUT_MAXSPAN: &str = r#"
sequence
  [any where event.action == "CreateUser"] by user.name
  [any where event.action == "CreateAccessKey"] by user.name
  [any where event.action == "AttachUserPolicy"] by user.name
"#;

fn rule(name: &str, id: &str, query: &str) -> String {
    format!(
        r#"[metadata]
creation_date = "2025/02/03"
integration = ["aws"]
maturity = "production"
updated_date = "2025/02/03"

[rule]
author = ["dragnet tests"]
description = "{name}"
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Apache-2.0"
name = "{name}"
risk_score = 47
rule_id = "{id}"
severity = "medium"
type = "eql"
query = '''{query}'''
"#
    )
}

/// CloudTrail records in time order (ties included, some delivered twice), 30 users.
fn records(n: usize) -> Vec<String> {
    let mut rng = dragnet_testdata::Xorshift(0x5eed);
    let mut t = jiff::Timestamp::from_second(1_738_576_800).unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        t = t
            .checked_add(jiff::SignedDuration::from_secs(rng.below(12) as i64))
            .unwrap();
        let action = match rng.below(20) {
            0..=4 => "CreateAccessKey",
            5..=9 => "AttachUserPolicy",
            10 => "DeleteAccessKey",
            11..=12 => "CreateUser",
            _ => "ListUsers",
        };
        let user = format!("user{}", rng.below(30));
        let record = json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{user}"),
                "arn": format!("arn:aws:iam::123456789012:user/{user}"),
                "accountId": "123456789012", "userName": user},
            "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "eventSource": "iam.amazonaws.com",
            "eventName": action,
            "awsRegion": "us-east-1",
            "sourceIPAddress": format!("203.0.113.{}", rng.below(200)),
            "userAgent": "aws-cli/2.15.30",
            "requestParameters": {"userName": user},
            "responseElements": null,
            "eventID": format!("ev-{i:06}"),
            "eventType": "AwsApiCall",
            "recipientAccountId": "123456789012",
        })
        .to_string();
        if rng.below(40) == 0 {
            out.push(record.clone());
        }
        out.push(record);
    }
    out
}

struct Setup {
    _dir: tempfile::TempDir,
    rules: PathBuf,
    whole: PathBuf,
    parts: Vec<PathBuf>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("with_maxspan.toml"),
        rule(
            "Order test with maxspan",
            "e9100000-0000-4000-8000-0000000000a1",
            RULE_WITH_MAXSPAN,
        ),
    )
    .unwrap();
    std::fs::write(
        rules.join("without_maxspan.toml"),
        rule(
            "Order test without maxspan",
            "e9100000-0000-4000-8000-0000000000a2",
            RULE_WITHOUT_MAXSPAN,
        ),
    )
    .unwrap();
    let lines = records(2000);
    let whole = dir.path().join("whole.jsonl");
    std::fs::write(&whole, lines.join("\n") + "\n").unwrap();
    let parts: Vec<PathBuf> = lines
        .chunks(lines.len().div_ceil(6))
        .enumerate()
        .map(|(i, chunk)| {
            let p = dir.path().join(format!("part-{i}.jsonl"));
            std::fs::write(&p, chunk.join("\n") + "\n").unwrap();
            p
        })
        .collect();
    Setup {
        _dir: dir,
        rules,
        whole,
        parts,
    }
}

/// `dragnet hunt` ndjson output (exit 1: alerts found), with its stderr.
fn hunt(rules: &Path, inputs: &[&PathBuf], threads: usize, memory: Option<usize>) -> String {
    let mut cmd = Command::cargo_bin("dragnet").unwrap();
    cmd.arg("hunt")
        .arg("--format")
        .arg("ndjson")
        .arg("--threads")
        .arg(threads.to_string())
        .arg("-r")
        .arg(rules)
        .args(inputs);
    if let Some(bytes) = memory {
        cmd.env("DRAGNET_SEQUENCE_MEMORY", bytes.to_string());
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "hunt failed: {stderr}"
    );
    assert!(!stderr.contains("warning"), "no limit is hit: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sequences_do_not_depend_on_file_order_threads_or_memory() {
    let s = setup();
    let reference = hunt(&s.rules, &[&s.whole], 1, None);
    let alerts: Vec<Value> = reference
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let shells = |rule: &str| {
        alerts
            .iter()
            .filter(|a| {
                a["kibana.alert.rule.rule_id"] == rule && a["kibana.alert.group.index"].is_null()
            })
            .count()
    };
    // Enough sequences of both rules that a reordering mistake would show.
    assert!(
        shells("e9100000-0000-4000-8000-0000000000a1") > 50,
        "{}",
        alerts.len()
    );
    assert!(shells("e9100000-0000-4000-8000-0000000000a2") > 10);

    let in_order: Vec<&PathBuf> = s.parts.iter().collect();
    let shuffled: Vec<&PathBuf> = [4, 1, 5, 0, 3, 2].iter().map(|&i| &s.parts[i]).collect();
    let reversed: Vec<&PathBuf> = s.parts.iter().rev().collect();
    // 4 KiB holds about ten candidates: ordered input streams with releases and recording,
    // unordered input spills sorted runs.
    let mut cases = vec![(None, 3, "files shuffled", shuffled.clone())];
    for threads in [1, 2, 3] {
        cases.push((Some(4096), threads, "one file", vec![&s.whole]));
        cases.push((Some(4096), threads, "files in order", in_order.clone()));
        cases.push((Some(4096), threads, "files shuffled", shuffled.clone()));
    }
    cases.push((Some(4096), 2, "files reversed", reversed));
    for (memory, threads, name, inputs) in cases {
        let got = hunt(&s.rules, &inputs, threads, memory);
        assert!(
            got == reference,
            "{name}, {threads} thread(s), memory {memory:?}: alerts differ"
        );
    }
}

#[test]
fn an_invalid_memory_setting_is_named_and_ignored() {
    let s = setup();
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--format", "ndjson", "-v", "-r"])
        .arg(&s.rules)
        .arg(&s.parts[0])
        .env("DRAGNET_SEQUENCE_MEMORY", "lots")
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DRAGNET_SEQUENCE_MEMORY=\"lots\" is not a positive byte count"),
        "{stderr}"
    );
}
