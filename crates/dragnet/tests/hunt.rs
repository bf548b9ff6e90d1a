//! End-to-end tests of `dragnet hunt`: the real binary over hand-written CloudTrail fixtures
//! (`tests/fixtures/hunt/`, described in each test), with exact expected alerts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const SSM: &str = "37b211e8-4e2f-440f-86d8-06cc8f158cfa"; // AWS Execution via System Manager
const AMI: &str = "6a309864-fc3f-11ee-b8cc-f661ea17fbce"; // EC2 AMI Shared with Another Account

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hunt")
        .join(rel)
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hunt(args: &[&str], inputs: &[PathBuf]) -> Run {
    let mut cmd = Command::cargo_bin("dragnet").unwrap();
    cmd.arg("hunt").args(args).args(inputs);
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The (rule_id, event id) pairs of an ndjson run, and how many alert lines there were.
fn alerts(run: &Run) -> (BTreeSet<(String, String)>, usize) {
    let mut set = BTreeSet::new();
    let mut n = 0;
    for line in run.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let rule = v["kibana.alert.rule.rule_id"].as_str().unwrap().to_string();
        let id = v["kibana.alert.ancestors"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        set.insert((rule, id));
        n += 1;
    }
    (set, n)
}

fn expect(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(r, e)| (r.to_string(), e.to_string()))
        .collect()
}

fn ndjson(inputs: &[PathBuf]) -> Run {
    hunt(&["--format", "ndjson"], inputs)
}

#[track_caller]
fn assert_alerts(run: &Run, want: &[(&str, &str)]) {
    let (got, n) = alerts(run);
    assert_eq!(got, expect(want), "stderr:\n{}", run.stderr);
    assert_eq!(n, want.len(), "one alert per (rule, event)\n{}", run.stdout);
}

#[test]
fn records_shape_hits_and_near_misses() {
    // Two hits; near misses: errorCode (failure), other action, `sendcommand` (keyword match is
    // case-sensitive), ec2 provider, launchPermission.remove, description change, AMI failure.
    let run = ndjson(&[fixture("shapes/records.json")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(&run, &[(SSM, "records-ssm-hit"), (AMI, "records-ami-hit")]);
}

#[test]
fn every_input_shape_is_read() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("shapes/array.json", &[(SSM, "array-ssm-hit")]),
        (
            "shapes/lines.jsonl",
            &[(SSM, "lines-ssm-hit"), (AMI, "lines-ami-hit")],
        ),
        ("shapes/records.json.gz", &[(AMI, "gz-ami-hit")]),
        ("shapes/lookup-events.json", &[(SSM, "lookup-ssm-hit")]),
        ("shapes/eventbridge.jsonl", &[(SSM, "eventbridge-ssm-hit")]),
        (
            "shapes/ecs.ndjson",
            &[(SSM, "ecs-ssm-hit"), (AMI, "ecs-ami-hit")],
        ),
    ];
    for (file, want) in cases {
        let run = ndjson(&[fixture(file)]);
        assert_eq!(run.code, 0, "{file}: {}", run.stderr);
        let (got, n) = alerts(&run);
        assert_eq!(got, expect(want), "{file}: {}", run.stderr);
        assert_eq!(n, want.len(), "{file}");
    }
}

