//! Framing of every input shape, from hand-written fixtures under `tests/fixtures/`.

use dragnet_prefilter::{KeyHits, KeyProbe, NeedleProbe, Probes};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

use dragnet_input::{
    InputOptions, Limit, Problem, ProblemKind, RecordKind, RecordLocation, RecordSpan, Source,
    SourceStats, Validation, read_batches, read_reader,
};

struct Framed {
    records: Vec<(String, RecordSpan)>,
    problems: Vec<Problem>,
    stats: SourceStats,
}

impl Framed {
    fn texts(&self) -> Vec<&str> {
        self.records.iter().map(|(t, _)| t.as_str()).collect()
    }
    fn kinds(&self) -> Vec<&'static str> {
        self.problems.iter().map(|p| p.kind.name()).collect()
    }
    fn names(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|(t, _)| {
                let v: serde_json::Value = serde_json::from_str(t).expect("framed record parses");
                v["eventName"].as_str().unwrap_or("").to_string()
            })
            .collect()
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn collect(
    run: impl FnOnce(
        &mut dyn FnMut(dragnet_input::RecordBatch) -> ControlFlow<()>,
        &mut dyn FnMut(Problem),
    ) -> SourceStats,
) -> Framed {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let stats = run(
        &mut |batch| {
            for (bytes, span) in batch.iter() {
                records.push((String::from_utf8(bytes.to_vec()).unwrap(), span.clone()));
            }
            ControlFlow::Continue(())
        },
        &mut |p| problems.push(p),
    );
    Framed {
        records,
        problems,
        stats,
    }
}

/// Frames a fixture twice, read and memory-mapped, and checks both give the same records,
/// locations, problems and counts.
fn frame_file_with(name: &str, opts: &InputOptions) -> Framed {
    let source = Source::File(fixture(name));
    let read_opts = InputOptions {
        map_min_bytes: None,
        ..opts.clone()
    };
    let map_opts = InputOptions {
        map_min_bytes: Some(0),
        ..opts.clone()
    };
    let read = collect(|b, p| read_batches(&source, &read_opts, b, p));
    let mapped = collect(|b, p| read_batches(&source, &map_opts, b, p));
    assert_eq!(
        read.records, mapped.records,
        "{name}: mapped framing differs"
    );
    let problems = |f: &Framed| f.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    assert_eq!(
        problems(&read),
        problems(&mapped),
        "{name}: mapped problems differ"
    );
    assert_eq!(read.stats, mapped.stats, "{name}: mapped counts differ");
    read
}

fn frame_file(name: &str) -> Framed {
    frame_file_with(name, &InputOptions::default())
}

