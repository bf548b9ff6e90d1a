//! After a bad member of a `{"Records":[…]}` array or a top-level array, framing goes on with
//! the next member (issue 16: a member nested deeper than the limit used to drop every later
//! record of a single-line file, the normal S3 delivery format); where it cannot, the bytes
//! given up are reported. Whitespace between records is not buffered, and a run longer than
//! `max-record-bytes` is reported with the flag.

use std::ops::ControlFlow;

use dragnet_input::{
    InputOptions, Limit, Problem, ProblemKind, RecordSpan, Source, SourceStats, Validation,
    read_batches, read_reader,
};

struct Framed {
    records: Vec<(String, RecordSpan)>,
    problems: Vec<Problem>,
    stats: SourceStats,
}

impl Framed {
    fn names(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|(t, _)| {
                let v: serde_json::Value = serde_json::from_str(t).expect("framed record parses");
                v["eventName"].as_str().unwrap_or("").to_string()
            })
            .collect()
    }
    fn kinds(&self) -> Vec<ProblemKind> {
        self.problems.iter().map(|p| p.kind.clone()).collect()
    }
    /// What both framings (read and mapped) must agree on.
    fn observed(&self) -> (Vec<(String, RecordSpan)>, Vec<Problem>, u64, u64) {
        let records = self
            .records
            .iter()
            .map(|(t, s)| {
                let mut s = s.clone();
                s.range = 0..0;
                s.escaped = None;
                s.key_hits = Default::default();
                s.needle_hit = None;
                s.key_value = None;
                (t.clone(), s)
            })
            .collect();
        (
            records,
            self.problems.clone(),
            self.stats.records,
            self.stats.skipped_records,
        )
    }
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

/// Frames `text` in both validation modes, read from a stream and memory-mapped, checks all
/// four agree, and returns the streamed full-validation result.
fn frame_all_ways(text: &[u8], opts: &InputOptions) -> Framed {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.json");
    std::fs::write(&path, text).unwrap();
    let mut first: Option<Framed> = None;
    for validate in [Validation::Full, Validation::Framing] {
        let streamed = collect(|b, p| {
            read_reader(
                Box::new(std::io::Cursor::new(text.to_vec())),
                path.display().to_string().into(),
                &InputOptions {
                    validate,
                    ..opts.clone()
                },
                b,
                p,
            )
        });
        let mapped = collect(|b, p| {
            read_batches(
                &Source::File(path.clone()),
                &InputOptions {
                    validate,
                    map_min_bytes: Some(0),
                    ..opts.clone()
                },
                b,
                p,
            )
        });
        assert_eq!(
            streamed.observed(),
            mapped.observed(),
            "{validate:?}: read and mapped differ"
        );
        match &first {
            None => first = Some(streamed),
            Some(f) => assert_eq!(
                f.observed(),
                streamed.observed(),
                "{validate:?} differs from full validation"
            ),
        }
    }
    first.unwrap()
}

fn record(name: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","eventSource":"ssm.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1"}}"#
    )
}

fn deep_array(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

fn deep_object_record(levels: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.09","eventName":"Deep","x":{}1{}}}"#,
        r#"{"a":"#.repeat(levels),
        "}".repeat(levels)
    )
}

fn assert_depth_problem(f: &Framed, index: u64) {
    assert_eq!(
        f.kinds(),
        [ProblemKind::LimitExceeded {
            limit: Limit::JsonDepth
        }],
        "{:#?}",
        f.problems
    );
    let p = &f.problems[0];
    assert!(p.message.contains("--max-json-depth"), "{}", p.message);
    assert_eq!(p.at.unwrap().index, index);
    assert_eq!((f.stats.records, f.stats.skipped_records), (3, 1));
}

