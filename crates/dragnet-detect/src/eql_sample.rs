//! EQL `sample` rules as detectors.
//!
//! Elasticsearch runs a `sample` with its sample executor (`dragnet_eql::SampleMatcher` follows
//! it: per join key, one event per filter, any time order) and returns the samples as
//! `hits.sequences` (`SamplePayload` builds `EqlSearchResponse.Sequence` values). Kibana's EQL
//! executor (security_solution `rule_types/eql/eql.ts`) sends every `hits.sequences` response
//! to `wrapSequences`, so a sample gives the same alerts as a sequence:
//! `buildAlertGroupFromSequence` writes one building-block alert per event, in the sample's
//! filter order, and a shell alert whose source is the intersection of the events' documents
//! (see [`crate::eql`]). The search asks for `size: max_signals` samples, which Elasticsearch
//! cuts in key order; with `--max-signals` this detector keeps that many samples in the same
//! order (the run's own cap keeps the earliest alerts, which for samples would be others).
//!
//! Records arrive from parallel workers in no order. Each event some filter matches, within
//! `--from`/`--to` and with a usable timestamp, is handed to the matcher with a reference
//! ordered by the rule's timestamp field, then tiebreaker field, then `event.id` — the index
//! order of events ingested as they happen, where Elasticsearch takes its first events. The
//! matcher keeps, per join key and filter, only the few earliest references
//! (`filters + max_samples_per_key - 1`), so memory follows the number of keys, not of events,
//! and the same event delivered twice counts once. Only events it keeps get their ECS document
//! built (deflated): on 100 MB of generated CloudTrail with filters matching every S3 and EC2
//! call, 1.0 s instead of 7.2 s building every candidate's document, same alerts. A cap on
//! references held (`--max-sequence-candidates`) bounds memory; hitting it is warned about.
//!
//! Differences from Kibana: `max_samples_per_key` is Elasticsearch's default (1), as Kibana
//! sends no other; the shell alert's time (which Kibana sets to the rule run) is the latest
//! event of the sample.

use crate::sequence_order::{deflate, inflate};
use std::cmp::Ordering as CmpOrdering;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use dragnet_eql::{CompiledQuery, SampleMatch, SampleMatcher};
use dragnet_event::{Event, FieldId, FieldTable};
use dragnet_rules::{Rule, TypeParams};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::aggregate::{first_text, time_of};
use crate::detector::DEFAULT_MAX_SEQUENCE_CANDIDATES;
use crate::detector::{Detection, Detector};
use dragnet_alert::group::{document_id, group_ids, intersection};
use dragnet_event::literals::Cnf;

/// Builds the detector of a compiled `sample` rule (`scratch`: the field table the query was
/// compiled into, which becomes the run's).
pub(crate) fn build(
    rule: &Rule,
    query: CompiledQuery,
    mut scratch: FieldTable,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    let (timestamp_field, tiebreaker_field) = match &rule.params {
        TypeParams::Eql {
            timestamp_field,
            tiebreaker_field,
            ..
        } => (
            timestamp_field.as_deref().unwrap_or("@timestamp"),
            tiebreaker_field.as_deref(),
        ),
        _ => {
            return Err(RuleStatus::Unsupported {
                reason: "not an EQL rule".into(),
            });
        }
    };
    let time_id = scratch.intern(timestamp_field);
    let tiebreaker_id = tiebreaker_field.map(|f| scratch.intern(f));
    let event_id = scratch.intern("event.id");
    *fields = scratch;
    if !query.pipes().is_empty() {
        notes.push("pipes (| head, | tail) limit a search's results, not alerts; ignored".into());
    }
    let cnf = query.required_literals();
    let matcher = query
        .sample_matcher::<Member>()
        .map(|m| m.with_capacity(DEFAULT_MAX_SEQUENCE_CANDIDATES));
    let detector = SampleDetector {
        query,
        time_id,
        tiebreaker_id,
        event_id,
        // The events' own index, as query rule alerts name it (not the rule's patterns).
        index: dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
        rule_uuid: rule
            .kibana
            .as_ref()
            .and_then(|k| k.id.clone())
            .unwrap_or_else(|| rule.rule_id.clone()),
        matcher: Mutex::new(matcher),
        untimed: AtomicU64::new(0),
        explain: AtomicBool::new(false),
        from_ns: AtomicI64::new(i64::MIN),
        to_ns: AtomicI64::new(i64::MAX),
        size: AtomicUsize::new(usize::MAX),
        over_size: AtomicU64::new(0),
        undocumented: AtomicU64::new(0),
        matcher_warning: Mutex::new(None),
    };
    Ok((Box::new(detector), cnf))
}

