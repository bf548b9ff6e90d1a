//! Hostile input never panics the framer: random bytes, and random mutations of valid files,
//! plain and gzip, with small buffers and limits so every refill and limit path is taken.

use std::io::Write;
use std::ops::ControlFlow;

use dragnet_input::{InputOptions, RecordLocation, Validation, read_reader};
use proptest::prelude::*;

const FIXTURES: &[&str] = &[
    "records_pretty.json",
    "records_compact.json",
    "array_pretty.json",
    "mixed_lines.jsonl",
    "lookup_events.json",
    "eventbridge_pretty.json",
    "ecs_export.ndjson",
    "broken_lines.jsonl",
    "wrong_types.json",
    "truncated_records.json",
    "cloudwatch_firehose.json",
    "filter_log_events.json",
    "elastic_hits.ndjson",
];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

/// Frames `bytes` in both validation modes and checks what the framer promises about every
/// delivered span.
fn frame_checked(bytes: Vec<u8>, opts: &InputOptions) {
    for validate in [Validation::Full, Validation::Framing] {
        let opts = InputOptions {
            validate,
            ..opts.clone()
        };
        frame_checked_in(bytes.clone(), &opts);
    }
}

fn frame_checked_in(bytes: Vec<u8>, opts: &InputOptions) {
    let mut last: Option<RecordLocation> = None;
    read_reader(
        Box::new(std::io::Cursor::new(bytes)),
        "fuzz".into(),
        opts,
        &mut |batch| {
            for (bytes, span) in batch.iter() {
                assert!(std::str::from_utf8(bytes).is_ok());
                assert_eq!(bytes.first(), Some(&b'{'));
                assert_eq!(bytes.last(), Some(&b'}'));
                if let Some(prev) = last {
                    assert!(span.location.index > prev.index);
                    assert!(span.location.line >= prev.line);
                }
                last = Some(span.location);
            }
            ControlFlow::Continue(())
        },
        &mut |p| {
            assert!(!p.message.is_empty());
        },
    );
}

fn small_opts() -> InputOptions {
    InputOptions {
        max_record_bytes: 300,
        max_depth: 6,
        batch_bytes: 64,
        ..InputOptions::default()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let structural = prop::sample::select(vec![
        b'{', b'}', b'[', b']', b'"', b'\\', b',', b':', b'\n', b' ', 0xff, b'0', b't',
    ]);
    prop_oneof![
        (any::<usize>(), structural.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), structural).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let n = bytes.len();
        match *m {
            Mutation::Flip(i, b) => bytes[i % n] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Mutation::Delete(i) => {
                bytes.remove(i % n);
            }
            Mutation::Truncate(i) => bytes.truncate(i % n),
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        frame_checked(bytes.clone(), &small_opts());
        frame_checked(bytes, &InputOptions::default());
    }

    #[test]
    fn random_json_ish_bytes(bytes in prop::collection::vec(
        prop::sample::select(b"{}[]\",:\\ \n0tfnu\x00\xc3ab".to_vec()), 0..600)) {
        frame_checked(bytes.clone(), &small_opts());
        frame_checked(bytes, &InputOptions::default());
    }

    #[test]
    fn mutated_fixtures(which in 0..FIXTURES.len(), mutations in prop::collection::vec(mutation(), 1..8)) {
        let bytes = apply(fixture(FIXTURES[which]), &mutations);
        frame_checked(bytes.clone(), &small_opts());
        frame_checked(bytes.clone(), &InputOptions::default());
        frame_checked(gzip(&bytes), &small_opts());
    }

    #[test]
    fn mutated_gzip(which in 0..FIXTURES.len(), mutations in prop::collection::vec(mutation(), 1..4)) {
        let bytes = apply(gzip(&fixture(FIXTURES[which])), &mutations);
        frame_checked(bytes, &small_opts());
    }
}
