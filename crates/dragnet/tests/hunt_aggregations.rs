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

use std::collections::{BTreeMap, BTreeSet};
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
/// (`rules/integrations/aws*`) loads and runs over the shared CloudTrail datasets, with exactly
/// the alerts worked out from the raw records by `fixtures/aggregations/derive_corpus_alerts.py`
/// (without dragnet): seventeen new_terms rules and one threshold rule alert (73 alerts), and
/// for each of the others the script shows no record meets a necessary part of its query (the
/// three reading `source.as.*` cannot match without ASN data).
/// Copies the corpus's aggregating AWS rules (threshold, new_terms, threat_match) into `dir`;
/// returns how many.
fn copy_aggregating_aws_rules(integrations: &Path, dir: &Path) -> usize {
    let mut copied = 0;
    for entry in std::fs::read_dir(integrations).unwrap() {
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
                std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
                copied += 1;
            }
        }
    }
    copied
}

/// Aggregating rules finish on the run's threads, their alerts collected rule by rule in the
/// one-thread order: the output is the same bytes whatever the thread count.
#[test]
fn aggregation_alerts_are_the_same_bytes_whatever_the_thread_count() {
    let integrations =
        dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let dir = tempfile::tempdir().unwrap();
    assert!(copy_aggregating_aws_rules(&integrations, dir.path()) >= 50);
    let run = |threads: &str| {
        let out = Command::cargo_bin("dragnet")
            .unwrap()
            .args(["hunt", "-q", "--format", "ndjson", "-j", threads, "-r"])
            .arg(dir.path())
            .arg(&datasets)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = run("1");
    let alerts: Vec<Value> = String::from_utf8_lossy(&one)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rules: std::collections::BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a["kibana.alert.rule.rule_id"].as_str())
        .collect();
    assert!(rules.len() >= 3, "alerts from {} rule(s) only", rules.len());
    for threads in ["2", "4"] {
        assert!(run(threads) == one, "-j {threads} differs from -j 1");
    }
}

