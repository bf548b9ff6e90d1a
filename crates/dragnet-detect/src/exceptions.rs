//! Rule exceptions: Kibana exception lists (the NDJSON `_export` of lists and their items)
//! applied to the rules that reference them, so that an excepted event produces no alert.
//!
//! Semantics follow `buildExceptionFilter` in `@kbn/securitysolution-list-utils`
//! (`build_exception_filter/index.ts`): the items of the lists attached to a rule are OR'ed,
//! the entries of one item are AND'ed, and the whole filter is negated onto the rule's query.
//! Each entry becomes:
//! - `match`: `match_phrase {field: value}` (exact and case-sensitive on keyword fields, a phrase
//!   on text fields), `excluded` wraps it in `must_not`;
//! - `match_any`: a `should` of those `match_phrase` clauses;
//! - `exists`: `exists {field}`;
//! - `wildcard`: a `wildcard {field: value}` query (`*` any run, `?` one character, `\` escapes,
//!   case-sensitive);
//! - `nested`: a `nested` query whose entries must hold in one object of the nested field;
//! - `list` (large value lists): evaluated by Kibana against a stored value list, which an
//!   exception export does not contain: given with `--value-list LIST_ID=FILE` (Kibana's value
//!   list export, one value per line), the field's value must be one of them (for IP lists, a
//!   CIDR value covers its addresses); not given, the item is not applied and the rule's report
//!   says so.
//!
//! Items with `os_types` are AND'ed with `host.os.type` or `host.os.name.caseless` being one of
//! them (`transformOsType`). Items whose `expire_time` has passed are not applied, as Kibana does
//! at execution time.
//!
//! dragnet turns `match`, `match_any`, `exists` and `nested` entries into KQL (a quoted KQL value
//! compiles to exactly that `match_phrase`), so field types follow the same schema as the rules;
//! `wildcard` entries are matched here.
//!
//! Attachment: a rule gets the items of every list its `exceptions_list` names (by `list_id`).
//! Lists given with `--exceptions` that no rule references apply to every rule (a hand-written
//! exceptions file), which Kibana has no equivalent of; the run notes say so.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};

use dragnet_event::{Event, FieldId, FieldTable};
use dragnet_kql::CompiledQuery;
use dragnet_rules::Rule;
use dragnet_rules::exception_list::{Entry, ExceptionItem, ExceptionLists, ExceptionProblem};
use serde::Serialize;

use crate::accounting::RuleStatus;
use crate::aggregate::EventFields;
use crate::detector::{Detection, Detector};

/// The note other modules push when a rule references exception lists dragnet was not given.
pub const NOT_APPLIED_NOTE: &str = "exception lists live in Kibana and are not applied";

/// Everything a run takes from outside the rules: exception lists and, for indicator match
/// rules, threat indicators.
#[derive(Clone, Default)]
pub struct Extras {
    pub exceptions: Option<Arc<ExceptionSet>>,
    /// Indicator documents for `threat_match` rules (`--indicators`).
    pub indicators: Option<Arc<crate::indicators::Indicators>>,
    /// The run's `--from` / `--to` (events at or after `from`, before `to`), for the rule types
    /// that alert after the run: their alerts (and threshold counts) keep to the range, as the
    /// per-event rules' alerts do; new_terms history may reach before `from`.
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
}

/// An event an exception kept from a rule.
#[derive(Clone, Debug, Serialize)]
pub struct Suppressed {
    pub rule_id: String,
    pub rule: String,
    pub list_id: String,
    pub item_id: String,
    pub item: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// Exception lists read from Kibana exports ([`ExceptionLists`]), plus what they suppressed
/// during a run.
#[derive(Default)]
pub struct ExceptionSet {
    lists: ExceptionLists,
    /// Per (rule_id, item_id): count; the details only when the run explains.
    counts: Mutex<BTreeMap<(String, String), u64>>,
    details: Mutex<Vec<Suppressed>>,
}

impl ExceptionSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a Kibana exception list export (see [`ExceptionLists::add_ndjson`]).
    pub fn add_ndjson(&mut self, source: &str, text: &str) {
        self.lists.add_ndjson(source, text);
    }

    /// Adds a value list for the `list` entries naming `list_id`.
    pub fn add_value_list(&mut self, list_id: &str, text: &str) {
        self.lists.add_value_list(list_id, text);
    }

    /// Reads an export file.
    pub fn add_file(&mut self, path: &Path) -> std::io::Result<()> {
        self.lists.add_file(path)
    }

    pub fn items(&self) -> &[ExceptionItem] {
        self.lists.items()
    }

