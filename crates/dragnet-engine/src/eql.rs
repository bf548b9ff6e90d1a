//! EQL rules (`type = "eql"`) as detectors.
//!
//! Event queries (`category where condition`) decide per event, like KQL query rules.
//! `sequence` rules see records from parallel workers in no time order, so they keep, per rule,
//! the events some step (or `until`) filter matches — compactly: timestamp, tiebreaker, id and
//! the ECS document as JSON bytes — within `--from`/`--to` and a hard cap
//! (`--max-sequence-candidates`, warned about when hit). In [`Detector::finish`] they order them
//! by the rule's timestamp field (then tiebreaker field, then `event.id`), drop duplicate
//! deliveries, and run `dragnet_eql`'s sequence matcher, so the result does not depend on input
//! or thread order.
//!
//! Each sequence gives the alerts Kibana's `buildAlertGroupFromSequence` (security_solution
//! `detection_engine/rule_types/eql/build_alert_group_from_sequence.ts`) writes: one
//! building-block alert per event (`kibana.alert.building_block_type: "default"`,
//! `kibana.alert.group.index` = its position, the event's fields and ancestors, uuid from
//! `generateBuildingBlockIds`), then a shell alert whose source is the intersection of the events'
//! documents (`objectArrayIntersection`), whose ancestors are each event and its building block,
//! whose uuid is `generateAlertId` over them, and which every alert of the group names in
//! `kibana.alert.group.id`. `sample` rules are accounted for as unsupported.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

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
            // The events' own index, as query rule alerts name it (not the rule's patterns).
            index: crate::alert::CLOUDTRAIL_DATA_STREAM.to_string(),
            rule_uuid: rule
                .kibana
                .as_ref()
                .and_then(|k| k.id.clone())
                .unwrap_or_else(|| rule.rule_id.clone()),
            kept: Mutex::new(Vec::new()),
            untimed: AtomicU64::new(0),
            explain: AtomicBool::new(false),
            cap: AtomicUsize::new(DEFAULT_MAX_SEQUENCE_CANDIDATES),
            over_cap: AtomicU64::new(0),
            from_ns: AtomicI64::new(i64::MIN),
            to_ns: AtomicI64::new(i64::MAX),
            matcher_warning: Mutex::new(None),
        };
        return Ok((Box::new(detector), cnf));
    }
    Ok((Box::new(EqlDetector { query: compiled }), cnf))
}

/// Default cap on candidate events kept per sequence rule (`--max-sequence-candidates`).
pub const DEFAULT_MAX_SEQUENCE_CANDIDATES: usize = 1_000_000;

/// An event that may take part in a sequence, kept until the end of the run: what ordering
/// needs, and the ECS document as deflated JSON (about 1 KB for a CloudTrail event, where a
/// `serde_json::Value` takes ten times more).
struct Candidate {
    time_ns: i128,
    tiebreaker: Option<String>,
    id: String,
    doc: Box<[u8]>,
}

/// An EQL `sequence` rule: see the module documentation.
pub struct SequenceDetector {
    query: CompiledQuery,
    /// The field table as compiled (the query's field ids), bound to kept documents at the end.
    table: FieldTable,
    time_id: FieldId,
    tiebreaker_id: Option<FieldId>,
    index: String,
    /// `kibana.alert.rule.uuid`, as the alert builder derives it.
    rule_uuid: String,
    kept: Mutex<Vec<Candidate>>,
    /// Events that could take part but have no usable timestamp (left out).
    untimed: AtomicU64,
    explain: AtomicBool,
    cap: AtomicUsize,
    /// Candidates dropped because `cap` was reached.
    over_cap: AtomicU64,
    /// The run's `--from` / `--to` in nanoseconds (`i64` covers years 1677-2262).
    from_ns: AtomicI64,
    to_ns: AtomicI64,
    /// The sequence matcher's own warning (pending sequences dropped at its cap), from finish.
    matcher_warning: Mutex<Option<String>>,
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

/// The ids of a sequence's alerts, as Kibana derives them. `events`: `(_id, _index)` of each
/// event in order. Building block `i`: `generateBuildingBlockIds` — SHA-256 of the
/// concatenation, over the blocks, of their ancestors' `id + index` and the rule uuid, then
/// `i` in decimal. Shell: `generateAlertId` — SHA-256 of its ancestors' `id + index` (each
/// event, then its building block, whose `_index` is `''` when the shell is built) and the
/// rule uuid.
fn group_ids(events: &[(&str, &str)], rule_uuid: &str) -> (Vec<String>, String) {
    let mut base = String::new();
    for (id, index) in events {
        base.push_str(id);
        base.push_str(index);
        base.push_str(rule_uuid);
    }
    let blocks: Vec<String> = (0..events.len())
        .map(|i| crate::alert::sha256_hex(format!("{base}{i}").as_bytes()))
        .collect();
    let mut shell = String::new();
    for ((id, index), block) in events.iter().zip(&blocks) {
        shell.push_str(id);
        shell.push_str(index);
        shell.push_str(block);
    }
    shell.push_str(rule_uuid);
    let shell = crate::alert::sha256_hex(shell.as_bytes());
    (blocks, shell)
}

/// The document as JSON, deflated (fast level: candidates are many, CPU is spent once each).
fn deflate(doc: &Value) -> Box<[u8]> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail; serde_json cannot fail on a Value.
    let _ = serde_json::to_writer(&mut encoder, doc);
    let _ = encoder.flush();
    encoder.finish().unwrap_or_default().into_boxed_slice()
}

