//! [`Alert`]: one alert of a run as a typed structure, with its Kibana document beside it.
//!
//! The document (see [`crate::document`]) is what json/ndjson output and an alerts index get,
//! byte for byte. Everything else a consumer needs per alert — the sort key, the group it
//! belongs to, whether it is a building block, the analyst's columns — is read from that
//! document once, when the alert is made, so tables, summaries and limits never parse it back.

use jiff::Timestamp;
use serde_json::Value;

use crate::document::field_strings;

/// Where an alert's source record was in the input: (source, batch, record). Orders the
/// deliveries of one event (the first one wins) and keeps output independent of threads.
pub type InputOrder = (usize, u64, usize);

/// The EQL sequence or sample an alert belongs to (`kibana.alert.group.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertGroup {
    /// `kibana.alert.group.id`.
    pub id: String,
    /// `kibana.alert.group.index`: the position of this event in its sequence, for the
    /// per-event alerts that follow the group's shell alert; `None` for the shell itself.
    pub index: Option<u64>,
}

/// The values an analyst triages by, read from the alert document once. Empty when the
/// document has no such value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertSummary {
    /// Who acted: `user.name`; else the identity's ARN; else, for the `Root` and `AWSService`
    /// identity types, the type; else the terms a threshold or new_terms alert is about.
    pub actor: String,
    /// `cloud.account.id`.
    pub account: String,
    /// `cloud.region`.
    pub region: String,
    /// `source.ip`, else `source.address` (a service name such as `ec2.amazonaws.com`).
    pub source_ip: String,
    /// `event.action`.
    pub action: String,
    /// The resource acted on: the first resource ARN, else the request's main target.
    pub target: String,
    /// `user_agent.original`.
    pub user_agent: String,
    /// `kibana.alert.reason`.
    pub reason: String,
    /// `kibana.alert.severity`: the rule's, or what its severity mapping made of it.
    pub severity: String,
    /// `kibana.alert.risk_score`, as the document writes the number.
    pub risk_score: String,
}

impl AlertSummary {
    /// Every field, in one fixed order: what [`Alert::footprint`] counts and what
    /// [`Alert::encode`] writes.
    fn texts(&self) -> [&String; 10] {
        [
            &self.actor,
            &self.account,
            &self.region,
            &self.source_ip,
            &self.action,
            &self.target,
            &self.user_agent,
            &self.reason,
            &self.severity,
            &self.risk_score,
        ]
    }

    /// [`AlertSummary::texts`], to fill in the same order ([`Alert::decode`]).
    fn texts_mut(&mut self) -> [&mut String; 10] {
        [
            &mut self.actor,
            &mut self.account,
            &mut self.region,
            &mut self.source_ip,
            &mut self.action,
            &mut self.target,
            &mut self.user_agent,
            &mut self.reason,
            &mut self.severity,
            &mut self.risk_score,
        ]
    }
}

/// One alert of a run.
#[derive(Clone, Debug)]
pub struct Alert {
    /// The rule's index in the run's rule reports.
    pub rule: usize,
    /// `kibana.alert.uuid`: deterministic, so reruns never duplicate.
    pub uuid: String,
    /// The source event's `@timestamp` as written in the document.
    pub timestamp: String,
    /// The source event's id (CloudTrail `eventID`).
    pub event_id: String,
    /// The sequence or sample this alert belongs to.
    pub group: Option<AlertGroup>,
    /// `kibana.alert.building_block_type` is set: Kibana's alerts table hides it by default.
    /// True for every alert of a rule with `building_block_type`, and for the per-event
    /// alerts of an EQL sequence or sample (which follow their group's shell alert).
    pub building_block: bool,
    pub summary: AlertSummary,
    /// Where the source record was in the input.
    pub order: InputOrder,
    /// [`Alert::timestamp`] parsed, for sorting.
    pub sort_time: Option<Timestamp>,
    /// The Kibana document, serialized: a run buffers alerts until the end (to sort them), and
    /// a `serde_json::Value` takes about five times the memory.
    json: Box<str>,
    /// The source event's ECS document, when the run keeps it ([`Alert::set_event`]).
    event: Option<Box<str>>,
}

