//! New terms rules (`type = "new_terms"`) as a stateful [`Detector`].
//!
//! Kibana's new terms executor (security_solution `rule_types/new_terms/`) takes the terms of
//! `new_terms_fields` (one to three fields) found by the rule's query in the execution window
//! `[from, to]`, and keeps those that do not occur in the history `[history_window_start,
//! from)`; for several fields the term is the combination of one value per field (a document
//! with arrays yields every combination; a document missing a field yields none). Each new term
//! alerts once, on the earliest document of the window holding it, with
//! `kibana.alert.new_terms` = the term's values in field order. Combinations: Elastic's docs
//! ("each unique combination of values from those fields is evaluated separately", a document
//! with 3 host names and 3 user names has 9; elastic/security-docs#3943) and the composite
//! aggregation of elastic/kibana#157413. Kibana releases before that PR evaluated at most 100
//! combinations per document; dragnet evaluates all.
//!
//! Over an archive every replayed execution ([`crate::aggregate`]) is checked: execution `T`
//! checks `[T - lookback, T]` against the history `[T - (now - history_window_start), T -
//! lookback)`. Data before the first archived event is unknown, so terms first seen at the start
//! of an archive are new, as they would be for a rule enabled on an index holding only the
//! archive. An alert is identified by its source document and term, so the overlap of two
//! executions reports it once (as Kibana's deterministic alert ids do).
//!
//! Memory: each term's exact key once, the earliest and latest time of each term per execution
//! interval it occurs in ([`slot_of`]: one pass over the candidates, no per-event entry), and
//! one ECS document per term and history-length chunk of time, kept in a temporary file: an
//! alerting occurrence is preceded by a gap longer than `history - lookback`, so it is the
//! earliest of its chunk (see [`chunk_of`]). The entries are capped by
//! `--max-aggregation-entries` ([`DEFAULT_MAX_AGGREGATION_ENTRIES`]); past it, occurrences are
//! left out with a warning naming the rule and the flag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dragnet_event::{Event, FieldTable};
use dragnet_kql::CompiledQuery;
use dragnet_rules::{NewTerms, Rule};
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::aggregate::{
    AggField, DocStore, EventFields, Schedule, StoredDoc, compile_kql, format_ms, offset_ms,
};
use crate::detector::{
    DEFAULT_MAX_AGGREGATION_ENTRIES, Detection, Detector, DetectorOptions, DetectorStats,
};
use crate::exceptions::{NOT_APPLIED_NOTE, Prepared, RuleExceptions, TimeRange};
use dragnet_event::literals::Cnf;

/// The earliest document of one term in one chunk of time.
struct Kept {
    time_ms: i64,
    id: Box<str>,
    /// Where the ECS document (compact JSON) is in [`DocStore`].
    doc: StoredDoc,
}

/// A fast hash seeded per process (a fixed seed would let crafted terms collide on purpose).
type Hasher = foldhash::fast::RandomState;

#[derive(Default)]
struct State {
    /// Term key ([`term_key`]) -> term id. Exact keys: a hash collision could merge two terms
    /// and lose an alert, so none is used in place of the key.
    terms: HashMap<Box<str>, u32, Hasher>,
    /// (term, slot) -> the earliest and latest occurrence in the slot (see [`slot_of`]).
    slots: HashMap<(u32, i64), (i64, i64), Hasher>,
    docs: HashMap<(u32, i64), Kept, Hasher>,
    store: DocStore,
    /// Bytes of the term keys.
    term_bytes: u64,
    /// Events that passed the query and exceptions, with a time.
    matched: u64,
    /// Events left out at the state budget.
    over_budget: u64,
}

