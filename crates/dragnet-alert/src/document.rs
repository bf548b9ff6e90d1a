//! Alerts in the shape Kibana's security detection engine writes them, so they can be bulk-indexed
//! into an Elastic alerts index and read by the Security app.
//!
//! Field names follow Kibana's `build_alert.ts` (`kibana.alert.*`, `kibana.alert.rule.*`,
//! `kibana.alert.original_event.*`, `event.kind: signal`), merged over the source event's ECS
//! fields. Differences, on purpose:
//! - `@timestamp` is the source event's time, not the wall-clock time of the run, so that a rerun
//!   over the same archive writes byte-identical alerts (Kibana stamps its execution time).
//! - `kibana.alert.rule.uuid` is the Kibana saved-object id when the rule came from a Kibana
//!   export, else the rule's `rule_id` (a TOML rule has no saved object).

use std::ops::ControlFlow;

use dragnet_event::values_at_path;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The data stream CloudTrail documents live in when Elastic's AWS integration ingests them; used
/// as the ancestor `_index` for raw CloudTrail records.
pub const CLOUDTRAIL_DATA_STREAM: &str = "logs-aws.cloudtrail-default";

/// The Kibana space alerts are attributed to.
pub const SPACE_ID: &str = "default";

/// What the alert builder needs to know about a rule.
#[derive(Clone, Debug, Default)]
pub struct RuleMeta {
    pub rule_id: String,
    pub name: String,
    pub rule_type: String,
    pub description: String,
    pub severity: String,
    pub risk_score: f64,
    pub tags: Vec<String>,
    /// `threat` as Kibana stores it (array of framework/tactic/technique objects).
    pub threat: Value,
    pub references: Vec<String>,
    pub author: Vec<String>,
    pub false_positives: Vec<String>,
    pub license: Option<String>,
    pub from: String,
    pub to: String,
    pub interval: String,
    pub index: Vec<String>,
    pub language: Option<String>,
    pub query: Option<String>,
    pub max_signals: Option<u64>,
    pub timestamp_override: Option<String>,
    pub building_block_type: Option<String>,
    pub version: Option<u64>,
    /// The Kibana saved-object id (`kibana.alert.rule.uuid`), when the rule came from a Kibana
    /// export; `rule_id` otherwise.
    pub uuid: Option<String>,
    /// The rule as Kibana's API would return it (`kibana.alert.rule.parameters`), if known.
    pub parameters: Option<Value>,
}

/// The source document an alert is built from.
pub struct SourceDoc<'a> {
    /// The ECS document (nested objects; dotted keys are tolerated).
    pub ecs: &'a Value,
    /// The document `_id` as Elastic would know it: CloudTrail's `eventID`, an exported `_id`,
    /// or a hash of the record when neither exists.
    pub id: &'a str,
    /// The index the document would live in.
    pub index: &'a str,
    /// The document's `@timestamp` (RFC 3339), if it has one.
    pub timestamp: Option<&'a str>,
}

/// Kibana's alert id for a (source document, rule) pair: SHA-256 hex of
/// `index ++ _id ++ _version ++ "<space>:<rule>"`, mirroring `generateId` in Kibana's
/// `signals/utils.ts` as used by `wrap_hits_factory.ts` for query rules. `_version` is `"1"`
/// (a document indexed once). Deterministic, so reruns never duplicate alerts.
pub fn alert_uuid(index: &str, doc_id: &str, rule_uuid: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(index.as_bytes());
    hasher.update(doc_id.as_bytes());
    hasher.update(b"1");
    hasher.update(SPACE_ID.as_bytes());
    hasher.update(b":");
    hasher.update(rule_uuid.as_bytes());
    hex(&hasher.finalize())
}

/// SHA-256 hex of arbitrary bytes (the document id of a record without an `eventID`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Every leaf value at dotted `path` in `doc`, as strings, whether the document stores it nested
/// (`{"user":{"name":…}}`), dotted (`{"user.name":…}`) or mixed. Arrays flatten; `null` is absent.
pub fn field_strings(doc: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let _ = values_at_path(doc, path, &mut |v| {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Null | Value::Object(_) => {}
            other => out.push(other.to_string()),
        }
        ControlFlow::Continue(())
    });
    out
}

