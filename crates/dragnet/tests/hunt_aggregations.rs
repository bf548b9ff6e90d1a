//! End-to-end tests of the aggregating rule types in `dragnet hunt` (threshold, new_terms): the
//! real binary over hand-written CloudTrail (`tests/fixtures/aggregations/`, generated once and
//! described record by record in the tests below), plus every threshold / new_terms rule of the
//! corpus whose data is CloudTrail run over the shared CloudTrail datasets.
//!
//! Kibana sources for the expected semantics: threshold `build_threshold_aggregation.ts`
//! (doc_count >= value, cardinality >= value), `bulk_create_threshold_signals.ts` (alert source
//! and `threshold_result`), `get_threshold_bucket_filters.ts` (events at or before a group's last
//! alert are not counted again); new terms `rule_types/new_terms/` (history before the window,
//! combinations of field values).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

const THRESHOLD_IP: &str = "a99e0000-0000-4000-8000-000000000001";
const THRESHOLD_CARD: &str = "a99e0000-0000-4000-8000-000000000002";
const NEW_TERMS: &str = "a99e0000-0000-4000-8000-000000000003";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/aggregations")
        .join(rel)
}

/// Runs hunt with `--format ndjson` and returns the exit code, alerts and stderr.
fn hunt(args: &[&str], inputs: &[PathBuf]) -> (i32, Vec<Value>, String) {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .arg("hunt")
        .args(["--format", "ndjson"])
        .args(args)
        .args(inputs)
        .output()
        .unwrap();
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        alerts,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn of_rule<'a>(alerts: &'a [Value], rule_id: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["kibana.alert.rule.rule_id"] == rule_id)
        .collect()
}

