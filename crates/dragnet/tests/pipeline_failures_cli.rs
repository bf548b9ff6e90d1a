//! Records on which Elastic's CloudTrail pipeline fails, end to end through the real binary:
//! what `normalize` writes and what `kql` and `hunt` rules see (issue 16, item 4). The
//! processor-by-processor table is `crates/dragnet-cloudtrail/tests/pipeline_failures.rs` and
//! `docs/pipeline-failures.md`.

use assert_cmd::Command;
use serde_json::{Value, json};

fn dragnet() -> Command {
    let mut cmd = Command::cargo_bin("dragnet").expect("dragnet binary");
    cmd.env_remove("NO_COLOR");
    cmd
}

const PIPELINE: &str = "logs-aws.cloudtrail-8.9.0";

fn record(id: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAALICE", "userName": "alice",
                         "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
        "eventTime": "2024-10-10T14:50:40Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17.60",
        "requestParameters": {"userName": "bob"},
        "eventID": id,
        "recipientAccountId": "111122223333"
    })
}

/// #0 maps cleanly; #1's numeric eventSource stops the pipeline at the dissect of step 48
/// (its `if` calls `endsWith` on an Integer); #2's string requestParameters stops it at the
/// append of step 82 (`ctx.json?.requestParameters?.userName` on a String).
fn trail(dir: &std::path::Path) -> std::path::PathBuf {
    let mut at_48 = record("e-1");
    at_48["eventSource"] = json!(5);
    let mut at_82 = record("e-2");
    at_82["requestParameters"] = json!("userName=bob");
    let path = dir.join("trail.json");
    let body = json!({"Records": [record("e-0"), at_48, at_82]});
    std::fs::write(&path, body.to_string()).unwrap();
    path
}

/// Runs dragnet with `args`, asserts it succeeded, and parses its NDJSON output.
fn ndjson_of<I, S>(args: I) -> Vec<Value>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = dragnet().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn normalize_keeps_only_the_fields_set_before_the_failing_processor() {
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path());
    let docs = ndjson_of([
        std::ffi::OsStr::new("normalize"),
        "-q".as_ref(),
        input.as_os_str(),
    ]);
    assert_eq!(docs.len(), 3, "no record is dropped");

    let ok = &docs[0];
    assert_eq!(ok["event"]["kind"], "event");
    assert!(ok.get("error").is_none());

    let at_48 = &docs[1];
    // The entity script (step 8, own on_failure) casts eventSource to String first; the
    // dissect's `if` (step 48) then stops the pipeline.
    assert_eq!(
        at_48["error"]["message"],
        json!([
            format!(
                "Processor script with tag script_append_related_entity_31dc3369 in pipeline {PIPELINE} failed with message: class java.lang.Integer cannot be cast to class java.lang.String (java.lang.Integer and java.lang.String are in module java.base of loader 'bootstrap')"
            ),
            format!(
                "Processor conditional with tag dissect_json_eventSource_to_cloud_service_name_5d2b7c94 in pipeline {PIPELINE} failed with message: dynamic method [java.lang.Integer, endsWith/1] not found"
            )
        ])
    );
    assert_eq!(at_48["event"]["kind"], "pipeline_error");
    assert_eq!(at_48["tags"], json!(["preserve_original_event"]));
    // Set before step 48: kept.
    assert_eq!(at_48["@timestamp"], "2024-10-10T14:50:40.000Z");
    assert_eq!(at_48["user"]["name"], "alice");
    assert_eq!(at_48["cloud"]["account"]["id"], "111122223333");
    // Set at or after it: absent (event.provider 49, event.action 50, cloud.provider 53,
    // source.* 55-58, user_agent.* 61, event.id 66, event.outcome 86, related.* 82-129).
    let event = at_48["event"].as_object().unwrap();
    for gone in ["provider", "action", "id", "outcome", "type", "category"] {
        assert!(!event.contains_key(gone), "event.{gone}: {at_48}");
    }
    for gone in ["source", "user_agent", "related"] {
        assert!(at_48.get(gone).is_none(), "{gone}: {at_48}");
    }
    // The entity script failed (its own on_failure): no entity fields either.
    assert!(at_48.get("actor").is_none(), "{at_48}");
    assert!(at_48["cloud"].get("provider").is_none(), "{at_48}");
    assert!(at_48["cloud"].get("region").is_none(), "{at_48}");

    let at_82 = &docs[2];
    assert_eq!(at_82["event"]["kind"], "pipeline_error");
    assert_eq!(at_82["event"]["action"], "CreateUser");
    assert_eq!(at_82["source"]["ip"], "198.51.100.7");
    assert_eq!(
        at_82["aws"]["cloudtrail"]["request_parameters"],
        "userName=bob"
    );
    assert!(at_82["event"].get("outcome").is_none(), "{at_82}");
    // related.entity is the entity script's (step 8); related.user/ip/hosts come at 82-129.
    assert!(at_82["related"].get("entity").is_some(), "{at_82}");
    for gone in ["user", "ip", "hosts"] {
        assert!(
            at_82["related"].get(gone).is_none(),
            "related.{gone}: {at_82}"
        );
    }
}

/// `dragnet kql --all` verdicts for records #0, #1, #2.
fn verdicts(input: &std::path::Path, query: &str) -> Vec<bool> {
    let args = ["--format", "ndjson", "kql", "--all", query].map(std::ffi::OsStr::new);
    ndjson_of(args.iter().copied().chain([input.as_os_str()]))
        .iter()
        .map(|d| d["dragnet.match"].as_bool().unwrap())
        .collect()
}

#[test]
fn kql_sees_the_failed_documents_as_elasticsearch_indexes_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path());
    assert_eq!(
        verdicts(&input, "event.kind:pipeline_error"),
        vec![false, true, true]
    );
    // event.action is set at step 50: absent after a stop at 48, present after one at 82.
    assert_eq!(
        verdicts(&input, "event.action:CreateUser"),
        vec![true, false, true]
    );
    // event.outcome is set at step 86.
    assert_eq!(
        verdicts(&input, "event.outcome:success"),
        vec![true, false, false]
    );
    // The constants of the data stream hold for every document.
    assert_eq!(
        verdicts(&input, "event.dataset:aws.cloudtrail"),
        vec![true, true, true]
    );
}

const RULE: &str = r###"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["test"]
description = "IAM user created from the command line."
from = "now-9m"
index = ["logs-aws.cloudtrail-*"]
language = "kuery"
license = "Elastic License v2"
name = "IAM user created"
risk_score = 21
rule_id = "5e1f0000-0000-4000-8000-000000000016"
severity = "low"
type = "query"
query = '''
event.dataset:aws.cloudtrail and event.provider:iam.amazonaws.com and event.action:CreateUser and event.outcome:success
'''
"###;

#[test]
fn a_rule_on_fields_after_the_failure_does_not_fire() {
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path());
    let rule = dir.path().join("rule.toml");
    std::fs::write(&rule, RULE).unwrap();
    let args = ["hunt", "-q", "--format", "ndjson", "-r"].map(std::ffi::OsStr::new);
    let alerts = ndjson_of(
        args.iter()
            .copied()
            .chain([rule.as_os_str(), input.as_os_str()]),
    );
    let ids: Vec<String> = alerts
        .iter()
        .map(|a| {
            a.pointer("/event/id")
                .or_else(|| a.get("event.id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("alert without event.id: {a}"))
        })
        .collect();
    assert_eq!(ids, vec!["e-0".to_string()], "{alerts:?}");
}