#[test]
fn corpus_aggregation_rules_run_over_cloudtrail_datasets() {
    let integrations =
        dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let dir = tempfile::tempdir().unwrap();
    let copied = copy_aggregating_aws_rules(&integrations, dir.path());
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
            // Rules reading source.as.* / source.geo.* need --asn-db / --geoip-db (issue 14:
            // without the database they are unsupported for that reason); every other runs.
            "threshold" | "new_terms" => assert!(
                status == "run"
                    || (status == "unsupported"
                        && r["reason"].as_str().is_some_and(|s| {
                            (s.starts_with("reads source.as.") && s.contains("needs --asn-db"))
                                || (s.starts_with("reads source.geo.")
                                    && s.contains("needs --geoip-db"))
                        })),
                "{r:#}"
            ),
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
    for a in alerts {
        let t = a["kibana.alert.rule.type"].as_str().unwrap();
        match t {
            "threshold" => assert!(a["kibana.alert.threshold_result"]["count"].is_u64()),
            "new_terms" => assert!(a["kibana.alert.new_terms"].is_array()),
            _ => {}
        }
    }

    // Exact alerts of the rules whose expectations were worked out from the raw records
    // (fixtures/aggregations/derive_corpus_alerts.py says how, without dragnet).
    // new_terms: per rule, the new terms (values in the rule's new_terms_fields order), each
    // once, and the alert's source event among the earliest in the window holding the term.
    let derived: BTreeSet<&str> = NEW_TERMS_ALERTS.iter().map(|(rule, _, _)| *rule).collect();
    let mut want: Vec<(String, Value)> = NEW_TERMS_ALERTS
        .iter()
        .map(|(rule, values, _)| (rule.to_string(), serde_json::json!(values)))
        .collect();
    let mut got: Vec<(String, Value)> = Vec::new();
    for a in alerts {
        let rule = a["kibana.alert.rule.rule_id"].as_str().unwrap();
        if rule == SECRETS_THRESHOLD {
            continue;
        }
        // The script shows every other rule alerts on nothing here.
        assert!(
            derived.contains(rule),
            "{rule} alerts, but no record meets its query: {a:#}"
        );
        let values = a["kibana.alert.new_terms"].clone();
        let source = a["kibana.alert.ancestors"][0]["id"].as_str().unwrap();
        let candidates = NEW_TERMS_ALERTS
            .iter()
            .find(|(r, v, _)| *r == rule && serde_json::json!(v) == values)
            .map(|(_, _, c)| *c)
            .unwrap_or_else(|| panic!("unexpected new term {values} of {rule}"));
        assert!(
            candidates.contains(&source),
            "{rule} {values}: alert on {source}, expected one of {candidates:?}"
        );
        got.push((rule.to_string(), values));
    }
    want.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
    got.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
    assert_eq!(got, want);
    // threshold (AWS Secrets Manager Rapid Secrets Retrieval): per user.id group, count,
    // distinct request_parameters, first and last event.
    let mut got: Vec<(String, u64, u64, String, String)> = alerts
        .iter()
        .filter(|a| a["kibana.alert.rule.rule_id"] == SECRETS_THRESHOLD)
        .map(|a| {
            let r = &a["kibana.alert.threshold_result"];
            assert_eq!(r["terms"][0]["field"], "user.id");
            assert_eq!(
                r["cardinality"][0]["field"],
                "aws.cloudtrail.request_parameters"
            );
            (
                r["terms"][0]["value"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
                r["cardinality"][0]["value"].as_u64().unwrap(),
                r["from"].as_str().unwrap().to_string(),
                a["@timestamp"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, u64, u64, String, String)> = SECRETS_THRESHOLD_ALERTS
        .iter()
        .map(|(u, n, d, from, last)| (u.to_string(), *n, *d, from.to_string(), last.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

/// credential_access_rapid_secret_retrieval_attempts_from_secretsmanager.
const SECRETS_THRESHOLD: &str = "185c782e-f86a-11ee-9d9f-f661ea17fbce";

// Generated by fixtures/aggregations/derive_corpus_alerts.py from ../shared/datasets/cloudtrail:
// (rule_id, new term values, candidate source eventIDs).
const NEW_TERMS_ALERTS: &[(&str, &[&str], &[&str])] = &[
    // discovery_new_terms_sts_getcalleridentity
    (
        "30fbf4db-c502-4e68-a239-2e99af0f70da",
        &["arn:aws:iam::123837392027:user/bert-jan"],
        &["c51ec284-c59d-4e86-8dc2-a81867b807be"],
    ),
    (
        "30fbf4db-c502-4e68-a239-2e99af0f70da",
        &["arn:aws:iam::070411556318:user/christophe"],
        &["e544d47e-6d75-45cf-a8a9-7e90d5f7d38d"],
    ),
    (
        "30fbf4db-c502-4e68-a239-2e99af0f70da",
        &["arn:aws:sts::742491224508:federated-user/stratus_red_team"],
        &["91529247-c4c4-4793-afc8-d70bbcfe9d19"],
    ),
    // defense_evasion_sts_get_federation_token
    (
        "7a5cc9a8-5ea3-11ef-beec-f661ea17fbce",
        &["arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user"],
        &["6e882b9d-2af8-4c67-b91f-aeac6a0e5e70"],
    ),
    // initial_access_iam_user_console_login_without_mfa
    (
        "f5778acd-80e3-4ca0-a32a-6259386dfb20",
        &["AKIAIOSFODNN7EXAMPLE"],
        &["2681fc29-EXAMPLE"],
    ),
    (
        "f5778acd-80e3-4ca0-a32a-6259386dfb20",
        &["AIDACKCEVSQ6C2EXAMPLE"],
        &["3fcfb182-98f8-4744-bd45-10a395ab61cb"],
    ),
    (
        "f5778acd-80e3-4ca0-a32a-6259386dfb20",
        &["AIDATFQR7NSCYG26CT6RI"],
        &["70e5932e-9022-4b38-837e-ca10dad94eb7"],
    ),
    (
        "f5778acd-80e3-4ca0-a32a-6259386dfb20",
        &["AIDA1ERT0661IN5R239V"],
        &["865d9377-9c6b-4fd7-8aad-725e95f6a140"],
    ),
    // lateral_movement_aws_ssm_start_session_to_ec2_instance
    (
        "804a7ac8-fc00-11ee-924b-f661ea17fbce",
        &["294599468799", "christophe"],
        &["32e8a07f-4751-4081-882e-958a25231c56"],
    ),
    // execution_ssm_sendcommand_by_rare_user
    (
        "37b211e8-4e2f-440f-86d8-06cc8f158cfa",
        &["123837392027", "bert-jan"],
        &["99b46479-d5c7-4384-b342-006ece8c36a0"],
    ),
    (
        "37b211e8-4e2f-440f-86d8-06cc8f158cfa",
        &["017622104382", "christophe"],
        &["2a5178c8-b4c7-44ba-b066-1ecc79b7087c"],
    ),
    (
        "37b211e8-4e2f-440f-86d8-06cc8f158cfa",
        &["056392974792", "christophe"],
        &["5288bfb8-e3fa-4c41-be02-6853521afe8b"],
    ),
    // credential_access_new_terms_secretsmanager_getsecretvalue
    (
        "a00681e3-9ed6-447c-ab2c-be648821c622",
        &["123837392027", "bert-jan"],
        &[
            "04e99aef-c0da-410b-91d5-4ff900bdc32e",
            "0bdf2b9c-2cf9-40dd-a88b-0148e08e5a75",
            "17c493f4-57b0-4b55-9938-a751b7b6e755",
            "1efcb002-cee7-4e37-9e66-356e14afe36a",
            "2b460bcc-34b1-4fe0-9273-ff57ef3caa2d",
            "2b4d4794-d4e8-44e9-8dcd-a1806015a8d5",
            "3436ce9f-1ab8-4df5-b49c-11b7d659f4ef",
            "5e2ae5c5-ac04-419b-bb18-693f6f0386a1",
            "6412e41a-5796-4052-a4ac-ea9ea550af4c",
            "6ca65bd0-8903-4cf9-9d18-7c25bfa6b13f",
            "79bba53b-7483-4ff7-84eb-fb59085e0b02",
            "841e07b3-b243-4723-a08a-2a51e00a423d",
            "8599c507-ac70-4fca-ae78-58ebbae19220",
            "85e95437-4c87-4d2a-849c-2f782e8af648",
            "8e46a8e8-9175-42a0-8db5-2be95facf192",
            "9150114f-a5ec-4324-a169-63a28a4dfdb0",
            "a33475af-85fb-42f9-8d89-4a797454f8f6",
            "a8b02471-826c-4d94-a890-b25559bff3b8",
            "bc357ffe-2ab5-40c8-a133-17196efdf301",
            "c0a24f36-da17-4679-91cb-d5fb1f3a1f82",
        ],
    ),
    (
        "a00681e3-9ed6-447c-ab2c-be648821c622",
        &["903144391865", "christophe"],
        &[
            "99207de2-f8ea-4160-bbe8-22cb14da3a26",
            "d92519e6-b907-4d3a-abb4-d63c9feaee52",
            "e20f1d5b-f2fa-470f-8d33-8aa43ddb6a23",
        ],
    ),
    // persistence_route_table_created
    (
        "e12c0318-99b1-44f2-830c-3a38a43207ca",
        &["123837392027", "bert-jan"],
        &[
            "8733190e-057b-485f-85b3-84a30ffd8d64",
            "dc024e51-15e4-4829-a971-7e17d4be43be",
        ],
    ),
    // persistence_ec2_route_table_modified_or_deleted
    (
        "e7cd5982-17c8-4959-874c-633acde7d426",
        &["123837392027", "bert-jan"],
        &[
            "3118e796-ecfc-46f7-9129-d9df81ec75b6",
            "42c3428c-7389-42d1-9365-fcf6e3695459",
            "985f7c2f-a6ee-4377-829e-f076b0004312",
            "b98d9828-bd67-4953-b153-e211dbb8424a",
        ],
    ),
    // credential_access_iam_long_term_access_key_first_seen_from_source_ip
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAIOSFODNN7EXAMPLE", "203.0.113.11"],
        &["4d293154-a15b-4c33-9e0a-ff5eeEXAMPLE"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAIOSFODNN7EXAMPLE", "203.0.113.64"],
        &["7116c6a1-EXAMPLE"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIATFQR7NSCUXC3DDDP", "10.248.16.43"],
        &["875240ac-e821-4fc6-a311-8c352a1d20f5"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIATFQZ7NSC8Q4X21BJ", "10.248.16.43"],
        &["44a42357-fa38-4c9c-a58c-709254a857f7"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIATFQZ7NSC8Q4X21BJ", "10.107.112.14"],
        &["fbe4ef2e-163b-4b39-9628-db355ab187af"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIATFQR7NSC8Q4X20BJ", "192.168.10.20"],
        &["f8e608fd-8465-48e2-b65d-0ad849244ead"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAWOGXN38MFN92ING5", "200.249.253.51"],
        &[
            "d769ddfd-2cda-4cfa-b33f-05d3b886921d",
            "fd179e25-9f1a-406c-8d7d-62f9d4938ef6",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAUBN5AMJF3I0EG996", "211.219.255.238"],
        &["da929d96-8e20-475c-a810-973addd64769"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIALK3Q0HKBKZJ2XBYP", "88.223.251.255"],
        &[
            "bddee0fb-2541-430d-aad5-b1fdd5d419f1",
            "cdc49957-9518-4ab3-a49e-b5a7c17903e6",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIA1JMTHE9ZMZMWG0MG", "253.201.144.253"],
        &[
            "0451b1de-e314-437f-a18d-827565e02bc9",
            "99207de2-f8ea-4160-bbe8-22cb14da3a26",
            "d92519e6-b907-4d3a-abb4-d63c9feaee52",
            "e20f1d5b-f2fa-470f-8d33-8aa43ddb6a23",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIA2I0BSXU5LNRWIN0K", "221.254.191.250"],
        &["c2a89408-340a-42f0-8ace-75d9f5769393"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAGGWFBBHBE7D3M9WI", "86.245.153.234"],
        &["10163ed2-2253-469d-a5ee-cbc6651f8934"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIA5Q8Z0GHOBYSEN9D6", "206.90.1.223"],
        &["ded2f5af-f3a5-46d2-a170-a23206a32c36"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAZI86ACIZ2J9CV86Z", "251.228.255.218"],
        &[
            "bfdbd679-9ac4-41e0-84f6-2be3ac12d3e5",
            "d373b5dd-6a82-439d-bdcf-4e6c7c7a9292",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIA4HNRH6OJUWNZ893Z", "254.222.242.236"],
        &["a29037ea-ed15-4025-9a54-ff70f11ca95c"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAXW7UJ577KFYIAHIM", "253.243.215.253"],
        &["9fd68588-ecbf-4528-a345-199fa6bb0821"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIA40XZ2OQU8R4QKTAC", "253.19.58.252"],
        &["1f00bcfa-e050-4c2e-b99b-768ebe3a3dd3"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAYLJU0B35TFSNKCS2", "253.76.43.253"],
        &["6897ff63-d738-445c-9e86-43e5b1f8e12f"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAIYTVC64GTXUFCS2X", "204.10.215.184"],
        &["fef2bf02-bbea-4d0f-a91c-e6ccfe3fba46"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAGM9ZC9KUL0AYEVUM", "246.227.146.251"],
        &[
            "0968cbec-f8df-43f3-94ba-b451aad083ed",
            "1214f520-2eaf-4438-92ab-304bcf115296",
            "803d3bd8-44cb-4284-a4a9-cdfde3b00570",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIA0W5KI69TY8X86BGT", "209.209.254.254"],
        &[
            "39480357-0a1d-4531-a3f2-71be4c041c25",
            "d2905ac3-9898-433f-b10d-9302abe4e208",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAE18PGYHCY2CYMTFK", "253.234.5.234"],
        &[
            "d3906a7d-604b-407f-acb6-fc425742821e",
            "e544d47e-6d75-45cf-a8a9-7e90d5f7d38d",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAYALJGCQ7J893JO5I", "151.236.251.251"],
        &["b67a9bba-d9da-4980-bf74-baed881b117d"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAKHYV6FI4F4CJQMDV", "253.8.50.132"],
        &["4672b74f-2466-4784-b3fb-5b4db904a995"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIA3SBEM4QSKES6Z5F9", "221.252.237.0"],
        &[
            "66e5f252-e092-4ad0-9a33-a03595e05aca",
            "aebbe7b5-7cfb-4b00-a30c-48078fedffd8",
        ],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAY964QRZ7YSGWGVUH", "250.202.242.232"],
        &["e77574ca-5c4f-4d99-9f3d-67cbfd04aa99"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAAM80VXLJF8NPK4VC", "18.236.253.47"],
        &["57f3b958-1c3b-458a-b60f-52310b597f49"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIADVISM0T50G52IF0D", "252.5.222.230"],
        &["e3441619-0bf6-4818-bf18-391fb65ba98e"],
    ),
    (
        "9f8e3c5e-f72e-4e91-93f6-e98a4fae3e4f",
        &["AKIAV1MIS7NGMDMR83FC", "212.3.253.233"],
        &["a46a1a42-9ef1-48d4-9c61-507eb6d4019f"],
    ),
    // credential_access_aws_getpassword_for_ec2_instance
    (
        "8446517c-f789-11ee-8ad0-f661ea17fbce",
        &["arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role"],
        &[
            "00d955a7-4797-46c4-ba50-ed0c81867020",
            "2ec37c12-94b8-4df5-813b-98bca0fb0edb",
            "97178d6a-6cf7-49f9-b116-a189a06c3295",
            "ae9a706f-d8a4-4e50-9043-22b2a03f481c",
        ],
    ),
    (
        "8446517c-f789-11ee-8ad0-f661ea17fbce",
        &["arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role"],
        &[
            "52242c8d-7ef7-4165-90cd-621ebe835388",
            "a9da1fbd-464c-4b74-8c64-96eea2564978",
            "d2d44fa9-f50b-4877-8a52-9e3855029970",
            "f1e17321-830c-4761-854c-158258e915b6",
        ],
    ),
    // discovery_ec2_userdata_request_for_ec2_instance
    (
        "c1e79a70-fa6f-11ee-8bc8-f661ea17fbce",
        &["123837392027", "bert-jan", "i-0dbc91f429e48eeed"],
        &["8d919374-a95d-482e-9d3d-881be4bc638c"],
    ),
    (
        "c1e79a70-fa6f-11ee-8bc8-f661ea17fbce",
        &["123837392027", "bert-jan", "i-05c30218156bcc246"],
        &["00d9ea7a-80ac-4bce-9329-146c527a1dca"],
    ),
    // credential_access_retrieve_secure_string_parameters_via_ssm
    (
        "fd332492-0bc6-11ef-b5be-f661ea17fbcc",
        &["123837392027", "bert-jan"],
        &[
            "067268dd-f123-48f2-bfe1-9ae49de25e54",
            "1b6e78d5-a0fb-4b43-95fa-f166c9ab3130",
            "25812ee9-136d-47dc-8848-22b9ca8fd5b7",
            "660357dc-ce91-4eac-a294-350eaf984f38",
            "67abd71f-fa4a-4de8-b730-8fe404fb71ed",
            "736cbe1d-d978-4599-ba4c-a4d682b908b8",
            "9b1480da-72ef-44b0-8eef-90e0b0bb95eb",
            "c8c4cf22-3bc8-42da-8b48-73633d713062",
            "eae63ce9-a909-4ddf-aac0-35ed1e65bb54",
            "f219fdf3-ffa1-40b8-95da-31f52eb3af1f",
        ],
    ),
    (
        "fd332492-0bc6-11ef-b5be-f661ea17fbcc",
        &["933175858973", "christophe"],
        &[
            "7fbcfbae-35c6-4c93-88bf-741fe4c4ada3",
            "d487c732-d152-48b1-9897-90b3a037040d",
        ],
    ),
    // discovery_organization_discovery_by_rare_user
    (
        "444c8fad-874f-4f59-b0ea-cf26cea478bd",
        &["123837392027", "benjamin"],
        &["2bc34359-3da6-47f3-aa38-f53989696988"],
    ),
    // privilege_escalation_iam_update_assume_role_policy
    (
        "a60326d7-dca7-4fb7-93eb-1ca03a1febbd",
        &[
            "123837392027",
            "bert-jan",
            "stratus-red-team-backdoor-r-role",
        ],
        &["d96d75c7-e715-44ff-9735-9dc51afbd774"],
    ),
    (
        "a60326d7-dca7-4fb7-93eb-1ca03a1febbd",
        &[
            "751203476945",
            "christophe",
            "stratus-red-team-backdoor-r-role",
        ],
        &["62e290e2-ee95-4a7c-a9f8-db4ef462b12d"],
    ),
    // privilege_escalation_iam_customer_managed_policy_attached_to_role
    (
        "f6d07a70-9ad0-11ef-954f-f661ea17fbcd",
        &[
            "123837392027",
            "bert-jan",
            "stratus-red-team-ec2lui-role-pcccexdthk",
        ],
        &["1c2e56c5-73a3-47fc-b8c1-cb4656fb94d5"],
    ),
    (
        "f6d07a70-9ad0-11ef-954f-f661ea17fbcd",
        &[
            "123837392027",
            "bert-jan",
            "stratus-red-team-ec2lui-role-wuzemnoeqa",
        ],
        &["31ae5091-9ca8-4e1d-8ab9-80408d44560a"],
    ),
    // privilege_escalation_role_assumption_by_service
    (
        "93075852-b0f5-4b8b-89c3-a226efae5726",
        &[
            "ec2.amazonaws.com",
            "arn:aws:iam::123837392027:role/stratus-red-team-ec2-steal-credentials-role",
        ],
        &[
            "55e25aa9-7165-446e-aef6-815c7a79a961",
            "7a5ee168-7848-4cfa-8d3c-69f78ecb1806",
        ],
    ),
    (
        "93075852-b0f5-4b8b-89c3-a226efae5726",
        &[
            "ec2.amazonaws.com",
            "arn:aws:iam::123837392027:role/stratus-red-team-ec2-enumerate-role",
        ],
        &[
            "2e59bbc2-ff35-43a5-835a-ba9239af22b1",
            "f9df8b1f-d001-4885-8cff-1bd02d27b056",
        ],
    ),
    (
        "93075852-b0f5-4b8b-89c3-a226efae5726",
        &[
            "rds.amazonaws.com",
            "arn:aws:iam::123837392027:role/aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS",
        ],
        &["fc7df72b-2505-4ed9-9f06-384b94f6e7a2"],
    ),
    (
        "93075852-b0f5-4b8b-89c3-a226efae5726",
        &[
            "lambda.amazonaws.com",
            "arn:aws:iam::123837392027:role/stratus-red-team-backdoor-f-lambda",
        ],
        &["ce4cf27b-50d0-4e75-9caa-e3741468240d"],
    ),
    (
        "93075852-b0f5-4b8b-89c3-a226efae5726",
        &[
            "lambda.amazonaws.com",
            "arn:aws:iam::123837392027:role/stratus-red-team-olc-lambda-xhfgzaowxc",
        ],
        &["6202111c-efb2-4599-85cf-0096f6b752e4"],
    ),
    // privilege_escalation_role_assumption_by_user
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::123837392027:user/bert-jan",
            "arn:aws:iam::123837392027:role/stratus-red-team-ec2-get-password-data-role",
        ],
        &[
            "4bd2a6f6-dddc-49e6-ba7d-08f73e809e64",
            "bbe86c7c-5981-4ac8-ad20-9248612b16c1",
        ],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::123837392027:user/bert-jan",
            "arn:aws:iam::123837392027:role/stratus-red-team-leave-org-role",
        ],
        &[
            "7c53cae3-f037-4394-8ad9-086f099efa7d",
            "c24de5b7-4166-4f8d-870f-038ca2e8ca87",
        ],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::123837392027:user/bert-jan",
            "arn:aws:iam::123837392027:role/stratus-red-team-get-usr-data-role",
        ],
        &[
            "9182290d-3afa-407b-8628-3130627af412",
            "fa383ccf-a2a6-4a57-8537-5ccfc1499268",
        ],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::123837392027:user/bert-jan",
            "arn:aws:iam::123837392027:role/stratus-red-team-ec2lui-role-pcccexdthk",
        ],
        &[
            "530ce88b-5eb3-463b-b846-3ffeb5671560",
            "dcce42ae-a4f1-45ca-8944-9f70843ca957",
        ],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::123837392027:user/bert-jan",
            "arn:aws:iam::123837392027:role/stratus-red-team-ec2lui-role-wuzemnoeqa",
        ],
        &[
            "13da6c81-90fd-4e56-9ac3-269bd9a8ea96",
            "4e848b99-9590-4e6f-9e10-78439ffd51c2",
        ],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::457448411975:user/christophe",
            "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role",
        ],
        &[
            "d769ddfd-2cda-4cfa-b33f-05d3b886921d",
            "fd179e25-9f1a-406c-8d7d-62f9d4938ef6",
        ],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::321848314756:user/christophe",
            "arn:aws:iam::321848314756:role/stratus-red-team-get-usr-data-role",
        ],
        &[
            "cf589cd4-9633-4cc6-9b5c-c74f5a735fa5",
            "eebae605-3664-4560-a248-17d33f9ef6ef",
        ],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::900138736586:user/christophe",
            "arn:aws:iam::900138736586:role/stratus-red-team-ec2lui-role-idtzskbvtd",
        ],
        &["9a6353be-6cb8-4a0c-ab85-a46dbd3a2b71"],
    ),
    (
        "288a198e-9b9b-11ef-a0a8-f661ea17fbcd",
        &[
            "arn:aws:iam::307578594326:user/christophe",
            "arn:aws:iam::307578594326:role/stratus-red-team-leave-org-role",
        ],
        &["e3441619-0bf6-4818-bf18-391fb65ba98e"],
    ),
];
const SECRETS_THRESHOLD_ALERTS: &[(&str, u64, u64, &str, &str)] = &[
    (
        "AIDA45XCCHPPLELFTIIM",
        20,
        20,
        "2024-07-31T12:36:48.000Z",
        "2024-07-31T12:36:52.000Z",
    ),
    (
        "AIDATFQR7NSC5AU2ZV3IE",
        40,
        40,
        "2023-07-10T11:57:50.000Z",
        "2023-07-10T11:57:54.000Z",
    ),
    (
        "AIDATFQR7NSC5AU2ZV3IE",
        20,
        20,
        "2023-07-10T12:07:57.000Z",
        "2023-07-10T12:07:57.000Z",
    ),
];

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

    // Without --indicators the rule is accounted as unsupported, with the reason: its
    // category in the summary, the exact reason under -v.
    let (code, alerts, stderr) = hunt(&["-r", rules.to_str().unwrap()], &inputs);
    assert_eq!(code, 2, "no rule can run: {stderr}");
    assert!(alerts.is_empty());
    assert!(
        stderr.contains("1 unsupported: needs --indicators (threat_match)"),
        "{stderr}"
    );
    let (code, _, stderr) = hunt(&["-v", "-r", rules.to_str().unwrap()], &inputs);
    assert_eq!(code, 2, "no rule can run: {stderr}");
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

/// The `-vv` line of `name` in the rule cost report: (candidates, matches, alerts, state).
fn cost_line(stderr: &str, name: &str) -> (u64, u64, u64, String) {
    let line = stderr
        .lines()
        .find(|l| l.ends_with(&format!(" {name}")) && l.contains('%'))
        .unwrap_or_else(|| panic!("no cost line for {name}:\n{stderr}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    let n = |i: usize| {
        cols[i]
            .parse::<u64>()
            .unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    // time_ms, share, finish_ms, candidates, matches, alerts, state and name.
    let finish_ms: f64 = cols[2].parse().unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(finish_ms >= 0.0, "{line}");
    (n(3), n(4), n(5), cols[6..].join(" "))
}

/// `hunt -vv` ends with a per-rule cost report (issue 15): each rule run, with the records that
/// reached its exact test, the events it matched, its alerts and, for aggregating rules, its
/// state; without `-vv` there is none.
#[test]
fn verbose_cost_report_names_each_rule_with_its_counts() {
    let new_terms = fixture("rules/new_terms_user_ip.toml");
    let threshold = fixture("rules/threshold_console_login.toml");
    let rules = [
        "-r",
        new_terms.to_str().unwrap(),
        "-r",
        threshold.to_str().unwrap(),
    ];
    let inputs = [fixture("new_terms.jsonl"), fixture("threshold.jsonl")];
    let (code, alerts, stderr) = hunt(&[&rules[..], &["-vv"]].concat(), &inputs);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("rule costs (2 rules;"), "{stderr}");
    // The six GetCallerIdentity calls of new_terms.jsonl all match, and four new terms alert
    // (see new_terms_combinations_against_history); threshold.jsonl adds one (thr-x-0: alice
    // from 203.0.113.1), a fifth. The four terms occur in 7 (term, execution interval) pairs:
    // (alice, 192.0.2.1) in four intervals, the others in one each.
    let (candidates, matches, n, state) = cost_line(&stderr, "Test new terms user and IP");
    assert_eq!((matches, n), (7, 5), "{stderr}");
    assert!(candidates >= matches, "{stderr}");
    assert!(state.starts_with("7 entries, ~"), "{state}");
    assert_eq!(of_rule(&alerts, NEW_TERMS).len(), 5);
    // The threshold rule: three groups over its value (threshold_groups_over_value_...).
    let name = "Test threshold by source IP";
    let (_, matches, n, state) = cost_line(&stderr, name);
    assert_eq!(n, of_rule(&alerts, THRESHOLD_IP).len() as u64);
    assert_eq!(n, 3);
    assert!(matches >= 3 * 3, "{stderr}");
    assert!(state.starts_with(&format!("{matches} entries")), "{state}");
    // Without -vv: no report.
    let (_, _, quiet) = hunt(&[&rules[..], &["-v"]].concat(), &inputs);
    assert!(!quiet.contains("rule costs"), "{quiet}");
}

/// A new_terms or threshold rule whose state reaches --max-aggregation-entries leaves the rest
/// out and says so, naming the rule, the limit and the flag; the default leaves these alone.
#[test]
fn aggregation_state_budget_warns_naming_rule_and_flag() {
    let new_terms = fixture("rules/new_terms_user_ip.toml");
    let (code, alerts, stderr) = hunt(
        &[
            "-r",
            new_terms.to_str().unwrap(),
            "-j",
            "1",
            "--max-aggregation-entries",
            "2",
        ],
        &[fixture("new_terms.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("rule Test new terms user and IP: limit max-aggregation-entries (2) reached: 4 term occurrence(s) were left out")
            && stderr.contains("--max-aggregation-entries N"),
        "{stderr}"
    );
    assert!(of_rule(&alerts, NEW_TERMS).len() < 4);
    let (_, alerts, stderr) = hunt(
        &["-r", new_terms.to_str().unwrap()],
        &[fixture("new_terms.jsonl")],
    );
    assert!(!stderr.contains("max-aggregation-entries"), "{stderr}");
    assert_eq!(of_rule(&alerts, NEW_TERMS).len(), 4);

    let threshold = fixture("rules/threshold_console_login.toml");
    let (code, _, stderr) = hunt(
        &[
            "-r",
            threshold.to_str().unwrap(),
            "--max-aggregation-entries",
            "5",
        ],
        &[fixture("threshold.jsonl")],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "rule Test threshold by source IP: limit max-aggregation-entries (5) reached:"
        ) && stderr.contains("raise it with --max-aggregation-entries N"),
        "{stderr}"
    );
}