#[test]
fn deep_member_of_a_single_line_records_file_does_not_drop_the_records_after_it() {
    for deep in [deep_array(300), deep_object_record(300)] {
        let text = format!(
            "{{\"Records\":[{},{deep},{},{}]}}\n",
            record("A"),
            record("B"),
            record("C")
        );
        let f = frame_all_ways(text.as_bytes(), &InputOptions::default());
        assert_eq!(f.names(), ["A", "B", "C"]);
        assert_depth_problem(&f, 1);
        // Slots keep counting: B is the third element.
        assert_eq!(f.records[1].1.location.index, 2);
        assert_eq!(f.records[1].1.location.line, 1);
    }
}

#[test]
fn deep_member_of_a_top_level_array_does_not_drop_the_records_after_it() {
    for deep in [deep_array(300), deep_object_record(300)] {
        let text = format!("[{},{deep},{},{}]\n", record("A"), record("B"), record("C"));
        let f = frame_all_ways(text.as_bytes(), &InputOptions::default());
        assert_eq!(f.names(), ["A", "B", "C"]);
        assert_depth_problem(&f, 1);
    }
}

/// A member longer than `max-record-bytes` is skipped to its end without being buffered (here
/// three times the reader's 1 MiB chunk with a 4 KiB limit), and the next member is framed.
#[test]
fn oversized_member_is_skipped_and_the_next_one_framed() {
    let opts = InputOptions {
        max_record_bytes: 4096,
        ..InputOptions::default()
    };
    let big = format!(
        r#"{{"eventVersion":"1.09","eventName":"Big","x":"{}","y":[{}]}}"#,
        "z".repeat(3 << 20),
        "[1,{\"a\":\"]}\"}],".repeat(1000) + "0"
    );
    let text = format!("{{\"Records\":[{},{big},{}]}}\n", record("A"), record("B"));
    let f = frame_all_ways(text.as_bytes(), &opts);
    assert_eq!(f.names(), ["A", "B"]);
    assert_eq!(
        f.kinds(),
        [ProblemKind::LimitExceeded {
            limit: Limit::RecordBytes
        }]
    );
    assert!(f.problems[0].message.contains("--max-record-bytes"));
    assert_eq!(f.problems[0].at.unwrap().index, 1);
    assert_eq!(f.records[1].1.location.index, 2);
}

/// A member broken inside whose brackets still balance (a missing `,` or `:`) is skipped to
/// its end; the members after it are framed.
#[test]
fn member_with_a_syntax_error_is_skipped_to_its_end() {
    let broken = r#"{"eventVersion":"1.09" "eventName":"Broken","x":{"y":[1,2]}}"#;
    let text = format!(
        "{{\"Records\":[{},{broken},{}]}}\n",
        record("A"),
        record("B")
    );
    let f = collect(|b, p| {
        read_reader(
            Box::new(std::io::Cursor::new(text.clone().into_bytes())),
            "x".into(),
            &InputOptions::default(),
            b,
            p,
        )
    });
    assert_eq!(f.names(), ["A", "B"]);
    assert_eq!(f.kinds(), [ProblemKind::Malformed]);
    assert_eq!(f.problems[0].at.unwrap().index, 1);
    // Garbage that is no value at all, between two members of a top-level array.
    let text = format!("[{},nonsense,{}]\n", record("A"), record("B"));
    let f = frame_all_ways(text.as_bytes(), &InputOptions::default());
    assert_eq!(f.names(), ["A", "B"]);
    assert_eq!(f.kinds(), [ProblemKind::Malformed]);
}

/// Where the broken member's end cannot be found (its brackets do not balance), framing
/// resumes at the next line, and the message says how many bytes were given up with it.
#[test]
fn unbalanced_member_reports_the_bytes_given_up() {
    let broken = r#"{"eventVersion":"1.09","eventName":"Broken","x":{"y":1}"#;
    let text = format!(
        "{{\"Records\":[{},{broken},{}]}}\n{}\n",
        record("A"),
        record("B"),
        record("NextLine")
    );
    let f = collect(|b, p| {
        read_reader(
            Box::new(std::io::Cursor::new(text.clone().into_bytes())),
            "x".into(),
            &InputOptions::default(),
            b,
            p,
        )
    });
    assert_eq!(f.names(), ["A", "NextLine"]);
    assert_eq!(f.kinds(), [ProblemKind::Malformed]);
    let given_up = text.find('\n').unwrap() + 1 - text.find(broken).unwrap();
    assert!(
        f.problems[0]
            .message
            .contains(&format!("{given_up} bytes on")),
        "{}",
        f.problems[0].message
    );
}

