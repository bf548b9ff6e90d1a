//! Alert suppression (`[rule.alert_suppression]`): alerts of one rule whose `group_by` fields
//! hold the same values are merged into the first, which counts the others.
//!
//! Kibana (security_solution `rule_types/utils/suppression_utils.ts`,
//! `bulk_create_with_suppression.ts`, rule_registry `create_persistence_rule_type_wrapper.ts`):
//! - Without `duration`, suppression is per rule execution: within one execution the earliest
//!   alert of each group is written, with `kibana.alert.suppression.docs_count` = the number of
//!   other alerts of the group, `.start`/`.end` = the earliest/latest event time, `.terms` =
//!   `[{field, value}]` (value: the field's values, `null` when missing).
//! - With `duration`, an open alert of the same group (same `kibana.alert.instance.id`) created
//!   less than `duration` before the current execution absorbs the new alerts (its `docs_count`
//!   grows, its `end` moves); afterwards the next alert of the group starts a new window.
//! - `missing_fields_strategy`: `suppress` (default) groups the alerts missing a `group_by`
//!   field together; `doNotSuppress` writes each such alert on its own, without suppression.
//! - Threshold rules suppress per threshold group (their `threshold.field`), with a `duration`.
//!
//! Over an archive, the execution that creates an alert is the first replayed execution that sees
//! its event ([`crate::aggregate`]: the smallest multiple of `interval` at or after the event's
//! time); a suppression window opened by an alert created at execution `T` takes the alerts of
//! executions up to `T + duration`.

use std::collections::{HashMap, HashSet, VecDeque};

use dragnet_event::Scalar;
use dragnet_rules::{MissingFieldsStrategy, Rule, RuleType, TypeParams};
use serde_json::{Value, json};

use dragnet_alert::{Alert, field_strings, sha256_hex};
use dragnet_detect::aggregate::{format_ms, parse_ms};

use crate::alert_store::Entry;

/// The note the detectors leave when suppression is configured (replaced once it applies).
const NOT_APPLIED_PREFIX: &str = "alert_suppression not applied";

/// One rule's suppression settings.
#[derive(Clone, Debug)]
pub(crate) struct Suppression {
    group_by: Vec<String>,
    duration_ms: Option<i64>,
    missing: MissingFieldsStrategy,
    interval_ms: i64,
}

impl Suppression {
    /// The rule's suppression, when it has one dragnet applies.
    pub(crate) fn of(rule: &Rule) -> Option<Suppression> {
        let s = rule.alert_suppression.as_ref()?;
        let group_by = match (&rule.params, rule.rule_type()) {
            (TypeParams::Threshold(t), _) => {
                // Kibana suppresses threshold alerts only over a duration.
                s.duration?;
                t.field.clone()
            }
            (
                _,
                RuleType::Query
                | RuleType::SavedQuery
                | RuleType::Eql
                | RuleType::NewTerms
                | RuleType::ThreatMatch,
            ) => s.group_by.clone(),
            _ => return None,
        };
        Some(Suppression {
            group_by,
            duration_ms: s.duration.map(|d| d.as_duration().as_millis() as i64),
            missing: s
                .missing_fields_strategy
                .unwrap_or(MissingFieldsStrategy::Suppress),
            interval_ms: rule
                .interval
                .as_ref()
                .map_or(5 * 60_000, |i| i.duration().as_millis() as i64)
                .max(1),
        })
    }

    /// Replaces the detectors' "not applied" note with what applies.
    pub(crate) fn notes(rule: &Rule, notes: &mut Vec<String>) {
        let Some(s) = Self::of(rule) else {
            return;
        };
        notes.retain(|n| !n.starts_with(NOT_APPLIED_PREFIX));
        let window = match s.duration_ms {
            Some(ms) => format!("for {} s after each alert", ms / 1000),
            None => "per rule execution".to_string(),
        };
        notes.push(format!(
            "alerts suppressed by [{}] {window} (missing fields: {})",
            s.group_by.join(", "),
            s.missing.as_str()
        ));
    }

    fn execution(&self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.interval_ms) * self.interval_ms
            + if time_ms.rem_euclid(self.interval_ms) == 0 {
                0
            } else {
                self.interval_ms
            }
    }
}

/// The group an alert falls in: per field, its sorted values, or `None` when missing.
type GroupKey = Vec<Option<Vec<String>>>;

/// The open (absorbing) alert of a group.
struct Open {
    entry: Entry,
    key: GroupKey,
    execution: i64,
    docs: u64,
    start: i64,
    end: i64,
    /// Tells this open alert from a later one of the same group in the expiry queue.
    generation: u64,
}

/// The time suppression windows are computed on.
pub(crate) fn time_ms(a: &Alert) -> i64 {
    parse_ms(Scalar::Str(&a.timestamp)).unwrap_or(i64::MIN)
}