fn frame_bytes(bytes: Vec<u8>, opts: &InputOptions) -> Framed {
    collect(|b, p| {
        read_reader(
            Box::new(std::io::Cursor::new(bytes)),
            "mem".into(),
            opts,
            b,
            p,
        )
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn pretty_records_with_escapes_and_braces_in_strings() {
    let f = frame_file("records_pretty.json");
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.names(), ["CreateUser", "GetObject", "AssumeRole"]);
    let (first, span) = &f.records[0];
    assert!(first.starts_with('{') && first.ends_with('}'));
    assert!(first.contains(r#""a\"}b""#) && first.contains(r#""C:\\temp\\""#));
    assert_eq!(
        (
            span.location.line,
            span.location.index,
            span.location.offset
        ),
        (3, 0, 27)
    );
    assert_eq!(f.records[1].1.location.line, 10);
    assert_eq!(f.records[2].1.location.line, 17);
    assert_eq!(f.records[2].1.location.index, 2);
    assert!(
        f.records
            .iter()
            .all(|(_, s)| s.kind == RecordKind::CloudTrail)
    );
}

#[test]
fn compact_records_and_gzip_by_magic_not_name() {
    let plain = frame_file("records_compact.json");
    assert_eq!(plain.names(), ["RunInstances", "StopInstances"]);
    assert_eq!(plain.records[1].1.location.line, 1);
    assert_eq!(plain.records[1].1.location.index, 1);
    let bytes = std::fs::read(fixture("records_compact.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-gz-suffix.json");
    std::fs::write(&path, gzip(&bytes)).unwrap();
    let gz =
        collect(|b, p| read_batches(&Source::File(path.clone()), &InputOptions::default(), b, p));
    assert!(gz.stats.gzip);
    assert_eq!(gz.texts(), plain.texts());
    assert_eq!(gz.records[1].1.location, plain.records[1].1.location);
}

#[test]
fn top_level_array() {
    let f = frame_file("array_pretty.json");
    assert!(f.problems.is_empty());
    assert_eq!(f.names(), ["Decrypt", "Encrypt"]);
    assert_eq!(f.records[1].1.location.line, 7);
}

#[test]
fn json_lines_with_mixed_shapes_per_line() {
    let f = frame_file("mixed_lines.jsonl");
    assert_eq!(
        f.names(),
        [
            "CreateUser",
            "DeleteUser",
            "",
            "InRecordsLine1",
            "InRecordsLine2",
            "InArrayLine",
            "NoVersionButCloudTrail"
        ]
    );
    let kinds: Vec<RecordKind> = f.records.iter().map(|(_, s)| s.kind).collect();
    assert_eq!(kinds[2], RecordKind::Ecs);
    assert!(
        kinds
            .iter()
            .enumerate()
            .all(|(i, k)| i == 2 || *k == RecordKind::CloudTrail)
    );
    // The envelope's record is its `detail` object.
    assert!(
        f.records[1]
            .0
            .starts_with(r#"{"eventVersion":"1.08","eventSource":"iam"#)
    );
    let lines: Vec<u64> = f.records.iter().map(|(_, s)| s.location.line).collect();
    assert_eq!(lines, [1, 3, 4, 5, 5, 6, 8]);
    // The EC2 state-change event is EventBridge but not CloudTrail: reported, skipped.
    assert_eq!(f.kinds(), ["not-cloudtrail"]);
    assert_eq!(f.problems[0].at.unwrap().line, 7);
    assert!(
        f.problems[0]
            .message
            .contains("EC2 Instance State-change Notification")
    );
}

#[test]
fn lookup_events_output_is_unescaped() {
    let f = frame_file("lookup_events.json");
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.names(), ["ConsoleLogin", "GetCallerIdentity"]);
    assert_eq!(
        f.records[0].0,
        r#"{"eventVersion":"1.08","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","additionalEventData":{"MFAUsed":"No","note":"quote \" and backslash \\"}}"#
    );
    assert_eq!(f.records[0].1.location.line, 3);
    assert_eq!(f.records[1].1.location.index, 1);
}

#[test]
fn pretty_eventbridge_envelope() {
    let f = frame_file("eventbridge_pretty.json");
    assert!(f.problems.is_empty());
    assert_eq!(f.names(), ["CreateBucket"]);
}

#[test]
fn ecs_ndjson_is_flagged() {
    let f = frame_file("ecs_export.ndjson");
    assert!(f.problems.is_empty());
    assert_eq!(f.records.len(), 2);
    assert!(f.records.iter().all(|(_, s)| s.kind == RecordKind::Ecs));
}

#[test]
fn ecs_document_without_timestamp_is_still_ecs() {
    // The AWS pipeline keeps a record whose eventTime does not parse, without @timestamp;
    // `dragnet normalize` writes such documents, and they must read back as ECS.
    let bytes = concat!(
        r#"{"ecs":{"version":"8.11.0"},"event":{"kind":"event"},"error":{"message":"x"}}"#,
        "\n",
        r#"{"@timestamp":"2024-01-01T00:00:00.000Z","event":{"action":"GetObject"}}"#,
        "\n",
        r#"{"data_stream":{"dataset":"aws.cloudtrail"},"message":"no timestamp"}"#,
        "\n",
    );
    let f = frame_bytes(bytes.as_bytes().to_vec(), &InputOptions::default());
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.records.len(), 3);
    assert!(f.records.iter().all(|(_, s)| s.kind == RecordKind::Ecs));
}

#[test]
fn broken_lines_are_reported_and_the_rest_is_framed() {
    let f = frame_file("broken_lines.jsonl");
    assert_eq!(
        f.names(),
        ["Good1", "Good2", "Good3", "Good4", "Unbalanced", "Good5"]
    );
    let got: Vec<(&str, u64)> = f
        .problems
        .iter()
        .map(|p| (p.kind.name(), p.at.unwrap().line))
        .collect();
    assert_eq!(
        got,
        [
            ("malformed", 2),
            ("malformed", 4),
            ("malformed", 6),
            ("not-an-object", 8),
            ("not-an-object", 9),
            ("malformed", 10),
        ],
        "{:#?}",
        f.problems
    );
    // Line 5 ("and neither is this") was skipped with line 4, and the message says so.
    assert!(
        f.problems[1].message.contains("1 following lines"),
        "{}",
        f.problems[1].message
    );
    assert_eq!(f.stats.records, 6);
}

/// A record with bytes that are not UTF-8 is delivered with each such byte replaced by U+FFFD,
/// as Filebeat and Elastic Agent (Go) index it: Go's `encoding/json` documents that "invalid
/// UTF-8 or invalid UTF-16 surrogate pairs are not treated as an error. Instead, they are
/// replaced by the Unicode replacement character U+FFFD" (pkg.go.dev/encoding/json, Unmarshal),
/// one per invalid byte (`utf8.DecodeRune` returns `RuneError` of width 1). The problem is a
/// note with the location; the record is not counted as skipped.
#[test]
fn non_utf8_record_is_replaced_and_delivered_with_a_note() {
    let f = frame_file("not_utf8.jsonl");
    assert_eq!(f.names(), ["Latin1 \u{FFFD}t\u{FFFD}", "AfterBadUtf8"]);
    assert_eq!(f.kinds(), ["not-utf8"]);
    let at = f.problems[0].at.unwrap();
    assert_eq!((at.line, at.index, at.offset), (1, 0, 0));
    assert!(
        f.problems[0].message.contains("byte 43") && f.problems[0].message.contains("U+FFFD"),
        "{}",
        f.problems[0].message
    );
    assert_eq!(f.records[0].1.location, at);
    assert_eq!(f.records[1].1.location.index, 1);
    assert_eq!((f.stats.records, f.stats.skipped_records), (2, 0));
    // Both modes, read and mapped, and a truncated sequence at the end of a value: one
    // U+FFFD per byte that is not UTF-8.
    let text = b"{\"eventVersion\":\"1\",\"eventName\":\"a\xe2\x82\"}\n".to_vec();
    for opts in [InputOptions::default(), framing_mode()] {
        let f = frame_bytes(text.clone(), &opts);
        assert_eq!(f.names(), ["a\u{FFFD}\u{FFFD}"]);
        assert_eq!(f.kinds(), ["not-utf8"]);
    }
}

#[test]
fn wrong_typed_records_are_reported_with_index() {
    let f = frame_file("wrong_types.json");
    assert_eq!(f.names(), ["First", "Last"]);
    let got: Vec<(&str, u64)> = f
        .problems
        .iter()
        .map(|p| (p.kind.name(), p.at.unwrap().index))
        .collect();
    assert_eq!(
        got,
        [
            ("not-an-object", 1),
            ("not-an-object", 2),
            ("not-an-object", 3),
            ("not-an-object", 4)
        ]
    );
    assert_eq!(f.records[1].1.location.index, 5);
}

#[test]
fn files_that_are_not_cloudtrail_are_skipped_with_reason() {
    for (name, why) in [
        ("README.md", "does not start with"),
        ("config.yaml", "does not start with"),
        ("package.json", "no CloudTrail"),
    ] {
        let f = frame_file(name);
        assert!(f.records.is_empty());
        assert!(f.stats.skipped_file, "{name}");
        assert_eq!(f.kinds(), ["not-cloudtrail"], "{name}");
        assert!(f.problems[0].at.is_none());
        assert!(
            f.problems[0].message.contains(why),
            "{name}: {}",
            f.problems[0].message
        );
    }
    let zip = frame_bytes(
        b"PK\x03\x04\x14\x00\x00\x00rest".to_vec(),
        &InputOptions::default(),
    );
    assert!(zip.problems[0].message.contains("zip archive"));
    let numbers = frame_bytes(b"[1,2,3]".to_vec(), &InputOptions::default());
    assert!(numbers.stats.skipped_file);
    let empty = frame_bytes(b"  \n".to_vec(), &InputOptions::default());
    assert!(empty.problems.is_empty() && empty.records.is_empty());
}

#[test]
fn truncated_records_file_keeps_what_was_framed() {
    let f = frame_file("truncated_records.json");
    assert_eq!(f.names(), ["Complete1", "Complete2"]);
    assert_eq!(f.kinds(), ["truncated"]);
    assert_eq!(f.problems[0].at.unwrap().line, 4);
}

#[test]
fn truncated_gzip_keeps_records_before_the_cut() {
    let mut text = String::from("{\"Records\":[\n");
    for i in 0..2000 {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&format!(
            r#"{{"eventVersion":"1.08","eventName":"E{i}","pad":"{}"}}"#,
            "x".repeat(i % 97)
        ));
    }
    text.push_str("]}\n");
    let gz = gzip(text.as_bytes());
    let cut = gz[..gz.len() / 2].to_vec();
    let f = frame_bytes(cut, &InputOptions::default());
    assert!(f.stats.gzip);
    assert!(
        !f.records.is_empty() && f.records.len() < 2000,
        "{}",
        f.records.len()
    );
    assert_eq!(f.kinds(), ["truncated"]);
    assert!(
        f.problems[0].message.contains("gzip stream is cut"),
        "{}",
        f.problems[0].message
    );
    // Every framed record is complete and in order.
    for (i, name) in f.names().iter().enumerate() {
        assert_eq!(name, &format!("E{i}"));
    }
}

#[test]
fn batches_split_streams_without_changing_records() {
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!(
            "{{\"eventVersion\":\"1.08\",\"eventName\":\"E{i}\"}}\n"
        ));
    }
    let small = InputOptions {
        batch_bytes: 1000,
        ..InputOptions::default()
    };
    let f = frame_bytes(text.clone().into_bytes(), &small);
    assert!(f.stats.batches > 100, "{}", f.stats.batches);
    assert_eq!(f.records.len(), 5000);
    for (i, (_, span)) in f.records.iter().enumerate() {
        assert_eq!(span.location.line, i as u64 + 1);
        assert_eq!(span.location.index, i as u64);
    }
    let offsets: Vec<u64> = f.records.iter().map(|(_, s)| s.location.offset).collect();
    let expected: Vec<u64> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i as u64 + 1))
        .take(5000)
        .collect();
    assert_eq!(offsets, expected);
}