/// One event of a possible sample: what orders it and its ECS document, deflated — set once
/// the matcher keeps the event (most candidates are not kept: only the earliest per key and
/// filter are).
#[derive(Debug)]
struct Kept {
    time_ns: i128,
    tiebreaker: Option<String>,
    id: String,
    doc: OnceLock<Box<[u8]>>,
}

/// A shared reference to an [`Kept`], ordered (and equal) by timestamp, tiebreaker and id: a
/// duplicate delivery is the same member.
#[derive(Clone, Debug)]
struct Member(Arc<Kept>);

impl Member {
    fn key(&self) -> (i128, &Option<String>, &str) {
        (self.0.time_ns, &self.0.tiebreaker, &self.0.id)
    }
}

impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Member {}

impl PartialOrd for Member {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Member {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.key().cmp(&other.key())
    }
}

/// An EQL `sample` rule: see the module documentation.
pub struct SampleDetector {
    query: CompiledQuery,
    time_id: FieldId,
    tiebreaker_id: Option<FieldId>,
    /// `event.id`, the identity of a member (a digest of the document when missing).
    event_id: FieldId,
    index: String,
    /// `kibana.alert.rule.uuid`, as the alert builder derives it.
    rule_uuid: String,
    /// Made at build, remade by [`Detector::prepare`] with the run's cap, taken by finish.
    matcher: Mutex<Option<SampleMatcher<Member>>>,
    /// Events a filter matches that have no usable timestamp (left out).
    untimed: AtomicU64,
    explain: AtomicBool,
    /// The run's `--from` / `--to` in nanoseconds.
    from_ns: AtomicI64,
    to_ns: AtomicI64,
    /// `--max-signals`: the search's `size` (samples reported, in key order).
    size: AtomicUsize,
    /// Samples found beyond `size`.
    over_size: AtomicU64,
    /// Samples not reported because an event's document could not be built.
    undocumented: AtomicU64,
    matcher_warning: Mutex<Option<String>>,
}