    pub fn problems(&self) -> &[ExceptionProblem] {
        self.lists.problems()
    }

    /// `(rule_id, item_id, events suppressed)` after a run, sorted.
    pub fn suppression_counts(&self) -> Vec<(String, String, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((r, i), n)| (r.clone(), i.clone(), *n))
            .collect()
    }

    /// Every suppressed event (recorded only when the run explains), sorted by rule, item, time.
    pub fn suppressed(&self) -> Vec<Suppressed> {
        let mut out = self
            .details
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        out.sort_by(|a, b| {
            (&a.rule_id, &a.item_id, &a.timestamp, &a.event_id).cmp(&(
                &b.rule_id,
                &b.item_id,
                &b.timestamp,
                &b.event_id,
            ))
        });
        out
    }

    fn record(&self, rule: &RuleExceptions, item: usize, event: &dyn Event, explain: bool) {
        let item = &rule.items[item].item;
        *self
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((rule.rule_id.clone(), item.item_id.clone()))
            .or_default() += 1;
        if explain {
            let timestamp = rule.time.time_ms(event).map(crate::aggregate::format_ms);
            self.details
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Suppressed {
                    rule_id: rule.rule_id.clone(),
                    rule: rule.rule_name.clone(),
                    list_id: item.list_id.clone(),
                    item_id: item.item_id.clone(),
                    item: item.name.clone(),
                    event_id: rule.time.event_id(event),
                    timestamp,
                });
        }
    }
}

/// Escapes a field name for KQL.
fn kql_field(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(
            c,
            '\\' | '(' | ')' | ':' | '<' | '>' | '"' | '*' | '{' | '}'
        ) || c.is_whitespace()
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A quoted KQL value: a `match_phrase`.
fn kql_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The KQL for `match`, `match_any`, `exists` and `nested` entries; `None` for the others.
fn entry_kql(entry: &Entry, parent: Option<&str>) -> Option<String> {
    let name = |f: &str| match parent {
        Some(p) => kql_field(&format!("{p}.{f}")),
        None => kql_field(f),
    };
    let negate = |excluded: bool, q: String| if excluded { format!("not ({q})") } else { q };
    Some(match entry {
        Entry::Match {
            field,
            value,
            excluded,
        } => negate(*excluded, format!("{}:{}", name(field), kql_quoted(value))),
        Entry::MatchAny {
            field,
            values,
            excluded,
        } => {
            let alternatives: Vec<String> = values.iter().map(|v| kql_quoted(v)).collect();
            negate(
                *excluded,
                format!("{}:({})", name(field), alternatives.join(" or ")),
            )
        }
        Entry::Exists { field, excluded } => negate(*excluded, format!("{}:*", name(field))),
        Entry::Nested { field, entries } => {
            // KQL nested queries name sub-fields relative to the path.
            let inner: Vec<String> = entries
                .iter()
                .map(|e| entry_kql(e, None).map(|q| format!("({q})")))
                .collect::<Option<_>>()?;
            format!("{}:{{ {} }}", name(field), inner.join(" and "))
        }
        Entry::Wildcard { .. } | Entry::List { .. } => return None,
    })
}

/// An ES `wildcard` pattern: `*` any run, `?` one character, `\` escapes the next character.
#[derive(Clone, Debug)]
enum Glob {
    Literal(char),
    One,
    Any,
}

fn parse_glob(pattern: &str) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Glob::Any,
            '?' => Glob::One,
            '\\' => Glob::Literal(chars.next().unwrap_or('\\')),
            c => Glob::Literal(c),
        });
    }
    out
}

/// Iterative matching with single-star backtracking: O(len(text) * len(pattern)) worst case.
fn glob_matches(pattern: &[Glob], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Glob::Literal(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Glob::One) => {
                p += 1;
                t += 1;
            }
            Some(Glob::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|g| matches!(g, Glob::Any))
}

struct WildcardClause {
    field: FieldId,
    pattern: Vec<Glob>,
    excluded: bool,
}

