//! `hunt --time-ordered` end to end (issue 15: the first alert of an ordered input reaches
//! stdout while the run goes on): over input in time order, every format prints exactly what
//! the run without the flag prints; input out of order stops the run with exit 2 and a message
//! naming the record (what was written is in order, but records read later belong before it);
//! a closed stdout (`| head -1`) ends the run
//! long before the input is read.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

use assert_cmd::Command;
use common::without_timing;
use dragnet_bench::generator::{Format, TrailProfile, generate_profile};
use serde_json::Value;

/// A query rule matching every record (`event.action:*`: every CloudTrail record has an
/// eventName).
const EVERY_RECORD: &str = r#"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["dragnet tests"]
description = "Every record."
from = "now-9m"
index = ["logs-aws.cloudtrail-*"]
language = "kuery"
license = "Elastic License v2"
name = "Every record"
risk_score = 21
rule_id = "00000000-0000-4000-8000-000000000001"
severity = "low"
type = "query"
query = "event.action:*"
"#;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn hunt(args: &[&str]) -> Run {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .arg("hunt")
        .args(args)
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The rule files: every record, plus the shipped query rules.
fn rules(dir: &Path) -> Vec<String> {
    let every = dir.join("every.toml");
    std::fs::write(&every, EVERY_RECORD).unwrap();
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    vec![
        "-r".into(),
        every.display().to_string(),
        "-r".into(),
        shipped.display().to_string(),
    ]
}

/// A generated trail (in time order, as CloudTrail writes a file), `bytes` long; with
/// `duplicate_every`, every such record is delivered twice in a row (a second trail).
fn trail(path: &Path, bytes: u64, duplicate_every: Option<usize>) {
    let mut text = Vec::new();
    generate_profile(7, bytes, Format::Jsonl, TrailProfile::Default, &mut text).unwrap();
    let mut out = Vec::new();
    for (i, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        out.extend_from_slice(line);
        if duplicate_every.is_some_and(|n| i % n == 0) {
            out.extend_from_slice(line);
        }
    }
    std::fs::write(path, out).unwrap();
}

/// Every format, with and without the flag, over `inputs`: the same output.
fn same_output(dir: &Path, extra: &[&str], inputs: &[&Path]) -> usize {
    let mut lines = 0;
    for format in ["ndjson", "json", "csv", "table"] {
        let mut args: Vec<String> = vec!["--format".into(), format.into(), "-j".into(), "2".into()];
        args.extend(rules(dir));
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(inputs.iter().map(|p| p.display().to_string()));
        let plain: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut flagged = plain.clone();
        flagged.extend(["--time-ordered", "-v"]);
        let end = hunt(&plain);
        let early = hunt(&flagged);
        assert_eq!(end.code, 0, "{}", end.stderr);
        assert_eq!(early.code, 0, "{}", early.stderr);
        assert!(
            early
                .stderr
                .contains("alert(s) written while the run went on"),
            "{}",
            early.stderr
        );
        if format == "json" {
            assert_eq!(
                without_timing(&early.stdout),
                without_timing(&end.stdout),
                "{format} {extra:?}"
            );
        } else {
            assert!(early.stdout == end.stdout, "{format} {extra:?} differs");
        }
        if format == "ndjson" {
            lines = end.stdout.lines().count();
        }
    }
    lines
}

#[test]
fn time_ordered_output_is_the_output_of_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trail.jsonl");
    // Every 50th record delivered twice: dedup across what is written early and late.
    trail(&file, 3_000_000, Some(50));
    // Segments of 64 KiB: many work units finished by two workers in any order.
    let alerts = same_output(dir.path(), &["--segment-bytes", "65536"], &[&file]);
    assert!(alerts > 2000, "{alerts}");
    // With --max-signals and from stdin-like batches (files too small to map).
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("part{i}.jsonl")))
        .collect();
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, part) in parts.iter().enumerate() {
        let chunk = &lines[i * lines.len() / 3..(i + 1) * lines.len() / 3];
        std::fs::write(part, chunk.join("\n") + "\n").unwrap();
    }
    let parts: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
    same_output(dir.path(), &["--max-signals", "40"], &parts);
    same_output(dir.path(), &[], &parts);
}

