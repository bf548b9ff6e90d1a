//! Renders `src/generated.rs` from the ECS definitions and the AWS integration's field files.
//!
//! Shared by `examples/generate` (writes the file) and `tests/generated_is_current.rs` (checks
//! the committed file is what this produces).
//!
//! Rules (each applied exactly as the cited component does it):
//! - ECS: every entry of `ecs_flat.yml` with its `type`, `ignore_above`, `multi_fields`,
//!   `index`, `doc_values`, `object_type`, `scaling_factor`. `fields.csv` must agree on types.
//! - AWS integration: `fields/*.yml` walked as the package spec defines them (nested `fields:`
//!   under `type: group`, dotted names), `external: ecs` entries take what elastic-package
//!   imports from ECS (type, object_type, index, doc_values, multi_fields; not ignore_above),
//!   local keys win. Then Fleet's template builder (Kibana
//!   `fleet/server/services/epm/elasticsearch/template/mappings.ts` and `field_type_handlers.ts`)
//!   turns them into mappings: `keyword` gets `ignore_above: 1024` unless set (none when
//!   `index: false` or `doc_values: false`), `wildcard` gets 1024 unless set, `integer` is mapped
//!   as `long`, `constant_keyword` keeps its `value`, `flattened` keeps `ignore_above` if set,
//!   keyword multi-fields get 1024.
//! - Integration definitions replace ECS ones of the same name (they are what the index
//!   template of `logs-aws.cloudtrail-*` maps explicitly).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use saphyr::{LoadableYamlNode, Yaml};

/// Fleet's default `ignore_above` for keyword and wildcard fields (`DEFAULT_IGNORE_ABOVE`).
const FLEET_DEFAULT_IGNORE_ABOVE: i64 = 1024;

/// The integration's field files, in the order they are read (all of one data stream).
const PACKAGE_FIELD_FILES: &[&str] = &["base-fields.yml", "agent.yml", "ecs.yml", "fields.yml"];

#[derive(Debug, Clone, PartialEq)]
struct Def {
    ty: String,
    ignore_above: Option<i64>,
    multi: Vec<(String, String, Option<i64>)>,
    index: bool,
    doc_values: bool,
    constant: Option<String>,
    object_type: Option<String>,
    scaling_factor: Option<f64>,
}

fn load_yaml(path: &Path) -> Result<Yaml<'static>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text: &'static str = Box::leak(text.into_boxed_str());
    let mut docs =
        Yaml::load_from_str(text).map_err(|e| format!("{}: invalid YAML: {e}", path.display()))?;
    if docs.is_empty() {
        return Err(format!("{}: empty YAML file", path.display()));
    }
    Ok(docs.swap_remove(0))
}

fn str_of<'a>(node: &'a Yaml, key: &str) -> Option<&'a str> {
    node.as_mapping_get(key).and_then(|v| v.as_str())
}

fn int_of(node: &Yaml, key: &str) -> Option<i64> {
    node.as_mapping_get(key).and_then(|v| v.as_integer())
}

fn bool_of(node: &Yaml, key: &str) -> Option<bool> {
    node.as_mapping_get(key).and_then(|v| v.as_bool())
}

fn float_of(node: &Yaml, key: &str) -> Option<f64> {
    let v = node.as_mapping_get(key)?;
    v.as_floating_point()
        .or_else(|| v.as_integer().map(|i| i as f64))
}

fn multi_of(node: &Yaml) -> Vec<(String, String, Option<i64>)> {
    let Some(list) = node
        .as_mapping_get("multi_fields")
        .and_then(|v| v.as_sequence())
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|m| {
            Some((
                str_of(m, "name")?.to_string(),
                str_of(m, "type")?.to_string(),
                int_of(m, "ignore_above"),
            ))
        })
        .collect()
}

fn def_of(node: &Yaml, ty: &str) -> Def {
    Def {
        ty: ty.to_string(),
        ignore_above: int_of(node, "ignore_above"),
        multi: multi_of(node),
        index: bool_of(node, "index").unwrap_or(true),
        doc_values: bool_of(node, "doc_values").unwrap_or(true),
        constant: str_of(node, "value").map(str::to_string),
        object_type: str_of(node, "object_type").map(str::to_string),
        scaling_factor: float_of(node, "scaling_factor"),
    }
}