impl Alert {
    /// An alert of rule `rule` (its report index) from its Kibana document, with the source
    /// event's timestamp (`None`: unknown).
    pub fn new(
        rule: usize,
        doc: &Value,
        event_id: &str,
        timestamp: Option<String>,
        order: InputOrder,
    ) -> Alert {
        let json = serde_json::to_string(doc).expect("a JSON value serializes");
        Alert::with_json(rule, doc, json, event_id, timestamp, order)
    }

    /// [`Alert::new`] with the document already serialized: `json` is what is written, `doc`
    /// what the alert's keys and summary are read from. `doc` may leave out the
    /// `kibana.alert.rule.*` fields `json` holds ([`crate::RuleFields::to_json`]): none of
    /// them is read.
    pub fn with_json(
        rule: usize,
        doc: &Value,
        json: String,
        event_id: &str,
        timestamp: Option<String>,
        order: InputOrder,
    ) -> Alert {
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_string);
        let group = text("kibana.alert.group.id").map(|id| AlertGroup {
            id,
            index: doc.get("kibana.alert.group.index").and_then(Value::as_u64),
        });
        let building_block = doc
            .get("kibana.alert.building_block_type")
            .is_some_and(|v| !v.is_null());
        let sort_time = timestamp.as_deref().and_then(parse_time);
        Alert {
            rule,
            uuid: text("kibana.alert.uuid").unwrap_or_default(),
            timestamp: timestamp.unwrap_or_default(),
            event_id: event_id.to_string(),
            group,
            building_block,
            summary: AlertSummary::of(doc),
            order,
            sort_time,
            json: json.into_boxed_str(),
            event: None,
        }
    }

    /// Whether this is one event of a sequence or sample, following its group's shell alert.
    pub fn is_group_member(&self) -> bool {
        self.group.as_ref().is_some_and(|g| g.index.is_some())
    }

    /// The group id, when the alert belongs to a sequence or sample.
    pub fn group_id(&self) -> Option<&str> {
        self.group.as_ref().map(|g| g.id.as_str())
    }

    /// The Kibana-shaped alert document.
    pub fn doc(&self) -> Value {
        serde_json::from_str(&self.json).expect("an alert is serialized from a JSON value")
    }

    /// The alert document as compact JSON.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The source event's ECS document (for a sequence's or sample's shell alert, what its
    /// events share), when the run kept it (searches: `dragnet eql` prints a sequence's events).
    pub fn event(&self) -> Option<Value> {
        self.event
            .as_deref()
            .and_then(|e| serde_json::from_str(e).ok())
    }

    /// Keeps the source event's ECS document with the alert.
    pub fn set_event(&mut self, ecs: &Value) {
        self.event = serde_json::to_string(ecs).ok().map(String::into_boxed_str);
    }

    /// Replaces the document (suppression adds its fields); the summary is read again.
    pub fn set_doc(&mut self, doc: &Value) {
        self.summary = AlertSummary::of(doc);
        self.json = serde_json::to_string(doc)
            .expect("a JSON value serializes")
            .into_boxed_str();
    }
}

impl Alert {
    /// Memory the alert holds, about: its strings and the struct. What a run's alert store
    /// counts against its budget.
    pub fn footprint(&self) -> usize {
        let s = &self.summary;
        std::mem::size_of::<Alert>()
            + self.uuid.len()
            + self.timestamp.len()
            + self.event_id.len()
            + self.group.as_ref().map_or(0, |g| g.id.len())
            + s.texts().iter().map(|t| t.len()).sum::<usize>()
            + self.json.len()
            + self.event.as_ref().map_or(0, |e| e.len())
    }

