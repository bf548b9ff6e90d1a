//! [`Event`] over a parsed JSON document (an ECS document exported from Elastic).

use std::ops::ControlFlow;

use serde_json::Value;

use crate::{Event, FieldId, FieldTable, Scalar};

/// Field paths of a [`FieldTable`], split once so [`JsonEvent`] never re-parses names.
#[derive(Clone, Debug, Default)]
pub struct JsonPaths {
    segments: Vec<Vec<String>>,
    /// Per field: its keys for [`values_at`], so lookups of `{"a.b": …}`-style keys never
    /// allocate per event.
    keys: Vec<PathKeys>,
}

impl JsonPaths {
    pub fn bind(table: &FieldTable) -> Self {
        let segments: Vec<Vec<String>> = table
            .iter()
            .map(|(_, name)| name.split('.').map(str::to_owned).collect())
            .collect();
        let keys = segments.iter().map(|segs| PathKeys::new(segs)).collect();
        Self { segments, keys }
    }
}

/// A field path prepared for [`values_at`]: `rows()[j][k]` is the dotted key made of segments
/// `j..=j + k` (`a`, `a.b`, `a.b.c`; `b`, `b.c`; `c` for `a.b.c`), so that a walk tries every
/// way a document may store the path without building keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathKeys {
    rows: Vec<Vec<String>>,
}

impl PathKeys {
    /// The keys of a path given as its segments.
    pub fn new<S: AsRef<str>>(segments: &[S]) -> Self {
        let segs: Vec<&str> = segments.iter().map(AsRef::as_ref).collect();
        PathKeys {
            rows: (0..segs.len())
                .map(|j| (j..segs.len()).map(|end| segs[j..=end].join(".")).collect())
                .collect(),
        }
    }

    /// The keys of a dotted field name (`user.name`).
    pub fn parse(field: &str) -> Self {
        Self::new(&field.split('.').collect::<Vec<_>>())
    }

    /// The rows still to consume; `&rows()[n..]` walks the path after its first `n` segments.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
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
        let Some(keys) = self.paths.keys.get(field.index()) else {
            return ControlFlow::Continue(());
        };
        values_at(self.doc, keys.rows(), &mut |v| leaves(v, visit))
    }

    fn to_document(&self) -> Option<Value> {
        Some(self.doc.clone())
    }

    fn document_json(&self) -> Option<String> {
        Some(self.doc.to_string())
    }

    fn visit_fields(
        &self,
        visit: &mut dyn FnMut(&str, Scalar<'_>) -> ControlFlow<()>,
    ) -> Option<ControlFlow<()>> {
        Some(self.visit_fields_impl(visit))
    }

    fn visit_nested(
        &self,
        path: FieldId,
        visit: &mut dyn FnMut(&dyn Event) -> ControlFlow<()>,
    ) -> Option<ControlFlow<()>> {
        let segs = self.paths.segments.get(path.index())?;
        let keys = self.paths.keys.get(path.index())?;
        let mut objects = Vec::new();
        let _ = values_at(self.doc, keys.rows(), &mut |v| {
            if v.is_object() {
                objects.push(v);
            }
            ControlFlow::Continue(())
        });
        for object in objects {
            let nested = NestedJsonEvent {
                parent: self,
                object,
                path: segs,
            };
            if visit(&nested).is_break() {
                return Some(ControlFlow::Break(()));
            }
        }
        Some(ControlFlow::Continue(()))
    }
}

impl JsonEvent<'_> {
    fn visit_fields_impl(
        &self,
        visit: &mut dyn FnMut(&str, Scalar<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let mut path = String::new();
        all_leaves(self.doc, &mut path, visit)
    }
}

/// Every leaf below `value` with its dotted path (array elements share their parent's path).
fn all_leaves(
    value: &Value,
    path: &mut String,
    visit: &mut dyn FnMut(&str, Scalar<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let r = all_leaves(v, path, visit);
                path.truncate(len);
                r?;
            }
            ControlFlow::Continue(())
        }
        Value::Array(items) => {
            for item in items {
                all_leaves(item, path, visit)?;
            }
            ControlFlow::Continue(())
        }
        other => leaves(other, &mut |s| visit(path, s)),
    }
}

