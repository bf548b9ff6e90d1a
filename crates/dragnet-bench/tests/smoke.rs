//! Runs the real `dragnet-bench` binary at ~2 MB: output is deterministic per seed, structurally
//! CloudTrail, and contains exactly the seed-rule hits the generator says it injected. The
//! hit predicates restate the two shipped seed rules (`rules/`) over raw CloudTrail:
//! SendCommand: eventSource ssm + eventName SendCommand + success (no errorCode/errorMessage);
//! AMI share: eventSource ec2 + ModifyImageAttribute + success + requestParameters containing
//! `imageId`, `add` and `userId`.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_dragnet-bench")
}

/// Runs `gen`, returns (sha256 of output, parsed `injected {...}` summary).
fn generate(dir: &Path, name: &str, seed: u64, format: &str) -> (String, Value) {
    let out = dir.join(name);
    let run = Command::new(bin())
        .args([
            "gen",
            "--size",
            "2MB",
            "--seed",
            &seed.to_string(),
            "--format",
            format,
            "--out",
        ])
        .arg(&out)
        .env("DRAGNET_SHARED", dir.join("no-shared-here"))
        .output()
        .expect("dragnet-bench runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "gen failed: {stderr}");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("injected "))
        .unwrap_or_else(|| panic!("no injected line in: {stderr}"));
    let summary: Value = serde_json::from_str(line).expect("injected line is JSON");
    let bytes = std::fs::read(&out).expect("output written");
    (format!("{:x}", Sha256::digest(&bytes)), summary)
}

fn failed(r: &Value) -> bool {
    let present = |k: &str| match r.get(k) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    };
    present("errorCode") || present("errorMessage")
}

fn is_send_command_hit(r: &Value) -> bool {
    r["eventSource"] == "ssm.amazonaws.com" && r["eventName"] == "SendCommand" && !failed(r)
}

fn is_ami_share_hit(r: &Value) -> bool {
    let params = r["requestParameters"].to_string();
    r["eventSource"] == "ec2.amazonaws.com"
        && r["eventName"] == "ModifyImageAttribute"
        && !failed(r)
        && ["imageId", "add", "userId"]
            .iter()
            .all(|s| params.contains(s))
}

fn check_records(records: &[Value], summary: &Value) {
    assert!(records.len() > 1000, "only {} records", records.len());
    let mut ids = HashSet::new();
    let mut last_time = String::new();
    for r in records {
        for key in [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "requestID",
            "eventID",
            "readOnly",
            "eventType",
            "managementEvent",
            "recipientAccountId",
            "eventCategory",
        ] {
            assert!(r.get(key).is_some(), "record lacks {key}: {r}");
        }
        assert!(r.get("requestParameters").is_some() && r.get("responseElements").is_some());
        let time = r["eventTime"].as_str().unwrap().to_string();
        assert!(
            time >= last_time,
            "eventTime went back: {last_time} -> {time}"
        );
        last_time = time;
        assert!(
            ids.insert(r["eventID"].as_str().unwrap().to_string()),
            "duplicate eventID"
        );
    }
    let types: HashSet<&str> = records
        .iter()
        .filter_map(|r| r["userIdentity"]["type"].as_str())
        .collect();
    for t in ["IAMUser", "AssumedRole", "AWSService", "Root"] {
        assert!(types.contains(t), "no userIdentity.type {t}");
    }
    let errors = records.iter().filter(|r| failed(r)).count() as f64 / records.len() as f64;
    assert!((0.01..0.10).contains(&errors), "error share {errors}");
    let ssm_hits = records.iter().filter(|r| is_send_command_hit(r)).count() as u64;
    let ami_hits = records.iter().filter(|r| is_ami_share_hit(r)).count() as u64;
    assert_eq!(
        ssm_hits,
        summary["expected_hits_ssm_send_command"].as_u64().unwrap()
    );
    assert_eq!(
        ami_hits,
        summary["expected_hits_ami_shared"].as_u64().unwrap()
    );
    assert!(ssm_hits >= 3 && ami_hits >= 3);
    // Near misses are present: they must exist for the seed rules to have something to reject.
    let send_commands = records
        .iter()
        .filter(|r| r["eventName"] == "SendCommand")
        .count() as u64;
    assert_eq!(
        send_commands,
        ssm_hits + summary["ssm_send_command_failure"].as_u64().unwrap()
    );
    let modify = records
        .iter()
        .filter(|r| r["eventName"] == "ModifyImageAttribute")
        .count() as u64;
    let misses = [
        "ami_remove_near_miss",
        "ami_add_group_all_near_miss",
        "ami_share_failure",
    ]
    .iter()
    .map(|k| summary[k].as_u64().unwrap())
    .sum::<u64>();
    assert!(misses >= 3);
    assert_eq!(modify, ami_hits + misses);
}

