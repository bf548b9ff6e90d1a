//! What the aggregating rule types (threshold, new_terms) share: the rule's schedule mapped onto
//! archived data, event times, keyword values as an aggregation sees them, and the KQL filter.
//!
//! # Mapping Kibana's schedule onto an archive
//!
//! Kibana runs a rule every `interval`; each execution searches `[now - lookback, now]` where
//! `lookback` is the distance from `now` to the rule's `from` (`now-6m` with `interval = 5m`
//! gives 1 minute of overlap with the previous execution). Over an archive dragnet replays that
//! schedule with execution times at every multiple of `interval` since the Unix epoch (UTC):
//! execution `T` sees the events with `T - lookback <= @timestamp <= T` (both ends inclusive, as
//! Kibana's `gte`/`lte` range filter). The epoch alignment stands in for the time the rule was
//! enabled, which an archive cannot know, and makes the result independent of which files are
//! read. Only executions that see at least one event not seen by the previous execution can
//! produce a new alert, so only those are evaluated.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::ops::ControlFlow;

use dragnet_event::{Event, FieldId, FieldTable, Scalar};
use dragnet_kql::CompiledQuery;
use dragnet_rules::Rule;
use jiff::Timestamp;

use crate::accounting::RuleStatus;
use dragnet_event::literals::Cnf;

/// The rule's schedule in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// `now - from`.
    pub lookback_ms: i64,
    pub interval_ms: i64,
}

/// Kibana's defaults when a rule omits them.
const DEFAULT_FROM: &str = "now-6m";
const DEFAULT_INTERVAL_MS: i64 = 5 * 60 * 1000;

impl Schedule {
    /// The schedule of `rule`: `from` (default `now-6m`) and `interval` (default `5m`).
    pub fn of(rule: &Rule, notes: &mut Vec<String>) -> Result<Schedule, RuleStatus> {
        let from = match &rule.from {
            Some(f) => f.clone(),
            None => dragnet_rules::DateMath::parse(DEFAULT_FROM).expect("valid default"),
        };
        let lookback_ms = offset_ms(&from)
            .map(|o| -o)
            .ok_or_else(|| RuleStatus::Invalid {
                reason: format!("`from = {}` cannot be resolved", from.as_str()),
            })?;
        if lookback_ms <= 0 {
            return Err(RuleStatus::Invalid {
                reason: format!("`from = {}` is not before now", from.as_str()),
            });
        }
        let interval_ms = rule
            .interval
            .as_ref()
            .map_or(DEFAULT_INTERVAL_MS, |i| i.duration().as_millis() as i64);
        if let Some(to) = &rule.to
            && to.as_str() != "now"
        {
            notes.push(format!(
                "`to = {}` ignored: look-back windows end at the execution time",
                to.as_str()
            ));
        }
        if interval_ms > lookback_ms {
            notes.push(format!(
                "interval {} is longer than the look-back {}: events between windows are never seen, as in Kibana (gaps)",
                rule.interval.as_ref().map_or("5m", |i| i.as_str()),
                from.as_str()
            ));
        }
        Ok(Schedule {
            lookback_ms,
            interval_ms,
        })
    }

    /// The first execution time at or after `t`: the smallest multiple of the interval >= `t`.
    pub fn run_at_or_after(&self, t: i64) -> i64 {
        t.div_euclid(self.interval_ms) * self.interval_ms
            + if t.rem_euclid(self.interval_ms) == 0 {
                0
            } else {
                self.interval_ms
            }
    }
}

/// The signed offset of a date-math expression from `now`, in milliseconds. Calendar units
/// (months, years) and rounding are resolved against a fixed reference instant.
pub fn offset_ms(math: &dragnet_rules::DateMath) -> Option<i64> {
    if let Some(d) = math.fixed_offset() {
        return Some(d.as_millis() as i64);
    }
    let reference = Timestamp::from_second(1_700_000_000).ok()?;
    let at = math.resolve(reference).ok()?;
    Some(at.as_millisecond() - reference.as_millisecond())
}

