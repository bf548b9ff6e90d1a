//! End-to-end tests of `dragnet validate` and `dragnet rules list|show`, running the real
//! binary over fixture files (`tests/fixtures/rules/`), the shipped seed rules and the
//! detection-rules corpus.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn dragnet() -> Command {
    let mut cmd = Command::cargo_bin("dragnet").expect("dragnet binary");
    cmd.env("NO_COLOR", "1").env_remove("COLUMNS");
    cmd
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn repo_root() -> PathBuf {
    dragnet_testdata::repo_root()
}

/// Runs `dragnet validate --format table PATH` from the fixtures folder (so paths print
/// relative) and returns (exit code, the diagnostics on stderr followed by the summary on
/// stdout: what a terminal shows).
fn validate(rel: &str) -> (i32, String) {
    let out = dragnet()
        .current_dir(fixtures())
        .args(["validate", "--format", "table", "--color", "never", rel])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Results (the summary) only on stdout; the diagnostics only on stderr.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    (out.status.code().unwrap_or(-1), stderr + &stdout)
}

#[test]
fn each_corrupted_rule_gives_a_precise_error() {
    // (file, expected `file:line:col: severity: message` prefix, summary)
    let cases = [
        (
            "bad/wrong_type.toml",
            "bad/wrong_type.toml:15:14: error: `rule.risk_score` must be an integer, found a string",
            "1 rules, 0 valid, 1 errors, 0 warnings",
        ),
        (
            "bad/missing_rule_id.toml",
            "bad/missing_rule_id.toml:7:1: error: missing required key `rule_id` in [rule]",
            "1 rules, 0 valid, 1 errors, 0 warnings",
        ),
        (
            "bad/bad_toml.toml",
            "bad/bad_toml.toml:10:15: error: invalid TOML",
            "1 rules, 0 valid, 1 errors, 0 warnings",
        ),
        (
            "bad/unknown_rule_type.toml",
            "bad/unknown_rule_type.toml:18:8: error: unknown rule type `sigma`",
            "1 rules, 0 valid, 1 errors, 0 warnings",
        ),
        (
            "bad/invalid_date_math.toml",
            "bad/invalid_date_math.toml:10:8: error: `rule.from`: bad date math `now-9x`",
            "1 rules, 0 valid, 1 errors, 0 warnings",
        ),
        (
            "bad/bad_metadata_date.toml",
            "bad/bad_metadata_date.toml:5:16: error: `metadata.updated_date` must be a date written YYYY/MM/DD",
            "1 rules, 0 valid, 1 errors, 0 warnings",
        ),
        (
            "bad/threat_wrong_type.toml",
            "bad/threat_wrong_type.toml:25:13: error: `rule.threat.technique` must be an array of tables, found a string",
            "1 rules, 0 valid, 2 errors, 0 warnings",
        ),
        (
            "bad/dup",
            "bad/dup/b.toml:16:1: error: duplicate rule_id `0b1c2d3e-0000-4000-8000-000000000001`: also used by \"Duplicate A\" at bad/dup/a.toml:16:1",
            "2 rules, 1 valid, 1 errors, 0 warnings",
        ),
    ];
    for (file, expected, summary) in cases {
        let (code, out) = validate(file);
        assert_eq!(code, 1, "{file}: exit code\n{out}");
        assert!(
            out.contains(expected),
            "{file}: expected\n  {expected}\ngot\n{out}"
        );
        assert!(out.trim_end().ends_with(summary), "{file}: summary\n{out}");
    }
}

#[test]
fn errors_show_the_source_line_and_underline_the_value() {
    let (_, out) = validate("bad/wrong_type.toml");
    assert!(
        out.contains("15 | risk_score = \"high\"\n   |              ^^^^^^\n"),
        "{out}"
    );
    let (_, out) = validate("bad/threat_wrong_type.toml");
    assert!(
        out.contains("bad/threat_wrong_type.toml:27:1: error: missing required key `reference` in [rule.threat.tactic]"),
        "{out}"
    );
}

#[test]
fn unknown_keys_are_warnings_and_keep_the_rule_valid() {
    let (code, out) = validate("bad/unknown_key.toml");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("bad/unknown_key.toml:18:1: warning: unknown key `severity_colour` in [rule]"),
        "{out}"
    );
    assert!(
        out.ends_with("1 rules, 1 valid, 0 errors, 1 warnings\n"),
        "{out}"
    );
}

