//! Kibana JSON: the rule as Kibana's detection-rule import/export (`_import`, `_export`
//! NDJSON) and create-rule API carry it, and loading such exports into the model.
//!
//! Output follows what elastic/detection-rules builds for Kibana (`to_api_format`:
//! `detection_rules/rule.py`) and Kibana's rule schema
//! (`security_solution/common/api/detection_engine/model/rule_schema/rule_schemas.schema.yaml`):
//! - `[metadata]` is dropped; `[rule]` keys keep their names and values;
//! - strings other than `query` and the Markdown fields `note`/`setup` get detection-rules'
//!   whitespace cleanup (lines stripped and joined with one space: `nested_normalize`);
//! - `threat[].technique` is always present (empty when absent);
//! - new_terms: `[rule.new_terms]` becomes `new_terms_fields` + `history_window_start`;
//! - `[transform]` entries are rendered into `note` where it says `$osquery_N` /
//!   `$investigate_N` (Python `string.Template.safe_substitute`, so `$$` becomes `$`);
//! - a `## Setup` section inside `note` moves to `setup` when the rule has no `setup`
//!   (detection-rules `_convert_add_setup`). detection-rules re-renders that section from a
//!   Markdown tree, which drops list markers and link targets; dragnet moves the raw text;
//! - `version`: detection-rules takes it from its `version.lock.json`, which is not part of
//!   a rule file; dragnet uses the rule's own `version` key and 1 when there is none;
//! - `related_integrations` / `required_fields`: detection-rules derives them at build time
//!   from package manifests and the parsed query; dragnet emits them only when the rule
//!   file has them.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity as DiagSeverity};
use crate::model::*;
use crate::parse::parse_kibana_object;
use crate::source::SourceFile;