    /// Drops the document, the source event and the summary, keeping what orders and
    /// identifies the alert (rule, uuid, time, event id, group, input order): a run keeps such
    /// a husk of an alert `--max-signals` left out, so duplicates and counts stay exact.
    pub fn strip_document(&mut self) {
        self.json = Box::from("");
        self.event = None;
        self.summary = AlertSummary::default();
    }

    /// Appends the alert in a compact binary form [`Alert::decode`] reads back (a run's alert
    /// store spills sorted runs of them to temporary files).
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn text(out: &mut Vec<u8>, t: &str) {
            out.extend_from_slice(&(t.len() as u64).to_le_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        fn number(out: &mut Vec<u8>, n: u64) {
            out.extend_from_slice(&n.to_le_bytes());
        }
        number(out, self.rule as u64);
        text(out, &self.uuid);
        text(out, &self.timestamp);
        text(out, &self.event_id);
        match &self.group {
            None => out.push(0),
            Some(g) => {
                out.push(match g.index {
                    None => 1,
                    Some(_) => 2,
                });
                text(out, &g.id);
                number(out, g.index.unwrap_or(0));
            }
        }
        out.push(u8::from(self.building_block));
        let s = &self.summary;
        for t in s.texts() {
            text(out, t);
        }
        number(out, self.order.0 as u64);
        number(out, self.order.1);
        number(out, self.order.2 as u64);
        match self.sort_time {
            None => out.push(0),
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.as_second().to_le_bytes());
                out.extend_from_slice(&t.subsec_nanosecond().to_le_bytes());
            }
        }
        text(out, &self.json);
        match &self.event {
            None => out.push(0),
            Some(e) => {
                out.push(1);
                text(out, e);
            }
        }
    }

    /// Reads an alert [`Alert::encode`] wrote; `None` when the bytes are not one (a damaged
    /// temporary file).
    pub fn decode(bytes: &[u8]) -> Option<Alert> {
        let mut r = Reader(bytes);
        let rule = usize::try_from(r.number()?).ok()?;
        let uuid = r.text()?;
        let timestamp = r.text()?;
        let event_id = r.text()?;
        let group = match r.byte()? {
            0 => None,
            tag @ (1 | 2) => {
                let id = r.text()?;
                let index = r.number()?;
                Some(AlertGroup {
                    id,
                    index: (tag == 2).then_some(index),
                })
            }
            _ => return None,
        };
        let building_block = r.byte()? != 0;
        let mut summary = AlertSummary::default();
        for t in summary.texts_mut() {
            *t = r.text()?;
        }
        let order = (
            usize::try_from(r.number()?).ok()?,
            r.number()?,
            usize::try_from(r.number()?).ok()?,
        );
        let sort_time = match r.byte()? {
            0 => None,
            _ => {
                let seconds = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
                let nanos = i32::from_le_bytes(r.take(4)?.try_into().ok()?);
                Some(Timestamp::new(seconds, nanos).ok()?)
            }
        };
        let json = r.text()?.into_boxed_str();
        let event = match r.byte()? {
            0 => None,
            _ => Some(r.text()?.into_boxed_str()),
        };
        r.0.is_empty().then_some(Alert {
            rule,
            uuid,
            timestamp,
            event_id,
            group,
            building_block,
            summary,
            order,
            sort_time,
            json,
            event,
        })
    }
}

/// Reads [`Alert::encode`]'s fields back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn number(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn text(&mut self) -> Option<String> {
        let len = usize::try_from(self.number()?).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
}

