//! Indicator match rules (`type = "threat_match"`) against indicators read from a local file.
//!
//! Kibana's indicator match executor (security_solution `rule_types/indicator_match/`) searches
//! the `threat_index` with `threat_query` and `threat_filters` for indicators, then the events
//! matching the rule's `query` whose fields equal an indicator's: `threat_mapping` is an OR of
//! groups, each an AND of `{field (event), value (indicator field)}` entries (an entry with
//! `negate` must not be equal). Each alerting event gets `threat.enrichments`, one per matched
//! indicator and entry: `{indicator: <the indicator's object at threat_indicator_path>, feed:
//! {name}, matched: {atomic: <indicator value>, field: <event field>, id: <indicator _id>,
//! index: <indicator _index>, type: "indicator_match_rule"}}` (`enrichments/` and
//! `threat_enrichment` builders).
//!
//! dragnet reads the indicators with `--indicators FILE` (ECS NDJSON, e.g. an export of
//! `logs-ti_*`: bare documents or search hits with `_source`) instead of `threat_index`;
//! `threat_query` is evaluated at the time of the run (its date math, usually
//! `@timestamp >= "now-30d/d"`, is relative to now, as for a rule running now); `threat_filters`
//! of the `phrase` kind (`match_phrase`) are applied, others make the rule unsupported. Values
//! are compared as the keywords Elasticsearch indexes (exact, case-sensitive).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use dragnet_event::{Event, FieldId, FieldTable, JsonEvent, JsonPaths};
use dragnet_kql::CompiledQuery;
use dragnet_rules::{Rule, ThreatMatch};
use serde_json::{Map, Value, json};

use crate::accounting::RuleStatus;
use crate::aggregate::{EventFields, compile_kql};
use crate::detector::{Detection, Detector};
use crate::exceptions::{NOT_APPLIED_NOTE, Prepared, RuleExceptions, TimeRange};
pub use crate::indicators::Indicators;
use dragnet_alert::{field_strings, sha256_hex};
use dragnet_event::literals::Cnf;

/// One mapping entry, resolved.
struct MappingEntry {
    event_field: String,
    event_id: FieldId,
    indicator_field: String,
    negate: bool,
}

/// An indicator kept for one rule, with the values of its mapped fields.
struct Kept {
    doc: usize,
    /// Per group, per entry: the indicator's values.
    values: Vec<Vec<BTreeSet<String>>>,
}

pub struct ThreatMatchDetector {
    query: CompiledQuery,
    exceptions: Option<Arc<RuleExceptions>>,
    groups: Vec<Vec<MappingEntry>>,
    indicators: Arc<Indicators>,
    kept: Vec<Kept>,
    /// Per group: value of its first non-negated entry -> kept indicators.
    lookup: Vec<HashMap<String, Vec<usize>>>,
    indicator_path: String,
    found: Mutex<Vec<Detection>>,
    time: EventFields,
    range: TimeRange,
}

