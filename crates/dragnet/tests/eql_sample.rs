//! End-to-end tests of EQL `sample` rules, and of exception lists on EQL sequences, in
//! `dragnet hunt`: the real binary over hand-written CloudTrail (written by each test to a
//! temporary directory), with exact expected alerts.
//!
//! Samples: Elasticsearch returns them as `hits.sequences` (its `SamplePayload`), which Kibana's
//! EQL executor wraps like sequences (`wrapSequences` -> `buildAlertGroupFromSequence`): a
//! building block per event in filter order, uuid `generateBuildingBlockIds` = sha256(for each
//! event: id + index + rule uuid, then the position), and a shell whose uuid is
//! `generateAlertId` = sha256(for each event: id + index + building-block uuid, then the rule
//! uuid). For each join key, each filter takes its earliest event (Elasticsearch: its first in
//! index order), whatever the order of the filters in time.
//!
//! Exceptions: Kibana puts them in the EQL search's `filter` (`buildEqlSearchRequest`), so an
//! excepted event takes part in no sequence step.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

const SAMPLE_RULE: &str = "e9200000-0000-4000-8000-000000000001";
const SEQUENCE_RULE: &str = "e9200000-0000-4000-8000-000000000002";

// printf %s 's-a3<INDEX><RULE>s-a2<INDEX><RULE>s-a1<INDEX><RULE>0' | sha256sum (then 1, 2);
// the shell: printf %s 's-a3<INDEX><BB0>s-a2<INDEX><BB1>s-a1<INDEX><BB2><RULE>' | sha256sum,
// with INDEX = logs-aws.cloudtrail-default and RULE = SAMPLE_RULE.
const ALICE_BB0: &str = "c04474e4ef6cabb0d3f101534fd2433ade715503345fad915dc2e7230e7b49bb";
const ALICE_BB1: &str = "4f8ac6c01cc0b3c6a62283d686a1ddbc8c3efed057869af7c1983acacddbecc8";
const ALICE_BB2: &str = "7b4eebdf64fbd2c80b38239e3d5da7a65fd95cece7c9f21460f77c2eff792146";
const ALICE_GROUP: &str = "148cb21efacc36e5d237701a3bad0d39aae0763ffaad5facf89a5e88f543a64a";

fn rule(id: &str, name: &str, query: &str, extra: &str) -> String {
    format!(
        r#"[metadata]
creation_date = "2025/02/03"
integration = ["aws"]
maturity = "production"
updated_date = "2025/02/03"

[rule]
author = ["dragnet tests"]
description = "{name}"
from = "now-9m"
interval = "5m"
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Apache-2.0"
name = "{name}"
risk_score = 47
rule_id = "{id}"
severity = "medium"
type = "eql"
query = '''
{query}
'''
{extra}
"#
    )
}