fn format_time(ns: i128) -> String {
    Timestamp::from_nanosecond(ns)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

impl SampleDetector {
    fn in_range(&self, time_ns: i128) -> bool {
        let from = i128::from(self.from_ns.load(Ordering::Relaxed));
        let to = i128::from(self.to_ns.load(Ordering::Relaxed));
        time_ns >= from && time_ns < to
    }

    /// The alerts of one sample: a building block per event, then the shell.
    fn alerts(&self, sample: &SampleMatch<Member>, explain: bool, out: &mut Vec<Detection>) {
        let Some(docs) = sample
            .events
            .iter()
            .map(|m| m.0.doc.get().map(|d| inflate(d)))
            .collect::<Option<Vec<Value>>>()
        else {
            self.undocumented.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let times: Vec<String> = sample
            .events
            .iter()
            .map(|m| format_time(m.0.time_ns))
            .collect();
        let ids: Vec<(&str, &str)> = sample
            .events
            .iter()
            .map(|m| (m.0.id.as_str(), self.index.as_str()))
            .collect();
        let (block_ids, shell_id) = group_ids(&ids, &self.rule_uuid);
        let mut ancestors = Vec::new();
        for (i, (member, doc)) in sample.events.iter().zip(&docs).enumerate() {
            let mut fields = Map::new();
            fields.insert("kibana.alert.uuid".into(), json!(block_ids[i]));
            fields.insert("kibana.alert.building_block_type".into(), json!("default"));
            fields.insert("kibana.alert.group.id".into(), json!(shell_id));
            fields.insert("kibana.alert.group.index".into(), json!(i));
            let explanation = explain.then(|| {
                json!({"sample": {"join_keys": sample.key, "group_index": i, "events": docs.len()}})
            });
            out.push(Detection::Composed {
                ecs: doc.clone(),
                id: member.0.id.clone(),
                index: self.index.clone(),
                timestamp: Some(times[i].clone()),
                explanation,
                fields,
            });
            ancestors
                .push(json!({"id": member.0.id, "type": "event", "index": self.index, "depth": 0}));
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
            let events: Vec<Value> = sample
                .events
                .iter()
                .zip(&times)
                .map(|(m, t)| json!({"event.id": m.0.id, "@timestamp": t}))
                .collect();
            json!({"sample": {"join_keys": sample.key, "events": events}})
        });
        // The sample is complete at its latest event.
        let latest = sample
            .events
            .iter()
            .map(|m| m.0.time_ns)
            .max()
            .map(format_time);
        out.push(Detection::Composed {
            ecs: merged,
            id: shell_id,
            index: self.index.clone(),
            timestamp: latest,
            explanation,
            fields,
        });
    }
}

impl Detector for SampleDetector {
    fn prepare(&self, options: &crate::detector::DetectorOptions) {
        let ns = |t: Timestamp| i64::try_from(t.as_nanosecond()).ok();
        self.from_ns.store(
            options.from.and_then(ns).unwrap_or(i64::MIN),
            Ordering::Relaxed,
        );
        self.to_ns.store(
            options.to.and_then(ns).unwrap_or(i64::MAX),
            Ordering::Relaxed,
        );
        self.size
            .store(options.max_signals.unwrap_or(usize::MAX), Ordering::Relaxed);
        let cap = options
            .max_sequence_candidates
            .unwrap_or(DEFAULT_MAX_SEQUENCE_CANDIDATES);
        *self.matcher.lock().unwrap_or_else(|e| e.into_inner()) = self
            .query
            .sample_matcher::<Member>()
            .map(|m| m.with_capacity(cap));
    }

    fn on_event(&self, event: &dyn Event, explain: bool, _out: &mut Vec<Detection>) {
        if explain {
            self.explain.store(true, Ordering::Relaxed);
        }
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
        // The identity first; the document only for events the matcher keeps.
        let mut doc = None;
        let id = match first_text(event, self.event_id) {
            Some(id) => id,
            None => match event.to_document() {
                Some(d) => document_id(doc.insert(d)),
                None => {
                    self.untimed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
        };
        let member = Member(Arc::new(Kept {
            time_ns,
            tiebreaker: self.tiebreaker_id.and_then(|f| first_text(event, f)),
            id,
            doc: OnceLock::new(),
        }));
        let kept = match self
            .matcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(matcher) => matcher.on_event(event, member.clone()),
            None => false,
        };
        // Outside the lock: finish runs after every on_event has returned.
        if kept && let Some(doc) = doc.or_else(|| event.to_document()) {
            let _ = member.0.doc.set(deflate(&doc));
        }
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        let Some(matcher) = self
            .matcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        *self
            .matcher_warning
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = matcher.warning().map(|w| {
            format!(
                "{w}; raise it with --max-sequence-candidates N or narrow the input (--from/--to)"
            )
        });
        let mut samples = matcher.finish();
        let size = self.size.load(Ordering::Relaxed);
        if samples.len() > size {
            self.over_size
                .store((samples.len() - size) as u64, Ordering::Relaxed);
            samples.truncate(size);
        }
        let explain = self.explain.load(Ordering::Relaxed);
        for sample in &samples {
            self.alerts(sample, explain, out);
        }
    }

    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(w) = self
            .matcher_warning
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            out.push(w);
        }
        let over = self.over_size.load(Ordering::Relaxed);
        if over > 0 {
            out.push(format!(
                "{over} more sample(s) found beyond --max-signals ({}), not reported: the search's size keeps the first samples in join key order",
                self.size.load(Ordering::Relaxed)
            ));
        }
        let undocumented = self.undocumented.load(Ordering::Relaxed);
        if undocumented > 0 {
            out.push(format!(
                "{undocumented} sample(s) not reported: an event's document could not be built"
            ));
        }
        let untimed = self.untimed.load(Ordering::Relaxed);
        if untimed > 0 {
            out.push(format!(
                "{untimed} event(s) matching a sample filter have no usable timestamp and take no part in samples"
            ));
        }
        out
    }

    fn decides_in_finish(&self) -> bool {
        true
    }

    fn collects(&self, event: &dyn Event) -> bool {
        self.query.matches(event)
    }
}