fn load_ecs(dir: &Path) -> Result<(BTreeMap<String, Def>, String), String> {
    let path = dir.join("ecs_flat.yml");
    let root = load_yaml(&path)?;
    let map = root
        .as_mapping()
        .ok_or_else(|| format!("{}: expected a mapping of field names", path.display()))?;
    let mut out = BTreeMap::new();
    for (key, node) in map {
        let name = key.as_str().ok_or("ecs_flat.yml: non-string key")?;
        let ty = str_of(node, "type").ok_or_else(|| format!("ecs_flat.yml: {name} has no type"))?;
        let mut def = def_of(node, ty);
        def.constant = None; // ECS has no constant values
        out.insert(name.to_string(), def);
    }
    // fields.csv lists the same fields (and the multi-fields) one per row: it must agree.
    let csv_path = dir.join("fields.csv");
    let csv =
        std::fs::read_to_string(&csv_path).map_err(|e| format!("{}: {e}", csv_path.display()))?;
    let mut version = None;
    for (i, line) in csv.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.splitn(6, ',').collect();
        if cols.len() < 5 {
            continue; // a continuation line of a quoted multi-line description
        }
        let (csv_version, field, ty) = (cols[0], cols[3], cols[4]);
        if !csv_version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
        {
            continue;
        }
        version.get_or_insert_with(|| csv_version.to_string());
        let known = match out.get(field) {
            Some(def) => def.ty == ty,
            None => field.rsplit_once('.').is_some_and(|(parent, sub)| {
                out.get(parent)
                    .is_some_and(|d| d.multi.iter().any(|m| m.0 == sub && m.1 == ty))
            }),
        };
        if !known {
            return Err(format!(
                "fields.csv line {}: {field} ({ty}) disagrees with ecs_flat.yml",
                i + 1
            ));
        }
    }
    Ok((out, version.ok_or("fields.csv: no ECS version found")?))
}

/// Walks a package `fields:` list, producing (full name, definition) pairs.
fn walk_package(
    list: &[Yaml],
    prefix: &str,
    ecs: &BTreeMap<String, Def>,
    file: &str,
    out: &mut Vec<(String, Def)>,
) -> Result<(), String> {
    for node in list {
        let local = str_of(node, "name").ok_or_else(|| format!("{file}: a field has no name"))?;
        let name = if prefix.is_empty() {
            local.to_string()
        } else {
            format!("{prefix}.{local}")
        };
        let external = str_of(node, "external");
        let ty = str_of(node, "type");
        let mut def = match (external, ty) {
            (Some("ecs"), _) => {
                let mut d = ecs
                    .get(&name)
                    .cloned()
                    .ok_or_else(|| format!("{file}: {name} is `external: ecs` but not in ECS"))?;
                // elastic-package imports only name, type, object_type, pattern, index,
                // doc_values and multi_fields of an ECS field (`transformImportedField` in its
                // `internal/fields/dependency_manager.go`); Fleet's defaults then apply.
                d.ignore_above = None;
                d.scaling_factor = None;
                // Local keys override the imported definition.
                if let Some(t) = ty {
                    d.ty = t.to_string();
                }
                if let Some(n) = int_of(node, "ignore_above") {
                    d.ignore_above = Some(n);
                }
                d
            }
            (Some(other), _) => return Err(format!("{file}: {name}: unknown external `{other}`")),
            (None, Some("group")) | (None, None) => {
                let children = node
                    .as_mapping_get("fields")
                    .and_then(|v| v.as_sequence())
                    .ok_or_else(|| format!("{file}: group {name} has no `fields` list"))?;
                walk_package(children, &name, ecs, file, out)?;
                continue;
            }
            (None, Some(t)) => def_of(node, t),
        };
        if def.ty == "nested"
            && let Some(children) = node.as_mapping_get("fields").and_then(|v| v.as_sequence())
        {
            walk_package(children, &name, ecs, file, out)?;
        }
        apply_fleet_rules(&mut def);
        out.push((name, def));
    }
    Ok(())
}

/// What Fleet's template builder does to a package field (see the module doc).
fn apply_fleet_rules(def: &mut Def) {
    match def.ty.as_str() {
        "keyword" => {
            if def.ignore_above.is_none() {
                def.ignore_above = Some(FLEET_DEFAULT_IGNORE_ABOVE);
            }
            if !def.index || !def.doc_values {
                def.ignore_above = None;
            }
        }
        "wildcard" if def.ignore_above.is_none() => {
            def.ignore_above = Some(FLEET_DEFAULT_IGNORE_ABOVE);
        }
        "integer" => def.ty = "long".to_string(),
        "scaled_float" if def.scaling_factor.is_none() => def.scaling_factor = Some(1000.0),
        _ => {}
    }
    for m in &mut def.multi {
        if m.1 == "keyword" && m.2.is_none() {
            m.2 = Some(FLEET_DEFAULT_IGNORE_ABOVE);
        }
        if m.1 == "integer" {
            m.1 = "long".to_string();
        }
    }
}

