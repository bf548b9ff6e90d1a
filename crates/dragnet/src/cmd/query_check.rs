//! The query checkers `dragnet validate` runs on each rule: syntax errors, queries
//! Elasticsearch would reject (compile errors), and fields the schema does not know, each
//! positioned in the rule file.

use dragnet_event::FieldTable;
use dragnet_rules::{Diagnostic, Rule, SourceText};
use dragnet_schema::Schema;

/// What checking one rule query found (see [`query_diagnostics`]).
pub(crate) enum QueryCheck {
    /// It does not parse: byte offset in the query and why.
    Syntax { offset: usize, message: String },
    /// Elasticsearch would reject it: the offending clause's byte range and why.
    Compile {
        span: std::ops::Range<usize>,
        message: String,
    },
    /// It compiles; these fields are not in the schema.
    UnknownFields(Vec<String>),
}

/// The diagnostics of one rule query, positioned in its rule file: an error for a syntax or
/// compile error, a warning per unknown field (`unknown` words it).
pub(crate) fn query_diagnostics(
    query: &dragnet_rules::SourceText,
    check: QueryCheck,
    unknown: impl Fn(&str) -> String,
) -> Vec<dragnet_rules::Diagnostic> {
    use dragnet_rules::{Diagnostic, DiagnosticKind};
    let text = query.as_str();
    let file = query.file();
    let place = |start: usize, end: usize| {
        let end = end.max(start).min(text.len());
        let start = start.min(end);
        query
            .file_range(start..end)
            .unwrap_or_else(|| query.file_span())
    };
    match check {
        QueryCheck::Syntax { offset, message } => {
            // Underline the character at fault.
            let end = text[offset.min(text.len())..]
                .chars()
                .next()
                .map_or(offset, |c| offset + c.len_utf8());
            vec![Diagnostic::error(
                DiagnosticKind::Query,
                file,
                place(offset, end),
                format!("syntax error: {message}"),
            )]
        }
        QueryCheck::Compile { span, message } => vec![Diagnostic::error(
            DiagnosticKind::Query,
            file,
            place(span.start, span.end),
            message,
        )],
        QueryCheck::UnknownFields(fields) => fields
            .iter()
            .map(|f| {
                let (start, end) = match text.find(f.as_str()) {
                    Some(at) => (at, at + f.len()),
                    None => (0, 0),
                };
                Diagnostic::warning(DiagnosticKind::Query, file, place(start, end), unknown(f))
            })
            .collect(),
    }
}

/// True the first time a field is seen in this process: unknown fields are reported once per
/// field, not once per rule.
fn first_report(field: &str) -> bool {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    seen.lock()
        .map(|mut s| s.insert(field.to_owned()))
        .unwrap_or(true)
}

/// The KQL checker of `dragnet validate`: syntax errors, queries Elasticsearch would reject
/// (compile errors), and each field the schema does not know (a warning, once per field).
pub fn kql(_rule: &Rule, query: &SourceText) -> Vec<Diagnostic> {
    let check = match dragnet_kql::parse(query.as_str()) {
        Err(e) => QueryCheck::Syntax {
            offset: e.offset,
            message: e.message,
        },
        Ok(parsed) => {
            match dragnet_kql::compile(&parsed, Schema::builtin(), &mut FieldTable::new()) {
                Err(e) => QueryCheck::Compile {
                    span: e.span.start..e.span.end,
                    message: e.message,
                },
                Ok(c) => QueryCheck::UnknownFields(
                    c.unknown_fields()
                        .iter()
                        .filter(|f| first_report(f))
                        .cloned()
                        .collect(),
                ),
            }
        }
    };
    query_diagnostics(query, check, |f| {
        format!(
            "field `{f}` is not in the ECS/AWS schema: Elasticsearch's dynamic mapping would type it (reported once per field)"
        )
    })
}

/// The EQL checker of `dragnet validate`: syntax errors, queries Elasticsearch would reject
/// (compile errors), and each field the schema does not know (a warning, once per field).
pub fn eql(_rule: &Rule, query: &SourceText) -> Vec<Diagnostic> {
    let check = match dragnet_eql::parse(query.as_str()) {
        Err(e) => QueryCheck::Syntax {
            offset: e.offset,
            message: e.message,
        },
        Ok(parsed) => {
            match dragnet_eql::compile(&parsed, Schema::builtin(), &mut FieldTable::new()) {
                Err(e) => QueryCheck::Compile {
                    span: e.span.start..e.span.end,
                    message: e.message,
                },
                Ok(c) => QueryCheck::UnknownFields(c.unknown_fields().to_vec()),
            }
        }
    };
    query_diagnostics(query, check, |f| {
        format!(
            "field `{f}` is not in the ECS/AWS schema: Elasticsearch's dynamic mapping would type it (pass a _mapping if your index defines it; mark it `?{f}` if it may be absent)"
        )
    })
}
