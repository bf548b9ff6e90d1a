//! [`Event`] over a parsed JSON document (an ECS document exported from Elastic).

use std::ops::ControlFlow;

use serde_json::{Map, Value};

use crate::{Event, FieldId, FieldTable, Scalar};

/// Field paths of a [`FieldTable`], split once so [`JsonEvent`] never re-parses names.
#[derive(Clone, Debug, Default)]
pub struct JsonPaths {
    segments: Vec<Vec<String>>,
}

impl JsonPaths {
    pub fn bind(table: &FieldTable) -> Self {
        let segments = table
            .iter()
            .map(|(_, name)| name.split('.').map(str::to_owned).collect())
            .collect();
        Self { segments }
    }
}

/// A JSON document seen as indexed fields. Dotted keys (`{"event.action": …}`) and nested
/// objects (`{"event": {"action": …}}`) are equivalent, in any mix, as in Elasticsearch.
pub struct JsonEvent<'a> {
    pub doc: &'a Value,
    pub paths: &'a JsonPaths,
}

impl<'a> JsonEvent<'a> {
    pub fn new(doc: &'a Value, paths: &'a JsonPaths) -> Self {
        Self { doc, paths }
    }
}

impl Event for JsonEvent<'_> {
    fn visit(
        &self,
        field: FieldId,
        visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let Some(segs) = self.paths.segments.get(field.index()) else {
            return ControlFlow::Continue(());
        };
        walk(self.doc, segs, visit)
    }
}

fn walk(
    value: &Value,
    segs: &[String],
    visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    match value {
        Value::Array(items) => {
            for item in items {
                walk(item, segs, visit)?;
            }
            ControlFlow::Continue(())
        }
        Value::Object(map) if !segs.is_empty() => walk_object(map, segs, visit),
        _ if !segs.is_empty() => ControlFlow::Continue(()),
        other => leaves(other, visit),
    }
}

fn walk_object(
    map: &Map<String, Value>,
    segs: &[String],
    visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    // Try every split of the remaining path into "dotted key" + rest: `a.b.c` may be stored as
    // {"a":{"b.c":…}}, {"a.b":{"c":…}}, {"a.b.c":…} …
    let mut key = String::new();
    for i in 0..segs.len() {
        if i > 0 {
            key.push('.');
        }
        key.push_str(&segs[i]);
        if let Some(v) = map.get(key.as_str()) {
            walk(v, &segs[i + 1..], visit)?;
        }
    }
    ControlFlow::Continue(())
}

fn leaves(value: &Value, visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>) -> ControlFlow<()> {
    match value {
        Value::Null => ControlFlow::Continue(()),
        Value::Bool(b) => visit(Scalar::Bool(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => visit(Scalar::Int(i)),
            None => visit(Scalar::Float(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => visit(Scalar::Str(s)),
        Value::Array(items) => {
            for item in items {
                leaves(item, visit)?;
            }
            ControlFlow::Continue(())
        }
        Value::Object(map) => {
            for v in map.values() {
                leaves(v, visit)?;
            }
            ControlFlow::Continue(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OwnedScalar;
    use serde_json::json;

    fn values(doc: &Value, field: &str) -> Vec<OwnedScalar> {
        let mut table = FieldTable::new();
        let id = table.intern(field);
        let paths = JsonPaths::bind(&table);
        JsonEvent::new(doc, &paths).values(id)
    }

    #[test]
    fn nested_dotted_and_mixed_keys_resolve_alike() {
        let want = vec![OwnedScalar::Str("SendCommand".into())];
        assert_eq!(values(&json!({"event": {"action": "SendCommand"}}), "event.action"), want);
        assert_eq!(values(&json!({"event.action": "SendCommand"}), "event.action"), want);
        assert_eq!(values(&json!({"a": {"b.c": "SendCommand"}}), "a.b.c"), want);
    }

    #[test]
    fn arrays_flatten_and_nulls_are_not_indexed() {
        let doc = json!({"related": {"user": ["alice", null, ["bob"]]}, "x": null});
        assert_eq!(
            values(&doc, "related.user"),
            vec![OwnedScalar::Str("alice".into()), OwnedScalar::Str("bob".into())]
        );
        assert!(values(&doc, "x").is_empty());
        assert!(values(&doc, "missing.field").is_empty());
    }

    #[test]
    fn arrays_of_objects_yield_each_leaf() {
        let doc = json!({"resources": [{"arn": "a1"}, {"arn": "a2"}, {"type": "t"}]});
        assert_eq!(
            values(&doc, "resources.arn"),
            vec![OwnedScalar::Str("a1".into()), OwnedScalar::Str("a2".into())]
        );
    }

    #[test]
    fn object_field_yields_its_leaves_like_a_flattened_root() {
        let doc = json!({"f": {"fromPort": 22, "ok": true}});
        assert_eq!(
            values(&doc, "f"),
            vec![OwnedScalar::Int(22), OwnedScalar::Bool(true)]
        );
    }
}
