//! How a query checker's findings (syntax error, compile error, unknown fields) become
//! diagnostics positioned in the rule file. Shared by the KQL, EQL and ES|QL checkers `dragnet
//! validate` runs; a module of its own so that `validate` (which registers the checkers) and
//! the checkers do not import each other.

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
    /// Valid as far as dragnet can tell, but dragnet cannot run it: where and why.
    CannotRun {
        span: std::ops::Range<usize>,
        message: String,
    },
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
        QueryCheck::CannotRun { span, message } => vec![Diagnostic::warning(
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