impl WildcardClause {
    fn holds(&self, event: &dyn Event) -> bool {
        let mut any = false;
        let _ = event.visit(self.field, &mut |v| {
            if glob_matches(&self.pattern, &v.to_keyword()) {
                any = true;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        any != self.excluded
    }
}

/// A `list` entry with its value list given: the field's value is one of the list's values (an
/// IP inside a CIDR value for IP lists).
struct ListClause {
    field: FieldId,
    values: HashSet<String>,
    networks: Vec<(std::net::IpAddr, u8)>,
    excluded: bool,
}

impl ListClause {
    fn new(field: FieldId, values: &[String], excluded: bool) -> Self {
        let mut networks = Vec::new();
        let mut exact = HashSet::new();
        for v in values {
            match v
                .split_once('/')
                .and_then(|(a, l)| Some((a.parse().ok()?, l.parse().ok()?)))
            {
                Some(net) => networks.push(net),
                None => {
                    exact.insert(v.clone());
                }
            }
        }
        ListClause {
            field,
            values: exact,
            networks,
            excluded,
        }
    }

    fn holds(&self, event: &dyn Event) -> bool {
        let mut any = false;
        let _ = event.visit(self.field, &mut |v| {
            let k = v.to_keyword();
            let hit = self.values.contains(k.as_ref())
                || k.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| self.networks.iter().any(|&(n, l)| in_network(ip, n, l)));
            if hit {
                any = true;
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        any != self.excluded
    }
}

/// Whether `ip` is inside `network/len` (same address family).
fn in_network(ip: std::net::IpAddr, network: std::net::IpAddr, len: u8) -> bool {
    use std::net::IpAddr;
    let (a, b, bits) = match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (
            u128::from(u32::from(a)) << 96,
            u128::from(u32::from(b)) << 96,
            32,
        ),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let len = u32::from(len).min(bits);
    if len == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - len);
    a & mask == b & mask
}

struct CompiledItem {
    item: ExceptionItem,
    query: Option<CompiledQuery>,
    wildcards: Vec<WildcardClause>,
    lists: Vec<ListClause>,
}

impl CompiledItem {
    fn holds(&self, event: &dyn Event) -> bool {
        self.query.as_ref().is_none_or(|q| q.matches(event))
            && self.wildcards.iter().all(|w| w.holds(event))
            && self.lists.iter().all(|l| l.holds(event))
    }
}

/// The exception items attached to one rule, compiled.
pub struct RuleExceptions {
    rule_id: String,
    rule_name: String,
    items: Vec<CompiledItem>,
    time: EventFields,
    set: Arc<ExceptionSet>,
}

impl RuleExceptions {
    /// Whether an exception item covers `event` (recording which one).
    pub fn excepts(&self, event: &dyn Event, explain: bool) -> bool {
        match self.items.iter().position(|i| i.holds(event)) {
            Some(i) => {
                self.set.record(self, i, event, explain);
                true
            }
            None => false,
        }
    }
}

/// `--from` / `--to` in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimeRange {
    from_ms: Option<i64>,
    to_ms: Option<i64>,
}

impl TimeRange {
    /// Whether `ms` is at or after `from` and before `to`.
    pub(crate) fn contains(&self, ms: i64) -> bool {
        self.from_ms.is_none_or(|f| ms >= f) && self.to_ms.is_none_or(|t| ms < t)
    }
}

/// [`Extras`] prepared for one rule set: which lists apply to which rules.
pub struct Prepared {
    set: Option<Arc<ExceptionSet>>,
    indicators: Option<Arc<crate::indicators::Indicators>>,
    pub(crate) range: TimeRange,
    /// `list_id`s some rule references.
    referenced: HashSet<String>,
}

impl Extras {
    pub fn prepare(&self, rules: &[Rule]) -> Prepared {
        Prepared {
            set: self.exceptions.clone(),
            indicators: self.indicators.clone(),
            range: TimeRange {
                from_ms: self.from.map(|t| t.as_millisecond()),
                to_ms: self.to.map(|t| t.as_millisecond()),
            },
            referenced: rules
                .iter()
                .flat_map(|r| r.exceptions_list.iter().map(|l| l.list_id.clone()))
                .collect(),
        }
    }
}

impl Prepared {
    /// The indicators given for `threat_match` rules.
    pub(crate) fn indicators(&self) -> Option<Arc<crate::indicators::Indicators>> {
        self.indicators.clone()
    }

    /// The rule's exceptions, compiled; notes say what applies and what cannot.
    pub(crate) fn for_rule(
        &self,
        rule: &Rule,
        schema: &dragnet_schema::Schema,
        fields: &mut FieldTable,
        notes: &mut Vec<String>,
    ) -> Result<Option<Arc<RuleExceptions>>, RuleStatus> {
        let Some(set) = &self.set else {
            return Ok(None);
        };
        let wanted: HashSet<&str> = rule
            .exceptions_list
            .iter()
            .map(|l| l.list_id.as_str())
            .collect();
        let now = jiff::Timestamp::now();
        let mut compiled = Vec::new();
        let mut missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|id| !set.items().iter().any(|i| i.list_id == *id))
            .collect();
        missing.sort();
        for item in set.items() {
            let applies =
                wanted.contains(item.list_id.as_str()) || !self.referenced.contains(&item.list_id);
            if !applies {
                continue;
            }
            if item.expire_time.is_some_and(|t| t < now) {
                notes.push(format!(
                    "exception item {} ({}) expired: not applied",
                    item.item_id, item.origin
                ));
                continue;
            }
            match compile_item(item, set.lists.value_lists(), schema, fields) {
                Ok(c) => compiled.push(c),
                Err(reason) => notes.push(format!(
                    "exception item {} ({}) not applied: {reason}",
                    item.item_id, item.origin
                )),
            }
        }
        notes.retain(|n| n != NOT_APPLIED_NOTE);
        if !missing.is_empty() {
            notes.push(format!(
                "exception list(s) {} referenced but not given with --exceptions: not applied",
                missing.join(", ")
            ));
        }
        if compiled.is_empty() {
            return Ok(None);
        }
        notes.push(format!("{} exception item(s) applied", compiled.len()));
        Ok(Some(Arc::new(RuleExceptions {
            rule_id: rule.rule_id.clone(),
            rule_name: rule.name.clone(),
            items: compiled,
            time: EventFields::intern(rule, fields),
            set: set.clone(),
        })))
    }

    /// Wraps a detector so that an excepted event produces no alert: per-event detectors (query,
    /// EQL event queries) drop their detections on it, detectors that decide in finish (EQL
    /// sequences and samples) never see it. Aggregating detectors apply exceptions themselves,
    /// before counting.
    pub fn wrap(
        &self,
        rule: &Rule,
        detector: Box<dyn Detector>,
        schema: &dragnet_schema::Schema,
        fields: &mut FieldTable,
        notes: &mut Vec<String>,
    ) -> Result<Box<dyn Detector>, RuleStatus> {
        use dragnet_rules::RuleType;
        if matches!(
            rule.rule_type(),
            RuleType::Threshold | RuleType::NewTerms | RuleType::ThreatMatch
        ) {
            return Ok(detector);
        }
        Ok(match self.for_rule(rule, schema, fields, notes)? {
            Some(exceptions) => Box::new(Excepted {
                inner: detector,
                exceptions,
            }),
            None => detector,
        })
    }
}

fn compile_item(
    item: &ExceptionItem,
    value_lists: &BTreeMap<String, Arc<Vec<String>>>,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
) -> Result<CompiledItem, String> {
    let mut kql: Vec<String> = Vec::new();
    let mut wildcards = Vec::new();
    let mut lists = Vec::new();
    for entry in &item.entries {
        match entry {
            Entry::List {
                field,
                list_id,
                excluded,
            } => match value_lists.get(list_id) {
                Some(values) => lists.push((field.clone(), values.clone(), *excluded)),
                None => {
                    return Err(format!(
                        "value list entry on {field} (list {list_id}): value lists are not part of an export; give it with --value-list {list_id}=FILE"
                    ));
                }
            },
            Entry::Wildcard {
                field,
                value,
                excluded,
            } => wildcards.push((field.clone(), value.clone(), *excluded)),
            other => kql.push(format!("({})", entry_kql(other, None).expect("kql entry"))),
        }
    }
    if !item.os_types.is_empty() {
        let os: Vec<String> = item.os_types.iter().map(|o| kql_quoted(o)).collect();
        let os = os.join(" or ");
        kql.push(format!(
            "(host.os.type:({os}) or host.os.name.caseless:({os}))"
        ));
    }
    let mut scratch = fields.clone();
    let query = if kql.is_empty() {
        None
    } else {
        let text = kql.join(" and ");
        let parsed = dragnet_kql::parse(&text).map_err(|e| format!("{text}: {e}"))?;
        Some(
            dragnet_kql::compile(&parsed, schema, &mut scratch)
                .map_err(|e| format!("{text}: {e}"))?,
        )
    };
    let wildcards = wildcards
        .into_iter()
        .map(|(field, value, excluded)| WildcardClause {
            field: scratch.intern(&field),
            pattern: parse_glob(&value),
            excluded,
        })
        .collect();
    let lists = lists
        .into_iter()
        .map(|(field, values, excluded)| ListClause::new(scratch.intern(&field), &values, excluded))
        .collect();
    *fields = scratch;
    Ok(CompiledItem {
        item: item.clone(),
        query,
        wildcards,
        lists,
    })
}

/// A detector with exceptions. A per-event detector has its detections on excepted events
/// dropped. A detector that decides in finish (EQL sequences and samples) never sees excepted
/// events: Kibana's EQL executor passes the exception filter to `buildEqlSearchRequest`
/// (security_solution `rule_types/eql/build_eql_search_request.ts`), which puts it in the EQL
/// search's `filter`, so Elasticsearch runs the sequence or sample over the other events only.
struct Excepted {
    inner: Box<dyn Detector>,
    exceptions: Arc<RuleExceptions>,
}

impl Detector for Excepted {
    fn on_event(&self, event: &dyn Event, explain: bool, out: &mut Vec<Detection>) {
        if self.inner.decides_in_finish() {
            // Counted only when the rule would have used the event.
            if self.inner.collects(event) && self.exceptions.excepts(event, explain) {
                return;
            }
            self.inner.on_event(event, explain, out);
            return;
        }
        let before = out.len();
        self.inner.on_event(event, explain, out);
        if out.len() > before && self.exceptions.excepts(event, explain) {
            out.truncate(before);
        }
    }

    fn decides_in_finish(&self) -> bool {
        self.inner.decides_in_finish()
    }

    fn collects(&self, event: &dyn Event) -> bool {
        self.inner.collects(event)
    }

    fn finish(&self, out: &mut Vec<Detection>) {
        self.inner.finish(out);
    }

    fn prepare(&self, options: &crate::detector::DetectorOptions) {
        self.inner.prepare(options);
    }

    fn warnings(&self) -> Vec<String> {
        self.inner.warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dragnet_rules::exception_list::parse_entry;
    use serde_json::Value;

    #[test]
    fn wildcard_semantics() {
        let m = |p: &str, t: &str| glob_matches(&parse_glob(p), t);
        assert!(m(
            "arn:aws:iam::*:role/Admin*",
            "arn:aws:iam::123:role/AdminRole"
        ));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(!m("ABC*", "abc"), "case-sensitive");
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m("*", ""));
        assert!(m("*x*y", "axbxy"));
        assert!(!m("*x*y", "axbx"));
    }

    #[test]
    fn value_list_networks() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(in_network(ip("203.0.113.99"), ip("203.0.113.0"), 24));
        assert!(!in_network(ip("203.0.114.1"), ip("203.0.113.0"), 24));
        assert!(in_network(ip("10.1.2.3"), ip("0.0.0.0"), 0));
        assert!(in_network(ip("2001:db8::1"), ip("2001:db8::"), 32));
        assert!(!in_network(ip("2001:db8::1"), ip("10.0.0.0"), 8));
    }

    #[test]
    fn entries_become_kibanas_clauses_in_kql() {
        let e = |v: Value| entry_kql(&parse_entry(&v, false).unwrap(), None).unwrap();
        assert_eq!(
            e(
                serde_json::json!({"field":"user.name","operator":"included","type":"match","value":"a\"b\\c"})
            ),
            r#"user.name:"a\"b\\c""#
        );
        assert_eq!(
            e(
                serde_json::json!({"field":"source.ip","operator":"excluded","type":"match_any","value":["1.2.3.4","5.6.7.8"]})
            ),
            r#"not (source.ip:("1.2.3.4" or "5.6.7.8"))"#
        );
        assert_eq!(
            e(serde_json::json!({"field":"user.name","operator":"excluded","type":"exists"})),
            "not (user.name:*)"
        );
        assert_eq!(
            e(
                serde_json::json!({"field":"a","type":"nested","entries":[{"field":"b","operator":"included","type":"match","value":"x"}]})
            ),
            r#"a:{ (b:"x") }"#
        );
    }

    #[test]
    fn export_lines_are_read_and_bad_lines_reported() {
        let mut set = ExceptionSet::new();
        set.add_ndjson(
            "x.ndjson",
            concat!(
                r#"{"list_id":"l1","name":"L","type":"detection","namespace_type":"single"}"#,
                "\n",
                r#"{"list_id":"l1","item_id":"i1","name":"I","entries":[{"field":"user.name","operator":"included","type":"match","value":"bob"}]}"#,
                "\nnot json\n",
                r#"{"list_id":"l1","item_id":"i2","entries":[{"field":"f","operator":"sideways","type":"match","value":"v"}]}"#,
                "\n",
                r#"{"exported_exception_list_count":1,"exported_exception_list_item_count":1}"#,
                "\n"
            ),
        );
        assert_eq!(set.items().len(), 1);
        let lines: Vec<usize> = set.problems().iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![3, 4]);
        assert!(set.problems()[1].message.contains("unknown operator"));
    }
}