/// Kibana's `kibana.alert.reason`, as `buildReasonMessageUtil` (security_solution
/// `rule_types/utils/reason_formatters.ts`) composes it: `"<category> event with process P,
/// parent process Q, file F, source S:port, destination D:port, by U on H created <severity>
/// alert <name>."`, each part present only when its field has a value (a lone `-` counts as
/// none), multi-valued fields joined by `, `, and "with" only when one of process, parent
/// process, file, source or destination is present.
pub fn reason_message(doc: &Value, severity: &str, rule_name: &str) -> String {
    let get = |path: &str| -> Option<String> {
        let values = field_strings(doc, path);
        if values.is_empty() || (values.len() == 1 && values[0] == "-") {
            None
        } else {
            Some(values.join(", "))
        }
    };
    let category = get("event.category");
    let process = get("process.name");
    let parent = get("process.parent.name");
    let file = get("file.name");
    let source = get("source.ip");
    let source_port = get("source.port");
    let destination = get("destination.ip");
    let destination_port = get("destination.port");
    let user = get("user.name");
    let host = get("host.name");
    let of_interest = [
        &process,
        &parent,
        &file,
        &source,
        &source_port,
        &destination,
        &destination_port,
    ]
    .iter()
    .any(|v| v.is_some());

    let mut s = String::new();
    if let Some(c) = &category {
        s.push_str(c);
        s.push(' ');
    }
    s.push_str("event");
    if of_interest {
        s.push_str(" with");
    }
    if let Some(v) = &process {
        s.push_str(&format!(" process {v},"));
    }
    if let Some(v) = &parent {
        s.push_str(&format!(" parent process {v},"));
    }
    if let Some(v) = &file {
        s.push_str(&format!(" file {v},"));
    }
    if let Some(v) = &source {
        s.push_str(&format!(" source {v}"));
    }
    if let Some(v) = &source_port {
        s.push_str(&format!(":{v},"));
    }
    if let Some(v) = &destination {
        s.push_str(&format!(" destination {v}"));
    }
    if let Some(v) = &destination_port {
        s.push_str(&format!(":{v},"));
    }
    if let Some(v) = &user {
        s.push_str(&format!(" by {v}"));
    }
    if let Some(v) = &host {
        s.push_str(&format!(" on {v}"));
    }
    s.push_str(&format!(" created {severity} alert {rule_name}."));
    s
}

/// Builds the alert document for `rule` firing on `source`. `explanation`, when given, is added
/// as `dragnet.explain` (not a Kibana field).
pub fn build_alert(rule: &RuleMeta, source: &SourceDoc<'_>, explanation: Option<Value>) -> Value {
    let mut doc = build_alert_fields(
        rule,
        source.ecs.clone(),
        source.id,
        source.index,
        source.timestamp,
        explanation,
    );
    doc.extend(rule_fields(rule));
    Value::Object(doc)
}

