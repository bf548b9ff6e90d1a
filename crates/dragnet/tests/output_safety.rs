//! End-to-end tests of output safety (issue 16, item 3): untrusted text (record values, rule
//! text, file names) cannot act on a terminal or a spreadsheet, and `--output FILE` is replaced
//! whole or not at all. The real binary runs over records, rules and files made here.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn repo(rel: &str) -> PathBuf {
    dragnet_testdata::repo_root().join(rel)
}

fn dragnet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dragnet"));
    cmd.env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("DRAGNET_TEST_HOLD_OUTPUT");
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// Mallory's SSM SendCommand record from the samples, which fires "AWS Execution via System
/// Manager".
fn ssm_record() -> Value {
    let delivery: Value = serde_json::from_str(
        &std::fs::read_to_string(repo(
            "samples/cloudtrail/123456789012_CloudTrail_us-east-1_20250314T0910Z_mallory.json",
        ))
        .unwrap(),
    )
    .unwrap();
    delivery["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["eventID"] == "5a0c1e6e-0003-4d1a-9f00-5a3f1e000003")
        .unwrap()
        .clone()
}

const HYPERLINK: &str = "=HYPERLINK(\"http://x\",\"y\")";
const EVIL_UA: &str = "curl\x1b[31mred\x07";

/// The SSM record with a formula as its request's instance id (the alert's target, as no
/// resource ARN is left) and ESC[31m and BEL in its user agent.
fn evil_input(dir: &Path) -> PathBuf {
    let mut r = ssm_record();
    r.as_object_mut().unwrap().remove("resources");
    r["requestParameters"]["instanceIds"] = serde_json::json!([HYPERLINK]);
    r["userAgent"] = Value::from(EVIL_UA);
    let path = dir.join("evil.json");
    std::fs::write(&path, serde_json::json!({ "Records": [r] }).to_string()).unwrap();
    path
}

fn no_raw_controls(text: &str, what: &str) {
    assert!(
        !text.contains(['\x1b', '\x07', '\r', '\u{9b}', '\u{202e}']),
        "{what} holds a raw control character: {text:?}"
    );
}

#[test]
fn csv_neutralises_formulas_and_escapes_controls() {
    let dir = tempfile::tempdir().unwrap();
    let input = evil_input(dir.path());
    let r = run(dragnet()
        .args(["hunt", "-q", "--format", "csv"])
        .arg(&input));
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_raw_controls(&r.stdout, "the CSV");
    let row = r.stdout.lines().nth(1).expect("one alert");
    // OWASP: the formula cell gets a leading ' and is quoted (inner quotes doubled).
    assert!(
        row.contains(",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","),
        "{row}"
    );
    assert!(row.contains(",curl\\x1b[31mred\\x07,"), "{row}");

    // The same from --output FILE.csv.
    let csv = dir.path().join("alerts.csv");
    let r = run(dragnet().args(["hunt", "-q", "-o"]).arg(&csv).arg(&input));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().nth(1), Some(row));
}

#[test]
fn tables_show_control_characters_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let input = evil_input(dir.path());
    for color in ["never", "always"] {
        let r = run(dragnet()
            .args(["hunt", "-q", "-w", "--format", "table", "--width", "300"])
            .args(["--color", color])
            .arg(&input));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let row = r.stdout.lines().nth(2).unwrap();
        assert!(row.contains("curl\\x1b[31mred\\x07"), "{row}");
        if color == "never" {
            no_raw_controls(&r.stdout, "the table");
        } else {
            // Only dragnet's own colour codes: no ESC[31m from the record.
            assert!(!row.contains("curl\x1b"), "{row:?}");
            assert!(!row.contains('\x07'), "{row:?}");
        }
    }
}

#[test]
fn json_alert_documents_keep_the_value_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let input = evil_input(dir.path());
    let r = run(dragnet()
        .args(["hunt", "-q", "--format", "ndjson"])
        .arg(&input));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // JSON escapes control characters itself: the document holds the value unchanged.
    no_raw_controls(&r.stdout, "the NDJSON");
    let doc: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(doc["user_agent"]["original"], EVIL_UA, "{doc}");
}

