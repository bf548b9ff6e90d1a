//! Threshold rules (`type = "threshold"`) as a stateful [`Detector`].
//!
//! Kibana's threshold executor (security_solution `rule_types/threshold/`) runs the rule's query
//! over the look-back window with a composite terms aggregation on `threshold.field` (zero to
//! three fields; a document with multi-valued fields falls in every combination, a document
//! missing a field in none), keeps the buckets with `doc_count >= threshold.value` and, when
//! `threshold.cardinality` is set, a distinct count of that field `>= cardinality.value`
//! (`build_threshold_aggregation.ts`). Each bucket becomes one alert whose source is
//! `{@timestamp: max @timestamp, <group fields>, threshold_result: {terms, cardinality, count,
//! from: min @timestamp}}` (`bulk_create_threshold_signals.ts`). So that overlapping windows do
//! not alert twice on the same events, the next executions exclude, per group, every event at
//! or before the group's last alert time (`kibana.alert.original_time`, the bucket's max
//! @timestamp: `build_signal_history.ts`, `get_threshold_bucket_filters.ts`).
//!
//! dragnet buffers one small tuple per matching event and group (time, group id, event identity,
//! cardinality value id) from the unordered workers, and replays the schedule
//! ([`crate::aggregate`]) per group in [`Detector::finish`].
//!
//! The event identity is a 64-bit hash of `event.id`, used only to count a record delivered
//! twice once: two different events would merge only if they fell in the same group at the same
//! millisecond with colliding hashes (odds about n²/2⁶⁵ for n such events), undercounting that
//! bucket by one. Group and cardinality values are exact (interned), never hashed. The tuples
//! are capped by `--max-aggregation-entries`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dragnet_event::{Event, FieldTable};
use dragnet_kql::CompiledQuery;
use dragnet_rules::{Rule, Threshold};
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::aggregate::{
    AggField, EventFields, Interner, Schedule, compile_kql, cross_product, format_ms, hash64,
    index_of,
};
use crate::detector::{
    DEFAULT_MAX_AGGREGATION_ENTRIES, Detection, Detector, DetectorOptions, DetectorStats,
};
use crate::exceptions::{NOT_APPLIED_NOTE, Prepared, RuleExceptions, TimeRange};
use dragnet_alert::sha256_hex;
use dragnet_event::literals::Cnf;

/// No cardinality value (the document lacks the cardinality field, or none is configured).
const NO_VALUE: u32 = u32::MAX;

/// One matching event in one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Tuple {
    group: u32,
    time_ms: i64,
    event: u64,
    card: u32,
}

#[derive(Default)]
struct State {
    groups: Interner<Vec<String>>,
    card_values: Interner<String>,
    tuples: Vec<Tuple>,
    /// Bytes of the group and cardinality values.
    key_bytes: u64,
    /// Events that passed the query, exceptions and time range.
    matched: u64,
    /// Tuples left out at the state budget.
    over_budget: u64,
}

pub struct ThresholdDetector {
    query: CompiledQuery,
    /// The rule's exception items: an excepted event is not counted (Kibana adds them to the
    /// search as a negated filter).
    exceptions: Option<Arc<RuleExceptions>>,
    group_by: Vec<AggField>,
    cardinality: Option<(AggField, u64)>,
    value: u64,
    time: EventFields,
    schedule: Schedule,
    rule_id: String,
    index: String,
    state: Mutex<State>,
    /// Events without an `event.id` get a run-unique identity (never merged as duplicates).
    anonymous: AtomicU64,
    explain: AtomicBool,
    /// `--from` / `--to`: events outside are not counted.
    range: TimeRange,
    /// `--max-aggregation-entries`: at most this many tuples.
    budget: AtomicUsize,
}