/// [`build_alert`] from an owned ECS document (not copied), without the `kibana.alert.rule.*`
/// fields every alert of the rule shares: [`RuleFields`] adds them (serialized once per rule).
pub fn build_alert_fields(
    rule: &RuleMeta,
    ecs: Value,
    id: &str,
    index: &str,
    timestamp: Option<&str>,
    explanation: Option<Value>,
) -> Map<String, Value> {
    let rule_uuid = rule.uuid.as_deref().unwrap_or(&rule.rule_id);
    let uuid = alert_uuid(index, id, rule_uuid);
    // Read from the source document before event.kind is replaced below.
    let reason = reason_message(&ecs, &rule.severity, &rule.name);
    let mut doc = match ecs {
        Value::Object(map) => map,
        _ => Map::new(),
    };

    // kibana.alert.original_event.*: the source's event.* leaves, before event.kind is replaced.
    let mut original_event = Map::new();
    flatten_into("", event_object(&doc), &mut original_event);
    for (key, value) in original_event {
        doc.insert(format!("kibana.alert.original_event.{key}"), value);
    }
    set_event_kind_signal(&mut doc);

    let timestamp = timestamp.map(str::to_string);
    if let Some(ts) = &timestamp {
        doc.insert("@timestamp".into(), Value::String(ts.clone()));
    }
    let mut put = |k: &str, v: Value| {
        doc.insert(k.to_string(), v);
    };
    put("kibana.space_ids", json!([SPACE_ID]));
    put("kibana.alert.uuid", json!(uuid));
    put("kibana.alert.status", json!("active"));
    put("kibana.alert.workflow_status", json!("open"));
    put("kibana.alert.workflow_tags", json!([]));
    put("kibana.alert.workflow_assignee_ids", json!([]));
    put("kibana.alert.depth", json!(1));
    put(
        "kibana.alert.ancestors",
        json!([{ "id": id, "type": "event", "index": index, "depth": 0 }]),
    );
    put("kibana.alert.original_time", json!(timestamp));
    put("kibana.alert.reason", json!(reason));
    put("kibana.alert.severity", json!(rule.severity));
    put("kibana.alert.risk_score", number(rule.risk_score));
    if let Some(bb) = &rule.building_block_type {
        put("kibana.alert.building_block_type", json!(bb));
    }
    if let Some(e) = explanation {
        put("dragnet.explain", e);
    }
    doc
}

/// The `kibana.alert.rule.*` fields: the rule's own, the same in every alert of it.
fn rule_fields(rule: &RuleMeta) -> Map<String, Value> {
    let rule_uuid = rule.uuid.as_deref().unwrap_or(&rule.rule_id);
    let mut doc = Map::new();
    let mut put = |k: &str, v: Value| {
        doc.insert(k.to_string(), v);
    };
    put("kibana.alert.rule.uuid", json!(rule_uuid));
    put("kibana.alert.rule.rule_id", json!(rule.rule_id));
    put("kibana.alert.rule.name", json!(rule.name));
    put("kibana.alert.rule.type", json!(rule.rule_type));
    put(
        "kibana.alert.rule.category",
        json!(rule_category(&rule.rule_type)),
    );
    put(
        "kibana.alert.rule.rule_type_id",
        json!(rule_type_id(&rule.rule_type)),
    );
    put("kibana.alert.rule.consumer", json!("siem"));
    put("kibana.alert.rule.producer", json!("siem"));
    put("kibana.alert.rule.enabled", json!(true));
    put("kibana.alert.rule.description", json!(rule.description));
    put("kibana.alert.rule.severity", json!(rule.severity));
    put("kibana.alert.rule.risk_score", number(rule.risk_score));
    put("kibana.alert.rule.tags", json!(rule.tags));
    put("kibana.alert.rule.threat", rule.threat.clone());
    put("kibana.alert.rule.references", json!(rule.references));
    put("kibana.alert.rule.author", json!(rule.author));
    put(
        "kibana.alert.rule.false_positives",
        json!(rule.false_positives),
    );
    if let Some(license) = &rule.license {
        put("kibana.alert.rule.license", json!(license));
    }
    put("kibana.alert.rule.from", json!(rule.from));
    put("kibana.alert.rule.to", json!(rule.to));
    put("kibana.alert.rule.interval", json!(rule.interval));
    put("kibana.alert.rule.indices", json!(rule.index));
    put(
        "kibana.alert.rule.max_signals",
        json!(rule.max_signals.unwrap_or(100)),
    );
    if let Some(ts) = &rule.timestamp_override {
        put("kibana.alert.rule.timestamp_override", json!(ts));
    }
    if let Some(bb) = &rule.building_block_type {
        put("kibana.alert.rule.building_block_type", json!(bb));
    }
    if let Some(v) = rule.version {
        put("kibana.alert.rule.version", json!(v));
    }
    put("kibana.alert.rule.execution.type", json!("manual"));
    if let Some(params) = &rule.parameters {
        put("kibana.alert.rule.parameters", params.clone());
    }
    doc
}

