//! `dragnet validate PATH...`: checks rule files (TOML, Kibana NDJSON) and prints every
//! problem as `file:line:col: severity: message` with the source line, then the summary
//! `N rules, N valid, N errors, N warnings`.
//!
//! Query languages plug in through [`QUERY_CHECKERS`]: each [`QueryChecker`] receives a rule
//! whose structure is valid and one of its query texts (`query`, or `threat_query`) with
//! positions, and returns diagnostics placed in the rule file via
//! [`SourceText::file_range`]. A rule with an error from a checker counts as invalid.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use dragnet_rules::{Diagnostic, DiagnosticKind, Language, Rule, RuleSet, SourceText, TypeParams};
use serde_json::json;

use crate::exit::Code;
use crate::output::{Format, GlobalArgs, show_path};
use dragnet_printer::{Newlines, escape_controls};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub query_limits: crate::output::QueryLimitArgs,
    /// Rule files or folders (searched recursively for *.toml and *.ndjson).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// A query-language check run on every structurally valid rule.
pub struct QueryChecker {
    /// Prefixes the checker's messages (`kql: …`).
    pub name: &'static str,
    /// The languages this checker understands.
    pub languages: &'static [Language],
    /// Returns problems in `query` (positions via `query.file_range(...)`).
    pub check: fn(rule: &Rule, query: &SourceText) -> Vec<Diagnostic>,
}

/// The registered query checkers. The KQL/EQL/ES|QL owners add theirs here, e.g.
/// `QueryChecker { name: "kql", languages: &[Language::Kuery], check: kql_check }`
/// where `kql_check` calls `dragnet_kql::parse` and maps its error offsets with
/// `query.file_range(start..end)`.
pub const QUERY_CHECKERS: &[QueryChecker] = &[
    QueryChecker {
        name: "kql",
        languages: &[Language::Kuery],
        check: crate::cmd::kql::check_rule_query,
    },
    QueryChecker {
        name: "eql",
        languages: &[Language::Eql],
        check: crate::cmd::eql::check_rule_query,
    },
];

/// Runs `checkers` on the rule's query texts that they understand.
pub fn run_query_checks(rule: &Rule, checkers: &[QueryChecker]) -> Vec<Diagnostic> {
    let mut texts: Vec<(Language, &SourceText)> = Vec::new();
    if let (Some(language), Some(query)) = (rule.language, &rule.query) {
        texts.push((language, query));
    }
    if let TypeParams::ThreatMatch(t) = &rule.params
        && let (Some(language), Some(query)) = (t.threat_language, &t.threat_query)
    {
        texts.push((language, query));
    }
    let mut out = Vec::new();
    for (language, text) in texts {
        for checker in checkers {
            if checker.languages.contains(&language) {
                out.extend((checker.check)(rule, text).into_iter().map(|mut d| {
                    d.message = format!("{}: {}", checker.name, d.message);
                    d
                }));
            }
        }
    }
    out
}

/// Validation outcome after query checks.
pub struct Report {
    pub set: RuleSet,
    pub valid: usize,
}

/// Loads `paths` and applies `checkers` (the CLI passes [`QUERY_CHECKERS`]).
pub fn validate(paths: &[PathBuf], checkers: &[QueryChecker]) -> Report {
    use rayon::prelude::*;
    let mut set = dragnet_rules::load_paths(paths);
    // Query parsing costs as much as loading: spread it over the cores too.
    let found: Vec<Vec<Diagnostic>> = set
        .rules
        .par_iter()
        .map(|rule| run_query_checks(rule, checkers))
        .collect();
    let valid = found
        .iter()
        .filter(|f| !f.iter().any(Diagnostic::is_error))
        .count();
    set.diagnostics.extend(found.into_iter().flatten());
    // Path, then position order; problems without a file first.
    set.diagnostics.sort_by(|a, b| {
        (a.path(), a.span.as_ref().map(|s| s.start))
            .cmp(&(b.path(), b.span.as_ref().map(|s| s.start)))
    });
    Report { set, valid }
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    args.query_limits.apply();
    let format = global.resolve_format("validate", &Format::ALL)?;
    let report = validate(&args.paths, QUERY_CHECKERS);
    let set = &report.set;
    let summary = format!(
        "{} rules, {} valid, {} errors, {} warnings",
        set.total(),
        report.valid,
        set.error_count(),
        set.warning_count()
    );
    // Diagnostics stay human-readable on stderr whatever the format (conventions.md).
    {
        let color = global.color_stderr();
        let stderr = std::io::stderr();
        let mut err = stderr.lock();
        for d in &set.diagnostics {
            if global.quiet && !d.is_error() {
                continue;
            }
            write_human(&mut err, d, color)?;
        }
        if format != Format::Table {
            writeln!(err, "{summary}")?;
        }
    }
    let mut out = global.writer()?;
    if format == Format::Table {
        // The results a terminal shows: the summary (the diagnostics are above, on stderr).
        writeln!(out, "{summary}")?;
    } else {
        let columns = ["file", "line", "column", "severity", "kind", "message"]
            .map(|k| dragnet_printer::Column::new(k, k))
            .to_vec();
        let mut printer = dragnet_printer::Printer::new(
            &mut out,
            format,
            columns,
            "diagnostics",
            global.table_options(false),
        );
        for d in &set.diagnostics {
            printer.row(
                || {
                    let pos = d.position();
                    dragnet_printer::Row::new(
                        [
                            d.path()
                                .map(|p| p.display().to_string())
                                .unwrap_or_default(),
                            pos.map(|p| p.line.to_string()).unwrap_or_default(),
                            pos.map(|p| p.column.to_string()).unwrap_or_default(),
                            d.severity.as_str().to_string(),
                            d.kind.as_str().to_string(),
                            d.message.clone(),
                        ]
                        .map(dragnet_printer::Cell::from)
                        .to_vec(),
                    )
                },
                || dragnet_printer::Doc::Value(diagnostic_json(d)),
            )?;
        }
        let mut members = serde_json::Map::new();
        members.insert("summary".into(), summary_json(&report));
        printer.finish_with(members, Some(json!({ "summary": summary_json(&report) })))?;
    }
    out.finish().context("writing the validation report")?;
    let nothing_read = set.files == 0 || set.files == set.unreadable;
    Ok(if nothing_read {
        Code::Usage
    } else if report.valid < set.total() || set.unreadable > 0 {
        Code::Findings
    } else {
        Code::Ok
    })
}