/// A rule whose name, description, note and references hold ESC, BEL, CSI (U+009B) and a
/// right-to-left override: TOML's `\u` escapes put the raw characters in the strings.
const EVIL_RULE: &str = r###"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["test"]
description = "Looks \u001b[2Jharmless\u0007 and \u009b31m."
from = "now-9m"
index = ["logs-aws.cloudtrail-*"]
language = "kuery"
license = "Elastic License v2"
name = "Evil \u001b]0;pwned\u0007 rule \u202etxt.exe"
note = """## Triage
Check \u001b[31mthis\u001b[0m and &#27;[32mthat.
"""
references = ["https://example.com/\u001b[5m"]
risk_score = 21
rule_id = "0badc0de-0000-4000-8000-000000000001"
severity = "low"
type = "query"
query = '''
event.dataset:aws.cloudtrail and event.action:SendCommand
'''
"###;

#[test]
fn rules_show_and_list_escape_rule_text() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("evil_rule.toml");
    std::fs::write(&rule, EVIL_RULE).unwrap();

    let r = run(dragnet()
        .args(["rules", "show", "--format", "table", "--color", "never"])
        .arg(&rule));
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_raw_controls(&r.stdout, "rules show");
    let out = &r.stdout;
    assert!(
        out.starts_with("Evil \\x1b]0;pwned\\x07 rule \\u{202e}txt.exe\n"),
        "{out}"
    );
    assert!(
        out.contains("Looks \\x1b[2Jharmless\\x07 and \\u{9b}31m."),
        "{out}"
    );
    assert!(out.contains("Check \\x1b[31mthis\\x1b[0m"), "{out}");
    // A character reference decodes to ESC in Markdown: escaped too.
    assert!(out.contains("and \\x1b[32mthat."), "{out}");
    assert!(out.contains("https://example.com/\\x1b[5m"), "{out}");

    // Coloured: dragnet's bold around an escaped name.
    let r = run(dragnet()
        .args(["rules", "show", "--format", "table", "--color", "always"])
        .arg(&rule));
    assert!(
        r.stdout
            .starts_with("\x1b[1mEvil \\x1b]0;pwned\\x07 rule \\u{202e}txt.exe\x1b[0m\n"),
        "{:?}",
        r.stdout
    );

    for format in ["table", "csv"] {
        let r = run(dragnet()
            .args(["rules", "list", "--format", format, "-r"])
            .arg(dir.path()));
        assert_eq!(r.code, 0, "{}", r.stderr);
        no_raw_controls(&r.stdout, format);
        assert!(
            r.stdout.contains("Evil \\x1b]0;pwned\\x07 rule"),
            "{}",
            r.stdout
        );
    }
    // Kibana JSON keeps the rule as it is (JSON escapes it).
    let r = run(dragnet()
        .args(["rules", "show", "--format", "json"])
        .arg(&rule));
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["name"], "Evil \x1b]0;pwned\x07 rule \u{202e}txt.exe");
}

#[test]
fn stderr_escapes_file_names_and_record_text() {
    let dir = tempfile::tempdir().unwrap();
    // A file whose name holds ESC, BEL and CR, in a folder with one good CloudTrail file.
    let folder = dir.path().join("logs");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("good.json"),
        serde_json::json!({ "Records": [ssm_record()] }).to_string(),
    )
    .unwrap();
    let evil_name = "trail\x1b]0;owned\x07\r.json";
    std::fs::write(folder.join(evil_name), "{\"Records\": [{\"eventTime\": ").unwrap();
    let r = run(dragnet()
        .args(["hunt", "--format", "ndjson", "-r"])
        .arg(repo("rules"))
        .arg(&folder));
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_raw_controls(&r.stderr, "stderr");
    assert!(
        r.stderr.contains("trail\\x1b]0;owned\\x07\\r.json"),
        "{}",
        r.stderr
    );

    // An input named on the command line that does not exist: the error names it, escaped.
    let missing = dir.path().join("missing\x1b[2J\u{202e}.json");
    let r = run(dragnet().args(["hunt", "-q"]).arg(&missing));
    assert_eq!(r.code, 2, "{}", r.stderr);
    no_raw_controls(&r.stderr, "stderr");
    assert!(
        r.stderr.contains("missing\\x1b[2J\\u{202e}.json"),
        "{}",
        r.stderr
    );

    // A rule file with ESC in its name that does not parse: validate's diagnostic.
    let bad_rule = dir.path().join("bad\x1b[31m.toml");
    std::fs::write(&bad_rule, "[rule\nname = \"x\"\n").unwrap();
    let r = run(dragnet().args(["validate"]).arg(&bad_rule));
    assert_eq!(r.code, 1, "{}", r.stderr);
    no_raw_controls(&r.stderr, "validate's stderr");
    assert!(r.stderr.contains("bad\\x1b[31m.toml"), "{}", r.stderr);
}