impl AlertSummary {
    /// Reads the analyst's values from an alert document.
    pub fn of(doc: &Value) -> AlertSummary {
        let first = |path: &str| field_strings(doc, path).into_iter().next();
        let actor = first("user.name")
            .or_else(|| first("aws.cloudtrail.user_identity.arn"))
            .or_else(|| {
                first("aws.cloudtrail.user_identity.type")
                    .filter(|t| t == "Root" || t == "AWSService")
            })
            .or_else(|| aggregation_terms(doc))
            .unwrap_or_default();
        AlertSummary {
            actor,
            account: first("cloud.account.id").unwrap_or_default(),
            region: first("cloud.region").unwrap_or_default(),
            source_ip: first("source.ip")
                .or_else(|| first("source.address"))
                .unwrap_or_default(),
            action: first("event.action").unwrap_or_default(),
            target: target(doc),
            user_agent: first("user_agent.original").unwrap_or_default(),
            reason: first("kibana.alert.reason").unwrap_or_default(),
            severity: first("kibana.alert.severity").unwrap_or_default(),
            risk_score: first("kibana.alert.risk_score").unwrap_or_default(),
        }
    }
}

/// The resource an alert is about: the first resource ARN, else the request's main target.
fn target(doc: &Value) -> String {
    [
        "aws.cloudtrail.resources.arn",
        "aws.cloudtrail.flattened.request_parameters.instanceIds",
        "aws.cloudtrail.flattened.request_parameters.imageId",
        "aws.cloudtrail.flattened.request_parameters.bucketName",
        "aws.cloudtrail.flattened.request_parameters.userName",
        "aws.cloudtrail.flattened.request_parameters.roleName",
        "user.target.name",
    ]
    .iter()
    .find_map(|path| field_strings(doc, path).into_iter().next())
    .unwrap_or_default()
}