#[test]
fn escaped_names_never_change_the_verdict() {
    // `\u0053endCommand` is SendCommand and fires; `ec2\u002eamazonaws\u002ecom` is the ec2
    // provider; the escaped failure and `\u0073endCommand` (sendCommand) do not fire.
    let run = ndjson(&[fixture("escaped/escaped.json")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(&run, &[(SSM, "escaped-ssm-hit"), (AMI, "escaped-ami-hit")]);
}

#[test]
fn broken_line_is_reported_with_location_and_the_rest_processed() {
    let file = fixture("broken/lines-broken.jsonl");
    let run = ndjson(std::slice::from_ref(&file));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(
        &run,
        &[(SSM, "broken-ssm-hit-1"), (SSM, "broken-ssm-hit-2")],
    );
    assert!(
        run.stderr.contains("lines-broken.jsonl:2"),
        "problem names file:line\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("skipped 1"), "{}", run.stderr);
    let strict = hunt(&["--format", "ndjson", "--strict"], &[file]);
    assert_eq!(strict.code, 2, "{}", strict.stderr);
}

#[test]
fn truncated_gzip_is_reported_and_not_fatal() {
    let file = fixture("broken/truncated.json.gz");
    let run = ndjson(&[file.clone(), fixture("shapes/array.json")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("truncated.json.gz"), "{}", run.stderr);
    let (got, _) = alerts(&run);
    // The other file is still processed; whatever the cut file delivered is complete records.
    assert!(got.contains(&(SSM.to_string(), "array-ssm-hit".to_string())));
    let truncated: Vec<_> = got
        .iter()
        .filter(|(_, id)| id.starts_with("truncated-"))
        .collect();
    assert!(
        truncated.len() < 40,
        "the cut file cannot deliver every record"
    );
    let strict = hunt(&["--format", "ndjson", "--strict"], &[file]);
    assert_eq!(strict.code, 2, "{}", strict.stderr);
}

#[test]
fn same_event_from_two_trails_alerts_once() {
    let run = ndjson(&[fixture("dup")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(&run, &[(SSM, "dup-ssm-hit"), (AMI, "dup-ami-hit")]);
    assert!(run.stderr.contains("duplicate 1"), "{}", run.stderr);
}

#[test]
fn output_order_does_not_depend_on_thread_count() {
    let inputs = [fixture("")];
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = Command::cargo_bin("dragnet")
            .unwrap()
            .env("RAYON_NUM_THREADS", threads)
            .args(["hunt", "--format", "ndjson"])
            .args(&inputs)
            .output()
            .unwrap();
        outputs.push(String::from_utf8(out.stdout).unwrap());
    }
    let with_flag = hunt(&["--format", "ndjson", "-j", "3"], &inputs);
    assert!(outputs[0].lines().count() >= 14, "{}", outputs[0]);
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], with_flag.stdout);
    // Sorted by @timestamp.
    let times: Vec<String> = outputs[0]
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["@timestamp"].to_string())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
}

#[test]
fn exit_codes() {
    let hits = fixture("shapes/records.json");
    let fail = hunt(
        &["--format", "ndjson", "--fail-on-alert"],
        std::slice::from_ref(&hits),
    );
    assert_eq!(fail.code, 1);
    let quiet_ok = hunt(
        &[
            "--format",
            "ndjson",
            "--fail-on-alert",
            "--rule-id",
            "no-such-rule",
        ],
        &[hits],
    );
    assert_eq!(quiet_ok.code, 2, "no rule selected is a usage error");
    let none = hunt(
        &["--format", "ndjson", "--fail-on-alert"],
        &[fixture("shapes/array.json")],
    );
    assert_eq!(none.code, 1);
    let missing = hunt(&["--format", "ndjson"], &[fixture("does-not-exist.json")]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("does-not-exist.json"));
    let near_miss_only = hunt(
        &["--format", "ndjson", "--fail-on-alert", "--rule-id", AMI],
        &[fixture("shapes/array.json")],
    );
    assert_eq!(near_miss_only.code, 0, "{}", near_miss_only.stderr);
    assert!(near_miss_only.stdout.is_empty());
}

#[test]
fn json_output_accounts_for_every_rule() {
    let run = hunt(&["--format", "json"], &[fixture("shapes/records.json")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["alerts"].as_array().unwrap().len(), 2);
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules.iter().all(|r| r["status"] == "run"));
    assert_eq!(v["summary"]["records_read"], 9);
    assert_eq!(v["summary"]["rules"]["run"], 2);
    let alert = &v["alerts"][0];
    assert_eq!(alert["event"]["kind"], "signal");
    assert_eq!(alert["kibana.alert.workflow_status"], "open");
    assert_eq!(alert["kibana.alert.uuid"].as_str().unwrap().len(), 64);
}

#[test]
fn explain_adds_matched_clauses() {
    let run = hunt(
        &["--format", "ndjson", "--explain"],
        &[fixture("shapes/array.json")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(&run, &[(SSM, "array-ssm-hit")]);
    let v: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    // The SSM rule's query, `event.dataset:aws.cloudtrail and event.provider:ssm.amazonaws.com
    // and event.action:SendCommand and event.outcome:success`, on array-ssm-hit: every clause
    // of the `and` matched, each with the event's value (eventSource, eventName; no errorCode,
    // so the pipeline's outcome is success) and how its field type compared it (ECS and the
    // AWS integration: event.dataset is a constant_keyword, the others keyword).
    let keyword = "keyword: whole value, case-sensitive";
    assert_eq!(
        v["dragnet.explain"],
        serde_json::json!({
            "matched": true,
            "clause": "and",
            "children": [
                {"matched": true, "clause": "event.dataset:aws.cloudtrail",
                 "how": "constant_keyword: decided by the mapping's value",
                 "values": ["aws.cloudtrail"]},
                {"matched": true, "clause": "event.provider:ssm.amazonaws.com", "how": keyword,
                 "values": ["ssm.amazonaws.com"]},
                {"matched": true, "clause": "event.action:SendCommand", "how": keyword,
                 "values": ["SendCommand"]},
                {"matched": true, "clause": "event.outcome:success", "how": keyword,
                 "values": ["success"]},
            ]
        })
    );
}

#[test]
fn time_range_keeps_only_events_inside() {
    let run = hunt(
        &[
            "--format",
            "ndjson",
            "--from",
            "2025-01-01T01:02:00Z",
            "--to",
            "2025-01-02",
        ],
        &[fixture("shapes/records.json")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(&run, &[(AMI, "records-ami-hit")]);
}

#[test]
fn max_signals_caps_alerts_per_rule() {
    // `--max-signals N`: at most N alerts per rule, the earliest ones. The hits in shapes/ by
    // time: SSM records-ssm-hit (2025-01-01T01:00), array (01-02), lines (01-03), lookup
    // (01-05), eventbridge (01-06), ecs (01-07); AMI records-ami-hit (2025-01-01T01:05), lines
    // (01-03), gz (01-04), ecs (01-07). The earliest of each rule stays.
    let run = hunt(
        &["--format", "ndjson", "--max-signals", "1"],
        &[fixture("shapes")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(&run, &[(SSM, "records-ssm-hit"), (AMI, "records-ami-hit")]);
    assert!(
        run.stderr.contains("--max-signals dropped 8 alert(s)"),
        "10 hits, 2 kept: {}",
        run.stderr
    );
}

#[test]
fn table_and_csv_formats() {
    let table = hunt(&["--format", "table"], &[repo("samples")]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("AWS Execution via System Manager"));
    assert!(table.stdout.contains("mallory"));
    assert!(table.stdout.contains("first seen"));
    let csv = hunt(&["--format", "csv"], &[repo("samples")]);
    assert_eq!(csv.stdout.lines().count(), 4, "{}", csv.stdout);
    // The table's columns plus what only CSV carries (issue 14: one alert row for both).
    assert!(csv.stdout.starts_with(
        "time,severity,rule,actor,account,region,source_ip,action,target,event_id,user_agent,rule_id,risk_score,reason,alert_uuid\n"
    ));
}

#[test]
fn shipped_samples_fire_both_seed_rules() {
    let run = ndjson(&[repo("samples")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(
        &run,
        &[
            (SSM, "5a0c1e6e-0003-4d1a-9f00-5a3f1e000003"),
            (SSM, "7b1d2f7f-0005-4e2b-8a11-6b4f2f000005"),
            (AMI, "5a0c1e6e-0004-4d1a-9f00-5a3f1e000004"),
        ],
    );
}

#[test]
fn corpus_aws_rules_over_every_dataset() {
    let rules = dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations/aws");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let run = hunt(
        &["--format", "json", "-r", rules.to_str().unwrap()],
        &[datasets],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let summary = &v["summary"];
    assert!(summary["records_read"].as_u64().unwrap() > 1000);
    let reports = v["rules"].as_array().unwrap();
    assert!(reports.len() >= 190);
    assert!(reports.iter().all(|r| r["status"].is_string()));
    for r in reports
        .iter()
        .filter(|r| r["alerts"].as_u64().unwrap_or(0) > 0)
    {
        eprintln!("fired: {} x{}", r["name"], r["alerts"]);
    }
    eprintln!("summary: {summary}");

    // The prefilter must never change a verdict: the same alerts without it.
    let baseline = hunt(
        &[
            "--format",
            "json",
            "--no-prefilter",
            "-r",
            rules.to_str().unwrap(),
        ],
        &[dragnet_testdata::require_shared!("datasets/cloudtrail")],
    );
    assert_eq!(baseline.code, 0, "{}", baseline.stderr);
    let b: Value = serde_json::from_str(&baseline.stdout).unwrap();
    let uuids = |doc: &Value| -> Vec<String> {
        doc["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kibana.alert.uuid"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!uuids(&v).is_empty());
    assert_eq!(uuids(&v), uuids(&b), "prefilter changed the alerts");
    assert_eq!(b["summary"]["records_prefiltered"], 0);
}

#[test]
fn prefilter_never_changes_verdicts_on_fixtures() {
    let with = ndjson(&[fixture("")]);
    let without = hunt(&["--format", "ndjson", "--no-prefilter"], &[fixture("")]);
    assert_eq!(with.stdout, without.stdout);
    assert!(with.stderr.contains("prefiltered"), "{}", with.stderr);
}

#[test]
fn stdin_is_an_input() {
    let text = std::fs::read(fixture("shapes/lines.jsonl")).unwrap();
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--format", "ndjson", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_alerts(&run, &[(SSM, "lines-ssm-hit"), (AMI, "lines-ami-hit")]);
}

#[test]
fn alerts_carry_kibana_reason_and_rule_fields() {
    let run = ndjson(&[fixture("shapes/array.json")]);
    let v: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    // SendCommand is event.category "process" in the pipeline; the actor is the assumed role.
    assert_eq!(
        v["kibana.alert.reason"],
        "process event with source 198.51.100.23 by FixtureRole created low alert AWS Execution via System Manager."
    );
    assert_eq!(
        v["kibana.alert.rule.name"],
        "AWS Execution via System Manager"
    );
    assert_eq!(v["kibana.alert.rule.severity"], "low");
    assert_eq!(v["kibana.alert.rule.risk_score"], 21);
    assert_eq!(v["kibana.alert.rule.threat"][0]["tactic"]["id"], "TA0001");
    assert_eq!(v["kibana.alert.original_event.action"], "SendCommand");
    assert_eq!(v["kibana.alert.original_time"], "2025-01-02T01:00:00.000Z");
    assert_eq!(v["kibana.alert.rule.parameters"]["rule_id"], SSM);
}

#[test]
fn unloadable_rules_are_reported_and_the_rest_run() {
    let good = repo("rules/initial_access_via_system_manager.toml");
    let broken = fixture("rules-broken");
    let run = hunt(
        &[
            "--format",
            "json",
            "-r",
            good.to_str().unwrap(),
            "-r",
            broken.to_str().unwrap(),
        ],
        &[fixture("shapes/records.json")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("broken.toml"), "{}", run.stderr);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["rules"]["invalid"], 1);
    assert_eq!(v["summary"]["rules"]["run"], 1);
    assert!(
        v["rule_problems"][0]
            .as_str()
            .unwrap()
            .contains("broken.toml")
    );
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
}

/// A large JSON-lines file is framed in segments by all workers; alerts, problems (with their
/// lines) and counts must not depend on where the cuts fall or how many threads run.
#[test]
fn segmented_framing_gives_the_same_results_as_one_reader() {
    let template = std::fs::read_to_string(fixture("broken/lines-broken.jsonl")).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl");
    let mut text = String::new();
    let mut copy = 0;
    // Over 1 MiB, so the file is memory-mapped and cut; every copy gets its own event ids.
    while text.len() < 1_300_000 {
        for (i, line) in lines.iter().enumerate() {
            let line = line.replace("\"eventID\":\"", &format!("\"eventID\":\"c{copy}-"));
            text.push_str(&line);
            text.push('\n');
            if i == 1 && copy % 7 == 3 {
                text.push_str("{\"eventVersion\":\"1.09\",\"eventName\":\"\\u0053endCommand\"\n");
            }
        }
        copy += 1;
    }
    std::fs::write(&path, &text).unwrap();
    let problems = |run: &Run| -> Vec<String> {
        run.stderr
            .lines()
            .filter(|l| l.contains("big.jsonl"))
            .map(str::to_string)
            .collect()
    };
    let counts = |run: &Run| -> String {
        let summary = run.stderr.lines().find(|l| l.starts_with("hunt:")).unwrap();
        // Drop the throughput, which varies.
        let (head, tail) = summary.split_once(" (").unwrap();
        format!("{head} {}", tail.split_once(");").unwrap().1)
    };
    let whole = hunt(
        &[
            "--format",
            "ndjson",
            "-j",
            "2",
            "--segment-bytes",
            "100000000",
        ],
        std::slice::from_ref(&path),
    );
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let (_, n) = alerts(&whole);
    assert!(
        n >= 2 * copy,
        "{n} alerts from {copy} copies\n{}",
        whole.stderr
    );
    assert!(problems(&whole).len() >= copy, "{}", whole.stderr);
    for (segment, threads) in [("4096", "2"), ("65536", "3"), ("1000", "1")] {
        let cut = hunt(
            &[
                "--format",
                "ndjson",
                "-j",
                threads,
                "--segment-bytes",
                segment,
            ],
            std::slice::from_ref(&path),
        );
        assert_eq!(
            cut.stdout, whole.stdout,
            "segment {segment}, threads {threads}"
        );
        assert_eq!(problems(&cut), problems(&whole), "segment {segment}");
        assert_eq!(counts(&cut), counts(&whole), "segment {segment}");
    }
}