#[test]
fn stopping_early() {
    let text = "{\"eventVersion\":\"1\"}\n".repeat(1000);
    let opts = InputOptions {
        batch_bytes: 100,
        ..InputOptions::default()
    };
    let mut batches = 0;
    read_reader(
        Box::new(std::io::Cursor::new(text.into_bytes())),
        "mem".into(),
        &opts,
        &mut |_| {
            batches += 1;
            ControlFlow::Break(())
        },
        &mut |_| {},
    );
    assert_eq!(batches, 1);
}

#[test]
fn record_size_limit_is_named_with_its_flag() {
    let opts = InputOptions {
        max_record_bytes: 100,
        ..InputOptions::default()
    };
    let long = format!("{{\"eventVersion\":\"1\",\"x\":\"{}\"}}", "y".repeat(5000));
    let text = format!(
        "{{\"eventVersion\":\"1\",\"eventName\":\"A\"}}\n{long}\n{{\"eventVersion\":\"1\",\"eventName\":\"B\"}}\n"
    );
    let f = frame_bytes(text.into_bytes(), &opts);
    assert_eq!(f.names(), ["A", "B"]);
    assert_eq!(
        f.problems[0].kind,
        ProblemKind::LimitExceeded {
            limit: Limit::RecordBytes
        }
    );
    assert_eq!(f.problems[0].at.unwrap().line, 2);
    assert!(f.problems[0].message.contains("--max-record-bytes"));
}

