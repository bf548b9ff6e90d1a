//! Loading an Elasticsearch `GET <index>/_mapping` response.
//!
//! Shapes accepted: `{"<index>": {"mappings": {…}}, …}` (one or several indices, the response
//! of the mapping API), the same with a legacy type level (`"mappings": {"_doc": {…}}`), or a
//! bare `{"mappings": {…}}` / `{"properties": {…}}` body. Within a mapping, `properties` nest
//! objects (an entry with `properties` and no `type` is an `object`), `fields` holds
//! multi-fields, and `ignore_above`, `normalizer`, `index`, `doc_values`, `value`
//! (constant_keyword), `scaling_factor` are kept. `alias` fields take their target's type.
//! A mapping's `dynamic_templates` and `date_detection` are not interpreted; unmapped fields
//! follow the default [`DynamicPolicy`](crate::DynamicPolicy).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::types::{FieldDef, FieldType, MultiField, Origin};
use crate::{DynamicPolicy, Schema, SchemaError};

fn shape(path: &str, reason: &str) -> SchemaError {
    SchemaError::Shape {
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

pub(crate) fn parse(json: &str) -> Result<Schema, SchemaError> {
    let root: Value = serde_json::from_str(json)?;
    let root = root
        .as_object()
        .ok_or_else(|| shape("$", "the top level is not an object"))?;

    // (index label, mapping body with `properties`)
    let mut bodies: Vec<(String, &Map<String, Value>)> = Vec::new();
    if root.contains_key("properties") {
        bodies.push(("$".to_string(), root));
    } else if let Some(m) = root.get("mappings") {
        bodies.push(("mappings".to_string(), mapping_body("mappings", m)?));
    } else {
        for (index, entry) in root {
            let mappings = entry
                .get("mappings")
                .ok_or_else(|| shape(index, "index entry has no `mappings`"))?;
            bodies.push((index.clone(), mapping_body(index, mappings)?));
        }
    }

    let mut by_name: BTreeMap<String, FieldDef> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (index, body) in bodies {
        let mut defs = Vec::new();
        if let Some(props) = body.get("properties") {
            let props = props
                .as_object()
                .ok_or_else(|| shape(&index, "`properties` is not an object"))?;
            walk(props, "", &mut defs)?;
        }
        resolve_aliases(&mut defs)?;
        for def in defs {
            match by_name.get(def.name.as_ref()) {
                Some(prev) if prev.ty != def.ty => conflicts.push(format!(
                    "{}: {} in an earlier index, {} in `{index}` (kept {})",
                    def.name, prev.ty, def.ty, prev.ty
                )),
                Some(_) => {}
                None => {
                    by_name.insert(def.name.to_string(), def);
                }
            }
        }
    }
    let mut schema = Schema::from_defs(by_name.into_values().collect(), DynamicPolicy::default());
    schema.conflicts = conflicts;
    Ok(schema)
}

/// The object holding `properties` inside an index's `mappings` (skipping a legacy type level).
fn mapping_body<'a>(
    label: &str,
    mappings: &'a Value,
) -> Result<&'a Map<String, Value>, SchemaError> {
    let m = mappings
        .as_object()
        .ok_or_else(|| shape(label, "`mappings` is not an object"))?;
    if m.contains_key("properties") {
        return Ok(m);
    }
    // Legacy `{"mappings": {"_doc": {"properties": …}}}`: a single type level.
    match m.values().find(|v| v.get("properties").is_some()) {
        Some(typed) => typed
            .as_object()
            .ok_or_else(|| shape(label, "mapping type is not an object")),
        None => Ok(m),
    }
}

fn u32_of(v: &Map<String, Value>, key: &str) -> Option<u32> {
    v.get(key).and_then(|x| {
        x.as_u64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .map(|n| n.min(u64::from(u32::MAX)) as u32)
    })
}

fn bool_of(v: &Map<String, Value>, key: &str) -> Option<bool> {
    v.get(key).and_then(|x| {
        x.as_bool().or_else(|| match x.as_str() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        })
    })
}

fn str_of(v: &Map<String, Value>, key: &str) -> Option<Cow<'static, str>> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| Cow::Owned(s.to_string()))
}

fn type_of(field: &str, v: &Map<String, Value>) -> Result<FieldType, SchemaError> {
    match v.get("type") {
        None => Ok(FieldType::Object),
        Some(Value::String(t)) => {
            FieldType::from_es_name(t).ok_or_else(|| SchemaError::UnknownType {
                field: field.to_string(),
                ty: t.to_string(),
            })
        }
        Some(_) => Err(shape(field, "`type` is not a string")),
    }
}

fn walk(
    props: &Map<String, Value>,
    prefix: &str,
    out: &mut Vec<FieldDef>,
) -> Result<(), SchemaError> {
    for (key, spec) in props {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let spec = spec
            .as_object()
            .ok_or_else(|| shape(&name, "field mapping is not an object"))?;
        let ty = type_of(&name, spec)?;
        let mut def = FieldDef::new(name.clone(), ty, Origin::UserMapping);
        def.ignore_above = u32_of(spec, "ignore_above");
        def.normalizer = str_of(spec, "normalizer");
        def.index = bool_of(spec, "index").unwrap_or(true);
        def.doc_values = bool_of(spec, "doc_values").unwrap_or(true);
        def.constant_value = str_of(spec, "value");
        def.scaling_factor = spec.get("scaling_factor").and_then(Value::as_f64);
        if ty == FieldType::Alias {
            // Resolved after the walk; keep the target path in `constant_value` meanwhile.
            def.constant_value =
                Some(str_of(spec, "path").ok_or_else(|| shape(&name, "alias without `path`"))?);
        }
        if let Some(fields) = spec.get("fields") {
            let fields = fields
                .as_object()
                .ok_or_else(|| shape(&name, "`fields` (multi-fields) is not an object"))?;
            for (sub, sub_spec) in fields {
                let sub_name = format!("{name}.{sub}");
                let sub_spec = sub_spec
                    .as_object()
                    .ok_or_else(|| shape(&sub_name, "multi-field mapping is not an object"))?;
                def.multi_fields.push(MultiField {
                    name: Cow::Owned(sub.clone()),
                    ty: type_of(&sub_name, sub_spec)?,
                    ignore_above: u32_of(sub_spec, "ignore_above"),
                    normalizer: str_of(sub_spec, "normalizer"),
                });
            }
        }
        let children = match spec.get("properties") {
            None => None,
            Some(Value::Object(children)) => Some(children),
            Some(_) => return Err(shape(&name, "`properties` is not an object")),
        };
        out.push(def);
        if let Some(children) = children {
            walk(children, &name, out)?;
        }
    }
    Ok(())
}

/// Gives each `alias` field its target's type and parameters (queries on an alias run on the
/// target field).
fn resolve_aliases(defs: &mut [FieldDef]) -> Result<(), SchemaError> {
    let targets: Vec<(usize, String)> = defs
        .iter()
        .enumerate()
        .filter(|(_, d)| d.ty == FieldType::Alias)
        .map(|(i, d)| {
            (
                i,
                d.constant_value.as_deref().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for (i, path) in targets {
        let target = defs
            .iter()
            .find(|d| d.name == path && d.ty != FieldType::Alias)
            .cloned()
            .ok_or_else(|| SchemaError::DanglingAlias {
                field: defs[i].name.to_string(),
                path: path.clone(),
            })?;
        let name = defs[i].name.clone();
        defs[i] = FieldDef {
            name,
            origin: Origin::UserMapping,
            ..target
        };
    }
    Ok(())
}