#[test]
fn threshold_groups_over_value_alert_once_per_window() {
    let rules = fixture("rules/threshold_console_login.toml");
    let (code, alerts, stderr) = hunt(
        &["-r", rules.to_str().unwrap()],
        &[fixture("threshold.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    // Group key -> (count, from, @timestamp).
    let got: BTreeMap<String, (u64, String, String)> = of_rule(&alerts, THRESHOLD_IP)
        .into_iter()
        .map(|a| {
            let r = &a["kibana.alert.threshold_result"];
            assert_eq!(r["terms"][0]["field"], "source.ip");
            assert!(r.get("cardinality").is_none(), "no cardinality configured");
            assert_eq!(a["kibana.alert.rule.type"], "threshold");
            assert_eq!(a["kibana.alert.original_time"], a["@timestamp"]);
            (
                r["terms"][0]["value"].as_str().unwrap().to_string(),
                (
                    r["count"].as_u64().unwrap(),
                    r["from"].as_str().unwrap().to_string(),
                    a["@timestamp"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let want: BTreeMap<String, (u64, String, String)> = [
        // 3 logins (= value) in the window ending 10:05.
        ("203.0.113.1", 3, "10:01:00", "10:03:00"),
        // 4 logins (value + 1): one alert counting all four.
        ("203.0.113.3", 4, "10:01:00", "10:04:00"),
        // 11:01, 11:02, 11:04:30 alert in the window ending 11:05; the next window
        // [11:04, 11:10] holds 11:04:30 (already alerted on, not counted again), 11:06 and 11:07:
        // 2 < 3, no second alert.
        ("203.0.113.4", 3, "11:01:00", "11:04:30"),
        // 203.0.113.2: 2 logins (value - 1). 203.0.113.5: 2 logins, one delivered twice (same
        // eventID counts once). Neither alerts.
    ]
    .into_iter()
    .map(|(ip, n, from, ts)| {
        (
            ip.to_string(),
            (
                n,
                format!("2025-01-06T{from}.000Z"),
                format!("2025-01-06T{ts}.000Z"),
            ),
        )
    })
    .collect();
    assert_eq!(got, want);
    // The group field is set on the alert, as Kibana spreads the bucket key into the source.
    let a = of_rule(&alerts, THRESHOLD_IP)[0];
    assert_eq!(a["source.ip"], "203.0.113.1");
    // Deterministic alert ids: a rerun gives the same uuids.
    let (_, again, _) = hunt(
        &["-r", rules.to_str().unwrap()],
        &[fixture("threshold.jsonl")],
    );
    let uuids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|a| a["kibana.alert.uuid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(uuids(&alerts), uuids(&again));
}

#[test]
fn threshold_cardinality_counts_distinct_values() {
    let rules = fixture("rules/threshold_cardinality.toml");
    let (code, alerts, stderr) = hunt(
        &["-r", rules.to_str().unwrap()],
        &[fixture("threshold.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    let got = of_rule(&alerts, THRESHOLD_CARD);
    // alice read secrets from 3 source IPs (>= 3); bob from 2 (3 events, but 2 distinct IPs).
    assert_eq!(got.len(), 1, "{got:#?}");
    // alice's three GetSecretValue calls, 13:00 to 13:02.
    assert_eq!(
        got[0]["kibana.alert.threshold_result"],
        serde_json::json!({
            "terms": [{"field": "user.name", "value": "alice"}],
            "count": 3,
            "from": "2025-01-06T13:00:00.000Z",
            "cardinality": [{"field": "source.ip", "value": 3}],
        })
    );
    assert_eq!(got[0]["@timestamp"], "2025-01-06T13:02:00.000Z");
    assert_eq!(got[0]["user.name"], "alice");
}

#[test]
fn new_terms_combinations_against_history() {
    let rules = fixture("rules/new_terms_user_ip.toml");
    let (code, alerts, stderr) = hunt(
        &["-r", rules.to_str().unwrap(), "--explain"],
        &[fixture("new_terms.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    let got: Vec<(String, Value)> = of_rule(&alerts, NEW_TERMS)
        .into_iter()
        .map(|a| {
            assert_eq!(a["kibana.alert.rule.type"], "new_terms");
            assert!(a["dragnet.explain"]["history"].is_object());
            (
                a["kibana.alert.ancestors"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                a["kibana.alert.new_terms"].clone(),
            )
        })
        .collect();
    let want: Vec<(String, Value)> = vec![
        // First occurrence ever: nothing in the history.
        ("nt-1".into(), serde_json::json!(["alice", "192.0.2.1"])),
        // nt-2 (alice, 192.0.2.1) was seen 23 h before, inside the 2-day history: not new.
        // alice is known but not with 192.0.2.2: the combination is the term.
        ("nt-3".into(), serde_json::json!(["alice", "192.0.2.2"])),
        // bob and 192.0.2.1 were each seen, never together.
        ("nt-4".into(), serde_json::json!(["bob", "192.0.2.1"])),
        // Last seen 3 days 1 hour before: outside the 2-day history, new again. nt-6, a minute
        // later in the same window, is not a second alert.
        ("nt-5".into(), serde_json::json!(["alice", "192.0.2.1"])),
    ];
    assert_eq!(got, want);
}

/// Every threshold, new_terms and threat_match rule of the corpus whose data is CloudTrail
/// (`rules/integrations/aws*`) loads and runs over the shared CloudTrail datasets.
#[test]
fn corpus_aggregation_rules_run_over_cloudtrail_datasets() {
    let integrations =
        dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let dir = tempfile::tempdir().unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(&integrations).unwrap() {
        let folder = entry.unwrap().path();
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("aws") || !folder.is_dir() {
            continue;
        }
        for rule in std::fs::read_dir(&folder).unwrap() {
            let path = rule.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let aggregating = text.lines().any(|l| {
                matches!(
                    l.trim(),
                    "type = \"threshold\"" | "type = \"new_terms\"" | "type = \"threat_match\""
                )
            });
            if aggregating {
                std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
                copied += 1;
            }
        }
    }
    assert!(copied >= 50, "only {copied} aggregating AWS rules found");
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--format", "json", "-r"])
        .arg(dir.path())
        .arg(&datasets)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = doc["rules"].as_array().unwrap();
    assert_eq!(rules.len(), copied);
    for r in rules {
        let status = r["status"].as_str().unwrap();
        match r["type"].as_str().unwrap() {
            "threshold" | "new_terms" => assert_eq!(status, "run", "{r:#}"),
            "threat_match" => assert!(
                status == "run"
                    || r["reason"]
                        .as_str()
                        .is_some_and(|s| s.contains("needs --indicators")),
                "{r:#}"
            ),
            other => panic!("unexpected rule type {other}"),
        }
    }
    let alerts = doc["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "the datasets hold first-seen terms");
    for a in alerts {
        let t = a["kibana.alert.rule.type"].as_str().unwrap();
        match t {
            "threshold" => assert!(a["kibana.alert.threshold_result"]["count"].is_u64()),
            "new_terms" => assert!(a["kibana.alert.new_terms"].is_array()),
            _ => {}
        }
    }
}

const QUERY_EXC: &str = "a99e0000-0000-4000-8000-000000000004";

/// Every exception entry type of Kibana's export format, including negation (`excluded`).
/// Semantics: `buildExceptionFilter` (`@kbn/securitysolution-list-utils`
/// `build_exception_filter/index.ts`): items OR'ed, entries AND'ed, `match` is `match_phrase`
/// (exact, case-sensitive on keyword), `wildcard` is a `wildcard` query, `excluded` is
/// `must_not`, `nested` needs one object to hold every entry. Each record of
/// `exceptions.jsonl` / `exceptions-ecs.ndjson` says in its id what it exercises.
#[test]
fn exceptions_every_entry_type() {
    let rules = fixture("rules/query_with_exceptions.toml");
    let exceptions = fixture("exceptions.ndjson");
    let inputs = [
        fixture("exceptions.jsonl"),
        fixture("exceptions-ecs.ndjson"),
    ];
    let args = [
        "-r",
        rules.to_str().unwrap(),
        "--exceptions",
        exceptions.to_str().unwrap(),
        "--explain",
        "-v",
    ];
    let (code, alerts, stderr) = hunt(&args, &inputs);
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<&str> = of_rule(&alerts, QUERY_EXC)
        .iter()
        .map(|a| a["kibana.alert.ancestors"][0]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "exc-plain",        // no item covers it
            "exc-match-case",   // SVC-BACKUP: match is case-sensitive on keyword
            "exc-neg-alice",    // has an access key, but `user.name is not alice` fails
            "exc-wild-miss",    // `Boto3/1.??` needs two characters after `1.`
            "exc-wild-case",    // wildcard is case-sensitive
            "exc-list",         // only the value-list item would cover it; not applied
            "exc-nested-split", // name and extension in different nested objects
        ]
    );
    // --explain names the item that suppressed each event.
    for (item, event) in [
        ("backup-user", "exc-match"),
        ("scanner-ips", "exc-any"),
        ("keys-not-alice", "exc-neg-hit"),
        ("boto3", "exc-wild"),
        ("no-user-agent", "exc-no-ua"),
        ("nested-attachment", "exc-nested-hit"),
    ] {
        let needle =
            format!("item {item} ({item}) of list test-exceptions suppressed event {event} ");
        assert!(stderr.contains(&needle), "missing {needle:?} in\n{stderr}");
    }
    assert!(stderr.contains("exception item value-list"), "{stderr}");
    assert!(
        stderr.contains("value lists are not part of an export"),
        "{stderr}"
    );

    // With the value list given, its item applies: 203.0.113.99 is inside 203.0.113.0/24.
    let value_list = format!(
        "blocked-ips.txt={}",
        fixture("blocked-ips.txt").to_str().unwrap()
    );
    let mut with_list = args.to_vec();
    with_list.extend(["--value-list", &value_list]);
    let (code, alerts, stderr) = hunt(&with_list, &inputs);
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<&str> = of_rule(&alerts, QUERY_EXC)
        .iter()
        .map(|a| a["kibana.alert.ancestors"][0]["id"].as_str().unwrap())
        .collect();
    // The seven of the first run but exc-list (sourceIPAddress 203.0.113.99, in the list).
    assert_eq!(
        ids,
        [
            "exc-plain",
            "exc-match-case",
            "exc-neg-alice",
            "exc-wild-miss",
            "exc-wild-case",
            "exc-nested-split",
        ]
    );
    assert!(
        stderr.contains(
            "item value-list (value-list) of list test-exceptions suppressed event exc-list "
        ),
        "{stderr}"
    );

    // Without --exceptions every event alerts, and the rule says the list was not applied.
    let (_, all, stderr) = hunt(&["-r", rules.to_str().unwrap(), "-v"], &inputs);
    // Every GetCallerIdentity event of the two inputs, in time order.
    let ids: Vec<&str> = of_rule(&all, QUERY_EXC)
        .iter()
        .map(|a| a["kibana.alert.ancestors"][0]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "exc-plain",
            "exc-match",
            "exc-match-case",
            "exc-any",
            "exc-neg-hit",
            "exc-neg-alice",
            "exc-wild",
            "exc-wild-miss",
            "exc-wild-case",
            "exc-no-ua",
            "exc-list",
            "exc-nested-hit",
            "exc-nested-split",
        ]
    );
    assert!(stderr.contains("exception lists live in Kibana and are not applied"));
}

/// Excepted events are not counted by aggregations (Kibana adds the exceptions to the search);
/// a list no rule references applies to every rule.
#[test]
fn exceptions_apply_before_threshold_counting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("global.ndjson");
    std::fs::write(
        &file,
        concat!(
            r#"{"list_id":"global","name":"Global","type":"detection","namespace_type":"single"}"#,
            "\n",
            // Excepting one of 203.0.113.1's three logins leaves it below the threshold.
            r#"{"list_id":"global","item_id":"one-login","name":"one login","namespace_type":"single","entries":[{"field":"event.id","operator":"included","type":"match","value":"thr-a-0"}]}"#,
            "\n",
            r#"{"list_id":"global","item_id":"broken","entries":[{"field":"x","operator":"included","type":"regex","value":"v"}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let rules = fixture("rules/threshold_console_login.toml");
    let (code, alerts, stderr) = hunt(
        &[
            "-r",
            rules.to_str().unwrap(),
            "--exceptions",
            file.to_str().unwrap(),
        ],
        &[fixture("threshold.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    let groups: Vec<&str> = of_rule(&alerts, THRESHOLD_IP)
        .iter()
        .map(|a| {
            a["kibana.alert.threshold_result"]["terms"][0]["value"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(groups, ["203.0.113.3", "203.0.113.4"]);
    // The bad item is reported with file and line, and the rest is used.
    assert!(
        stderr.contains("global.ndjson:3: item broken: entry on x: unknown type \"regex\""),
        "{stderr}"
    );
}

/// `(first event id, docs_count, start, end, terms value)` of one rule's alerts.
type SuppressionRow = (String, Option<u64>, Option<String>, Option<String>, Value);

fn suppression_rows(alerts: &[Value], rule_id: &str) -> Vec<SuppressionRow> {
    let mut rows: Vec<SuppressionRow> = of_rule(alerts, rule_id)
        .into_iter()
        .map(|a| {
            (
                a["kibana.alert.ancestors"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                a["kibana.alert.suppression.docs_count"].as_u64(),
                a["kibana.alert.suppression.start"]
                    .as_str()
                    .map(|s| s[11..16].to_string()),
                a["kibana.alert.suppression.end"]
                    .as_str()
                    .map(|s| s[11..16].to_string()),
                a["kibana.alert.suppression.terms"][0]["value"].clone(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn row(id: &str, docs: Option<u64>, start: &str, end: &str, value: Value) -> SuppressionRow {
    let t = |s: &str| (!s.is_empty()).then(|| s.to_string());
    (id.to_string(), docs, t(start), t(end), value)
}

/// Alert suppression (Kibana `suppression_utils.ts`, `bulk_create_with_suppression.ts`): the
/// first alert of a group absorbs the group's later alerts, per execution or for `duration`;
/// `missing_fields_strategy` decides for alerts missing a group_by field. The interval is 5m,
/// so an event at 10:01 is first seen by the execution at 10:05.
#[test]
fn alert_suppression_windows_and_missing_fields() {
    let inputs = [fixture("suppression.jsonl")];
    let key = |k: &str| serde_json::json!([k]);

    // duration 10m, missing fields suppressed together.
    let rules = fixture("rules/suppression_duration.toml");
    let (code, alerts, stderr) = hunt(&["-r", rules.to_str().unwrap()], &inputs);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        suppression_rows(&alerts, "a99e0000-0000-4000-8000-000000000005"),
        vec![
            // 10:01 (execution 10:05) opens the window to 10:15; 10:03 (10:05) and 10:12
            // (10:15, the window's inclusive end) join it; 10:16 (10:20) opens a new one.
            row("sup-k1-a", Some(2), "10:01", "10:12", key("AKIAK1")),
            row("sup-k1-d", Some(0), "10:16", "10:16", key("AKIAK1")),
            row("sup-k2-a", Some(0), "10:02", "10:02", key("AKIAK2")),
            // No access key at 10:04 and 10:06: one group with a null value.
            row("sup-none-a", Some(1), "10:04", "10:06", Value::Null),
        ]
    );

    // Per execution, alerts missing the field not suppressed.
    let rules = fixture("rules/suppression_per_execution.toml");
    let (code, alerts, stderr) = hunt(&["-r", rules.to_str().unwrap()], &inputs);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        suppression_rows(&alerts, "a99e0000-0000-4000-8000-000000000006"),
        vec![
            // 10:01 and 10:03 share the execution at 10:05; 10:12 and 10:16 are seen by later
            // executions.
            row("sup-k1-a", Some(1), "10:01", "10:03", key("AKIAK1")),
            row("sup-k1-c", Some(0), "10:12", "10:12", key("AKIAK1")),
            row("sup-k1-d", Some(0), "10:16", "10:16", key("AKIAK1")),
            row("sup-k2-a", Some(0), "10:02", "10:02", key("AKIAK2")),
            row("sup-none-a", None, "", "", Value::Null),
            row("sup-none-b", None, "", "", Value::Null),
        ]
    );

    // Threshold rules suppress per threshold group over the duration: the group alerts at
    // 10:05 and again at 10:25 (three new logins); the second is suppressed into the first.
    let rules = fixture("rules/suppression_threshold.toml");
    let (code, alerts, stderr) = hunt(&["-r", rules.to_str().unwrap(), "-v"], &inputs);
    assert_eq!(code, 0, "{stderr}");
    let rows = suppression_rows(&alerts, "a99e0000-0000-4000-8000-000000000007");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            rows[0].1,
            rows[0].2.as_deref(),
            rows[0].3.as_deref(),
            &rows[0].4
        ),
        (Some(1), Some("10:03"), Some("10:23"), &key("203.0.113.50"))
    );
    assert!(
        stderr.contains("alerts suppressed by [source.ip] for 3600 s"),
        "{stderr}"
    );
}

/// Building-block alerts carry `kibana.alert.building_block_type: default` and are left out of
/// the default table, as Kibana's alerts table hides them.
#[test]
fn building_block_alerts_hidden_from_table_only() {
    let rules = fixture("rules/building_block.toml");
    let inputs = [fixture("suppression.jsonl")];
    let (code, alerts, _) = hunt(&["-r", rules.to_str().unwrap()], &inputs);
    assert_eq!(code, 0);
    let bb = of_rule(&alerts, "a99e0000-0000-4000-8000-000000000008");
    // The rule's query is `event.action:ListBuckets`: the seven ListBuckets records of
    // suppression.jsonl (the ConsoleLogin ones are not), in time order.
    let ids: Vec<&str> = bb
        .iter()
        .map(|a| a["kibana.alert.ancestors"][0]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "sup-k1-a",
            "sup-k2-a",
            "sup-k1-b",
            "sup-none-a",
            "sup-none-b",
            "sup-k1-c",
            "sup-k1-d",
        ]
    );
    assert!(
        bb.iter()
            .all(|a| a["kibana.alert.building_block_type"] == "default")
    );

    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--format", "table", "-r"])
        .arg(&rules)
        .args(&inputs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Alert rows start with their time; the per-rule summary still counts the rule.
    assert!(!stdout.lines().any(|l| l.starts_with("2025-")), "{stdout}");
    assert!(stdout.contains("Test building block"), "{stdout}");
    assert!(
        stderr.contains("7 building-block alert(s) not shown in the table"),
        "{stderr}"
    );
}

/// `(matched.field, matched.atomic, matched.id)` of one enrichment.
type Matched = (String, String, String);

/// Indicator match against `--indicators`: an OR of mapping groups, each an AND of entries;
/// `threat_filters` (match_phrase) and `threat_query` select the indicators; alerts carry
/// `threat.enrichments` shaped as Kibana's (`matched.atomic/field/id/index/type`, `indicator`,
/// `feed.name`).
#[test]
fn threat_match_with_indicator_file() {
    let rules = fixture("rules/threat_match.toml");
    let indicators = fixture("indicators.ndjson");
    let inputs = [fixture("threat.jsonl")];
    let (code, alerts, stderr) = hunt(
        &[
            "-r",
            rules.to_str().unwrap(),
            "--indicators",
            indicators.to_str().unwrap(),
        ],
        &inputs,
    );
    assert_eq!(code, 0, "{stderr}");
    // The bad indicator line is reported with file and line.
    assert!(
        stderr.contains("indicators.ndjson:4: not valid JSON"),
        "{stderr}"
    );
    let got: Vec<(&str, Vec<Matched>)> = alerts
        .iter()
        .map(|a| {
            assert_eq!(a["kibana.alert.rule.type"], "threat_match");
            let enrichments = a["threat"]["enrichments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    assert_eq!(e["matched"]["type"], "indicator_match_rule");
                    assert!(e["indicator"].is_object());
                    (
                        e["matched"]["field"].as_str().unwrap().to_string(),
                        e["matched"]["atomic"].as_str().unwrap().to_string(),
                        e["matched"]["id"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (
                a["kibana.alert.ancestors"][0]["id"].as_str().unwrap(),
                enrichments,
            )
        })
        .collect();
    let e = |f: &str, v: &str, id: &str| (f.to_string(), v.to_string(), id.to_string());
    assert_eq!(
        got,
        vec![
            // Hit on the IP group. ti-miss has no indicator; ti-filtered's indicator has
            // event.kind "event", which the match_phrase threat filter rejects.
            ("ti-hit-ip", vec![e("source.ip", "203.0.113.66", "ind-ip")]),
            // Both entries of the AND group hold; ti-and-half has only the action.
            (
                "ti-and-hit",
                vec![
                    e("event.action", "GetObject", "ind-and"),
                    e("user.name", "mallory", "ind-and")
                ]
            ),
        ]
    );
    let first = &alerts[0]["threat"]["enrichments"][0];
    assert_eq!(first["feed"]["name"], "Test feed");
    assert_eq!(
        first["matched"]["index"],
        ".ds-logs-ti_test.indicator-default-000001"
    );
    assert_eq!(first["indicator"]["ip"], "203.0.113.66");

    // Without --indicators the rule is accounted as unsupported, with the reason.
    let (code, alerts, stderr) = hunt(&["-r", rules.to_str().unwrap()], &inputs);
    assert_eq!(code, 2, "no rule can run: {stderr}");
    assert!(alerts.is_empty());
    assert!(
        stderr.contains("unsupported") && stderr.contains("threat_match needs --indicators FILE"),
        "{stderr}"
    );
}

/// `--from`/`--to` bound what aggregations count and report, as they bound per-event alerts;
/// new_terms history may reach before `--from`.
#[test]
fn time_range_bounds_aggregations() {
    let rules = fixture("rules/threshold_console_login.toml");
    let (code, alerts, stderr) = hunt(
        &[
            "-r",
            rules.to_str().unwrap(),
            "--from",
            "2025-01-06T10:02:00Z",
            "--to",
            "2025-01-06T12:00:00Z",
        ],
        &[fixture("threshold.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    let groups: Vec<(&str, u64)> = of_rule(&alerts, THRESHOLD_IP)
        .iter()
        .map(|a| {
            let r = &a["kibana.alert.threshold_result"];
            (
                r["terms"][0]["value"].as_str().unwrap(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    // 203.0.113.1 keeps 2 logins in range (10:02, 10:03); 203.0.113.3 keeps 3 of 4.
    assert_eq!(groups, [("203.0.113.3", 3), ("203.0.113.4", 3)]);

    let rules = fixture("rules/new_terms_user_ip.toml");
    let (code, alerts, stderr) = hunt(
        &["-r", rules.to_str().unwrap(), "--from", "2025-01-07"],
        &[fixture("new_terms.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<&str> = of_rule(&alerts, NEW_TERMS)
        .iter()
        .map(|a| a["kibana.alert.ancestors"][0]["id"].as_str().unwrap())
        .collect();
    // nt-1 (before --from) is not reported but still makes nt-2 known.
    assert_eq!(ids, ["nt-3", "nt-4", "nt-5"]);
}

/// The corpus's IP indicator match rule (threat_query `event.module:(threatintel or ti_*)`,
/// `@timestamp >= "now-30d/d"`, three match_phrase threat_filters) over an indicator shaped as
/// Elastic's threat intel integrations write it: indicator fields are read with the threat
/// intel index's mapping, not CloudTrail's constant `event.module: aws`.
#[test]
fn corpus_ip_indicator_rule_matches_integration_shaped_indicator() {
    let threat_intel =
        dragnet_testdata::require_shared!("corpus/detection-rules/rules/threat_intel");
    let dir = tempfile::tempdir().unwrap();
    let rule = threat_intel.join("threat_intel_indicator_match_address.toml");
    let indicators = dir.path().join("ti.ndjson");
    let now = jiff::Timestamp::now().to_string();
    let doc = serde_json::json!({
        "_index": ".ds-logs-ti_abusech.ioc-default-000001",
        "_id": "abusech-1",
        "_source": {
            "@timestamp": now,
            "event": {"module": "ti_abusech", "dataset": "ti_abusech.ioc", "kind": "enrichment",
                      "category": "threat", "type": "indicator"},
            "threat": {"feed": {"name": "AbuseCH IOC"},
                       "indicator": {"ip": "203.0.113.66", "type": "ipv4-addr"}}
        }
    });
    std::fs::write(&indicators, format!("{doc}\n")).unwrap();
    let (code, alerts, stderr) = hunt(
        &[
            "-r",
            rule.to_str().unwrap(),
            "--indicators",
            indicators.to_str().unwrap(),
        ],
        &[fixture("threat.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    let ids: Vec<&str> = alerts
        .iter()
        .map(|a| a["kibana.alert.ancestors"][0]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ti-hit-ip"], "{stderr}");
    let m = &alerts[0]["threat"]["enrichments"][0]["matched"];
    assert_eq!(m["atomic"], "203.0.113.66");
    assert_eq!(m["field"], "source.ip");
    assert_eq!(m["id"], "abusech-1");
}

/// Suppression of an EQL sequence rule acts on the sequence (its shell alert); a suppressed
/// sequence writes no building blocks. Two alice sequences (s1→s2, s3→s4) in one execution.
#[test]
fn sequence_suppression_keeps_the_first_sequence_with_its_building_blocks() {
    let rules = fixture("rules/suppression_sequence.toml");
    let (code, alerts, stderr) = hunt(
        &["-r", rules.to_str().unwrap()],
        &[fixture("sequence.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    let shells: Vec<&Value> = alerts
        .iter()
        .filter(|a| a.get("kibana.alert.group.index").is_none())
        .collect();
    assert_eq!(shells.len(), 1, "{alerts:#?}");
    assert_eq!(shells[0]["kibana.alert.suppression.docs_count"], 1);
    let group = &shells[0]["kibana.alert.group.id"];
    let blocks: Vec<&str> = alerts
        .iter()
        .filter(|a| a.get("kibana.alert.group.index").is_some())
        .map(|a| {
            assert_eq!(&a["kibana.alert.group.id"], group);
            a["kibana.alert.ancestors"][0]["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(blocks, ["s1", "s2"]);
}
