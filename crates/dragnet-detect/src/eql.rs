//! EQL rules (`type = "eql"`) as detectors.
//!
//! Event queries (`category where condition`) decide per event, like KQL query rules.
//! `sequence` rules see records from parallel workers in no time order. Per rule, the events
//! some step (or `until`) filter matches within `--from`/`--to` become candidates — compactly:
//! timestamp, tiebreaker, id and the ECS document as deflated JSON — and go through a
//! [`SequenceFeed`](crate::sequence_order): a bounded reorder window that runs `dragnet_eql`'s
//! streaming sequence matcher while the input is in time order (pending state expiring by
//! `maxspan`), and falls back to an external sort spilled to temporary files when it is not,
//! capped by `--max-sequence-candidates` (warned about when hit). Either way the matcher sees the
//! candidates ordered by the rule's timestamp field (then tiebreaker field, then `event.id`),
//! duplicate deliveries dropped, so the result does not depend on input or thread order.
//!
//! Each sequence gives the alerts Kibana's `buildAlertGroupFromSequence` (security_solution
//! `detection_engine/rule_types/eql/build_alert_group_from_sequence.ts`) writes: one
//! building-block alert per event (`kibana.alert.building_block_type: "default"`,
//! `kibana.alert.group.index` = its position, the event's fields and ancestors, uuid from
//! `generateBuildingBlockIds`), then a shell alert whose source is the intersection of the events'
//! documents (`objectArrayIntersection`), whose ancestors are each event and its building block,
//! whose uuid is `generateAlertId` over them, and which every alert of the group names in
//! `kibana.alert.group.id`. `sample` rules: see [`crate::eql_sample`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

use dragnet_eql::{CompileOptions, CompiledQuery, QueryKind};
use dragnet_event::{Event, FieldId, FieldTable, JsonPaths};
use dragnet_rules::{Rule, TypeParams};
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::aggregate::{first_text, time_of};
use crate::detector::{DEFAULT_MAX_SEQUENCE_CANDIDATES, Detection, Detector};
use crate::query::QueryDetector;
use crate::sequence_order::{
    Budgets, Candidate, DEFAULT_SORT_BUFFER_BYTES, DEFAULT_WINDOW_BYTES, FeedMode, Key, Matching,
    SequenceFeed,
};
#[cfg(test)]
use crate::sequence_order::{deflate, inflate};
use dragnet_alert::group::{document_id, group_ids, intersection};

pub(crate) use dragnet_event::literals::Cnf;

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
        QueryKind::Sample => {
            return crate::eql_sample::build(rule, compiled, scratch, fields, notes);
        }
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
    let cnf = compiled.required_literals();
    if compiled.kind() == QueryKind::Sequence {
        let memory = sequence_memory_override(notes);
        let detector = SequenceDetector {
            query: compiled,
            paths: JsonPaths::bind(fields),
            time_id,
            tiebreaker_id,
            // The events' own index, as query rule alerts name it (not the rule's patterns).
            index: dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
            rule_uuid: rule
                .kibana
                .as_ref()
                .and_then(|k| k.id.clone())
                .unwrap_or_else(|| rule.rule_id.clone()),
            window_bytes: memory.unwrap_or(DEFAULT_WINDOW_BYTES),
            sort_buffer_bytes: memory.unwrap_or(DEFAULT_SORT_BUFFER_BYTES),
            feed: Mutex::new(None),
            matching: Mutex::new(None),
            full: AtomicBool::new(false),
            untimed: AtomicU64::new(0),
            explain: AtomicBool::new(false),
            cap: AtomicUsize::new(DEFAULT_MAX_SEQUENCE_CANDIDATES),
            over_cap: AtomicU64::new(0),
            from_ns: AtomicI64::new(i64::MIN),
            to_ns: AtomicI64::new(i64::MAX),
            finished: Mutex::new(Finished::default()),
        };
        return Ok((Box::new(detector), cnf));
    }
    Ok((Box::new(QueryDetector::new(compiled)), cnf))
}

/// Released candidates queued before a worker feeds them to the streaming matcher.
const RELEASED_BATCH: usize = 64;
/// Released candidates queued for the streaming matcher before a worker waits to feed them.
const MAX_RELEASED_BACKLOG: usize = 4096;

/// `DRAGNET_SEQUENCE_MEMORY=BYTES`: the reorder window's and the sort buffer's budget per
/// sequence rule instead of the defaults (32 MiB each). Smaller trades memory for temporary
/// files on unordered input; tests and benchmarks use it to exercise both paths.
fn sequence_memory_override(notes: &mut Vec<String>) -> Option<usize> {
    let value = std::env::var("DRAGNET_SEQUENCE_MEMORY").ok()?;
    match value.trim().parse::<usize>() {
        Ok(bytes) if bytes > 0 => Some(bytes),
        _ => {
            notes.push(format!(
                "DRAGNET_SEQUENCE_MEMORY={value:?} is not a positive byte count; using 32 MiB"
            ));
            None
        }
    }
}