/// One object of a nested array, answering `path.sub` fields from the object and other
/// fields from the whole document.
struct NestedJsonEvent<'a> {
    parent: &'a JsonEvent<'a>,
    object: &'a Value,
    path: &'a [String],
}

impl Event for NestedJsonEvent<'_> {
    fn visit(
        &self,
        field: FieldId,
        visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let (Some(segs), Some(keys)) = (
            self.parent.paths.segments.get(field.index()),
            self.parent.paths.keys.get(field.index()),
        ) else {
            return ControlFlow::Continue(());
        };
        if segs.len() > self.path.len() && segs[..self.path.len()] == *self.path {
            let rest = &keys.rows()[self.path.len()..];
            values_at(self.object, rest, &mut |v| leaves(v, visit))
        } else {
            self.parent.visit(field, visit)
        }
    }
}

/// The one walk of a JSON document by field path, as Elasticsearch indexes it: calls `visit`
/// with every value at the path given by `rows` (see [`PathKeys`]), where dotted keys and
/// nested objects are equivalent in any mix (`{"a":{"b.c":…}}`, `{"a.b":{"c":…}}`,
/// `{"a.b.c":…}` …) and arrays are flattened, on the way and at the end. The values are never
/// arrays; `null`s and objects are passed on (callers decide: [`leaves`] skips `null` and
/// yields an object's leaves).
pub fn values_at<'v>(
    value: &'v Value,
    rows: &[Vec<String>],
    visit: &mut dyn FnMut(&'v Value) -> ControlFlow<()>,
) -> ControlFlow<()> {
    match value {
        Value::Array(items) => {
            for item in items {
                values_at(item, rows, visit)?;
            }
            ControlFlow::Continue(())
        }
        Value::Object(map) if !rows.is_empty() => {
            for (k, key) in rows[0].iter().enumerate() {
                if let Some(v) = map.get(key.as_str()) {
                    values_at(v, &rows[k + 1..], visit)?;
                }
            }
            ControlFlow::Continue(())
        }
        _ if !rows.is_empty() => ControlFlow::Continue(()),
        other => visit(other),
    }
}

/// [`values_at`] for a dotted field name, without building [`PathKeys`]: every key a walk
/// tries is a run of the name's segments, hence a slice of `path` (what alert building does
/// per alert, for a few dozen fixed names).
pub fn values_at_path<'v>(
    value: &'v Value,
    path: &str,
    visit: &mut dyn FnMut(&'v Value) -> ControlFlow<()>,
) -> ControlFlow<()> {
    // (start, end) of each segment in `path`.
    let mut segments = Vec::with_capacity(8);
    let mut start = 0;
    for (i, b) in path.bytes().enumerate() {
        if b == b'.' {
            segments.push((start, i));
            start = i + 1;
        }
    }
    segments.push((start, path.len()));
    walk_segments(value, path, &segments, 0, visit)
}

/// [`values_at`] with row `j` made of the keys `path[segments[j].0..segments[end].1]`.
fn walk_segments<'v>(
    value: &'v Value,
    path: &str,
    segments: &[(usize, usize)],
    j: usize,
    visit: &mut dyn FnMut(&'v Value) -> ControlFlow<()>,
) -> ControlFlow<()> {
    match value {
        Value::Array(items) => {
            for item in items {
                walk_segments(item, path, segments, j, visit)?;
            }
            ControlFlow::Continue(())
        }
        Value::Object(map) if j < segments.len() => {
            for end in j..segments.len() {
                if let Some(v) = map.get(&path[segments[j].0..segments[end].1]) {
                    walk_segments(v, path, segments, end + 1, visit)?;
                }
            }
            ControlFlow::Continue(())
        }
        _ if j < segments.len() => ControlFlow::Continue(()),
        other => visit(other),
    }
}

