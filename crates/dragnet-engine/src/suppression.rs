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

use std::collections::HashMap;

use dragnet_event::Scalar;
use dragnet_rules::{MissingFieldsStrategy, Rule, RuleType, TypeParams};
use serde_json::{Value, json};

use dragnet_alert::{Alert, field_strings, sha256_hex};
use dragnet_detect::aggregate::{format_ms, parse_ms};

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
    execution: i64,
    docs: u64,
    start: i64,
    end: i64,
}

/// Applies every rule's suppression to the run's alerts: merges suppressed alerts into the
/// alert that absorbs them and removes them.
pub(crate) fn apply(specs: &HashMap<usize, &Suppression>, alerts: &mut Vec<Alert>) {
    if specs.is_empty() {
        return;
    }
    let time = |a: &Alert| parse_ms(Scalar::Str(&a.timestamp)).unwrap_or(i64::MIN);
    // The building blocks of an EQL sequence (`kibana.alert.group.index`) follow their shell
    // alert; only the shell is suppressed, as Kibana suppresses sequences.
    let mut order: Vec<usize> = (0..alerts.len())
        .filter(|&i| specs.contains_key(&alerts[i].rule) && !alerts[i].is_group_member())
        .collect();
    order.sort_by(|&a, &b| {
        (alerts[a].rule, time(&alerts[a]), &alerts[a].uuid).cmp(&(
            alerts[b].rule,
            time(&alerts[b]),
            &alerts[b].uuid,
        ))
    });
    let mut remove = vec![false; alerts.len()];
    let mut kept: Vec<(usize, GroupKey, Open)> = Vec::new();
    // Per (rule, group): index into `kept` of the open alert.
    let mut open: HashMap<(usize, GroupKey), usize> = HashMap::new();
    for i in order {
        let rule = alerts[i].rule;
        let spec = specs[&rule];
        let doc = alerts[i].doc();
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
            continue;
        }
        let t = time(&alerts[i]);
        let execution = spec.execution(t);
        let absorbing = open.get(&(rule, key.clone())).copied().filter(|&k| {
            let o = &kept[k].2;
            match spec.duration_ms {
                Some(d) => execution <= o.execution.saturating_add(d),
                None => execution == o.execution,
            }
        });
        match absorbing {
            Some(k) => {
                let o = &mut kept[k].2;
                o.docs += 1;
                o.start = o.start.min(t);
                o.end = o.end.max(t);
                remove[i] = true;
            }
            None => {
                open.insert((rule, key.clone()), kept.len());
                kept.push((
                    i,
                    key,
                    Open {
                        execution,
                        docs: 0,
                        start: t,
                        end: t,
                    },
                ));
            }
        }
    }
    for (i, key, o) in kept {
        let spec = specs[&alerts[i].rule];
        let terms: Vec<Value> = spec
            .group_by
            .iter()
            .zip(&key)
            .map(|(f, v)| json!({"field": f, "value": v}))
            .collect();
        let mut alert_doc = alerts[i].doc();
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
        alerts[i].set_doc(&alert_doc);
    }
    // A suppressed sequence takes its building blocks with it.
    let removed_groups: std::collections::HashSet<String> = (0..alerts.len())
        .filter(|&i| remove[i])
        .filter_map(|i| alerts[i].group_id().map(str::to_string))
        .collect();
    if !removed_groups.is_empty() {
        for (i, a) in alerts.iter().enumerate() {
            let block_of_removed =
                a.is_group_member() && a.group_id().is_some_and(|g| removed_groups.contains(g));
            if block_of_removed {
                remove[i] = true;
            }
        }
    }
    let mut index = 0;
    alerts.retain(|_| {
        let keep = !remove[index];
        index += 1;
        keep
    });
}
