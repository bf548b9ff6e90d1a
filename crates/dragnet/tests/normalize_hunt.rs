//! Round trip at the CLI level: `dragnet normalize` output of the real datasets, fed back to
//! `dragnet hunt` as ECS input, yields the same alerts as the raw CloudTrail (issue 5).

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// (rule_id, source `event.id`, `event.action`, original time, building-block flag) of every
/// alert. Not the ancestor id: for a record without `eventID` it is a hash of the record's bytes,
/// which differ between the raw record and its ECS document by construction.
type AlertKey = (String, String, String, String, bool);

fn alert_keys(ndjson: &str) -> BTreeSet<AlertKey> {
    ndjson
        .lines()
        .map(|line| {
            let alert: Value = serde_json::from_str(line).expect("hunt writes JSON lines");
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                s(&alert["kibana.alert.rule.rule_id"]),
                s(&alert["event"]["id"]),
                s(&alert["event"]["action"]),
                s(&alert["kibana.alert.original_time"]),
                !alert["kibana.alert.building_block_type"].is_null(),
            )
        })
        .collect()
}

fn hunt(rules: &Path, input: &Path) -> String {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--quiet", "--format", "ndjson", "-r"])
        .arg(rules)
        .arg(input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hunt {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn normalized_datasets_fire_the_same_alerts_as_raw_cloudtrail() {
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let rules = dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations/aws");
    let dir = tempfile::tempdir().unwrap();
    let ecs = dir.path().join("normalized.ndjson");
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["normalize", "--quiet", "--output"])
        .arg(&ecs)
        .arg(&datasets)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let raw = alert_keys(&hunt(&rules, &datasets));
    let normalized = alert_keys(&hunt(&rules, &ecs));
    assert!(
        raw.len() > 50,
        "the corpus fires on the datasets: {}",
        raw.len()
    );
    let only_raw: Vec<_> = raw.difference(&normalized).collect();
    let only_ecs: Vec<_> = normalized.difference(&raw).collect();
    assert!(
        only_raw.is_empty() && only_ecs.is_empty(),
        "alerts differ\nonly raw: {only_raw:#?}\nonly normalized: {only_ecs:#?}"
    );
}
