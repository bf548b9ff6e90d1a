//! The engine's public API for aggregating rules and exceptions ([`Engine::compile_with`],
//! [`Extras`]): which exception lists attach to which rules, and threshold / new_terms alerts
//! over ECS documents written here (dates in each test).

use std::io::Write;
use std::sync::Arc;

use dragnet_engine::{Engine, ExceptionSet, Extras, Progress, RunOptions, Selection};
use dragnet_rules::{Rule, SourceFile};
use serde_json::{Value, json};

fn rule(name: &str, id: &str, body: &str) -> Rule {
    let text = format!(
        r#"[metadata]
creation_date = "2025/01/01"
maturity = "production"
updated_date = "2025/01/01"

[rule]
author = ["dragnet tests"]
description = "{name}"
from = "now-6m"
interval = "5m"
index = ["logs-aws.cloudtrail-*"]
language = "kuery"
license = "Apache-2.0"
name = "{name}"
risk_score = 21
rule_id = "{id}"
severity = "low"
{body}
"#
    );
    let file = SourceFile::new(format!("{name}.toml"), text);
    let (rule, diags) = dragnet_rules::parse_toml(&file);
    rule.unwrap_or_else(|| panic!("{diags:?}"))
}

fn doc(id: &str, time: &str, user: &str, action: &str) -> Value {
    json!({
        "@timestamp": time,
        "event": {"id": id, "action": action, "dataset": "aws.cloudtrail"},
        "user": {"name": user},
    })
}

/// Runs `rules` over `docs` (as an ECS NDJSON file) and returns the alert documents.
fn run_alerts(rules: &[Rule], extras: &Extras, docs: &[Value]) -> (Vec<Value>, Engine) {
    let engine =
        Engine::compile_with(rules, &Selection::default(), Default::default(), extras).unwrap();
    let mut file = tempfile_path();
    for d in docs {
        writeln!(file.1, "{d}").unwrap();
    }
    file.1.flush().unwrap();
    let input = dragnet_input::InputOptions::default();
    let found = dragnet_input::discover(&[file.0.display().to_string()], &input);
    let out = engine.run(
        found.sources,
        &input,
        &RunOptions::default(),
        &Progress::default(),
    );
    let _ = std::fs::remove_file(&file.0);
    (out.alerts.iter().map(|a| a.doc().clone()).collect(), engine)
}

/// Runs `rules` over `docs` (as an ECS NDJSON file) and returns (rule_id, ancestor id) pairs.
fn run(rules: &[Rule], extras: &Extras, docs: &[Value]) -> (Vec<(String, String)>, Engine) {
    let (alerts, engine) = run_alerts(rules, extras, docs);
    let mut pairs: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["kibana.alert.rule.rule_id"].as_str().unwrap().to_string(),
                a["kibana.alert.ancestors"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    pairs.sort();
    (pairs, engine)
}

fn tempfile_path() -> (std::path::PathBuf, std::fs::File) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "dragnet-engine-aggregations-{}-{}.ndjson",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}

const LISTED: &str = "00000000-0000-4000-8000-00000000000a";
const PLAIN: &str = "00000000-0000-4000-8000-00000000000b";

/// A list a rule references applies to that rule only; a list no rule references applies to
/// every rule.
#[test]
fn exception_lists_attach_by_list_id() {
    let listed = rule(
        "listed",
        LISTED,
        r#"type = "query"
query = "event.action:GetObject"

[[rule.exceptions_list]]
id = "x"
list_id = "for-listed"
namespace_type = "single"
type = "detection""#,
    );
    let plain = rule(
        "plain",
        PLAIN,
        "type = \"query\"\nquery = \"event.action:GetObject\"",
    );
    let mut set = ExceptionSet::new();
    set.add_ndjson(
        "lists.ndjson",
        concat!(
            r#"{"list_id":"for-listed","item_id":"alice","entries":[{"field":"user.name","operator":"included","type":"match","value":"alice"}]}"#,
            "\n",
            r#"{"list_id":"global","item_id":"bob","entries":[{"field":"user.name","operator":"included","type":"match","value":"bob"}]}"#,
            "\n"
        ),
    );
    assert!(set.problems().is_empty(), "{:?}", set.problems());
    let extras = Extras {
        exceptions: Some(Arc::new(set)),
        ..Default::default()
    };
    let docs = [
        doc("e-alice", "2025-01-01T10:00:00Z", "alice", "GetObject"),
        doc("e-bob", "2025-01-01T10:01:00Z", "bob", "GetObject"),
        doc("e-carol", "2025-01-01T10:02:00Z", "carol", "GetObject"),
    ];
    let (pairs, _) = run(&[listed, plain], &extras, &docs);
    let p = |r: &str, e: &str| (r.to_string(), e.to_string());
    assert_eq!(
        pairs,
        vec![
            // "listed": alice excepted by its own list, bob by the global list.
            p(LISTED, "e-carol"),
            // "plain": only the global list applies.
            p(PLAIN, "e-alice"),
            p(PLAIN, "e-carol"),
        ]
    );
    let counts = extras.exceptions.as_ref().unwrap().suppression_counts();
    assert_eq!(
        counts,
        vec![
            (LISTED.to_string(), "alice".to_string(), 1),
            (LISTED.to_string(), "bob".to_string(), 1),
            (PLAIN.to_string(), "bob".to_string(), 1),
        ]
    );
}

