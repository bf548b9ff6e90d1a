//! Why a query that parses cannot run in dragnet: commands and functions that need parts of
//! Elasticsearch dragnet does not have (enrich policies, lookup indices, inverted indices for
//! full-text scoring, inference endpoints, time-series data streams).
//!
//! `KQL("…")` is not among them: the executor runs it on dragnet's KQL engine.

use crate::ast::*;

/// The first reason a query cannot run, and the span of the command or expression at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    pub reason: String,
    pub span: Span,
}

/// Metadata fields dragnet can give every row (`_id` derived from `event.id`).
const SUPPORTED_METADATA: &[&str] = &["_id", "_index", "_version"];

/// Full-text search functions: they query Elasticsearch's inverted index (relevance, analysis),
/// which raw events do not have.
const FULL_TEXT_FUNCTIONS: &[&str] = &[
    "match",
    "match_phrase",
    "multi_match",
    "qstr",
    "kql_score",
    "knn",
    "score",
    "term",
    "decay",
    "text_embedding",
];

/// Why `query` cannot run outside Elasticsearch, if it cannot; `None` when every command and
/// function it uses is one dragnet runs.
pub fn unsupported(query: &Query) -> Option<Unsupported> {
    if let Some(setting) = query.settings.first() {
        return Some(Unsupported {
            reason: format!(
                "SET {} changes Elasticsearch query settings, which dragnet does not have",
                setting.name
            ),
            span: setting.value.span,
        });
    }
    for command in query.commands() {
        if let Some(found) = command_reason(command) {
            return Some(found);
        }
    }
    None
}

fn command_reason(command: &Command) -> Option<Unsupported> {
    let at = |reason: String| {
        Some(Unsupported {
            reason,
            span: command.span,
        })
    };
    match &command.kind {
        CommandKind::From {
            kind: SourceKind::TimeSeries,
            ..
        } => at("TS reads time-series data streams (metrics), not events".into()),
        CommandKind::From { metadata, .. } => metadata
            .iter()
            .find(|m| !SUPPORTED_METADATA.contains(&m.as_str()))
            .and_then(|m| {
                at(format!(
                    "METADATA {m} is not available outside Elasticsearch (dragnet gives _id, _index and _version)"
                ))
            }),
        CommandKind::ShowInfo => {
            at("SHOW INFO describes an Elasticsearch cluster; dragnet has none".into())
        }
        CommandKind::Enrich { policy, .. } => at(format!(
            "ENRICH {policy} needs an Elasticsearch enrich policy and its index"
        )),
        CommandKind::LookupJoin { index, .. } => at(format!(
            "LOOKUP JOIN {index} needs an Elasticsearch lookup index"
        )),
        CommandKind::Stats { inline: true, .. } => {
            at("INLINE STATS is not implemented in dragnet".into())
        }
        CommandKind::Sample(_) => at(
            "SAMPLE draws a random sample: a detection over it would not be reproducible".into(),
        ),
        CommandKind::Other { name, .. } => at(format!(
            "{name} is not implemented in dragnet (it needs Elasticsearch features such as inference endpoints, search relevance or change-point models)"
        )),
        CommandKind::Row(fields) | CommandKind::Eval(fields) => fields_reason(fields),
        CommandKind::Where(e) => expr_reason(e),
        CommandKind::Stats {
            aggregates, groups, ..
        } => aggregates
            .iter()
            .find_map(|a| expr_reason(&a.field.expr).or_else(|| a.filter.as_ref().and_then(expr_reason)))
            .or_else(|| fields_reason(groups)),
        CommandKind::Sort(keys) => keys.iter().find_map(|k| expr_reason(&k.expr)),
        CommandKind::Dissect { input, .. } | CommandKind::Grok { input, .. } => expr_reason(input),
        CommandKind::Keep(_)
        | CommandKind::Drop(_)
        | CommandKind::Rename(_)
        | CommandKind::Limit(_)
        | CommandKind::MvExpand(_) => None,
    }
}

fn fields_reason(fields: &[Field]) -> Option<Unsupported> {
    fields.iter().find_map(|f| expr_reason(&f.expr))
}