/// The terms a threshold alert (`kibana.alert.threshold_result.terms`: field/value pairs) or a
/// new_terms alert (`kibana.alert.new_terms`) is about, as `field=value` joined by `, ` (new
/// terms: the values alone, in `new_terms_fields` order).
fn aggregation_terms(doc: &Value) -> Option<String> {
    // The threshold detector writes `kibana.alert.threshold_result` as an object holding
    // `terms` (as Kibana does); a flattened key is read too.
    let terms = doc
        .get("kibana.alert.threshold_result")
        .and_then(|r| r.get("terms"))
        .or_else(|| doc.get("kibana.alert.threshold_result.terms"));
    if let Some(Value::Array(terms)) = terms {
        let parts: Vec<String> = terms
            .iter()
            .filter_map(|t| {
                let field = t.get("field")?.as_str()?;
                let value = match t.get("value")? {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some(format!("{field}={value}"))
            })
            .collect();
        if !parts.is_empty() {
            return Some(parts.join(", "));
        }
    }
    let values = field_strings(doc, "kibana.alert.new_terms");
    (!values.is_empty()).then(|| values.join(", "))
}

/// An alert time: RFC 3339, or a date-time without offset (UTC, as Elasticsearch reads it).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok().or_else(|| {
        s.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_alert_reads_its_group_building_block_and_summary_once() {
        let doc = json!({
            "@timestamp": "2024-05-01T10:00:00Z",
            "kibana.alert.uuid": "u1",
            "kibana.alert.group.id": "g1",
            "kibana.alert.group.index": 1,
            "kibana.alert.building_block_type": "default",
            "kibana.alert.reason": "why",
            "kibana.alert.severity": "high",
            "kibana.alert.risk_score": 73,
            "user": {"name": "alice"},
            "cloud": {"account": {"id": "111122223333"}, "region": "eu-west-1"},
            "source": {"ip": "1.2.3.4"},
            "event": {"action": "SendCommand"},
            "aws": {"cloudtrail": {"resources": {"arn": ["arn:aws:ec2:::i-1", "arn:2"]}}},
        });
        let a = Alert::new(
            3,
            &doc,
            "e1",
            Some("2024-05-01T10:00:00Z".into()),
            (0, 0, 0),
        );
        assert_eq!(a.uuid, "u1");
        assert_eq!(a.timestamp, "2024-05-01T10:00:00Z");
        assert_eq!(
            a.group,
            Some(AlertGroup {
                id: "g1".into(),
                index: Some(1)
            })
        );
        assert!(a.building_block && a.is_group_member());
        assert_eq!(
            a.summary,
            AlertSummary {
                actor: "alice".into(),
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                source_ip: "1.2.3.4".into(),
                action: "SendCommand".into(),
                target: "arn:aws:ec2:::i-1".into(),
                user_agent: String::new(),
                reason: "why".into(),
                severity: "high".into(),
                risk_score: "73".into(),
            }
        );
        assert_eq!(a.doc(), doc);
    }

    #[test]
    fn the_actor_falls_back_to_the_arn_the_identity_type_then_the_terms() {
        let arn = json!({"aws": {"cloudtrail": {"user_identity": {
            "arn": "arn:aws:sts::1:assumed-role/r/s", "type": "AssumedRole"}}}});
        assert_eq!(
            AlertSummary::of(&arn).actor,
            "arn:aws:sts::1:assumed-role/r/s"
        );
        let service = json!({"aws.cloudtrail.user_identity.type": "AWSService"});
        assert_eq!(AlertSummary::of(&service).actor, "AWSService");
        let other_type = json!({"aws.cloudtrail.user_identity.type": "IAMUser"});
        assert_eq!(AlertSummary::of(&other_type).actor, "");
        let threshold = json!({"kibana.alert.threshold_result.terms": [
            {"field": "source.ip", "value": "1.2.3.4"},
            {"field": "cloud.account.id", "value": "1"}]});
        assert_eq!(
            AlertSummary::of(&threshold).actor,
            "source.ip=1.2.3.4, cloud.account.id=1"
        );
        // The shape the threshold detector writes.
        let nested = json!({"kibana.alert.threshold_result": {"count": 40, "terms": [
            {"field": "user.id", "value": "AIDA1"}]}});
        assert_eq!(AlertSummary::of(&nested).actor, "user.id=AIDA1");
        let new_terms = json!({"kibana.alert.new_terms": ["AKIA1", "1.2.3.4"]});
        assert_eq!(AlertSummary::of(&new_terms).actor, "AKIA1, 1.2.3.4");
    }

    #[test]
    fn alerts_round_trip_through_their_binary_form() {
        let doc = json!({
            "kibana.alert.uuid": "u1",
            "kibana.alert.group.id": "g1",
            "kibana.alert.group.index": 2,
            "kibana.alert.reason": "why",
            "user": {"name": "alice"},
        });
        let mut a = Alert::new(
            7,
            &doc,
            "e1",
            Some("2024-05-01T10:00:00.123456789Z".into()),
            (3, 1 << 40, 9),
        );
        a.set_event(&json!({"event": {"id": "e1"}}));
        let untimed = Alert::new(0, &json!({"kibana.alert.uuid": "u2"}), "", None, (0, 0, 0));
        for alert in [a, untimed] {
            let mut bytes = Vec::new();
            alert.encode(&mut bytes);
            let back = Alert::decode(&bytes).expect("decodes");
            assert_eq!(back.rule, alert.rule);
            assert_eq!(back.uuid, alert.uuid);
            assert_eq!(back.timestamp, alert.timestamp);
            assert_eq!(back.event_id, alert.event_id);
            assert_eq!(back.group, alert.group);
            assert_eq!(back.building_block, alert.building_block);
            assert_eq!(back.summary, alert.summary);
            assert_eq!(back.order, alert.order);
            assert_eq!(back.sort_time, alert.sort_time);
            assert_eq!(back.json(), alert.json());
            assert_eq!(back.event(), alert.event());
            assert!(Alert::decode(&bytes[..bytes.len() - 1]).is_none());
        }
    }

    #[test]
    fn times_without_offset_are_utc() {
        assert_eq!(
            parse_time("2024-05-01T10:00:00"),
            parse_time("2024-05-01T10:00:00Z")
        );
        assert!(parse_time("yesterday").is_none());
    }
}