#[test]
fn depth_limit_is_named_with_its_flag() {
    let opts = InputOptions {
        max_depth: 8,
        ..InputOptions::default()
    };
    let deep = format!(
        "{{\"eventVersion\":\"1\",\"x\":{}1{}}}",
        "[".repeat(20),
        "]".repeat(20)
    );
    let text = format!("{deep}\n{{\"eventVersion\":\"1\",\"eventName\":\"B\"}}\n");
    let f = frame_bytes(text.into_bytes(), &opts);
    assert_eq!(f.names(), ["B"]);
    assert_eq!(
        f.problems[0].kind,
        ProblemKind::LimitExceeded {
            limit: Limit::JsonDepth
        }
    );
    assert!(f.problems[0].message.contains("--max-json-depth"));
}

#[test]
fn gzip_bomb_limits() {
    let zeros = vec![b' '; 40 << 20];
    let bomb = gzip(&zeros);
    let f = frame_bytes(bomb.clone(), &InputOptions::default());
    assert_eq!(
        f.problems[0].kind,
        ProblemKind::LimitExceeded {
            limit: Limit::CompressionRatio
        }
    );
    assert!(f.problems[0].message.contains("--max-compression-ratio"));
    let capped = InputOptions {
        max_decompressed_bytes: 1 << 20,
        ..InputOptions::default()
    };
    let f = frame_bytes(bomb, &capped);
    assert_eq!(
        f.problems[0].kind,
        ProblemKind::LimitExceeded {
            limit: Limit::DecompressedBytes
        }
    );
    assert!(f.problems[0].message.contains("--max-decompressed-bytes"));
}