pub struct NewTermsDetector {
    query: CompiledQuery,
    /// The rule's exception items: an excepted event is not counted (Kibana adds them to the
    /// search as a negated filter).
    exceptions: Option<Arc<RuleExceptions>>,
    terms_fields: Vec<AggField>,
    time: EventFields,
    schedule: Schedule,
    /// `now - history_window_start`.
    history_ms: i64,
    state: Mutex<State>,
    anonymous: AtomicU64,
    explain: AtomicBool,
    /// `--from` / `--to`: new terms are reported only inside.
    range: TimeRange,
    /// `--max-aggregation-entries`: at most this many (term, slot) entries.
    budget: AtomicUsize,
}

/// Compiles a new terms rule into its detector and prefilter facts, or says why it cannot run.
pub(crate) fn build(
    rule: &Rule,
    params: &NewTerms,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
    extras: &Prepared,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    if params.fields.is_empty() || params.fields.len() > 3 {
        return Err(RuleStatus::Invalid {
            reason: format!(
                "new_terms_fields has {} fields; Kibana requires one to three",
                params.fields.len()
            ),
        });
    }
    let schedule = Schedule::of(rule, notes)?;
    let history_ms = offset_ms(&params.history_window_start)
        .map(|o| -o)
        .ok_or_else(|| RuleStatus::Invalid {
            reason: format!(
                "history_window_start = {} cannot be resolved",
                params.history_window_start.as_str()
            ),
        })?;
    if history_ms <= schedule.lookback_ms {
        return Err(RuleStatus::Invalid {
            reason: format!(
                "history_window_start = {} must be earlier than from ({} ms of look-back)",
                params.history_window_start.as_str(),
                schedule.lookback_ms
            ),
        });
    }
    let mut scratch = fields.clone();
    let (query, cnf) = compile_kql(rule, schema, &mut scratch)?;
    let terms_fields = params
        .fields
        .iter()
        .map(|f| AggField::intern(f, schema, &mut scratch))
        .collect();
    let time = EventFields::intern(rule, &mut scratch);
    *fields = scratch;
    if rule.alert_suppression.is_some() {
        notes.push("alert_suppression not applied: every new term is reported".into());
    }
    if !rule.exceptions_list.is_empty() {
        notes.push(NOT_APPLIED_NOTE.into());
    }
    let exceptions = extras.for_rule(rule, schema, fields, notes)?;
    Ok((
        Box::new(NewTermsDetector {
            query,
            exceptions,
            terms_fields,
            time,
            schedule,
            history_ms,
            state: Mutex::new(State::default()),
            anonymous: AtomicU64::new(0),
            explain: AtomicBool::new(false),
            range: extras.range,
            budget: AtomicUsize::new(DEFAULT_MAX_AGGREGATION_ENTRIES),
        }),
        cnf,
    ))
}

/// The chunk of time an occurrence belongs to for document keeping. Chunks are `history -
/// lookback` long: an alerting occurrence `t` (the earliest of its window `[T - lookback, T]`)
/// has no occurrence in `[T - history, t)`, which holds `(t - (history - lookback), t)`; so no
/// earlier occurrence shares its chunk, and keeping each chunk's earliest document suffices.
fn chunk_of(time_ms: i64, chunk_ms: i64) -> i64 {
    time_ms.div_euclid(chunk_ms.max(1))
}

/// The slot of an occurrence: the first execution at or after it, whose interval `(run -
/// interval, run]` holds it. Per term and slot only the earliest and latest occurrence are
/// kept, which [`new_term_windows`] decides on exactly as on every occurrence when `chunk_ms >=
/// interval` (else each distinct time is its own slot):
/// - the executions it replays are the slots holding an occurrence: kept;
/// - an execution `T` finds the first occurrence at or after `T - lookback` and the last one
///   before it. When no slot holds occurrences on both sides of `T - lookback`, both are a
///   slot's earliest or latest: kept. When one slot does, both true ones lie in it, less than an
///   interval apart, and the kept ones (its latest and its earliest) too; a new term needs the
///   previous occurrence before `T - history`, more than `history - lookback` (>= interval)
///   before the first: neither pair alerts.
fn slot_of(time_ms: i64, schedule: Schedule, chunk_ms: i64) -> i64 {
    if chunk_ms >= schedule.interval_ms {
        schedule.run_at_or_after(time_ms)
    } else {
        time_ms
    }
}

