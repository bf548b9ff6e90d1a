//! Soundness of `raw_needle` and `raw_key_needle` on real records, checked against the bytes as
//! they are on disk: every file of `../shared/datasets` and of the pipeline fixtures is framed
//! by the input layer (`dragnet_input`, as `dragnet hunt` frames it, `Validation::Framing`),
//! and each CloudTrail record's span (the bytes the prefilter searches) is checked as it is,
//! never re-serialised. For every field the mapping produces and literals taken from the values
//! it produced (whole values and pieces of them), a needle that says "a record whose field holds
//! this literal contains these bytes / has this member value" must hold for that record, and a
//! constant answer must agree with the value. (A prefilter that broke this would silently drop
//! matching records.)
//!
//! Records holding a `\u` escape are checked too. The needle contract (`Needle::Bytes`: "these
//! bytes, verbatim, unless the record contains a `\u` or `\/` escape") lets a needle miss only
//! there, because the prefilter never skips such a record; so a miss is accepted only when (a)
//! the record really holds a `\u` or `\/` escape, (b) the framer did not note it as escape-free
//! (`RecordSpan::escaped`, which the prefilter trusts), and (c) the needle holds once the
//! record's `\u` and `\/` escapes are decoded (the miss is the escape's spelling, not a wrong
//! needle).
//! The checker's own tests at the end show it catches wrong needles.

use std::ops::ControlFlow;
use std::path::PathBuf;

use dragnet_cloudtrail::{Mapper, MapperOptions, raw_needle};
use dragnet_event::{Event, FieldTable};
use dragnet_input::{InputOptions, RecordKind, Validation};
use dragnet_prefilter::{Needle, member_values};
use serde_json::value::RawValue;

/// One CloudTrail record as the input layer delivers it: its bytes, exactly as in the file
/// (or, for shapes that wrap a record in a JSON string, the unescaped copy the prefilter sees).
struct Record {
    place: String,
    bytes: Vec<u8>,
    /// What the framer noted about escapes (`None`: it did not look; the prefilter then
    /// searches the record itself).
    escaped: Option<bool>,
}

/// Every CloudTrail record the input layer frames from the shared datasets and pipeline
/// fixtures, in file order; `None` (skip) when `../shared` is absent.
fn records_on_disk() -> Option<Vec<Record>> {
    let roots: Vec<PathBuf> = vec![
        dragnet_testdata::shared("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline")?,
        dragnet_testdata::shared("datasets")?,
    ];
    let opts = InputOptions {
        validate: Validation::Framing,
        ..InputOptions::default()
    };
    let inputs: Vec<String> = roots
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let found = dragnet_input::discover(&inputs, &opts);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let mut out = Vec::new();
    for source in &found.sources {
        dragnet_input::read_batches(
            source,
            &opts,
            &mut |batch| {
                for (bytes, span) in batch.iter() {
                    if span.kind == RecordKind::CloudTrail {
                        out.push(Record {
                            place: format!("{} {}", batch.source, span.location),
                            bytes: bytes.to_vec(),
                            escaped: span.escaped,
                        });
                    }
                }
                ControlFlow::Continue(())
            },
            &mut |_| {},
        );
    }
    Some(out)
}

/// Whether the JSON text holds a `\u` escape (a backslash that starts an escape, followed by
/// `u`; `\\u` is an escaped backslash and a letter).
fn has_u_escape(text: &[u8]) -> bool {
    has_escape(text, b"u")
}

