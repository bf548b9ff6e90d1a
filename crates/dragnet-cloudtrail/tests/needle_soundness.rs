//! Soundness of `raw_needle` on real records: for every field the mapping produces and literals
//! taken from the values it produced (whole values and pieces of them), a needle that says
//! "these bytes" must find them in the raw record, and a constant answer must agree with the
//! value. (A prefilter that broke this would silently drop matching records.)

use std::io::Read;
use std::path::Path;

use dragnet_cloudtrail::{Mapper, MapperOptions, raw_needle};
use dragnet_event::{Event, FieldTable};
use dragnet_prefilter::{Needle, member_values};

fn records_of(path: &Path, out: &mut Vec<Vec<u8>>) {
    let mut bytes = Vec::new();
    if std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .is_err()
    {
        return;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            return;
        }
        bytes = plain;
    }
    let values: Vec<serde_json::Value> = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut m)) => match m.remove("Records") {
            Some(serde_json::Value::Array(a)) => a,
            _ => vec![serde_json::Value::Object(m)],
        },
        Ok(serde_json::Value::Array(a)) => a,
        Ok(_) => return,
        Err(_) => {
            // JSON lines: keep each line's own bytes.
            for line in bytes.split(|b| *b == b'\n') {
                if serde_json::from_slice::<serde_json::Value>(line).is_ok_and(|v| v.is_object()) {
                    out.push(line.to_vec());
                }
            }
            return;
        }
    };
    out.extend(
        values
            .iter()
            .filter(|v| v.is_object())
            .map(|v| serde_json::to_vec(v).unwrap()),
    );
}

fn walk(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out);
        } else if p.to_string_lossy().contains(".json") || p.extension().is_some_and(|e| e == "log")
        {
            records_of(&p, out);
        }
    }
}