impl Rule {
    /// The rule as Kibana's rule import/export JSON has it (see the module doc for the
    /// exact derivation from TOML).
    pub fn to_kibana_json(&self) -> Value {
        let mut o = Map::new();
        let s = |text: &str| Value::String(cleanup_whitespace(text));
        let list = |items: &[String]| Value::Array(items.iter().map(|i| s(i)).collect());

        o.insert("rule_id".into(), s(&self.rule_id));
        o.insert("name".into(), s(&self.name));
        o.insert("description".into(), s(&self.description));
        o.insert("risk_score".into(), json!(self.risk_score));
        o.insert("severity".into(), json!(self.severity.as_str()));
        o.insert("type".into(), json!(self.rule_type().as_str()));
        if let Some(lang) = self.language {
            o.insert("language".into(), json!(lang.as_str()));
        }
        if let Some(q) = &self.query {
            o.insert("query".into(), json!(q.as_str()));
        }
        if let Some(index) = &self.index {
            o.insert("index".into(), list(index));
        }
        if let Some(v) = &self.data_view_id {
            o.insert("data_view_id".into(), s(v));
        }
        if !self.filters.is_empty() {
            o.insert("filters".into(), filters_json(&self.filters));
        }
        if let Some(v) = &self.from {
            o.insert("from".into(), s(v.as_str()));
        }
        if let Some(v) = &self.to {
            o.insert("to".into(), s(v.as_str()));
        }
        if let Some(v) = &self.interval {
            o.insert("interval".into(), s(v.as_str()));
        }
        if let Some(v) = &self.timestamp_override {
            o.insert("timestamp_override".into(), s(v));
        }
        if let Some(v) = self.timestamp_override_fallback_disabled {
            o.insert("timestamp_override_fallback_disabled".into(), json!(v));
        }
        if !self.threat.is_empty() {
            o.insert("threat".into(), threat_json(&self.threat));
        }
        for (key, items) in [
            ("tags", &self.tags),
            ("references", &self.references),
            ("false_positives", &self.false_positives),
        ] {
            if !items.is_empty() {
                o.insert(key.into(), list(items));
            }
        }
        if !self.author.is_empty() {
            o.insert("author".into(), list(&self.author));
        }
        if let Some(v) = &self.license {
            o.insert("license".into(), s(v));
        }
        let (note, setup) = self.kibana_note_and_setup();
        if let Some(note) = note {
            o.insert("note".into(), json!(note));
        }
        if let Some(setup) = setup {
            o.insert("setup".into(), json!(setup));
        }
        if let Some(v) = self.max_signals {
            o.insert("max_signals".into(), json!(v));
        }
        if let Some(v) = &self.building_block_type {
            o.insert("building_block_type".into(), s(v));
        }
        if let Some(v) = self.enabled {
            o.insert("enabled".into(), json!(v));
        }
        if !self.exceptions_list.is_empty() {
            let items = self
                .exceptions_list
                .iter()
                .map(|e| {
                    json!({"id": cleanup_whitespace(&e.id), "list_id": cleanup_whitespace(&e.list_id),
                           "namespace_type": cleanup_whitespace(&e.namespace_type),
                           "type": cleanup_whitespace(&e.list_type)})
                })
                .collect();
            o.insert("exceptions_list".into(), Value::Array(items));
        }
        if let Some(fields) = &self.investigation_fields {
            o.insert(
                "investigation_fields".into(),
                json!({"field_names": list(fields)}),
            );
        }
        if let Some(a) = &self.alert_suppression {
            let mut m = Map::new();
            if !a.group_by.is_empty() || self.rule_type() != RuleType::Threshold {
                m.insert("group_by".into(), list(&a.group_by));
            }
            if let Some(d) = a.duration {
                m.insert(
                    "duration".into(),
                    json!({"value": d.value, "unit": d.unit.to_string()}),
                );
            }
            if let Some(strategy) = a.missing_fields_strategy {
                m.insert("missing_fields_strategy".into(), json!(strategy.as_str()));
            }
            o.insert("alert_suppression".into(), Value::Object(m));
        }
        if !self.risk_score_mapping.is_empty() {
            let items = self
                .risk_score_mapping
                .iter()
                .map(|m| {
                    let mut v = json!({"field": cleanup_whitespace(&m.field),
                        "operator": m.operator, "value": cleanup_whitespace(&m.value)});
                    if let Some(score) = m.risk_score {
                        v["risk_score"] = json!(score);
                    }
                    v
                })
                .collect();
            o.insert("risk_score_mapping".into(), Value::Array(items));
        }
        if !self.severity_mapping.is_empty() {
            let items = self
                .severity_mapping
                .iter()
                .map(|m| {
                    json!({"field": cleanup_whitespace(&m.field), "operator": m.operator,
                           "value": cleanup_whitespace(&m.value), "severity": m.severity.as_str()})
                })
                .collect();
            o.insert("severity_mapping".into(), Value::Array(items));
        }
        for (key, value) in [
            ("rule_name_override", &self.rule_name_override),
            ("timeline_id", &self.timeline_id),
            ("timeline_title", &self.timeline_title),
            ("throttle", &self.throttle),
            ("output_index", &self.output_index),
            ("namespace", &self.namespace),
        ] {
            if let Some(v) = value {
                o.insert(key.into(), s(v));
            }
        }
        if !self.related_integrations.is_empty() {
            let items = self
                .related_integrations
                .iter()
                .map(|i| {
                    let mut v = json!({"package": i.package, "version": i.version});
                    if let Some(integration) = &i.integration {
                        v["integration"] = json!(integration);
                    }
                    v
                })
                .collect();
            o.insert("related_integrations".into(), Value::Array(items));
        }
        if !self.required_fields.is_empty() {
            let items = self
                .required_fields
                .iter()
                .map(|f| json!({"name": f.name, "type": f.field_type, "ecs": f.ecs}))
                .collect();
            o.insert("required_fields".into(), Value::Array(items));
        }
        if !self.actions.is_empty() {
            o.insert("actions".into(), Value::Array(self.actions.clone()));
        }
        if !self.response_actions.is_empty() {
            o.insert(
                "response_actions".into(),
                Value::Array(self.response_actions.clone()),
            );
        }
        if let Some(meta) = &self.meta {
            o.insert("meta".into(), meta.clone());
        }
        if let Some(revision) = self.revision {
            o.insert("revision".into(), json!(revision));
        }
        self.insert_type_params(&mut o);
        o.insert("version".into(), json!(self.version.unwrap_or(1)));
        Value::Object(o)
    }