/// A term's values in field order as one exact key: each value preceded by its length in bytes
/// and `:` (no separator can be confused with a value's own bytes).
fn term_key(values: &[&str]) -> String {
    let mut key = String::with_capacity(values.iter().map(|v| v.len() + 4).sum());
    for v in values {
        key.push_str(&v.len().to_string());
        key.push(':');
        key.push_str(v);
    }
    key
}

/// The values of a [`term_key`].
fn term_values(mut key: &str) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((len, rest)) = key.split_once(':') {
        let Ok(len) = len.parse::<usize>() else { break };
        let Some(value) = rest.get(..len) else { break };
        out.push(value.to_string());
        key = &rest[len..];
    }
    out
}

/// Every combination of one value per field as [`term_key`]s (a composite aggregation's
/// buckets); none when a field has no value.
fn term_keys(values: &[Vec<String>]) -> Vec<String> {
    let mut combos: Vec<Vec<&str>> = vec![Vec::new()];
    for field_values in values {
        let mut next = Vec::with_capacity(combos.len() * field_values.len());
        for prefix in &combos {
            for v in field_values {
                let mut combo = prefix.clone();
                combo.push(v.as_str());
                next.push(combo);
            }
        }
        combos = next;
    }
    combos.iter().map(|c| term_key(c)).collect()
}

/// Estimated bytes of one entry of each map (key, value, the table's control byte and load).
const TERM_ENTRY_BYTES: u64 = 40;
const SLOT_ENTRY_BYTES: u64 = 40;
const DOC_ENTRY_BYTES: u64 = 80;

impl NewTermsDetector {
    fn chunk_ms(&self) -> i64 {
        self.history_ms - self.schedule.lookback_ms
    }

    fn earlier(kept: Option<&Kept>, time_ms: i64, id: &str) -> bool {
        kept.is_none_or(|k| (time_ms, id) < (k.time_ms, &*k.id))
    }
}