#[test]
fn discovery_walks_folders_in_order_and_prunes_by_path_date() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .join("AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2023/07");
    for (day, file) in [
        (
            "09",
            "111122223333_CloudTrail_us-east-1_20230709T2355Z_a.json.gz",
        ),
        (
            "10",
            "111122223333_CloudTrail_us-east-1_20230710T1205Z_b.json.gz",
        ),
        (
            "10",
            "111122223333_CloudTrail_us-east-1_20230710T0005Z_c.json.gz",
        ),
        (
            "11",
            "111122223333_CloudTrail_us-east-1_20230711T0005Z_d.json.gz",
        ),
    ] {
        std::fs::create_dir_all(root.join(day)).unwrap();
        std::fs::write(root.join(day).join(file), b"{}").unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
    let input = vec![dir.path().display().to_string()];
    let all = dragnet_input::discover(&input, &InputOptions::default());
    let names: Vec<String> = all
        .sources
        .iter()
        .map(|s| s.name().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 5);
    assert!(names[0].contains("20230709T2355Z"));
    assert!(names[1].contains("20230710T0005Z"));
    assert!(names[2].contains("20230710T1205Z"));
    assert!(names[3].contains("20230711"));
    assert_eq!(names[4], "notes.txt");
    let opts = InputOptions {
        time_range: Some((
            "2023-07-10T11:00:00Z".parse().unwrap(),
            "2023-07-10T13:00:00Z".parse().unwrap(),
        )),
        ..InputOptions::default()
    };
    let some = dragnet_input::discover(&input, &opts);
    let names: Vec<String> = some.sources.iter().map(|s| s.name().to_string()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("20230710T1205Z_b.json.gz"));
    assert!(names[1].ends_with("notes.txt"));
    // Days 09 and 11 pruned as folders, 0005Z on day 10 as a file.
    assert_eq!(some.pruned_by_date, 3);
    let missing = dragnet_input::discover(&["/nonexistent/x".into(), "-".into()], &opts);
    assert_eq!(missing.problems.len(), 1);
    assert_eq!(missing.sources, [Source::Stdin]);
}

#[test]
fn broken_records_file_among_concatenated_ones_does_not_stop_the_rest() {
    // `zcat *.json.gz` output: one `{"Records":[…]}` per line; the second is cut mid-record.
    let text = concat!(
        r#"{"Records":[{"eventVersion":"1","eventName":"A1"},{"eventVersion":"1","eventName":"A2"}]}"#,
        "\n",
        r#"{"Records":[{"eventVersion":"1","eventName":"B1"},{"eventVersion":"1","eventNa"#,
        "\n",
        r#"{"Records":[{"eventVersion":"1","eventName":"C1"}]}"#,
        "\n"
    );
    let f = frame_bytes(text.as_bytes().to_vec(), &InputOptions::default());
    assert_eq!(f.names(), ["A1", "A2", "B1", "C1"]);
    assert_eq!(f.kinds(), ["malformed"]);
    assert_eq!(f.problems[0].at.unwrap().line, 2);
    assert_eq!(f.records[3].1.location.line, 3);
}