    fn insert_type_params(&self, o: &mut Map<String, Value>) {
        let s = |text: &str| Value::String(cleanup_whitespace(text));
        match &self.params {
            TypeParams::Query { saved_id } => {
                if let Some(id) = saved_id {
                    o.insert("saved_id".into(), s(id));
                }
            }
            TypeParams::SavedQuery { saved_id } => {
                o.insert("saved_id".into(), s(saved_id));
            }
            TypeParams::Eql {
                event_category_override,
                tiebreaker_field,
                timestamp_field,
            } => {
                for (key, value) in [
                    ("event_category_override", event_category_override),
                    ("tiebreaker_field", tiebreaker_field),
                    ("timestamp_field", timestamp_field),
                ] {
                    if let Some(v) = value {
                        o.insert(key.into(), s(v));
                    }
                }
            }
            TypeParams::Threshold(t) => {
                let mut m = Map::new();
                m.insert(
                    "field".into(),
                    Value::Array(t.field.iter().map(|f| s(f)).collect()),
                );
                m.insert("value".into(), json!(t.value));
                if !t.cardinality.is_empty() {
                    let items = t
                        .cardinality
                        .iter()
                        .map(|c| json!({"field": cleanup_whitespace(&c.field), "value": c.value}))
                        .collect();
                    m.insert("cardinality".into(), Value::Array(items));
                }
                o.insert("threshold".into(), Value::Object(m));
            }
            TypeParams::NewTerms(n) => {
                o.insert(
                    "new_terms_fields".into(),
                    Value::Array(n.fields.iter().map(|f| s(f)).collect()),
                );
                o.insert(
                    "history_window_start".into(),
                    s(n.history_window_start.as_str()),
                );
            }
            TypeParams::Esql => {}
            TypeParams::ThreatMatch(t) => {
                o.insert(
                    "threat_index".into(),
                    Value::Array(t.threat_index.iter().map(|i| s(i)).collect()),
                );
                if let Some(q) = &t.threat_query {
                    // `threat_query` is not the key `query`, so detection-rules cleans it.
                    o.insert("threat_query".into(), s(q.as_str()));
                }
                if let Some(lang) = t.threat_language {
                    o.insert("threat_language".into(), json!(lang.as_str()));
                }
                let groups = t
                    .threat_mapping
                    .iter()
                    .map(|g| {
                        let entries: Vec<Value> = g
                            .entries
                            .iter()
                            .map(|e| {
                                let mut v = json!({"field": cleanup_whitespace(&e.field),
                                    "type": e.entry_type, "value": cleanup_whitespace(&e.value)});
                                if let Some(negate) = e.negate {
                                    v["negate"] = json!(negate);
                                }
                                v
                            })
                            .collect();
                        json!({ "entries": entries })
                    })
                    .collect();
                o.insert("threat_mapping".into(), Value::Array(groups));
                if let Some(p) = &t.threat_indicator_path {
                    o.insert("threat_indicator_path".into(), s(p));
                }
                if !t.threat_filters.is_empty() {
                    o.insert("threat_filters".into(), filters_json(&t.threat_filters));
                }
                if let Some(v) = t.concurrent_searches {
                    o.insert("concurrent_searches".into(), json!(v));
                }
                if let Some(v) = t.items_per_search {
                    o.insert("items_per_search".into(), json!(v));
                }
            }
            TypeParams::MachineLearning(m) => {
                o.insert("anomaly_threshold".into(), json!(m.anomaly_threshold));
                let jobs: Vec<Value> = m.machine_learning_job_id.iter().map(|j| s(j)).collect();
                let value = if m.job_id_is_list || jobs.len() != 1 {
                    Value::Array(jobs)
                } else {
                    jobs.into_iter().next().unwrap_or(Value::Null)
                };
                o.insert("machine_learning_job_id".into(), value);
            }
        }
    }

