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
//! Memory: one `(term id, time, event)` tuple per matching event, plus one ECS document per term
//! and history-length chunk of time: an alerting occurrence is preceded by a gap longer than
//! `history - lookback`, so it is the earliest of its chunk (see [`chunk_of`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dragnet_event::{Event, FieldTable};
use dragnet_kql::CompiledQuery;
use dragnet_rules::{NewTerms, Rule};
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::aggregate::{
    AggField, EventFields, Interner, Schedule, compile_kql, cross_product, format_ms, hash64,
    offset_ms,
};
use crate::detector::{Detection, Detector};
use crate::exceptions::{NOT_APPLIED_NOTE, Prepared, RuleExceptions, TimeRange};
use dragnet_event::literals::Cnf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Occurrence {
    term: u32,
    time_ms: i64,
    event: u64,
}

/// The earliest document of one term in one chunk of time.
struct Kept {
    time_ms: i64,
    id: String,
    /// The ECS document as compact JSON (several times smaller than a `Value`).
    doc: Box<str>,
}

#[derive(Default)]
struct State {
    terms: Interner<Vec<String>>,
    occurrences: Vec<Occurrence>,
    docs: HashMap<(u32, i64), Kept>,
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

impl NewTermsDetector {
    fn chunk_ms(&self) -> i64 {
        self.history_ms - self.schedule.lookback_ms
    }
}

impl Detector for NewTermsDetector {
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
        let combos = cross_product(&values);
        if combos.is_empty() {
            return;
        }
        let id = self.time.event_id(event);
        let identity = match &id {
            Some(id) => hash64(id),
            None => (1 << 63) | self.anonymous.fetch_add(1, Ordering::Relaxed),
        };
        let id_text = id.unwrap_or_else(|| format!("dragnet-anonymous-{identity:x}"));
        let chunk = chunk_of(time_ms, self.chunk_ms());
        let earlier = |kept: Option<&Kept>| {
            kept.is_none_or(|k| (time_ms, id_text.as_str()) < (k.time_ms, k.id.as_str()))
        };
        let mut wanted = Vec::new();
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            for combo in combos {
                let term = state.terms.intern(combo);
                state.occurrences.push(Occurrence {
                    term,
                    time_ms,
                    event: identity,
                });
                if earlier(state.docs.get(&(term, chunk))) {
                    wanted.push(term);
                }
            }
        }
        if wanted.is_empty() {
            return;
        }
        // Build the document outside the lock; another worker may have kept an earlier one.
        let doc: Box<str> = event
            .to_document()
            .map_or_else(|| "{}".to_string(), |d| d.to_string())
            .into();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for term in wanted {
            if earlier(state.docs.get(&(term, chunk))) {
                state.docs.insert(
                    (term, chunk),
                    Kept {
                        time_ms,
                        id: id_text.clone(),
                        doc: doc.clone(),
                    },
                );
            }
        }
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut occurrences = std::mem::take(&mut state.occurrences);
        occurrences.sort_unstable();
        occurrences.dedup();
        let explain = self.explain.load(Ordering::Relaxed);
        let mut start = 0;
        while start < occurrences.len() {
            let term = occurrences[start].term;
            let end = start + occurrences[start..].partition_point(|o| o.term == term);
            let times: Vec<i64> = occurrences[start..end].iter().map(|o| o.time_ms).collect();
            for hit in new_term_windows(&times, self.schedule, self.history_ms) {
                // Events before --from still form the history; alerts keep to the range.
                if !self.range.contains(hit.first_ms) {
                    continue;
                }
                let key = (term, chunk_of(hit.first_ms, self.chunk_ms()));
                let Some(kept) = state.docs.get(&key) else {
                    continue;
                };
                out.push(self.detection(state.terms.get(term), kept, &hit, explain));
            }
            start = end;
        }
    }
}

impl NewTermsDetector {
    fn detection(
        &self,
        term: &[String],
        kept: &Kept,
        hit: &NewTermHit,
        explain: bool,
    ) -> Detection {
        let source: Value = serde_json::from_str(&kept.doc).unwrap_or_default();
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
            id: kept.id.clone(),
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