/// Every message on stderr goes through `diag!` (escaped): no raw `eprintln!` in the CLI but
/// the one inside it.
#[test]
fn the_cli_prints_diagnostics_only_through_diag() {
    let src = repo("crates/dragnet/src");
    let mut stack = vec![src.clone()];
    let mut raw = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains("eprintln!(") || code.contains("eprint!(") {
                    raw.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    // The one allowed: `print_diag` itself.
    assert_eq!(
        raw.len(),
        1,
        "print diagnostics with diag!, which escapes control characters: {raw:#?}"
    );
    assert!(raw[0].contains("output.rs"), "{raw:?}");
}

#[cfg(unix)]
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[cfg(unix)]
#[test]
fn output_file_is_replaced_atomically_keeping_its_permissions() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.csv");
    std::fs::write(&out, "previous content\n").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::metadata(&out).unwrap();

    let r = run(dragnet()
        .args(["hunt", "-q", "-o"])
        .arg(&out)
        .arg(repo("samples")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("time,severity,rule,"), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");
    let after = std::fs::metadata(&out).unwrap();
    // A new file renamed over the old one (readers see one or the other), not the old file
    // truncated and rewritten in place.
    assert_ne!(
        after.ino(),
        before.ino(),
        "the output file was rewritten in place"
    );
    assert_eq!(after.permissions().mode() & 0o777, 0o640);
    assert!(temp_files(dir.path()).is_empty());

    // Through a symbolic link: the file it points to is replaced, the link stays.
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    std::fs::write(&out, "previous content\n").unwrap();
    let r = run(dragnet()
        .args(["hunt", "-q", "-o"])
        .arg(&link)
        .arg(repo("samples")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);

    // A device is written to, never replaced.
    let r = run(dragnet()
        .args(["hunt", "-q", "--format", "csv", "-o", "/dev/null"])
        .arg(repo("samples")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

/// Ctrl-C while `normalize -o FILE` writes a large output: FILE keeps its previous content and
/// no temporary file is left. The run is interrupted as soon as the output has started (the
/// temporary file exists, or, before the fix, FILE changed); the hidden hook
/// `DRAGNET_TEST_HOLD_OUTPUT` keeps a fast run from finishing before the signal lands.
#[cfg(unix)]
#[test]
fn an_interrupted_run_leaves_the_previous_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("many.jsonl");
    let record = ssm_record();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for i in 0..20_000 {
        let mut r = record.clone();
        r["eventID"] = Value::from(format!("00000000-0000-4000-8000-{i:012}"));
        writeln!(file, "{r}").unwrap();
    }
    file.flush().unwrap();
    drop(file);

    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("events.ndjson");
    let previous = "{\"previous\":\"content\"}\n".repeat(1000);
    std::fs::write(&out, &previous).unwrap();

    let mut child = dragnet()
        .args(["normalize", "-o"])
        .arg(&out)
        .arg(&input)
        .env("DRAGNET_TEST_HOLD_OUTPUT", "60000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let started = Instant::now();
    loop {
        let changed = std::fs::read(&out).map_or(true, |b| b != previous.as_bytes());
        if changed || !temp_files(&out_dir).is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the output never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap().join("\n");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        previous,
        "the previous output was lost ({status}); stderr: {stderr}"
    );
    assert!(
        temp_files(&out_dir).is_empty(),
        "{:?}",
        temp_files(&out_dir)
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
}