/// Whether the JSON text holds an escape `\x` for one of `kinds`.
fn has_escape(text: &[u8], kinds: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' {
            if text.get(i + 1).is_some_and(|k| kinds.contains(k)) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// The text with each `\uXXXX` escape (and surrogate pair) replaced by its character's UTF-8
/// bytes; other escapes are left as they are. A lone surrogate becomes U+FFFD, as serde_json
/// does not accept one either.
fn decode_u_escapes(text: &[u8]) -> Vec<u8> {
    fn hex4(text: &[u8], at: usize) -> Option<u32> {
        let digits = std::str::from_utf8(text.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        if text.get(i + 1) != Some(&b'u') {
            out.extend_from_slice(&text[i..(i + 2).min(text.len())]);
            i += 2;
            continue;
        }
        let Some(unit) = hex4(text, i + 2) else {
            out.extend_from_slice(&text[i..i + 2]);
            i += 2;
            continue;
        };
        let mut len = 6;
        let c = if (0xD800..0xDC00).contains(&unit) {
            match (text.get(i + 6..i + 8), hex4(text, i + 8)) {
                (Some(b"\\u"), Some(low)) if (0xDC00..0xE000).contains(&low) => {
                    len = 12;
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                }
                _ => None,
            }
        } else {
            char::from_u32(unit)
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes());
        i += len;
    }
    out
}

/// The text with each `\/` escape written `/` (other escapes left as they are).
fn decode_slash_escapes(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match (text[i], text.get(i + 1)) {
            (b'\\', Some(b'/')) => {
                out.push(b'/');
                i += 2;
            }
            (b'\\', Some(&next)) => {
                out.extend_from_slice(&[b'\\', next]);
                i += 2;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8], fold: bool) -> bool {
    if fold {
        memchr::memmem::find(&hay.to_ascii_lowercase(), &needle.to_ascii_lowercase()).is_some()
    } else {
        memchr::memmem::find(hay, needle).is_some()
    }
}

/// The record's top-level member `key`, read with serde_json (`RawValue` keeps its spelling),
/// independently of the crate's own member reader.
enum TopLevel<'r> {
    /// The text is not one JSON object (a record whose `\u0022` was decoded, say).
    Unreadable,
    Absent,
    /// A string: its raw spelling between the quotes.
    String(&'r [u8]),
    /// Not a string.
    Other,
}

fn top_level<'r>(record: &'r [u8], key: &str) -> TopLevel<'r> {
    let Some(members) = std::str::from_utf8(record).ok().and_then(|text| {
        serde_json::from_str::<std::collections::HashMap<String, &'r RawValue>>(text).ok()
    }) else {
        return TopLevel::Unreadable;
    };
    match members.get(key).map(|v| v.get().as_bytes()) {
        None => TopLevel::Absent,
        Some(raw) if raw.len() >= 2 && raw[0] == b'"' => TopLevel::String(&raw[1..raw.len() - 1]),
        Some(_) => TopLevel::Other,
    }
}

/// Whether `text` satisfies the needle's claim. Member needles: the member, read both by an
/// independent reader of the top-level object and by `member_values` (what the prefilter runs),
/// has the value (case-folded for the folded kinds, a non-ASCII value counting as a possible
/// match, as documented); a value `member_values` cannot read (an escape, not a string) counts
/// as holding every value, which is also what the prefilter does.
fn needle_holds(text: &[u8], needle: &Needle) -> bool {
    match needle {
        Needle::Bytes(b) => contains(text, b, false),
        Needle::CaseInsensitive(b) => contains(text, b, true),
        Needle::Member { key, value } | Needle::MemberFolded { key, value } => {
            let folded = matches!(needle, Needle::MemberFolded { .. });
            let same = |v: &[u8]| {
                if folded {
                    !v.is_ascii() || v.to_ascii_lowercase() == *value
                } else {
                    v == value.as_slice()
                }
            };
            let quoted = format!("\"{key}\"");
            let finder = memchr::memmem::Finder::new(&quoted);
            let mut seen = false;
            let decidable = member_values(text, &finder, &mut |v| seen |= same(v));
            let prefilter_passes = seen || !decidable;
            // The needle's own claim on the top-level member: a string spelled so, where a
            // spelling with an escape, or a value that is not a string, is undecidable.
            let claim_holds = match top_level(text, key) {
                TopLevel::Absent => false,
                TopLevel::String(raw) => raw.contains(&b'\\') || same(raw),
                TopLevel::Other | TopLevel::Unreadable => true,
            };
            prefilter_passes && claim_holds
        }
        Needle::MemberPrefix { .. } | Needle::MemberFoldedPrefix { .. } => {
            unreachable!("raw_needle gives no prefix needles")
        }
        Needle::Constant(_) | Needle::Unknown => true,
    }
}

/// What a needle was asked about: a record whose `field` holds `value`, tested for `literal`
/// (`exact`: equality; else: contains).
struct Claim<'a> {
    field: &'a str,
    value: &'a str,
    literal: &'a str,
    exact: bool,
    case_sensitive: bool,
}

