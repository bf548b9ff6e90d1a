//! `dragnet normalize`: end-to-end behaviour of the command (real binary).

use assert_cmd::Command;

fn dragnet() -> Command {
    Command::cargo_bin("dragnet").unwrap()
}

#[test]
fn help_says_geoip_fields_are_absent_without_a_database() {
    let out = dragnet().args(["normalize", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("--geoip-db"), "{help}");
    assert!(
        words.contains("Without it the GeoIP fields (source.geo.*) are absent"),
        "{help}"
    );
    assert!(words.contains("--include-original"), "{help}");
}

#[test]
fn records_file_becomes_ecs_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trail.json");
    std::fs::write(
        &path,
        r#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-01-02T03:04:05Z","eventSource":"ssm.amazonaws.com","eventName":"SendCommand","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","requestParameters":{"instanceIds":["i-0123456789abcdef0"],"documentName":"AWS-RunShellScript"},"userIdentity":{"type":"IAMUser","userName":"alice","accountId":"111122223333","arn":"arn:aws:iam::111122223333:user/alice"},"eventID":"e1","recipientAccountId":"111122223333"}]}"#,
    )
    .unwrap();
    let out = dragnet()
        .args(["normalize", "-q"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["@timestamp"], "2024-01-02T03:04:05.000Z");
    assert_eq!(doc["event"]["action"], "SendCommand");
    assert_eq!(doc["event"]["dataset"], "aws.cloudtrail");
    assert_eq!(doc["event"]["module"], "aws");
    assert_eq!(doc["event"]["category"], serde_json::json!(["process"]));
    assert_eq!(doc["user"]["name"], "alice");
    assert_eq!(doc["source"]["ip"], "198.51.100.7");
    assert!(
        doc["source"].get("geo").is_none(),
        "no GeoIP without --geoip-db"
    );
    assert!(
        doc["event"].get("original").is_none(),
        "event.original only when asked"
    );
    assert_eq!(
        doc["aws"]["cloudtrail"]["request_parameters"],
        // java.util.HashMap order (checked with OpenJDK 17's HashMap.toString).
        "{instanceIds=[i-0123456789abcdef0], documentName=AWS-RunShellScript}"
    );
    let with = dragnet()
        .args(["normalize", "-q", "--include-original"])
        .arg(&path)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&with.stdout).unwrap();
    assert!(
        doc["event"]["original"]
            .as_str()
            .unwrap()
            .contains("\"SendCommand\"")
    );
}

#[test]
fn odd_records_are_kept_or_reported_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"eventName":"GetObject","eventSource":"s3.amazonaws.com","eventTime":"not a time"}"#,
            "\n",
            r#"{"eventName":"X", "n": 1e999999}"#,
            "\n",
            r#"{"eventName":"ListBuckets","eventSource":"s3.amazonaws.com","eventTime":"2024-01-02T03:04:05Z"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = dragnet().args(["normalize"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "skipped records are warnings");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // file:line: record N, as every command reports input problems.
    assert!(stderr.contains("lines.jsonl:2: record 1: "), "{stderr}");
    assert!(stderr.contains("1 records skipped"), "{stderr}");
    let docs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2);
    // No parseable eventTime: still a document, with the pipeline's error.
    assert!(docs[0].get("@timestamp").is_none());
    assert_eq!(docs[0]["event"]["kind"], "pipeline_error");
    assert!(
        docs[0]["error"]["message"][0]
            .as_str()
            .unwrap()
            .contains("not a time")
    );
    assert_eq!(docs[0]["event"]["action"], "GetObject");
    assert_eq!(docs[1]["event"]["kind"], "event");
}

#[test]
fn nothing_processed_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.json");
    std::fs::write(&path, "").unwrap();
    dragnet()
        .args(["normalize", "-q"])
        .arg(&path)
        .assert()
        .code(2);
    dragnet()
        .args(["normalize", "--format", "csv"])
        .arg(&path)
        .assert()
        .code(2);
}
