//! End-to-end tests of ES|QL rules in `dragnet hunt`: the real binary runs two of Elastic's AWS
//! ES|QL rules, unmodified from `../shared/corpus`, over hand-written CloudTrail.
//!
//! Kibana's ES|QL rule semantics (https://www.elastic.co/docs/solutions/security/detect-and-alert/esql):
//! the query runs every `interval` over `[now - lookback, now]`; each result row is an alert;
//! aggregating queries "might create duplicate alerts" when executions overlap; a
//! non-aggregating query with `METADATA _id` alerts once per source event, and its alert
//! carries the source event's fields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

const QUOTAS: &str =
    "rules/integrations/aws/discovery_servicequotas_multi_region_service_quota_requests.toml";
const QUOTAS_ID: &str = "19be0164-63d2-11ef-8e38-f661ea17fbce";
const ACCESS_KEYS: &str =
    "rules/integrations/aws/persistence_iam_user_created_access_keys_for_another_user.toml";
const ACCESS_KEYS_ID: &str = "696015ef-718e-40ff-ac4a-cc2ba88dbeeb";

/// The corpus rule, or `None` (a skip notice; a failure under `CI=true`) without `../shared`.
fn corpus_rule(rel: &str) -> Option<PathBuf> {
    dragnet_testdata::shared("corpus/detection-rules").map(|root| root.join(rel))
}

const REGIONS: [&str; 11] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
];

fn quota_call(n: usize, time: &str, region: &str, user: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::111122223333:user/{user}"),
            "accountId": "111122223333",
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": user
        },
        "eventTime": time,
        "eventSource": "servicequotas.amazonaws.com",
        "eventName": "GetServiceQuota",
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"serviceCode": "ec2", "quotaCode": "L-1216C47A"},
        "responseElements": null,
        "requestID": format!("req-{n}"),
        "eventID": format!("5e0a0000-0000-4000-8000-{n:012}"),
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

fn create_access_key(id: &str, time: &str, caller: &str, target: Option<&str>) -> Value {
    let mut params = serde_json::Map::new();
    if let Some(t) = target {
        params.insert("userName".into(), json!(t));
    }
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::111122223333:user/{caller}"),
            "accountId": "111122223333",
            "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "userName": caller
        },
        "eventTime": time,
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.9",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": Value::Object(params),
        "responseElements": {"accessKey": {"accessKeyId": "AKIANEWKEYEXAMPLE", "status": "Active", "userName": target.unwrap_or(caller)}},
        "requestID": format!("req-{id}"),
        "eventID": id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

fn write_jsonl(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// A field of an alert document, written flat (`"event.id"`) or nested (`{"event": {"id"}}`).
fn field<'a>(doc: &'a Value, path: &str) -> &'a Value {
    if let Some(v) = doc.get(path) {
        return v;
    }
    let mut at = doc;
    for part in path.split('.') {
        at = &at[part];
    }
    at
}

