//! A large JSON-lines file framed as segments by several workers ([`read_work`]) gives exactly
//! what framing it whole on one thread gives: the same records, locations (once rebased),
//! problems and counts, wherever the cuts fall.

use dragnet_prefilter::{KeyProbe, Probes};
use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;

use dragnet_input::{
    InputOptions, Problem, RecordBatch, RecordSpan, SegmentBase, SegmentStats, Source, Validation,
    Work, read_batches, read_work,
};

fn options() -> InputOptions {
    InputOptions {
        validate: Validation::Framing,
        probes: Probes {
            key: KeyProbe::new("eventName"),
            needles: Vec::new(),
        },
        map_min_bytes: Some(1),
        ..InputOptions::default()
    }
}

/// A JSON-lines trail with everything framing must survive between ordinary records.
fn trail() -> Vec<u8> {
    let mut text = Vec::new();
    for i in 0..400 {
        let line = match i % 23 {
            3 => format!(r#"{{"eventVersion":"1.08","eventName":"\u0053endCommand","n":{i}}}"#),
            5 => format!(r#"{{"eventVersion":"1.08","eventName":"Broken" "n":{i}}}"#),
            7 => format!(r#"{{"eventVersion":"1.08","eventName":"Cut","n":{i}"#),
            9 => String::new(),
            11 => format!(
                r#"{{"@timestamp":"2024-01-01T00:00:00Z","event":{{"action":"x"}},"ecs":{{"version":"8"}},"n":{i}}}"#
            ),
            13 => format!(
                "{{\n  \"eventVersion\": \"1.08\",\n  \"eventName\": \"Pretty\",\n  \"n\": {i}\n}}"
            ),
            17 => format!(
                r#"{{"Records":[{{"eventVersion":"1.08","eventName":"InRecords","n":{i}}}]}}"#
            ),
            19 => "this line is not JSON".to_string(),
            _ => format!(
                r#"{{"eventVersion":"1.08","eventName":"Describe","p":"a\\\"b\/c","n":{i}}}"#
            ),
        };
        text.extend_from_slice(line.as_bytes());
        if i % 31 == 30 {
            // A line that is not UTF-8.
            text.extend_from_slice(b"\n{\"eventVersion\":\"1.08\",\"bad\":\"\xff\"}");
        }
        text.push(b'\n');
    }
    text
}

type Observed = (Vec<(String, RecordSpan)>, Vec<Problem>);

/// A record's text and span, without its range in a batch buffer (batches differ).
fn record(bytes: &[u8], span: &RecordSpan) -> (String, RecordSpan) {
    let mut span = span.clone();
    span.range = 0..0;
    (String::from_utf8(bytes.to_vec()).unwrap(), span)
}

/// Runs one framing (`frame(on_batch, on_problem)`) and collects what it delivers.
fn collect<T>(
    frame: impl FnOnce(&mut dyn FnMut(RecordBatch) -> ControlFlow<()>, &mut dyn FnMut(Problem)) -> T,
) -> (Observed, T) {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let out = frame(
        &mut |batch| {
            for (bytes, span) in batch.iter() {
                records.push(record(bytes, span));
            }
            ControlFlow::Continue(())
        },
        &mut |p| problems.push(p),
    );
    ((records, problems), out)
}

fn whole(source: &Source, opts: &InputOptions) -> Observed {
    collect(|on_batch, on_problem| read_batches(source, opts, on_batch, on_problem)).0
}

/// Frames the segments out of order (as parallel workers finish them) and rebases.
fn segmented(source: &Source, opts: &InputOptions, segment_bytes: usize) -> (Observed, usize) {
    let mut segments = Vec::new();
    read_work(
        source,
        opts,
        segment_bytes,
        &mut |work| {
            match work {
                Work::Segments(s) => segments.extend(s),
                Work::Batch(_) => panic!("a large JSON-lines file comes as segments"),
            }
            ControlFlow::Continue(())
        },
        &mut |p| panic!("cutting reports nothing: {p}"),
    );
    let count = segments.len();
    segments.reverse();
    let mut framed: BTreeMap<u64, (Observed, SegmentStats)> = BTreeMap::new();
    // Every other segment is framed into the record list of an earlier batch, as workers do:
    // what it held before must not show.
    let mut spare: Vec<RecordSpan> = Vec::new();
    for (n, segment) in segments.iter().enumerate() {
        let framing = collect(|on_batch, on_problem| {
            if n % 2 == 0 {
                segment.frame(opts, on_batch, on_problem)
            } else {
                let spans = std::mem::take(&mut spare);
                segment.frame_reusing(opts, spans, on_batch, on_problem)
            }
        });
        if let Some(span) = framing.0.0.first() {
            spare = vec![span.1.clone(); 3];
        }
        framed.insert(segment.ordinal, framing);
    }
    let mut base = SegmentBase::default();
    let (mut records, mut problems) = (Vec::new(), Vec::new());
    for ((seg_records, seg_problems), stats) in framed.into_values() {
        for (text, mut span) in seg_records {
            base.rebase(&mut span.location);
            records.push((text, span));
        }
        for mut p in seg_problems {
            if let Some(at) = p.at.as_mut() {
                base.rebase(at);
            }
            problems.push(p);
        }
        base = base.after(&stats);
    }
    ((records, problems), count)
}

/// Frames `text` whole and cut at several sizes, and checks they agree.
fn check_segments_agree(text: &[u8]) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text).unwrap();
    let source = Source::File(file.path().to_path_buf());
    let opts = options();
    let expected = whole(&source, &opts);
    assert!(expected.0.len() > 300, "{}", expected.0.len());
    assert!(expected.1.len() > 20, "{:?}", expected.1);
    for segment_bytes in [1, 97, 1000, 4096, 20_000] {
        let (got, count) = segmented(&source, &opts, segment_bytes);
        assert!(count > 1, "{segment_bytes}: {count} segment(s)");
        assert_eq!(got.0.len(), expected.0.len(), "{segment_bytes}");
        for (g, e) in got.0.iter().zip(&expected.0) {
            assert_eq!(g, e, "segment_bytes {segment_bytes}");
        }
        assert_eq!(got.1, expected.1, "segment_bytes {segment_bytes}");
    }
}

#[test]
fn segments_frame_exactly_like_the_whole_file() {
    check_segments_agree(&trail());
}

/// Windows line ends and a byte-order mark: the cuts still fall between lines.
#[test]
fn segments_of_a_crlf_file_with_a_bom_frame_like_the_whole_file() {
    let mut text = b"\xEF\xBB\xBF".to_vec();
    for &b in &trail() {
        if b == b'\n' {
            text.push(b'\r');
        }
        text.push(b);
    }
    check_segments_agree(&text);
}

#[test]
fn other_sources_come_as_batches() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    // Not JSON lines of CloudTrail: a Records file.
    file.write_all(br#"{"Records":[{"eventVersion":"1.08"},{"eventVersion":"1.08"}]}"#)
        .unwrap();
    let source = Source::File(file.path().to_path_buf());
    let mut batches = 0;
    read_work(
        &source,
        &options(),
        8,
        &mut |work| {
            assert!(matches!(work, Work::Batch(_)));
            batches += 1;
            ControlFlow::Continue(())
        },
        &mut |p| panic!("{p}"),
    );
    assert_eq!(batches, 1);
}