/// A rule's `kibana.alert.rule.*` fields, serialized once: they are most of an alert's bytes
/// (description, threat, parameters: about 8 of 11 KB for an AWS rule), the same in every alert
/// of the rule, and were copied, serialized and dropped again per alert. Only the text is kept
/// (the fields as values would hold several times its size per rule).
#[derive(Clone, Debug)]
pub struct RuleFields {
    /// The fields as compact JSON members (`"k":v,"k2":v2`) in key order.
    members: String,
    /// The first and last of their keys.
    first: String,
    last: String,
}

impl RuleFields {
    pub fn of(rule: &RuleMeta) -> RuleFields {
        let fields = rule_fields(rule);
        let mut members = Vec::new();
        for (key, value) in &fields {
            if !members.is_empty() {
                members.push(b',');
            }
            write_member(&mut members, key, value);
        }
        let key = |k: Option<&String>| k.cloned().unwrap_or_default();
        RuleFields {
            members: String::from_utf8(members).expect("serde_json writes UTF-8"),
            first: key(fields.keys().next()),
            last: key(fields.keys().next_back()),
        }
    }

    /// Whether `key` sorts among the rule's fields (from the first to the last, both included):
    /// a document holding such a key cannot take them as one run of members.
    pub fn interleaves(&self, key: &str) -> bool {
        !self.members.is_empty() && self.first.as_str() <= key && key <= self.last.as_str()
    }

    /// Adds `rule`'s fields (those this was made of) to `doc`, replacing what it holds under
    /// their keys (what [`build_alert`] does).
    pub fn insert_into(rule: &RuleMeta, doc: &mut Map<String, Value>) {
        doc.extend(rule_fields(rule));
    }

    /// The compact JSON of `doc` with the rule's fields added: byte for byte
    /// `serde_json::to_string` of the whole document (a sorted map: the rule's fields are one
    /// run of members, written from the text made once). `None` when a key of `doc` sorts
    /// among the rule's fields ([`RuleFields::interleaves`]): then [`RuleFields::insert_into`]
    /// and serialize the whole document.
    pub fn to_json(&self, doc: &Map<String, Value>) -> Option<String> {
        let mut out = Vec::with_capacity(self.members.len() + 4096);
        out.push(b'{');
        let mut written = false;
        let mut any = false;
        for (key, value) in doc {
            if self.interleaves(key) {
                return None;
            }
            if !written && key.as_str() > self.last.as_str() {
                self.push_members(&mut out, &mut any);
                written = true;
            }
            if any {
                out.push(b',');
            }
            write_member(&mut out, key, value);
            any = true;
        }
        if !written {
            self.push_members(&mut out, &mut any);
        }
        out.push(b'}');
        Some(String::from_utf8(out).expect("serde_json writes UTF-8"))
    }

    fn push_members(&self, out: &mut Vec<u8>, any: &mut bool) {
        if self.members.is_empty() {
            return;
        }
        if *any {
            out.push(b',');
        }
        out.extend_from_slice(self.members.as_bytes());
        *any = true;
    }
}

/// `"key":value` as serde_json's compact map serializer writes a member.
fn write_member(out: &mut Vec<u8>, key: &str, value: &Value) {
    serde_json::to_writer(&mut *out, key).expect("writing to a Vec cannot fail");
    out.push(b':');
    serde_json::to_writer(&mut *out, value).expect("a JSON value serializes");
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn rule_type_id(rule_type: &str) -> &'static str {
    match rule_type {
        "eql" => "siem.eqlRule",
        "esql" => "siem.esqlRule",
        "threshold" => "siem.thresholdRule",
        "new_terms" => "siem.newTermsRule",
        "threat_match" => "siem.indicatorRule",
        "machine_learning" => "siem.mlRule",
        "saved_query" => "siem.savedQueryRule",
        _ => "siem.queryRule",
    }
}

fn rule_category(rule_type: &str) -> &'static str {
    match rule_type {
        "eql" => "Event Correlation Rule",
        "esql" => "ES|QL Rule",
        "threshold" => "Threshold Rule",
        "new_terms" => "New Terms Rule",
        "threat_match" => "Indicator Match Rule",
        "machine_learning" => "Machine Learning Rule",
        "saved_query" => "Saved Query Rule",
        _ => "Custom Query Rule",
    }
}