fn summary_json(report: &Report) -> serde_json::Value {
    json!({
        "rules": report.set.total(),
        "valid": report.valid,
        "errors": report.set.error_count(),
        "warnings": report.set.warning_count(),
    })
}

/// One diagnostic as JSON: file, 1-based line/column (start and end), severity, kind, message.
pub fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    let start = d.position();
    let end = match (&d.file, &d.span) {
        (Some(file), Some(span)) => Some(file.position(span.end)),
        _ => None,
    };
    json!({
        "file": d.path().map(|p| p.display().to_string()),
        "line": start.map(|p| p.line),
        "column": start.map(|p| p.column),
        "end_line": end.map(|p| p.line),
        "end_column": end.map(|p| p.column),
        "severity": d.severity.as_str(),
        "kind": d.kind.as_str(),
        "message": d.message,
    })
}

/// `file:line:col: severity: message`, then the source line with the span underlined.
pub fn write_human(out: &mut dyn Write, d: &Diagnostic, color: bool) -> std::io::Result<()> {
    let (sev_on, bold_on, off) = match (color, d.is_error()) {
        (false, _) => ("", "", ""),
        (true, true) => ("\x1b[1;31m", "\x1b[1m", "\x1b[0m"),
        (true, false) => ("\x1b[1;33m", "\x1b[1m", "\x1b[0m"),
    };
    // Paths, messages (which quote rule text) and the source line are escaped: a control
    // character in them must not act on the terminal (`dragnet_printer::escape_controls`).
    let location = match (d.path(), d.position()) {
        (Some(path), Some(pos)) => format!("{}:{}:{}: ", show_path(path), pos.line, pos.column),
        (Some(path), None) => format!("{}: ", show_path(path)),
        _ => String::new(),
    };
    writeln!(
        out,
        "{bold_on}{location}{off}{sev_on}{}{off}: {bold_on}{}{off}",
        d.severity.as_str(),
        escape_controls(&d.message, Newlines::Keep)
    )?;
    if let (Some(file), Some(span)) = (&d.file, &d.span)
        && d.kind != DiagnosticKind::Io
    {
        let start = file.position(span.start);
        if let Some(line) = file.line_text(start.line) {
            let end = file.position(span.end);
            let line_chars = line.chars().count();
            let first = start.column.saturating_sub(1).min(line_chars);
            let last = if end.line == start.line {
                end.column.saturating_sub(1)
            } else {
                line_chars
            };
            let width = last.saturating_sub(first).max(1);
            let gutter = start.line.to_string();
            let pad = " ".repeat(gutter.len());
            // Tabs as one space, other control characters escaped; the caret moves past
            // what the escapes before it add.
            let show = |chars: &str| -> String {
                let tabs: String = chars
                    .chars()
                    .map(|c| if c == '\t' { ' ' } else { c })
                    .collect();
                escape_controls(&tabs, Newlines::Escape).into_owned()
            };
            let shown = show(line);
            let before: String = line.chars().take(first).collect();
            let caret_at = show(&before).chars().count();
            writeln!(out, "{pad} |")?;
            writeln!(out, "{gutter} | {shown}")?;
            writeln!(
                out,
                "{pad} | {}{sev_on}{}{off}",
                " ".repeat(caret_at),
                "^".repeat(width.min(line_chars.saturating_sub(first).max(1)))
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag_every_query(rule: &Rule, query: &SourceText) -> Vec<Diagnostic> {
        let range = query.file_range(0..query.len().min(5)).unwrap();
        vec![Diagnostic::error(
            DiagnosticKind::Query,
            query.file(),
            range,
            format!("saw {}", rule.rule_id),
        )]
    }

    const TEST_CHECKERS: &[QueryChecker] = &[QueryChecker {
        name: "test",
        languages: &[Language::Kuery],
        check: flag_every_query,
    }];

    #[test]
    fn registered_checkers_run_on_matching_languages() {
        let set = dragnet_rules::embedded();
        let rule = set.find("37b211e8-4e2f-440f-86d8-06cc8f158cfa").unwrap();
        let found = run_query_checks(rule, TEST_CHECKERS);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].message, format!("test: saw {}", rule.rule_id));
        let pos = found[0].position().unwrap();
        let line = rule.origin.file.line_text(pos.line).unwrap();
        assert!(line.starts_with("event.dataset"), "{line}");
        // No checkers registered: structure only.
        assert!(run_query_checks(rule, &[]).is_empty());
        let eql_only = [QueryChecker {
            name: "eql",
            languages: &[Language::Eql],
            check: flag_every_query,
        }];
        assert!(run_query_checks(rule, &eql_only).is_empty());
    }
}
