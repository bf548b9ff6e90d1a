//! `dragnet kql` / `dragnet eql` read input through the same layer as `hunt`: folders (searched
//! recursively), gzip, stdin, the input limits, the same problem reporting and exit codes. The
//! real binary over the hunt fixtures (`tests/fixtures/hunt/shapes`: every CloudTrail shape,
//! one of them gzip-compressed).

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

fn dragnet() -> Command {
    Command::cargo_bin("dragnet").expect("dragnet binary")
}

fn shapes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hunt/shapes")
}

const KQL: &str = "event.action:ModifyImageAttribute";
const EQL: &str = r#"any where event.action == "ModifyImageAttribute""#;

/// Every ModifyImageAttribute event of the shapes fixtures, by event id.
const FOLDER_HITS: [&str; 8] = [
    "ecs-ami-hit",
    "gz-ami-hit",
    "gz-ami-remove",
    "lines-ami-hit",
    "records-ami-description",
    "records-ami-failure",
    "records-ami-hit",
    "records-ami-remove",
];

/// The sorted `event.id`s of an ndjson search output.
fn event_ids(out: &Output) -> Vec<String> {
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let doc: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            doc["event"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// (command, query) for both search commands.
fn searches() -> [(&'static str, &'static str); 2] {
    [("kql", KQL), ("eql", EQL)]
}

#[test]
fn kql_and_eql_search_a_folder_recursively_gzip_included() {
    for (command, query) in searches() {
        let out = dragnet()
            .args(["--format", "ndjson", command, query])
            .arg(shapes())
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        assert_eq!(event_ids(&out), FOLDER_HITS, "{command}: {}", stderr(&out));
    }
}

#[test]
fn kql_and_eql_search_a_gzip_file() {
    for (command, query) in searches() {
        let out = dragnet()
            .args(["--format", "ndjson", command, query])
            .arg(shapes().join("records.json.gz"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        assert_eq!(
            event_ids(&out),
            ["gz-ami-hit", "gz-ami-remove"],
            "{command}"
        );
        assert!(
            stderr(&out).contains("2 documents evaluated, 2 matched"),
            "{command}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn kql_and_eql_search_stdin_plain_and_gzip() {
    for (command, query) in searches() {
        for (file, hits) in [
            ("records.json", &FOLDER_HITS[4..]),
            ("records.json.gz", &FOLDER_HITS[1..3]),
        ] {
            let out = dragnet()
                .args(["--format", "ndjson", command, query, "-"])
                .write_stdin(std::fs::read(shapes().join(file)).unwrap())
                .output()
                .unwrap();
            assert!(out.status.success(), "{command} {file}: {}", stderr(&out));
            assert_eq!(event_ids(&out), hits, "{command} {file}");
        }
    }
}

#[test]
fn input_limits_apply_and_name_their_flag() {
    for (command, query) in searches() {
        let out = dragnet()
            .args([
                "--format",
                "ndjson",
                command,
                query,
                "--max-record-bytes",
                "200",
            ])
            .arg(shapes().join("lines.jsonl"))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(err.contains("--max-record-bytes"), "{command}: {err}");
        assert!(
            event_ids(&out).is_empty(),
            "{command}: every record is over 200 bytes"
        );
        // Nothing could be processed: exit 2.
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
    }
}

#[test]
fn files_that_are_not_cloudtrail_collapse_to_one_note_per_kind() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["README.md", "LICENSE", "NOTES.txt"] {
        std::fs::write(dir.path().join(name), "plain text, not JSON\n").unwrap();
    }
    std::fs::copy(shapes().join("records.json"), dir.path().join("trail.json")).unwrap();
    for (command, query) in searches() {
        let out = dragnet()
            .args(["--format", "ndjson", command, query])
            .arg(dir.path())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{command}: {err}");
        let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note:")).collect();
        assert_eq!(notes.len(), 1, "{command}: {err}");
        assert!(
            notes[0].starts_with("note: 3 files skipped, not CloudTrail: not JSON"),
            "{command}: {err}"
        );
        assert_eq!(event_ids(&out), &FOLDER_HITS[4..], "{command}");
        // -v names each file.
        let out = dragnet()
            .args(["-v", "--format", "ndjson", command, query])
            .arg(dir.path())
            .output()
            .unwrap();
        let err = stderr(&out);
        for name in ["README.md", "LICENSE", "NOTES.txt"] {
            assert!(
                err.lines()
                    .any(|l| l.starts_with("note: ") && l.contains(name)),
                "{command} -v: {err}"
            );
        }
    }
}

#[test]
fn a_missing_input_is_reported_after_the_rest_and_exits_2() {
    for (command, query) in searches() {
        let out = dragnet()
            .args(["--format", "ndjson", command, query])
            .arg(shapes().join("records.json.gz"))
            .arg(shapes().join("no-such-file.json"))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("no-such-file.json: cannot read input"),
            "{err}"
        );
        assert_eq!(
            event_ids(&out),
            ["gz-ami-hit", "gz-ami-remove"],
            "{command}"
        );
    }
}

/// `hunt` reads through the same layer: the alerts of the readable input are reported, then
/// the missing one makes the exit code 2.
#[test]
fn hunt_reports_the_rest_then_exits_2_for_a_missing_input() {
    let out = dragnet()
        .args(["hunt", "--format", "ndjson"])
        .arg(shapes().join("records.json.gz"))
        .arg(shapes().join("no-such-file.json"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no-such-file.json: cannot read input"),
        "{err}"
    );
    let alerts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "the AMI rule's alert on gz-ami-hit: {err}");
    assert_eq!(alerts[0]["event"]["id"], "gz-ami-hit");
}

#[test]
fn a_query_reading_geoip_fields_needs_the_database() {
    let out = dragnet()
        .args(["kql", "source.geo.country_iso_code:US"])
        .arg(shapes())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs --geoip-db"), "{err}");
    let out = dragnet()
        .args(["eql", r#"any where source.as.number == 16509"#])
        .arg(shapes())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs --asn-db"), "{err}");
}

#[test]
fn table_output_lists_key_fields_of_each_matching_event() {
    let out = dragnet()
        .args(["--format", "table", "kql", KQL])
        .arg(shapes().join("records.json.gz"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("time")
            && lines[0].contains("action")
            && lines[0].contains("event id"),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "header, rule, two events: {text}");
    assert!(
        lines[2].contains("gz-ami-hit") && lines[2].contains("ModifyImageAttribute"),
        "{text}"
    );
}