/// RFC 3339 with milliseconds, as Elasticsearch prints dates (`value_as_string`).
pub fn format_ms(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Parses an indexed date value: RFC 3339, a date-time without offset (UTC), or epoch millis.
pub fn parse_ms(value: Scalar<'_>) -> Option<i64> {
    match value {
        Scalar::Str(s) => s
            .parse::<Timestamp>()
            .ok()
            .or_else(|| {
                s.parse::<jiff::civil::DateTime>()
                    .ok()
                    .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp())
            })
            .map(|t| t.as_millisecond()),
        Scalar::Int(i) => Some(i),
        Scalar::Float(f) if f.is_finite() => Some(f as i64),
        _ => None,
    }
}

/// The fields every aggregating detector reads besides its own: time and identity.
pub struct EventFields {
    timestamp: FieldId,
    timestamp_override: Option<FieldId>,
    event_id: FieldId,
}

impl EventFields {
    pub fn intern(rule: &Rule, fields: &mut FieldTable) -> EventFields {
        EventFields {
            timestamp: fields.intern("@timestamp"),
            timestamp_override: rule.timestamp_override.as_deref().map(|f| fields.intern(f)),
            event_id: fields.intern("event.id"),
        }
    }

    /// The time the rule's windows filter on: `timestamp_override` when the event carries it
    /// (ECS exports with `event.ingested`), else `@timestamp` (the conventions' rule).
    pub fn time_ms(&self, event: &dyn Event) -> Option<i64> {
        self.timestamp_override
            .and_then(|f| first_time(event, f))
            .or_else(|| first_time(event, self.timestamp))
    }

    /// `event.id` (CloudTrail's `eventID`), the identity two deliveries of a record share.
    pub fn event_id(&self, event: &dyn Event) -> Option<String> {
        let mut out = None;
        let _ = event.visit(self.event_id, &mut |v| {
            out = Some(v.to_keyword().into_owned());
            ControlFlow::Break(())
        });
        out
    }
}

fn first_time(event: &dyn Event, field: FieldId) -> Option<i64> {
    let mut out = None;
    let _ = event.visit(field, &mut |v| {
        out = parse_ms(v);
        ControlFlow::Break(())
    });
    out
}

/// A field an aggregation groups on, with the `ignore_above` of its keyword mapping: longer
/// strings are not indexed, so a terms aggregation never sees them.
#[derive(Clone, Debug)]
pub struct AggField {
    pub name: String,
    pub id: FieldId,
    ignore_above: Option<u32>,
}

impl AggField {
    pub fn intern(name: &str, schema: &dragnet_schema::Schema, fields: &mut FieldTable) -> Self {
        let ignore_above = schema.get(name).and_then(|d| d.ignore_above);
        AggField {
            name: name.to_string(),
            id: fields.intern(name),
            ignore_above,
        }
    }

    /// The distinct values a terms aggregation would see for this field in `event`.
    pub fn values(&self, event: &dyn Event) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let _ = event.visit(self.id, &mut |v| {
            let k = v.to_keyword();
            let indexed = match (v, self.ignore_above) {
                (Scalar::Str(s), Some(limit)) => s.chars().count() <= limit as usize,
                _ => true,
            };
            if indexed && !out.iter().any(|o| *o == *k) {
                out.push(k.into_owned());
            }
            ControlFlow::Continue(())
        });
        out
    }
}

/// Every combination of one value per field (a composite aggregation's buckets for a document
/// with multi-valued fields). Empty when any field has no value: such documents fall in no
/// bucket.
pub fn cross_product(values: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = vec![Vec::new()];
    for field_values in values {
        let mut next = Vec::with_capacity(out.len() * field_values.len());
        for prefix in &out {
            for v in field_values {
                let mut combo = prefix.clone();
                combo.push(v.clone());
                next.push(combo);
            }
        }
        out = next;
    }
    out
}