/// Threshold without group-by fields counts every matching event in one group; the same
/// `event.id` delivered twice counts once.
#[test]
fn threshold_without_fields_and_duplicate_records() {
    let r = rule(
        "no fields",
        PLAIN,
        "type = \"threshold\"\nquery = \"event.action:ConsoleLogin\"\n\n[rule.threshold]\nfield = []\nvalue = 3",
    );
    let login = |id: &str, t: &str, u: &str| doc(id, t, u, "ConsoleLogin");
    let two = [
        login("l1", "2025-01-01T10:01:00Z", "a"),
        login("l2", "2025-01-01T10:02:00Z", "b"),
        login("l2", "2025-01-01T10:02:00Z", "b"),
    ];
    let (pairs, _) = run(std::slice::from_ref(&r), &Extras::default(), &two);
    assert!(
        pairs.is_empty(),
        "duplicate delivery counted twice: {pairs:?}"
    );
    let three = [
        login("l1", "2025-01-01T10:01:00Z", "a"),
        login("l2", "2025-01-01T10:02:00Z", "b"),
        login("l3", "2025-01-01T10:03:00Z", "c"),
    ];
    let (alerts, _) = run_alerts(&[r], &Extras::default(), &three);
    // One group (no fields): the three logins, counted from the first (10:01) to the last
    // (10:03), which is the alert's time (Kibana `bulk_create_threshold_signals.ts`: the
    // bucket's `threshold_result` with `terms` of the group-by fields, none here, `count` and
    // `from` its earliest event; `@timestamp` its latest as hunt replays the schedule).
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["kibana.alert.rule.rule_id"], PLAIN);
    assert_eq!(a["kibana.alert.rule.type"], "threshold");
    assert_eq!(
        a["kibana.alert.threshold_result"],
        json!({"terms": [], "count": 3, "from": "2025-01-01T10:01:00.000Z"})
    );
    assert_eq!(a["@timestamp"], "2025-01-01T10:03:00.000Z");
    assert_eq!(a["kibana.alert.original_time"], "2025-01-01T10:03:00.000Z");
}

/// A rule without `--indicators` is unsupported with the reason; machine_learning says why.
#[test]
fn unsupported_rules_carry_their_reason() {
    let tm = rule(
        "tm",
        LISTED,
        r#"type = "threat_match"
query = "source.ip:*"
threat_index = ["logs-ti_*"]
threat_query = "threat.indicator.ip:*"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "source.ip"
type = "mapping"
value = "threat.indicator.ip""#,
    );
    let engine = Engine::compile_with(
        &[tm],
        &Selection::default(),
        Default::default(),
        &Extras::default(),
    )
    .unwrap();
    let r = &engine.reports()[0];
    assert_eq!(r.status.name(), "unsupported");
    assert!(
        r.status
            .reason()
            .unwrap()
            .contains("needs --indicators FILE")
    );
}

/// A `negate` mapping entry must not be equal: the group matches an indicator whose IP equals
/// the event's while its user differs.
#[test]
fn threat_match_negated_entry() {
    let tm = rule(
        "tm",
        LISTED,
        r#"type = "threat_match"
query = "event.action:GetObject"
threat_index = ["logs-ti_*"]
threat_query = "threat.indicator.ip:*"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "source.ip"
type = "mapping"
value = "threat.indicator.ip"
[[rule.threat_mapping.entries]]
field = "user.name"
type = "mapping"
value = "threat.indicator.provider"
negate = true"#,
    );
    let mut indicators = dragnet_engine::Indicators::new();
    indicators.add_ndjson(
        "ti.ndjson",
        r#"{"_id":"i1","_index":"logs-ti_x","_source":{"threat":{"indicator":{"ip":"203.0.113.9","provider":"trusted-scanner"}}}}"#,
    );
    let extras = Extras {
        indicators: Some(Arc::new(indicators)),
        ..Default::default()
    };
    let with_ip = |id: &str, user: &str| {
        let mut d = doc(id, "2025-01-01T10:00:00Z", user, "GetObject");
        d["source"] = json!({"ip": "203.0.113.9"});
        d
    };
    let (pairs, _) = run(
        &[tm],
        &extras,
        &[
            with_ip("e-mallory", "mallory"),
            with_ip("e-scanner", "trusted-scanner"),
        ],
    );
    assert_eq!(pairs, vec![(LISTED.to_string(), "e-mallory".to_string())]);
}

/// Suppression applies to new_terms alerts like to query alerts: two new terms of one user in
/// one execution make one alert counting the other.
#[test]
fn new_terms_alerts_are_suppressed() {
    let nt = rule(
        "nt",
        PLAIN,
        r#"type = "new_terms"
query = "event.action:GetObject"

[rule.new_terms]
field = "new_terms_fields"
value = ["source.ip"]

[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-7d"

[rule.alert_suppression]
group_by = ["user.name"]
missing_fields_strategy = "suppress""#,
    );
    let from_ip = |id: &str, t: &str, ip: &str| {
        let mut d = doc(id, t, "alice", "GetObject");
        d["source"] = json!({"ip": ip});
        d
    };
    let engine_docs = [
        from_ip("n1", "2025-01-01T10:01:00Z", "192.0.2.1"),
        from_ip("n2", "2025-01-01T10:02:00Z", "192.0.2.2"),
    ];
    let (alerts, _) = run_alerts(&[nt], &Extras::default(), &engine_docs);
    // n1 (first sight of 192.0.2.1) alerts; n2 (192.0.2.2, also new) is suppressed into it.
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a["kibana.alert.ancestors"][0]["id"], "n1");
    assert_eq!(a["kibana.alert.new_terms"], json!(["192.0.2.1"]));
    assert_eq!(a["kibana.alert.suppression.docs_count"], 1);
    assert_eq!(
        a["kibana.alert.suppression.terms"],
        json!([{"field": "user.name", "value": ["alice"]}])
    );
}