/// Compiles an indicator match rule, or says why it cannot run.
pub(crate) fn build(
    rule: &Rule,
    params: &ThreatMatch,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
    extras: &Prepared,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    let Some(indicators) = extras.indicators() else {
        return Err(RuleStatus::Unsupported {
            reason: "threat_match needs --indicators FILE (indicator documents, e.g. an export of logs-ti_*)".into(),
        });
    };
    if let Some(lang) = params.threat_language
        && lang != dragnet_rules::Language::Kuery
    {
        return Err(RuleStatus::Unsupported {
            reason: format!("threat_language {} is not implemented", lang.as_str()),
        });
    }
    if params.threat_mapping.is_empty() {
        return Err(RuleStatus::Invalid {
            reason: "threat_mapping is empty".into(),
        });
    }
    // The indicator filter: threat_query and phrase threat_filters, over the indicator docs.
    let mut clauses: Vec<String> = Vec::new();
    if let Some(q) = &params.threat_query
        && !q.as_str().trim().is_empty()
    {
        clauses.push(format!("({})", q.as_str()));
    }
    for f in &params.threat_filters {
        if f.meta.disabled == Some(true) {
            continue;
        }
        let clause = phrase_filter_kql(f).ok_or_else(|| RuleStatus::Unsupported {
            reason: "threat_filters other than match_phrase filters are not implemented".into(),
        })?;
        clauses.push(if f.meta.negate == Some(true) {
            format!("not ({clause})")
        } else {
            clause
        });
    }
    let mut indicator_fields = FieldTable::new();
    let schema_ti = indicator_schema(schema);
    let indicator_query = if clauses.is_empty() {
        None
    } else {
        let text = clauses.join(" and ");
        let parsed = dragnet_kql::parse(&text).map_err(|e| RuleStatus::Invalid {
            reason: format!("threat_query does not parse: {e}"),
        })?;
        Some(
            dragnet_kql::compile_at(
                &parsed,
                schema_ti,
                &mut indicator_fields,
                jiff::Timestamp::now(),
            )
            .map_err(|e| RuleStatus::Invalid {
                reason: format!("threat_query does not compile: {e}"),
            })?,
        )
    };
    let paths = JsonPaths::bind(&indicator_fields);

    let mut scratch = fields.clone();
    let (query, cnf) = compile_kql(rule, schema, &mut scratch)?;
    let groups: Vec<Vec<MappingEntry>> = params
        .threat_mapping
        .iter()
        .map(|g| {
            g.entries
                .iter()
                .map(|e| MappingEntry {
                    event_id: scratch.intern(&e.field),
                    event_field: e.field.clone(),
                    indicator_field: e.value.clone(),
                    negate: e.negate == Some(true),
                })
                .collect()
        })
        .collect();
    if groups
        .iter()
        .any(|g| g.is_empty() || g.iter().all(|e| e.negate))
    {
        return Err(RuleStatus::Invalid {
            reason: "every threat_mapping group needs an entry without negate".into(),
        });
    }
    let time = EventFields::intern(rule, &mut scratch);
    *fields = scratch;
    if !rule.exceptions_list.is_empty() {
        notes.push(NOT_APPLIED_NOTE.into());
    }
    let exceptions = extras.for_rule(rule, schema, fields, notes)?;

    let mut kept = Vec::new();
    let mut lookup: Vec<HashMap<String, Vec<usize>>> = vec![HashMap::new(); groups.len()];
    for (d, doc) in indicators.docs.iter().enumerate() {
        if let Some(q) = &indicator_query
            && !q.matches(&JsonEvent::new(&doc.source, &paths))
        {
            continue;
        }
        let values: Vec<Vec<BTreeSet<String>>> = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|e| {
                        field_strings(&doc.source, &e.indicator_field)
                            .into_iter()
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let k = kept.len();
        for (gi, g) in groups.iter().enumerate() {
            let first = g.iter().position(|e| !e.negate).expect("checked above");
            for v in &values[gi][first] {
                lookup[gi].entry(v.clone()).or_default().push(k);
            }
        }
        kept.push(Kept { doc: d, values });
    }
    notes.push(format!(
        "{} of {} indicator(s) pass threat_query/threat_filters",
        kept.len(),
        indicators.len()
    ));
    Ok((
        Box::new(ThreatMatchDetector {
            query,
            exceptions,
            groups,
            indicators,
            kept,
            lookup,
            indicator_path: params
                .threat_indicator_path
                .clone()
                .unwrap_or_else(|| "threat.indicator".into()),
            found: Mutex::new(Vec::new()),
            time,
            range: extras.range,
        }),
        cnf,
    ))
}

/// The schema indicator documents are read with: the ECS fields of `schema` without the
/// constants of the CloudTrail data stream (`event.module: aws`, `event.dataset:
/// aws.cloudtrail`, `data_stream.*`), which threat intel indices hold as ordinary values.
fn indicator_schema(schema: &dragnet_schema::Schema) -> &'static dragnet_schema::Schema {
    static SCHEMA: std::sync::OnceLock<dragnet_schema::Schema> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let defs = schema
            .fields()
            .iter()
            .cloned()
            .map(|mut d| {
                if d.ty == dragnet_schema::FieldType::ConstantKeyword {
                    d.ty = dragnet_schema::FieldType::Keyword;
                    d.constant_value = None;
                }
                d
            })
            .collect();
        dragnet_schema::Schema::from_defs(defs, schema.dynamic_policy())
    })
}