#[test]
fn input_out_of_time_order_stops_with_exit_2_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let ordered = dir.path().join("ordered.jsonl");
    trail(&ordered, 2_000_000, None);
    let text = std::fs::read_to_string(&ordered).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The second half first: the first record of the first half (line `back`) goes back in
    // time.
    let half = lines.len() / 2;
    let back = lines.len() - half + 1;
    let swapped = dir.path().join("swapped.jsonl");
    std::fs::write(
        &swapped,
        lines[half..].join("\n") + "\n" + &lines[..half].join("\n") + "\n",
    )
    .unwrap();
    // Segments of 64 KiB, so that the second half's first segments are written before the
    // first half's records are read (with two 1 MiB segments, both can be evaluated before
    // anything is written, and the output is then right: no violation).
    let mut args = vec![
        "--format".to_string(),
        "ndjson".into(),
        "-j".into(),
        "2".into(),
        "--segment-bytes".into(),
        "65536".into(),
    ];
    args.extend(rules(dir.path()));
    args.push(swapped.display().to_string());
    let plain: Vec<&str> = args.iter().map(String::as_str).collect();
    let whole = hunt(&plain);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let mut flagged = plain.clone();
    flagged.push("--time-ordered");
    let early = hunt(&flagged);
    assert_eq!(early.code, 2, "{}", early.stderr);
    let message = early.stderr.lines().last().unwrap();
    assert!(
        message.starts_with("error: --time-ordered: the input is not in @timestamp order: ")
            && message.contains("swapped.jsonl: line ")
            && message.contains("rerun without --time-ordered"),
        "{}",
        early.stderr
    );
    // The record named is one of the first half's (every one of them is earlier than what
    // the second half wrote), with its real line number.
    let line: usize = message
        .split("swapped.jsonl: line ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(line >= back, "line {line}, first out of order {back}");
    let event = message
        .split("event ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(lines[line - back].contains(event), "{message}");
    // What was printed is in the whole run's order, but not its start: the record named
    // alerts before it. The message says so and how many were written.
    let written: Vec<&str> = early.stdout.lines().collect();
    assert!(!written.is_empty());
    let whole_lines: Vec<&str> = whole.stdout.lines().collect();
    let positions: Vec<usize> = written
        .iter()
        .map(|l| {
            whole_lines
                .iter()
                .position(|w| w == l)
                .expect("an alert of the run")
        })
        .collect();
    assert!(
        positions.windows(2).all(|p| p[0] < p[1]),
        "in the run's order"
    );
    let late = whole_lines
        .iter()
        .position(|w| w.contains(event))
        .expect("the record named alerts in the whole run");
    assert!(
        late < positions[0],
        "the record named sorts before what was written"
    );
    assert!(
        message.contains(&format!(
            "the {} alert(s) already written are in order among themselves, but this record's alerts",
            written.len()
        )),
        "{message}"
    );
}

#[test]
fn aggregating_rules_keep_output_at_the_end_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aggregations");
    let rule = fixtures.join("rules/threshold_console_login.toml");
    let input = fixtures.join("threshold.jsonl");
    let args = [
        "--format",
        "ndjson",
        "-r",
        rule.to_str().unwrap(),
        input.to_str().unwrap(),
    ];
    let end = hunt(&args);
    let mut flagged = args.to_vec();
    flagged.extend(["--time-ordered", "-v"]);
    let early = hunt(&flagged);
    assert_eq!((end.code, early.code), (0, 0), "{}", early.stderr);
    assert_eq!(early.stdout, end.stdout);
    assert!(!end.stdout.is_empty());
    assert!(
        early
            .stderr
            .contains("note: --time-ordered: alerts are written once every record is read: rule")
            && early
                .stderr
                .contains("(threshold) alerts only once every record is read"),
        "{}",
        early.stderr
    );
    let _ = dir;
}

/// Counts what is written through it.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// `hunt --time-ordered - | head -1`: the first alert comes while the input is still being
/// written, and closing stdout after it ends the run (exit 0, nothing on stderr) having read a
/// small part of the input: the workers and the reader stop.
#[test]
fn a_closed_stdout_ends_the_run_long_before_the_input_is_read() {
    const INPUT: u64 = 2_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "hunt".to_string(),
        "--time-ordered".into(),
        "-j".into(),
        "2".into(),
    ];
    args.extend(rules(dir.path()));
    args.push("-".into());
    let started = Instant::now();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("dragnet"))
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    // The input, 2 GB of records in time order, written as the run reads it.
    let writer = std::thread::spawn(move || {
        let mut sink = Counting {
            inner: stdin,
            written: 0,
        };
        let result = generate_profile(3, INPUT, Format::Jsonl, TrailProfile::Default, &mut sink);
        (sink.written, result.is_err())
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let first_after = started.elapsed();
    drop(stdout);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the run went on after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (written, cut_short) = writer.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let doc: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(doc["kibana.alert.rule.name"], "Every record", "{first}");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // The input stopped being read: the writer met a closed pipe after a small part of it.
    assert!(cut_short, "the whole input was read");
    assert!(written < INPUT / 20, "{written} bytes read of {INPUT}");
    eprintln!("first alert after {first_after:?}; {written} bytes read of {INPUT}");
}
