//! An independent reading of what Kibana does with a KQL query, to judge the overrides of
//! `conformance_overrides.jsonl` without dragnet's own compiler: the Query DSL Kibana's
//! `toElasticsearchQuery` builds, and an evaluator of that DSL over small documents.
//!
//! The DSL follows elastic/kibana `src/platform/packages/shared/kbn-es-query/src/kuery/`
//! (read at the commits the search index holds: `functions/is.ts` and `functions/range.ts` at
//! `2adc277e`, `node_types/wildcard.ts` at `4b3b1680`, `grammar/grammar.peggy` at `9eb9945c`),
//! called as the detection engine calls it (`buildEsQuery` with `dateFormatTZ: 'Zulu'`, no
//! `caseInsensitive`, no `nestedIgnoreUnmapped`, filters in `filter`):
//! - `and` → `bool.filter` of the children; `or` → `bool.should` + `minimum_should_match: 1`;
//!   `not` → `bool.must_not` holding the child (an object, not a list); `path:{…}` →
//!   `nested` with the full path, the inner fields prefixed by it, `score_mode: none`.
//! - `is` (field:value), per field the data view resolves the name to (or the name as-is with
//!   type `''` when it has none): `*:*` → `match_all`; value `*` → `exists`; a wildcard value →
//!   `wildcard.value` on a keyword field (esTypes exactly `['keyword']`), else `query_string`
//!   with `fields`, the value escaped by `escapeQueryString` between the stars; a date field →
//!   `range` gte = lte = value (with `time_zone` unless the value is all digits); a keyword
//!   field → `term.value`; otherwise `match` (unquoted) or `match_phrase` (quoted). The
//!   per-field queries go in a `bool.should` with `minimum_should_match: 1`.
//! - no field (free text): a wildcard → `query_string.query` (escaped); otherwise
//!   `multi_match` `best_fields` (unquoted) or `phrase` (quoted), `lenient: true`.
//! - `range`: per field `range: {field: {op: value}}` (+ `time_zone` on dates, as above) in a
//!   `bool.should` with `minimum_should_match: 1`.
//! - literals (grammar): unquoted `true`/`false`/`null` are JSON booleans/null; everything
//!   else, numbers included, stays a string.
//!
//! Parsing is dragnet-kql's parser (checked on its own by the AST vectors); nothing here uses
//! its compiler.

use dragnet_kql::{Expr, Literal, LiteralKind, Pattern, PatternPart, Query, RangeOp, ValueList};
use dragnet_schema::{FieldType, Resolved, Schema};
use serde_json::{Value, json};

/// Kibana's DSL for the query, or why this reading does not cover it.
pub fn kibana_dsl(q: &Query, schema: &Schema) -> Result<Value, String> {
    match &q.root {
        None => Ok(json!({"match_all": {}})),
        Some(e) => expr(e, schema, None),
    }
}

fn should(queries: Vec<Value>) -> Value {
    json!({"bool": {"should": queries, "minimum_should_match": 1}})
}

fn expr(e: &Expr, schema: &Schema, nested: Option<&str>) -> Result<Value, String> {
    Ok(match e {
        Expr::Or(items) => should(
            items
                .iter()
                .map(|i| expr(i, schema, nested))
                .collect::<Result<_, _>>()?,
        ),
        Expr::And(items) => json!({"bool": {"filter": items
            .iter()
            .map(|i| expr(i, schema, nested))
            .collect::<Result<Vec<_>, _>>()?}}),
        Expr::Not(inner) => json!({"bool": {"must_not": expr(inner, schema, nested)?}}),
        Expr::Nested { path, query } => {
            let full = full_name(field_name(path)?, nested);
            json!({"nested": {
                "path": full,
                "query": expr(query, schema, Some(&full))?,
                "score_mode": "none",
            }})
        }
        Expr::Range { field, op, value } => {
            let name = full_name(field_name(field)?, nested);
            let value = literal_value(value)?;
            let mut params = serde_json::Map::new();
            params.insert(op_key(*op).into(), value.clone());
            if field_kind(schema, &name) == Kind::Date
                && let Some(tz) = time_zone(&value)
            {
                params.insert("time_zone".into(), tz);
            }
            should(vec![json!({"range": {name: params}})])
        }
        Expr::Match { field, values } => {
            let name = match &field.kind {
                // `*:*` is match_all (is.ts: isMatchAllQuery).
                LiteralKind::Wildcard(p) if p.is_lone_star() => {
                    if let ValueList::One(Literal {
                        kind: LiteralKind::Wildcard(v),
                        ..
                    }) = values
                        && v.is_lone_star()
                    {
                        return Ok(json!({"match_all": {}}));
                    }
                    return Err(
                        "a field pattern (this reading has no data view to expand it)".into(),
                    );
                }
                _ => full_name(field_name(field)?, nested),
            };
            value_list(&name, values, schema)?
        }
        Expr::FreeText(l) => match &l.kind {
            LiteralKind::Wildcard(p) => json!({"query_string": {"query": query_string(p)}}),
            _ => json!({"multi_match": {
                "type": if l.is_quoted() { "phrase" } else { "best_fields" },
                "query": literal_value(l)?,
                "lenient": true,
            }}),
        },
    })
}

