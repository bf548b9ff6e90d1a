//! How Elasticsearch types a field that no mapping defines, from the first value it sees.

use std::borrow::Cow;

use serde_json::Value;

use crate::glob_match;
use crate::types::{FieldDef, FieldType, MultiField, Origin};

/// Which dynamic-mapping rules apply to unmapped fields.
///
/// - [`LogsDataStream`](DynamicPolicy::LogsDataStream) (default): an Elastic integration data
///   stream such as `logs-aws.cloudtrail-*`. Fleet composes its index template of
///   `logs@mappings`, `logs@settings`, the package templates, then `ecs@mappings` (Kibana
///   `fleet/server/services/epm/elasticsearch/template/template.ts`, `getTemplate`:
///   `composed_of = [logs@mappings, logs@settings, …package…, ecs@mappings, …]`).
///   `logs@mappings` sets `date_detection: false`; `ecs@mappings` (Elasticsearch
///   `x-pack/plugin/core/template-resources/src/main/resources/ecs@mappings.json`) holds
///   name-based dynamic templates (`@timestamp` date, `message`/`*.message` match_only_text,
///   `*.ip` ip, `*.name`… keyword with a `text` match_only_text sub-field, `*.timestamp`… date,
///   …) and ends with `all_strings_to_keywords`: any other string -> `keyword`,
///   `ignore_above: 1024`. So an unknown string field is a keyword, not text.
/// - [`PlainIndex`](DynamicPolicy::PlainIndex): an index with no templates. Elasticsearch's
///   default dynamic field mapping (reference, "Dynamic field mapping",
///   <https://www.elastic.co/guide/en/elasticsearch/reference/current/dynamic-field-mapping.html>):
///   `true`/`false` -> boolean, integer -> long, floating point -> float, object -> object,
///   array -> the first non-null value, null -> no field, a string that passes date detection
///   (`dynamic_date_formats` default `["strict_date_optional_time", "yyyy/MM/dd HH:mm:ss
///   Z||yyyy/MM/dd Z"]`) -> date, any other string -> `text` with a `keyword` sub-field,
///   `ignore_above: 256`. Numeric detection is off by default. Strings that parse as a number
///   are never date-detected (`DynamicFieldsBuilder.createDynamicFieldFromValue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DynamicPolicy {
    #[default]
    LogsDataStream,
    PlainIndex,
}

/// The JSON kind dynamic templates match on (`match_mapping_type`).
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    String,
    Long,
    Double,
    Boolean,
    Object,
}

fn kind_of(value: &Value) -> Option<Kind> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(Kind::Boolean),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Kind::Long),
        Value::Number(_) => Some(Kind::Double),
        Value::String(_) => Some(Kind::String),
        Value::Object(_) => Some(Kind::Object),
        Value::Array(items) => items.iter().find_map(kind_of),
    }
}

fn first_string(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Array(items) => items.iter().find(|v| !v.is_null()).and_then(first_string),
        _ => None,
    }
}

fn with_text_subfield(mut def: FieldDef) -> FieldDef {
    def.multi_fields.push(MultiField {
        name: Cow::Borrowed("text"),
        ty: FieldType::MatchOnlyText,
        ignore_above: None,
        normalizer: None,
    });
    def
}

/// One `ecs@mappings` dynamic template: patterns on the full path (`path_match`) or on the
/// leaf name (`match`), optional `match_mapping_type`.
struct Template {
    path_match: &'static [&'static str],
    leaf_match: &'static [&'static str],
    path_unmatch: &'static [&'static str],
    kind: Option<Kind>,
    build: fn(&str) -> FieldDef,
}

fn def(name: &str, ty: FieldType) -> FieldDef {
    FieldDef::new(name.to_string(), ty, Origin::Dynamic)
}