/// Literals a rule could hold against `value`: the value, its alphanumeric runs, and short
/// windows at a few places.
fn literals(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    out.extend(
        value
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
    );
    let chars: Vec<char> = value.chars().collect();
    for len in [1, 3, 7] {
        for start in [
            0,
            chars.len() / 3,
            chars.len() / 2,
            chars.len().saturating_sub(len),
        ] {
            if start + len <= chars.len() {
                out.push(chars[start..start + len].iter().collect());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn contains(hay: &[u8], needle: &[u8], fold: bool) -> bool {
    if fold {
        memchr::memmem::find(&hay.to_ascii_lowercase(), &needle.to_ascii_lowercase()).is_some()
    } else {
        memchr::memmem::find(hay, needle).is_some()
    }
}

#[test]
fn needles_are_found_in_every_record_that_matches() {
    let fixtures =
        dragnet_testdata::require_shared!("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let mut records = Vec::new();
    walk(&fixtures, &mut records);
    walk(&datasets, &mut records);
    records.retain(|r| !contains(r, b"\\u", false));
    // Unoptimised builds check every 8th record to stay fast; release (CI) checks them all.
    let step = if cfg!(debug_assertions) { 8 } else { 1 };
    let records: Vec<Vec<u8>> = records.into_iter().step_by(step).collect();
    assert!(
        records.len() * step > 500,
        "too few records: {}",
        records.len()
    );

    let mut table = FieldTable::new();
    let mut ids: Vec<_> = dragnet_cloudtrail::field_names()
        .map(|n| table.intern(n))
        .collect();
    for extra in [
        "event.original",
        "aws.cloudtrail.flattened.request_parameters.instanceId",
        "aws.cloudtrail.flattened.request_parameters.bucketName",
        "aws.cloudtrail.resources.arn",
    ] {
        ids.push(table.intern(extra));
    }
    let mapper = Mapper::bind(
        &table,
        MapperOptions {
            include_original: true,
            ..MapperOptions::default()
        },
    )
    .unwrap();
    let (mut checked, mut bytes, mut unknown, mut members) = (0usize, 0usize, 0usize, 0usize);
    for raw in &records {
        let ev = mapper.map(raw).unwrap();
        for &id in &ids {
            let field = table.name(id);
            for value in ev.values(id) {
                let value = value.as_scalar().to_keyword().into_owned();
                for literal in literals(&value) {
                    for (exact, case_sensitive) in [(false, true), (true, true), (false, false)] {
                        if exact && literal != value {
                            continue;
                        }
                        checked += 1;
                        match raw_needle(field, &literal, exact, case_sensitive) {
                            Needle::Bytes(b) => {
                                bytes += 1;
                                assert!(
                                    contains(raw, &b, false),
                                    "{field}={value:?}: needle {literal:?} not in record {}",
                                    String::from_utf8_lossy(raw)
                                );
                            }
                            Needle::CaseInsensitive(b) => {
                                bytes += 1;
                                assert!(
                                    contains(raw, &b, true),
                                    "{field}={value:?}: needle {literal:?} (any case) not in record"
                                );
                            }
                            Needle::Constant(holds) => {
                                let v = if case_sensitive {
                                    value.clone()
                                } else {
                                    value.to_lowercase()
                                };
                                let l = if case_sensitive {
                                    literal.clone()
                                } else {
                                    literal.to_lowercase()
                                };
                                assert_eq!(
                                    holds,
                                    if exact { v == l } else { v.contains(&l) },
                                    "{field}"
                                );
                            }
                            Needle::Member { key, value: want } => {
                                members += 1;
                                let quoted = format!("\"{key}\"");
                                let finder = memchr::memmem::Finder::new(&quoted);
                                let mut seen = false;
                                let decidable = member_values(raw, &finder, &mut |v| {
                                    seen |= v == want.as_slice()
                                });
                                assert!(
                                    seen || !decidable,
                                    "{field}={value:?}: member {key}={literal:?} not found in record {}",
                                    String::from_utf8_lossy(raw)
                                );
                            }
                            Needle::MemberFolded { key, value: want } => {
                                members += 1;
                                let quoted = format!("\"{key}\"");
                                let finder = memchr::memmem::Finder::new(&quoted);
                                let mut seen = false;
                                let decidable = member_values(raw, &finder, &mut |v| {
                                    seen |= !v.is_ascii() || v.to_ascii_lowercase() == want
                                });
                                assert!(
                                    seen || !decidable,
                                    "{field}={value:?}: member {key}~{literal:?} not found in record {}",
                                    String::from_utf8_lossy(raw)
                                );
                            }
                            Needle::MemberPrefix { .. } | Needle::MemberFoldedPrefix { .. } => {
                                unreachable!("raw_needle gives no prefix needles")
                            }
                            Needle::Unknown => unknown += 1,
                        }
                    }
                }
            }
        }
    }
    println!(
        "needles: {checked} (field, literal) checks over {} records: {bytes} byte needles and {members} member needles all found, {unknown} unknown",
        records.len()
    );
    assert!(
        members > 0,
        "event.action/event.provider equality must give member needles"
    );
}

/// Every leaf path under `value`, dotted (arrays are transparent, as in Elasticsearch).
fn leaf_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                leaf_paths(v, &format!("{prefix}.{k}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                leaf_paths(v, prefix, out);
            }
        }
        serde_json::Value::Null => {}
        _ => out.push(prefix.to_string()),
    }
}

/// `raw_key_needle`: every flattened sub-field holding a value has its key's bytes in the raw
/// record.
#[test]
fn key_needles_are_found_in_every_record_with_the_field() {
    let fixtures =
        dragnet_testdata::require_shared!("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let mut records = Vec::new();
    walk(&fixtures, &mut records);
    walk(&datasets, &mut records);
    records.retain(|r| !contains(r, b"\\u", false));
    let table = FieldTable::new();
    let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
    let mut checked = 0usize;
    for raw in &records {
        let Ok(ev) = mapper.map(raw) else { continue };
        let ecs = ev.to_ecs();
        let Some(flattened) = ecs.pointer("/aws/cloudtrail/flattened") else {
            continue;
        };
        let mut paths = Vec::new();
        leaf_paths(flattened, "aws.cloudtrail.flattened", &mut paths);
        for path in paths {
            if let Some(needle) = dragnet_cloudtrail::raw_key_needle(&path) {
                checked += 1;
                assert!(
                    contains(raw, &needle, false),
                    "{path}: key needle {:?} not in record {}",
                    String::from_utf8_lossy(&needle),
                    String::from_utf8_lossy(raw)
                );
            }
        }
    }
    println!("key needles: {checked} checked, all found");
    assert!(checked > 1000, "too few flattened fields: {checked}");
}