/// What a sequence rule's last [`Detector::finish`] left for [`Detector::warnings`] (and tests).
#[derive(Default)]
struct Finished {
    matcher_warning: Option<String>,
    io_error: Option<String>,
    /// Which path the feed took and how many candidates it wrote to temporary files (read by
    /// tests, which prove both paths give the same alerts).
    #[cfg_attr(not(test), allow(dead_code))]
    mode: Option<FeedMode>,
    #[cfg_attr(not(test), allow(dead_code))]
    spilled: u64,
}

/// An EQL `sequence` rule: see the module documentation.
pub struct SequenceDetector {
    query: CompiledQuery,
    /// The field table as compiled (the query's field ids), bound for candidate documents.
    paths: JsonPaths,
    time_id: FieldId,
    tiebreaker_id: Option<FieldId>,
    index: String,
    /// `kibana.alert.rule.uuid`, as the alert builder derives it.
    rule_uuid: String,
    /// Memory budgets of the feed (see [`crate::sequence_order`]).
    window_bytes: usize,
    sort_buffer_bytes: usize,
    /// Candidates on their way to the matcher; made by [`Detector::prepare`] (or the first
    /// candidate), consumed by [`Detector::finish`].
    feed: Mutex<Option<SequenceFeed>>,
    /// The streaming matcher, fed the feed's released candidates by one worker at a time
    /// ([`SequenceDetector::drain`]); `None` once the order broke.
    matching: Mutex<Option<Matching>>,
    /// The feed drops new candidates (sorting, at the cap): skip building their documents.
    full: AtomicBool,
    /// Events that could take part but have no usable timestamp (left out).
    untimed: AtomicU64,
    explain: AtomicBool,
    cap: AtomicUsize,
    /// Candidates dropped because `cap` was reached (counted at finish).
    over_cap: AtomicU64,
    /// The run's `--from` / `--to` in nanoseconds (`i64` covers years 1677-2262).
    from_ns: AtomicI64,
    to_ns: AtomicI64,
    finished: Mutex<Finished>,
}

impl SequenceDetector {
    fn in_range(&self, time_ns: i128) -> bool {
        let from = i128::from(self.from_ns.load(Ordering::Relaxed));
        let to = i128::from(self.to_ns.load(Ordering::Relaxed));
        time_ns >= from && time_ns < to
    }

    fn new_feed(&self) -> SequenceFeed {
        SequenceFeed::new(Budgets {
            window_bytes: self.window_bytes,
            sort_buffer_bytes: self.sort_buffer_bytes,
            max_candidates: self.cap.load(Ordering::Relaxed).max(1),
        })
    }

    /// Feeds released candidates to the streaming matcher. Whoever holds the matching lock
    /// takes the feed's queue batch by batch until it is empty, so candidates reach the matcher
    /// in release order while other workers keep pushing. Without `block`, a worker finding the
    /// lock taken leaves its candidates to the holder (or a later drain, or finish).
    fn drain(&self, block: bool) {
        let mut matching = if block {
            self.matching.lock().unwrap_or_else(|e| e.into_inner())
        } else {
            match self.matching.try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::WouldBlock) => return,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            }
        };
        loop {
            let (batch, streaming) = {
                let mut feed = self.feed.lock().unwrap_or_else(|e| e.into_inner());
                match feed.as_mut() {
                    Some(f) => (f.take_released(), f.is_streaming()),
                    None => (Vec::new(), false),
                }
            };
            if !streaming {
                // The order broke: the sort at the end replays everything.
                *matching = None;
                return;
            }
            if batch.is_empty() {
                return;
            }
            let m = matching.get_or_insert_with(|| Matching::new(&self.query));
            for c in &batch {
                m.feed(c, &self.paths);
            }
        }
    }

    /// The sequence detector of an EQL sequence rule with the given feed budgets (tests drive
    /// the reorder window and the spill with tiny ones).
    #[cfg(test)]
    pub(crate) fn for_tests(rule: &Rule, window_bytes: usize, sort_buffer_bytes: usize) -> Self {
        let TypeParams::Eql {
            tiebreaker_field, ..
        } = &rule.params
        else {
            panic!("not an EQL rule");
        };
        let mut fields = FieldTable::new();
        let query =
            dragnet_eql::parse(rule.query.as_ref().map_or("", |q| q.as_str())).expect("parses");
        let query = dragnet_eql::compile(&query, dragnet_schema::Schema::builtin(), &mut fields)
            .expect("compiles");
        let time_id = fields.intern("@timestamp");
        let tiebreaker_id = tiebreaker_field.as_deref().map(|f| fields.intern(f));
        Self {
            query,
            paths: JsonPaths::bind(&fields),
            time_id,
            tiebreaker_id,
            index: dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
            rule_uuid: rule.rule_id.clone(),
            window_bytes,
            sort_buffer_bytes,
            feed: Mutex::new(None),
            matching: Mutex::new(None),
            full: AtomicBool::new(false),
            untimed: AtomicU64::new(0),
            explain: AtomicBool::new(false),
            cap: AtomicUsize::new(DEFAULT_MAX_SEQUENCE_CANDIDATES),
            over_cap: AtomicU64::new(0),
            from_ns: AtomicI64::new(i64::MIN),
            to_ns: AtomicI64::new(i64::MAX),
            finished: Mutex::new(Finished::default()),
        }
    }

    /// Bytes of candidates in the feed's reorder window now.
    #[cfg(test)]
    pub(crate) fn window_bytes_now(&self) -> usize {
        let feed = self.feed.lock().unwrap_or_else(|e| e.into_inner());
        feed.as_ref().map_or(0, SequenceFeed::window_bytes)
    }

    /// The field paths candidate documents are read with.
    #[cfg(test)]
    pub(crate) fn paths(&self) -> &JsonPaths {
        &self.paths
    }

    /// Which path the last run's feed took, and how many candidates went to temporary files.
    #[cfg(test)]
    pub(crate) fn last_mode(&self) -> (Option<FeedMode>, u64) {
        let f = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        (f.mode, f.spilled)
    }
}

