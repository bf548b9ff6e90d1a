//! EQL sample and sequence rules run by the engine over ECS documents written here (one JSON
//! document per line), with and without rule exceptions.

use std::io::Write;

use dragnet_engine::{Engine, Extras, Progress, RunOptions, RunOutput, Selection};
use dragnet_rules::Rule;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

const RULE_ID: &str = "00000000-0000-4000-8000-0000000000e1";

/// An EQL rule over CloudTrail with `query`, and `extra` TOML lines in `[rule]`.
fn eql_rule(query: &str, extra: &str) -> Rule {
    let text = format!(
        r#"[metadata]
creation_date = "2025/01/01"
maturity = "production"
updated_date = "2025/01/01"

[rule]
author = ["dragnet tests"]
description = "eql test rule"
from = "now-6m"
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Apache-2.0"
name = "eql test rule"
risk_score = 21
rule_id = "{RULE_ID}"
severity = "low"
type = "eql"
query = '''
{query}
'''
{extra}
"#
    );
    let file = dragnet_rules::SourceFile::new("rule.toml".to_string(), text);
    let (rule, diags) = dragnet_rules::parse_toml(&file);
    rule.unwrap_or_else(|| panic!("{diags:?}"))
}

/// A CloudTrail-like ECS document.
fn doc(id: &str, time: &str, user: &str, action: &str, ip: &str) -> Value {
    json!({
        "@timestamp": time,
        "event": {"id": id, "action": action, "dataset": "aws.cloudtrail"},
        "user": {"name": user},
        "source": {"ip": ip},
    })
}