/// Compiles a threshold rule into its detector and prefilter facts, or says why it cannot run.
pub(crate) fn build(
    rule: &Rule,
    threshold: &Threshold,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
    extras: &Prepared,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    if threshold.field.len() > 3 {
        return Err(RuleStatus::Invalid {
            reason: format!(
                "threshold.field has {} fields; Kibana allows at most 3",
                threshold.field.len()
            ),
        });
    }
    if threshold.cardinality.len() > 1 {
        return Err(RuleStatus::Invalid {
            reason: "threshold.cardinality has more than one entry; Kibana allows one".into(),
        });
    }
    let schedule = Schedule::of(rule, notes)?;
    let mut scratch = fields.clone();
    let (query, cnf) = compile_kql(rule, schema, &mut scratch)?;
    let group_by = threshold
        .field
        .iter()
        .filter(|f| !f.trim().is_empty())
        .map(|f| AggField::intern(f, schema, &mut scratch))
        .collect();
    let cardinality = threshold
        .cardinality
        .first()
        .map(|c| (AggField::intern(&c.field, schema, &mut scratch), c.value));
    let time = EventFields::intern(rule, &mut scratch);
    *fields = scratch;
    if let Some(s) = &rule.alert_suppression
        && s.duration.is_some()
    {
        notes.push("alert_suppression not applied: every threshold group is reported".into());
    }
    if !rule.exceptions_list.is_empty() {
        notes.push(NOT_APPLIED_NOTE.into());
    }
    let exceptions = extras.for_rule(rule, schema, fields, notes)?;
    Ok((
        Box::new(ThresholdDetector {
            query,
            exceptions,
            group_by,
            cardinality,
            value: threshold.value.max(1),
            time,
            schedule,
            rule_id: rule.rule_id.clone(),
            index: index_of(rule),
            state: Mutex::new(State::default()),
            anonymous: AtomicU64::new(0),
            explain: AtomicBool::new(false),
            range: extras.range,
            budget: AtomicUsize::new(DEFAULT_MAX_AGGREGATION_ENTRIES),
        }),
        cnf,
    ))
}

/// Estimated bytes of one interned key's map and list entries besides its text.
const KEY_ENTRY_BYTES: u64 = 80;

impl Detector for ThresholdDetector {
    fn prepare(&self, options: &DetectorOptions) {
        self.budget.store(
            options
                .max_aggregation_entries
                .unwrap_or(DEFAULT_MAX_AGGREGATION_ENTRIES),
            Ordering::Relaxed,
        );
    }

    fn stats(&self) -> Option<DetectorStats> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let keys = (state.groups.len() + state.card_values.len()) as u64;
        Some(DetectorStats {
            matched: state.matched,
            entries: state.tuples.len() as u64,
            bytes: state.tuples.capacity() as u64 * std::mem::size_of::<Tuple>() as u64
                + keys * KEY_ENTRY_BYTES
                + 2 * state.key_bytes,
        })
    }

    fn warnings(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.over_budget == 0 {
            return Vec::new();
        }
        vec![format!(
            "limit max-aggregation-entries ({}) reached: {} (event, group) entries were left out of this rule's state, so threshold alerts may be missing or undercounted; raise it with --max-aggregation-entries N (about 32 bytes of memory each) or narrow the input (--from/--to)",
            self.budget.load(Ordering::Relaxed),
            state.over_budget
        )]
    }

    fn on_event(&self, event: &dyn Event, explain: bool, _out: &mut Vec<Detection>) {
        if !self.query.matches(event) {
            return;
        }
        if self
            .exceptions
            .as_ref()
            .is_some_and(|x| x.excepts(event, explain))
        {
            return;
        }
        if explain {
            self.explain.store(true, Ordering::Relaxed);
        }
        // Without a time an event falls in no window, as Kibana's range filter excludes it.
        let Some(time_ms) = self.time.time_ms(event) else {
            return;
        };
        if !self.range.contains(time_ms) {
            return;
        }
        let values: Vec<Vec<String>> = self.group_by.iter().map(|f| f.values(event)).collect();
        let groups = cross_product(&values);
        if groups.is_empty() {
            return;
        }
        let cards = match &self.cardinality {
            Some((field, _)) => field.values(event),
            None => Vec::new(),
        };
        let identity = match self.time.event_id(event) {
            Some(id) => hash64(&id),
            // Top bit set: never equal to another event's identity by construction of the
            // counter, and unlikely to collide with a hash.
            None => (1 << 63) | self.anonymous.fetch_add(1, Ordering::Relaxed),
        };
        let budget = self.budget.load(Ordering::Relaxed);
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *guard;
        state.matched += 1;
        let wanted = groups.len() * cards.len().max(1);
        if state.tuples.len() + wanted > budget {
            state.over_budget += wanted as u64;
            return;
        }
        let card_ids: Vec<u32> = cards
            .into_iter()
            .map(|c| {
                let len = c.len() as u64;
                let (id, new) = state.card_values.intern_new(c);
                state.key_bytes += if new { len } else { 0 };
                id
            })
            .collect();
        for g in groups {
            let len: u64 = g.iter().map(|v| v.len() as u64).sum();
            let (group, new) = state.groups.intern_new(g);
            state.key_bytes += if new { len } else { 0 };
            if card_ids.is_empty() {
                state.tuples.push(Tuple {
                    group,
                    time_ms,
                    event: identity,
                    card: NO_VALUE,
                });
            }
            for &card in &card_ids {
                state.tuples.push(Tuple {
                    group,
                    time_ms,
                    event: identity,
                    card,
                });
            }
        }
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut tuples = std::mem::take(&mut state.tuples);
        tuples.sort_unstable();
        // The same record delivered twice (same eventID) counts once.
        tuples.dedup();
        let explain = self.explain.load(Ordering::Relaxed);
        let mut start = 0;
        while start < tuples.len() {
            let group = tuples[start].group;
            let end = start + tuples[start..].partition_point(|t| t.group == group);
            let entries: Vec<(i64, u64, u32)> = tuples[start..end]
                .iter()
                .map(|t| (t.time_ms, t.event, t.card))
                .collect();
            let min_cardinality = self.cardinality.as_ref().map(|(_, v)| *v);
            for hit in evaluate_group(&entries, self.schedule, self.value, min_cardinality) {
                out.push(self.detection(state.groups.get(group), &hit, explain));
            }
            start = end;
        }
    }
}

