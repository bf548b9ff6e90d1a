//! Rule selection and accounting in `dragnet hunt` (real binary): the selection flags are checked
//! before any rule loads, deprecated rules are not selected unless asked for, and the rules that
//! do not run are summed up by reason category on stderr, listed one by one under `-v`, and
//! given with their exact reason in `--format json`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

fn dragnet() -> Command {
    Command::cargo_bin("dragnet").expect("dragnet binary")
}

/// A small CloudTrail input: the hunt fixtures' `{"Records": [...]}` delivery.
fn records() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt/shapes/records.json")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_invalid_selection_value_is_a_usage_error_before_any_rule_loads() {
    let started = Instant::now();
    // The rules path does not exist: had rules been loaded first, that would be the error.
    let out = dragnet()
        .args(["hunt", "--severity", "bogus", "-r", "/nonexistent/rules"])
        .arg(records())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("'bogus'"), "{err}");
    assert!(err.contains("low, medium, high, critical"), "{err}");
    assert!(!err.contains("/nonexistent/rules"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    for (flag, value, valid) in [
        ("--type", "sigma", "new_terms"),
        ("--maturity", "stable", "production"),
        ("--tactic", "Exfil", "Exfiltration (TA0010)"),
    ] {
        for command in [&["hunt"][..], &["rules", "list"][..]] {
            let out = dragnet()
                .args(command)
                .args([flag, value, "-r", "/nonexistent/rules"])
                .arg(records())
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{command:?} {flag}: {err}");
            assert!(err.contains(valid), "{command:?} {flag}: {err}");
            assert!(!err.contains("/nonexistent/rules"), "{err}");
        }
    }
}

#[test]
fn selection_flags_account_the_rules_they_leave_out() {
    let out = dragnet()
        .args([
            "hunt",
            "--format",
            "json",
            "--name",
            "SYSTEM MANAGER",
            "--tactic",
            "ta0001",
        ])
        .arg(records())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = doc["rules"].as_array().unwrap();
    let status = |name: &str| {
        rules
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| (r["status"].clone(), r["reason"].clone()))
            .unwrap()
    };
    assert_eq!(status("AWS Execution via System Manager").0, "run");
    let (s, reason) = status("EC2 AMI Shared with Another Account");
    assert_eq!(s, "not_selected");
    assert!(reason.as_str().unwrap().starts_with("--name: "), "{reason}");
    assert_eq!(doc["summary"]["rules"]["not_selected"], 1);
}

/// The detection-rules corpus, or `None` (test skipped) without `../shared`.
fn corpus() -> Option<PathBuf> {
    dragnet_testdata::shared("corpus/detection-rules/rules")
}

fn hunt_corpus(extra: &[&str]) -> Option<Output> {
    let rules = corpus()?;
    Some(
        dragnet()
            .arg("hunt")
            .arg("-r")
            .arg(rules)
            .args(extra)
            .arg(records())
            .output()
            .unwrap(),
    )
}

#[test]
fn the_corpus_summary_is_one_line_per_reason_category() {
    let Some(out) = hunt_corpus(&["--format", "ndjson"]) else {
        return;
    };
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.lines().count() <= 12,
        "{} lines on stderr:\n{err}",
        err.lines().count()
    );
    // (ES|QL rules run since issue 17: their category is no longer certain to appear.)
    for line in [
        " not applicable: index patterns cannot cover CloudTrail",
        " unsupported: machine learning jobs",
        " unsupported: needs --asn-db",
        " not selected: deprecated",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("  ") && l.ends_with(line)),
            "no `{line}` line:\n{err}"
        );
    }
    // Counts in the thousands are grouped.
    let na = err
        .lines()
        .find(|l| l.ends_with("not applicable: index patterns cannot cover CloudTrail"))
        .unwrap();
    assert!(na.trim_start().starts_with("1,"), "{na}");
}

#[test]
fn verbose_lists_every_rule_that_did_not_run_with_its_reason() {
    let Some(json) = hunt_corpus(&["--format", "json", "-q"]) else {
        return;
    };
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    let Some(out) = hunt_corpus(&["--format", "ndjson", "-v"]) else {
        return;
    };
    let err = stderr(&out);
    let not_run: Vec<&Value> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "run")
        .collect();
    assert!(not_run.len() > 1000, "{}", not_run.len());
    for r in not_run {
        let line = format!(
            "{} ({}): {}",
            r["name"].as_str().unwrap(),
            r["rule_id"].as_str().unwrap(),
            r["reason"].as_str().unwrap()
        );
        assert!(
            err.lines()
                .any(|l| l.starts_with("  ") && l.ends_with(&line)),
            "-v does not list `{line}`"
        );
    }
}

#[test]
fn json_summary_gives_every_rule_that_did_not_run_its_reason() {
    let Some(out) = hunt_corpus(&["--format", "json", "-q"]) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = &doc["summary"]["rules"];
    let total = rules["total"].as_u64().unwrap();
    let run = rules["run"].as_u64().unwrap();
    let not_run = rules["not_run"].as_array().unwrap();
    assert_eq!(not_run.len() as u64, total - run);
    for r in not_run {
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
        assert!(r["category"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
    }
    let counted: u64 = rules["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, total - run);
    // Deprecated rules are not selected, with that reason.
    let deprecated = not_run
        .iter()
        .filter(|r| r["category"] == "deprecated")
        .count();
    assert!(deprecated > 100, "{deprecated}");
    assert!(
        not_run
            .iter()
            .filter(|r| r["category"] == "deprecated")
            .all(|r| r["status"] == "not_selected")
    );
    // Rules reading source.as.* without --asn-db are unsupported for that reason.
    assert!(not_run.iter().any(|r| {
        r["status"] == "unsupported"
            && r["category"] == "needs --asn-db"
            && r["reason"]
                .as_str()
                .unwrap()
                .starts_with("reads source.as.")
    }));
}

#[test]
fn include_deprecated_selects_deprecated_rules() {
    let Some(out) = hunt_corpus(&["--format", "json", "-q", "--include-deprecated"]) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["summary"]["rules"]["not_selected"], 0);
}
