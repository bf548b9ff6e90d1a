//! Loading rule sets: files and folders (recursive; `*.toml` rules, `*.ndjson` Kibana
//! exports), in parallel, with duplicate checks across the whole set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::kibana::parse_kibana_ndjson;
use crate::model::Rule;
use crate::parse::parse_toml;
use crate::source::SourceFile;

/// The outcome of loading: the rules without errors, every diagnostic, and counts.
#[derive(Debug, Default)]
pub struct RuleSet {
    /// Rules that loaded without errors, in path order (then line order for NDJSON).
    pub rules: Vec<Rule>,
    /// Every problem, errors and warnings, in path then position order.
    pub diagnostics: Vec<Diagnostic>,
    /// Rule entries (TOML files, NDJSON rule lines) that had errors and were dropped.
    pub invalid: usize,
    /// Paths (given or found) that could not be read.
    pub unreadable: usize,
    /// Rule files read.
    pub files: usize,
}

impl RuleSet {
    /// Rule entries seen: valid plus invalid.
    pub fn total(&self) -> usize {
        self.rules.len() + self.invalid
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// A rule by `rule_id`, exact name, or (case-insensitive) name.
    pub fn find(&self, key: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.rule_id == key)
            .or_else(|| self.rules.iter().find(|r| r.name == key))
            .or_else(|| self.rules.iter().find(|r| r.name.eq_ignore_ascii_case(key)))
    }
}

/// What one file yielded.
#[derive(Debug, Default)]
pub struct FileOutcome {
    pub rules: Vec<Rule>,
    pub diagnostics: Vec<Diagnostic>,
    /// Rule entries tried (1 for TOML; rule lines for NDJSON).
    pub attempted: usize,
}

/// Whether `path` is read as a Kibana NDJSON export (by extension).
pub fn is_kibana_export(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("ndjson") | Some("json")
    )
}

/// Parses one rule file's text (TOML, or NDJSON when [`is_kibana_export`]).
pub fn load_source(file: &Arc<SourceFile>) -> FileOutcome {
    if is_kibana_export(file.path()) {
        let (rules, diagnostics, attempted) = parse_kibana_ndjson(file);
        FileOutcome {
            rules,
            diagnostics,
            attempted,
        }
    } else {
        let (rule, diagnostics) = parse_toml(file);
        FileOutcome {
            rules: rule.into_iter().collect(),
            diagnostics,
            attempted: 1,
        }
    }
}

/// Reads and parses one file.
pub fn load_file(path: &Path) -> FileOutcome {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_source(&SourceFile::new(path, text)),
            Err(err) => FileOutcome {
                diagnostics: vec![Diagnostic::for_path(
                    Severity::Error,
                    DiagnosticKind::Syntax,
                    path,
                    format!(
                        "not UTF-8 text (invalid byte at offset {}); rule files must be UTF-8",
                        err.utf8_error().valid_up_to()
                    ),
                )],
                attempted: 1,
                ..FileOutcome::default()
            },
        },
        Err(err) => FileOutcome {
            diagnostics: vec![Diagnostic::for_path(
                Severity::Error,
                DiagnosticKind::Io,
                path,
                format!("cannot read rule file: {err}"),
            )],
            ..FileOutcome::default()
        },
    }
}

/// The rule files under `path`: itself if a file, else `*.toml` and `*.ndjson` found
/// recursively (sorted). Unreadable paths come back as diagnostics.
pub fn discover(path: &Path, files: &mut Vec<PathBuf>, diags: &mut Vec<Diagnostic>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(err) => {
            diags.push(Diagnostic::for_path(
                Severity::Error,
                DiagnosticKind::Io,
                path,
                format!("cannot read rules path: {err}"),
            ));
            return;
        }
    };
    if meta.is_file() {
        files.push(path.to_path_buf());
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(e) => e,
        Err(err) => {
            diags.push(Diagnostic::for_path(
                Severity::Error,
                DiagnosticKind::Io,
                path,
                format!("cannot list rules folder: {err}"),
            ));
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        if child.is_dir() {
            discover(&child, files, diags);
        } else if matches!(
            child.extension().and_then(|e| e.to_str()),
            Some("toml") | Some("ndjson")
        ) {
            files.push(child);
        }
    }
}