/// A CloudTrail record of an IAM user's call.
fn record(id: &str, time: &str, user: &str, action: &str, ip: &str) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{}", user.to_uppercase()),
            "arn": format!("arn:aws:iam::123456789012:user/{user}"),
            "accountId": "123456789012",
            "userName": user,
        },
        "eventTime": time,
        "eventSource": "iam.amazonaws.com",
        "eventName": action,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.30",
        "requestParameters": {"userName": user},
        "responseElements": null,
        "eventID": id,
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    })
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes `records` as one raw S3 delivery (`{"Records": [...]}`).
fn write_records(path: &Path, records: &[Value]) {
    write(path, &json!({ "Records": records }).to_string());
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hunt(rules: &Path, args: &[&str], inputs: &[PathBuf]) -> Run {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .arg("hunt")
        .arg("-r")
        .arg(rules)
        .args(["--format", "ndjson"])
        .args(args)
        .args(inputs)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ndjson(run: &Run) -> Vec<Value> {
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// `(uuid, group id, position or "shell", ancestors' ids)` of every alert, in output order.
fn summary(alerts: &[Value]) -> Vec<(String, String, String, Vec<String>)> {
    alerts
        .iter()
        .map(|a| {
            let position = match a["kibana.alert.group.index"].as_u64() {
                Some(i) => i.to_string(),
                None => "shell".to_string(),
            };
            let ancestors = a["kibana.alert.ancestors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_string())
                .collect();
            (
                a["kibana.alert.uuid"].as_str().unwrap().to_string(),
                a["kibana.alert.group.id"].as_str().unwrap().to_string(),
                position,
                ancestors,
            )
        })
        .collect()
}

const SAMPLE: &str = r#"sample by user.name
  [any where event.action == "CreateAccessKey"]
  [any where event.action == "AttachUserPolicy"]
  [any where event.action == "PutUserPolicy"]"#;

fn sample_records() -> Vec<Value> {
    vec![
        // alice: the three filters in reverse time order, and a second, later access key.
        record(
            "s-a1",
            "2025-02-03T09:00:00Z",
            "alice",
            "PutUserPolicy",
            "203.0.113.9",
        ),
        record(
            "s-a2",
            "2025-02-03T09:30:00Z",
            "alice",
            "AttachUserPolicy",
            "203.0.113.9",
        ),
        record(
            "s-a3",
            "2025-02-03T10:00:00Z",
            "alice",
            "CreateAccessKey",
            "203.0.113.9",
        ),
        record(
            "s-a4",
            "2025-02-03T10:30:00Z",
            "alice",
            "CreateAccessKey",
            "203.0.113.9",
        ),
        // bob never calls PutUserPolicy: no sample.
        record(
            "s-b1",
            "2025-02-03T09:00:00Z",
            "bob",
            "CreateAccessKey",
            "203.0.113.9",
        ),
        record(
            "s-b2",
            "2025-02-03T09:05:00Z",
            "bob",
            "AttachUserPolicy",
            "203.0.113.9",
        ),
        record(
            "s-u1",
            "2025-02-03T09:06:00Z",
            "bob",
            "ListUsers",
            "203.0.113.9",
        ),
    ]
}

#[test]
fn a_sample_rule_alerts_as_a_kibana_alert_group() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    write(
        &rules.join("sample.toml"),
        &rule(SAMPLE_RULE, "Test sample key, policies", SAMPLE, ""),
    );
    let input = tmp.path().join("trail.json");
    write_records(&input, &sample_records());
    let run = hunt(&rules, &[], std::slice::from_ref(&input));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let alerts = ndjson(&run);
    let s = |x: &str| x.to_string();
    let mut got = summary(&alerts);
    got.sort();
    let mut expected = vec![
        (s(ALICE_BB0), s(ALICE_GROUP), s("0"), vec![s("s-a3")]),
        (s(ALICE_BB1), s(ALICE_GROUP), s("1"), vec![s("s-a2")]),
        (s(ALICE_BB2), s(ALICE_GROUP), s("2"), vec![s("s-a1")]),
        (
            s(ALICE_GROUP),
            s(ALICE_GROUP),
            s("shell"),
            vec![
                s("s-a3"),
                s(ALICE_BB0),
                s("s-a2"),
                s(ALICE_BB1),
                s("s-a1"),
                s(ALICE_BB2),
            ],
        ),
    ];
    expected.sort();
    assert_eq!(got, expected);

    let shell = alerts
        .iter()
        .find(|a| a["kibana.alert.uuid"] == ALICE_GROUP)
        .unwrap();
    assert_eq!(shell["kibana.alert.rule.type"], "eql");
    assert_eq!(shell["kibana.alert.depth"], 2);
    assert_eq!(shell["user"]["name"], "alice");
    assert!(
        shell["event"].get("action").is_none(),
        "the actions differ: not in the intersection"
    );
    let block = alerts
        .iter()
        .find(|a| a["kibana.alert.uuid"] == ALICE_BB2)
        .unwrap();
    assert_eq!(block["kibana.alert.building_block_type"], "default");
    assert_eq!(block["event"]["action"], "PutUserPolicy");
    assert_eq!(block["@timestamp"], "2025-02-03T09:00:00Z");
}

#[test]
fn sample_alerts_do_not_depend_on_files_order_duplicates_or_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    write(
        &rules.join("sample.toml"),
        &rule(SAMPLE_RULE, "Test sample key, policies", SAMPLE, ""),
    );
    let whole = tmp.path().join("whole/trail.json");
    write_records(&whole, &sample_records());
    let baseline = hunt(&rules, &["--threads", "1"], std::slice::from_ref(&whole));
    // The same records over three files, reversed, with s-a3 and s-a2 delivered twice.
    let mut records = sample_records();
    records.reverse();
    let split = tmp.path().join("split");
    write_records(&split.join("a.json"), &records[..3]);
    write_records(&split.join("b.json"), &records[2..5]);
    write_records(&split.join("c.json"), &records[4..]);
    for threads in ["1", "4"] {
        let run = hunt(
            &rules,
            &["--threads", threads],
            std::slice::from_ref(&split),
        );
        assert_eq!(
            summary(&ndjson(&run)),
            summary(&ndjson(&baseline)),
            "threads {threads}"
        );
    }
}

#[test]
fn exceptions_keep_excepted_events_out_of_sequences() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    let list = r#"
[[rule.exceptions_list]]
id = "a1b2c3"
list_id = "trusted-admin-host"
namespace_type = "single"
type = "detection""#;
    write(
        &rules.join("sequence.toml"),
        &rule(
            SEQUENCE_RULE,
            "Test sequence user then login profile",
            r#"sequence by user.name with maxspan=1h
  [any where event.action == "CreateUser"]
  [any where event.action == "CreateLoginProfile"]"#,
            list,
        ),
    );
    let exceptions = tmp.path().join("exceptions.ndjson");
    write(
        &exceptions,
        concat!(
            r#"{"list_id":"trusted-admin-host","name":"Trusted admin host","type":"detection","namespace_type":"single"}"#,
            "\n",
            r#"{"list_id":"trusted-admin-host","item_id":"admin-host","name":"admin host","type":"simple","namespace_type":"single","entries":[{"field":"source.ip","operator":"included","type":"match","value":"192.0.2.10"}]}"#,
            "\n",
        ),
    );
    let input = tmp.path().join("trail.json");
    write_records(
        &input,
        &[
            // carol: the login profile from the admin host is excepted; the later one is not.
            record(
                "q-c1",
                "2025-02-03T11:00:00Z",
                "carol",
                "CreateUser",
                "198.51.100.7",
            ),
            record(
                "q-c2",
                "2025-02-03T11:01:00Z",
                "carol",
                "CreateLoginProfile",
                "192.0.2.10",
            ),
            record(
                "q-c3",
                "2025-02-03T11:02:00Z",
                "carol",
                "CreateLoginProfile",
                "198.51.100.7",
            ),
            // dave: only the excepted event could complete the sequence.
            record(
                "q-d1",
                "2025-02-03T12:00:00Z",
                "dave",
                "CreateUser",
                "198.51.100.7",
            ),
            record(
                "q-d2",
                "2025-02-03T12:01:00Z",
                "dave",
                "CreateLoginProfile",
                "192.0.2.10",
            ),
        ],
    );
    let shells = |run: &Run| -> Vec<Vec<String>> {
        summary(&ndjson(run))
            .into_iter()
            .filter(|a| a.2 == "shell")
            .map(|a| a.3.into_iter().filter(|id| id.starts_with("q-")).collect())
            .collect()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // Without the exception list: each user's first login profile completes the sequence.
    let plain = hunt(&rules, &[], std::slice::from_ref(&input));
    assert_eq!(
        shells(&plain),
        vec![s(&["q-c1", "q-c2"]), s(&["q-d1", "q-d2"])]
    );

    let excepted = hunt(
        &rules,
        &["--exceptions", exceptions.to_str().unwrap(), "-v"],
        std::slice::from_ref(&input),
    );
    assert_eq!(
        shells(&excepted),
        vec![s(&["q-c1", "q-c3"])],
        "{}",
        excepted.stderr
    );
}