impl Detector for NewTermsDetector {
    fn prepare(&self, options: &DetectorOptions) {
        self.budget.store(
            options
                .max_aggregation_entries
                .unwrap_or(DEFAULT_MAX_AGGREGATION_ENTRIES),
            Ordering::Relaxed,
        );
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
        let values: Vec<Vec<String>> = self.terms_fields.iter().map(|f| f.values(event)).collect();
        let keys = term_keys(&values);
        if keys.is_empty() {
            return;
        }
        let chunk = chunk_of(time_ms, self.chunk_ms());
        let slot = slot_of(time_ms, self.schedule, self.chunk_ms());
        let budget = self.budget.load(Ordering::Relaxed);
        // The terms whose kept document this event may replace (decided on the event id, read
        // only then, below).
        let mut wanted = Vec::new();
        {
            let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let state = &mut *guard;
            state.matched += 1;
            for key in keys {
                let term = match state.terms.get(key.as_str()) {
                    Some(&term) => term,
                    None if state.slots.len() >= budget => {
                        state.over_budget += 1;
                        continue;
                    }
                    None => {
                        let term = state.terms.len() as u32;
                        state.term_bytes += key.len() as u64;
                        state.terms.insert(key.into_boxed_str(), term);
                        term
                    }
                };
                let at_budget = state.slots.len() >= budget;
                match state.slots.entry((term, slot)) {
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        let (lo, hi) = e.get_mut();
                        *lo = (*lo).min(time_ms);
                        *hi = (*hi).max(time_ms);
                    }
                    std::collections::hash_map::Entry::Vacant(_) if at_budget => {
                        state.over_budget += 1;
                        continue;
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert((time_ms, time_ms));
                    }
                }
                if state
                    .docs
                    .get(&(term, chunk))
                    .is_none_or(|k| time_ms <= k.time_ms)
                {
                    wanted.push(term);
                }
            }
        }
        if wanted.is_empty() {
            return;
        }
        let id_text: Box<str> = match self.time.event_id(event) {
            Some(id) => id.into(),
            None => {
                let n = (1u64 << 63) | self.anonymous.fetch_add(1, Ordering::Relaxed);
                format!("dragnet-anonymous-{n:x}").into()
            }
        };
        {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            wanted.retain(|&term| Self::earlier(state.docs.get(&(term, chunk)), time_ms, &id_text));
        }
        if wanted.is_empty() {
            return;
        }
        // Build the document outside the lock (only for an event that is the earliest of a
        // term so far); another worker may have kept an earlier one meanwhile.
        let doc = event.document_json().unwrap_or_else(|| "{}".to_string());
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *guard;
        let mut stored = None;
        for term in wanted {
            if Self::earlier(state.docs.get(&(term, chunk)), time_ms, &id_text) {
                let at = *stored.get_or_insert_with(|| state.store.put(doc.as_bytes()));
                state.docs.insert(
                    (term, chunk),
                    Kept {
                        time_ms,
                        id: id_text.clone(),
                        doc: at,
                    },
                );
            }
        }
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        self.finish_into(&mut |d| out.push(d));
    }

    fn finish_into(&self, sink: &mut dyn FnMut(Detection)) {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *guard;
        let mut by_id: Vec<&str> = vec![""; state.terms.len()];
        for (key, &id) in &state.terms {
            by_id[id as usize] = key;
        }
        // (term, slot, earliest, latest), in term then time order: slots are disjoint.
        let mut slots: Vec<(u32, i64, i64, i64)> = state
            .slots
            .drain()
            .map(|((term, slot), (lo, hi))| (term, slot, lo, hi))
            .collect();
        slots.sort_unstable();
        let explain = self.explain.load(Ordering::Relaxed);
        let mut start = 0;
        let mut times: Vec<i64> = Vec::new();
        while start < slots.len() {
            let term = slots[start].0;
            let end = start + slots[start..].partition_point(|s| s.0 == term);
            times.clear();
            for &(_, _, lo, hi) in &slots[start..end] {
                times.push(lo);
                if hi != lo {
                    times.push(hi);
                }
            }
            for hit in new_term_windows(&times, self.schedule, self.history_ms) {
                // Events before --from still form the history; alerts keep to the range.
                if !self.range.contains(hit.first_ms) {
                    continue;
                }
                let key = (term, chunk_of(hit.first_ms, self.chunk_ms()));
                let Some(kept) = state.docs.get(&key) else {
                    continue;
                };
                let doc = state.store.get(kept.doc);
                sink(self.detection(
                    &term_values(by_id[term as usize]),
                    kept,
                    &doc,
                    &hit,
                    explain,
                ));
            }
            start = end;
        }
    }

    fn stats(&self) -> Option<DetectorStats> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ids: u64 = state.docs.values().map(|k| k.id.len() as u64).sum();
        Some(DetectorStats {
            matched: state.matched,
            entries: state.slots.len() as u64,
            bytes: state.term_bytes
                + state.terms.len() as u64 * TERM_ENTRY_BYTES
                + state.slots.len() as u64 * SLOT_ENTRY_BYTES
                + state.docs.len() as u64 * DOC_ENTRY_BYTES
                + ids
                + state.store.memory_bytes(),
        })
    }

    fn warnings(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        if state.over_budget > 0 {
            out.push(format!(
                "limit max-aggregation-entries ({}) reached: {} term occurrence(s) were left out of this rule's state, so new terms may be missing or reported as new wrongly; raise it with --max-aggregation-entries N (about 100 bytes of memory each) or narrow the input (--from/--to)",
                self.budget.load(Ordering::Relaxed),
                state.over_budget
            ));
        }
        out.extend(state.store.warning());
        out
    }
}

