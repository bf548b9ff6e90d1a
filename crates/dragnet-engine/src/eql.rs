//! EQL rules (`type = "eql"`) as detectors.
//!
//! Event queries (`category where condition`) decide per event, like KQL query rules.
//! `sequence` rules keep the documents of events that can take part in a sequence (they match
//! a step or the `until` condition) from the unordered workers, then in [`Detector::finish`]
//! order them by the rule's timestamp field (then tiebreaker field, then `event.id`) and run
//! `dragnet_eql`'s sequence matcher. Each sequence gives one alert shaped like Kibana's "shell"
//! alert: its source is the intersection of the events' documents (`objectArrayIntersection`
//! in security_solution `build_alert_group_from_sequence.ts`); the per-event "building block"
//! alerts are not produced, the events are listed in the alert's explanation instead.
//! `sample` rules are accounted for as unsupported.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dragnet_eql::{CompileOptions, CompiledQuery, Explanation, QueryKind};
use dragnet_event::{Event, FieldId, FieldTable, JsonEvent, JsonPaths, OwnedScalar, Scalar};
use dragnet_rules::{Rule, TypeParams};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::detector::{Detection, Detector};

/// An EQL event query: the compiled query decides per event.
pub struct EqlDetector {
    query: CompiledQuery,
}

impl Detector for EqlDetector {
    fn on_event(&self, event: &dyn Event, explain: bool, out: &mut Vec<Detection>) {
        if self.query.matches(event) {
            let explanation = explain.then(|| to_json(&self.query.explain(event)));
            out.push(Detection::ThisEvent { explanation });
        }
    }
}

/// Required literals as `(field, literal, exact, case_sensitive)` CNF, for the prefilter.
pub(crate) type Cnf = Vec<Vec<(String, String, bool, bool)>>;

/// Compiles an EQL rule into its detector and prefilter facts, or says why it cannot run.
pub(crate) fn build(
    rule: &Rule,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    let unsupported = |reason: String| Err(RuleStatus::Unsupported { reason });
    let TypeParams::Eql {
        event_category_override,
        tiebreaker_field,
        ..
    } = &rule.params
    else {
        return unsupported("not an EQL rule".into());
    };
    if !rule.filters.is_empty() {
        return unsupported(
            "Kibana query DSL filters are not implemented (rule has `filters`)".into(),
        );
    }
    if !rule.exceptions_list.is_empty() {
        notes.push("exception lists live in Kibana and are not applied".into());
    }
    if rule.alert_suppression.is_some() {
        notes.push("alert_suppression not applied: every matching event is reported".into());
    }
    let text = rule.query.as_ref().map(|q| q.as_str()).unwrap_or("");
    let query = dragnet_eql::parse(text).map_err(|e| RuleStatus::Invalid {
        reason: format!("EQL does not parse: {e}"),
    })?;
    let options = CompileOptions {
        category_field: event_category_override
            .clone()
            .unwrap_or_else(|| CompileOptions::default().category_field),
    };
    // Compile into a scratch table first so an unsupported rule interns nothing.
    let mut scratch = fields.clone();
    let compiled =
        dragnet_eql::compile_with(&query, schema, &mut scratch, &options).map_err(|e| {
            RuleStatus::Invalid {
                reason: format!("EQL does not compile: {e}"),
            }
        })?;
    match compiled.kind() {
        QueryKind::Event | QueryKind::Sequence => {}
        QueryKind::Sample => return unsupported("EQL sample rules are not implemented".into()),
    }
    let timestamp_field = match &rule.params {
        TypeParams::Eql {
            timestamp_field: Some(f),
            ..
        } => f.clone(),
        _ => "@timestamp".to_owned(),
    };
    let time_id = scratch.intern(&timestamp_field);
    let tiebreaker_id = tiebreaker_field.as_deref().map(|f| scratch.intern(f));
    *fields = scratch;
    if !compiled.pipes().is_empty() {
        notes.push("pipes (| head, | tail) limit a search's results, not alerts; ignored".into());
    }
    let cnf = compiled
        .required_literals()
        .into_iter()
        .map(|clause| {
            clause
                .into_iter()
                .map(|l| (l.field, l.literal, l.exact, l.case_sensitive))
                .collect()
        })
        .collect();
    if compiled.kind() == QueryKind::Sequence {
        let detector = SequenceDetector {
            query: compiled,
            table: fields.clone(),
            time_id,
            tiebreaker_id,
            index: crate::aggregate::index_of(rule),
            kept: Mutex::new(Vec::new()),
            untimed: AtomicU64::new(0),
            explain: AtomicBool::new(false),
        };
        return Ok((Box::new(detector), cnf));
    }
    Ok((Box::new(EqlDetector { query: compiled }), cnf))
}

/// An event that may take part in a sequence, kept until the end of the run.
struct Kept {
    time_ns: i128,
    tiebreaker: Option<String>,
    id: String,
    doc: Value,
}

/// An EQL `sequence` rule: see the module documentation.
pub struct SequenceDetector {
    query: CompiledQuery,
    /// The field table as compiled (the query's field ids), bound to kept documents at the end.
    table: FieldTable,
    time_id: FieldId,
    tiebreaker_id: Option<FieldId>,
    index: String,
    kept: Mutex<Vec<Kept>>,
    /// Events that could take part but have no usable timestamp (left out).
    untimed: AtomicU64,
    explain: AtomicBool,
}

fn first_text(event: &dyn Event, field: FieldId) -> Option<String> {
    let mut out = None;
    event.any(field, &mut |v| {
        out = Some(v.to_keyword().into_owned());
        true
    });
    out
}