    /// `note` with `[transform]` rendered in, and `setup` (moved out of `note` when the rule
    /// has no `setup` of its own), as detection-rules builds them.
    pub fn kibana_note_and_setup(&self) -> (Option<String>, Option<String>) {
        let mut note = self.note.clone();
        if let (Some(text), Some(transform)) = (&note, &self.transform) {
            note = Some(render_transform(text, transform));
        }
        let mut setup = self.setup.clone();
        if setup.is_none()
            && self.origin.format == RuleFormat::Toml
            && let Some(text) = &note
            && let Some((new_note, extracted)) = extract_setup(text)
        {
            note = Some(new_note);
            setup = Some(extracted);
        }
        (note, setup)
    }
}

fn threat_json(threat: &[Threat]) -> Value {
    let entry = |e: &ThreatEntry| {
        json!({"id": cleanup_whitespace(&e.id), "name": cleanup_whitespace(&e.name),
               "reference": cleanup_whitespace(&e.reference)})
    };
    Value::Array(
        threat
            .iter()
            .map(|t| {
                let techniques: Vec<Value> = t
                    .technique
                    .iter()
                    .map(|tech| {
                        let mut v = json!({"id": cleanup_whitespace(&tech.id),
                            "name": cleanup_whitespace(&tech.name),
                            "reference": cleanup_whitespace(&tech.reference)});
                        if let Some(subs) = &tech.subtechnique {
                            v["subtechnique"] = Value::Array(subs.iter().map(entry).collect());
                        }
                        v
                    })
                    .collect();
                json!({"framework": cleanup_whitespace(&t.framework), "tactic": entry(&t.tactic),
                       "technique": techniques})
            })
            .collect(),
    )
}

