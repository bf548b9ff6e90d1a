//! Semantic vectors: every line of every `tests/vectors/*.jsonl` file is one of
//! `{"id","query","doc","match","why"}` (the ECS document is evaluated through `JsonEvent`),
//! `{"id","query","compile_error","why"}` or `{"id","query","parse_error","why"}` (the error
//! message must contain the given text). All must pass; a vector that looks wrong is reported,
//! never edited here.

use std::path::Path;

use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
use dragnet_schema::Schema;
use serde_json::Value;

fn run_line(line: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let query = v["query"].as_str().ok_or("no \"query\" string")?;
    if v["why"].as_str().is_none_or(str::is_empty) {
        return Err("no \"why\"".into());
    }
    let parsed = dragnet_eql::parse(query);
    if let Some(want) = v.get("parse_error").and_then(Value::as_str) {
        return match parsed {
            Err(e) if e.message.contains(want) => Ok(()),
            Err(e) => Err(format!("parse error {e} does not mention {want:?}")),
            Ok(q) => Err(format!("expected a parse error, parsed as {q}")),
        };
    }
    let parsed = parsed.map_err(|e| format!("parse error {e}"))?;
    let mut table = FieldTable::new();
    let compiled = dragnet_eql::compile(&parsed, Schema::builtin(), &mut table);
    if let Some(want) = v.get("compile_error").and_then(Value::as_str) {
        return match compiled {
            Err(e) if e.message.contains(want) => Ok(()),
            Err(e) => Err(format!("compile error {e} does not mention {want:?}")),
            Ok(_) => Err("expected a compile error, compiled".into()),
        };
    }
    let compiled = compiled.map_err(|e| format!("compile error: {e}"))?;
    let doc = v.get("doc").ok_or("no \"doc\"")?;
    let want = v["match"]
        .as_bool()
        .ok_or("\"doc\" without boolean \"match\"")?;
    let paths = JsonPaths::bind(&table);
    let event = JsonEvent::new(doc, &paths);
    let got = compiled.matches(&event);
    if got != want {
        return Err(format!(
            "expected match={want}, got {got}\n{}",
            compiled.explain(&event)
        ));
    }
    Ok(())
}

#[test]
fn every_semantic_vector_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/vectors exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vector files in {}", dir.display());
    let (mut total, mut failures) = (0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut count = 0;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            count += 1;
            let id = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if let Err(e) = run_line(line) {
                failures.push(format!("{name}:{} [{id}]: {e}", i + 1));
            }
        }
        println!("{name}: {count} vectors");
        total += count;
    }
    println!("{total} vectors, {} failed", failures.len());
    assert!(total >= 150, "expected at least 150 vectors, found {total}");
    assert!(
        failures.is_empty(),
        "{} failing vectors:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