#[test]
fn gen_is_deterministic_and_injects_what_it_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (a, summary) = generate(dir.path(), "a.jsonl", 42, "jsonl");
    let (b, _) = generate(dir.path(), "b.jsonl", 42, "jsonl");
    let (c, _) = generate(dir.path(), "c.jsonl", 43, "jsonl");
    assert_eq!(a, b, "same seed must give the same bytes");
    assert_ne!(a, c, "a different seed must give different bytes");

    let text = std::fs::read_to_string(dir.path().join("a.jsonl")).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    check_records(&records, &summary);

    // The S3-delivery framing carries the same records.
    let (_, summary_r) = generate(dir.path(), "a.json", 42, "records");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a.json")).unwrap()).unwrap();
    let framed = doc["Records"].as_array().expect("Records array");
    assert_eq!(framed, &records);
    assert_eq!(summary_r, summary);

    // records-gz is the gzip of records.
    generate(dir.path(), "a.json.gz", 42, "records-gz");
    let gz = std::fs::File::open(dir.path().join("a.json.gz")).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut plain).unwrap();
    assert_eq!(plain, std::fs::read(dir.path().join("a.json")).unwrap());
}

#[test]
fn parse_only_counts_generated_lines() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "p.jsonl", 7, "jsonl");
    let file = dir.path().join("p.jsonl");
    let lines = std::fs::read_to_string(&file).unwrap().lines().count();
    let run = Command::new(bin())
        .args(["parse-only", "--threads", "2"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("parsed {lines} lines (0 invalid)")),
        "{stderr}"
    );
}

#[test]
fn profile_reads_the_invictus_dataset() {
    let dir =
        dragnet_testdata::require_shared!("datasets/cloudtrail/invictus-ir-aws_dataset/CloudTrail");
    let run = Command::new(bin())
        .arg("profile")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // SOURCE.md of the dataset: 2900 records, 260 distinct eventNames, Decrypt the top one.
    assert!(
        stdout.contains("records / bytes           2900 /"),
        "{stdout}"
    );
    assert!(stdout.contains("distinct eventNames       260"), "{stdout}");
    assert!(stdout.contains(" 1. Decrypt 6.1%"), "{stdout}");
}

/// `--esql-cases` adds the ES|QL rules' hits and near misses, reports them, stays time-ordered
/// and deterministic, and leaves the trail without the flag as it was (checked above by hash).
#[test]
fn esql_cases_are_injected_as_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |name: &str| {
        let out = dir.path().join(name);
        let run = Command::new(bin())
            .args([
                "gen",
                "--size",
                "2MB",
                "--seed",
                "42",
                "--esql-cases",
                "--out",
            ])
            .arg(&out)
            .env("DRAGNET_SHARED", dir.path().join("no-shared-here"))
            .output()
            .expect("dragnet-bench runs");
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(run.status.success(), "gen failed: {stderr}");
        let line = stderr
            .lines()
            .find_map(|l| l.strip_prefix("esql_cases "))
            .unwrap_or_else(|| panic!("no esql_cases line in: {stderr}"))
            .to_string();
        (std::fs::read(&out).expect("output written"), line)
    };
    let (a, line) = run("a.jsonl");
    let (b, _) = run("b.jsonl");
    assert_eq!(a, b, "same arguments, same bytes");
    let summary: Value = serde_json::from_str(&line).expect("esql_cases line is JSON");
    let cases = summary["cases"].as_object().expect("cases");
    let expected = summary["expected_alerts"]
        .as_object()
        .expect("expected_alerts");
    assert_eq!(expected.len(), 14, "{expected:?}");
    assert!(
        expected.values().all(|n| n.as_u64() > Some(0)),
        "{expected:?}"
    );
    let records: Vec<Value> = String::from_utf8(a)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let count = |name: &str| records.iter().filter(|r| r["eventName"] == name).count() as u64;
    let n = |key: &str| cases[key].as_u64().expect("case count");
    // Each Lambda cross-account hit is 3 invocations, a near miss 1, the frequency cases 1000/999.
    assert_eq!(
        count("Invoke"),
        3 * n("lambda_cross_account_hit")
            + n("lambda_same_account_near_miss")
            + 1000 * n("lambda_1000_invocations_hit")
            + 999 * n("lambda_999_invocations_near_miss")
    );
    assert_eq!(
        count("GetServiceQuota"),
        10 * n("service_quota_10_regions_hit") + 9 * n("service_quota_9_regions_near_miss")
    );
    assert_eq!(
        count("CopyObject"),
        n("s3_copy_external_kms_key_hit") + n("s3_copy_own_kms_key_near_miss")
    );
    let times: Vec<&str> = records
        .iter()
        .map(|r| r["eventTime"].as_str().expect("eventTime"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time-ordered");
}