/// The scalars Elasticsearch indexes for a value: itself, an array's or object's leaves
/// (recursively); nothing for `null`.
pub fn leaves(
    value: &Value,
    visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
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

    /// The walk by a dotted name's slices visits what the walk by its [`PathKeys`] does, in
    /// the same order, for documents mixing nested objects, dotted keys and arrays.
    #[test]
    fn values_at_path_equals_values_at_by_path_keys() {
        let docs = [
            json!({"a": {"b": {"c": 1}}, "a.b": {"c": [2, {"d": 3}]}, "a.b.c": null}),
            json!({"a": [{"b.c": "x"}, {"b": [{"c": "y"}, "z"]}], "a.b.c": [true, 4.5]}),
            json!({"": {"a": 1}, "a": {"": {"b": 2}}, "a..b": 3, ".a": 4}),
            json!([{"a": 1}, {"a": {"b": 2}}]),
            json!("scalar"),
        ];
        let paths = [
            "a", "a.b", "a.b.c", "a.b.c.d", "b.c", "", ".a", "a..b", "a.", "x",
        ];
        for doc in &docs {
            for path in paths {
                let mut by_keys = Vec::new();
                let _ = values_at(doc, PathKeys::parse(path).rows(), &mut |v| {
                    by_keys.push(v.clone());
                    ControlFlow::Continue(())
                });
                let mut by_path = Vec::new();
                let _ = values_at_path(doc, path, &mut |v| {
                    by_path.push(v.clone());
                    ControlFlow::Continue(())
                });
                assert_eq!(by_path, by_keys, "{path:?} in {doc}");
            }
        }
    }
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
        assert_eq!(
            values(&json!({"event": {"action": "SendCommand"}}), "event.action"),
            want
        );
        assert_eq!(
            values(&json!({"event.action": "SendCommand"}), "event.action"),
            want
        );
        assert_eq!(values(&json!({"a": {"b.c": "SendCommand"}}), "a.b.c"), want);
    }

    #[test]
    fn arrays_flatten_and_nulls_are_not_indexed() {
        let doc = json!({"related": {"user": ["alice", null, ["bob"]]}, "x": null});
        assert_eq!(
            values(&doc, "related.user"),
            vec![
                OwnedScalar::Str("alice".into()),
                OwnedScalar::Str("bob".into())
            ]
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
    fn visit_fields_lists_every_leaf_with_its_path() {
        let doc = json!({"a": {"b": [1, {"c": "x"}]}, "d.e": true, "n": null});
        let paths = JsonPaths::default();
        let mut seen = Vec::new();
        let _ = JsonEvent::new(&doc, &paths).visit_fields(&mut |p, v| {
            seen.push((p.to_owned(), OwnedScalar::from(v)));
            ControlFlow::Continue(())
        });
        assert_eq!(
            seen,
            vec![
                ("a.b".into(), OwnedScalar::Int(1)),
                ("a.b.c".into(), OwnedScalar::Str("x".into())),
                ("d.e".into(), OwnedScalar::Bool(true)),
            ]
        );
    }

    #[test]
    fn visit_nested_sees_one_object_at_a_time() {
        let doc = json!({"top": "t", "deltas": [{"action": "ADD", "role": "r1"}, {"action": "REMOVE", "role": "r2"}]});
        let mut table = FieldTable::new();
        let path = table.intern("deltas");
        let action = table.intern("deltas.action");
        let role = table.intern("deltas.role");
        let top = table.intern("top");
        let paths = JsonPaths::bind(&table);
        let mut pairs = Vec::new();
        let _ = JsonEvent::new(&doc, &paths).visit_nested(path, &mut |e| {
            pairs.push((e.values(action), e.values(role), e.values(top)));
            ControlFlow::Continue(())
        });
        let s = |v: &str| vec![OwnedScalar::Str(v.into())];
        assert_eq!(
            pairs,
            vec![(s("ADD"), s("r1"), s("t")), (s("REMOVE"), s("r2"), s("t"))]
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
