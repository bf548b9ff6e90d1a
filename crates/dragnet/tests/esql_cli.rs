//! End-to-end tests of the ES|QL checker in `dragnet validate`, running the real binary.

use assert_cmd::Command;
use predicates::prelude::*;

fn dragnet() -> Command {
    Command::cargo_bin("dragnet").expect("binary built")
}

/// A rule file whose ES|QL query (starting on line 19) is `query`.
fn esql_rule(query: &str) -> String {
    format!(
        r#"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["Elastic"]
description = "test"
from = "now-9m"
language = "esql"
license = "Elastic License v2"
name = "ES|QL rule"
risk_score = 21
rule_id = "0c4d3c1e-5a7b-4f0e-9d51-3b8e2f6a7c10"
severity = "low"
timestamp_override = "event.ingested"
type = "esql"
query = '''
{query}
'''
"#
    )
}

#[test]
fn validate_reports_esql_syntax_errors_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("bad_esql.toml");
    std::fs::write(
        &rule,
        esql_rule(
            "from logs-aws.cloudtrail-* metadata _id, _version, _index\n| where event.action == \"GetSecretValue\" and\n| keep @timestamp",
        ),
    )
    .unwrap();
    dragnet()
        .arg("validate")
        .arg(&rule)
        .assert()
        .code(1)
        // The `|` on line 21 comes where the operand of `and` was expected.
        .stderr(predicate::str::contains("bad_esql.toml:21:1:"))
        .stderr(predicate::str::contains(
            "esql: syntax error: expected an expression, found `|`",
        ))
        .stderr(predicate::str::contains("1 rules, 0 valid, 1 errors"));
}

/// Over CloudTrail, `validate` type-checks with the integration's mapping, as Elasticsearch's
/// verifier would reject the query (an unknown column, a non-boolean condition); a function
/// dragnet lacks is only a warning (the rule is valid in Elasticsearch).
#[test]
fn validate_type_checks_esql_rules_over_cloudtrail() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown_column.toml",
            "from logs-aws.cloudtrail-*\n| where event.actoin == \"GetSecretValue\"",
            1,
            "bad: type error: Unknown column [event.actoin]",
        ),
        (
            "not_boolean.toml",
            "from logs-aws.cloudtrail-*\n| where event.action",
            1,
            "type error: Condition expression needs to be boolean, found [keyword]",
        ),
        (
            "dragnet_gap.toml",
            "from logs-aws.cloudtrail-*\n| eval p = url_decode(event.action)",
            0,
            "warning",
        ),
    ];
    for (name, query, code, message) in cases {
        let rule = dir.path().join(name);
        std::fs::write(&rule, esql_rule(query)).unwrap();
        let out = dragnet().arg("validate").arg(&rule).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        let message = message.trim_start_matches("bad: ");
        assert!(stderr.contains(message), "{name}: {stderr}");
        // Placed on the query's second line (line 20 of the rule file).
        assert!(stderr.contains(&format!("{name}:20:")), "{name}: {stderr}");
    }
}

#[test]
fn validate_accepts_a_correct_esql_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("good_esql.toml");
    std::fs::write(
        &rule,
        esql_rule(
            "from logs-aws.cloudtrail-* // CloudTrail\n| where event.action LIKE \"Get*\"\n| stats Esql.count = count(*) by source.ip\n| where Esql.count >= 20",
        ),
    )
    .unwrap();
    dragnet()
        .arg("validate")
        .arg(&rule)
        .assert()
        .code(0)
        .stderr(predicate::str::contains("esql:").not())
        .stderr(predicate::str::contains("1 rules, 1 valid, 0 errors"));
}

#[test]
fn validate_parses_every_corpus_esql_rule_of_the_aws_pack() {
    let aws = dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations/aws");
    dragnet()
        .arg("validate")
        .arg(&aws)
        .assert()
        .stderr(predicate::str::contains("esql:").not());
}

/// Rules nested near `--max-query-depth`'s ceiling validate (parse and type-check) in
/// parallel without overflowing a thread's stack (rayon's 2 MiB threads aborted the process before validate gave them the
/// stack the engine gives its workers).
#[test]
fn validate_with_a_raised_depth_checks_deep_rules_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!(
        "from logs-aws.cloudtrail-*\n| where {}event.action == \"x\"{}",
        "(".repeat(1000),
        ")".repeat(1000)
    );
    for i in 0..8 {
        let rule = esql_rule(&deep).replace(
            "0c4d3c1e-5a7b-4f0e-9d51-3b8e2f6a7c10",
            &format!("0c4d3c1e-5a7b-4f0e-9d51-3b8e2f6a7c2{i}"),
        );
        std::fs::write(dir.path().join(format!("deep{i}.toml")), rule).unwrap();
    }
    dragnet()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "query nests deeper than 64 levels; simplify it or raise the limit with --max-query-depth",
        ));
    dragnet()
        .args(["validate", "--max-query-depth", "1024"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stderr(predicate::str::contains("8 rules, 8 valid, 0 errors"));
}

// ---------------------------------------------------------------------------------------------
// `dragnet esql QUERY INPUT...`

/// One CloudTrail record (an IAM user's call from `ip`).
fn record(n: u32, name: &str, source: &str, ip: &str, user: &str) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::111122223333:user/{user}"),
            "accountId": "111122223333",
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": user
        },
        "eventTime": format!("2024-05-21T10:{:02}:00Z", n % 60),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": null,
        "responseElements": null,
        "requestID": format!("req-{n}"),
        "eventID": format!("7e0a0000-0000-4000-8000-{n:012}"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
    .to_string()
}