/// Hands out its bytes a few at a time, like a slow pipe.
struct Trickle(Vec<u8>, usize);

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (self.0.len() - self.1).min(buf.len()).min(1 + self.1 % 7);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn slow_readers_frame_the_same_as_fast_ones() {
    for name in [
        "records_pretty.json",
        "broken_lines.jsonl",
        "mixed_lines.jsonl",
        "lookup_events.json",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let fast = frame_bytes(bytes.clone(), &InputOptions::default());
        let slow = collect(|b, p| {
            read_reader(
                Box::new(Trickle(bytes, 0)),
                "mem".into(),
                &InputOptions::default(),
                b,
                p,
            )
        });
        assert_eq!(slow.records, fast.records, "{name}");
        let messages = |f: &Framed| {
            f.problems
                .iter()
                .map(|p| (p.at, p.message.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(messages(&slow), messages(&fast), "{name}");
    }
}

#[test]
fn sources_and_batches_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Source>();
    send_sync::<dragnet_input::RecordBatch>();
    send_sync::<Problem>();
}

#[test]
fn cloudwatch_logs_subscription_and_filter_log_events() {
    // Firehose writes subscription payloads back to back with no newline between them.
    let f = frame_file("cloudwatch_firehose.json");
    assert_eq!(
        f.names(),
        ["CreateAccessKey", "AttachUserPolicy", "DeleteBucket"]
    );
    assert!(
        f.records
            .iter()
            .all(|(_, s)| s.kind == RecordKind::CloudTrail)
    );
    assert_eq!(f.kinds(), ["not-cloudtrail"]);
    assert!(
        f.problems[0].message.contains("CloudWatch Logs event"),
        "{}",
        f.problems[0].message
    );
    let offsets: Vec<u64> = f.records.iter().map(|(_, s)| s.location.offset).collect();
    assert!(offsets[0] < offsets[1] && offsets[1] < offsets[2]);
    let f = frame_file("filter_log_events.json");
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.names(), ["RunInstances"]);
    assert_eq!(f.records[0].1.location.line, 3);
}

#[test]
fn elasticsearch_hits_yield_their_source_as_ecs() {
    let f = frame_file("elastic_hits.ndjson");
    assert!(f.problems.is_empty(), "{:?}", f.problems);
    assert_eq!(f.records.len(), 2);
    assert!(f.records.iter().all(|(_, s)| s.kind == RecordKind::Ecs));
    assert!(
        f.records[0]
            .0
            .starts_with(r#"{"@timestamp":"2023-07-10T12:00:00.000Z""#)
    );
}

/// Needles framing mode probes for (some in the fixtures, some not).
const NEEDLES: [&str; 3] = ["CreateUser", "Records", "not in any fixture"];

fn framing_mode() -> InputOptions {
    InputOptions {
        validate: Validation::Framing,
        probes: Probes {
            key: KeyProbe::new("eventName"),
            needles: NEEDLES
                .iter()
                .map(|n| NeedleProbe::new(n.as_bytes()).unwrap())
                .collect(),
        },
        ..InputOptions::default()
    }
}

/// Everything observable about one framing run, for comparing modes, the escape flag and key
/// hits aside (only framing mode's fast paths set them): where they are set, they must say
/// exactly whether the record holds a `\u` or `\/` escape, and where `"eventName"` is.
fn observed(f: &Framed) -> (Vec<(String, RecordSpan)>, Vec<Problem>, SourceStats) {
    let records = f
        .records
        .iter()
        .map(|(text, span)| {
            let mut span = span.clone();
            if let Some(escaped) = span.escaped.take() {
                assert_eq!(escaped, has_u_or_slash_escape(text), "{text}");
            }
            let keys = std::mem::take(&mut span.key_hits);
            if keys != KeyHits::NotLooked {
                assert_eq!(keys, key_hits(text, "\"eventName\""), "{text}");
            }
            // The value the framer read after the key: the plain string right after its `:`.
            if let Some((start, len)) = span.key_value.take() {
                let KeyHits::Once(at) = keys else {
                    panic!("a value without a single key: {text}")
                };
                let (start, len) = (start as usize, len as usize);
                let between = &text[at as usize + "\"eventName\"".len()..start];
                assert_eq!(between.replace([' ', '\t', '\r'], ""), ":\"", "{text}");
                assert!(text[start + len..].starts_with('"'), "{text}");
                assert!(!text[start..start + len].contains(['"', '\\']), "{text}");
            }
            if let Some(found) = span.needle_hit.take() {
                assert_eq!(found, NEEDLES.iter().any(|n| text.contains(n)), "{text}");
            }
            (text.clone(), span)
        })
        .collect();
    (records, f.problems.clone(), f.stats.clone())
}

fn has_u_or_slash_escape(text: &str) -> bool {
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'\\' && matches!(bytes.next(), Some(b'u' | b'/')) {
            return true;
        }
    }
    false
}

/// Where `quoted` occurs in `text` (overlapping occurrences too).
fn key_hits(text: &str, quoted: &str) -> KeyHits {
    let found: Vec<usize> = (0..text.len())
        .filter(|&i| text.as_bytes()[i..].starts_with(quoted.as_bytes()))
        .collect();
    match found[..] {
        [] => KeyHits::Absent,
        [at] => KeyHits::Once(at as u32),
        _ => KeyHits::Several,
    }
}

#[test]
fn fast_lines_flag_escapes_that_can_hide_characters() {
    let text = concat!(
        r#"{"eventVersion":"1","eventName":"\u0053endCommand"}"#,
        "\n",
        r#"{"eventVersion":"1","p":"a\\u0053 \"q\" \\\\"}"#,
        "\n",
        r#"{"eventVersion":"1","url":"https:\/\/x"}"#,
        "\n",
    );
    let fast = frame_bytes(text.as_bytes().to_vec(), &framing_mode());
    let flags: Vec<_> = fast.records.iter().map(|(_, s)| s.escaped).collect();
    assert_eq!(flags, vec![Some(true), Some(false), Some(true)]);
    let keys: Vec<_> = fast.records.iter().map(|(_, s)| s.key_hits).collect();
    assert_eq!(
        keys,
        vec![KeyHits::Once(20), KeyHits::Absent, KeyHits::Absent]
    );
}

/// On well-formed input, and on input whose breakage the cheap checks see, the fast paths
/// frame and report exactly what full validation does.
#[test]
fn framing_mode_matches_full_validation_on_every_fixture_but_broken_lines() {
    for name in [
        "records_pretty.json",
        "records_compact.json",
        "array_pretty.json",
        "mixed_lines.jsonl",
        "lookup_events.json",
        "eventbridge_pretty.json",
        "ecs_export.ndjson",
        "not_utf8.jsonl",
        "wrong_types.json",
        "truncated_records.json",
        "cloudwatch_firehose.json",
        "filter_log_events.json",
        "elastic_hits.ndjson",
        "README.md",
        "config.yaml",
        "package.json",
    ] {
        let full = frame_file(name);
        let fast = frame_file_with(name, &framing_mode());
        assert_eq!(observed(&fast), observed(&full), "{name}");
        let bytes = std::fs::read(fixture(name)).unwrap();
        let slow = collect(|b, p| {
            read_reader(
                Box::new(Trickle(bytes, 0)),
                "mem".into(),
                &framing_mode(),
                b,
                p,
            )
        });
        assert_eq!(slow.records, fast.records, "{name}");
        // A batch after every record: the lines the fast path scanned ahead move with the
        // buffer each time, read slowly or not.
        let tiny = InputOptions {
            batch_bytes: 1,
            ..framing_mode()
        };
        let batched = frame_file_with(name, &tiny);
        assert_eq!(unplaced(&batched), unplaced(&fast), "{name}, tiny batches");
        let bytes = std::fs::read(fixture(name)).unwrap();
        let slow =
            collect(|b, p| read_reader(Box::new(Trickle(bytes, 0)), "mem".into(), &tiny, b, p));
        assert_eq!(
            unplaced(&slow),
            unplaced(&fast),
            "{name}, tiny batches read slowly"
        );
    }
}

/// The records with their spans but not their place in a batch, and the problems but not
/// their source's name.
type Unplaced = (
    Vec<(String, RecordSpan)>,
    Vec<(Option<RecordLocation>, ProblemKind, String)>,
);

fn unplaced(f: &Framed) -> Unplaced {
    let records = f
        .records
        .iter()
        .map(|(text, span)| {
            let mut span = span.clone();
            span.range = 0..0;
            (text.clone(), span)
        })
        .collect();
    let problems = f
        .problems
        .iter()
        .map(|p| (p.at, p.kind.clone(), p.message.clone()))
        .collect();
    (records, problems)
}

/// What framing mode still reports itself in `broken_lines.jsonl`, and what it leaves to the
/// consumer's parse: a line that starts with `{"eventVersion":` and ends with `}` is delivered
/// whole, whatever lies between.
#[test]
fn framing_mode_reports_lines_its_checks_reject_and_delivers_the_rest_whole() {
    let f = frame_file_with("broken_lines.jsonl", &framing_mode());
    let got: Vec<(&str, u64)> = f
        .problems
        .iter()
        .map(|p| (p.kind.name(), p.at.unwrap().line))
        .collect();
    // Line 2 (cut: no closing `}`), 4-5 (not JSON), 6 (garbage after the object), 8 and 9
    // (not objects) are caught here, as in full validation; line 10 (an extra `}`) is not.
    assert_eq!(
        got,
        [
            ("malformed", 2),
            ("malformed", 4),
            ("malformed", 6),
            ("not-an-object", 8),
            ("not-an-object", 9),
        ],
        "{:#?}",
        f.problems
    );
    let full = frame_file("broken_lines.jsonl");
    for (fast, full) in f.problems.iter().zip(&full.problems) {
        assert_eq!(fast, full);
    }
    let lines: Vec<u64> = f.records.iter().map(|(_, s)| s.location.line).collect();
    assert_eq!(lines, [1, 3, 6, 7, 10, 11]);
    assert_eq!(
        f.records[4].0,
        r#"{"eventVersion":"1.08","eventName":"Unbalanced"}}"#
    );
    assert!(serde_json::from_str::<serde_json::Value>(&f.records[4].0).is_err());
    assert_eq!(f.records[4].1.location.index, 9);
    assert_eq!(f.stats.records, 6);
    assert_eq!(f.stats.skipped_records, 5);
}

#[test]
fn framing_mode_trade_offs_on_single_lines() {
    let text = concat!(
        // Two values on one line: one span (the consumer's parse rejects it).
        r#"{"eventVersion":"1","eventName":"A"} {"eventVersion":"1","eventName":"B"}"#,
        "\n",
        // Broken inside, right ends: delivered.
        r#"{"eventVersion":"1","eventName":"C",,"x":[}"#,
        "\n",
        // Another first key: the full scan frames it, and reports it when broken.
        r#"{"eventName":"D","eventVersion":"1",,}"#,
        "\n",
        "\t{ \"eventSource\" : \"s3.amazonaws.com\", \"eventName\":\"E\"}\r\n",
        r#"{"eventVersion":"1","eventName":"F"}"#,
    );
    let f = frame_bytes(text.as_bytes().to_vec(), &framing_mode());
    let texts = f.texts();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(texts[0].ends_with(r#""B"}"#));
    assert!(texts[1].contains(",,"));
    assert_eq!(
        texts[2],
        r#"{ "eventSource" : "s3.amazonaws.com", "eventName":"E"}"#
    );
    assert_eq!(texts[3], r#"{"eventVersion":"1","eventName":"F"}"#);
    let lines: Vec<u64> = f.records.iter().map(|(_, s)| s.location.line).collect();
    assert_eq!(lines, [1, 2, 4, 5]);
    assert_eq!(f.kinds(), ["malformed"]);
    assert_eq!(f.problems[0].at.unwrap().line, 3);
    // Full validation splits line 1 and catches both broken lines.
    let full = frame_bytes(text.as_bytes().to_vec(), &InputOptions::default());
    assert_eq!(full.names(), ["A", "B", "E", "F"]);
    assert_eq!(full.kinds(), ["malformed", "malformed"]);
}

#[test]
fn framing_mode_limits() {
    // Record size is enforced on fast lines (the full path reports it).
    let opts = InputOptions {
        max_record_bytes: 100,
        ..framing_mode()
    };
    let long = format!("{{\"eventVersion\":\"1\",\"x\":\"{}\"}}", "y".repeat(5000));
    let text = format!("{long}\n{{\"eventVersion\":\"1\",\"eventName\":\"B\"}}\n");
    let f = frame_bytes(text.into_bytes(), &opts);
    assert_eq!(f.names(), ["B"]);
    assert_eq!(
        f.problems[0].kind,
        ProblemKind::LimitExceeded {
            limit: Limit::RecordBytes
        }
    );
    // Inside `Records`, object nesting is bounded (arrays are not counted); a fast JSON line
    // is not scanned, so its depth is left to the consumer's parse.
    let opts = InputOptions {
        max_depth: 8,
        ..framing_mode()
    };
    let deep_objects = format!(
        "{{\"eventVersion\":\"1\",\"x\":{}1{}}}",
        "{\"a\":".repeat(20),
        "}".repeat(20)
    );
    let text = format!(
        "{{\"Records\":[{deep_objects},{{\"eventVersion\":\"1\",\"eventName\":\"B\"}}]}}\n{deep_objects}\n"
    );
    let f = frame_bytes(text.into_bytes(), &opts);
    assert_eq!(
        f.problems[0].kind,
        ProblemKind::LimitExceeded {
            limit: Limit::JsonDepth
        }
    );
    // The element after the deep one is framed (it used to be lost with the rest of line 1).
    assert_eq!(f.names(), ["B", ""]);
    assert_eq!(f.records[0].1.location.line, 1);
    assert_eq!(f.records[1].1.location.line, 2);
}

#[test]
fn framing_mode_gzip_records() {
    let bytes = std::fs::read(fixture("records_compact.json")).unwrap();
    let full = frame_bytes(gzip(&bytes), &InputOptions::default());
    let fast = frame_bytes(gzip(&bytes), &framing_mode());
    assert!(fast.stats.gzip);
    assert_eq!(observed(&fast), observed(&full));
}

/// A `Records` element with a missing `}` (as in the CloudTrail processing library's
/// `SerializerTestFileBadJsonFormat.json`) is scanned fully once its skip ends badly, so
/// framing mode reports it as full validation does instead of swallowing the next element.
#[test]
fn framing_mode_rescans_a_records_element_whose_skip_ends_badly() {
    let text = concat!(
        "{\n  \"Records\": [\n",
        "    {\"eventVersion\": \"1.1\", \"userIdentity\": {\"type\": \"t\",\n",
        "     \"eventName\": \"Broken\", \"x\": {\"y\": 1}},\n",
        "    {\"eventVersion\": \"1.2\", \"eventName\": \"Good\", \"z\": {}}\n",
        "  ]\n}\n"
    );
    let full = frame_bytes(text.as_bytes().to_vec(), &InputOptions::default());
    let fast = frame_bytes(text.as_bytes().to_vec(), &framing_mode());
    assert!(!full.problems.is_empty());
    assert_eq!(observed(&fast), observed(&full));
}
