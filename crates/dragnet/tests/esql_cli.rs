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

/// Rules nested near `--max-query-depth`'s ceiling validate in parallel without overflowing a
/// thread's stack (rayon's 2 MiB threads aborted the process before validate gave them the
/// stack the engine gives its workers).
#[test]
fn validate_with_a_raised_depth_checks_deep_rules_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!(
        "from logs-aws.cloudtrail-*\n| where {}a == 1{}",
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
