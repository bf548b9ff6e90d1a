//! Issue 16, end to end: a bad member of a single-line `{"Records":[…]}` file (the S3
//! delivery format) or of a top-level array no longer drops the records after it; a record
//! with bytes that are not UTF-8 is evaluated as Elastic's shippers index it; a run of
//! whitespace between records is not buffered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use assert_cmd::Command;
use serde_json::Value;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/cloudtrail")
}

/// The records of the shipped S3 sample (2 alerts with the seed rules), one line each.
fn sample_records() -> Vec<String> {
    let path = samples().join("123456789012_CloudTrail_us-east-1_20250314T0910Z_mallory.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect()
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

fn event_ids(stdout: &str) -> Vec<String> {
    let mut ids: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// The sample's records with a member nested 300 deep (beyond the default 256) as the second
/// element, all on one line: every record after it is still hunted, the summary counts the
/// one skipped, and `--strict` turns it into exit 2 (conventions: skipped records alone leave
/// exit 0).
#[test]
fn deep_member_of_a_single_line_records_file_or_array_keeps_the_records_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let records = sample_records();
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let mut members = records.clone();
    members.insert(1, deep);
    let plain = samples().join("123456789012_CloudTrail_us-east-1_20250314T0910Z_mallory.json");
    let (_, expected, _) = hunt(&[], &plain);
    let expected = event_ids(&expected);
    assert_eq!(expected.len(), 2);
    for (name, text) in [
        (
            "deep-records.json",
            format!("{{\"Records\":[{}]}}\n", members.join(",")),
        ),
        ("deep-array.json", format!("[{}]\n", members.join(","))),
    ] {
        let input = dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        let (code, stdout, stderr) = hunt(&[], &input);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(event_ids(&stdout), expected, "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{name}:1: record 1: JSON nests deeper than 256 levels"
            )) && stderr.contains("--max-json-depth"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("run over {} record(s)", records.len())),
            "{stderr}"
        );
        assert!(stderr.contains("skipped 1"), "{stderr}");
        let (code, stdout, stderr) = hunt(&["--strict"], &input);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(event_ids(&stdout), expected);
    }
}

/// A SendCommand record the seed rule alerts on, with bytes that are not UTF-8 in its user
/// agent, alerts: Filebeat and Elastic Agent (Go) index such a record with each bad byte as
/// U+FFFD — Go's `encoding/json` documents for Unmarshal that "invalid UTF-8 or invalid UTF-16
/// surrogate pairs are not treated as an error. Instead, they are replaced by the Unicode
/// replacement character U+FFFD" (pkg.go.dev/encoding/json). A note says so; nothing is
/// counted as skipped.
#[test]
fn record_with_invalid_utf8_alerts_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    let bad = hit.replacen("aws-cli/2.15.30", "aws-cli/2.15.30\u{1}", 1);
    let mut bytes = bad.into_bytes();
    let at = bytes.iter().position(|&b| b == 1).unwrap();
    bytes.splice(at..=at, [0xff, 0xc3]);
    bytes.push(b'\n');
    let input = dir.path().join("latin1.jsonl");
    std::fs::write(&input, &bytes).unwrap();
    let (code, stdout, stderr) = hunt(&[], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stderr}");
    let alert: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        alert["kibana.alert.rule.name"],
        "AWS Execution via System Manager"
    );
    assert_eq!(
        alert["user_agent"]["original"],
        "aws-cli/2.15.30\u{FFFD}\u{FFFD} Python/3.11.8 Linux/6.1 exe/x86_64"
    );
    assert!(
        stderr.contains("latin1.jsonl:1: record 0: record contains bytes that are not UTF-8")
            && stderr.contains("U+FFFD"),
        "{stderr}"
    );
    assert!(stderr.contains("skipped 0"), "{stderr}");
}