/// Five records: three IAM calls (two by alice from 203.0.113.7, one by bob from 10.1.2.3),
/// two EC2 calls by bob from 10.1.2.3 and 198.51.100.20.
fn trail(dir: &std::path::Path) -> std::path::PathBuf {
    let lines = [
        record(
            1,
            "CreateAccessKey",
            "iam.amazonaws.com",
            "203.0.113.7",
            "alice",
        ),
        record(2, "CreateUser", "iam.amazonaws.com", "203.0.113.7", "alice"),
        record(3, "CreateAccessKey", "iam.amazonaws.com", "10.1.2.3", "bob"),
        record(4, "RunInstances", "ec2.amazonaws.com", "10.1.2.3", "bob"),
        record(
            5,
            "DescribeInstances",
            "ec2.amazonaws.com",
            "198.51.100.20",
            "bob",
        ),
    ];
    let path = dir.join("trail.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn esql(args: &[&str], input: &std::path::Path) -> std::process::Output {
    dragnet()
        .arg("esql")
        .args(args)
        .arg(input)
        .output()
        .expect("dragnet runs")
}

const COUNT_BY_USER: &str = "FROM logs-aws.cloudtrail-* | STATS calls = COUNT(*), actions = COUNT_DISTINCT(event.action) BY user.name | SORT user.name";

#[test]
fn esql_prints_the_result_table_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path());
    // Each expected output written by hand from the five records above.
    let ndjson = esql(&["--format", "ndjson", "-q", COUNT_BY_USER], &input);
    assert_eq!(ndjson.status.code(), Some(0), "{ndjson:?}");
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&ndjson.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            serde_json::json!({"calls": 2, "actions": 2, "user.name": "alice"}),
            serde_json::json!({"calls": 3, "actions": 3, "user.name": "bob"}),
        ]
    );
    let csv = esql(&["--format", "csv", "-q", COUNT_BY_USER], &input);
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout),
        "calls,actions,user.name\n2,2,alice\n3,3,bob\n"
    );
    let json = esql(&["--format", "json", "-q", COUNT_BY_USER], &input);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON document");
    assert_eq!(
        doc["columns"],
        serde_json::json!([
            {"name": "calls", "type": "long"},
            {"name": "actions", "type": "long"},
            {"name": "user.name", "type": "keyword"}
        ]),
        "{doc}"
    );
    assert_eq!(
        doc["rows"],
        serde_json::json!([
            {"calls": 2, "actions": 2, "user.name": "alice"},
            {"calls": 3, "actions": 3, "user.name": "bob"}
        ]),
        "{doc}"
    );
    assert_eq!(doc["summary"]["records_read"], 5, "{doc}");
    assert_eq!(doc["summary"]["rows_fed"], 5, "{doc}");
    let table = esql(&["--format", "table", "-q", COUNT_BY_USER], &input);
    let text = String::from_utf8_lossy(&table.stdout);
    let lines: Vec<&str> = text.lines().collect();
    // Header (name:type), rule, then the rows.
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].contains("calls:long") && lines[0].contains("user.name:keyword"),
        "{text}"
    );
    assert!(lines[1].starts_with("-----"), "{text}");
    let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(cells(lines[2]), ["2", "2", "alice"], "{text}");
    assert_eq!(cells(lines[3]), ["3", "3", "bob"], "{text}");
}

#[test]
fn esql_explain_prints_the_datafusion_plan_without_reading_input() {
    let out = dragnet()
        .args(["esql", "--explain", COUNT_BY_USER])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Aggregate"), "{text}");
    assert!(text.contains("Sort"), "{text}");
}

#[test]
fn esql_refuses_a_source_that_is_not_cloudtrail() {
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path());
    let out = esql(&["FROM logs-okta.system-* | LIMIT 1"], &input);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not CloudTrail data"),
        "{out:?}"
    );
}