fn time_of(event: &dyn Event, field: FieldId) -> Option<i128> {
    let mut out = None;
    event.any(field, &mut |v| {
        out = match v {
            Scalar::Str(s) => s.parse::<Timestamp>().ok().map(|t| t.as_nanosecond()),
            Scalar::Int(ms) => Some(i128::from(ms) * 1_000_000),
            _ => None,
        };
        out.is_some()
    });
    out
}

/// `event.id` of an ECS document (nested or dotted), else a digest of the document.
fn document_id(doc: &Value) -> String {
    doc.pointer("/event/id")
        .or_else(|| doc.get("event.id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| crate::alert::sha256_hex(doc.to_string().as_bytes()))
}

/// Kibana's `objectPairIntersection`: common keys with equal values; objects recursively;
/// arrays keep their common elements; keys whose intersection is empty are dropped.
fn intersection(a: &Value, b: &Value) -> Option<Value> {
    let (Value::Object(a), Value::Object(b)) = (a, b) else {
        return None;
    };
    let mut out = Map::new();
    for (key, av) in a {
        let Some(bv) = b.get(key) else { continue };
        let v = match (av, bv) {
            (Value::Object(_), Value::Object(_)) => intersection(av, bv),
            _ if av == bv => Some(av.clone()),
            (Value::Array(x), Value::Array(y)) => Some(Value::Array(
                x.iter().filter(|v| y.contains(v)).cloned().collect(),
            )),
            (Value::Array(x), y) => Some(Value::Array(
                x.iter().filter(|v| *v == y).cloned().collect(),
            )),
            (x, Value::Array(y)) => Some(Value::Array(
                y.iter().filter(|v| *v == x).cloned().collect(),
            )),
            _ => None,
        };
        if let Some(v) = v {
            out.insert(key.clone(), v);
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

impl Detector for SequenceDetector {
    fn on_event(&self, event: &dyn Event, explain: bool, _out: &mut Vec<Detection>) {
        if explain {
            self.explain.store(true, Ordering::Relaxed);
        }
        // Matches some step or the `until` condition: the event may matter to a sequence.
        if !self.query.matches(event) {
            return;
        }
        let Some(time_ns) = time_of(event, self.time_id) else {
            self.untimed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Some(doc) = event.to_document() else {
            self.untimed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let kept = Kept {
            time_ns,
            tiebreaker: self.tiebreaker_id.and_then(|f| first_text(event, f)),
            id: document_id(&doc),
            doc,
        };
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(kept);
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        let mut kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()));
        kept.sort_by(|a, b| {
            (a.time_ns, &a.tiebreaker, &a.id).cmp(&(b.time_ns, &b.tiebreaker, &b.id))
        });
        // The same event delivered twice (overlapping trails) counts once.
        kept.dedup_by(|a, b| a.id == b.id && a.time_ns == b.time_ns);
        let paths = JsonPaths::bind(&self.table);
        let Some(mut matcher) = self.query.sequence_matcher::<usize>() else {
            return;
        };
        let mut found = Vec::new();
        for (i, k) in kept.iter().enumerate() {
            let ts = Timestamp::from_nanosecond(k.time_ns).unwrap_or(Timestamp::UNIX_EPOCH);
            found.extend(matcher.on_event(&JsonEvent::new(&k.doc, &paths), ts, i));
        }
        found.extend(matcher.finish());
        let explain = self.explain.load(Ordering::Relaxed);
        for s in found {
            let docs: Vec<&Kept> = s.events.iter().map(|(_, i)| &kept[*i]).collect();
            let merged = docs
                .iter()
                .skip(1)
                .try_fold(docs[0].doc.clone(), |acc, k| intersection(&acc, &k.doc))
                .unwrap_or_else(|| json!({}));
            let ids: Vec<&str> = docs.iter().map(|k| k.id.as_str()).collect();
            let last = s.events.last().map(|(t, _)| t.to_string());
            let events: Vec<Value> = s
                .events
                .iter()
                .zip(&docs)
                .map(|((t, _), k)| json!({"event.id": k.id, "@timestamp": t.to_string()}))
                .collect();
            let mut explanation = json!({"sequence": {"join_keys": s.key, "events": events}});
            if explain {
                explanation["note"] =
                    json!("building-block alerts are not produced; the events are listed here");
            }
            out.push(Detection::Document {
                ecs: merged,
                id: crate::alert::sha256_hex(ids.join("\u{1f}").as_bytes()),
                index: self.index.clone(),
                timestamp: last,
                explanation: Some(explanation),
            });
        }
    }
}

/// `{"matched", "clause", "how", "values", "children"}`, recursively.
fn to_json(e: &Explanation) -> Value {
    let mut out = json!({"matched": e.matched, "clause": e.clause});
    if !e.how.is_empty() {
        out["how"] = json!(e.how);
        out["values"] = e
            .values
            .iter()
            .map(|v| match v {
                OwnedScalar::Str(s) => json!(s),
                OwnedScalar::Int(i) => json!(i),
                OwnedScalar::Float(f) => json!(f),
                OwnedScalar::Bool(b) => json!(b),
            })
            .collect();
    }
    if !e.children.is_empty() {
        out["children"] = e.children.iter().map(to_json).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersection_follows_kibana_object_pair_intersection() {
        let a = json!({"user": {"name": "alice", "id": 1}, "event": {"action": "A", "category": ["iam", "x"]}, "only_a": 1});
        let b = json!({"user": {"name": "alice", "id": 2}, "event": {"action": "B", "category": "iam"}});
        let got = intersection(&a, &b).unwrap();
        assert_eq!(
            got,
            json!({"user": {"name": "alice"}, "event": {"category": ["iam"]}})
        );
        assert_eq!(intersection(&json!({"a": 1}), &json!({"a": 2})), None);
    }
}