fn hunt(rule: &Path, input: &Path) -> (i32, Vec<Value>, String) {
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--format", "ndjson", "-r"])
        .arg(rule)
        .arg(input)
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

/// The rule fires when one user asks for the EC2 vCPU quota in at least 10 regions, at least 10
/// times, within one 30-second bucket of one execution (interval 5m, `from = now-6m`).
#[test]
fn aggregating_rule_alerts_per_execution_when_the_threshold_is_crossed() {
    let Some(rule) = corpus_rule(QUOTAS) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut records = Vec::new();
    let mut n = 0;
    let mut burst = |records: &mut Vec<Value>, minute: &str, regions: usize, user: &str| {
        for (i, region) in REGIONS.iter().take(regions).enumerate() {
            n += 1;
            records.push(quota_call(
                n,
                &format!("2026-01-05T{minute}:{:02}Z", 31 + i),
                region,
                user,
            ));
        }
    };
    // 10:02:31-40, alice, 10 regions: seen by the 10:05 execution only ([09:59, 10:05]).
    burst(&mut records, "10:02", 10, "alice");
    // 10:12:31-39, bob, 9 regions: under the threshold, no alert.
    burst(&mut records, "10:12", 9, "bob");
    // 10:24:31-41, carol, 11 regions inside [10:24:00, 10:25:00]: the overlap of the 10:25 and
    // 10:30 executions ([10:19, 10:25] and [10:24, 10:30]): both alert (Kibana's documented
    // duplicate for aggregating queries).
    burst(&mut records, "10:24", 11, "carol");
    let input = write_jsonl(dir.path(), "quotas.jsonl", &records);
    let (code, alerts, stderr) = hunt(&rule, &input);
    assert_eq!(code, 0, "{stderr}");
    let got: Vec<(String, String, u64, u64, String)> = alerts
        .iter()
        .filter(|a| a["kibana.alert.rule.rule_id"] == QUOTAS_ID)
        .map(|a| {
            assert_eq!(a["kibana.alert.rule.type"], "esql", "{a}");
            (
                a["@timestamp"].as_str().unwrap().to_string(),
                field(a, "aws.cloudtrail.user_identity.arn")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                a["Esql.cloud_region_count_distinct"]
                    .as_u64()
                    .unwrap_or_default(),
                a["Esql.event_count"].as_u64().unwrap_or_default(),
                a["Esql.time_window_date_trunc"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "2026-01-05T10:05:00.000Z".into(),
                "arn:aws:iam::111122223333:user/alice".into(),
                10,
                10,
                "2026-01-05T10:02:30.000Z".into()
            ),
            (
                "2026-01-05T10:25:00.000Z".into(),
                "arn:aws:iam::111122223333:user/carol".into(),
                11,
                11,
                "2026-01-05T10:24:30.000Z".into()
            ),
            (
                "2026-01-05T10:30:00.000Z".into(),
                "arn:aws:iam::111122223333:user/carol".into(),
                11,
                11,
                "2026-01-05T10:24:30.000Z".into()
            ),
        ],
        "{stderr}"
    );
    // The row's VALUES columns come along.
    let first = alerts
        .iter()
        .find(|a| a["kibana.alert.rule.rule_id"] == QUOTAS_ID)
        .unwrap();
    assert_eq!(
        first["Esql.cloud_region_values"].as_array().map(Vec::len),
        Some(10)
    );
}

/// The rule alerts on CreateAccessKey for another user (`user.name != user.target.name`); a
/// call without a target compares null and is dropped; an event seen by two overlapping
/// executions alerts once (`METADATA _id`).
#[test]
fn non_aggregating_rule_alerts_once_per_event_with_its_source_fields() {
    let Some(rule) = corpus_rule(ACCESS_KEYS) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let records = vec![
        // alice creates a key for bob at 10:04:30: inside both the 10:05 and 10:10 windows.
        create_access_key(
            "ak000000-0000-4000-8000-000000000001",
            "2026-01-05T10:04:30Z",
            "alice",
            Some("bob"),
        ),
        // alice creates a key for herself (named): same user, no alert.
        create_access_key(
            "ak000000-0000-4000-8000-000000000002",
            "2026-01-05T10:06:00Z",
            "alice",
            Some("alice"),
        ),
        // alice creates a key without naming a user: user.target.name is null, no alert.
        create_access_key(
            "ak000000-0000-4000-8000-000000000003",
            "2026-01-05T10:07:00Z",
            "alice",
            None,
        ),
        // dave creates a key for erin.
        create_access_key(
            "ak000000-0000-4000-8000-000000000004",
            "2026-01-05T11:00:01Z",
            "dave",
            Some("erin"),
        ),
    ];
    let input = write_jsonl(dir.path(), "keys.jsonl", &records);
    let (code, alerts, stderr) = hunt(&rule, &input);
    assert_eq!(code, 0, "{stderr}");
    let got: BTreeMap<String, (String, String, String)> = alerts
        .iter()
        .filter(|a| a["kibana.alert.rule.rule_id"] == ACCESS_KEYS_ID)
        .map(|a| {
            (
                field(a, "event.id")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                (
                    field(a, "@timestamp")
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    field(a, "user.name")
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    field(a, "user.target.name")
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        })
        .collect();
    let want: BTreeMap<String, (String, String, String)> = [
        (
            "ak000000-0000-4000-8000-000000000001",
            ("2026-01-05T10:04:30.000Z", "alice", "bob"),
        ),
        (
            "ak000000-0000-4000-8000-000000000004",
            ("2026-01-05T11:00:01.000Z", "dave", "erin"),
        ),
    ]
    .into_iter()
    .map(|(id, (t, u, v))| {
        (
            id.to_string(),
            (t.to_string(), u.to_string(), v.to_string()),
        )
    })
    .collect();
    assert_eq!(got, want, "{stderr}");
    assert_eq!(alerts.len(), 2, "one alert per event: {alerts:?}");
    // The source event's own fields are in the alert (not only the query's columns).
    let a = &alerts[0];
    assert_eq!(field(a, "event.provider"), "iam.amazonaws.com");
    assert_eq!(field(a, "cloud.region"), "us-east-1");
}

/// Every ES|QL rule of the AWS integration folders (`aws`, `aws_bedrock`, …), unmodified, over
/// the real CloudTrail datasets, with GeoIP and ASN databases written by the test (two networks
/// each, together covering every IPv4 address) so the rules reading `source.geo.*` /
/// `source.as.*` run too: each CloudTrail rule runs, the others (Bedrock invocation logs,
/// Kibana's alerts index) are not applicable, none is unsupported and nothing fails.
#[test]
fn every_aws_esql_rule_runs_over_the_datasets() {
    use dragnet_testdata::mmdb::{D, city, write_mmdb};
    use std::net::Ipv4Addr;
    let integrations =
        dragnet_testdata::require_shared!("corpus/detection-rules/rules/integrations");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let mut copied = 0;
    for folder in std::fs::read_dir(&integrations).unwrap() {
        let folder = folder.unwrap().path();
        if !folder
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("aws"))
        {
            continue;
        }
        for f in std::fs::read_dir(&folder).unwrap() {
            let f = f.unwrap().path();
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if text.contains("language = \"esql\"") {
                std::fs::copy(&f, rules.join(f.file_name().unwrap())).unwrap();
                copied += 1;
            }
        }
    }
    assert!(copied >= 23, "only {copied} AWS ES|QL rules found");
    let (city_db, asn_db) = (dir.path().join("city.mmdb"), dir.path().join("asn.mmdb"));
    let half = |first: u8| (Ipv4Addr::new(first, 0, 0, 0), 1);
    write_mmdb(
        &city_db,
        "GeoIP2-City",
        vec![
            (
                half(0),
                city(
                    "Lyon",
                    "Europe",
                    "FR",
                    "France",
                    45.76,
                    4.83,
                    "ARA",
                    "Auvergne-Rhône-Alpes",
                ),
            ),
            (
                half(128),
                city("Osaka", "Asia", "JP", "Japan", 34.69, 135.5, "27", "Osaka"),
            ),
        ],
    );
    let asn = |number: u32, organization: &'static str| {
        D::Map(vec![
            ("autonomous_system_number", D::U32(number)),
            ("autonomous_system_organization", D::Str(organization)),
        ])
    };
    write_mmdb(
        &asn_db,
        "GeoLite2-ASN",
        vec![
            (half(0), asn(64500, "Example Net A")),
            (half(128), asn(64501, "Example Net B")),
        ],
    );
    let out = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["hunt", "--format", "json", "--geoip-db"])
        .arg(&city_db)
        .arg("--asn-db")
        .arg(&asn_db)
        .arg("-r")
        .arg(&rules)
        .arg(&datasets)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses = doc["rules"].as_array().unwrap();
    assert_eq!(statuses.len(), copied, "{stderr}");
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for a in doc["alerts"].as_array().unwrap() {
        *fired
            .entry(a["kibana.alert.rule.name"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let mut run = 0;
    for r in statuses {
        let name = r["name"].as_str().unwrap();
        match r["status"].as_str().unwrap() {
            "run" => run += 1,
            // FROM another integration's data stream, or Kibana's alerts index.
            "not_applicable" => assert!(
                r["reason"]
                    .as_str()
                    .is_some_and(|s| s.contains("cannot cover CloudTrail")),
                "{r:#}"
            ),
            _ => panic!("{name} did not run: {r:#}"),
        }
        eprintln!(
            "{name}: {} ({} alerts)",
            r["status"],
            fired.get(name).copied().unwrap_or(0)
        );
    }
    // The `aws` folder's 23 but the alerts-index one (conventions: "Rule sets"), and more
    // CloudTrail ones from the other AWS folders.
    assert!(run >= 22, "{run} of {copied} ran");
    assert!(
        !stderr.contains("error"),
        "a rule reported an error:\n{stderr}"
    );
    assert!(!stderr.contains("failed"), "a rule failed:\n{stderr}");
}