/// A Kibana `phrase` filter as KQL (`field:"value"`, which compiles to the same `match_phrase`).
fn phrase_filter_kql(f: &dragnet_rules::Filter) -> Option<String> {
    let q = f.query.as_ref()?;
    let mp = q.get("match_phrase")?.as_object()?;
    if mp.len() != 1 {
        return None;
    }
    let (field, value) = mp.iter().next()?;
    let value = match value {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("query")?.as_str()?.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    let escaped: String = value
        .chars()
        .flat_map(|c| {
            if matches!(c, '\\' | '"') {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect();
    Some(format!("{field}:\"{escaped}\""))
}

fn event_values(event: &dyn Event, field: FieldId) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let _ = event.visit(field, &mut |v| {
        out.insert(v.to_keyword().into_owned());
        std::ops::ControlFlow::Continue(())
    });
    out
}

/// The object at a dotted path (nested or dotted keys), as Kibana's `get(indicator, path)`.
fn object_at(doc: &Value, path: &str) -> Value {
    let mut current = doc;
    let mut nested = true;
    for seg in path.split('.') {
        match current.get(seg) {
            Some(v) => current = v,
            None => {
                nested = false;
                break;
            }
        }
    }
    if nested {
        return current.clone();
    }
    // Dotted keys (`"threat.indicator.ip": …`): gather them into an object.
    let mut out = Map::new();
    if let Value::Object(m) = doc {
        let prefix = format!("{path}.");
        for (k, v) in m {
            if let Some(rest) = k.strip_prefix(&prefix) {
                out.insert(rest.to_string(), v.clone());
            }
        }
    }
    Value::Object(out)
}

impl Detector for ThreatMatchDetector {
    fn on_event(&self, event: &dyn Event, explain: bool, _out: &mut Vec<Detection>) {
        if !self.query.matches(event) {
            return;
        }
        // --from / --to, on the time the rule's look-back filters on, as for query rules.
        if let Some(t) = self.time.time_ms(event)
            && !self.range.contains(t)
        {
            return;
        }
        // (indicator, group) pairs whose every entry holds.
        let mut matches: Vec<(usize, usize)> = Vec::new();
        for (gi, group) in self.groups.iter().enumerate() {
            let first = group.iter().position(|e| !e.negate).expect("checked");
            let mut candidates: BTreeSet<usize> = BTreeSet::new();
            for v in event_values(event, group[first].event_id) {
                if let Some(ks) = self.lookup[gi].get(&v) {
                    candidates.extend(ks.iter().copied());
                }
            }
            for k in candidates {
                let holds = group.iter().enumerate().all(|(ei, e)| {
                    let ev = event_values(event, e.event_id);
                    let shared = ev.iter().any(|v| self.kept[k].values[gi][ei].contains(v));
                    shared != e.negate
                });
                if holds {
                    matches.push((k, gi));
                }
            }
        }
        if matches.is_empty() {
            return;
        }
        if self
            .exceptions
            .as_ref()
            .is_some_and(|x| x.excepts(event, explain))
        {
            return;
        }
        let mut enrichments: Vec<Value> = Vec::new();
        let mut seen: BTreeSet<(usize, String, String)> = BTreeSet::new();
        for (k, gi) in matches {
            let kept = &self.kept[k];
            let doc = &self.indicators.docs[kept.doc];
            for (ei, e) in self.groups[gi].iter().enumerate() {
                if e.negate {
                    continue;
                }
                let ev = event_values(event, e.event_id);
                for atomic in kept.values[gi][ei].iter().filter(|v| ev.contains(*v)) {
                    if !seen.insert((k, e.event_field.clone(), atomic.clone())) {
                        continue;
                    }
                    let mut enrichment = json!({
                        "indicator": object_at(&doc.source, &self.indicator_path),
                        "matched": {
                            "atomic": atomic,
                            "field": e.event_field,
                            "id": doc.id,
                            "index": doc.index,
                            "type": "indicator_match_rule",
                        },
                    });
                    if let Some(feed) = field_strings(&doc.source, "threat.feed.name")
                        .into_iter()
                        .next()
                    {
                        enrichment["feed"] = json!({"name": feed});
                    }
                    enrichments.push(enrichment);
                }
            }
        }
        let mut ecs = event.to_document().unwrap_or_else(|| json!({}));
        let id = field_strings(&ecs, "event.id")
            .into_iter()
            .next()
            .unwrap_or_else(|| sha256_hex(ecs.to_string().as_bytes()));
        let timestamp = field_strings(&ecs, "@timestamp").into_iter().next();
        if let Value::Object(m) = &mut ecs {
            let threat = m
                .entry("threat")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(t) = threat {
                let mut all = match t.remove("enrichments") {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                all.extend(enrichments);
                t.insert("enrichments".into(), Value::Array(all));
            }
        }
        let explanation = explain.then(|| {
            json!({"indicators_matched": ecs["threat"]["enrichments"].as_array().map_or(0, Vec::len)})
        });
        self.found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Detection::Document {
                ecs,
                id,
                index: dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
                timestamp,
                explanation,
            });
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        out.append(&mut self.found.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indicator_object_nested_or_dotted() {
        let nested = json!({"threat": {"indicator": {"ip": "1.2.3.4", "type": "ipv4-addr"}}});
        assert_eq!(
            object_at(&nested, "threat.indicator"),
            json!({"ip": "1.2.3.4", "type": "ipv4-addr"})
        );
        let dotted = json!({"threat.indicator.ip": "1.2.3.4"});
        assert_eq!(
            object_at(&dotted, "threat.indicator"),
            json!({"ip": "1.2.3.4"})
        );
    }

    #[test]
    fn indicator_lines_and_problems() {
        let mut set = Indicators::new();
        set.add_ndjson(
            "ti.ndjson",
            "{\"_id\":\"a\",\"_index\":\"logs-ti_x\",\"_source\":{\"threat\":{\"indicator\":{\"ip\":\"1.2.3.4\"}}}}\n[1]\n{bad\n",
        );
        assert_eq!(set.len(), 1);
        assert_eq!(set.docs[0].id, "a");
        assert_eq!(set.docs[0].index, "logs-ti_x");
        assert_eq!(set.problems().len(), 2);
        assert!(set.problems()[0].starts_with("ti.ndjson:2:"));
    }
}