/// `KQL("…")` runs dragnet's KQL engine on each event, with KQL's own semantics: keyword
/// wildcards, CIDR ranges on ip fields, `not`. (ES|QL KQL function:
/// https://www.elastic.co/docs/reference/query-languages/esql/functions-operators/search-functions#esql-kql)
#[test]
fn esql_kql_function_filters_events_with_kql_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path());
    let query = r#"FROM logs-aws.cloudtrail-* | WHERE KQL("event.action:Create* and not source.ip:10.0.0.0/8") AND user.name == "alice" | KEEP event.action, source.ip | SORT event.action"#;
    let out = esql(&["--format", "csv", "-q", query], &input);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "event.action,source.ip\nCreateAccessKey,203.0.113.7\nCreateUser,203.0.113.7\n"
    );
    // In a disjunction, and negated: the three events outside "bob's EC2 calls".
    let query = r#"FROM logs-aws.cloudtrail-* | WHERE NOT KQL("event.provider:ec2.amazonaws.com") OR KQL("""source.ip:198.51.100.0/24""") | STATS n = COUNT(*)"#;
    let out = esql(&["--format", "csv", "-q", query], &input);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n4\n", "{out:?}");
}

#[test]
fn esql_kql_function_is_refused_where_elasticsearch_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = trail(dir.path());
    // Elasticsearch's verifier: "[KQL] function cannot be used after LIMIT" (and after any
    // command that changes the rows: the function filters the index's documents).
    for (query, message) in [
        (
            r#"FROM logs-aws.cloudtrail-* | LIMIT 10 | WHERE KQL("event.action:CreateUser")"#,
            "[KQL] function cannot be used after LIMIT",
        ),
        (
            r#"FROM logs-aws.cloudtrail-* | STATS n = COUNT(*) BY event.action | WHERE KQL("event.action:CreateUser")"#,
            "[KQL] function cannot be used after STATS",
        ),
        (
            r#"FROM logs-aws.cloudtrail-* | EVAL k = KQL("event.action:CreateUser")"#,
            "[KQL] function is only supported in WHERE commands",
        ),
        (
            r#"FROM logs-aws.cloudtrail-* | WHERE KQL(event.action)"#,
            "argument of [KQL] must be a constant string",
        ),
    ] {
        let out = esql(&[query], &input);
        assert_eq!(out.status.code(), Some(2), "{query}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{query}: {stderr}");
    }
    // A KQL query that does not parse is an error naming it.
    let out = esql(
        &[r#"FROM logs-aws.cloudtrail-* | WHERE KQL("event.action:(a or")"#],
        &input,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("KQL(\"event.action:(a or\") does not parse"),
        "{out:?}"
    );
}

/// The event ids `dragnet kql QUERY` and `dragnet esql 'FROM … | WHERE KQL("""QUERY""") | KEEP
/// event.id'` select from the real CloudTrail datasets, for a spread of the AWS query rules'
/// KQL: KQL() is dragnet's KQL engine over the same events, so both select the same ones.
#[test]
fn esql_kql_function_selects_what_dragnet_kql_selects_on_the_datasets() {
    let (Some(corpus), Some(datasets)) = (
        dragnet_testdata::shared("corpus/detection-rules"),
        dragnet_testdata::shared("datasets/cloudtrail"),
    ) else {
        return;
    };
    let queries: Vec<_> = dragnet_testdata::corpus_rule_queries(&corpus, "kuery")
        .into_iter()
        .filter(|(path, _)| path.to_string_lossy().contains("/integrations/aws/"))
        .collect();
    assert!(queries.len() > 50, "{} AWS KQL rules", queries.len());
    let ids = |stdout: &[u8]| -> Vec<String> {
        let mut ids: Vec<String> = String::from_utf8_lossy(stdout)
            .lines()
            .map(|l| {
                let doc: serde_json::Value = serde_json::from_str(l).unwrap();
                let id = doc
                    .pointer("/event/id")
                    .or_else(|| doc.get("event.id"))
                    .cloned()
                    .unwrap_or_default();
                id.as_str().unwrap_or_default().to_string()
            })
            .collect();
        ids.sort();
        ids
    };
    let mut compared = 0;
    let mut selected = 0;
    // Every seventh rule (by path): a dozen queries of every shape, in bounded time.
    for (path, kql) in queries.iter().step_by(7) {
        if kql.contains("\"\"\"") {
            continue;
        }
        let by_kql = dragnet()
            .args(["--format", "ndjson", "-q", "kql", kql])
            .arg(&datasets)
            .output()
            .unwrap();
        let esql_query = format!(
            "FROM logs-aws.cloudtrail-* | WHERE KQL(\"\"\"{kql}\"\"\") | KEEP event.id | LIMIT 10000"
        );
        let by_esql = dragnet()
            .args(["--format", "ndjson", "-q", "esql", &esql_query])
            .arg(&datasets)
            .output()
            .unwrap();
        assert_eq!(
            by_kql.status.code(),
            by_esql.status.code(),
            "{}: {by_kql:?} {by_esql:?}",
            path.display()
        );
        let (a, b) = (ids(&by_kql.stdout), ids(&by_esql.stdout));
        assert_eq!(a, b, "{}: {kql}", path.display());
        compared += 1;
        selected += a.len();
    }
    assert!(compared >= 10, "{compared} rules compared");
    assert!(
        selected > 0,
        "no rule selected any event: the comparison proves nothing"
    );
}
