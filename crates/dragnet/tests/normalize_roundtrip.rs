//! `dragnet normalize` output, read back as ECS documents (`JsonEvent`), answers every field of
//! the mapping exactly as the lazy view of the raw record (`CloudTrailEvent`) does: the
//! library-level form of "a rule sees the same values on normalized and on raw input".

use std::ops::ControlFlow;
use std::path::Path;

use assert_cmd::Command;
use dragnet_cloudtrail::{Mapper, MapperOptions};
use dragnet_event::{Event, FieldTable, JsonEvent, JsonPaths};
use dragnet_input::{InputOptions, RecordKind, discover, read_batches};

/// Every record dragnet-input frames from `input`, with its kind, in output order.
fn raw_records(input: &Path) -> Vec<(Vec<u8>, RecordKind)> {
    let opts = InputOptions::default();
    let found = discover(&[input.display().to_string()], &opts);
    let mut out = Vec::new();
    for source in &found.sources {
        read_batches(
            source,
            &opts,
            &mut |batch| {
                for (bytes, span) in batch.iter() {
                    out.push((bytes.to_vec(), span.kind));
                }
                ControlFlow::Continue(())
            },
            &mut |_| {},
        );
    }
    out
}

fn sorted_values(ev: &dyn Event, id: dragnet_event::FieldId) -> Vec<String> {
    // Object leaves have no defined order (JSON objects are unordered), so compare multisets.
    let mut v: Vec<String> = ev.values(id).iter().map(|s| format!("{s:?}")).collect();
    v.sort();
    v
}

fn check(input: &Path) -> (usize, usize) {
    let output = Command::cargo_bin("dragnet")
        .unwrap()
        .args(["normalize", "--quiet", "--include-original"])
        .arg(input)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let docs: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let mut table = FieldTable::new();
    let mut ids: Vec<_> = dragnet_cloudtrail::field_names()
        .map(|n| table.intern(n))
        .collect();
    for extra in [
        "event.original",
        "aws.cloudtrail.flattened.request_parameters.instanceId",
        "aws.cloudtrail.flattened.response_elements.instancesSet.items.instanceId",
        "aws.cloudtrail.resources.arn",
        "aws.cloudtrail.flattened.digest.log_files.s3Object",
        "aws.cloudtrail.user_identity",
        "user",
        "event",
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
    let paths = JsonPaths::bind(&table);

    let mut doc_iter = docs.iter();
    let (mut records, mut compared) = (0, 0);
    for (raw, kind) in raw_records(input) {
        let lazy = match kind {
            RecordKind::Ecs => {
                doc_iter.next().expect("an output line per ECS record");
                continue;
            }
            RecordKind::CloudTrail => match mapper.map(&raw) {
                Ok(ev) => ev,
                Err(_) => continue, // reported and skipped by normalize too
            },
        };
        let doc = doc_iter.next().expect("an output line per mapped record");
        let ecs = JsonEvent::new(doc, &paths);
        records += 1;
        for &id in &ids {
            let (a, b) = (sorted_values(&lazy, id), sorted_values(&ecs, id));
            assert_eq!(
                a,
                b,
                "{}: record {records}, field {}",
                input.display(),
                table.name(id)
            );
            compared += usize::from(!a.is_empty());
        }
    }
    assert!(
        doc_iter.next().is_none(),
        "{}: more output than records",
        input.display()
    );
    (records, compared)
}

#[test]
fn normalized_documents_answer_like_the_lazy_view() {
    let fixtures =
        dragnet_testdata::require_shared!("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline");
    let datasets = dragnet_testdata::require_shared!("datasets/cloudtrail");
    let (mut records, mut values) = (0, 0);
    for input in [&fixtures, &datasets] {
        let (r, v) = check(input);
        assert!(r > 0, "{}: no records", input.display());
        records += r;
        values += v;
    }
    println!("round trip: {records} records, {values} non-empty field values identical");
}
