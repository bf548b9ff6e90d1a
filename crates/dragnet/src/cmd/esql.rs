//! ES|QL in the CLI: for now the checker `dragnet validate` runs on every `language = "esql"`
//! rule (its query must parse as Elasticsearch's grammar has it). Rules still do not run:
//! `hunt` accounts them as unsupported until execution lands.

use dragnet_rules::{Diagnostic, Rule, SourceText};

use crate::cmd::query_check::{QueryCheck, query_diagnostics};

/// The `esql` entry of `validate::QUERY_CHECKERS`: a syntax error, placed at its position in
/// the rule file.
pub fn check_rule_query(_rule: &Rule, query: &SourceText) -> Vec<Diagnostic> {
    let check = match dragnet_esql::parse(query.as_str()) {
        Err(e) => QueryCheck::Syntax {
            offset: e.offset(),
            message: e.message,
        },
        Ok(_) => QueryCheck::UnknownFields(Vec::new()),
    };
    query_diagnostics(query, check, |_| String::new())
}