/// Runs `rules` over `docs`, written as one NDJSON file.
fn run_docs(
    rules: &[Rule],
    extras: &Extras,
    docs: &[Value],
    options: &RunOptions,
) -> (RunOutput, Engine) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let engine =
        Engine::compile_with(rules, &Selection::default(), Default::default(), extras).unwrap();
    let path = std::env::temp_dir().join(format!(
        "dragnet-engine-eql-sample-{}-{}.ndjson",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = std::fs::File::create(&path).unwrap();
    for d in docs {
        writeln!(file, "{d}").unwrap();
    }
    file.flush().unwrap();
    let input = dragnet_input::InputOptions::default();
    let found = dragnet_input::discover(&[path.display().to_string()], &input);
    let out = engine.run(found.sources, &input, options, &Progress::default());
    let _ = std::fs::remove_file(&path);
    (out, engine)
}

/// Each alert as (group index or "shell", source event id or ancestors' event ids).
fn groups(out: &RunOutput) -> Vec<(String, Vec<String>)> {
    let mut got: Vec<(String, Vec<String>)> = out
        .alerts
        .iter()
        .map(|a| {
            let index = a
                .doc()
                .get("kibana.alert.group.index")
                .map(|i| i.to_string());
            let events: Vec<String> = a.doc()["kibana.alert.ancestors"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["type"] == "event")
                .map(|x| x["id"].as_str().unwrap().to_string())
                .collect();
            (index.unwrap_or_else(|| "shell".into()), events)
        })
        .collect();
    got.sort();
    got
}

const SAMPLE: &str = r#"sample by user.name
  [any where event.action == "CreateUser"]
  [any where event.action == "AttachUserPolicy"]"#;

fn sample_docs() -> Vec<Value> {
    vec![
        doc(
            "e1",
            "2025-03-01T10:10:00Z",
            "alice",
            "AttachUserPolicy",
            "10.0.0.1",
        ),
        doc(
            "e2",
            "2025-03-01T10:05:00Z",
            "alice",
            "CreateUser",
            "10.0.0.2",
        ),
        doc(
            "e3",
            "2025-03-01T10:06:00Z",
            "bob",
            "CreateUser",
            "10.0.0.3",
        ),
        doc(
            "e4",
            "2025-03-01T10:07:00Z",
            "alice",
            "CreateUser",
            "10.0.0.4",
        ),
    ]
}

#[test]
fn a_sample_gives_building_blocks_in_filter_order_and_a_shell() {
    let rule = eql_rule(SAMPLE, "");
    let (out, engine) = run_docs(
        &[rule],
        &Extras::default(),
        &sample_docs(),
        &RunOptions::default(),
    );
    assert_eq!(engine.reports()[0].status.name(), "run");
    // alice: the earliest CreateUser (e2, not e4) fills the first filter, e1 the second
    // although it happened later; bob has no AttachUserPolicy.
    assert_eq!(
        groups(&out),
        vec![
            ("0".into(), vec!["e2".into()]),
            ("1".into(), vec!["e1".into()]),
            ("shell".into(), vec!["e2".into(), "e1".into()]),
        ]
    );
    let shell = out
        .alerts
        .iter()
        .find(|a| a.doc().get("kibana.alert.group.index").is_none())
        .unwrap();
    let (blocks, shell_id) = dragnet_alert::group::group_ids(
        &[
            ("e2", dragnet_alert::CLOUDTRAIL_DATA_STREAM),
            ("e1", dragnet_alert::CLOUDTRAIL_DATA_STREAM),
        ],
        RULE_ID,
    );
    assert_eq!(shell.uuid, shell_id);
    assert_eq!(
        shell.doc()["kibana.alert.original_time"],
        "2025-03-01T10:05:00Z"
    );
    // The shell's source is what both events share.
    assert_eq!(shell.doc()["user"]["name"], "alice");
    assert!(
        shell
            .doc()
            .get("source")
            .is_none_or(|s| s.get("ip").is_none())
    );
    for a in out.alerts.iter().filter(|a| a.uuid != shell_id) {
        assert!(blocks.contains(&a.uuid));
        assert_eq!(a.doc()["kibana.alert.group.id"], shell_id.as_str());
        assert_eq!(a.doc()["kibana.alert.building_block_type"], "default");
    }
}

#[test]
fn explain_names_the_join_keys_and_events() {
    let rule = eql_rule(SAMPLE, "");
    let options = RunOptions {
        explain: true,
        ..RunOptions::default()
    };
    let (out, _) = run_docs(&[rule], &Extras::default(), &sample_docs(), &options);
    let shell = out
        .alerts
        .iter()
        .find(|a| a.doc().get("kibana.alert.group.index").is_none())
        .unwrap();
    assert_eq!(
        shell.doc()["dragnet.explain"],
        json!({"sample": {"join_keys": ["alice"], "events": [
            {"event.id": "e2", "@timestamp": "2025-03-01T10:05:00Z"},
            {"event.id": "e1", "@timestamp": "2025-03-01T10:10:00Z"},
        ]}})
    );
    let block = out
        .alerts
        .iter()
        .find(|a| a.doc().get("kibana.alert.group.index") == Some(&json!(1)))
        .unwrap();
    assert_eq!(
        block.doc()["dragnet.explain"],
        json!({"sample": {"join_keys": ["alice"], "group_index": 1, "events": 2}})
    );
}

#[test]
fn input_order_and_duplicate_deliveries_do_not_change_the_alerts() {
    let rule = eql_rule(SAMPLE, "");
    let mut docs = sample_docs();
    let (first, _) = run_docs(
        std::slice::from_ref(&rule),
        &Extras::default(),
        &docs,
        &RunOptions::default(),
    );
    docs.reverse();
    docs.extend(sample_docs());
    let options = RunOptions {
        threads: Some(3),
        ..RunOptions::default()
    };
    let (second, _) = run_docs(&[rule], &Extras::default(), &docs, &options);
    let uuids = |o: &RunOutput| o.alerts.iter().map(|a| a.uuid.clone()).collect::<Vec<_>>();
    assert_eq!(uuids(&first), uuids(&second));
    assert_eq!(groups(&first), groups(&second));
}

#[test]
fn events_outside_from_to_take_no_part() {
    let rule = eql_rule(SAMPLE, "");
    let options = RunOptions {
        from: Some("2025-03-01T10:06:00Z".parse().unwrap()),
        ..RunOptions::default()
    };
    let (out, _) = run_docs(&[rule], &Extras::default(), &sample_docs(), &options);
    // e2 is before --from: the next CreateUser of alice, e4, takes its place.
    assert_eq!(
        groups(&out),
        vec![
            ("0".into(), vec!["e4".into()]),
            ("1".into(), vec!["e1".into()]),
            ("shell".into(), vec!["e4".into(), "e1".into()]),
        ]
    );
}

#[test]
fn max_signals_keeps_the_first_samples_in_key_order() {
    let rule = eql_rule(SAMPLE, "");
    let mut docs = sample_docs();
    // carol's sample is the earliest in time, but "alice" < "carol".
    docs.push(doc(
        "c1",
        "2025-03-01T09:00:00Z",
        "carol",
        "CreateUser",
        "10.0.0.5",
    ));
    docs.push(doc(
        "c2",
        "2025-03-01T09:01:00Z",
        "carol",
        "AttachUserPolicy",
        "10.0.0.5",
    ));
    let options = RunOptions {
        max_signals: Some(1),
        ..RunOptions::default()
    };
    let (out, _) = run_docs(&[rule], &Extras::default(), &docs, &options);
    let shells: Vec<Vec<String>> = groups(&out)
        .into_iter()
        .filter(|g| g.0 == "shell")
        .map(|g| g.1)
        .collect();
    assert_eq!(shells, vec![vec!["e2".to_string(), "e1".to_string()]]);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("1 more sample(s) found beyond --max-signals (1)")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn the_candidate_cap_is_warned_about() {
    let rule = eql_rule(SAMPLE, "");
    let options = RunOptions {
        max_sequence_candidates: Some(1),
        threads: Some(1),
        ..RunOptions::default()
    };
    let (_, _) = run_docs(
        std::slice::from_ref(&rule),
        &Extras::default(),
        &sample_docs(),
        &options,
    );
    let (out, _) = run_docs(&[rule], &Extras::default(), &sample_docs(), &options);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("dropped at the cap of 1")
                && w.contains("--max-sequence-candidates")),
        "{:?}",
        out.warnings
    );
}

/// Exceptions on EQL sequences and samples: an excepted event takes part in nothing, as in
/// Kibana, where the exception filter is part of the EQL search (`buildEqlSearchRequest`).
mod exceptions {
    use serde_json::Value;

