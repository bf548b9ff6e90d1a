//! End-to-end tests of the output side shared by every command (issue 14, items 3-5): the
//! format from `--format` or the `--output` extension, the alert table and CSV, the closing
//! summary, validate / rules in each format, missing inputs, and closed pipes. The real binary
//! runs over the shipped samples (and the shared datasets where named).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

const CSV_HEADER: &str = "time,severity,rule,actor,account,region,source_ip,action,target,event_id,user_agent,rule_id,risk_score,reason,alert_uuid";

fn repo(rel: &str) -> PathBuf {
    dragnet_testdata::repo_root().join(rel)
}

fn dragnet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dragnet"));
    cmd.env_remove("COLUMNS").env_remove("NO_COLOR");
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

fn hunt_samples(args: &[&str]) -> Run {
    run(dragnet().arg("hunt").args(args).arg(repo("samples")))
}

/// Display width of a line, for the fitted-table checks (the table uses `…`).
fn width(line: &str) -> usize {
    line.chars().count()
}

#[test]
fn output_file_extension_picks_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let ndjson = hunt_samples(&["--format", "ndjson"]);
    assert_eq!(ndjson.code, 0, "{}", ndjson.stderr);
    assert_eq!(ndjson.stdout.lines().count(), 3);

    let csv = dir.path().join("alerts.csv");
    let r = hunt_samples(&["-q", "-o", csv.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().next(), Some(CSV_HEADER));
    assert_eq!(text.lines().count(), 4, "{text}");

    for name in ["alerts.ndjson", "alerts.jsonl"] {
        let path = dir.path().join(name);
        let r = hunt_samples(&["-q", "--output", path.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        // The alert documents are the ones --format ndjson prints, byte for byte.
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            ndjson.stdout,
            "{name}"
        );
    }

    let json = dir.path().join("alerts.JSON");
    let r = hunt_samples(&["-q", "-o", json.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let alerts = doc["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 3);
    let first: Value = serde_json::from_str(ndjson.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(alerts[0], first);
    assert!(doc["summary"]["rules"]["run"].as_u64().unwrap() > 0);

    // --format wins over the name.
    let forced = dir.path().join("alerts.txt");
    let r = hunt_samples(&["-q", "--format", "csv", "-o", forced.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        std::fs::read_to_string(&forced)
            .unwrap()
            .starts_with(CSV_HEADER)
    );

    // Another extension without --format is a usage error, before any work.
    let txt = dir.path().join("alerts-unknown.txt");
    let r = hunt_samples(&["-o", txt.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        format!(
            "error: cannot tell the output format from the name {}: end it in .csv, .json, .ndjson or .jsonl, or give --format\n",
            txt.display()
        )
    );
    assert!(!txt.exists());
}

#[test]
fn csv_carries_the_table_columns_and_more() {
    let r = hunt_samples(&["--format", "csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], CSV_HEADER);
    assert_eq!(
        lines[1],
        "2025-03-14T09:04:05.000Z,low,AWS Execution via System Manager,mallory,123456789012,us-east-1,203.0.113.77,SendCommand,arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60718,5a0c1e6e-0003-4d1a-9f00-5a3f1e000003,aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64,37b211e8-4e2f-440f-86d8-06cc8f158cfa,21,process event with source 203.0.113.77 by mallory created low alert AWS Execution via System Manager.,8668f3a1cdf2be1686f40662a69863eb3d34e7315e6cd45f8879463fb198d262"
    );
}

#[test]
fn table_fits_the_width_and_wide_adds_the_user_agent() {
    // Unlimited (a pipe): every column, the ARN target as its resource part.
    let r = hunt_samples(&["--format", "table"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let header = r.stdout.lines().next().unwrap();
    let titles: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(
        titles,
        [
            "time (UTC)",
            "severity",
            "rule",
            "actor",
            "account",
            "region",
            "source ip",
            "action",
            "target",
            "event id"
        ]
    );
    let row = r.stdout.lines().nth(2).unwrap();
    assert!(
        row.starts_with("2025-03-14 09:04:05  low       AWS Execution via System Manager"),
        "{row}"
    );
    assert!(row.contains("  instance/i-0a1b2c3d4e5f60718  "), "{row}");
    assert!(!r.stdout.contains("aws-cli/"));

    let wide = hunt_samples(&["--format", "table", "--wide"]);
    assert!(wide.stdout.lines().next().unwrap().ends_with("user agent"));
    assert!(wide.stdout.contains("aws-cli/2.15.30 Python/3.11.8"));

    // 100 columns, by --width or by COLUMNS: every line fits; the event id goes first.
    for narrow in [
        hunt_samples(&["--format", "table", "--width", "100"]),
        run(dragnet()
            .env("COLUMNS", "100")
            .args(["hunt", "--format", "table"])
            .arg(repo("samples"))),
    ] {
        assert_eq!(narrow.code, 0, "{}", narrow.stderr);
        for line in narrow.stdout.lines() {
            assert!(width(line) <= 100, "{} > 100: {line}", width(line));
        }
        let header = narrow.stdout.lines().next().unwrap();
        assert!(!header.contains("event id"), "{header}");
        for kept in [
            "time (UTC)",
            "severity",
            "rule",
            "actor",
            "source ip",
            "action",
        ] {
            assert!(header.contains(kept), "{kept}: {header}");
        }
        let note = narrow
            .stderr
            .lines()
            .find(|l| l.starts_with("note: column(s) "))
            .unwrap_or_else(|| panic!("{}", narrow.stderr));
        assert!(note.contains("event id"), "{note}");
        assert!(
            note.ends_with("left out to fit 100 columns; widen the terminal, or use --format csv"),
            "{note}"
        );
        assert!(narrow.stdout.contains("mallory"));
        assert!(narrow.stdout.contains("203.0.113.77"));
    }
}

#[test]
fn severity_is_coloured_only_when_asked_or_on_a_terminal() {
    let plain = hunt_samples(&["--format", "table"]);
    assert!(!plain.stdout.contains('\x1b'), "{}", plain.stdout);
    let always = hunt_samples(&["--format", "table", "--color", "always"]);
    // low in green, medium in yellow, in the rows and the totals.
    assert!(
        always.stdout.contains("\x1b[32mlow\x1b[0m"),
        "{}",
        always.stdout
    );
    assert!(always.stdout.contains("\x1b[33mmedium\x1b[0m"));
    let never = run(dragnet()
        .env("NO_COLOR", "1")
        .args(["hunt", "--format", "table", "--color", "auto"])
        .arg(repo("samples")));
    assert!(!never.stdout.contains('\x1b'));
}

#[test]
fn closing_summary_by_severity_then_count_with_totals() {
    let r = hunt_samples(&["--format", "table"]);
    let summary: Vec<&str> = r
        .stdout
        .split("\n\n")
        .nth(1)
        .expect("a blank line before the summary")
        .lines()
        .collect();
    assert!(
        summary[0].starts_with("severity  alerts  rule"),
        "{summary:?}"
    );
    // medium (1 alert) before low (2 alerts): severity first, then count.
    assert!(
        summary[2].starts_with("medium    1       EC2 AMI Shared with Another Account"),
        "{summary:?}"
    );
    assert!(
        summary[3].starts_with("low       2       AWS Execution via System Manager"),
        "{summary:?}"
    );
    assert_eq!(summary[4], "3 alert(s) from 2 rule(s): 1 medium, 2 low");
}

#[test]
fn closing_summary_orders_the_aws_pack_by_severity() {
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let rules = dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations/aws");
    let r = run(dragnet()
        .args(["hunt", "-q", "--format", "table", "-r"])
        .arg(&rules)
        .arg(&datasets));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = r.stdout.split("\n\n").nth(1).unwrap();
    let rows: Vec<(i8, u64)> = summary
        .lines()
        .skip(2)
        .take_while(|l| !l.contains("alert(s) from"))
        .map(|l| {
            let mut f = l.split_whitespace();
            let sev = match f.next().unwrap() {
                "critical" => 3,
                "high" => 2,
                "medium" => 1,
                "low" => 0,
                other => panic!("{other}"),
            };
            (sev, f.next().unwrap().parse().unwrap())
        })
        .collect();
    assert!(rows.len() > 10, "{summary}");
    let mut sorted = rows.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(rows, sorted, "{summary}");
    // The totals add up, per severity and overall.
    let total: u64 = rows.iter().map(|r| r.1).sum();
    let line = summary.lines().last().unwrap();
    assert!(
        line.starts_with(&format!("{total} alert(s) from {} rule(s): ", rows.len())),
        "{line}"
    );
    for (rank, word) in [(2, "high"), (1, "medium"), (0, "low")] {
        let n: u64 = rows.iter().filter(|r| r.0 == rank).map(|r| r.1).sum();
        if n > 0 {
            assert!(line.contains(&format!("{n} {word}")), "{line}");
        }
    }

    // Actor falls back: ARN for the root user, identity type for AWS services, threshold terms.
    let csv = run(dragnet()
        .args(["hunt", "-q", "--format", "csv", "-r"])
        .arg(&rules)
        .arg(&datasets));
    let actors: Vec<(String, String)> = csv
        .stdout
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].to_string(), f[3].to_string())
        })
        .collect();
    let actor_of = |rule: &str| -> Vec<&str> {
        actors
            .iter()
            .filter(|(r, _)| r == rule)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    assert!(
        actor_of("AWS Management Console Root Login").contains(&"arn:aws:iam::111122223333:root")
    );
    assert!(actor_of("AWS STS Role Assumption by Service").contains(&"AWSService"));
    assert!(
        actor_of("AWS Secrets Manager Rapid Secrets Retrieval")
            .contains(&"user.id=AIDATFQR7NSC5AU2ZV3IE")
    );
    assert!(actors.iter().all(|(_, a)| !a.is_empty()), "{actors:?}");
}

#[test]
fn a_missing_input_is_an_error_even_quiet_after_the_rest() {
    let r = run(dragnet()
        .args(["hunt", "-q", "--format", "ndjson"])
        .arg(repo("samples"))
        .arg("does-not-exist.json"));
    assert_eq!(r.code, 2);
    // The other inputs were processed and their alerts printed.
    assert_eq!(r.stdout.lines().count(), 3, "{}", r.stdout);
    // One message, one severity word, the path once.
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: does-not-exist.json: cannot read input: "),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("does-not-exist.json").count(), 1);
    assert_eq!(r.stderr.matches("error:").count(), 1);

    // Not quiet: reported once, as an error, after the run summary.
    let r = run(dragnet()
        .args(["hunt", "--format", "ndjson"])
        .arg(repo("samples"))
        .arg("does-not-exist.json"));
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.matches("does-not-exist.json").count(),
        1,
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("error: does-not-exist.json"),
        "{}",
        r.stderr
    );
}

/// JSON lines with `n` copies of mallory's SSM SendCommand record from the samples (distinct
/// event ids): each fires "AWS Execution via System Manager".
fn many_alerts_input(dir: &Path, n: usize) -> PathBuf {
    let delivery: Value = serde_json::from_str(
        &std::fs::read_to_string(repo(
            "samples/cloudtrail/123456789012_CloudTrail_us-east-1_20250314T0910Z_mallory.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let record = delivery["Records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["eventID"] == "5a0c1e6e-0003-4d1a-9f00-5a3f1e000003")
        .unwrap()
        .clone();
    let path = dir.join("many.jsonl");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..n {
        let mut r = record.clone();
        r["eventID"] = Value::from(format!("00000000-0000-4000-8000-{i:012}"));
        writeln!(file, "{r}").unwrap();
    }
    file.flush().unwrap();
    path
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    // Far more than a pipe buffer holds, so the writes after the reader left must fail.
    let input = many_alerts_input(dir.path(), 2000);
    for format in ["ndjson", "csv", "table"] {
        let mut child = dragnet()
            .args(["hunt", "--format", format])
            .arg(&input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(!first.is_empty());
        drop(stdout); // `| head -1`
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        assert!(stderr.is_empty(), "{format}: {stderr}");
    }
}

/// Runs `cmd` with stderr piped, reads one line of it and closes it: the process must end
/// with exit 0 (whether the failed write was an `eprintln!` or a returned error).
fn close_stderr_after_one_line(cmd: &mut Command) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(!first.is_empty());
    drop(stderr);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "first stderr line: {first}");
}

#[test]
fn a_closed_stderr_pipe_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    many_alerts_input(dir.path(), 10);
    // A note per file that is not CloudTrail: far more than a pipe buffer holds.
    for i in 0..3000 {
        std::fs::write(dir.path().join(format!("junk-{i:04}.txt")), "not json\n").unwrap();
    }
    close_stderr_after_one_line(
        dragnet()
            .args(["hunt", "--format", "ndjson"])
            .arg(dir.path()),
    );

    // validate: a diagnostic (with its source line) per broken rule file.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let broken = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/bad/wrong_type.toml"),
    )
    .unwrap();
    for i in 0..1500 {
        std::fs::write(rules.join(format!("r{i:04}.toml")), &broken).unwrap();
    }
    close_stderr_after_one_line(
        dragnet()
            .args(["validate", "--format", "ndjson"])
            .arg(&rules),
    );
}

#[test]
fn validate_writes_results_in_each_format_and_diagnostics_on_stderr() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let validate = |args: &[&str]| {
        run(dragnet()
            .current_dir(&fixtures)
            .args(["validate", "--color", "never"])
            .args(args)
            .arg("bad/wrong_type.toml"))
    };
    let diagnostic =
        "bad/wrong_type.toml:15:14: error: `rule.risk_score` must be an integer, found a string";
    let summary = "1 rules, 0 valid, 1 errors, 0 warnings";

    let json = validate(&["--format", "json"]);
    assert_eq!(json.code, 1);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["diagnostics"][0]["line"], 15);
    assert_eq!(doc["summary"]["errors"], 1);
    assert!(json.stderr.contains(diagnostic), "{}", json.stderr);

    // Piped without --format: NDJSON, a diagnostic per line then the summary.
    let piped = validate(&[]);
    assert_eq!(piped.code, 1);
    let lines: Vec<Value> = piped
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", piped.stdout);
    assert_eq!(lines[0]["column"], 14);
    assert_eq!(lines[1]["summary"]["valid"], 0);
    assert!(piped.stderr.contains(diagnostic));
    assert!(
        piped.stderr.trim_end().ends_with(summary),
        "{}",
        piped.stderr
    );

    let csv = validate(&["--format", "csv"]);
    assert_eq!(
        csv.stdout.lines().collect::<Vec<_>>(),
        [
            "file,line,column,severity,kind,message",
            "bad/wrong_type.toml,15,14,error,wrong-type,\"`rule.risk_score` must be an integer, found a string\""
        ]
    );

    let table = validate(&["--format", "table"]);
    assert_eq!(table.stdout, format!("{summary}\n"));
    assert!(table.stderr.contains(diagnostic));
    assert!(!table.stderr.contains(summary));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let to_file = validate(&["-o", out.to_str().unwrap()]);
    assert_eq!(to_file.code, 1);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["summary"]["rules"], 1);
}

#[test]
fn rules_list_and_show_in_each_format() {
    let list = |format: &str| {
        run(dragnet().args([
            "rules",
            "list",
            "--integration",
            "aws",
            "--type",
            "query",
            "--format",
            format,
        ]))
    };
    let ndjson = list("ndjson");
    assert_eq!(ndjson.code, 0, "{}", ndjson.stderr);
    let rows: Vec<Value> = ndjson
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!rows.is_empty());
    let json: Value = serde_json::from_str(&list("json").stdout).unwrap();
    assert_eq!(json["rules"].as_array().unwrap(), &rows);
    assert_eq!(json["summary"]["rules"], rows.len());
    let csv = list("csv");
    assert_eq!(csv.stdout.lines().count(), rows.len() + 1);
    let table = list("table");
    assert_eq!(table.stdout.lines().count(), rows.len() + 2);
    assert!(table.stdout.starts_with("name "));

    let narrow = run(dragnet().args(["rules", "list", "--format", "table", "--width", "80"]));
    for line in narrow.stdout.lines() {
        assert!(width(line) <= 80, "{line}");
    }

    let id = "37b211e8-4e2f-440f-86d8-06cc8f158cfa";
    let show = |args: &[&str]| run(dragnet().args(["rules", "show", id]).args(args));
    let piped = show(&[]);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stdout.lines().count(), 1, "piped: one NDJSON line");
    let one: Value = serde_json::from_str(&piped.stdout).unwrap();
    assert_eq!(one["rule_id"], id);
    let pretty: Value = serde_json::from_str(&show(&["--format", "json"]).stdout).unwrap();
    assert_eq!(pretty, one);
    let human = show(&["--format", "table"]);
    assert!(
        human
            .stdout
            .starts_with("AWS Execution via System Manager\n")
    );
    let csv = show(&["--format", "csv"]);
    assert_eq!(csv.code, 2);
    assert_eq!(
        csv.stderr,
        "error: `rules show` cannot write csv (asked for by --format); use --format table, json or ndjson\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("rule.md");
    let r = show(&["-o", md.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("error: `rules show` cannot write md"),
        "{}",
        r.stderr
    );
}

#[test]
fn normalize_writes_ndjson_only_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ecs.json");
    let r = run(dragnet()
        .args(["normalize", "-o"])
        .arg(&out)
        .arg(repo("samples")));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("error: `normalize` cannot write json (asked for by the output file name"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("name the output file .ndjson, .jsonl"),
        "{}",
        r.stderr
    );
    let ok = dir.path().join("ecs.jsonl");
    let r = run(dragnet()
        .args(["normalize", "-q", "-o"])
        .arg(&ok)
        .arg(repo("samples")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(&ok).unwrap().lines().count() > 3);
}

#[test]
fn kql_results_in_json_are_one_document() {
    // kql lists events (issue 14): with --all every document, `dragnet.match` saying which
    // matched; without, the matching events only.
    let r = run(dragnet()
        .args([
            "kql",
            "--all",
            "--format",
            "json",
            "event.action:SendCommand",
        ])
        .arg(repo("samples")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let events = doc["events"].as_array().unwrap();
    let matched = events.iter().filter(|e| e["dragnet.match"] == true).count();
    assert_eq!(doc["summary"]["matched"], matched);
    assert_eq!(doc["summary"]["evaluated"], events.len());
    assert!(matched >= 2);
    let r = run(dragnet()
        .args(["kql", "--format", "json", "event.action:SendCommand"])
        .arg(repo("samples")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), matched);
    assert!(events.iter().all(|e| e["event"]["action"] == "SendCommand"));
}