fn filters_json(filters: &[Filter]) -> Value {
    Value::Array(
        filters
            .iter()
            .map(|f| {
                let mut o = Map::new();
                let m = &f.meta;
                let mut meta = Map::new();
                for (key, value) in [
                    ("alias", &m.alias),
                    ("controlledBy", &m.controlled_by),
                    ("group", &m.group),
                    ("index", &m.index),
                    ("indexRefName", &m.index_ref_name),
                    ("type", &m.filter_type),
                    ("key", &m.key),
                    ("value", &m.value),
                    ("field", &m.field),
                ] {
                    if let Some(v) = value {
                        meta.insert(key.into(), json!(cleanup_whitespace(v)));
                    }
                }
                for (key, value) in [
                    ("disabled", m.disabled),
                    ("negate", m.negate),
                    ("isMultiIndex", m.is_multi_index),
                ] {
                    if let Some(v) = value {
                        meta.insert(key.into(), json!(v));
                    }
                }
                if let Some(p) = &m.params {
                    meta.insert("params".into(), normalize_json(p));
                }
                o.insert("meta".into(), Value::Object(meta));
                if let Some(store) = &f.state_store {
                    o.insert("$state".into(), json!({ "store": store }));
                }
                if let Some(q) = &f.query {
                    o.insert("query".into(), q.clone());
                }
                for (key, clause) in &f.legacy_clauses {
                    o.insert(key.clone(), normalize_json(clause));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

/// detection-rules' `nested_normalize` over free-form JSON: strings cleaned except under
/// a `query` key.
fn normalize_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(cleanup_whitespace(s)),
        Value::Array(items) => Value::Array(items.iter().map(normalize_json).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "query" {
                        v.clone()
                    } else {
                        normalize_json(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// detection-rules' `cleanup_whitespace`: strip, split into lines, strip each, join with
/// one space (Python `str.splitlines` line breaks).
pub fn cleanup_whitespace(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let breaks = [
        '\n', '\r', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\u{85}', '\u{2028}', '\u{2029}',
    ];
    let trimmed = text.trim();
    if !trimmed.contains(breaks) {
        return trimmed.to_string();
    }
    trimmed
        .split(breaks)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Substitutes `$osquery_N` / `$investigate_N` (and `${…}`) in `note` with Kibana's
/// Markdown plugin syntax `!{osquery{…}}`, with Python `Template.safe_substitute` rules.
fn render_transform(note: &str, transform: &Transform) -> String {
    let mut rendered: Vec<(String, String)> = Vec::new();
    for (i, o) in transform.osquery.iter().enumerate() {
        let mut v = json!({"label": o.label, "query": o.query});
        if let Some(m) = &o.ecs_mapping {
            v["ecs_mapping"] = m.clone();
        }
        rendered.push((
            format!("osquery_{i}"),
            format!("!{{osquery{}}}", python_json(&v)),
        ));
    }
    for (i, e) in transform.investigate.iter().enumerate() {
        let providers: Vec<Value> = e
            .providers
            .iter()
            .map(|group| {
                Value::Array(
                    group
                        .iter()
                        .map(|p| {
                            json!({"excluded": p.excluded, "field": p.field, "queryType": p.query_type,
                                   "value": p.value, "valueType": p.value_type})
                        })
                        .collect(),
                )
            })
            .collect();
        let mut v = json!({"label": e.label, "providers": providers});
        if let Some(d) = &e.description {
            v["description"] = json!(d);
        }
        if let Some(r) = &e.relative_from {
            v["relativeFrom"] = json!(r);
        }
        if let Some(r) = &e.relative_to {
            v["relativeTo"] = json!(r);
        }
        rendered.push((
            format!("investigate_{i}"),
            format!("!{{investigate{}}}", python_json(&v)),
        ));
    }
    let lookup = |name: &str| rendered.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let is_start = |c: char| c == '_' || c.is_ascii_alphabetic();
    let is_cont = |c: char| c == '_' || c.is_ascii_alphanumeric();
    let mut out = String::with_capacity(note.len());
    let mut rest = note;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{')
            && let Some(end) = inner.find('}')
            && inner[..end].starts_with(is_start)
            && inner[..end].chars().all(is_cont)
        {
            match lookup(&inner[..end]) {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[pos..pos + 2 + end + 1]),
            }
            rest = &inner[end + 1..];
        } else if after.starts_with(is_start) {
            let len = after.find(|c: char| !is_cont(c)).unwrap_or(after.len());
            match lookup(&after[..len]) {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[pos..pos + 1 + len]),
            }
            rest = &after[len..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Python `json.dumps(v, sort_keys=True, separators=(',', ':'))` (ASCII-only output).
fn python_json(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::String(s) => write_str(s, out),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
        }
    }
    fn write_str(s: &str, out: &mut String) {
        use std::fmt::Write as _;
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Moves a `Setup` section out of `note` (detection-rules `_convert_add_setup`): the text
/// after the first heading mentioning `Setup` up to the next heading of level 2 or more.
fn extract_setup(note: &str) -> Option<(String, String)> {
    let mut lines = note.split_inclusive('\n');
    let mut consumed = 0;
    // Only a level-2 heading named exactly "Setup" (case-insensitive) triggers the move.
    let has_setup_h2 = note.lines().any(|l| {
        heading_level(l) == Some(2)
            && l.trim_start_matches('#')
                .trim()
                .eq_ignore_ascii_case("setup")
    });
    if !has_setup_h2 {
        return None;
    }
    for line in lines.by_ref() {
        consumed += line.len();
        if heading_level(line).is_some() && line.contains("Setup") {
            break;
        }
    }
    let mut section = String::new();
    for line in lines {
        if heading_level(line).is_some_and(|level| level >= 2) {
            break;
        }
        section.push_str(line);
    }
    let _ = consumed;
    let setup = section.trim().to_string();
    if setup.is_empty() {
        return None;
    }
    let new_note = note
        .replace("## Setup\n\n", "")
        .replace(&setup, "")
        .trim()
        .to_string();
    Some((new_note, setup))
}

fn heading_level(line: &str) -> Option<usize> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.bytes().take_while(|b| *b == b'#').count();
    let rest = &trimmed[level..];
    ((1..=6).contains(&level) && (rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r'])))
        .then_some(level)
}

/// Loads a Kibana rule export (NDJSON: one JSON object a line). Export summary lines
/// (`exported_count`) are skipped silently; exception lists and connectors are reported as
/// skipped entries. Returns the rules, the diagnostics and how many rule lines were tried.
pub fn parse_kibana_ndjson(file: &Arc<SourceFile>) -> (Vec<Rule>, Vec<Diagnostic>, usize) {
    // A `.json` file may also hold one pretty-printed rule, or an array of rules (what the
    // rules API returns); both read as if they were export lines.
    let is_json_file = file.path().extension().is_some_and(|e| e == "json");
    if is_json_file
        && let Ok(value) = serde_json::from_str::<Value>(file.text())
        && (value.is_array() || value.as_object().is_some_and(|o| o.contains_key("rule_id")))
    {
        let whole = 0..file.text().len();
        let items = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut rules = Vec::new();
        let mut diags = Vec::new();
        for item in &items {
            let (rule, mut d) = parse_kibana_object(file, item, whole.clone());
            diags.append(&mut d);
            rules.extend(rule);
        }
        return (rules, diags, items.len());
    }
    let mut rules = Vec::new();
    let mut diags = Vec::new();
    let mut attempted = 0;
    let text = file.text();
    let mut start = 0;
    for raw_line in text.split_inclusive('\n') {
        let line_start = start;
        start += raw_line.len();
        let line = raw_line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let span = line_start..line_start + line.len();
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(err) => {
                attempted += 1;
                let col_offset = line
                    .char_indices()
                    .nth(err.column().saturating_sub(1))
                    .map_or(line.len(), |(i, _)| i);
                diags.push(Diagnostic::error(
                    DiagnosticKind::Syntax,
                    file,
                    line_start + col_offset..line_start + col_offset,
                    format!("invalid JSON: {err}"),
                ));
                continue;
            }
        };
        let Some(object) = value.as_object() else {
            attempted += 1;
            diags.push(Diagnostic::error(
                DiagnosticKind::WrongType,
                file,
                span,
                "a Kibana export line must be a JSON object",
            ));
            continue;
        };
        if object.contains_key("exported_count") {
            continue;
        }
        // Exception lists/items and connectors travel in the same export.
        let skipped = if object.contains_key("rule_id") {
            None
        } else if object.contains_key("list_id") {
            Some("exception list entry")
        } else if object.contains_key("attributes") {
            Some("saved object (connector)")
        } else {
            None
        };
        if let Some(what) = skipped {
            diags.push(Diagnostic::new(
                DiagSeverity::Warning,
                DiagnosticKind::SkippedEntry,
                file,
                span,
                format!("skipped {what}: dragnet loads only rules from Kibana exports"),
            ));
            continue;
        }
        attempted += 1;
        let (rule, mut d) = parse_kibana_object(file, &value, span);
        diags.append(&mut d);
        rules.extend(rule);
    }
    (rules, diags, attempted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_matches_python() {
        assert_eq!(cleanup_whitespace("  a\n  b  \n\nc \n"), "a b  c");
        assert_eq!(cleanup_whitespace("one line "), "one line");
        assert_eq!(cleanup_whitespace("a\r\nb"), "a b");
    }

    #[test]
    fn transform_substitution_follows_template_rules() {
        let t = Transform {
            osquery: vec![OsqueryEntry {
                label: "L é".into(),
                query: "SELECT 1".into(),
                ecs_mapping: None,
            }],
            investigate: vec![],
        };
        let out = render_transform("x $osquery_0 $$HOME $env:X ${osquery_0} $1", &t);
        let expect = r#"!{osquery{"label":"L \u00e9","query":"SELECT 1"}}"#;
        assert_eq!(out, format!("x {expect} $HOME $env:X {expect} $1"));
    }

    #[test]
    fn setup_section_moves_out_of_note() {
        let note = "## Triage\nstuff\n\n## Setup\n\nDo this.\nAnd that.\n\n### More\nx\n";
        let (n, s) = extract_setup(note).unwrap();
        assert_eq!(s, "Do this.\nAnd that.");
        assert_eq!(n, "## Triage\nstuff\n\n\n\n### More\nx");
        assert!(extract_setup("## Triage\nno setup here").is_none());
    }
}