/// Applies every rule's suppression to a stream of deduplicated alerts of suppressed rules
/// (sequence building blocks excepted: they follow their shell), given in (rule, time, uuid)
/// order: the order [`crate::run`] sorts them in. Alerts come out as soon as no later alert
/// can be suppressed into them, so memory holds the groups open in one suppression window.
pub(crate) struct Suppressor<'s> {
    specs: &'s HashMap<usize, &'s Suppression>,
    rule: Option<usize>,
    open: HashMap<GroupKey, Open>,
    /// (last execution the open alert absorbs, its group, its generation), in opening order:
    /// executions never decrease within a rule, so neither do these.
    expiry: VecDeque<(i64, GroupKey, u64)>,
    generation: u64,
    /// The groups (sequences) whose shell alert was suppressed: their building blocks go too.
    removed_groups: HashSet<String>,
}

impl<'s> Suppressor<'s> {
    pub(crate) fn new(specs: &'s HashMap<usize, &'s Suppression>) -> Self {
        Suppressor {
            specs,
            rule: None,
            open: HashMap::new(),
            expiry: VecDeque::new(),
            generation: 0,
            removed_groups: HashSet::new(),
        }
    }

    /// Takes the next alert; pushes the alerts that are complete onto `out`.
    pub(crate) fn push(&mut self, entry: Entry, out: &mut Vec<Entry>) {
        let rule = entry.alert.rule;
        if self.rule != Some(rule) {
            self.close_all(out);
            self.rule = Some(rule);
        }
        let Some(spec) = self.specs.get(&rule).copied() else {
            out.push(entry);
            return;
        };
        let doc = entry.alert.doc();
        let key: GroupKey = spec
            .group_by
            .iter()
            .map(|f| {
                let mut v = field_strings(&doc, f);
                v.sort();
                v.dedup();
                (!v.is_empty()).then_some(v)
            })
            .collect();
        if key.iter().any(Option::is_none) && spec.missing == MissingFieldsStrategy::DoNotSuppress {
            out.push(entry);
            return;
        }
        let t = time_ms(&entry.alert);
        let execution = spec.execution(t);
        // Open alerts whose window ended before this execution absorb nothing more.
        while let Some((last, _, _)) = self.expiry.front() {
            if *last >= execution {
                break;
            }
            let (_, key, generation) = self.expiry.pop_front().expect("front exists");
            if self
                .open
                .get(&key)
                .is_some_and(|o| o.generation == generation)
            {
                let o = self.open.remove(&key).expect("checked");
                out.push(close(spec, o));
            }
        }
        let absorbs = |o: &Open| match spec.duration_ms {
            Some(d) => execution <= o.execution.saturating_add(d),
            None => execution == o.execution,
        };
        if let Some(o) = self.open.get_mut(&key).filter(|o| absorbs(o)) {
            o.docs += 1;
            o.start = o.start.min(t);
            o.end = o.end.max(t);
            if let Some(group) = entry.alert.group_id() {
                self.removed_groups.insert(group.to_string());
            }
            return;
        }
        if let Some(previous) = self.open.remove(&key) {
            out.push(close(spec, previous));
        }
        self.generation += 1;
        let last = match spec.duration_ms {
            Some(d) => execution.saturating_add(d),
            None => execution,
        };
        self.expiry.push_back((last, key.clone(), self.generation));
        self.open.insert(
            key.clone(),
            Open {
                entry,
                key,
                execution,
                docs: 0,
                start: t,
                end: t,
                generation: self.generation,
            },
        );
    }

    fn close_all(&mut self, out: &mut Vec<Entry>) {
        let Some(spec) = self.rule.and_then(|r| self.specs.get(&r).copied()) else {
            return;
        };
        // In opening order, so output does not depend on hashing.
        for (_, key, generation) in std::mem::take(&mut self.expiry) {
            if self
                .open
                .get(&key)
                .is_some_and(|o| o.generation == generation)
            {
                let o = self.open.remove(&key).expect("checked");
                out.push(close(spec, o));
            }
        }
        self.open.clear();
    }

    /// Completes the open alerts; returns the groups whose shell was suppressed.
    pub(crate) fn finish(mut self, out: &mut Vec<Entry>) -> HashSet<String> {
        self.close_all(out);
        self.removed_groups
    }
}

/// The alert that absorbed a group, with Kibana's suppression fields.
fn close(spec: &Suppression, o: Open) -> Entry {
    let terms: Vec<Value> = spec
        .group_by
        .iter()
        .zip(&o.key)
        .map(|(f, v)| json!({"field": f, "value": v}))
        .collect();
    let mut entry = o.entry;
    let mut alert_doc = entry.alert.doc();
    let rule_uuid = alert_doc["kibana.alert.rule.uuid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let instance = sha256_hex(format!("{rule_uuid}\u{1f}{}", json!(terms)).as_bytes());
    if let Value::Object(doc) = &mut alert_doc {
        doc.insert("kibana.alert.instance.id".into(), json!(instance));
        doc.insert("kibana.alert.suppression.terms".into(), json!(terms));
        doc.insert("kibana.alert.suppression.docs_count".into(), json!(o.docs));
        doc.insert(
            "kibana.alert.suppression.start".into(),
            json!(format_ms(o.start)),
        );
        doc.insert(
            "kibana.alert.suppression.end".into(),
            json!(format_ms(o.end)),
        );
    }
    entry.alert.set_doc(&alert_doc);
    entry
}