/// A stable 64-bit hash (identity of an event within one run).
pub fn hash64(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Interns keys into dense ids so the buffered tuples stay small.
#[derive(Debug)]
pub struct Interner<K> {
    ids: HashMap<K, u32>,
    keys: Vec<K>,
}

impl<K> Default for Interner<K> {
    fn default() -> Self {
        Interner {
            ids: HashMap::new(),
            keys: Vec::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> Interner<K> {
    pub fn intern(&mut self, key: K) -> u32 {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    /// Like [`Interner::intern`], also saying whether `key` is new.
    pub fn intern_new(&mut self, key: K) -> (u32, bool) {
        let before = self.keys.len();
        let id = self.intern(key);
        (id, self.keys.len() > before)
    }

    pub fn get(&self, id: u32) -> &K {
        &self.keys[id as usize]
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The rule's KQL query (the filter every aggregation starts from) and its prefilter literals.
pub fn compile_kql(
    rule: &Rule,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
) -> Result<(CompiledQuery, Cnf), RuleStatus> {
    match rule.language {
        Some(dragnet_rules::Language::Kuery) | None => {}
        Some(other) => {
            return Err(RuleStatus::Unsupported {
                reason: format!(
                    "{} rules in the {} language are not implemented",
                    rule.rule_type().as_str(),
                    other.as_str()
                ),
            });
        }
    }
    if !rule.filters.is_empty() {
        return Err(RuleStatus::Unsupported {
            reason: "Kibana query DSL filters are not implemented (rule has `filters`)".into(),
        });
    }
    let text = rule.query.as_ref().map(|q| q.as_str()).unwrap_or("");
    let query = dragnet_kql::parse(text).map_err(|e| RuleStatus::Invalid {
        reason: format!("KQL does not parse: {e}"),
    })?;
    let compiled =
        dragnet_kql::compile(&query, schema, fields).map_err(|e| RuleStatus::Invalid {
            reason: format!("KQL does not compile: {e}"),
        })?;
    let cnf = compiled.required_literals();
    Ok((compiled, cnf))
}

/// The rule's index patterns as one string: the `_index` Kibana gives aggregation results.
pub fn index_of(rule: &Rule) -> String {
    match &rule.index {
        Some(patterns) if !patterns.is_empty() => patterns.join(","),
        _ => dragnet_alert::CLOUDTRAIL_DATA_STREAM.to_string(),
    }
}

/// The first value of `field`, as the keyword Elasticsearch would index.
pub(crate) fn first_text(event: &dyn Event, field: FieldId) -> Option<String> {
    let mut out = None;
    event.any(field, &mut |v| {
        out = Some(v.to_keyword().into_owned());
        true
    });
    out
}

pub(crate) fn time_of(event: &dyn Event, field: FieldId) -> Option<i128> {
    let mut out = None;
    event.any(field, &mut |v| {
        out = match v {
            Scalar::Str(s) => s.parse::<Timestamp>().ok().map(|t| t.as_nanosecond()),
            Scalar::Int(ms) => Some(i128::from(ms) * 1_000_000),
            _ => None,
        };
        out.is_some()
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_interval_multiples_at_or_after() {
        let s = Schedule {
            lookback_ms: 360_000,
            interval_ms: 300_000,
        };
        assert_eq!(s.run_at_or_after(0), 0);
        assert_eq!(s.run_at_or_after(1), 300_000);
        assert_eq!(s.run_at_or_after(300_000), 300_000);
        assert_eq!(s.run_at_or_after(-1), 0);
        assert_eq!(s.run_at_or_after(-300_001), -300_000);
    }

    #[test]
    fn cross_product_of_multi_valued_fields() {
        let v = vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["1".to_string(), "2".to_string()],
        ];
        assert_eq!(cross_product(&v).len(), 4);
        assert_eq!(cross_product(&v)[1], vec!["a", "2"]);
        assert!(cross_product(&[vec!["a".into()], vec![]]).is_empty());
        assert_eq!(cross_product(&[]), vec![Vec::<String>::new()]);
    }

    #[test]
    fn dates_print_with_milliseconds() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_ms(Scalar::Str("2024-01-02T03:04:05Z")),
            Some(1_704_164_645_000)
        );
    }
}

/// Where a document is in a [`DocStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredDoc {
    at: u64,
    len: u32,
    in_memory: bool,
}

/// Documents an aggregating rule keeps for the alerts it reports at the end of the run, written
/// to an anonymous temporary file (deleted by the system when closed) so that many new terms do
/// not hold their documents in memory. When no temporary file can be made or written, they stay
/// in memory and [`DocStore::warning`] says so.
#[derive(Default)]
pub struct DocStore {
    file: Option<std::io::BufWriter<std::fs::File>>,
    written: u64,
    memory: Vec<u8>,
    io_error: Option<String>,
}

impl DocStore {
    /// Stores `doc`; documents over 4 GiB are not expected (records are capped far below).
    pub fn put(&mut self, doc: &[u8]) -> StoredDoc {
        use std::io::Write;
        let len = u32::try_from(doc.len()).unwrap_or(u32::MAX);
        let doc = &doc[..len as usize];
        if self.file.is_none() && self.io_error.is_none() {
            match tempfile::tempfile() {
                Ok(f) => self.file = Some(std::io::BufWriter::with_capacity(1 << 16, f)),
                Err(e) => self.io_error = Some(e.to_string()),
            }
        }
        if let Some(file) = &mut self.file {
            match file.write_all(doc) {
                Ok(()) => {
                    let at = self.written;
                    self.written += u64::from(len);
                    return StoredDoc {
                        at,
                        len,
                        in_memory: false,
                    };
                }
                Err(e) => {
                    self.io_error = Some(e.to_string());
                    self.file = None;
                }
            }
        }
        let at = self.memory.len() as u64;
        self.memory.extend_from_slice(doc);
        StoredDoc {
            at,
            len,
            in_memory: true,
        }
    }

    /// The document at `doc` ("{}" when it cannot be read back, with a warning).
    pub fn get(&mut self, doc: StoredDoc) -> String {
        let bytes = if doc.in_memory {
            let start = doc.at as usize;
            self.memory
                .get(start..start + doc.len as usize)
                .map(<[u8]>::to_vec)
        } else {
            self.read(doc)
        };
        bytes
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| "{}".to_string())
    }

    fn read(&mut self, doc: StoredDoc) -> Option<Vec<u8>> {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        let file = self.file.as_mut()?;
        if let Err(e) = file.flush() {
            self.io_error = Some(e.to_string());
            return None;
        }
        let mut buf = vec![0; doc.len as usize];
        match file.get_ref().read_exact_at(&mut buf, doc.at) {
            Ok(()) => Some(buf),
            Err(e) => {
                self.io_error = Some(e.to_string());
                None
            }
        }
    }

    /// Bytes held in memory (documents that could not go to the temporary file, its buffer).
    pub fn memory_bytes(&self) -> u64 {
        self.memory.capacity() as u64 + self.file.as_ref().map_or(0, |f| f.capacity() as u64)
    }

    /// Why documents stayed in memory or could not be read back, if they did.
    pub fn warning(&self) -> Option<String> {
        self.io_error.as_ref().map(|e| {
            format!("the temporary file for alert documents failed ({e}): documents were kept in memory or lost; check the space in the temporary directory (TMPDIR)")
        })
    }
}

#[cfg(test)]
mod doc_store_tests {
    use super::*;

    #[test]
    fn documents_come_back_as_they_were_put() {
        let mut store = DocStore::default();
        let a = store.put(br#"{"a":1}"#);
        let b = store.put("{\"b\":\"\u{e9}\"}".as_bytes());
        assert_eq!(store.get(b), "{\"b\":\"\u{e9}\"}");
        assert_eq!(store.get(a), r#"{"a":1}"#);
        let c = store.put(b"{}");
        assert_eq!(store.get(c), "{}");
        assert!(store.warning().is_none());
        assert!(
            store.memory.is_empty(),
            "documents went to the temporary file"
        );
    }
}