impl ThresholdDetector {
    fn detection(&self, key: &[String], hit: &Hit, explain: bool) -> Detection {
        let max = format_ms(hit.max_ms);
        let terms: Vec<Value> = self
            .group_by
            .iter()
            .zip(key)
            .map(|(f, v)| json!({"field": f.name, "value": v}))
            .collect();
        let mut result = json!({
            "terms": terms,
            "count": hit.count,
            "from": format_ms(hit.min_ms),
        });
        if let Some((field, _)) = &self.cardinality {
            result["cardinality"] = json!([{"field": field.name, "value": hit.cardinality}]);
        }
        let mut doc = Map::new();
        doc.insert("@timestamp".into(), json!(max));
        for (f, v) in self.group_by.iter().zip(key) {
            doc.insert(f.name.clone(), json!(v));
        }
        doc.insert("kibana.alert.threshold_result".into(), result);
        // Kibana: uuid v5 of rule id + execution start + threshold fields + sorted bucket key
        // (`calculateThresholdSignalUuid`); here the execution is the window end.
        let mut sorted = key.to_vec();
        sorted.sort();
        let fields: Vec<&str> = self.group_by.iter().map(|f| f.name.as_str()).collect();
        let id = sha256_hex(
            format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}",
                self.rule_id,
                hit.window_end_ms,
                fields.join(","),
                sorted.join(",")
            )
            .as_bytes(),
        );
        let explanation = explain.then(|| {
            json!({
                "window": {
                    "from": format_ms(hit.window_end_ms - self.schedule.lookback_ms),
                    "to": format_ms(hit.window_end_ms),
                },
                "count": hit.count,
                "threshold": self.value,
                "cardinality": self.cardinality.as_ref().map(|(f, v)| json!({"field": f.name, "value": hit.cardinality, "threshold": v})),
            })
        });
        Detection::Document {
            ecs: Value::Object(doc),
            id,
            index: self.index.clone(),
            timestamp: Some(max),
            explanation,
        }
    }
}

/// One group over threshold in one execution window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub window_end_ms: i64,
    pub min_ms: i64,
    pub max_ms: i64,
    pub count: u64,
    pub cardinality: u64,
}