/// `ecs@mappings` dynamic templates, in order (first match wins).
const ECS_TEMPLATES: &[Template] = &[
    Template {
        path_match: &[],
        leaf_match: &["@timestamp"],
        path_unmatch: &[],
        kind: None,
        build: |n| def(n, FieldType::Date),
    },
    Template {
        path_match: &["message", "*.message"],
        leaf_match: &[],
        path_unmatch: &[],
        kind: None,
        build: |n| def(n, FieldType::MatchOnlyText),
    },
    Template {
        path_match: &["ip", "*.ip", "*_ip"],
        leaf_match: &[],
        path_unmatch: &[],
        kind: Some(Kind::String),
        build: |n| def(n, FieldType::Ip),
    },
    Template {
        path_match: &[
            "*.io.text",
            "*.message_id",
            "*registry.data.strings",
            "*url.path",
        ],
        leaf_match: &[],
        path_unmatch: &[],
        kind: None,
        build: |n| def(n, FieldType::Wildcard),
    },
    Template {
        path_match: &["*.body.content", "*url.full", "*url.original"],
        leaf_match: &[],
        path_unmatch: &[],
        kind: None,
        build: |n| with_text_subfield(def(n, FieldType::Wildcard)),
    },
    Template {
        path_match: &[],
        leaf_match: &["*command_line", "*stack_trace"],
        path_unmatch: &[],
        kind: None,
        build: |n| with_text_subfield(def(n, FieldType::Wildcard)),
    },
    Template {
        path_match: &[
            "*.title",
            "*.executable",
            "*.name",
            "*.working_directory",
            "*.full_name",
            "*file.path",
            "*file.target_path",
            "*os.full",
            "email.subject",
            "vulnerability.description",
            "user_agent.original",
        ],
        leaf_match: &[],
        path_unmatch: &[],
        kind: None,
        build: |n| with_text_subfield(def(n, FieldType::Keyword)),
    },
    Template {
        path_match: &[
            "*.timestamp",
            "*_timestamp",
            "*.not_after",
            "*.not_before",
            "*.accessed",
            "created",
            "*.created",
            "*.installed",
            "*.creation_date",
            "*.ctime",
            "*.mtime",
            "ingested",
            "*.ingested",
            "*.start",
            "*.end",
        ],
        leaf_match: &[],
        path_unmatch: &[],
        kind: None,
        build: |n| def(n, FieldType::Date),
    },
    Template {
        path_match: &["*.score.*", "*_score*"],
        leaf_match: &[],
        path_unmatch: &["*.version"],
        kind: None,
        build: |n| def(n, FieldType::Float),
    },
    Template {
        path_match: &["*.usage"],
        leaf_match: &[],
        path_unmatch: &[],
        kind: Some(Kind::Double),
        build: scaled_usage,
    },
    Template {
        path_match: &["*.usage"],
        leaf_match: &[],
        path_unmatch: &[],
        kind: Some(Kind::Long),
        build: scaled_usage,
    },
    Template {
        path_match: &["location", "*.location"],
        leaf_match: &[],
        path_unmatch: &[],
        kind: None,
        build: |n| def(n, FieldType::GeoPoint),
    },
    Template {
        path_match: &["*structured_data", "*exports", "*imports"],
        leaf_match: &[],
        path_unmatch: &[],
        kind: None,
        build: |n| def(n, FieldType::Flattened),
    },
    Template {
        path_match: &[],
        leaf_match: &["*"],
        path_unmatch: &[],
        kind: Some(Kind::String),
        build: |n| {
            let mut d = def(n, FieldType::Keyword);
            d.ignore_above = Some(1024);
            d
        },
    },
];

fn scaled_usage(name: &str) -> FieldDef {
    let mut d = def(name, FieldType::ScaledFloat);
    d.scaling_factor = Some(1000.0);
    d
}

impl Template {
    fn matches(&self, path: &str, kind: Kind) -> bool {
        if self.kind.is_some_and(|k| k != kind) {
            return false;
        }
        // An object only takes a template whose mapping can hold an object.
        let built_ty = (self.build)(path).ty;
        if kind == Kind::Object && !matches!(built_ty, FieldType::Flattened | FieldType::GeoPoint) {
            return false;
        }
        let leaf = path.rsplit('.').next().unwrap_or(path);
        let named = self.path_match.iter().any(|p| glob_match(p, path))
            || self.leaf_match.iter().any(|p| glob_match(p, leaf));
        named && !self.path_unmatch.iter().any(|p| glob_match(p, path))
    }
}

