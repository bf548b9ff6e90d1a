//! `hunt`'s alerts in bounded memory, end to end: with `--alert-memory 1` every alert is
//! spilled to a temporary file and merged back, and every format must print exactly what the
//! in-memory run prints (dedup of duplicate deliveries, suppression, sequences, thresholds,
//! `--max-signals` included); problems past `--max-problems` are counted, not listed.

use std::path::{Path, PathBuf};

mod common;

use assert_cmd::Command;
use common::without_timing;
use serde_json::Value;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn aggregations() -> (PathBuf, Vec<PathBuf>) {
    let dir = manifest().join("tests/fixtures/aggregations");
    let inputs = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    (dir.join("rules"), inputs)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hunt(args: &[&str], inputs: &[PathBuf]) -> Run {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .arg("hunt")
        .args(args)
        .args(inputs)
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The summary line's counts (not its timing).
fn counts(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("hunt: ") && l.contains(" alert(s) from "))
        .unwrap_or_else(|| panic!("no summary line: {stderr}"));
    let alerts = line.split(" rule(s) run").next().unwrap();
    let rest = line.split("; ").nth(1).unwrap();
    format!("{alerts} | {rest}")
}

/// Every format prints the same with every alert spilled as in memory.
fn same_with_spill(rules: Option<&Path>, extra: &[&str], inputs: &[PathBuf]) -> usize {
    let mut alerts = 0;
    for format in ["ndjson", "json", "csv", "table"] {
        let mut args = vec!["--format", format, "-j", "2"];
        if let Some(rules) = rules {
            args.extend(["-r", rules.to_str().unwrap()]);
        }
        args.extend(extra);
        let in_memory = hunt(&args, inputs);
        assert_eq!(in_memory.code, 0, "{}", in_memory.stderr);
        assert!(
            !in_memory.stderr.contains("spilled"),
            "{}",
            in_memory.stderr
        );
        args.extend(["--alert-memory", "1"]);
        let spilled = hunt(&args, inputs);
        assert_eq!(spilled.code, 0, "{}", spilled.stderr);
        if format == "json" {
            assert_eq!(
                without_timing(&spilled.stdout),
                without_timing(&in_memory.stdout),
                "{format} {extra:?}"
            );
            let doc: Value = serde_json::from_str(&spilled.stdout).unwrap();
            alerts = doc["alerts"].as_array().unwrap().len();
            if alerts > 0 {
                assert!(doc["summary"]["alert_spill_files"].as_u64().unwrap() > 0);
                assert!(doc["summary"]["alert_spill_bytes"].as_u64().unwrap() > 0);
            }
        } else {
            assert_eq!(spilled.stdout, in_memory.stdout, "{format} {extra:?}");
        }
        assert_eq!(counts(&spilled.stderr), counts(&in_memory.stderr));
        if alerts > 0 {
            assert!(
                spilled.stderr.contains("were spilled"),
                "{}",
                spilled.stderr
            );
        }
    }
    alerts
}

#[test]
fn aggregations_sequences_and_suppression_print_the_same_when_spilled() {
    let (rules, inputs) = aggregations();
    assert!(same_with_spill(Some(&rules), &[], &inputs) > 5);
    for max in ["0", "1", "2"] {
        same_with_spill(Some(&rules), &["--max-signals", max], &inputs);
    }
}

#[test]
fn duplicate_deliveries_are_dropped_when_spilled_too() {
    let samples = manifest().join("../../samples");
    // The same folder twice: every event delivered twice.
    let inputs = [samples.clone(), samples];
    let alerts = same_with_spill(None, &[], &inputs);
    assert!(alerts > 0);
    let run = hunt(&["--format", "ndjson", "--alert-memory", "1"], &inputs);
    let summary = counts(&run.stderr);
    assert!(!summary.contains("duplicate 0,"), "{summary}");
    let dup = manifest().join("tests/fixtures/hunt/dup");
    same_with_spill(None, &[], &[dup]);
}

#[test]
fn eql_sequences_print_the_same_when_spilled() {
    let eql = manifest().join("tests/fixtures/eql");
    let alerts = same_with_spill(Some(&eql.join("rules")), &[], &[eql.join("all.jsonl")]);
    assert!(alerts > 0);
    same_with_spill(
        Some(&eql.join("rules")),
        &["--max-signals", "1"],
        &[eql.join("all.jsonl")],
    );
}

fn broken_lines(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("broken.jsonl");
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!("{{\"eventTime\": broken {i}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn problems_past_max_problems_are_counted_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let input = broken_lines(dir.path(), 50);
    let samples = manifest().join("../../samples");
    let inputs = [input, samples];
    let run = hunt(&["--format", "ndjson", "--max-problems", "5"], &inputs);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: ") && l.contains("broken.jsonl:"))
        .count();
    assert_eq!(listed, 5, "{}", run.stderr);
    // The first five in input order.
    for line in 1..=5 {
        assert!(
            run.stderr.contains(&format!("broken.jsonl:{line}: ")),
            "{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("45 more problem(s)") && run.stderr.contains("--max-problems"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("skipped 50,"), "{}", run.stderr);

    let json = hunt(&["--format", "json", "--max-problems", "5"], &inputs);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    // The five record problems, and the one about a whole file (samples' README), always kept.
    let problems = doc["problems"].as_array().unwrap();
    let records: Vec<u64> = problems
        .iter()
        .filter_map(|p| p["record"].as_u64())
        .collect();
    assert_eq!(records, [0, 1, 2, 3, 4], "{problems:?}");
    assert_eq!(problems.len(), 6, "{problems:?}");
    assert_eq!(doc["summary"]["problems_not_kept"], 45);
    assert_eq!(doc["summary"]["records_skipped"], 50);

    // -q keeps none: nothing on stderr, and --strict still sees the skipped records.
    let quiet = hunt(&["--format", "ndjson", "-q"], &inputs);
    assert_eq!(quiet.code, 0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
    let strict = hunt(&["--format", "ndjson", "-q", "--strict"], &inputs);
    assert_eq!(strict.code, 2, "{}", strict.stderr);
    assert_eq!(strict.stdout, quiet.stdout);
}

#[test]
fn a_spill_folder_that_cannot_be_written_is_an_error_that_says_what_to_do() {
    let samples = manifest().join("../../samples");
    let run = hunt(
        &[
            "--format",
            "ndjson",
            "--alert-memory",
            "1",
            "--spill-dir",
            "/nonexistent/dragnet-spill",
        ],
        &[samples],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("/nonexistent/dragnet-spill") && run.stderr.contains("--spill-dir"),
        "{}",
        run.stderr
    );
}