fn value_list(field: &str, values: &ValueList, schema: &Schema) -> Result<Value, String> {
    Ok(match values {
        ValueList::Or(items) => should(
            items
                .iter()
                .map(|i| value_list(field, i, schema))
                .collect::<Result<_, _>>()?,
        ),
        ValueList::And(items) => json!({"bool": {"filter": items
            .iter()
            .map(|i| value_list(field, i, schema))
            .collect::<Result<Vec<_>, _>>()?}}),
        ValueList::Not(inner) => json!({"bool": {"must_not": value_list(field, inner, schema)?}}),
        ValueList::One(value) => should(vec![is(field, value, schema)?]),
    })
}

/// One field's query of `is.ts`.
fn is(field: &str, value: &Literal, schema: &Schema) -> Result<Value, String> {
    let kind = field_kind(schema, field);
    Ok(match &value.kind {
        LiteralKind::Wildcard(p) if p.is_lone_star() => json!({"exists": {"field": field}}),
        LiteralKind::Wildcard(p) if kind == Kind::Keyword => {
            json!({"wildcard": {field: {"value": query_string(p)}}})
        }
        LiteralKind::Wildcard(p) => {
            json!({"query_string": {"fields": [field], "query": query_string(p)}})
        }
        _ => {
            let v = literal_value(value)?;
            match kind {
                Kind::Date => {
                    let mut params = serde_json::Map::new();
                    params.insert("gte".into(), v.clone());
                    params.insert("lte".into(), v.clone());
                    if let Some(tz) = time_zone(&v) {
                        params.insert("time_zone".into(), tz);
                    }
                    json!({"range": {field: params}})
                }
                Kind::Keyword => json!({"term": {field: {"value": v}}}),
                Kind::Other if value.is_quoted() => json!({"match_phrase": {field: v}}),
                Kind::Other => json!({"match": {field: v}}),
            }
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Keyword,
    Date,
    Other,
}

/// What the data view says of a field: only fields it lists count (a `flattened` field's
/// leaves are not listed; Kibana sends their name through with type `''`).
fn field_kind(schema: &Schema, name: &str) -> Kind {
    let ty = match schema.resolve(name) {
        Resolved::Known(def) => def.ty,
        Resolved::ObjectLeaf { ty, .. } => ty,
        _ => return Kind::Other,
    };
    match ty {
        FieldType::Keyword => Kind::Keyword,
        FieldType::Date | FieldType::DateNanos => Kind::Date,
        _ => Kind::Other,
    }
}

/// `getTimeZoneFromSettings('Zulu')`, except for epoch values (all digits).
fn time_zone(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => None,
        _ => Some(json!("Zulu")),
    }
}

fn op_key(op: RangeOp) -> &'static str {
    match op {
        RangeOp::Lt => "lt",
        RangeOp::Lte => "lte",
        RangeOp::Gt => "gt",
        RangeOp::Gte => "gte",
    }
}

fn field_name(l: &Literal) -> Result<&str, String> {
    match &l.kind {
        LiteralKind::Quoted(s) | LiteralKind::Unquoted(s) => Ok(s),
        other => Err(format!("field name {other:?}")),
    }
}

fn full_name(name: &str, nested: Option<&str>) -> String {
    match nested {
        Some(path) => format!("{path}.{name}"),
        None => name.to_owned(),
    }
}

/// A literal node's value (grammar.peggy `UnquotedLiteral` / `QuotedString`).
fn literal_value(l: &Literal) -> Result<Value, String> {
    Ok(match &l.kind {
        LiteralKind::Quoted(s) | LiteralKind::Unquoted(s) => json!(s),
        LiteralKind::Bool(b) => json!(b),
        LiteralKind::Null => Value::Null,
        LiteralKind::Wildcard(_) => return Err("a wildcard where a literal belongs".into()),
    })
}

/// `wildcard.toQueryStringQuery`: each piece between the stars escaped by `escapeQueryString`.
fn query_string(p: &Pattern) -> String {
    p.parts
        .iter()
        .map(|part| match part {
            PatternPart::Star => "*".to_owned(),
            PatternPart::Text(t) => t
                .chars()
                .flat_map(|c| {
                    let special = "+-=&|><!(){}[]^\"~*?:\\/".contains(c);
                    special.then_some('\\').into_iter().chain([c])
                })
                .collect(),
        })
        .collect()
}

/// Elasticsearch's answer for `dsl` on a flat document (`{"field": value or [values]}`), for
/// the leaf queries the lint vectors produce, on fields that are `text` (dynamic mapping of an
/// unknown string) or `keyword`. `match` is any of the value's tokens, `match_phrase` its
/// tokens in a row, `term` the whole value; tokens are what the standard analyzer gives for
/// these inputs (lowercased runs of letters, digits and inner dots). `Err` on anything else.
pub fn evaluate(dsl: &Value, doc: &Value) -> Result<bool, String> {
    let obj = dsl.as_object().ok_or("not an object")?;
    let (kind, body) = obj.iter().next().ok_or("empty query")?;
    let one = |body: &Value| -> Result<(String, Value), String> {
        let (f, v) = body
            .as_object()
            .and_then(|o| o.iter().next())
            .ok_or("no field")?;
        Ok((f.clone(), v.clone()))
    };
    let elements = |field: &str| -> Vec<String> {
        match doc.get(field) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().filter_map(scalar_text).collect(),
            Some(v) => scalar_text(v).into_iter().collect(),
        }
    };
    Ok(match kind.as_str() {
        "bool" => {
            let filter = match body.get("filter") {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|q| evaluate(q, doc))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .all(|b| b),
                None => true,
                Some(other) => return Err(format!("filter {other}")),
            };
            let should = match body.get("should") {
                Some(Value::Array(items)) => {
                    assert_eq!(body["minimum_should_match"], 1);
                    items
                        .iter()
                        .map(|q| evaluate(q, doc))
                        .collect::<Result<Vec<_>, _>>()?
                        .into_iter()
                        .any(|b| b)
                }
                None => true,
                Some(other) => return Err(format!("should {other}")),
            };
            let must_not = match body.get("must_not") {
                Some(q) => !evaluate(q, doc)?,
                None => true,
            };
            filter && should && must_not
        }
        "match" | "match_phrase" => {
            let (field, v) = one(body)?;
            let want = tokens(&scalar_text(&v).ok_or("value")?);
            elements(&field).iter().any(|e| {
                let have = tokens(e);
                if kind == "match" {
                    want.iter().any(|t| have.contains(t))
                } else {
                    !want.is_empty() && have.windows(want.len()).any(|w| w == want.as_slice())
                }
            })
        }
        "term" => {
            let (field, v) = one(body)?;
            let want = scalar_text(&v["value"]).ok_or("term value")?;
            elements(&field).contains(&want)
        }
        "exists" => !elements(body["field"].as_str().ok_or("exists field")?).is_empty(),
        other => return Err(format!("{other} queries are not evaluated here")),
    })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The standard analyzer on the inputs at hand: lowercased runs of letters and digits, a dot
/// kept between digits (`1.234` is one token, as UAX #29 keeps decimal numbers whole).
pub fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let inner_dot = c == '.'
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        if c.is_alphanumeric() || inner_dot {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}