fn expr_reason(expr: &Expr) -> Option<Unsupported> {
    let at = |reason: String| {
        Some(Unsupported {
            reason,
            span: expr.span,
        })
    };
    match &expr.kind {
        ExprKind::Match { field, .. } => at(format!(
            "the full-text match operator `{field} : …` needs Elasticsearch's inverted index"
        )),
        ExprKind::Param(p) => at(format!(
            "the parameter {p} needs a value supplied with the request; rules have none"
        )),
        ExprKind::Call {
            name,
            args,
            options,
            ..
        } => {
            if FULL_TEXT_FUNCTIONS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name))
            {
                return at(format!(
                    "{}() is a full-text search function: it needs Elasticsearch's inverted index",
                    name.to_ascii_uppercase()
                ));
            }
            args.iter()
                .chain(options.iter().flatten().map(|(_, v)| v))
                .find_map(expr_reason)
        }
        ExprKind::Literal(_) | ExprKind::Field(_) => None,
        ExprKind::Neg(e) | ExprKind::Not(e) => expr_reason(e),
        ExprKind::Cast { expr, .. }
        | ExprKind::Like { expr, .. }
        | ExprKind::IsNull { expr, .. } => expr_reason(expr),
        ExprKind::And(items) | ExprKind::Or(items) => items.iter().find_map(expr_reason),
        ExprKind::Binary { left, right, .. } => expr_reason(left).or_else(|| expr_reason(right)),
        ExprKind::In { expr, list, .. } => {
            expr_reason(expr).or_else(|| list.iter().find_map(expr_reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn reason(src: &str) -> Option<String> {
        unsupported(&parse(src).unwrap()).map(|u| u.reason)
    }

    #[test]
    fn runnable_queries_have_no_reason() {
        assert_eq!(
            reason(
                "FROM logs-aws.cloudtrail-* METADATA _id, _index, _version | WHERE KQL(\"\"\"event.action:x\"\"\") AND a LIKE \"b*\" | STATS c = COUNT(*) WHERE d > 1 BY e | EVAL f = DATE_TRUNC(1 hour, g) | KEEP c | SORT c DESC | LIMIT 3 | DISSECT h \"%{a}\" | GROK i \"%{WORD:w}\" | MV_EXPAND j | RENAME a AS b | DROP c"
            ),
            None
        );
    }

    #[test]
    fn each_unsupported_feature_says_why() {
        let cases = [
            (
                "FROM a | ENRICH p ON x",
                "ENRICH p needs an Elasticsearch enrich policy",
            ),
            (
                "FROM a | LOOKUP JOIN l ON k",
                "LOOKUP JOIN l needs an Elasticsearch lookup index",
            ),
            (
                "FROM a | INLINE STATS max(x)",
                "INLINE STATS is not implemented",
            ),
            (
                "FROM a | FORK (WHERE a) (WHERE b)",
                "FORK is not implemented",
            ),
            (
                "FROM a | CHANGE_POINT v ON t",
                "CHANGE_POINT is not implemented",
            ),
            (
                "FROM a | COMPLETION c = p WITH {}",
                "COMPLETION is not implemented",
            ),
            ("FROM a | SAMPLE 0.1", "SAMPLE draws a random sample"),
            ("TS m | STATS max(x)", "TS reads time-series data streams"),
            ("FROM a METADATA _score", "METADATA _score is not available"),
            (
                "FROM a | WHERE title : \"x\"",
                "the full-text match operator `title : …`",
            ),
            (
                "FROM a | WHERE NOT qstr(\"x\")",
                "QSTR() is a full-text search function",
            ),
            (
                "FROM a | EVAL s = Match(t, \"x\")",
                "MATCH() is a full-text search function",
            ),
            ("FROM a | WHERE x == ?v", "the parameter ?v needs a value"),
            (
                "SET x = 1; FROM a",
                "SET x changes Elasticsearch query settings",
            ),
            ("SHOW INFO", "SHOW INFO describes an Elasticsearch cluster"),
        ];
        for (src, expected) in cases {
            let got = reason(src);
            assert!(
                got.as_deref().is_some_and(|r| r.starts_with(expected)),
                "{src}: {got:?}"
            );
        }
        // The span points at the expression at fault.
        let src = "FROM a | WHERE x > 1 AND qstr(\"y\")";
        let u = unsupported(&parse(src).unwrap()).unwrap();
        assert_eq!(&src[u.span.start..u.span.end], "qstr(\"y\")");
    }
}