impl Detector for SequenceDetector {
    fn decides_in_finish(&self) -> bool {
        true
    }

    fn collects(&self, event: &dyn Event) -> bool {
        self.query.matches(event)
    }

    fn prepare(&self, options: &crate::detector::DetectorOptions) {
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
        self.over_cap.store(0, Ordering::Relaxed);
        self.untimed.store(0, Ordering::Relaxed);
        self.full.store(false, Ordering::Relaxed);
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Finished::default();
        *self.feed.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.new_feed());
        *self.matching.lock().unwrap_or_else(|e| e.into_inner()) = Some(Matching::new(&self.query));
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
        // Unordered input at the cap: skip the costly ECS document (the feed counts the drop).
        if self.full.load(Ordering::Relaxed) {
            self.over_cap.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(doc) = event.to_document() else {
            self.untimed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let candidate = Candidate {
            key: Key {
                time_ns,
                tiebreaker: self.tiebreaker_id.and_then(|f| first_text(event, f)),
                id: document_id(&doc),
            },
            doc: crate::sequence_order::deflate(&doc),
        };
        let backlog = {
            let mut feed = self.feed.lock().unwrap_or_else(|e| e.into_inner());
            let feed = feed.get_or_insert_with(|| self.new_feed());
            feed.push(candidate);
            if feed.is_full() {
                self.full.store(true, Ordering::Relaxed);
            }
            feed.released_len()
        };
        // Released candidates go to the matcher in batches (fewer lock round trips); a long
        // queue means the holder cannot keep up: wait for the matcher then.
        if backlog >= RELEASED_BATCH {
            self.drain(backlog > MAX_RELEASED_BACKLOG);
        }
    }

    fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let dropped = self.over_cap.load(Ordering::Relaxed);
        if dropped > 0 {
            out.push(format!(
                "limit max-sequence-candidates ({}) reached: the input was not in time order, so candidate events were kept for sorting, and {dropped} were not; sequences may be missing; raise it with --max-sequence-candidates N (about 1 KB of temporary disk each), give the files in time order, or narrow the input (--from/--to)",
                self.cap.load(Ordering::Relaxed)
            ));
        }
        let finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        out.extend(finished.io_error.clone());
        out.extend(finished.matcher_warning.clone());
        let untimed = self.untimed.load(Ordering::Relaxed);
        if untimed > 0 {
            out.push(format!(
                "{untimed} event(s) matching a sequence step have no usable timestamp and take no part in sequences"
            ));
        }
        out
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        let feed = self
            .feed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| self.new_feed());
        let matching = self
            .matching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| Matching::new(&self.query));
        // The same event delivered twice (overlapping trails) counts once: the feed drops
        // candidates equal in key and document.
        let result = feed.finish(&self.query, &self.paths, matching);
        self.over_cap.fetch_add(result.over_cap, Ordering::Relaxed);
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Finished {
            matcher_warning: result.matcher_warning,
            io_error: result.io_error,
            mode: Some(result.mode),
            spilled: result.spilled,
        };
        let explain = self.explain.load(Ordering::Relaxed);
        for s in result.found {
            let members: Vec<&Candidate> = s.events.iter().map(|(_, c)| c.as_ref()).collect();
            let docs: Vec<Value> = members
                .iter()
                .map(|c| crate::sequence_order::inflate(&c.doc))
                .collect();
            let times: Vec<String> = s.events.iter().map(|(t, _)| t.to_string()).collect();
            let ids: Vec<(&str, &str)> = members
                .iter()
                .map(|c| (c.key.id.as_str(), self.index.as_str()))
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
                    id: members[i].key.id.clone(),
                    index: self.index.clone(),
                    timestamp: Some(times[i].clone()),
                    explanation,
                    fields,
                });
                ancestors.push(
                    json!({"id": members[i].key.id, "type": "event", "index": self.index, "depth": 0}),
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
                    .map(|(c, t)| json!({"event.id": c.key.id, "@timestamp": t}))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_documents_round_trip_through_deflate() {
        let doc = json!({"user": {"name": "alice"}, "event": {"action": "A", "category": ["iam"]}, "n": 1.5});
        assert_eq!(inflate(&deflate(&doc)), doc);
    }
}