#[test]
fn the_whole_bad_folder_is_checked_in_one_run() {
    let (code, out) = validate("bad");
    assert_eq!(code, 1);
    // 10 files, all with the same rule_id: 7 fail on their own (8 errors), and of the 3 that
    // parse (dup/a, dup/b, unknown_key) only the first keeps the id (2 duplicate errors).
    assert!(
        out.ends_with("10 rules, 1 valid, 10 errors, 1 warnings\n"),
        "{out}"
    );
    assert!(
        out.contains("bad/unknown_key.toml:16:1: error: duplicate rule_id"),
        "{out}"
    );
}

#[test]
fn valid_rules_exit_zero_and_unreadable_paths_exit_two() {
    let (code, out) = validate("good");
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "1 rules, 1 valid, 0 errors, 0 warnings\n");
    let (code, out) = validate("does/not/exist");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("does/not/exist: error: cannot read rules path"),
        "{out}"
    );
}

#[test]
fn validate_json_lists_diagnostics() {
    let out = dragnet()
        .current_dir(fixtures())
        .args(["validate", "--format", "json", "bad/wrong_type.toml"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &doc["diagnostics"][0];
    assert_eq!(d["file"], "bad/wrong_type.toml");
    assert_eq!(d["line"], 15);
    assert_eq!(d["column"], 14);
    assert_eq!(d["end_column"], 20);
    assert_eq!(d["severity"], "error");
    assert_eq!(d["kind"], "wrong-type");
    assert_eq!(
        doc["summary"],
        serde_json::json!({"rules": 1, "valid": 0, "errors": 1, "warnings": 0})
    );
}

#[test]
fn validate_corpus_has_no_errors_and_no_unknown_keys() {
    let dir = dragnet_testdata::require_shared!("corpus/detection-rules");
    let out = dragnet()
        .args(["validate", "--format", "json"])
        .arg(dir.join("rules"))
        .arg(dir.join("rules_building_block"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &doc["summary"];
    assert_eq!(summary["rules"], 2192);
    assert_eq!(summary["valid"], 2192);
    assert_eq!(summary["errors"], 0);
    let diags = doc["diagnostics"].as_array().unwrap();
    let unknown: Vec<&serde_json::Value> = diags
        .iter()
        .filter(|d| d["kind"] == "unknown-key" || d["severity"] == "error")
        .collect();
    assert!(unknown.is_empty(), "{unknown:#?}");
}

/// Python `" ".join(line.strip() for line in s.strip().splitlines())`, which
/// detection-rules applies to every string except `query` and Markdown (`note`, `setup`).
fn cleaned(s: &str) -> String {
    s.trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

fn toml_to_json_cleaned(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(cleaned(s)),
        toml::Value::Integer(i) => serde_json::json!(i),
        toml::Value::Boolean(b) => serde_json::json!(b),
        toml::Value::Array(a) => a.iter().map(toml_to_json_cleaned).collect(),
        toml::Value::Table(t) => t
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json_cleaned(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => panic!("unexpected TOML value {other:?}"),
    }
}

#[test]
fn show_prints_the_seed_rule_as_kibana_json_field_by_field() {
    let out = dragnet()
        .args([
            "rules",
            "show",
            "37b211e8-4e2f-440f-86d8-06cc8f158cfa",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let json = json.as_object().unwrap();
    let text =
        std::fs::read_to_string(repo_root().join("rules/initial_access_via_system_manager.toml"))
            .unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let rule = doc["rule"].as_table().unwrap();
    for (key, value) in rule {
        match key.as_str() {
            "query" => assert_eq!(json["query"], value.as_str().unwrap(), "query verbatim"),
            "note" => {
                // detection-rules moves the `## Setup` section's text to `setup`.
                let note = value.as_str().unwrap();
                let setup = json["setup"].as_str().unwrap();
                assert_eq!(
                    setup,
                    "The AWS Fleet integration, Filebeat module, or similarly structured data is required to be compatible with this rule."
                );
                assert!(note.contains(setup));
                assert_eq!(json["note"], note.replace(setup, "").trim());
            }
            "threat" => {
                // Same tactic/technique objects; Kibana always has `technique`.
                let expected = toml_to_json_cleaned(value);
                assert_eq!(json["threat"], expected, "threat");
            }
            _ => assert_eq!(json[key.as_str()], toml_to_json_cleaned(value), "{key}"),
        }
    }
    for key in json.keys() {
        assert!(
            rule.contains_key(key) || key == "version" || key == "setup",
            "unexpected key {key}"
        );
    }
    assert_eq!(json["version"], 1);
    assert_eq!(json["type"], "query");
    assert_eq!(json["risk_score"], 21);
}

#[test]
fn list_shows_the_shipped_rules_and_filters() {
    let out = dragnet()
        .args(["rules", "list", "--format", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "name,rule_id,type,language,severity,risk,tactics,maturity"
    );
    assert!(text.contains(
        "AWS Execution via System Manager,37b211e8-4e2f-440f-86d8-06cc8f158cfa,query,kuery,low,21,Initial Access,production"
    ));
    assert_eq!(text.lines().count(), 3);

    let out = dragnet()
        .args(["rules", "list", "--format", "json", "--tactic", "TA0010"])
        .output()
        .unwrap();
    // One JSON document: the rules and a summary (issue 14: every command's JSON alike).
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = &doc["rules"];
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["tactics"], serde_json::json!(["Exfiltration"]));
    assert_eq!(doc["summary"]["rules"], 1);

    let out = dragnet()
        .args([
            "rules",
            "list",
            "--format",
            "ndjson",
            "--severity",
            "critical",
        ])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());

    let out = dragnet()
        .args([
            "rules",
            "list",
            "--format",
            "table",
            "--integration",
            "aws",
            "--type",
            "query",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("name "), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");

    let out = dragnet()
        .args(["rules", "list", "--type", "sigma"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_filters_the_corpus() {
    let dir = dragnet_testdata::require_shared!("corpus/detection-rules");
    let out = dragnet()
        .args([
            "rules",
            "list",
            "--format",
            "ndjson",
            "--type",
            "threshold",
            "-r",
        ])
        .arg(dir.join("rules"))
        .arg(dir.join("rules_building_block"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // Deprecated rules are listed only when asked for (conventions: not selected by default);
    // 3 of the corpus's 31 threshold rules are deprecated.
    assert_eq!(text.lines().count(), 28);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("note: 3 deprecated rule(s) not listed (--include-deprecated lists them)")
    );
    let out = dragnet()
        .args([
            "rules",
            "list",
            "--format",
            "ndjson",
            "--type",
            "threshold",
            "--include-deprecated",
            "-r",
        ])
        .arg(dir.join("rules"))
        .arg(dir.join("rules_building_block"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 31);
}

#[test]
fn kibana_ndjson_exports_load_into_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let mut export = String::new();
    for id in [
        "37b211e8-4e2f-440f-86d8-06cc8f158cfa",
        "6a309864-fc3f-11ee-b8cc-f661ea17fbce",
    ] {
        let out = dragnet()
            .args(["rules", "show", id, "--format", "ndjson"])
            .output()
            .unwrap();
        export.push_str(&String::from_utf8(out.stdout).unwrap());
    }
    // What else a Kibana export holds: an exception list and the summary line.
    export.push_str("{\"list_id\":\"endpoint_list\",\"type\":\"endpoint\",\"name\":\"x\"}\n");
    export.push_str("{\"exported_count\":3,\"exported_rules_count\":2,\"missing_rules\":[]}\n");
    let path = tmp.path().join("export.ndjson");
    std::fs::write(&path, &export).unwrap();

    let out = dragnet()
        .args(["validate", "--color", "never"])
        .arg(&path)
        .output()
        .unwrap();
    // Piped, stdout holds NDJSON; the human diagnostics and summary are on stderr.
    let text = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(":3:1: warning: skipped exception list entry"),
        "{text}"
    );
    assert!(
        text.ends_with("2 rules, 2 valid, 0 errors, 1 warnings\n"),
        "{text}"
    );

    // Round trip: the rule read from the export prints the same Kibana JSON.
    let from_toml = dragnet()
        .args([
            "rules",
            "show",
            "37b211e8-4e2f-440f-86d8-06cc8f158cfa",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let from_export = dragnet()
        .args([
            "rules",
            "show",
            "AWS Execution via System Manager",
            "--format",
            "json",
            "-r",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&from_toml.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&from_export.stdout).unwrap();
    assert_eq!(a, b);

    // `rules show --format json` output (one pretty-printed rule) loads as a `.json` file,
    // and `rules show PATH` reads a rule file directly.
    let single = tmp.path().join("one.json");
    std::fs::write(&single, &from_toml.stdout).unwrap();
    let from_file = dragnet()
        .args(["rules", "show", "--format", "json"])
        .arg(&single)
        .output()
        .unwrap();
    let c: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(a, c);
    let from_toml_path = dragnet()
        .args(["rules", "show", "--format", "json"])
        .arg(repo_root().join("rules/initial_access_via_system_manager.toml"))
        .output()
        .unwrap();
    let d: serde_json::Value = serde_json::from_slice(&from_toml_path.stdout).unwrap();
    assert_eq!(a, d);

    // A broken line is an error with its line number.
    std::fs::write(&path, format!("{export}{{\"rule_id\": 5,\n")).unwrap();
    let out = dragnet()
        .args(["validate", "--color", "never"])
        .arg(&path)
        .output()
        .unwrap();
    // Piped, stdout holds NDJSON; the human diagnostics and summary are on stderr.
    let text = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains(":5:"), "{text}");
}

#[test]
fn show_renders_the_triage_guide_for_the_terminal() {
    let out = dragnet()
        .args([
            "rules",
            "show",
            "AWS Execution via System Manager",
            "--format",
            "table",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("AWS Execution via System Manager\n================================\n")
    );
    assert!(
        text.contains("    rule_id  37b211e8-4e2f-440f-86d8-06cc8f158cfa\n"),
        "{text}"
    );
    assert!(
        text.contains("\nTriage and analysis\n-------------------\n"),
        "{text}"
    );
    assert!(text.contains("\n• Investigate other alerts associated with the user account during the past 48 hours.\n"), "{text}");
    // Prose wraps at 100 columns (code blocks and the query keep their lines).
    assert!(
        text.lines()
            .all(|l| l.chars().count() <= 100 || l.starts_with("    ")),
        "{text}"
    );

    let out = dragnet()
        .args(["rules", "show", "no-such-rule"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no valid rule `no-such-rule`"));
}

#[test]
fn show_finds_a_rule_by_a_name_fragment_in_any_case() {
    let out = dragnet()
        .args([
            "rules",
            "show",
            "--format",
            "table",
            "--color",
            "never",
            "SYSTEM manager",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("AWS Execution via System Manager\n"),
        "{text}"
    );
    // By file name too, with or without the extension.
    for key in [
        "initial_access_via_system_manager",
        "initial_access_via_system_manager.toml",
    ] {
        let out = dragnet()
            .args([
                "rules", "show", "--format", "table", "--color", "never", key,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with("AWS Execution via System Manager\n"),
            "{key}: {text}"
        );
    }
}

#[test]
fn show_suggests_the_nearest_rules_when_nothing_fits() {
    let out = dragnet()
        .args(["rules", "show", "sytem managr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no valid rule `sytem managr`"), "{err}");
    assert!(err.contains("the nearest names are:"), "{err}");
    assert!(
        err.contains("  AWS Execution via System Manager (37b211e8-4e2f-440f-86d8-06cc8f158cfa)"),
        "{err}"
    );
    assert!(!err.contains("EC2 AMI Shared"), "not near: {err}");
}

#[test]
fn show_lists_the_rules_a_fragment_fits_when_several_do() {
    let dir = dragnet_testdata::require_shared!("corpus/detection-rules");
    let out = dragnet()
        .args(["-q", "rules", "show", "Console Login", "-r"])
        .arg(dir.join("rules/integrations/aws"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("have `Console Login` in their name"), "{err}");
    assert!(
        err.contains(
            "  AWS IAM User Console Login Without MFA (f5778acd-80e3-4ca0-a32a-6259386dfb20)"
        ),
        "{err}"
    );
    let out = dragnet()
        .args([
            "-q",
            "rules",
            "show",
            "--format",
            "table",
            "console login without mfa",
            "-r",
        ])
        .arg(dir.join("rules/integrations/aws"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("AWS IAM User Console Login Without MFA\n")
    );
}
