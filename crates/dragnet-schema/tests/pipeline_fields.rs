//! Every field the AWS integration's CloudTrail pipeline writes (its expected test outputs in
//! `../shared/fixtures/aws-cloudtrail-pipeline`) is typed by the built-in schema, so no pipeline
//! output falls back to dynamic mapping.

use dragnet_schema::{Resolved, Schema};
use serde_json::Value;

fn leaves(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(v, &p, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| leaves(v, path, out)),
        Value::Null => {}
        _ => out.push(path.to_string()),
    }
}

#[test]
fn every_pipeline_output_field_is_in_the_builtin_schema() {
    let dir =
        dragnet_testdata::require_shared!("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline");
    let schema = Schema::builtin();
    let mut checked = 0;
    let mut untyped = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with("-expected.json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *-expected.json in {}", dir.display());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable expected file");
        let json: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut names = Vec::new();
        for doc in json["expected"].as_array().expect("`expected` array") {
            leaves(doc, "", &mut names);
        }
        for name in names {
            checked += 1;
            let typed = match schema.resolve(&name) {
                Resolved::Known(_)
                | Resolved::FlattenedLeaf { .. }
                | Resolved::ObjectLeaf { .. } => true,
                // `lat`/`lon` of a geo_point value are part of that field.
                Resolved::BelowLeaf { leaf } => leaf.ty == dragnet_schema::FieldType::GeoPoint,
                Resolved::Object(_) | Resolved::Unknown => false,
            };
            if !typed {
                untyped.push(format!(
                    "{}: {name}",
                    file.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(checked > 500, "only {checked} field values checked");
    untyped.sort();
    untyped.dedup();
    assert!(
        untyped.is_empty(),
        "fields without a mapping:\n{}",
        untyped.join("\n")
    );
}