/// Checks one needle (what the needle function answered for the claim) on one record; counts
/// in `exempted` the misses a `\u` escape accounts for.
fn check(
    record: &Record,
    claim: &Claim,
    needle: &Needle,
    exempted: &mut usize,
) -> Result<(), String> {
    let Claim {
        field,
        value,
        literal,
        exact,
        case_sensitive,
    } = *claim;
    if let Needle::Constant(holds) = needle {
        let fold = |s: &str| {
            if case_sensitive {
                s.to_owned()
            } else {
                s.to_lowercase()
            }
        };
        let (v, l) = (fold(value), fold(literal));
        let truth = if exact { v == l } else { v.contains(&l) };
        return if *holds == truth {
            Ok(())
        } else {
            Err(format!(
                "{field}={value:?}: constant needle {holds} for {literal:?}, but the value says {truth}"
            ))
        };
    }
    if needle_holds(&record.bytes, needle) {
        return Ok(());
    }
    let why = if !has_escape(&record.bytes, b"u/") {
        "the record holds no \\u or \\/ escape".to_owned()
    } else if record.escaped == Some(false) {
        "the framer noted the record as escape-free, so the prefilter would skip it".to_owned()
    } else if !needle_holds(
        &decode_slash_escapes(&decode_u_escapes(&record.bytes)),
        needle,
    ) {
        "not even with its \\u and \\/ escapes decoded".to_owned()
    } else {
        *exempted += 1;
        return Ok(());
    };
    Err(format!(
        "{field}={value:?}: {} (for {literal:?}, exact {exact}, case-sensitive {case_sensitive}) does not hold in {}: {why}: {}",
        shown(needle),
        record.place,
        String::from_utf8_lossy(&record.bytes)
    ))
}