    use super::{doc, eql_rule, groups, run_docs};
    use dragnet_engine::ExceptionSet;
    use dragnet_engine::{Extras, RunOptions};

    const EXCEPTION: &str = r#"{"list_id":"trusted","item_id":"ip-1","name":"trusted admin box","entries":[{"field":"source.ip","operator":"included","type":"match","value":"1.1.1.1"}]}"#;

    const LIST: &str = r#"
[[rule.exceptions_list]]
id = "x"
list_id = "trusted"
namespace_type = "single"
type = "detection""#;

    const SEQUENCE: &str = r#"sequence by user.name with maxspan=1h
  [any where event.action == "CreateUser"]
  [any where event.action == "AttachUserPolicy"]"#;

    const SAMPLE: &str = r#"sample by user.name
  [any where event.action == "CreateUser"]
  [any where event.action == "AttachUserPolicy"]"#;

    fn extras() -> Extras {
        let mut set = ExceptionSet::new();
        set.add_ndjson("trusted.ndjson", EXCEPTION);
        Extras {
            exceptions: Some(std::sync::Arc::new(set)),
            ..Extras::default()
        }
    }

    fn docs(with_second_attach: bool) -> Vec<Value> {
        let mut docs = vec![
            doc(
                "c1",
                "2025-03-01T10:00:00Z",
                "alice",
                "CreateUser",
                "9.9.9.9",
            ),
            // Excepted: would complete the sequence first.
            doc(
                "a1",
                "2025-03-01T10:01:00Z",
                "alice",
                "AttachUserPolicy",
                "1.1.1.1",
            ),
            // Excepted too, but no step uses it: not counted.
            doc(
                "x1",
                "2025-03-01T10:01:30Z",
                "alice",
                "ListUsers",
                "1.1.1.1",
            ),
        ];
        if with_second_attach {
            docs.push(doc(
                "a2",
                "2025-03-01T10:02:00Z",
                "alice",
                "AttachUserPolicy",
                "2.2.2.2",
            ));
        }
        docs
    }

    fn shells(query: &str, extras: &Extras, with_second_attach: bool) -> Vec<Vec<String>> {
        let rule = eql_rule(query, LIST);
        let (out, _) = run_docs(
            &[rule],
            extras,
            &docs(with_second_attach),
            &RunOptions::default(),
        );
        groups(&out)
            .into_iter()
            .filter(|g| g.0 == "shell")
            .map(|g| g.1)
            .collect()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_excepted_event_completes_no_sequence_step() {
        // Without exceptions a1 completes the sequence.
        assert_eq!(
            shells(SEQUENCE, &Extras::default(), true),
            vec![ids(&["c1", "a1"])]
        );
        // Excepted, a1 takes no part; a2 completes it.
        assert_eq!(shells(SEQUENCE, &extras(), true), vec![ids(&["c1", "a2"])]);
        // Only the excepted event could have completed it: no alert.
        assert_eq!(
            shells(SEQUENCE, &extras(), false),
            Vec::<Vec<String>>::new()
        );
    }

    #[test]
    fn an_excepted_event_fills_no_sample_filter() {
        assert_eq!(
            shells(SAMPLE, &Extras::default(), true),
            vec![ids(&["c1", "a1"])]
        );
        assert_eq!(shells(SAMPLE, &extras(), true), vec![ids(&["c1", "a2"])]);
        assert_eq!(shells(SAMPLE, &extras(), false), Vec::<Vec<String>>::new());
    }

    #[test]
    fn counts_and_notes_say_what_was_applied() {
        let extras = extras();
        let rule = eql_rule(SEQUENCE, LIST);
        let (_, engine) = run_docs(&[rule], &extras, &docs(true), &RunOptions::default());
        let set = extras.exceptions.as_ref().unwrap();
        // a1 only: x1 matches the exception but no step of the rule.
        assert_eq!(
            set.suppression_counts(),
            vec![(super::RULE_ID.to_string(), "ip-1".to_string(), 1)]
        );
        let notes = match &engine.reports()[0].status {
            dragnet_engine::RuleStatus::Run { notes, .. } => notes.clone(),
            other => panic!("{other:?}"),
        };
        assert!(
            notes.iter().any(|n| n == "1 exception item(s) applied"),
            "{notes:?}"
        );
        assert!(
            !notes
                .iter()
                .any(|n| n == dragnet_detect::exceptions::NOT_APPLIED_NOTE),
            "{notes:?}"
        );
        // Without --exceptions the report says they are not applied.
        let rule = eql_rule(SAMPLE, LIST);
        let (_, engine) = run_docs(
            &[rule],
            &Extras::default(),
            &docs(true),
            &RunOptions::default(),
        );
        let notes = match &engine.reports()[0].status {
            dragnet_engine::RuleStatus::Run { notes, .. } => notes.clone(),
            other => panic!("{other:?}"),
        };
        assert!(
            notes
                .iter()
                .any(|n| n == dragnet_detect::exceptions::NOT_APPLIED_NOTE),
            "{notes:?}"
        );
    }
}
