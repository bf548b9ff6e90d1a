//! Issue 16, hangs, runaways and crashes: every resource a run spends is capped by a named
//! limit, checked before it is spent, and the message names the flag that sets it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn lines_fixture() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt/shapes/lines.jsonl");
    std::fs::read_to_string(path).expect("fixture")
}

/// The first `n` records of the fixture, one per line.
fn records(n: usize) -> String {
    lines_fixture()
        .lines()
        .take(n)
        .map(|l| format!("{l}\n"))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn dragnet(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn huge_date_math_is_a_usage_error_naming_the_value_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "two.jsonl", &records(2));
    let input = input.to_str().unwrap();
    for (flag, value) in [
        ("--from", "now-7304485d"),
        ("--from", "now-1000000y"),
        ("--to", "now+1000000y"),
        ("--to", "now-1000000y"),
        ("--from", "now-99999999999999999999d"),
    ] {
        let (code, _, stderr) = dragnet(&["hunt", flag, value, input]);
        assert_eq!(code, 2, "{flag} {value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains(value), "{stderr}");
        assert!(stderr.contains("10000 years"), "{stderr}");
    }
    // Each step in range, the sum past year 9999: the same, with the range of instants.
    let (code, _, stderr) = dragnet(&["hunt", "--to", "now+9000y+9000y", input]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("-9999-01-01 to 9999-12-31"), "{stderr}");
}

#[test]
fn a_rule_from_out_of_range_is_an_invalid_rule_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let rule = write(
        dir.path(),
        "far.toml",
        r#"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["t"]
description = "d"
from = "now-1000000y"
index = ["logs-aws.cloudtrail-*"]
language = "kuery"
license = "Elastic License v2"
name = "Far back"
risk_score = 21
rule_id = "00000000-0000-0000-0000-00000000f00d"
severity = "low"
type = "query"
query = "event.action:SendCommand"
"#,
    );
    let (code, _, stderr) = dragnet(&["validate", rule.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("now-1000000y"), "{stderr}");
    assert!(stderr.contains("out of range"), "{stderr}");
}

/// A query rule with `query`.
fn query_rule(query: &str) -> String {
    format!(
        r#"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["t"]
description = "d"
index = ["logs-aws.cloudtrail-*"]
language = "kuery"
license = "Elastic License v2"
name = "Many users"
risk_score = 21
rule_id = "00000000-0000-0000-0000-00000000beef"
severity = "low"
type = "query"
query = """{query}"""
"#
    )
}

#[test]
fn a_rule_of_40000_or_clauses_compiles_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "two.jsonl", &records(2));
    let users = (0..40_000)
        .map(|i| format!("user.name:u{i:06}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let rule = write(
        dir.path(),
        "many.toml",
        &query_rule(&format!("event.action:* and ({users})")),
    );
    let started = Instant::now();
    let (code, _, stderr) = dragnet(&[
        "hunt",
        "-r",
        rule.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("1 run"), "{stderr}");
    // Before: 3.5 minutes on two cores (quadratic in dragnet_event::literals::any_of).
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn absurd_thread_counts_are_clamped_with_a_warning_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "two.jsonl", &records(2));
    let started = Instant::now();
    let (code, _, stderr) = dragnet(&[
        "hunt",
        "-j",
        "100000",
        "--format",
        "ndjson",
        input.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("-j/--threads 100000 clamped to"),
        "{stderr}"
    );
    // Before: 13 minutes at 200% CPU.
    assert!(took < Duration::from_secs(5), "took {took:?}");

    let (code, _, stderr) = dragnet(&[
        "kql",
        "-j",
        "100000",
        "event.action:*",
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("-j/--threads 100000 clamped to"),
        "{stderr}"
    );
}
