//! The whole elastic/detection-rules corpus loads with no errors and no unknown keys, and
//! both corpus versions of the shipped seed rules load on their own.

use std::collections::BTreeMap;

use dragnet_rules::{DiagnosticKind, RuleType, load_paths};

#[test]
fn corpus_loads_without_errors_or_unknown_keys() {
    let dir = dragnet_testdata::require_shared!("corpus/detection-rules");
    let set = load_paths(&[dir.join("rules"), dir.join("rules_building_block")]);
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &set.diagnostics {
        *by_kind.entry(d.kind.as_str()).or_default() += 1;
    }
    eprintln!("diagnostics by kind: {by_kind:?}");
    let problems: Vec<String> = set
        .diagnostics
        .iter()
        .filter(|d| d.is_error() || d.kind == DiagnosticKind::UnknownKey)
        .take(20)
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(set.files, 2192);
    assert_eq!(set.total(), 2192);
    assert_eq!(set.rules.len(), 2192);
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &set.rules {
        *types.entry(r.rule_type().as_str()).or_default() += 1;
    }
    // Counts from the corpus itself (commit in SOURCE.md).
    assert_eq!(types.get("eql"), Some(&1081));
    assert_eq!(types.get("query"), Some(&508));
    assert_eq!(types.get("new_terms"), Some(&245));
    assert_eq!(types.get("esql"), Some(&212));
    assert_eq!(types.get("machine_learning"), Some(&106));
    assert_eq!(types.get("threshold"), Some(&31));
    assert_eq!(types.get("threat_match"), Some(&9));
}

#[test]
fn corpus_versions_of_seed_rules_load_on_their_own() {
    let dir = dragnet_testdata::require_shared!("corpus/detection-rules");
    // Each seed rule_id, looked up in the corpus, loads alone; together with the embedded
    // copy it would be a duplicate only within one set.
    let embedded = dragnet_rules::embedded();
    let corpus = load_paths(&[dir.join("rules")]);
    for seed in &embedded.rules {
        let newer = corpus
            .rules
            .iter()
            .find(|r| r.rule_id == seed.rule_id)
            .unwrap_or_else(|| panic!("corpus has no rule {}", seed.rule_id));
        let alone = load_paths(&[newer.path()]);
        assert_eq!(alone.rules.len(), 1, "{:?}", alone.diagnostics);
        assert_eq!(alone.error_count(), 0);
        if seed.rule_id == "37b211e8-4e2f-440f-86d8-06cc8f158cfa" {
            // The newer version of the SSM rule is a new_terms rule.
            assert_eq!(
                newer.rule_type(),
                RuleType::NewTerms,
                "{}",
                newer.path().display()
            );
        }
    }
}

#[test]
fn kibana_json_of_every_corpus_rule_round_trips_through_an_export() {
    let dir = dragnet_testdata::require_shared!("corpus/detection-rules");
    let set = load_paths(&[dir.join("rules"), dir.join("rules_building_block")]);
    let exported: Vec<serde_json::Value> = set.rules.iter().map(|r| r.to_kibana_json()).collect();
    for (rule, json) in set.rules.iter().zip(&exported) {
        for key in [
            "rule_id",
            "name",
            "description",
            "risk_score",
            "severity",
            "type",
            "version",
        ] {
            assert!(
                json.get(key).is_some(),
                "{key} missing for {}",
                rule.path().display()
            );
        }
        if let Some(threat) = json.get("threat") {
            for t in threat.as_array().unwrap() {
                assert!(t["technique"].is_array(), "{}", rule.path().display());
            }
        }
        if rule.rule_type() == RuleType::NewTerms {
            assert!(json["new_terms_fields"].is_array());
            assert!(json["history_window_start"].is_string());
            assert!(json.get("new_terms").is_none());
        }
        if let Some(t) = &rule.transform {
            // Placeholders with an entry are rendered; others stay (Template.safe_substitute).
            let note = json["note"].as_str().unwrap_or_default();
            let names = (0..t.osquery.len())
                .map(|i| format!("$osquery_{i}"))
                .chain((0..t.investigate.len()).map(|i| format!("$investigate_{i}")));
            for name in names {
                let left = note.match_indices(&name).any(|(at, _)| {
                    !note[at + name.len()..]
                        .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                });
                assert!(!left, "{name} left in {}", rule.path().display());
            }
        }
    }
    let ndjson: String = exported
        .iter()
        .map(|j| format!("{}\n", serde_json::to_string(j).unwrap()))
        .collect();
    let file = dragnet_rules::SourceFile::new("export.ndjson", ndjson);
    let (again, diags, attempted) = dragnet_rules::parse_kibana_ndjson(&file);
    assert_eq!(attempted, set.rules.len());
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error() || d.kind == DiagnosticKind::UnknownKey)
        .take(10)
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(again.len(), set.rules.len());
    for (first, second) in exported.iter().zip(&again) {
        assert_eq!(first, &second.to_kibana_json(), "{}", second.rule_id);
    }
}