/// Loads every rule under `paths` (files or folders) as one set: parse errors drop the
/// rule; a `rule_id` seen twice is an error on the later rule (which is dropped); a name
/// seen twice is a warning.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> RuleSet {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        discover(path.as_ref(), &mut files, &mut diagnostics);
    }
    let unreadable = diagnostics.len();
    let outcomes: Vec<FileOutcome> = files.par_iter().map(|p| load_file(p)).collect();
    let mut set = assemble(outcomes, diagnostics);
    set.unreadable += unreadable;
    set.files = files.len();
    set
}

/// Builds a set from per-file outcomes (in order), adding duplicate checks.
pub fn assemble(outcomes: Vec<FileOutcome>, mut diagnostics: Vec<Diagnostic>) -> RuleSet {
    let mut rules = Vec::new();
    let mut invalid = 0;
    let mut unreadable = 0;
    for outcome in outcomes {
        if outcome.attempted == 0
            && outcome
                .diagnostics
                .iter()
                .any(|d| d.kind == DiagnosticKind::Io)
        {
            unreadable += 1;
        }
        invalid += outcome.attempted.saturating_sub(outcome.rules.len());
        diagnostics.extend(outcome.diagnostics);
        rules.extend(outcome.rules);
    }
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut keep = Vec::with_capacity(rules.len());
    for rule in rules {
        if let Some(&first) = by_id.get(&rule.rule_id) {
            let first: &Rule = &keep[first];
            let at = first.origin.file.position(rule_id_span(first).start);
            diagnostics.push(Diagnostic::error(
                DiagnosticKind::DuplicateRuleId,
                &rule.origin.file,
                rule_id_span(&rule),
                format!(
                    "duplicate rule_id `{}`: also used by \"{}\" at {}:{}; rule_ids must be unique in a rule set",
                    rule.rule_id,
                    first.name,
                    first.path().display(),
                    at
                ),
            ));
            invalid += 1;
            continue;
        }
        if let Some(&first) = by_name.get(&rule.name) {
            let first: &Rule = &keep[first];
            diagnostics.push(Diagnostic::warning(
                DiagnosticKind::DuplicateName,
                &rule.origin.file,
                key_line_span(&rule, "name"),
                format!(
                    "duplicate rule name \"{}\": also the name of rule {} ({})",
                    rule.name,
                    first.rule_id,
                    first.path().display()
                ),
            ));
        } else {
            by_name.insert(rule.name.clone(), keep.len());
        }
        by_id.insert(rule.rule_id.clone(), keep.len());
        keep.push(rule);
    }
    RuleSet {
        rules: keep,
        diagnostics,
        invalid,
        unreadable,
        files: 0,
    }
}

/// The span of the `rule_id = …` line in a TOML file (or the rule's line for NDJSON).
fn rule_id_span(rule: &Rule) -> std::ops::Range<usize> {
    key_line_span(rule, "rule_id")
}

/// The span of the first line reading `KEY = …` in a TOML rule (the rule's line for NDJSON).
fn key_line_span(rule: &Rule, key: &str) -> std::ops::Range<usize> {
    let text = rule.origin.file.text();
    let span = rule.origin.span.clone();
    if rule.origin.format == crate::model::RuleFormat::Toml {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix(key)
                && rest.trim_start().starts_with('=')
            {
                let start = offset + (line.len() - trimmed.len());
                return start..start + line.trim_end().len() - (line.len() - trimmed.len());
            }
            offset += line.len();
        }
    }
    span
}
