//! Every query of Elasticsearch's own ES|QL csv-spec tests (`../shared/conformance/esql/spec/`,
//! format in its SOURCE.md) parses and prints back to a fixpoint. A query may fail only as
//! `csv_spec_parse_exclusions.txt` says, each with the reason; the pass rate is printed per
//! file.

use std::collections::BTreeMap;
use std::path::Path;

/// One csv-spec test: its name, the line its query starts on, and the query.
struct SpecTest {
    name: String,
    line: usize,
    query: String,
}

/// Directives that may stand between a test's name and its query (SOURCE.md, point 2).
const DIRECTIVES: &[&str] = &[
    "required_capability:",
    "required_feature:",
    "skip_flattened_rewrite:",
    "request_stored:",
    "approximate:",
    "schema::",
];

/// The tests of one csv-spec file, as Elasticsearch's `SpecReader`/`CsvSpecReader` read them:
/// lines trimmed, blank, `//` and `#` lines skipped everywhere; the name; directives; the
/// query up to a line ending in `;` (`\;` is an escaped semicolon); then everything up to a
/// line starting with `;`.
fn read_spec(text: &str) -> Vec<SpecTest> {
    enum State {
        Name,
        Query {
            name: String,
            line: usize,
            lines: Vec<String>,
        },
        Rest,
    }
    let mut tests = Vec::new();
    let mut state = State::Name;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") || line.starts_with('#') {
            continue;
        }
        state = match state {
            State::Name => State::Query {
                name: line.split('#').next().unwrap_or(line).trim().to_owned(),
                line: 0,
                lines: Vec::new(),
            },
            State::Query {
                name,
                line: _,
                lines,
            } if lines.is_empty() && DIRECTIVES.iter().any(|d| line.starts_with(d)) => {
                State::Query {
                    name,
                    line: 0,
                    lines,
                }
            }
            State::Query {
                name,
                line: start,
                mut lines,
            } => {
                let start = if lines.is_empty() { number + 1 } else { start };
                let escaped = line.ends_with("\\;");
                if line.ends_with(';') && !escaped {
                    lines.push(line[..line.len() - 1].to_owned());
                    tests.push(SpecTest {
                        name,
                        line: start,
                        query: lines.join("\n").replace("\\;", ";"),
                    });
                    State::Rest
                } else {
                    lines.push(line.to_owned());
                    State::Query {
                        name,
                        line: start,
                        lines,
                    }
                }
            }
            State::Rest if line.starts_with(';') => State::Name,
            State::Rest => State::Rest,
        };
    }
    tests
}

/// `file | test | expected error text | reason` lines of the exclusions file.
fn exclusions(path: &Path) -> BTreeMap<(String, String), (String, String)> {
    let text = std::fs::read_to_string(path).expect("the exclusions file is readable");
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(4, " | ").collect();
        let [file, test, expected, reason] = parts[..] else {
            panic!(
                "{}:{}: expected `file | test | expected error | reason`",
                path.display(),
                i + 1
            );
        };
        assert!(
            !reason.trim().is_empty(),
            "{}:{}: an exclusion needs its reason",
            path.display(),
            i + 1
        );
        out.insert(
            (file.to_owned(), test.to_owned()),
            (expected.to_owned(), reason.to_owned()),
        );
    }
    out
}

#[test]
fn every_csv_spec_query_parses() {
    let dir = dragnet_testdata::require_shared!("conformance/esql/spec");
    let excluded_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/csv_spec_parse_exclusions.txt");
    let mut excluded = exclusions(&excluded_path);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("spec folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv-spec"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 19,
        "expected the 19 csv-spec files, found {}",
        files.len()
    );
    let counts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("../test-counts.json")).expect("test-counts.json"),
    )
    .expect("test-counts.json is JSON");
    let mut failures = Vec::new();
    let (mut total, mut total_parsed) = (0, 0);
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let tests = read_spec(&std::fs::read_to_string(path).expect("spec file"));
        let expected_count = counts[&file]["tests"].as_u64();
        assert_eq!(
            Some(tests.len() as u64),
            expected_count,
            "{file}: the reader found {} tests, test-counts.json says {expected_count:?}",
            tests.len()
        );
        let mut parsed = 0;
        for test in &tests {
            let place = format!("{file}:{} ({})", test.line, test.name);
            let outcome = dragnet_esql::parse(&test.query);
            match (outcome, excluded.remove(&(file.clone(), test.name.clone()))) {
                (Ok(query), None) => {
                    parsed += 1;
                    let printed = query.to_string();
                    match dragnet_esql::parse(&printed) {
                        Ok(again) if again == query => {}
                        Ok(_) => failures.push(format!(
                            "{place}: printed form parses to another tree:\n{printed}"
                        )),
                        Err(e) => failures.push(format!(
                            "{place}: printed form does not parse ({e}):\n{printed}"
                        )),
                    }
                }
                (Ok(_), Some((_, reason))) => failures.push(format!(
                    "{place}: parses now; remove its exclusion ({reason})"
                )),
                (Err(e), None) => failures.push(format!("{place}: {e}\n{}", test.query)),
                (Err(e), Some((expected, reason))) => {
                    if !e.message.contains(&expected) {
                        failures.push(format!(
                            "{place}: excluded ({reason}) for an error containing `{expected}`, but failed with: {e}"
                        ));
                    }
                }
            }
        }
        total += tests.len();
        total_parsed += parsed;
        println!(
            "{file}: {parsed}/{} parse ({:.1}%)",
            tests.len(),
            100.0 * parsed as f64 / tests.len().max(1) as f64
        );
    }
    println!(
        "all: {total_parsed}/{total} parse ({:.1}%)",
        100.0 * total_parsed as f64 / total.max(1) as f64
    );
    for ((file, test), (_, reason)) in &excluded {
        failures.push(format!(
            "{file} | {test}: excluded ({reason}) but no such test"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
