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

/// `mkfifo PATH`.
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
}

#[test]
fn a_fifo_in_a_folder_is_skipped_with_a_note_never_opened() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.jsonl", &records(2));
    mkfifo(&dir.path().join("b.pipe"));
    let (code, stdout, stderr) =
        dragnet(&["hunt", "--format", "ndjson", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stderr.contains("b.pipe: skipped: a FIFO (named pipe), not a regular file"),
        "{stderr}"
    );
}

#[test]
fn a_fifo_named_on_the_command_line_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "a.jsonl", &records(2));
    let fifo = dir.path().join("b.pipe");
    mkfifo(&fifo);
    let (code, stdout, stderr) = dragnet(&[
        "hunt",
        "-q",
        "--format",
        "ndjson",
        input.to_str().unwrap(),
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        1,
        "the other input still runs: {stdout}"
    );
    assert!(stderr.contains("error: "), "{stderr}");
    assert!(
        stderr.contains("b.pipe: cannot read input: a FIFO"),
        "{stderr}"
    );
}

#[test]
fn a_folder_walk_stops_at_max_files_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5 {
        write(dir.path(), &format!("f{i}.jsonl"), &records(2));
    }
    let folder = dir.path().to_str().unwrap();
    let (code, _, stderr) = dragnet(&["hunt", "--format", "json", "--max-files", "3", folder]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("folder walk stopped after 3 files"),
        "{stderr}"
    );
    assert!(stderr.contains("raise it with --max-files"), "{stderr}");
    assert!(stderr.contains("in 3 file(s)"), "{stderr}");
    let (_, _, stderr) = dragnet(&["hunt", "--format", "json", folder]);
    assert!(stderr.contains("in 5 file(s)"), "{stderr}");
    assert!(!stderr.contains("--max-files"), "{stderr}");
}

/// The command prefix that runs a program as `nobody` (sessions and CI run as root, whom no
/// file mode stops), or `None` when neither tool exists.
fn as_nobody() -> Option<Vec<&'static str>> {
    let has = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has("setpriv") {
        Some(vec![
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
    } else if has("runuser") {
        Some(vec!["runuser", "-u", "nobody", "--"])
    } else {
        None
    }
}

#[test]
fn a_permission_denied_file_is_counted_in_files_skipped() {
    use std::os::unix::fs::PermissionsExt;
    let Some(prefix) = as_nobody() else {
        println!("skipped: neither setpriv nor runuser exists to drop privileges");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(dir.path(), "a.jsonl", &records(2));
    let denied = write(dir.path(), "b.jsonl", &records(2));
    std::fs::set_permissions(&denied, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = std::process::Command::new(prefix[0])
        .args(&prefix[1..])
        .arg(assert_cmd::cargo::cargo_bin("dragnet"))
        .args(["hunt", "--format", "ndjson"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("b.jsonl: cannot open: Permission denied"),
        "{stderr}"
    );
    assert!(stderr.contains("files skipped 1"), "{stderr}");
}

/// The fixture's first SendCommand hit (one line), which alerts with the shipped rules.
fn ssm_hit() -> String {
    lines_fixture()
        .lines()
        .find(|l| l.contains(r#""eventName":"SendCommand""#) && l.contains("c0ffee00--hit"))
        .expect("the fixture's SendCommand hit")
        .to_string()
}

#[test]
fn records_without_a_usable_time_are_left_out_of_a_time_window_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let hit = ssm_hit();
    let time = hit
        .split(r#""eventTime":""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("eventTime")
        .to_string();
    let untimed = hit.replace(&time, "not a time");
    let input = write(dir.path(), "t.jsonl", &format!("{untimed}\n"));
    let input = input.to_str().unwrap();
    // Without a window the record alerts as before.
    let (_, stdout, _) = dragnet(&["hunt", "--format", "ndjson", input]);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    for window in [["--from", "2000-01-01"], ["--to", "2999-01-01"]] {
        let (code, stdout, stderr) =
            dragnet(&["hunt", "--format", "ndjson", window[0], window[1], input]);
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.is_empty(), "{} {}: {stdout}", window[0], window[1]);
        assert!(
            stderr.contains(
                "1 matching record(s) had no usable @timestamp; --from/--to could not be applied to them"
            ),
            "{stderr}"
        );
    }
}

/// Issue 16: the query nesting, query size and regex size limits named no flag. Each message
/// now names the flag that raises it; the flag raises it (up to a ceiling the threads are
/// given stack for), in `kql`, `eql`, `validate` and `hunt` alike.
#[test]
fn query_limits_name_their_flags_and_the_flags_raise_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "two.jsonl", &records(2));
    let input = input.to_str().unwrap();
    let deep = |n: usize| format!("{}event.action:*{}", "(".repeat(n), ")".repeat(n));

    let (code, _, stderr) = dragnet(&["kql", &deep(300), input]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("query nests deeper than 256 levels")
            && stderr.contains("raise the limit with --max-query-depth"),
        "{stderr}"
    );
    let (code, stdout, stderr) = dragnet(&["kql", "--max-query-depth", "310", &deep(300), input]);
    assert_eq!((code, stdout.lines().count()), (0, 2), "{stderr}");
    let (code, _, stderr) = dragnet(&["kql", "--max-query-depth", "5000", &deep(3), input]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("5000 is not in 1..=1024"), "{stderr}");

    let (code, _, stderr) = dragnet(&["kql", "--max-query-bytes", "8", "event.action:*", input]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("over the limit of 8 bytes") && stderr.contains("--max-query-bytes"),
        "{stderr}"
    );

    let regex = r#"any where event.action regex~ "(((a{10}){10}){10})""#;
    let (code, _, stderr) = dragnet(&["eql", "--max-regex-bytes", "1K", regex, input]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("over 1024 bytes") && stderr.contains("--max-regex-bytes"),
        "{stderr}"
    );
    let (code, _, stderr) = dragnet(&["eql", regex, input]);
    assert_eq!(code, 0, "{stderr}");

    // A rule nested 1,000 deep: invalid by default, run with the limit raised to the ceiling.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    write(&rules, "deep.toml", &query_rule(&deep(1000)));
    let rules = rules.to_str().unwrap();
    let (code, _, stderr) = dragnet(&["validate", rules]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--max-query-depth"), "{stderr}");
    let (code, _, stderr) = dragnet(&["validate", "--max-query-depth", "1024", rules]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = dragnet(&[
        "hunt",
        "--max-query-depth",
        "1024",
        "-r",
        rules,
        "--format",
        "ndjson",
        input,
    ]);
    assert_eq!((code, stdout.lines().count()), (0, 2), "{stderr}");
}
