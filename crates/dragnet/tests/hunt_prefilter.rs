//! End-to-end tests of the raw-bytes prefilter's gate choice (issue 15): gates chosen on a
//! sample of the input never change the alerts, avoid calls that are common in the input, and
//! rules without a gate do not make every other rule see every record.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use dragnet_bench::generator::{Format, TrailProfile, generate_profile};
use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hunt(args: &[&str], input: &Path) -> Run {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .arg("hunt")
        .args(args)
        .arg(input)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A generated JSON-lines trail of `profile`, `bytes` long (seed 42).
fn trail(dir: &Path, profile: TrailProfile, bytes: u64) -> PathBuf {
    let path = dir.join(format!("{}.jsonl", profile.name()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    generate_profile(42, bytes, Format::Jsonl, profile, &mut file).unwrap();
    drop(file);
    path
}

/// On a trail where S3 data events make `GetObject` 15% of the records, the AWS rules give the
/// same alerts with the prefilter as without it, and the credential-file rule is gated on its
/// key literals (`*/.aws/credentials`, `*.pem`…), not on `GetObject`.
#[test]
fn s3_data_events_gate_on_rare_literals_with_the_same_alerts() {
    let aws = dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations/aws");
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path(), TrailProfile::S3DataEvents, 3_000_000);
    let aws = aws.to_str().unwrap();
    let with = hunt(&["--format", "ndjson", "-r", aws], &input);
    let without = hunt(&["--format", "ndjson", "--no-prefilter", "-r", aws], &input);
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert_eq!(without.code, 0, "{}", without.stderr);
    assert!(with.stdout.lines().count() > 10, "{}", with.stderr);
    assert!(
        with.stdout == without.stdout,
        "the prefilter changed the alerts"
    );

    let rule = format!("{aws}/credential_access_credentials_in_s3_bucket.toml");
    let run = hunt(&["--format", "json", "-vv", "-r", &rule], &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let gates = run
        .stderr
        .lines()
        .find(|l| l.starts_with("prefilter: every record is scanned for"))
        .unwrap_or_else(|| panic!("no gate line: {}", run.stderr));
    assert!(
        run.stderr
            .contains("prefilter: gates chosen by their frequency in"),
        "{}",
        run.stderr
    );
    assert!(gates.contains("/.aws/credentials"), "{gates}");
    assert!(!gates.contains("GetObject"), "{gates}");
    let summary = &serde_json::from_str::<Value>(&run.stdout).unwrap()["summary"];
    let read = summary["records_read"].as_u64().unwrap();
    let skipped = summary["records_prefiltered"].as_u64().unwrap();
    // GetObject records (15%) no longer reach the rule.
    assert!(skipped * 100 > read * 95, "{skipped} of {read} prefiltered");
}

/// The whole rule corpus holds rules without a gate (`event.kind:event` matches every record):
/// they see every record, but the others still only the records that open their gates. (A
/// quarter of the records at least open none: the corpus also gates on common text, `AKIA` of
/// every long-term key and `iam.amazonaws.com`, for rules that have nothing rarer.)
#[test]
fn the_whole_corpus_still_prefilters_the_rules_with_gates() {
    let corpus = dragnet_testdata::require_shared!("corpus/detection-rules/rules");
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path(), TrailProfile::Default, 2_000_000);
    // The rule types whose gates this test has measured since issue 13; ES|QL rules (issue 17)
    // gate on their WHERE literals, often whole services (`event.provider IN (…)`), and are
    // counted by `rows fed` instead.
    let mut args = vec!["--format", "json", "-r", corpus.to_str().unwrap()];
    for t in [
        "query",
        "eql",
        "threshold",
        "new_terms",
        "threat_match",
        "machine_learning",
        "saved_query",
    ] {
        args.extend(["--type", t]);
    }
    let run = hunt(&args, &input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let summary = &doc["summary"];
    let read = summary["records_read"].as_u64().unwrap();
    let gated_out = summary["records_gated_out"].as_u64().unwrap();
    assert!(read > 1000, "{read}");
    assert!(
        gated_out * 100 > read * 25,
        "{gated_out} of {read} records opened no gate"
    );
    let ungated: Vec<&str> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "run" && r["prefiltered"] == false)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(ungated.contains(&"My First Rule"), "{ungated:?}");
    // Rules for other data sources read fields the mapping never fills: never CloudTrail's.
    assert!(
        !ungated.contains(&"Linux User Account Creation"),
        "{ungated:?}"
    );
    let evaluations = summary["rule_evaluations"].as_u64().unwrap();
    let skipped = summary["rule_evaluations_skipped"].as_u64().unwrap();
    assert!(
        skipped > evaluations * 20,
        "{evaluations} evaluations, {skipped} skipped"
    );
    let mut without_args = args.clone();
    without_args.push("--no-prefilter");
    let without = hunt(&without_args, &input);
    let alerts = |run: &Run| serde_json::from_str::<Value>(&run.stdout).unwrap()["alerts"].clone();
    assert_eq!(
        alerts(&run),
        alerts(&without),
        "the prefilter changed the alerts"
    );
}