/// Replays the schedule over one group's events, `(time, event identity, cardinality value)`
/// sorted ascending and without exact duplicates (an event with several cardinality values
/// appears once per value). Returns the executions where the group alerts.
pub(crate) fn evaluate_group(
    entries: &[(i64, u64, u32)],
    schedule: Schedule,
    value: u64,
    min_cardinality: Option<u64>,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut entered = 0;
    // Kibana's signal history: events at or before the last alert's time are excluded.
    let mut last_signal = i64::MIN;
    while entered < entries.len() {
        let run = schedule.run_at_or_after(entries[entered].0);
        entered += entries[entered..].partition_point(|e| e.0 <= run);
        let from = (run - schedule.lookback_ms).max(last_signal.saturating_add(1));
        let lo = entries[..entered].partition_point(|e| e.0 < from);
        if lo >= entered {
            continue;
        }
        let window = &entries[lo..entered];
        let mut count = 0u64;
        let mut previous: Option<(i64, u64)> = None;
        let mut distinct: HashSet<u32> = HashSet::new();
        for &(t, id, card) in window {
            if previous != Some((t, id)) {
                count += 1;
                previous = Some((t, id));
            }
            if card != NO_VALUE {
                distinct.insert(card);
            }
        }
        let cardinality = distinct.len() as u64;
        if count >= value && min_cardinality.is_none_or(|min| cardinality >= min) {
            let max_ms = window[window.len() - 1].0;
            hits.push(Hit {
                window_end_ms: run,
                min_ms: window[0].0,
                max_ms,
                count,
                cardinality,
            });
            last_signal = max_ms;
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn sched() -> Schedule {
        Schedule {
            lookback_ms: 6 * MIN,
            interval_ms: 5 * MIN,
        }
    }

    fn events(times: &[i64]) -> Vec<(i64, u64, u32)> {
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, i as u64, NO_VALUE))
            .collect()
    }

    #[test]
    fn boundaries_value_minus_one_value_value_plus_one() {
        let t = [MIN, 2 * MIN, 3 * MIN];
        assert!(evaluate_group(&events(&t[..2]), sched(), 3, None).is_empty());
        let hits = evaluate_group(&events(&t), sched(), 3, None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].count, 3);
        assert_eq!(
            (hits[0].min_ms, hits[0].max_ms, hits[0].window_end_ms),
            (MIN, 3 * MIN, 5 * MIN)
        );
        let four = evaluate_group(&events(&[MIN, 2 * MIN, 3 * MIN, 4 * MIN]), sched(), 3, None);
        assert_eq!(four.len(), 1);
        assert_eq!(four[0].count, 4);
    }

    #[test]
    fn overlapping_windows_do_not_count_alerted_events_again() {
        // Window (0,5m] alerts on 3 events; the 1-minute overlap of window (4m,10m] holds the
        // event at 4m30 already alerted on, so 2 new events are not enough for a second alert.
        let t = [MIN, 2 * MIN, 4 * MIN + 30_000, 6 * MIN, 7 * MIN];
        let hits = evaluate_group(&events(&t), sched(), 3, None);
        assert_eq!(hits.len(), 1, "{hits:?}");
        // A third new event makes the second window alert with count 3, not 4.
        let t = [MIN, 2 * MIN, 4 * MIN + 30_000, 6 * MIN, 7 * MIN, 8 * MIN];
        let hits = evaluate_group(&events(&t), sched(), 3, None);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[1].count, 3);
        assert_eq!(hits[1].min_ms, 6 * MIN);
    }

    #[test]
    fn overlap_counts_unalerted_events_of_the_previous_window() {
        // 2 events at 4m30 and 4m45 (window 1: below 3), 1 at 6m: window 2 [4m,10m] sees 3.
        let t = [4 * MIN + 30_000, 4 * MIN + 45_000, 6 * MIN];
        let hits = evaluate_group(&events(&t), sched(), 3, None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].window_end_ms, 10 * MIN);
        assert_eq!(hits[0].count, 3);
    }

    #[test]
    fn window_edges_are_inclusive() {
        // [4m, 10m]: 4m (from) and 10m (to) both count.
        let t = [4 * MIN, 10 * MIN];
        let hits = evaluate_group(&events(&t), sched(), 2, None);
        assert_eq!(hits.len(), 1);
        // 3m59.999 is outside [4m,10m] and alone in (−1m,5m].
        let t = [4 * MIN - 1, 10 * MIN];
        assert!(evaluate_group(&events(&t), sched(), 2, None).is_empty());
    }

    #[test]
    fn cardinality_counts_distinct_values() {
        let e = |t: i64, id: u64, c: u32| (t, id, c);
        let entries = vec![
            e(MIN, 1, 0),
            e(MIN, 1, 1),
            e(2 * MIN, 2, 1),
            e(3 * MIN, 3, 2),
        ];
        // 3 events, values {0,1,2}.
        assert_eq!(evaluate_group(&entries, sched(), 1, Some(3)).len(), 1);
        assert_eq!(evaluate_group(&entries, sched(), 1, Some(3))[0].count, 3);
        assert!(evaluate_group(&entries, sched(), 1, Some(4)).is_empty());
        assert!(evaluate_group(&entries, sched(), 4, Some(2)).is_empty());
    }
}