impl NewTermsDetector {
    fn detection(
        &self,
        term: &[String],
        kept: &Kept,
        doc: &str,
        hit: &NewTermHit,
        explain: bool,
    ) -> Detection {
        let source: Value = serde_json::from_str(doc).unwrap_or_default();
        let timestamp = dragnet_alert::field_strings(&source, "@timestamp")
            .into_iter()
            .next()
            .unwrap_or_else(|| format_ms(kept.time_ms));
        let mut doc = match source {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        doc.insert("kibana.alert.new_terms".into(), json!(term));
        let index = match doc.get("_index").and_then(Value::as_str) {
            Some(i) => i.to_string(),
            None => dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
        };
        let explanation = explain.then(|| {
            json!({
                "window": {
                    "from": format_ms(hit.window_end_ms - self.schedule.lookback_ms),
                    "to": format_ms(hit.window_end_ms),
                },
                "history": {
                    "from": format_ms(hit.window_end_ms - self.history_ms),
                    "to": format_ms(hit.window_end_ms - self.schedule.lookback_ms),
                },
                "last_seen_before": hit.previous_ms.map(format_ms),
                "fields": self.terms_fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
            })
        });
        Detection::Document {
            ecs: Value::Object(doc),
            id: kept.id.to_string(),
            index,
            timestamp: Some(timestamp),
            explanation,
        }
    }
}

/// One execution where a term is new.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NewTermHit {
    pub window_end_ms: i64,
    /// The term's earliest occurrence in the window (the alert's source).
    pub first_ms: i64,
    /// The latest occurrence before the window, if any (older than the history).
    pub previous_ms: Option<i64>,
}