impl DynamicPolicy {
    /// The definition Elasticsearch would create for field `name` (full dotted path) whose first
    /// value is `value`; `None` when no field would be created (null, empty array).
    pub fn type_for(self, name: &str, value: &Value) -> Option<FieldDef> {
        let kind = kind_of(value)?;
        match self {
            DynamicPolicy::PlainIndex => Some(plain_index(name, kind, value)),
            DynamicPolicy::LogsDataStream => Some(
                ECS_TEMPLATES
                    .iter()
                    .find(|t| t.matches(name, kind))
                    .map(|t| (t.build)(name))
                    // logs@mappings: date_detection false, so no string becomes a date here.
                    .unwrap_or_else(|| default_for(name, kind)),
            ),
        }
    }
}

fn plain_index(name: &str, kind: Kind, value: &Value) -> FieldDef {
    let is_date = kind == Kind::String && first_string(value).is_some_and(is_dynamic_date);
    if is_date {
        def(name, FieldType::Date)
    } else {
        default_for(name, kind)
    }
}

/// Elasticsearch's built-in choice when no template applies.
fn default_for(name: &str, kind: Kind) -> FieldDef {
    match kind {
        Kind::Boolean => def(name, FieldType::Boolean),
        Kind::Long => def(name, FieldType::Long),
        Kind::Double => def(name, FieldType::Float),
        Kind::Object => def(name, FieldType::Object),
        Kind::String => {
            let mut d = def(name, FieldType::Text);
            d.multi_fields.push(MultiField {
                name: Cow::Borrowed("keyword"),
                ty: FieldType::Keyword,
                ignore_above: Some(256),
                normalizer: None,
            });
            d
        }
    }
}

/// How a plain index (no templates) maps an unmapped field: see
/// [`DynamicPolicy::PlainIndex`]. Use [`DynamicPolicy::type_for`] for the data-stream rules.
pub fn dynamic_type_for(name: &str, value: &Value) -> Option<FieldDef> {
    DynamicPolicy::PlainIndex.type_for(name, value)
}

/// Whether date detection with the default `dynamic_date_formats` makes `text` a date:
/// `strict_date_optional_time` (`yyyy[-MM[-dd[THH[:mm[:ss[.fraction]]]][offset]]]`,
/// digits exact) or `yyyy/MM/dd[ HH:mm:ss][ Z]`. Strings that parse as a number never are.
pub fn is_dynamic_date(text: &str) -> bool {
    if text.parse::<i64>().is_ok() || text.trim().parse::<f64>().is_ok() {
        return false;
    }
    strict_date_optional_time(text) || slash_date(text)
}

struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.s.get(self.at..self.at + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.at == self.s.len()
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// ISO offset: `Z`, `±HH`, `±HH:mm` or `±HHmm`.
fn offset(c: &mut Cursor) -> bool {
    if c.eat(b'Z') {
        return true;
    }
    if !(c.eat(b'+') || c.eat(b'-')) {
        return false;
    }
    let Some(h) = c.digits(2) else { return false };
    if h > 23 {
        return false;
    }
    if c.done() {
        return true;
    }
    c.eat(b':');
    c.digits(2).is_some_and(|m| m < 60)
}

fn strict_date_optional_time(text: &str) -> bool {
    let mut c = Cursor {
        s: text.as_bytes(),
        at: 0,
    };
    let Some(year) = c.digits(4) else {
        return false;
    };
    if c.done() {
        return true;
    }
    let (mut month, mut day) = (1, 1);
    if c.eat(b'-') {
        let Some(m) = c.digits(2) else { return false };
        month = m;
        if c.eat(b'-') {
            let Some(d) = c.digits(2) else { return false };
            day = d;
        }
    }
    if !valid_date(year, month, day) {
        return false;
    }
    if c.done() {
        return true;
    }
    if !c.eat(b'T') {
        return false;
    }
    let Some(hour) = c.digits(2) else {
        return false;
    };
    if hour > 23 {
        return false;
    }
    if c.eat(b':') {
        let Some(minute) = c.digits(2) else {
            return false;
        };
        if minute > 59 {
            return false;
        }
        if c.eat(b':') {
            let Some(second) = c.digits(2) else {
                return false;
            };
            if second > 59 {
                return false;
            }
            if c.eat(b'.') || c.eat(b',') {
                let start = c.at;
                while c.s.get(c.at).is_some_and(u8::is_ascii_digit) && c.at - start < 9 {
                    c.at += 1;
                }
                if c.at == start {
                    return false;
                }
            }
        }
    }
    c.done() || (offset(&mut c) && c.done())
}

fn slash_date(text: &str) -> bool {
    let mut c = Cursor {
        s: text.as_bytes(),
        at: 0,
    };
    let parsed = (|| {
        let year = c.digits(4)?;
        c.eat(b'/').then_some(())?;
        let month = c.digits(2)?;
        c.eat(b'/').then_some(())?;
        let day = c.digits(2)?;
        valid_date(year, month, day).then_some(())
    })();
    if parsed.is_none() {
        return false;
    }
    if c.done() {
        return true;
    }
    if !c.eat(b' ') {
        return false;
    }
    let mark = c.at;
    let time = (|| {
        let h = c.digits(2)?;
        c.eat(b':').then_some(())?;
        let m = c.digits(2)?;
        c.eat(b':').then_some(())?;
        let s = c.digits(2)?;
        (h < 24 && m < 60 && s < 60).then_some(())
    })();
    if time.is_none() {
        c.at = mark;
        // `yyyy/MM/dd Z`
        return basic_offset(&mut c) && c.done();
    }
    if c.done() {
        return true;
    }
    c.eat(b' ') && basic_offset(&mut c) && c.done()
}

/// Pattern letter `Z`: `±HHMM`.
fn basic_offset(c: &mut Cursor) -> bool {
    (c.eat(b'+') || c.eat(b'-'))
        && c.digits(2).is_some_and(|h| h < 24)
        && c.digits(2).is_some_and(|m| m < 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_index_follows_the_dynamic_field_mapping_table() {
        let p = DynamicPolicy::PlainIndex;
        let text = p.type_for("a", &json!("hello")).unwrap();
        assert_eq!(text.ty, FieldType::Text);
        assert_eq!(text.multi_fields.len(), 1);
        assert_eq!(text.multi_fields[0].name, "keyword");
        assert_eq!(text.multi_fields[0].ty, FieldType::Keyword);
        assert_eq!(text.multi_fields[0].ignore_above, Some(256));
        assert_eq!(p.type_for("a", &json!(5)).unwrap().ty, FieldType::Long);
        assert_eq!(p.type_for("a", &json!(-5)).unwrap().ty, FieldType::Long);
        assert_eq!(p.type_for("a", &json!(5.5)).unwrap().ty, FieldType::Float);
        assert_eq!(
            p.type_for("a", &json!(true)).unwrap().ty,
            FieldType::Boolean
        );
        assert_eq!(
            p.type_for("a", &json!({"b": 1})).unwrap().ty,
            FieldType::Object
        );
        assert_eq!(p.type_for("a", &json!(null)), None);
        assert_eq!(p.type_for("a", &json!([])), None);
        assert_eq!(
            p.type_for("a", &json!([null, 3])).unwrap().ty,
            FieldType::Long
        );
        assert_eq!(
            p.type_for("a", &json!("2015-09-02T10:00:00Z")).unwrap().ty,
            FieldType::Date
        );
        // The docs' own example: "2015/09/02" is detected as a date.
        assert_eq!(
            p.type_for("a", &json!("2015/09/02")).unwrap().ty,
            FieldType::Date
        );
        // Numeric detection is off: numeric strings stay text.
        assert_eq!(p.type_for("a", &json!("42")).unwrap().ty, FieldType::Text);
        assert_eq!(
            dynamic_type_for("a", &json!("x")).unwrap().ty,
            FieldType::Text
        );
    }

    #[test]
    fn date_detection_formats() {
        for yes in [
            "2015-01-01",
            "2015-01",
            "2015-01-01T12:10:30Z",
            "2015-01-01T12:10:30.123456789Z",
            "2015-01-01T12:10:30+01:00",
            "2015-01-01T12:10:30+0100",
            "2015-01-01T12:10",
            "2015-01-01T12",
            "2024-02-29",
            "2015/09/02",
            "2015/09/02 10:11:12 +0000",
            "2015/09/02 +0100",
        ] {
            assert!(is_dynamic_date(yes), "{yes} should be a date");
        }
        for no in [
            "2015",
            "20150101",
            "2015-1-1",
            "2015-13-01",
            "2023-02-29",
            "2015-01-01 12:10:30",
            "2015-01-01T25:00",
            "hello",
            "",
            "1.5",
            "2015/9/2",
        ] {
            assert!(!is_dynamic_date(no), "{no} should not be a date");
        }
    }

    #[test]
    fn logs_data_stream_uses_ecs_mappings_templates() {
        let p = DynamicPolicy::LogsDataStream;
        let kw = p.type_for("custom.thing", &json!("hello")).unwrap();
        assert_eq!(kw.ty, FieldType::Keyword);
        assert_eq!(kw.ignore_above, Some(1024));
        assert!(kw.multi_fields.is_empty());
        // date_detection is off in logs@mappings.
        assert_eq!(
            p.type_for("custom.when", &json!("2015-01-01")).unwrap().ty,
            FieldType::Keyword
        );
        assert_eq!(
            p.type_for("custom.ip", &json!("10.0.0.1")).unwrap().ty,
            FieldType::Ip
        );
        assert_eq!(
            p.type_for("peer_ip", &json!("10.0.0.1")).unwrap().ty,
            FieldType::Ip
        );
        // ecs_ip only applies to strings.
        assert_eq!(
            p.type_for("custom.ip", &json!(5)).unwrap().ty,
            FieldType::Long
        );
        let name = p.type_for("custom.name", &json!("x")).unwrap();
        assert_eq!(name.ty, FieldType::Keyword);
        assert_eq!(name.ignore_above, None);
        assert_eq!(name.multi_fields[0].ty, FieldType::MatchOnlyText);
        assert_eq!(
            p.type_for("custom.message", &json!("x")).unwrap().ty,
            FieldType::MatchOnlyText
        );
        assert_eq!(
            p.type_for("x.command_line", &json!("x")).unwrap().ty,
            FieldType::Wildcard
        );
        assert_eq!(
            p.type_for("x.created", &json!(1)).unwrap().ty,
            FieldType::Date
        );
        assert_eq!(
            p.type_for("x.score.total", &json!(1)).unwrap().ty,
            FieldType::Float
        );
        assert_eq!(
            p.type_for("x.score.version", &json!(1)).unwrap().ty,
            FieldType::Long
        );
        assert_eq!(
            p.type_for("cpu.usage", &json!(0.5)).unwrap().ty,
            FieldType::ScaledFloat
        );
        assert_eq!(p.type_for("n", &json!(1.5)).unwrap().ty, FieldType::Float);
        assert_eq!(
            p.type_for("b", &json!(false)).unwrap().ty,
            FieldType::Boolean
        );
        assert_eq!(
            p.type_for("o", &json!({"k": "v"})).unwrap().ty,
            FieldType::Object
        );
        assert_eq!(
            p.type_for("x.imports", &json!({"k": "v"})).unwrap().ty,
            FieldType::Flattened
        );
        // An object named like a keyword template stays an object.
        assert_eq!(
            p.type_for("x.name", &json!({"k": "v"})).unwrap().ty,
            FieldType::Object
        );
    }
}
