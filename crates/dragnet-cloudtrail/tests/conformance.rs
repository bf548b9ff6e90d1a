//! Conformance with Elastic's AWS integration (8.9.0) pipeline tests: every fixture input line
//! is mapped and compared, field by field, with the expected document. Fields not compared are
//! listed with their reason in `conformance-exclusions.toml`.

use std::collections::BTreeMap;
use std::path::Path;

use dragnet_cloudtrail::{Mapper, MapperOptions, Retain};
use dragnet_event::FieldTable;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Exclusions {
    exclude: Vec<Exclusion>,
}

#[derive(Deserialize)]
struct Exclusion {
    name: String,
    side: String,
    reason: String,
}

impl Exclusion {
    fn covers(&self, field: &str) -> bool {
        match self.name.strip_suffix(".*") {
            Some(prefix) => field.starts_with(prefix) && field[prefix.len()..].starts_with('.'),
            None => field == self.name,
        }
    }
}

/// Objects flattened to dotted leaf paths; arrays are compared whole.
fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

/// The `retain` setting of a test's config (`_conf: retain: X`), if any.
fn retain_of(config: &Path) -> Retain {
    let Ok(text) = std::fs::read_to_string(config) else {
        return Retain::All;
    };
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("retain:"))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
    match value.as_deref() {
        None | Some("all") => Retain::All,
        Some("keyword") => Retain::Keyword,
        Some("flattened") => Retain::Flattened,
        Some("minimal") => Retain::Minimal,
        Some("none") => Retain::None,
        Some(other) => panic!("{}: unknown retain value {other}", config.display()),
    }
}

#[test]
fn fixtures_agree_with_elastic_field_by_field() {
    let dir =
        dragnet_testdata::require_shared!("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline");
    let exclusions: Exclusions = toml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/conformance-exclusions.toml"
        ))
        .unwrap(),
    )
    .unwrap();
    for e in &exclusions.exclude {
        assert!(
            matches!(e.side.as_str(), "expected" | "produced"),
            "{}: bad side",
            e.name
        );
        assert!(
            !e.reason.trim().is_empty(),
            "{}: an exclusion needs a reason",
            e.name
        );
    }
    let excluded = |field: &str, side: &str| {
        exclusions
            .exclude
            .iter()
            .any(|e| e.side == side && e.covers(field))
    };

    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());

    let table = FieldTable::new();
    let (mut agree, mut total, mut skipped, mut docs) = (0usize, 0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let mut skipped_by: BTreeMap<String, usize> = BTreeMap::new();
    for input in &inputs {
        let name = input.file_name().unwrap().to_string_lossy().to_string();
        let expected_path = dir.join(format!("{name}-expected.json"));
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let expected = expected["expected"].as_array().unwrap();
        let options = MapperOptions {
            include_original: true,
            retain: retain_of(&dir.join(format!("{name}-config.yml"))),
            actor_target_mapping: true,
            // The harness's fixed agent read time and tags (INDEX.md).
            read_time: Some("2021-11-11T01:02:03.123456789Z".into()),
            tags: vec![
                "preserve_original_event".into(),
                "actor_target_mapping".into(),
            ],
            ..MapperOptions::default()
        };
        let mapper = Mapper::bind(&table, options).unwrap();
        let text = std::fs::read_to_string(input).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        // A trailing newline ends the last line; it is not one more (empty) message.
        let lines = match lines.split_last() {
            Some((&"", rest)) => rest,
            _ => &lines[..],
        };
        assert_eq!(
            lines.len(),
            expected.len(),
            "{name}: one expected document per line"
        );
        for (i, (line, want)) in lines.iter().zip(expected).enumerate() {
            docs += 1;
            let got = mapper.map(line.as_bytes()).unwrap().to_ecs();
            let (mut g, mut w) = (BTreeMap::new(), BTreeMap::new());
            leaves("", &got, &mut g);
            leaves("", want, &mut w);
            let fields: std::collections::BTreeSet<&String> = g.keys().chain(w.keys()).collect();
            for f in fields {
                let (gv, wv) = (g.get(f), w.get(f));
                if (gv.is_none() && excluded(f, "expected"))
                    || (wv.is_none() && excluded(f, "produced"))
                {
                    skipped += 1;
                    *skipped_by.entry(f.clone()).or_insert(0usize) += 1;
                    continue;
                }
                total += 1;
                if gv == wv {
                    agree += 1;
                } else {
                    failures.push(format!(
                        "{name} line {}: {f}\n    expected: {}\n    dragnet : {}",
                        i + 1,
                        wv.map_or("(absent)".into(), Value::to_string),
                        gv.map_or("(absent)".into(), Value::to_string)
                    ));
                }
            }
        }
    }
    println!(
        "conformance: {agree}/{total} fields agree ({:.2}%) over {docs} documents from {} fixtures; {skipped} excluded (see conformance-exclusions.toml)",
        100.0 * agree as f64 / total as f64,
        inputs.len()
    );
    println!("excluded: {skipped_by:?}");
    assert!(
        failures.is_empty(),
        "{} fields differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