/// `(good record; 100 MB of newlines and spaces; good record) | dragnet hunt -`: the blanks
/// are not buffered (peak RSS measured with `/usr/bin/time -f %M` stays far below the 100 MB
/// that used to be held), the run is reported with the flag that bounds it, and the record
/// after it alerts.
#[test]
fn whitespace_between_records_on_stdin_is_not_buffered() {
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    let mut child = Process::new("/usr/bin/time")
        .args(["-f", "maxrss=%M"])
        .arg(assert_cmd::cargo::cargo_bin("dragnet"))
        .args(["hunt", "--format", "ndjson", "-j", "1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("/usr/bin/time runs");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = " \n".repeat(1 << 19).into_bytes();
        stdin.write_all(b"{\"eventVersion\":\"1.09\"}\n").unwrap();
        for _ in 0..100 {
            stdin.write_all(&chunk).unwrap();
        }
        stdin.write_all(hit.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("bytes of whitespace between records")
            && stderr.contains("--max-record-bytes"),
        "{stderr}"
    );
    let rss_kb: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss="))
        .expect("maxrss line")
        .trim()
        .parse()
        .unwrap();
    assert!(rss_kb < 60_000, "peak RSS {rss_kb} KB for 100 MB of blanks");
}

/// One nesting limit, `--max-json-depth`'s: a SendCommand hit with an array nested 200 deep
/// inside it alerts by default (256) and with `--max-json-depth 300` (serde_json's own limit
/// of 128 used to reject it as "recursion limit exceeded"); nested 300 deep it is reported
/// naming the flag by default, and alerts once the flag allows it — in the default
/// framing-only mode (where the fast JSON-lines path leaves depth to the parse) and with
/// `--validate-json`.
#[test]
fn nesting_limit_is_max_json_depth_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    let nested = |levels: usize| {
        let deep = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        let line = hit.replacen(
            r#""interactive":false"#,
            &format!(r#""interactive":{deep}"#),
            1,
        );
        assert_ne!(line, hit);
        let input = dir.path().join(format!("deep{levels}.jsonl"));
        std::fs::write(&input, format!("{line}\n")).unwrap();
        input
    };
    let deep200 = nested(200);
    let deep300 = nested(300);
    for mode in [&[][..], &["--validate-json"][..]] {
        for extra in [&[][..], &["--max-json-depth", "300"][..]] {
            let args: Vec<&str> = mode.iter().chain(extra).copied().collect();
            let (code, stdout, stderr) = hunt(&args, &deep200);
            assert_eq!(code, 0, "{args:?}: {stderr}");
            assert_eq!(stdout.lines().count(), 1, "{args:?}: {stderr}");
            assert!(!stderr.contains("recursion limit"), "{stderr}");
        }
        let (_, stdout, stderr) = hunt(mode, &deep300);
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("deep300.jsonl:1: record 0: JSON nests deeper than 256 levels")
                && stderr.contains("--max-json-depth"),
            "{mode:?}: {stderr}"
        );
        let args: Vec<&str> = mode
            .iter()
            .chain(&["--max-json-depth", "400"])
            .copied()
            .collect();
        let (_, stdout, stderr) = hunt(&args, &deep300);
        assert_eq!(stdout.lines().count(), 1, "{args:?}: {stderr}");
    }
}

/// A limit raised far past what a default worker stack holds works (the workers get a stack
/// to match) instead of overflowing the stack.
#[test]
fn raised_nesting_limit_does_not_overflow_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    let levels = 12_000;
    let deep = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    let line = hit.replacen(
        r#""interactive":false"#,
        &format!(r#""interactive":{deep}"#),
        1,
    );
    let input = dir.path().join("very-deep.jsonl");
    std::fs::write(&input, format!("{line}\n")).unwrap();
    let (code, stdout, stderr) = hunt(&["--max-json-depth", "20000"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stderr}");
}

/// Objects nested 60,000 deep in `requestParameters` under a raised limit: `hunt` with every
/// AWS rule maps them in linear time (rendering `flattened.request_parameters` asked whether
/// each level was dropped by the clean-up, at every level: quadratic, 100 s for 100,000
/// levels) and `normalize` gets a stack to match the limit as hunt's workers do (it overflowed
/// the main thread's stack and aborted).
#[test]
fn deep_objects_under_a_raised_limit_map_in_linear_time_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    let levels = 60_000;
    let deep = format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
    let line = hit.replacen(
        r#""interactive":false"#,
        &format!(r#""interactive":{deep}"#),
        1,
    );
    let input = dir.path().join("deep-objects.jsonl");
    std::fs::write(&input, format!("{line}\n")).unwrap();
    let aws = dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations/aws");
    let started = std::time::Instant::now();
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--no-prefilter", "--max-json-depth", "70000", "-r"])
        .arg(&aws)
        .arg(&input)
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("run over 1 record(s)"), "{stderr}");
    // Linear: well under a second here; quadratic was about 36 s for this depth.
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["normalize", "--max-json-depth", "70000"])
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// `normalize` applies the same one nesting limit as `hunt`: 200 levels (past serde_json's own
/// limit of 128) map with the default, 300 are reported naming `--max-json-depth` and map
/// with it raised.
#[test]
fn normalize_applies_max_json_depth_as_hunt_does() {
    let dir = tempfile::tempdir().unwrap();
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    let write = |levels: usize| {
        let deep = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
        let line = hit.replacen(
            r#""interactive":false"#,
            &format!(r#""interactive":{deep}"#),
            1,
        );
        let input = dir.path().join(format!("n{levels}.jsonl"));
        std::fs::write(&input, format!("{line}\n")).unwrap();
        input
    };
    let normalize = |args: &[&str], input: &Path| {
        let out = Command::cargo_bin("dragnet")
            .unwrap()
            .arg("normalize")
            .args(args)
            .arg(input)
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, stderr) = normalize(&[], &write(200));
    assert_eq!(stdout.lines().count(), 1, "{stderr}");
    let deep300 = write(300);
    let (stdout, stderr) = normalize(&[], &deep300);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("n300.jsonl:1: record 0: JSON nests deeper than 256 levels")
            && stderr.contains("--max-json-depth"),
        "{stderr}"
    );
    let (stdout, stderr) = normalize(&["--max-json-depth", "400"], &deep300);
    assert_eq!(stdout.lines().count(), 1, "{stderr}");
}

/// A record whose invalid UTF-8 was replaced is evaluated, not skipped: `--strict` (exit 2
/// when input was skipped) leaves the exit code 0 for it.
#[test]
fn strict_does_not_count_a_replaced_utf8_record_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    let mut bytes = hit
        .replacen("aws-cli/2.15.30", "aws-cli/2.15.30\u{1}", 1)
        .into_bytes();
    let at = bytes.iter().position(|&b| b == 1).unwrap();
    bytes.splice(at..=at, [0xff]);
    bytes.push(b'\n');
    let input = dir.path().join("latin1.jsonl");
    std::fs::write(&input, &bytes).unwrap();
    let (code, stdout, stderr) = hunt(&["--strict"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stderr}");
}

/// A SendCommand record the seed rule alerts on, whose user agent holds `\u` escapes of
/// unpaired UTF-16 surrogates, alerts in every shape it can arrive in: serde_json rejects such
/// a record, but Go's `encoding/json` (Filebeat, Elastic Agent) decodes each unpaired
/// surrogate as U+FFFD — "invalid UTF-8 or invalid UTF-16 surrogate pairs are not treated as an
/// error. Instead, they are replaced by the Unicode replacement character U+FFFD"
/// (pkg.go.dev/encoding/json#Unmarshal). Before, the record was skipped as "not valid JSON".
#[test]
fn record_with_unpaired_surrogate_escapes_alerts_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let hit = sample_records()
        .into_iter()
        .find(|r| r.contains("\"SendCommand\"") && !r.contains("errorCode"))
        .unwrap();
    // A lone high surrogate, a lone low one, then a valid pair (kept: U+1F600).
    let bad = hit.replacen(
        "aws-cli/2.15.30",
        r"aws-cli/2.15.30\ud800-\udc01x\ud83d\ude00",
        1,
    );
    let quoted = serde_json::to_string(&bad).unwrap();
    for (name, text) in [
        ("lines.jsonl", format!("{bad}\n")),
        ("records.json", format!("{{\"Records\":[{bad}]}}")),
        (
            "lookup-events.json",
            format!("{{\"Events\":[{{\"EventId\":\"x\",\"CloudTrailEvent\":{quoted}}}]}}"),
        ),
    ] {
        let input = dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        let (code, stdout, stderr) = hunt(&[], &input);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert_eq!(stdout.lines().count(), 1, "{name}: {stderr}");
        let alert: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
        assert_eq!(
            alert["user_agent"]["original"],
            "aws-cli/2.15.30\u{FFFD}-\u{FFFD}x\u{1F600} Python/3.11.8 Linux/6.1 exe/x86_64",
            "{name}"
        );
        assert!(
            stderr.contains(&format!(
                "{name}:1: record 0: record contains 2 invalid character(s)"
            )) && stderr.contains("U+FFFD"),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("skipped 0"), "{name}: {stderr}");
    }
}
