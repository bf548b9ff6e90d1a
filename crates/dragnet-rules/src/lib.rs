//! dragnet-rules: the elastic/detection-rules TOML format as typed structs, read with
//! positions so that every problem maps to `file:line:col`; Elastic date math; the rule as
//! Kibana JSON; Kibana NDJSON exports; rule-set loading with duplicate checks.
//!
//! Parsing goes through `toml::de::DeTable` (the `toml` crate's spanned document tree)
//! instead of serde derive: serde stops at the first error and cannot report unknown keys as
//! warnings with positions, while walking the spanned tree collects every wrong type, missing
//! key and unknown key of a file in one pass, each with its byte span. The same walker reads
//! Kibana JSON objects, so both formats fill one model.
//!
//! Entry points: [`load_paths`] (files/folders -> [`RuleSet`]), [`embedded`] (the rules
//! shipped in the binary), [`parse_toml`], [`Rule::to_kibana_json`], and
//! [`SourceText::position`] for query parsers to report errors inside a rule file.

mod datemath;
mod diagnostic;
pub mod exception_list;
mod kibana;
mod loader;
mod model;
mod node;
mod parse;
mod source;
mod text;

use std::sync::Arc;

pub use datemath::{DateMath, DateMathOp, Interval, TimeParseError, TimeUnit};
pub use diagnostic::{Diagnostic, DiagnosticKind, Severity as DiagnosticSeverity};
pub use kibana::{cleanup_whitespace, parse_kibana_ndjson};
pub use loader::{
    FileOutcome, RuleSet, assemble, discover, is_kibana_export, load_file, load_paths, load_source,
};
pub use model::*;
pub use parse::parse_toml;
pub use source::{Position, SourceFile};
pub use text::SourceText;

/// The rule files compiled into the binary: `(file name, TOML text)`.
pub const EMBEDDED_RULE_FILES: &[(&str, &str)] = &[
    (
        "exfiltration_ec2_ami_shared_with_separate_account.toml",
        include_str!("../../../rules/exfiltration_ec2_ami_shared_with_separate_account.toml"),
    ),
    (
        "initial_access_via_system_manager.toml",
        include_str!("../../../rules/initial_access_via_system_manager.toml"),
    ),
];

/// The default rule set (the repository's `rules/`, embedded at build time). Paths read
/// `<embedded>/<file name>`.
pub fn embedded() -> RuleSet {
    let outcomes = EMBEDDED_RULE_FILES
        .iter()
        .map(|(name, text)| {
            let file: Arc<SourceFile> =
                SourceFile::new(format!("<embedded>/{name}"), (*text).to_string());
            load_source(&file)
        })
        .collect();
    let mut set = assemble(outcomes, Vec::new());
    set.files = EMBEDDED_RULE_FILES.len();
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_rules_load_clean() {
        let set = embedded();
        assert_eq!(set.rules.len(), 2, "{:?}", set.diagnostics);
        assert!(set.diagnostics.is_empty(), "{:?}", set.diagnostics);
        let ssm = set.find("37b211e8-4e2f-440f-86d8-06cc8f158cfa").unwrap();
        assert_eq!(ssm.rule_type(), RuleType::Query);
        assert_eq!(ssm.language, Some(Language::Kuery));
        assert_eq!(ssm.from.as_ref().unwrap().as_str(), "now-60m");
        assert_eq!(
            ssm.interval.as_ref().unwrap().duration(),
            std::time::Duration::from_secs(600)
        );
        let q = ssm.query.as_ref().unwrap();
        assert!(q.starts_with("event.dataset:aws.cloudtrail"));
        // The query starts on the line after `query = '''`.
        let pos = q.position(0).unwrap();
        let line = ssm.origin.file.line_text(pos.line).unwrap();
        assert!(line.starts_with("event.dataset:aws.cloudtrail"), "{line}");
        assert_eq!(pos.column, 1);
    }
}