fn rust_type(es: &str) -> Result<String, String> {
    let mut out = String::new();
    for part in es.split('_') {
        let mut chars = part.chars();
        let first = chars
            .next()
            .ok_or_else(|| format!("bad type name `{es}`"))?;
        out.push(first.to_ascii_uppercase());
        out.extend(chars);
    }
    Ok(out)
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn find_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let at = text.find(marker)? + marker.len();
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Renders the complete `src/generated.rs` from `shared` (the `../shared` directory).
pub fn render(shared: &Path) -> Result<String, String> {
    let ecs_dir = shared.join("schemas/ecs");
    let pkg_dir = shared.join("fixtures/aws-cloudtrail-pipeline");
    let (ecs, ecs_version) = load_ecs(&ecs_dir)?;

    let ecs_source = std::fs::read_to_string(ecs_dir.join("SOURCE.md"))
        .map_err(|e| format!("schemas/ecs/SOURCE.md: {e}"))?;
    let ecs_commit = find_after(&ecs_source, "commit ").ok_or("SOURCE.md: no ECS commit")?;
    let pkg_source = std::fs::read_to_string(pkg_dir.join("SOURCE.md"))
        .map_err(|e| format!("aws-cloudtrail-pipeline/SOURCE.md: {e}"))?;
    let pkg_version =
        find_after(&pkg_source, "Package version: **aws ").ok_or("SOURCE.md: no aws version")?;

    let mut package: BTreeMap<String, (Def, &str)> = BTreeMap::new();
    for file in PACKAGE_FIELD_FILES {
        let root = load_yaml(&pkg_dir.join("fields").join(file))?;
        let list = root
            .as_sequence()
            .ok_or_else(|| format!("{file}: expected a list of fields"))?;
        let mut found = Vec::new();
        walk_package(list, "", &ecs, file, &mut found)?;
        for (name, def) in found {
            if let Some((prev, prev_file)) = package.get(&name)
                && *prev != def
            {
                return Err(format!(
                    "{name} defined differently in {prev_file} and {file}"
                ));
            }
            package.insert(name, (def, file));
        }
    }

    // name -> (definition, from the package?)
    let mut merged: BTreeMap<&str, (&Def, bool)> = BTreeMap::new();
    for (name, def) in &ecs {
        merged.insert(name, (def, false));
    }
    for (name, (def, _)) in &package {
        merged.insert(name, (def, true));
    }

    let mut out = String::new();
    out.push_str(
        "// @generated by `cargo run -p dragnet-schema --example generate`; do not edit.\n",
    );
    let _ = writeln!(
        out,
        "// Sources: ../shared/schemas/ecs/ecs_flat.yml (ECS {ecs_version}, elastic/ecs {ecs_commit})"
    );
    let _ = writeln!(
        out,
        "// and ../shared/fixtures/aws-cloudtrail-pipeline/fields/*.yml (elastic/integrations aws {pkg_version}, data stream cloudtrail)."
    );
    out.push_str("// `e(..)` = ECS definition, `a(..)` = AWS integration definition (after Fleet's template rules);\n");
    out.push_str("// the third argument is `ignore_above` (0 = none).\n\n");
    out.push_str("use crate::builtin::{Multi, Row, a, e};\nuse crate::types::FieldType::*;\n\n");
    let _ = writeln!(
        out,
        "pub(crate) const ECS_VERSION: &str = {};",
        quoted(&ecs_version)
    );
    let _ = writeln!(
        out,
        "pub(crate) const ECS_COMMIT: &str = {};",
        quoted(ecs_commit)
    );
    let _ = writeln!(
        out,
        "pub(crate) const AWS_PACKAGE_VERSION: &str = {};\n",
        quoted(pkg_version)
    );
    let _ = writeln!(out, "pub(crate) static ROWS: [Row; {}] = [", merged.len());
    for (name, (def, from_package)) in &merged {
        let ctor = if *from_package { "a" } else { "e" };
        let _ = write!(
            out,
            "    {ctor}({}, {}, {})",
            quoted(name),
            rust_type(&def.ty)?,
            def.ignore_above.unwrap_or(0)
        );
        if !def.multi.is_empty() {
            let parts: Result<Vec<String>, String> = def
                .multi
                .iter()
                .map(|(n, t, ia)| {
                    Ok(format!(
                        "Multi({}, {}, {})",
                        quoted(n),
                        rust_type(t)?,
                        ia.unwrap_or(0)
                    ))
                })
                .collect();
            let _ = write!(out, ".multi(&[{}])", parts?.join(", "));
        }
        if !def.index {
            out.push_str(".no_index()");
        }
        if !def.doc_values {
            out.push_str(".no_doc_values()");
        }
        if let Some(v) = &def.constant {
            let _ = write!(out, ".constant({})", quoted(v));
        }
        if let Some(t) = &def.object_type {
            let _ = write!(out, ".object_type({})", rust_type(t)?);
        }
        if let Some(f) = def.scaling_factor {
            let _ = write!(out, ".scaling({f:?})");
        }
        out.push_str(",\n");
    }
    out.push_str("];\n");
    Ok(out)
}