/// Replays the schedule over one term's occurrence times (sorted): the executions whose window
/// holds the term while their history does not.
pub(crate) fn new_term_windows(
    times: &[i64],
    schedule: Schedule,
    history_ms: i64,
) -> Vec<NewTermHit> {
    let mut hits: Vec<NewTermHit> = Vec::new();
    let mut entered = 0;
    while entered < times.len() {
        let run = schedule.run_at_or_after(times[entered]);
        entered += times[entered..].partition_point(|&t| t <= run);
        let from = run - schedule.lookback_ms;
        let lo = times[..entered].partition_point(|&t| t < from);
        if lo >= entered {
            continue;
        }
        let previous = lo.checked_sub(1).map(|i| times[i]);
        let history_start = run - history_ms;
        if previous.is_none_or(|p| p < history_start) {
            // The overlap of consecutive windows finds the same first occurrence again: one alert.
            if hits.last().is_none_or(|h| h.first_ms != times[lo]) {
                hits.push(NewTermHit {
                    window_end_ms: run,
                    first_ms: times[lo],
                    previous_ms: previous,
                });
            }
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MIN;

    fn sched() -> Schedule {
        Schedule {
            lookback_ms: 6 * MIN,
            interval_ms: 5 * MIN,
        }
    }

    #[test]
    fn first_occurrence_is_new() {
        let hits = new_term_windows(&[DAY + MIN], sched(), 7 * DAY);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].first_ms, DAY + MIN);
        assert_eq!(hits[0].window_end_ms, DAY + 5 * MIN);
    }

    #[test]
    fn seen_inside_history_is_not_new() {
        // Seen 3 days before: inside a 7-day history.
        assert_eq!(new_term_windows(&[DAY, 4 * DAY], sched(), 7 * DAY).len(), 1);
    }

    #[test]
    fn seen_before_history_is_new_again() {
        // Seen 8 days before: outside a 7-day history, so new again.
        let hits = new_term_windows(&[DAY, 9 * DAY], sched(), 7 * DAY);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[1].previous_ms, Some(DAY));
    }

    #[test]
    fn overlap_alerts_once_and_later_occurrences_in_the_window_do_not_alert() {
        // 4m30 is in windows ending 5m and 10m; 6m is in the second window with 4m30 -> no alert.
        let hits = new_term_windows(&[4 * MIN + 30_000, 6 * MIN], sched(), 7 * DAY);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].first_ms, 4 * MIN + 30_000);
    }

    /// Deterministic pseudo-random numbers (xorshift) for the equivalence test below.
    fn rng(seed: u64) -> impl FnMut(i64) -> i64 {
        let mut x = seed.max(1);
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as i64
        }
    }

    /// Keeping per term only each slot's earliest and latest occurrence (what `on_event`
    /// stores, whatever the arrival order) finds exactly the hits of every occurrence, for
    /// histories longer and shorter than an interval and occurrences sparse and dense.
    #[test]
    fn slot_extremes_find_the_same_hits_as_every_occurrence() {
        let schedules = [
            (sched(), 7 * DAY),
            (sched(), 6 * MIN + 30_000), // history - lookback < interval: exact times kept
            (sched(), 20 * MIN),
            (
                Schedule {
                    lookback_ms: 9 * MIN,
                    interval_ms: 5 * MIN,
                },
                30 * MIN,
            ),
            (
                Schedule {
                    lookback_ms: 60 * MIN,
                    interval_ms: 60 * MIN,
                },
                2 * DAY,
            ),
        ];
        let mut random = rng(42);
        let mut compacted_cases = 0;
        for case in 0..3000 {
            let (schedule, history_ms) = schedules[case % schedules.len()];
            let chunk_ms = history_ms - schedule.lookback_ms;
            let span = [30 * MIN, 3 * 60 * MIN, 3 * DAY, 20 * DAY][case / 5 % 4];
            let n = 1 + random(40) as usize;
            let mut times: Vec<i64> = (0..n).map(|_| DAY + random(span)).collect();
            let mut slots: HashMap<i64, (i64, i64)> = HashMap::new();
            for &t in &times {
                let e = slots
                    .entry(slot_of(t, schedule, chunk_ms))
                    .or_insert((t, t));
                e.0 = e.0.min(t);
                e.1 = e.1.max(t);
            }
            let mut kept: Vec<(i64, i64, i64)> =
                slots.into_iter().map(|(s, (lo, hi))| (s, lo, hi)).collect();
            kept.sort_unstable();
            let kept: Vec<i64> = kept
                .into_iter()
                .flat_map(|(_, lo, hi)| if lo == hi { vec![lo] } else { vec![lo, hi] })
                .collect();
            times.sort_unstable();
            if kept.len() < times.len() {
                compacted_cases += 1;
            }
            assert_eq!(
                new_term_windows(&kept, schedule, history_ms),
                new_term_windows(&times, schedule, history_ms),
                "case {case}: {times:?} kept as {kept:?}"
            );
        }
        assert!(
            compacted_cases > 500,
            "only {compacted_cases} cases compacted"
        );
    }

    #[test]
    fn term_keys_are_exact_and_come_back() {
        let values = vec![
            vec!["a:1".to_string(), "".to_string()],
            vec!["10:x".to_string()],
        ];
        let keys = term_keys(&values);
        assert_eq!(keys, ["3:a:14:10:x", "0:4:10:x"]);
        assert_eq!(term_values(&keys[0]), ["a:1", "10:x"]);
        assert_eq!(term_values(&keys[1]), ["", "10:x"]);
        // Values that would run together under a separator stay apart.
        assert_ne!(term_key(&["a", "bc"]), term_key(&["ab", "c"]));
        assert!(term_keys(&[vec!["a".into()], vec![]]).is_empty());
        assert_eq!(
            term_values(&term_key(&["\u{e9}t\u{e9}"])),
            ["\u{e9}t\u{e9}"]
        );
    }

    #[test]
    fn history_boundary() {
        // Run at 7d+5m: history [5m, 7d-1m); the previous occurrence exactly at 5m is in it.
        let run = 7 * DAY + 5 * MIN;
        assert_eq!(new_term_windows(&[5 * MIN, run], sched(), 7 * DAY).len(), 1);
        // 1 ms earlier it is outside the history: new again.
        assert_eq!(
            new_term_windows(&[5 * MIN - 1, run], sched(), 7 * DAY).len(),
            2
        );
    }
}
