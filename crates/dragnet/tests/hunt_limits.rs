//! `hunt`'s input limits and `--validate-json`, end to end: a hit limit is reported with the
//! flag that raises it, raising it lets the record through, and `--validate-json` reports a
//! broken record no rule could match (which the default, framing-only mode never parses).

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn lines_fixture() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt/shapes/lines.jsonl");
    std::fs::read_to_string(path).expect("fixture")
}

/// The first SendCommand hit of the fixture, one line.
fn ssm_hit() -> String {
    lines_fixture()
        .lines()
        .find(|l| l.contains(r#""eventName":"SendCommand""#) && l.contains("c0ffee00--hit"))
        .expect("the fixture's SendCommand hit")
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn hunt(args: &[&str], input: &Path) -> (i32, String, String) {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--format", "ndjson"])
        .args(args)
        .arg(input)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn record_size_limit_names_its_flag_and_raising_it_lets_the_record_through() {
    let dir = tempfile::tempdir().unwrap();
    let hit = ssm_hit();
    assert!(hit.len() > 1024);
    let input = write(dir.path(), "one.jsonl", &format!("{hit}\n"));

    let (code, stdout, stderr) = hunt(&["--max-record-bytes", "1K"], &input);
    // Its only record skipped, the run processed nothing: exit 2 (conventions.md).
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stdout.is_empty(),
        "no alert from a skipped record: {stdout}"
    );
    assert!(stderr.contains("--max-record-bytes"), "{stderr}");
    assert!(stderr.contains("one.jsonl"), "{stderr}");

    let (_, stdout, stderr) = hunt(&["--max-record-bytes", "64K"], &input);
    assert_eq!(stdout.lines().count(), 1, "{stderr}");
    assert!(stdout.contains("AWS Execution via System Manager"));

    let (code, _, stderr) = hunt(&["--max-record-bytes", "lots"], &input);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a size"), "{stderr}");
}

#[test]
fn json_depth_limit_names_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let hit = ssm_hit();
    let deep = format!("{}{}{}", "[".repeat(40), "1", "]".repeat(40));
    let nested = hit.replacen(
        r#""interactive":false"#,
        &format!(r#""interactive":{deep}"#),
        1,
    );
    let input = write(dir.path(), "deep.jsonl", &format!("{nested}\n{hit}\n"));
    let (_, stdout, stderr) = hunt(&["--validate-json", "--max-json-depth", "16"], &input);
    assert!(stderr.contains("--max-json-depth"), "{stderr}");
    // The deep record is skipped; the other still alerts.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[test]
fn validate_json_reports_broken_records_no_rule_could_match() {
    let dir = tempfile::tempdir().unwrap();
    let hit = ssm_hit();
    // A CloudTrail-looking line broken inside (a missing `:`), about an event no rule wants.
    let broken =
        r#"{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName" "ListBuckets"}"#;
    let input = write(dir.path(), "mixed.jsonl", &format!("{broken}\n{hit}\n"));

    let (_, stdout, stderr) = hunt(&[], &input);
    assert_eq!(stdout.lines().count(), 1);
    assert!(
        !stderr.contains("mixed.jsonl:1"),
        "framing-only mode: {stderr}"
    );

    let (_, stdout, stderr) = hunt(&["--validate-json"], &input);
    assert_eq!(stdout.lines().count(), 1, "the valid record still alerts");
    assert!(
        stderr.contains("mixed.jsonl:1: record 0: not valid JSON"),
        "{stderr}"
    );
    assert!(stderr.contains("skipped 1"), "{stderr}");
}