/// The document [`deflate`] stored.
fn inflate(bytes: &[u8]) -> Value {
    use std::io::Read;
    // Whole, then parsed: serde_json reading through the decoder goes byte by byte.
    let mut json = Vec::with_capacity(bytes.len() * 4);
    match flate2::read::DeflateDecoder::new(bytes).read_to_end(&mut json) {
        Ok(_) => serde_json::from_slice(&json).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

impl SequenceDetector {
    fn in_range(&self, time_ns: i128) -> bool {
        let from = i128::from(self.from_ns.load(Ordering::Relaxed));
        let to = i128::from(self.to_ns.load(Ordering::Relaxed));
        time_ns >= from && time_ns < to
    }
}

impl Detector for SequenceDetector {
    fn prepare(&self, options: &crate::run::RunOptions) {
        let ns = |t: jiff::Timestamp| i64::try_from(t.as_nanosecond()).ok();
        self.from_ns.store(
            options.from.and_then(ns).unwrap_or(i64::MIN),
            Ordering::Relaxed,
        );
        self.to_ns.store(
            options.to.and_then(ns).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
        self.cap.store(
            options
                .max_sequence_candidates
                .unwrap_or(DEFAULT_MAX_SEQUENCE_CANDIDATES),
            Ordering::Relaxed,
        );
    }

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
        // Kibana searches only the rule's window: events outside --from/--to take no part.
        if !self.in_range(time_ns) {
            return;
        }
        // At the cap, skip the costly ECS document (checked again under the lock below).
        if self.kept.lock().unwrap_or_else(|e| e.into_inner()).len()
            >= self.cap.load(Ordering::Relaxed)
        {
            self.over_cap.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(doc) = event.to_document() else {
            self.untimed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let candidate = Candidate {
            time_ns,
            tiebreaker: self.tiebreaker_id.and_then(|f| first_text(event, f)),
            id: document_id(&doc),
            doc: deflate(&doc),
        };
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= self.cap.load(Ordering::Relaxed) {
            self.over_cap.fetch_add(1, Ordering::Relaxed);
            return;
        }
        kept.push(candidate);
    }

    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let dropped = self.over_cap.load(Ordering::Relaxed);
        if dropped > 0 {
            out.push(format!(
                "limit max-sequence-candidates ({}) reached: {dropped} candidate event(s) were not kept and sequences may be missing; raise it with --max-sequence-candidates N or narrow the input (--from/--to)",
                self.cap.load(Ordering::Relaxed)
            ));
        }
        if let Some(w) = self
            .matcher_warning
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            out.push(w);
        }
        let untimed = self.untimed.load(Ordering::Relaxed);
        if untimed > 0 {
            out.push(format!(
                "{untimed} event(s) matching a sequence step have no usable timestamp and take no part in sequences"
            ));
        }
        out
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
        let parse = |k: &Candidate| inflate(&k.doc);
        let mut found = Vec::new();
        for (i, k) in kept.iter().enumerate() {
            let doc = parse(k);
            let ts = Timestamp::from_nanosecond(k.time_ns).unwrap_or(Timestamp::UNIX_EPOCH);
            found.extend(matcher.on_event(&JsonEvent::new(&doc, &paths), ts, i));
        }
        found.extend(matcher.finish());
        *self
            .matcher_warning
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = matcher.warning();
        let explain = self.explain.load(Ordering::Relaxed);
        for s in found {
            let members: Vec<&Candidate> = s.events.iter().map(|(_, i)| &kept[*i]).collect();
            let docs: Vec<Value> = members.iter().map(|k| parse(k)).collect();
            let times: Vec<String> = s.events.iter().map(|(t, _)| t.to_string()).collect();
            let ids: Vec<(&str, &str)> = members
                .iter()
                .map(|k| (k.id.as_str(), self.index.as_str()))
                .collect();
            let (block_ids, shell_id) = group_ids(&ids, &self.rule_uuid);
            let mut ancestors = Vec::new();
            for (i, doc) in docs.iter().enumerate() {
                let mut fields = Map::new();
                fields.insert("kibana.alert.uuid".into(), json!(block_ids[i]));
                fields.insert("kibana.alert.building_block_type".into(), json!("default"));
                fields.insert("kibana.alert.group.id".into(), json!(shell_id));
                fields.insert("kibana.alert.group.index".into(), json!(i));
                let explanation = explain.then(|| {
                    json!({"sequence": {"join_keys": s.key, "group_index": i, "events": s.events.len()}})
                });
                out.push(Detection::Composed {
                    ecs: doc.clone(),
                    id: members[i].id.clone(),
                    index: self.index.clone(),
                    timestamp: Some(times[i].clone()),
                    explanation,
                    fields,
                });
                ancestors.push(
                    json!({"id": members[i].id, "type": "event", "index": self.index, "depth": 0}),
                );
                ancestors.push(json!({"id": block_ids[i], "type": "signal", "index": "", "depth": 1, "rule": self.rule_uuid}));
            }
            let merged = docs
                .iter()
                .skip(1)
                .try_fold(docs[0].clone(), |acc, d| intersection(&acc, d))
                .unwrap_or_else(|| json!({}));
            let mut fields = Map::new();
            fields.insert("kibana.alert.uuid".into(), json!(shell_id));
            fields.insert("kibana.alert.group.id".into(), json!(shell_id));
            fields.insert("kibana.alert.ancestors".into(), Value::Array(ancestors));
            fields.insert("kibana.alert.depth".into(), json!(2));
            // buildAlertFields takes original_time from the first building block.
            fields.insert("kibana.alert.original_time".into(), json!(times[0]));
            let explanation = explain.then(|| {
                let events: Vec<Value> = members
                    .iter()
                    .zip(&times)
                    .map(|(k, t)| json!({"event.id": k.id, "@timestamp": t}))
                    .collect();
                json!({"sequence": {"join_keys": s.key, "events": events}})
            });
            out.push(Detection::Composed {
                ecs: merged,
                id: shell_id,
                index: self.index.clone(),
                // The shell stands at the time the sequence completed: its last event.
                timestamp: times.last().cloned(),
                explanation,
                fields,
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

    #[test]
    fn candidate_documents_round_trip_through_deflate() {
        let doc = json!({"user": {"name": "alice"}, "event": {"action": "A", "category": ["iam"]}, "n": 1.5});
        assert_eq!(inflate(&deflate(&doc)), doc);
    }

    #[test]
    fn group_ids_follow_kibana_generate_building_block_ids_and_generate_alert_id() {
        // printf %s 'e1ir1e2ir10' | sha256sum (block 0), ...1 (block 1); the shell hashes
        // 'e1i' + block0 + 'e2i' + block1 + 'r1'.
        let (blocks, shell) = group_ids(&[("e1", "i"), ("e2", "i")], "r1");
        let b0 = crate::alert::sha256_hex(b"e1ir1e2ir10");
        let b1 = crate::alert::sha256_hex(b"e1ir1e2ir11");
        assert_eq!(blocks, vec![b0.clone(), b1.clone()]);
        assert_eq!(
            shell,
            crate::alert::sha256_hex(format!("e1i{b0}e2i{b1}r1").as_bytes())
        );
        let (other, _) = group_ids(&[("e1", "i"), ("e3", "i")], "r1");
        assert_ne!(
            other[0], blocks[0],
            "a block's id depends on the whole sequence"
        );
    }
}