/// The `event` object of a document (nested form), or its dotted `event.*` keys gathered.
fn event_object(doc: &Map<String, Value>) -> Value {
    let mut out = match doc.get("event") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in doc {
        if let Some(rest) = k.strip_prefix("event.") {
            out.insert(rest.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn flatten_into(prefix: &str, value: Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_into(&key, v, out);
            }
        }
        Value::Null => {}
        other if !prefix.is_empty() => {
            out.insert(prefix.to_string(), other);
        }
        _ => {}
    }
}

fn set_event_kind_signal(doc: &mut Map<String, Value>) {
    doc.remove("event.kind");
    match doc.get_mut("event") {
        Some(Value::Object(event)) => {
            event.insert("kind".into(), json!("signal"));
        }
        _ => {
            doc.insert("event".into(), json!({ "kind": "signal" }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_kibanas_sha256_of_index_id_version_and_rule() {
        // sha256("logs-aws.cloudtrail-default" + "e1" + "1" + "default:r1"), computed with
        // `printf %s 'logs-aws.cloudtrail-defaulte11default:r1' | sha256sum`.
        assert_eq!(
            alert_uuid("logs-aws.cloudtrail-default", "e1", "r1"),
            sha256_hex(b"logs-aws.cloudtrail-defaulte11default:r1")
        );
        assert_eq!(alert_uuid("i", "e1", "r1").len(), 64);
        assert_ne!(alert_uuid("i", "e1", "r1"), alert_uuid("i", "e2", "r1"));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn reason_follows_kibanas_template() {
        let doc = json!({
            "event": {"category": ["process"]},
            "source": {"ip": "203.0.113.7"},
            "user": {"name": "alice"}
        });
        assert_eq!(
            reason_message(&doc, "low", "AWS Execution via System Manager"),
            "process event with source 203.0.113.7 by alice created low alert AWS Execution via System Manager."
        );
        let bare = json!({"user.name": "-"});
        assert_eq!(
            reason_message(&bare, "medium", "R"),
            "event created medium alert R."
        );
        let full = json!({
            "process": {"name": "p", "parent": {"name": "q"}},
            "source": {"ip": "1.2.3.4", "port": 22},
            "destination": {"ip": ["5.6.7.8", "9.9.9.9"]},
            "host": {"name": "h"}
        });
        assert_eq!(
            reason_message(&full, "high", "R"),
            "event with process p, parent process q, source 1.2.3.4:22, destination 5.6.7.8, 9.9.9.9 on h created high alert R."
        );
    }

    fn full_rule() -> RuleMeta {
        RuleMeta {
            rule_id: "r1".into(),
            name: "Rule \"quoted\" \u{e9}".into(),
            rule_type: "new_terms".into(),
            description: "line\nbreak".into(),
            severity: "low".into(),
            risk_score: 21.5,
            tags: vec!["Domain: Cloud".into()],
            threat: json!([{"framework": "MITRE ATT&CK", "tactic": {"id": "TA0001"}}]),
            license: Some("Elastic License v2".into()),
            timestamp_override: Some("event.ingested".into()),
            building_block_type: Some("default".into()),
            version: Some(3),
            parameters: Some(json!({"query": "event.action: *", "new_terms_fields": ["a"]})),
            ..Default::default()
        }
    }

    /// The alert JSON written from a rule's fields serialized once is `serde_json::to_string`
    /// of the whole document, wherever the document's keys sort around the rule's; and a key
    /// among them is refused (the caller then serializes the whole document).
    #[test]
    fn rule_fields_written_once_give_the_bytes_of_the_whole_document() {
        let rule = full_rule();
        let fields = RuleFields::of(&rule);
        let ecs = json!({
            "@timestamp": "2024-01-02T03:04:05.000Z",
            "event": {"action": "SendCommand", "kind": "event"},
            "user": {"name": "alice"},
            "zz": [1, 2.5, null, "\u{1b}"]
        });
        let sources = [
            ecs.clone(),
            json!({}),
            json!("not an object"),
            json!({"kibana.alert.rule": 1, "kibana.alert.rule.zzzz": 2, "a": 1}),
            json!({"kibana.alert.rulf": true}),
        ];
        for (n, ecs) in sources.into_iter().enumerate() {
            for explanation in [None, Some(json!({"why": n}))] {
                let src = SourceDoc {
                    ecs: &ecs,
                    id: "e1",
                    index: CLOUDTRAIL_DATA_STREAM,
                    timestamp: Some("2024-01-02T03:04:05.000Z"),
                };
                let whole = build_alert(&rule, &src, explanation.clone());
                let doc = build_alert_fields(
                    &rule,
                    ecs.clone(),
                    "e1",
                    CLOUDTRAIL_DATA_STREAM,
                    Some("2024-01-02T03:04:05.000Z"),
                    explanation,
                );
                assert!(!doc.contains_key("kibana.alert.rule.name"));
                assert_eq!(
                    fields.to_json(&doc).as_deref(),
                    Some(serde_json::to_string(&whole).unwrap().as_str()),
                    "source {n}"
                );
            }
        }
        // A source key among the rule's: refused; inserting and serializing the whole gives
        // build_alert's document (the rule's value wins).
        let clash = json!({"kibana.alert.rule.name": "from the source", "kibana.alert.rule.q": 1});
        let src = SourceDoc {
            ecs: &clash,
            id: "e1",
            index: CLOUDTRAIL_DATA_STREAM,
            timestamp: None,
        };
        let mut doc = build_alert_fields(
            &rule,
            clash.clone(),
            "e1",
            CLOUDTRAIL_DATA_STREAM,
            None,
            None,
        );
        assert!(fields.interleaves("kibana.alert.rule.name"));
        assert!(fields.interleaves("kibana.alert.rule.q"));
        assert!(!fields.interleaves("kibana.alert.rule"));
        assert_eq!(fields.to_json(&doc), None);
        RuleFields::insert_into(&rule, &mut doc);
        assert_eq!(Value::Object(doc), build_alert(&rule, &src, None));
        // A rule with nothing but the fields every rule has.
        let bare = RuleMeta::default();
        let doc = build_alert_fields(&bare, json!({}), "e", "i", None, None);
        let src = SourceDoc {
            ecs: &json!({}),
            id: "e",
            index: "i",
            timestamp: None,
        };
        assert_eq!(
            RuleFields::of(&bare).to_json(&doc).unwrap(),
            serde_json::to_string(&build_alert(&bare, &src, None)).unwrap()
        );
    }

    #[test]
    fn alert_carries_kibana_fields_and_original_event() {
        let ecs = json!({
            "@timestamp": "2024-01-02T03:04:05.000Z",
            "event": {"action": "SendCommand", "kind": "event", "outcome": "success"},
            "user": {"name": "alice"}
        });
        let rule = RuleMeta {
            rule_id: "r1".into(),
            name: "Rule".into(),
            rule_type: "query".into(),
            severity: "low".into(),
            risk_score: 21.0,
            ..Default::default()
        };
        let src = SourceDoc {
            ecs: &ecs,
            id: "e1",
            index: CLOUDTRAIL_DATA_STREAM,
            timestamp: Some("2024-01-02T03:04:05.000Z"),
        };
        let alert = build_alert(&rule, &src, None);
        assert_eq!(alert["event"]["kind"], "signal");
        assert_eq!(alert["kibana.alert.original_event.kind"], "event");
        assert_eq!(alert["kibana.alert.original_event.action"], "SendCommand");
        assert_eq!(alert["kibana.alert.rule.rule_id"], "r1");
        assert_eq!(alert["kibana.alert.risk_score"], 21);
        assert_eq!(alert["kibana.alert.workflow_status"], "open");
        assert_eq!(alert["kibana.alert.ancestors"][0]["id"], "e1");
        assert_eq!(
            alert["kibana.alert.uuid"],
            alert_uuid(CLOUDTRAIL_DATA_STREAM, "e1", "r1")
        );
        assert_eq!(
            alert["kibana.alert.original_time"],
            "2024-01-02T03:04:05.000Z"
        );
        assert_eq!(
            alert["kibana.alert.reason"],
            "event by alice created low alert Rule."
        );
    }
}