/// The needle with its bytes as text.
fn shown(needle: &Needle) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match needle {
        Needle::Bytes(b) => format!("bytes {:?}", text(b)),
        Needle::CaseInsensitive(b) => format!("bytes in any case {:?}", text(b)),
        Needle::Member { key, value } => format!("member {key} = {:?}", text(value)),
        Needle::MemberFolded { key, value } => format!("member {key} ~ {:?}", text(value)),
        other => format!("{other:?}"),
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

#[derive(Default, Debug)]
struct Sweep {
    records: usize,
    escaped_records: usize,
    checked: usize,
    bytes: usize,
    members: usize,
    unknown: usize,
    exempted: usize,
    unmappable: Vec<String>,
    failures: Vec<String>,
}

/// Checks `needle_of` (`raw_needle` or a deliberately broken variant) on every `step`th record,
/// stopping after `max_failures` failures.
fn sweep(
    records: &[Record],
    step: usize,
    needle_of: &dyn Fn(&str, &str, bool, bool) -> Needle,
    max_failures: usize,
) -> Sweep {
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
    let mut out = Sweep::default();
    for record in records.iter().step_by(step) {
        let ev = match mapper.map(&record.bytes) {
            Ok(ev) => ev,
            Err(e) => {
                out.unmappable.push(format!("{}: {e}", record.place));
                continue;
            }
        };
        out.records += 1;
        out.escaped_records += usize::from(has_u_escape(&record.bytes));
        for &id in &ids {
            let field = table.name(id);
            for value in ev.values(id) {
                let value = value.as_scalar().to_keyword().into_owned();
                for literal in literals(&value) {
                    for (exact, case_sensitive) in [(false, true), (true, true), (false, false)] {
                        if exact && literal != value {
                            continue;
                        }
                        out.checked += 1;
                        let needle = needle_of(field, &literal, exact, case_sensitive);
                        match &needle {
                            Needle::Bytes(_) | Needle::CaseInsensitive(_) => out.bytes += 1,
                            Needle::Member { .. } | Needle::MemberFolded { .. } => out.members += 1,
                            Needle::Unknown => out.unknown += 1,
                            _ => {}
                        }
                        let claim = Claim {
                            field,
                            value: &value,
                            literal: &literal,
                            exact,
                            case_sensitive,
                        };
                        if let Err(failure) = check(record, &claim, &needle, &mut out.exempted) {
                            out.failures.push(failure);
                            if out.failures.len() >= max_failures {
                                return out;
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Unoptimised builds check every 8th record to stay fast; release (CI) checks them all.
const STEP: usize = if cfg!(debug_assertions) { 8 } else { 1 };

#[test]
fn needles_are_found_in_every_record_that_matches() {
    let Some(records) = records_on_disk() else {
        return;
    };
    // The prefilter trusts the framer's escape notes: a record it calls escape-free must hold
    // no `\u` or `\/` escape.
    let noted: Vec<&Record> = records.iter().filter(|r| r.escaped.is_some()).collect();
    for r in &noted {
        let escaped = has_escape(&r.bytes, b"u/");
        assert!(
            r.escaped == Some(true) || !escaped,
            "{}: the framer noted no escape in {}",
            r.place,
            String::from_utf8_lossy(&r.bytes)
        );
    }
    assert!(!noted.is_empty(), "the JSON-lines fast path notes escapes");
    let result = sweep(&records, STEP, &raw_needle, 20);
    println!(
        "needles: {} (field, literal) checks over {} records ({} with \\u escapes): {} byte needles and {} member needles hold ({} only once \\u escapes are decoded), {} unknown",
        result.checked,
        result.records,
        result.escaped_records,
        result.bytes,
        result.members,
        result.exempted,
        result.unknown
    );
    assert!(
        result.failures.is_empty(),
        "unsound needles:\n{}",
        result.failures.join("\n")
    );
    assert!(
        result.unmappable.is_empty(),
        "records framed as CloudTrail the mapper rejects:\n{}",
        result.unmappable.join("\n")
    );
    assert!(
        result.records * STEP > 1500,
        "too few records: {}",
        result.records
    );
    // The two stratus-red-team detonation logs hold `\u0026` in URLs: `\u` records are in.
    assert!(
        result.escaped_records > 0,
        "no record with a \\u escape was checked"
    );
    assert!(
        result.members > 0,
        "event.action/event.provider equality must give member needles"
    );
}

/// Fields of other data sources that rules over `logs-*` read: `raw_needle` answers
/// `Constant(false)` for them, which is sound only if no record ever maps a value there. Each is
/// bound and read on every record on disk, and on the whole normalised document too.
#[test]
fn fields_the_mapping_never_fills_hold_no_value_in_any_record() {
    let Some(records) = records_on_disk() else {
        return;
    };
    let absent = [
        "host.os.type",
        "destination.port",
        "process.name",
        "network.transport",
        "tls.server.hash.md5",
        "azure.signinlogs.properties.authentication_protocol",
        "okta.event_type",
        "url.extension",
    ];
    let mut table = FieldTable::new();
    let ids: Vec<_> = absent.iter().map(|f| table.intern(f)).collect();
    let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
    let mut checked = 0;
    for record in &records {
        let Ok(ev) = mapper.map(&record.bytes) else {
            continue;
        };
        let document = ev.to_document().expect("a mapped record has a document");
        let mut paths = Vec::new();
        leaf_paths(&document, "", &mut paths);
        for (&id, field) in ids.iter().zip(absent) {
            assert!(
                ev.values(id).is_empty(),
                "{}: {field} has a value",
                record.place
            );
            assert!(
                !paths.iter().any(|p| p[1..] == *field),
                "{}: the document holds {field}",
                record.place
            );
            for (exact, cs) in [(true, true), (false, true), (false, false)] {
                assert_eq!(
                    raw_needle(field, "linux", exact, cs),
                    Needle::Constant(false),
                    "{field}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 1500, "too few records: {checked}");
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
/// record on disk (with the same `\u` allowance as above).
#[test]
fn key_needles_are_found_in_every_record_with_the_field() {
    let Some(records) = records_on_disk() else {
        return;
    };
    let table = FieldTable::new();
    let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
    let (mut checked, mut exempted, mut failures) = (0usize, 0usize, Vec::new());
    for record in &records {
        let ev = mapper.map(&record.bytes).unwrap();
        let ecs = ev.to_ecs();
        let Some(flattened) = ecs.pointer("/aws/cloudtrail/flattened") else {
            continue;
        };
        let mut paths = Vec::new();
        leaf_paths(flattened, "aws.cloudtrail.flattened", &mut paths);
        for path in paths {
            if let Some(needle) = dragnet_cloudtrail::raw_key_needle(&path) {
                checked += 1;
                let claim = Claim {
                    field: &path,
                    value: "(any value)",
                    literal: "(its key)",
                    exact: false,
                    case_sensitive: true,
                };
                if let Err(failure) = check(record, &claim, &Needle::Bytes(needle), &mut exempted) {
                    failures.push(failure);
                }
            }
        }
    }
    println!("key needles: {checked} checked, all found ({exempted} once \\u was decoded)");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 1000, "too few flattened fields: {checked}");
}

// The checker catches unsound needles.

fn record(json: &str, escaped: Option<bool>) -> Record {
    Record {
        place: "test".to_owned(),
        bytes: json.as_bytes().to_vec(),
        escaped,
    }
}

fn verdict(record: &Record, needle: Needle) -> Result<usize, String> {
    let mut exempted = 0;
    let claim = Claim {
        field: "f",
        value: "v",
        literal: "l",
        exact: false,
        case_sensitive: true,
    };
    check(record, &claim, &needle, &mut exempted).map(|()| exempted)
}

#[test]
fn the_checker_rejects_needles_a_matching_record_lacks() {
    let plain = record(
        r#"{"eventName":"DeleteFunctionConcurrency","eventSource":"lambda.amazonaws.com","userAgent":"a&b"}"#,
        Some(false),
    );
    assert_eq!(verdict(&plain, Needle::Bytes(b"a&b".to_vec())), Ok(0));
    assert!(verdict(&plain, Needle::Bytes(b"A&B".to_vec())).is_err());
    assert_eq!(
        verdict(&plain, Needle::CaseInsensitive(b"A&B".to_vec())),
        Ok(0)
    );
    assert!(verdict(&plain, Needle::Bytes(b"SendCommand".to_vec())).is_err());
    // A member needle is about the whole value, not bytes somewhere in the record.
    let member = |value: &[u8]| Needle::Member {
        key: "eventName",
        value: value.to_vec(),
    };
    assert_eq!(verdict(&plain, member(b"DeleteFunctionConcurrency")), Ok(0));
    assert!(verdict(&plain, member(b"DeleteFunction")).is_err());
    assert!(verdict(&plain, member(b"deletefunctionconcurrency")).is_err());
    assert_eq!(
        verdict(
            &plain,
            Needle::MemberFolded {
                key: "eventName",
                value: b"deletefunctionconcurrency".to_vec()
            }
        ),
        Ok(0)
    );
    // The key matters: the value is under eventName, not eventSource.
    assert!(
        verdict(
            &plain,
            Needle::Member {
                key: "eventSource",
                value: b"DeleteFunctionConcurrency".to_vec()
            }
        )
        .is_err()
    );
    // A constant must agree with the value ("v" does not contain "l").
    assert!(verdict(&plain, Needle::Constant(true)).is_err());
    assert_eq!(verdict(&plain, Needle::Constant(false)), Ok(0));
}

#[test]
fn a_u_escape_excuses_a_miss_only_when_it_spells_the_needle_and_the_framer_saw_it() {
    let json = r#"{"eventName":"Send\u0043ommand","userAgent":"a\u0026b"}"#;
    for escaped in [Some(true), None] {
        let r = record(json, escaped);
        assert_eq!(verdict(&r, Needle::Bytes(b"a&b".to_vec())), Ok(1));
        assert_eq!(verdict(&r, Needle::Bytes(b"SendCommand".to_vec())), Ok(1));
        // Not spelled by the escapes either.
        assert!(verdict(&r, Needle::Bytes(b"a&c".to_vec())).is_err());
        // Undecidable for the prefilter's member reader (an escape in the value): holds.
        let member = Needle::Member {
            key: "eventName",
            value: b"SendCommand".to_vec(),
        };
        assert_eq!(verdict(&r, member), Ok(0));
    }
    // The prefilter trusts the framer: a record it called escape-free is skipped on a miss.
    let r = record(json, Some(false));
    assert!(verdict(&r, Needle::Bytes(b"a&b".to_vec())).is_err());
    // `\\u` is an escaped backslash, not a `\u` escape.
    let r = record(r#"{"userAgent":"a\\u0026b"}"#, None);
    assert!(verdict(&r, Needle::Bytes(b"a&b".to_vec())).is_err());
    assert_eq!(
        decode_u_escapes(br#"x\u00e9\ud83d\ude00\\u0041\n\ud800y"#),
        "xé😀\\\\u0041\\n\u{FFFD}y".as_bytes()
    );
}

/// Plausible mistakes in `raw_needle`, run over the whole corpus: each is caught.
#[test]
fn broken_needles_are_caught_on_the_records_on_disk() {
    let Some(records) = records_on_disk() else {
        return;
    };
    type NeedleFn = dyn Fn(&str, &str, bool, bool) -> Needle;
    let mutants: [(&str, Box<NeedleFn>); 4] = [
        (
            // A derived field (`success`/`failure` from errorCode) taken for raw text.
            "event.outcome as raw text",
            Box::new(|field: &str, literal: &str, exact, cs| {
                if field == "event.outcome" {
                    Needle::Bytes(literal.as_bytes().to_vec())
                } else {
                    raw_needle(field, literal, exact, cs)
                }
            }),
        ),
        (
            // Case-insensitive literals searched case-sensitively, lowercased.
            "case folding dropped",
            Box::new(|field: &str, literal: &str, exact, cs| {
                match raw_needle(field, literal, exact, cs) {
                    Needle::CaseInsensitive(b) => Needle::Bytes(b.to_ascii_lowercase()),
                    other => other,
                }
            }),
        ),
        (
            // Member needles under the wrong key.
            "member key swapped",
            Box::new(|field: &str, literal: &str, exact, cs| {
                match raw_needle(field, literal, exact, cs) {
                    Needle::Member { key, value } => Needle::Member {
                        key: if key == "eventName" {
                            "eventSource"
                        } else {
                            "eventName"
                        },
                        value,
                    },
                    other => other,
                }
            }),
        ),
        (
            // Rendered values (`{key=value, …}` of request_parameters) taken verbatim.
            "rendered punctuation taken verbatim",
            Box::new(|field: &str, literal: &str, exact, cs| {
                if field == "aws.cloudtrail.request_parameters" && literal.contains('=') {
                    Needle::Bytes(literal.as_bytes().to_vec())
                } else {
                    raw_needle(field, literal, exact, cs)
                }
            }),
        ),
    ];
    for (name, mutant) in &mutants {
        let result = sweep(&records, 1, mutant.as_ref(), 1);
        assert!(
            !result.failures.is_empty(),
            "the sweep did not catch the broken needle {name:?}"
        );
        println!(
            "{name}: caught: {}",
            &result.failures[0][..200.min(result.failures[0].len())]
        );
    }
}