/// Whitespace between records counts against `max-record-bytes`: a longer run is reported
/// with the flag (not buffered, as the test of `hunt` measures), and framing goes on after
/// it, with lines counted through it.
#[test]
fn whitespace_run_longer_than_the_record_limit_is_reported_and_passed() {
    let opts = InputOptions {
        max_record_bytes: 4096,
        ..InputOptions::default()
    };
    let blanks = " \n\t\r\n".repeat(600_000);
    let newlines = blanks.matches('\n').count() as u64;
    let text = format!("{}\n{blanks}{}\n", record("A"), record("B"));
    let f = frame_all_ways(text.as_bytes(), &opts);
    assert_eq!(f.names(), ["A", "B"]);
    assert_eq!(
        f.kinds(),
        [ProblemKind::LimitExceeded {
            limit: Limit::RecordBytes
        }]
    );
    assert!(f.problems[0].message.contains("--max-record-bytes"));
    assert!(f.problems[0].message.contains("whitespace"));
    assert_eq!(f.records[1].1.location.line, 2 + newlines);
    assert_eq!(f.records[1].1.location.index, 1);

    // Between the members of a Records array too.
    let text = format!(
        "{{\"Records\":[{},{blanks}{}]}}\n",
        record("A"),
        record("B")
    );
    let f = frame_all_ways(text.as_bytes(), &opts);
    assert_eq!(f.names(), ["A", "B"]);
    assert_eq!(
        f.kinds(),
        [ProblemKind::LimitExceeded {
            limit: Limit::RecordBytes
        }]
    );
    assert_eq!(f.records[1].1.location.line, 1 + newlines);

    // Within the limit, a long run is no problem at all.
    let f = frame_all_ways(
        format!("{}\n{blanks}{}\n", record("A"), record("B")).as_bytes(),
        &InputOptions::default(),
    );
    assert_eq!(f.names(), ["A", "B"]);
    assert!(f.problems.is_empty(), "{:#?}", f.problems);
}

/// The engine's parse of a framed record (ECS documents) allows `max_depth` levels, counted
/// as the framer counts, and reports deeper naming `--max-json-depth` (serde_json's own
/// limit of 128 is not what decides).
#[test]
fn record_parse_allows_max_json_depth_levels() {
    let doc = |levels: usize| {
        format!(
            r#"{{"@timestamp":"2025-01-01T00:00:00Z","a":{}1{}}}"#,
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    };
    let at = dragnet_input::RecordLocation {
        line: 3,
        index: 2,
        offset: 10,
    };
    assert!(dragnet_input::parse_json_within(doc(200).as_bytes(), 256).is_ok());
    assert!(dragnet_input::parse_json_within(doc(300).as_bytes(), 300).is_ok());
    let err = dragnet_input::parse_json_within(doc(300).as_bytes(), 299).unwrap_err();
    let p = err.at("f.ndjson".into(), at);
    assert_eq!(
        p.kind,
        ProblemKind::LimitExceeded {
            limit: Limit::JsonDepth
        }
    );
    assert!(
        p.to_string()
            .starts_with("f.ndjson: line 3, record 2, byte 10: JSON nests deeper than 299 levels")
            && p.message.contains("--max-json-depth"),
        "{p}"
    );
    let err = dragnet_input::parse_json_within(b"{\"a\":1,}", 10).unwrap_err();
    assert_eq!(err.at("f".into(), at).kind, ProblemKind::Malformed);
}
