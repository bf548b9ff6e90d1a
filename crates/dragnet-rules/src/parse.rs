//! Reading one rule: TOML file or Kibana JSON object -> [`Rule`] + diagnostics.

use std::sync::Arc;

use crate::datemath::{DateMath, Interval};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::model::*;
use crate::node::{self, Ctx, Node, Reader, Val};
use crate::source::SourceFile;
use crate::text::SourceText;

/// Parses a detection-rules TOML file. Returns the rule when it has no errors (warnings may
/// still be present), and every problem found.
pub fn parse_toml(file: &Arc<SourceFile>) -> (Option<Rule>, Vec<Diagnostic>) {
    let mut ctx = Ctx::new(file, false);
    let doc = match toml::de::DeTable::parse(file.text()) {
        Ok(doc) => doc,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            ctx.error(
                DiagnosticKind::Syntax,
                span,
                format!("invalid TOML: {}", err.message().trim_end()),
            );
            return (None, ctx.diags);
        }
    };
    let root = node::table_from_toml(doc.get_ref());
    let whole = 0..file.text().len();
    let mut top = Reader::new("", &root, 0..0);
    let metadata = match top.require(&mut ctx, "metadata") {
        Some(n) => ctx
            .table("metadata", n)
            .map(|r| read_metadata(&mut ctx, r))
            .unwrap_or_default(),
        None => Metadata::default(),
    };
    let transform = top
        .get("transform")
        .and_then(|n| ctx.table("transform", n))
        .map(|r| read_transform(&mut ctx, r));
    let rule_node = top.require(&mut ctx, "rule");
    top.finish(&mut ctx);
    let Some(rule_node) = rule_node else {
        return (None, sorted(ctx.diags));
    };
    let Some(reader) = ctx.table("rule", rule_node) else {
        return (None, sorted(ctx.diags));
    };
    let origin = RuleOrigin {
        file: Arc::clone(file),
        format: RuleFormat::Toml,
        span: whole,
    };
    let rule = read_rule(&mut ctx, reader, metadata, transform, origin);
    let rule = if ctx.has_errors() { None } else { rule };
    (rule, sorted(ctx.diags))
}

/// Parses one Kibana rule object (a line of a rule export). `line` is its byte span.
pub(crate) fn parse_kibana_object(
    file: &Arc<SourceFile>,
    value: &serde_json::Value,
    line: std::ops::Range<usize>,
) -> (Option<Rule>, Vec<Diagnostic>) {
    let mut ctx = Ctx::new(file, true);
    let root = node::from_json(value, &line);
    let Some(reader) = ctx.table("", &root) else {
        return (None, ctx.diags);
    };
    let origin = RuleOrigin {
        file: Arc::clone(file),
        format: RuleFormat::KibanaNdjson,
        span: line,
    };
    let rule = read_rule(&mut ctx, reader, Metadata::default(), None, origin);
    let rule = if ctx.has_errors() { None } else { rule };
    (rule, ctx.diags)
}

fn sorted(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    diags
}

fn parse_date(ctx: &mut Ctx<'_>, r: &mut Reader<'_, '_>, key: &str) -> Option<jiff::civil::Date> {
    let node = r.get(key)?;
    let text = ctx.string(&r.key_path(key), node)?;
    let parsed = text
        .split('/')
        .map(|p| p.parse::<i16>().ok())
        .collect::<Option<Vec<_>>>()
        .filter(|p| p.len() == 3 && text.len() == 10)
        .and_then(|p| jiff::civil::Date::new(p[0], p[1] as i8, p[2] as i8).ok());
    if parsed.is_none() {
        ctx.error(
            DiagnosticKind::InvalidValue,
            node.span.clone(),
            format!(
                "`{}` must be a date written YYYY/MM/DD, found `{text}`",
                r.key_path(key)
            ),
        );
    }
    parsed
}

fn read_metadata(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Metadata {
    if r.get("creation_date").is_none() {
        r.require(ctx, "creation_date");
    }
    if r.get("updated_date").is_none() {
        r.require(ctx, "updated_date");
    }
    let mut m = Metadata {
        creation_date: parse_date(ctx, &mut r, "creation_date"),
        updated_date: parse_date(ctx, &mut r, "updated_date"),
        deprecation_date: parse_date(ctx, &mut r, "deprecation_date"),
        deprecated_reason: r.opt_string(ctx, "deprecated_reason"),
        min_stack_comments: r.opt_string(ctx, "min_stack_comments"),
        comments: r.opt_string(ctx, "comments"),
        bypass_bbr_timing: r.opt_bool(ctx, "bypass_bbr_timing"),
        promotion: r.opt_bool(ctx, "promotion"),
        os_type_list: r.string_list(ctx, "os_type_list").unwrap_or_default(),
        query_schema_validation: r.opt_bool(ctx, "query_schema_validation"),
        related_endpoint_rules: r
            .string_list(ctx, "related_endpoint_rules")
            .unwrap_or_default(),
        extended: r.opt_json("extended"),
        ..Metadata::default()
    };
    if let Some(node) = r.get("integration") {
        m.integration = ctx
            .string_or_list("metadata.integration", node)
            .unwrap_or_default();
    }
    if let Some(node) = r.get("maturity")
        && let Some(text) = ctx.string("metadata.maturity", node)
    {
        m.maturity = Maturity::ALL.into_iter().find(|x| x.as_str() == text);
        if m.maturity.is_none() {
            ctx.error(
                DiagnosticKind::InvalidValue,
                node.span.clone(),
                format!(
                    "unknown maturity `{text}`; expected one of {}",
                    list(Maturity::ALL.map(Maturity::as_str))
                ),
            );
        }
    }
    if let Some(node) = r.get("min_stack_version")
        && let Some(text) = ctx.string("metadata.min_stack_version", node)
    {
        let ok = text.split('.').count() == 3
            && text
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if ok {
            m.min_stack_version = Some(text);
        } else {
            ctx.error(
                DiagnosticKind::InvalidValue,
                node.span.clone(),
                format!(
                    "`metadata.min_stack_version` must be a version like 8.3.0, found `{text}`"
                ),
            );
        }
    }
    r.finish(ctx);
    m
}

fn list<const N: usize>(items: [&str; N]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keys every rule type has (read in `read_rule`).
const TYPE_SPECIFIC_KEYS: &[(&str, &[RuleType])] = &[
    ("saved_id", &[RuleType::Query, RuleType::SavedQuery]),
    ("event_category_override", &[RuleType::Eql]),
    ("tiebreaker_field", &[RuleType::Eql]),
    ("timestamp_field", &[RuleType::Eql]),
    ("threshold", &[RuleType::Threshold]),
    ("new_terms", &[RuleType::NewTerms]),
    ("new_terms_fields", &[RuleType::NewTerms]),
    ("history_window_start", &[RuleType::NewTerms]),
    ("threat_index", &[RuleType::ThreatMatch]),
    ("threat_query", &[RuleType::ThreatMatch]),
    ("threat_language", &[RuleType::ThreatMatch]),
    ("threat_mapping", &[RuleType::ThreatMatch]),
    ("threat_indicator_path", &[RuleType::ThreatMatch]),
    ("threat_filters", &[RuleType::ThreatMatch]),
    ("concurrent_searches", &[RuleType::ThreatMatch]),
    ("items_per_search", &[RuleType::ThreatMatch]),
    ("anomaly_threshold", &[RuleType::MachineLearning]),
    ("machine_learning_job_id", &[RuleType::MachineLearning]),
];

/// Keys of a Kibana export that describe the saved object, not the rule definition.
const KIBANA_RESPONSE_KEYS: &[&str] = &["outcome", "alias_target_id", "alias_purpose", "immutable"];

fn read_rule(
    ctx: &mut Ctx<'_>,
    mut r: Reader<'_, '_>,
    metadata: Metadata,
    transform: Option<Transform>,
    origin: RuleOrigin,
) -> Option<Rule> {
    let json = ctx.json;
    let rule_id = r.req_string(ctx, "rule_id");
    if let (Some(id), Some(node)) = (&rule_id, r.get("rule_id"))
        && !looks_like_uuid(id)
    {
        ctx.warning(
            DiagnosticKind::Suspicious,
            node.span.clone(),
            format!("`rule_id` `{id}` is not a UUID (detection-rules requires one; Kibana accepts any string)"),
        );
    }
    let name = r.req_string(ctx, "name");
    let description = r.req_string(ctx, "description");
    let author = if json {
        r.string_list(ctx, "author").unwrap_or_default()
    } else {
        r.require(ctx, "author")
            .and_then(|n| ctx.string_list("rule.author", n))
            .unwrap_or_default()
    };
    let risk_score = r.req_int(ctx, "risk_score", 0..=100);
    let severity = r.require(ctx, "severity").and_then(|node| {
        let text = ctx.string("rule.severity", node)?;
        parse_severity(ctx, node, &text, "rule.severity")
    });
    let type_node = r.require(ctx, "type");
    let rule_type = type_node.and_then(|node| {
        let text = ctx.string("rule.type", node)?;
        let t = RuleType::parse(&text);
        if t.is_none() {
            ctx.error(
                DiagnosticKind::InvalidValue,
                node.span.clone(),
                format!(
                    "unknown rule type `{text}`; expected one of {}",
                    list(RuleType::ALL.map(RuleType::as_str))
                ),
            );
        }
        t
    });

    // Language and query.
    let language = r.get("language").and_then(|node| {
        let text = ctx.string("rule.language", node)?;
        let lang = Language::parse(&text);
        if lang.is_none() {
            ctx.error(
                DiagnosticKind::InvalidValue,
                node.span.clone(),
                format!(
                    "unknown language `{text}`; expected one of {}",
                    list(Language::ALL.map(Language::as_str))
                ),
            );
        }
        lang
    });
    let query = r
        .get("query")
        .and_then(|node| source_text(ctx, "rule.query", node));
    if let Some(t) = rule_type {
        check_language(ctx, &mut r, t, language, query.is_some());
    }

    let from = r.get("from").and_then(|n| date_math(ctx, "rule.from", n));
    let to = r.get("to").and_then(|n| date_math(ctx, "rule.to", n));
    let interval = r.get("interval").and_then(|node| {
        let text = ctx.string("rule.interval", node)?;
        match Interval::parse(&text) {
            Ok(i) => Some(i),
            Err(e) => {
                ctx.error(
                    DiagnosticKind::InvalidValue,
                    node.span.clone(),
                    format!("`rule.interval`: {e}"),
                );
                None
            }
        }
    });

    let threat = r
        .get("threat")
        .and_then(|n| ctx.tables("rule.threat", n, read_threat))
        .unwrap_or_default();
    let filters = r
        .get("filters")
        .and_then(|n| ctx.tables("rule.filters", n, read_filter))
        .unwrap_or_default();
    let exceptions_list = r
        .get("exceptions_list")
        .and_then(|n| ctx.tables("rule.exceptions_list", n, read_exception_ref))
        .unwrap_or_default();
    let investigation_fields = r.get("investigation_fields").and_then(|n| {
        let mut t = ctx.table("rule.investigation_fields", n)?;
        let fields = t
            .require(ctx, "field_names")
            .and_then(|f| ctx.string_list("rule.investigation_fields.field_names", f));
        t.finish(ctx);
        fields
    });
    let alert_suppression = r
        .get("alert_suppression")
        .and_then(|n| ctx.table("rule.alert_suppression", n))
        .and_then(|t| read_alert_suppression(ctx, t, rule_type == Some(RuleType::Threshold)));
    let risk_score_mapping = r
        .get("risk_score_mapping")
        .and_then(|n| ctx.tables("rule.risk_score_mapping", n, read_risk_score_mapping))
        .unwrap_or_default();
    let severity_mapping = r
        .get("severity_mapping")
        .and_then(|n| ctx.tables("rule.severity_mapping", n, read_severity_mapping))
        .unwrap_or_default();
    let related_integrations = r
        .get("related_integrations")
        .and_then(|n| ctx.tables("rule.related_integrations", n, read_related_integration))
        .unwrap_or_default();
    let required_fields = r
        .get("required_fields")
        .and_then(|n| ctx.tables("rule.required_fields", n, read_required_field))
        .unwrap_or_default();
    let building_block_type = r.get("building_block_type").and_then(|node| {
        let text = ctx.string("rule.building_block_type", node)?;
        if text != "default" {
            ctx.error(
                DiagnosticKind::InvalidValue,
                node.span.clone(),
                format!("`rule.building_block_type` must be `default`, found `{text}`"),
            );
            return None;
        }
        Some(text)
    });
    let actions = r
        .get("actions")
        .map(|n| json_array(ctx, "rule.actions", n))
        .unwrap_or_default();
    let response_actions = r
        .get("response_actions")
        .map(|n| json_array(ctx, "rule.response_actions", n))
        .unwrap_or_default();
    let meta = r.get("meta").and_then(|n| {
        if matches!(n.val, Val::Table(_)) {
            Some(node::to_json(n))
        } else {
            ctx.error(
                DiagnosticKind::WrongType,
                n.span.clone(),
                "`rule.meta` must be a table",
            );
            None
        }
    });

    let params = rule_type.and_then(|t| read_type_params(ctx, &mut r, t));

    // Keys of other rule types: known to the format, but meaningless here.
    if let Some(t) = rule_type {
        for (key, types) in TYPE_SPECIFIC_KEYS {
            if !types.contains(&t)
                && let Some(node) = r.get(key)
            {
                let span = r
                    .table
                    .entries
                    .iter()
                    .find(|(k, _)| k.name == *key)
                    .map_or(node.span.clone(), |(k, _)| k.span.clone());
                ctx.warning(
                    DiagnosticKind::UnknownKey,
                    span,
                    format!(
                        "key `{key}` does not apply to `{}` rules and is ignored",
                        t.as_str()
                    ),
                );
            }
        }
        if t == RuleType::Esql
            && let Some(node) = r.get("index")
        {
            ctx.warning(
                DiagnosticKind::Suspicious,
                node.span.clone(),
                "`index` is ignored by ES|QL rules (the query's FROM names the indices)",
            );
        }
    }

    let kibana = json.then(|| KibanaAttributes {
        id: r.opt_string(ctx, "id"),
        created_at: r.opt_string(ctx, "created_at"),
        updated_at: r.opt_string(ctx, "updated_at"),
        created_by: r.opt_string(ctx, "created_by"),
        updated_by: r.opt_string(ctx, "updated_by"),
        immutable: r.opt_bool(ctx, "immutable"),
        rule_source: r.opt_json("rule_source"),
        execution_summary: r.opt_json("execution_summary"),
    });
    if json {
        r.ignore(KIBANA_RESPONSE_KEYS);
    }

    let rule = Rule {
        index: r.string_list(ctx, "index"),
        data_view_id: r.opt_string(ctx, "data_view_id"),
        license: r.opt_string(ctx, "license"),
        timestamp_override: r.opt_string(ctx, "timestamp_override"),
        timestamp_override_fallback_disabled: r
            .opt_bool(ctx, "timestamp_override_fallback_disabled"),
        max_signals: r
            .opt_int(ctx, "max_signals", 1..=i64::from(u32::MAX))
            .map(|v| v as u32),
        tags: r.string_list(ctx, "tags").unwrap_or_default(),
        references: r.string_list(ctx, "references").unwrap_or_default(),
        false_positives: r.string_list(ctx, "false_positives").unwrap_or_default(),
        note: r.opt_string(ctx, "note"),
        setup: r.opt_string(ctx, "setup"),
        enabled: r.opt_bool(ctx, "enabled"),
        rule_name_override: r.opt_string(ctx, "rule_name_override"),
        timeline_id: r.opt_string(ctx, "timeline_id"),
        timeline_title: r.opt_string(ctx, "timeline_title"),
        version: r
            .opt_int(ctx, "version", 1..=i64::from(u32::MAX))
            .map(|v| v as u32),
        revision: r
            .opt_int(ctx, "revision", 0..=i64::from(u32::MAX))
            .map(|v| v as u32),
        throttle: r.opt_string(ctx, "throttle"),
        output_index: r.opt_string(ctx, "output_index"),
        namespace: r.opt_string(ctx, "namespace"),
        origin,
        metadata,
        rule_id: rule_id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        description: description.unwrap_or_default(),
        author,
        risk_score: risk_score.unwrap_or_default() as u8,
        severity: severity.unwrap_or(Severity::Low),
        params: params.unwrap_or(TypeParams::Esql),
        language,
        query,
        filters,
        from,
        to,
        interval,
        threat,
        building_block_type,
        exceptions_list,
        investigation_fields,
        alert_suppression,
        risk_score_mapping,
        severity_mapping,
        related_integrations,
        required_fields,
        actions,
        response_actions,
        meta,
        transform,
        kibana,
    };
    r.finish(ctx);
    Some(rule)
}

fn looks_like_uuid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn parse_severity(ctx: &mut Ctx<'_>, node: &Node<'_>, text: &str, path: &str) -> Option<Severity> {
    let s = Severity::ALL.into_iter().find(|s| s.as_str() == text);
    if s.is_none() {
        ctx.error(
            DiagnosticKind::InvalidValue,
            node.span.clone(),
            format!(
                "`{path}` must be one of {}, found `{text}`",
                list(Severity::ALL.map(Severity::as_str))
            ),
        );
    }
    s
}

fn source_text(ctx: &mut Ctx<'_>, path: &str, node: &Node<'_>) -> Option<SourceText> {
    let value = ctx.string(path, node)?;
    Some(if ctx.json {
        SourceText::json(value, ctx.file, node.span.clone())
    } else {
        SourceText::toml(value, ctx.file, node.span.clone())
    })
}

fn date_math(ctx: &mut Ctx<'_>, path: &str, node: &Node<'_>) -> Option<DateMath> {
    let text = ctx.string(path, node)?;
    match DateMath::parse(&text) {
        Ok(m) => Some(m),
        Err(e) => {
            ctx.error(
                DiagnosticKind::InvalidValue,
                node.span.clone(),
                format!("`{path}`: {e}"),
            );
            None
        }
    }
}

fn json_array(ctx: &mut Ctx<'_>, path: &str, node: &Node<'_>) -> Vec<serde_json::Value> {
    match &node.val {
        Val::Array(items) => items.iter().map(node::to_json).collect(),
        _ => {
            ctx.error(
                DiagnosticKind::WrongType,
                node.span.clone(),
                format!("`{path}` must be an array, found {}", node.val.type_name()),
            );
            Vec::new()
        }
    }
}

/// Query and language presence, and the languages each type allows.
fn check_language(
    ctx: &mut Ctx<'_>,
    r: &mut Reader<'_, '_>,
    t: RuleType,
    language: Option<Language>,
    has_query: bool,
) {
    let allowed: &[Language] = match t {
        RuleType::MachineLearning => &[],
        RuleType::Eql => &[Language::Eql],
        RuleType::Esql => &[Language::Esql],
        RuleType::Query
        | RuleType::SavedQuery
        | RuleType::Threshold
        | RuleType::NewTerms
        | RuleType::ThreatMatch => &[Language::Kuery, Language::Lucene],
    };
    if allowed.is_empty() {
        return;
    }
    // saved_query rules may take their query from the saved object.
    if t != RuleType::SavedQuery {
        if !has_query && r.get("query").is_none() {
            r.require(ctx, "query");
        }
        if r.get("language").is_none() {
            r.require(ctx, "language");
        }
    }
    if let Some(lang) = language
        && !allowed.contains(&lang)
        && let Some(node) = r.get("language")
    {
        ctx.error(
            DiagnosticKind::InvalidValue,
            node.span.clone(),
            format!(
                "`{}` rules need language {}, not `{}`",
                t.as_str(),
                allowed
                    .iter()
                    .map(|l| format!("`{}`", l.as_str()))
                    .collect::<Vec<_>>()
                    .join(" or "),
                lang.as_str()
            ),
        );
    }
}

fn read_type_params(ctx: &mut Ctx<'_>, r: &mut Reader<'_, '_>, t: RuleType) -> Option<TypeParams> {
    Some(match t {
        RuleType::Query => TypeParams::Query {
            saved_id: r.opt_string(ctx, "saved_id"),
        },
        RuleType::SavedQuery => TypeParams::SavedQuery {
            saved_id: r.req_string(ctx, "saved_id")?,
        },
        RuleType::Eql => TypeParams::Eql {
            event_category_override: r.opt_string(ctx, "event_category_override"),
            tiebreaker_field: r.opt_string(ctx, "tiebreaker_field"),
            timestamp_field: r.opt_string(ctx, "timestamp_field"),
        },
        RuleType::Esql => TypeParams::Esql,
        RuleType::Threshold => {
            let node = r.require(ctx, "threshold")?;
            let mut t = ctx.table("rule.threshold", node)?;
            let field = t.require(ctx, "field").and_then(|n| {
                // Kibana accepts one string or a list.
                ctx.string_or_list("rule.threshold.field", n)
            });
            let value = t.req_int(ctx, "value", 1..=i64::MAX);
            let cardinality = t
                .get("cardinality")
                .and_then(|n| {
                    ctx.tables("rule.threshold.cardinality", n, |ctx, mut c| {
                        let field = c.req_string(ctx, "field");
                        let value = c.req_int(ctx, "value", 0..=i64::MAX);
                        c.finish(ctx);
                        Some(ThresholdCardinality {
                            field: field?,
                            value: value? as u64,
                        })
                    })
                })
                .unwrap_or_default();
            t.finish(ctx);
            TypeParams::Threshold(Threshold {
                field: field?,
                value: value? as u64,
                cardinality,
            })
        }
        RuleType::NewTerms => read_new_terms(ctx, r)?,
        RuleType::ThreatMatch => {
            let threat_index = r
                .require(ctx, "threat_index")
                .and_then(|n| ctx.string_list("rule.threat_index", n));
            let threat_mapping = r.require(ctx, "threat_mapping").and_then(|n| {
                ctx.tables("rule.threat_mapping", n, |ctx, mut g| {
                    let entries = g.require(ctx, "entries").and_then(|n| {
                        ctx.tables("rule.threat_mapping.entries", n, |ctx, mut e| {
                            let entry = ThreatMappingEntry {
                                field: e.req_string(ctx, "field")?,
                                entry_type: e.req_string(ctx, "type")?,
                                value: e.req_string(ctx, "value")?,
                                negate: e.opt_bool(ctx, "negate"),
                            };
                            e.finish(ctx);
                            Some(entry)
                        })
                    });
                    g.finish(ctx);
                    Some(ThreatMappingGroup { entries: entries? })
                })
            });
            let threat_language = r.get("threat_language").and_then(|node| {
                let text = ctx.string("rule.threat_language", node)?;
                let lang = Language::parse(&text);
                if lang.is_none() {
                    ctx.error(
                        DiagnosticKind::InvalidValue,
                        node.span.clone(),
                        format!("unknown threat_language `{text}`"),
                    );
                }
                lang
            });
            let threat_query = r
                .get("threat_query")
                .and_then(|n| source_text(ctx, "rule.threat_query", n));
            let threat_filters = r
                .get("threat_filters")
                .and_then(|n| ctx.tables("rule.threat_filters", n, read_filter))
                .unwrap_or_default();
            TypeParams::ThreatMatch(Box::new(ThreatMatch {
                threat_index: threat_index?,
                threat_query,
                threat_language,
                threat_mapping: threat_mapping?,
                threat_indicator_path: r.opt_string(ctx, "threat_indicator_path"),
                threat_filters,
                concurrent_searches: r
                    .opt_int(ctx, "concurrent_searches", 1..=i64::from(u32::MAX))
                    .map(|v| v as u32),
                items_per_search: r
                    .opt_int(ctx, "items_per_search", 1..=i64::from(u32::MAX))
                    .map(|v| v as u32),
            }))
        }
        RuleType::MachineLearning => {
            let anomaly_threshold = r.req_int(ctx, "anomaly_threshold", 0..=100);
            let job = r.require(ctx, "machine_learning_job_id");
            let job_id_is_list = job.is_some_and(|n| matches!(n.val, Val::Array(_)));
            let jobs = job.and_then(|n| ctx.string_or_list("rule.machine_learning_job_id", n));
            TypeParams::MachineLearning(MachineLearning {
                anomaly_threshold: anomaly_threshold? as u32,
                machine_learning_job_id: jobs?,
                job_id_is_list,
            })
        }
    })
}

fn read_new_terms(ctx: &mut Ctx<'_>, r: &mut Reader<'_, '_>) -> Option<TypeParams> {
    if ctx.json {
        // Kibana: `new_terms_fields = [...]`, `history_window_start = "now-7d"`.
        let fields = r
            .require(ctx, "new_terms_fields")
            .and_then(|n| ctx.string_list("new_terms_fields", n));
        let start = r
            .require(ctx, "history_window_start")
            .and_then(|n| date_math(ctx, "history_window_start", n));
        return Some(TypeParams::NewTerms(NewTerms {
            fields: fields?,
            history_window_start: start?,
        }));
    }
    let node = r.require(ctx, "new_terms")?;
    let mut t = ctx.table("rule.new_terms", node)?;
    if let Some(n) = t.require(ctx, "field")
        && let Some(field) = ctx.string("rule.new_terms.field", n)
        && field != "new_terms_fields"
    {
        ctx.error(
            DiagnosticKind::InvalidValue,
            n.span.clone(),
            format!("`rule.new_terms.field` must be `new_terms_fields`, found `{field}`"),
        );
    }
    let fields = t
        .require(ctx, "value")
        .and_then(|n| ctx.string_list("rule.new_terms.value", n));
    let windows = t.require(ctx, "history_window_start").and_then(|n| {
        ctx.tables("rule.new_terms.history_window_start", n, |ctx, mut w| {
            if let Some(n) = w.require(ctx, "field")
                && let Some(field) = ctx.string("rule.new_terms.history_window_start.field", n)
                && field != "history_window_start"
            {
                ctx.error(
                    DiagnosticKind::InvalidValue,
                    n.span.clone(),
                    format!("`field` must be `history_window_start`, found `{field}`"),
                );
            }
            let value = w
                .require(ctx, "value")
                .and_then(|n| date_math(ctx, "rule.new_terms.history_window_start.value", n));
            w.finish(ctx);
            value
        })
    });
    let span = t.span.clone();
    t.finish(ctx);
    let mut windows = windows?;
    if windows.is_empty() {
        ctx.error(
            DiagnosticKind::MissingKey,
            span,
            "`rule.new_terms.history_window_start` needs one entry",
        );
        return None;
    }
    Some(TypeParams::NewTerms(NewTerms {
        fields: fields?,
        history_window_start: windows.swap_remove(0),
    }))
}

fn read_threat(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Option<Threat> {
    let framework = r.req_string(ctx, "framework");
    let tactic = r
        .require(ctx, "tactic")
        .and_then(|n| ctx.table("rule.threat.tactic", n))
        .and_then(|t| read_threat_entry(ctx, t));
    let technique = r
        .get("technique")
        .and_then(|n| {
            ctx.tables("rule.threat.technique", n, |ctx, mut t| {
                let id = t.req_string(ctx, "id");
                let name = t.req_string(ctx, "name");
                let reference = t.req_string(ctx, "reference");
                let subtechnique = t.get("subtechnique").and_then(|n| {
                    ctx.tables("rule.threat.technique.subtechnique", n, read_threat_entry)
                });
                t.finish(ctx);
                Some(Technique {
                    id: id?,
                    name: name?,
                    reference: reference?,
                    subtechnique,
                })
            })
        })
        .unwrap_or_default();
    r.finish(ctx);
    Some(Threat {
        framework: framework?,
        tactic: tactic?,
        technique,
    })
}

fn read_threat_entry(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Option<ThreatEntry> {
    let id = r.req_string(ctx, "id");
    let name = r.req_string(ctx, "name");
    let reference = r.req_string(ctx, "reference");
    r.finish(ctx);
    Some(ThreatEntry {
        id: id?,
        name: name?,
        reference: reference?,
    })
}

/// Top-level Elasticsearch DSL clauses legacy Kibana filters carry beside `meta`.
const LEGACY_FILTER_CLAUSES: &[&str] = &[
    "exists",
    "range",
    "match_all",
    "script",
    "geo_bounding_box",
    "geo_polygon",
    "bool",
    "match_phrase",
    "match",
    "term",
    "terms",
    "query_string",
];

fn read_filter(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Option<Filter> {
    let meta = r
        .get("meta")
        .and_then(|n| ctx.table("filters.meta", n))
        .map(|mut m| {
            let meta = FilterMeta {
                alias: m.opt_string(ctx, "alias"),
                disabled: m.opt_bool(ctx, "disabled"),
                negate: m.opt_bool(ctx, "negate"),
                controlled_by: m.opt_string(ctx, "controlledBy"),
                group: m.opt_string(ctx, "group"),
                index: m.opt_string(ctx, "index"),
                index_ref_name: m.opt_string(ctx, "indexRefName"),
                is_multi_index: m.opt_bool(ctx, "isMultiIndex"),
                filter_type: m.opt_string(ctx, "type"),
                key: m.opt_string(ctx, "key"),
                params: m.opt_json("params"),
                value: m.opt_string(ctx, "value"),
                field: m.opt_string(ctx, "field"),
            };
            m.finish(ctx);
            meta
        })
        .unwrap_or_default();
    let state_store = r
        .get("$state")
        .and_then(|n| ctx.table("filters.$state", n))
        .and_then(|mut s| {
            let store = s.req_string(ctx, "store");
            s.finish(ctx);
            store
        });
    let query = r.get("query").map(node::to_json);
    let mut legacy_clauses = Vec::new();
    for clause in LEGACY_FILTER_CLAUSES {
        if let Some(n) = r.get(clause) {
            legacy_clauses.push((clause.to_string(), node::to_json(n)));
        }
    }
    r.finish(ctx);
    Some(Filter {
        meta,
        state_store,
        query,
        legacy_clauses,
    })
}

fn read_exception_ref(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Option<ExceptionListRef> {
    let id = r.req_string(ctx, "id");
    let list_id = r.req_string(ctx, "list_id");
    let namespace_type = r.req_string(ctx, "namespace_type");
    let list_type = r.req_string(ctx, "type");
    if let (Some(ns), Some(node)) = (&namespace_type, r.get("namespace_type"))
        && ns != "single"
        && ns != "agnostic"
    {
        ctx.error(
            DiagnosticKind::InvalidValue,
            node.span.clone(),
            format!("`namespace_type` must be `single` or `agnostic`, found `{ns}`"),
        );
    }
    r.finish(ctx);
    Some(ExceptionListRef {
        id: id?,
        list_id: list_id?,
        namespace_type: namespace_type?,
        list_type: list_type?,
    })
}

fn read_alert_suppression(
    ctx: &mut Ctx<'_>,
    mut r: Reader<'_, '_>,
    threshold: bool,
) -> Option<AlertSuppression> {
    let group_by = if threshold {
        r.string_list(ctx, "group_by").unwrap_or_default()
    } else {
        r.require(ctx, "group_by")
            .and_then(|n| ctx.string_list("rule.alert_suppression.group_by", n))
            .unwrap_or_default()
    };
    let duration = r
        .get("duration")
        .and_then(|n| ctx.table("rule.alert_suppression.duration", n))
        .and_then(|mut d| {
            let value = d.req_int(ctx, "value", 1..=i64::MAX);
            let unit = d.require(ctx, "unit").and_then(|n| {
                let text = ctx.string("rule.alert_suppression.duration.unit", n)?;
                match text.as_str() {
                    "s" | "m" | "h" => text.chars().next(),
                    _ => {
                        ctx.error(
                            DiagnosticKind::InvalidValue,
                            n.span.clone(),
                            format!("duration unit must be `s`, `m` or `h`, found `{text}`"),
                        );
                        None
                    }
                }
            });
            d.finish(ctx);
            Some(SuppressionDuration {
                value: value? as u64,
                unit: unit?,
            })
        });
    let missing_fields_strategy = r.get("missing_fields_strategy").and_then(|n| {
        let text = ctx.string("rule.alert_suppression.missing_fields_strategy", n)?;
        match text.as_str() {
            "suppress" => Some(MissingFieldsStrategy::Suppress),
            "doNotSuppress" => Some(MissingFieldsStrategy::DoNotSuppress),
            _ => {
                ctx.error(
                    DiagnosticKind::InvalidValue,
                    n.span.clone(),
                    format!("`missing_fields_strategy` must be `suppress` or `doNotSuppress`, found `{text}`"),
                );
                None
            }
        }
    });
    r.finish(ctx);
    Some(AlertSuppression {
        group_by,
        duration,
        missing_fields_strategy,
    })
}

fn read_operator(ctx: &mut Ctx<'_>, r: &mut Reader<'_, '_>) -> Option<String> {
    let node = r.require(ctx, "operator")?;
    let op = ctx.string(&r.key_path("operator"), node)?;
    if op != "equals" {
        ctx.error(
            DiagnosticKind::InvalidValue,
            node.span.clone(),
            format!("`operator` must be `equals`, found `{op}`"),
        );
        return None;
    }
    Some(op)
}

fn read_risk_score_mapping(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Option<RiskScoreMapping> {
    let field = r.req_string(ctx, "field");
    let operator = read_operator(ctx, &mut r);
    let value = r.req_string(ctx, "value");
    let risk_score = r.opt_int(ctx, "risk_score", 0..=100).map(|v| v as u8);
    r.finish(ctx);
    Some(RiskScoreMapping {
        field: field?,
        operator: operator?,
        value: value?,
        risk_score,
    })
}

fn read_severity_mapping(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Option<SeverityMapping> {
    let field = r.req_string(ctx, "field");
    let operator = read_operator(ctx, &mut r);
    let value = r.req_string(ctx, "value");
    let severity = r.require(ctx, "severity").and_then(|n| {
        let text = ctx.string("severity_mapping.severity", n)?;
        parse_severity(ctx, n, &text, "severity_mapping.severity")
    });
    r.finish(ctx);
    Some(SeverityMapping {
        field: field?,
        operator: operator?,
        value: value?,
        severity: severity?,
    })
}

fn read_related_integration(
    ctx: &mut Ctx<'_>,
    mut r: Reader<'_, '_>,
) -> Option<RelatedIntegration> {
    let package = r.req_string(ctx, "package");
    let version = r.req_string(ctx, "version");
    let integration = r.opt_string(ctx, "integration");
    r.finish(ctx);
    Some(RelatedIntegration {
        package: package?,
        version: version?,
        integration,
    })
}

fn read_required_field(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Option<RequiredField> {
    let name = r.req_string(ctx, "name");
    let field_type = r.req_string(ctx, "type");
    let ecs = r
        .get("ecs")
        .and_then(|n| ctx.boolean("required_fields.ecs", n));
    r.finish(ctx);
    Some(RequiredField {
        name: name?,
        field_type: field_type?,
        ecs: ecs.unwrap_or(false),
    })
}

fn read_transform(ctx: &mut Ctx<'_>, mut r: Reader<'_, '_>) -> Transform {
    let osquery = r
        .get("osquery")
        .and_then(|n| {
            ctx.tables("transform.osquery", n, |ctx, mut o| {
                let label = o.req_string(ctx, "label");
                let query = o.req_string(ctx, "query");
                let ecs_mapping = o.opt_json("ecs_mapping");
                o.finish(ctx);
                Some(OsqueryEntry {
                    label: label?,
                    query: query?,
                    ecs_mapping,
                })
            })
        })
        .unwrap_or_default();
    let investigate = r
        .get("investigate")
        .and_then(|n| {
            ctx.tables("transform.investigate", n, |ctx, mut i| {
                let label = i.req_string(ctx, "label");
                let description = i.opt_string(ctx, "description");
                let providers = i.require(ctx, "providers").and_then(|n| {
                    let Val::Array(groups) = &n.val else {
                        ctx.error(
                            DiagnosticKind::WrongType,
                            n.span.clone(),
                            "`transform.investigate.providers` must be an array of arrays of tables",
                        );
                        return None;
                    };
                    let mut out = Vec::new();
                    for group in groups {
                        let providers = ctx.tables(
                            "transform.investigate.providers[]",
                            group,
                            read_investigate_provider,
                        )?;
                        out.push(providers);
                    }
                    Some(out)
                });
                let relative_from = i.opt_string(ctx, "relativeFrom");
                let relative_to = i.opt_string(ctx, "relativeTo");
                i.finish(ctx);
                Some(InvestigateEntry {
                    label: label?,
                    description,
                    providers: providers?,
                    relative_from,
                    relative_to,
                })
            })
        })
        .unwrap_or_default();
    r.finish(ctx);
    Transform {
        osquery,
        investigate,
    }
}

fn read_investigate_provider(
    ctx: &mut Ctx<'_>,
    mut r: Reader<'_, '_>,
) -> Option<InvestigateProvider> {
    let excluded = r
        .require(ctx, "excluded")
        .and_then(|n| ctx.boolean("providers.excluded", n));
    let field = r.req_string(ctx, "field");
    let query_type = r.req_string(ctx, "queryType");
    let value = r.req_string(ctx, "value");
    let value_type = r.req_string(ctx, "valueType");
    r.finish(ctx);
    Some(InvestigateProvider {
        excluded: excluded?,
        field: field?,
        query_type: query_type?,
        value: value?,
        value_type: value_type?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str =
        "[metadata]\ncreation_date = \"2024/01/01\"\nupdated_date = \"2024/01/02\"\n\n";
    const BASE: &str = "author = [\"t\"]\ndescription = \"d\"\nname = \"n\"\nrisk_score = 47\nrule_id = \"0b1c2d3e-0000-4000-8000-000000000009\"\nseverity = \"medium\"\n";

    fn parse(rule_body: &str) -> (Option<Rule>, Vec<Diagnostic>) {
        let text = format!("{META}[rule]\n{BASE}{rule_body}");
        parse_toml(&SourceFile::new("t.toml", text))
    }

    fn messages(diags: &[Diagnostic]) -> Vec<String> {
        diags.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn new_terms_threshold_and_ml_are_typed() {
        let (rule, diags) = parse(
            "type = \"new_terms\"\nlanguage = \"kuery\"\nquery = \"a:b\"\n\n[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"user.name\"]\n[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\nvalue = \"now-7d\"\n",
        );
        assert!(diags.is_empty(), "{:?}", messages(&diags));
        let TypeParams::NewTerms(nt) = rule.unwrap().params else {
            panic!("not new_terms")
        };
        assert_eq!(nt.fields, ["user.name"]);
        assert_eq!(nt.history_window_start.as_str(), "now-7d");

        let (rule, diags) = parse(
            "type = \"threshold\"\nlanguage = \"kuery\"\nquery = \"a:b\"\n[rule.threshold]\nfield = [\"host.id\"]\nvalue = 5\n[[rule.threshold.cardinality]]\nfield = \"user.name\"\nvalue = 2\n",
        );
        assert!(diags.is_empty(), "{:?}", messages(&diags));
        let rule = rule.unwrap();
        let json = rule.to_kibana_json();
        assert_eq!(
            json["threshold"],
            serde_json::json!({"field": ["host.id"], "value": 5, "cardinality": [{"field": "user.name", "value": 2}]})
        );

        let (rule, diags) = parse(
            "type = \"machine_learning\"\nanomaly_threshold = 75\nmachine_learning_job_id = \"rare_method\"\n",
        );
        assert!(diags.is_empty(), "{:?}", messages(&diags));
        let json = rule.unwrap().to_kibana_json();
        assert_eq!(json["machine_learning_job_id"], "rare_method");
        assert_eq!(json["anomaly_threshold"], 75);
    }

    #[test]
    fn problems_are_reported_with_positions() {
        // language not allowed for the type, a key of another type, a bad interval.
        let (rule, diags) = parse(
            "type = \"eql\"\nlanguage = \"kuery\"\nquery = \"any where true\"\ninterval = \"5 minutes\"\nanomaly_threshold = 3\n",
        );
        assert!(rule.is_none());
        let msgs = messages(&diags);
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.toml:13:12: error: `eql` rules need language `eql`")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.toml:15:12: error: `rule.interval`: bad duration")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with(
                "t.toml:16:1: warning: key `anomaly_threshold` does not apply to `eql` rules"
            )),
            "{msgs:?}"
        );
        // Missing query/language for a query rule; missing [metadata] dates.
        let (_, diags) = parse("type = \"query\"\n");
        let msgs = messages(&diags);
        assert!(
            msgs.iter()
                .any(|m| m.contains("missing required key `query` in [rule]")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("missing required key `language` in [rule]")),
            "{msgs:?}"
        );
        let (_, diags) = parse_toml(&SourceFile::new("x.toml", "[rule]\n".to_string()));
        let msgs = messages(&diags);
        assert!(
            msgs.iter()
                .any(|m| m.contains("missing required key `metadata`")),
            "{msgs:?}"
        );
    }

    #[test]
    fn threat_query_keeps_its_position() {
        let (rule, diags) = parse(
            "type = \"threat_match\"\nlanguage = \"kuery\"\nquery = \"a:b\"\nthreat_index = [\"ti-*\"]\nthreat_language = \"kuery\"\nthreat_query = \"\"\"\nthreat.indicator.ip:*\"\"\"\n[[rule.threat_mapping]]\n[[rule.threat_mapping.entries]]\nfield = \"source.ip\"\ntype = \"mapping\"\nvalue = \"threat.indicator.ip\"\n",
        );
        assert!(diags.is_empty(), "{:?}", messages(&diags));
        let rule = rule.unwrap();
        let TypeParams::ThreatMatch(t) = &rule.params else {
            panic!("not threat_match")
        };
        let q = t.threat_query.as_ref().unwrap();
        assert_eq!(q.as_str(), "threat.indicator.ip:*");
        assert_eq!(q.position(7).unwrap().to_string(), "18:8");
        assert_eq!(t.threat_mapping[0].entries[0].value, "threat.indicator.ip");
    }

    #[test]
    fn kibana_objects_read_flat_new_terms_and_ignore_saved_object_keys() {
        let file = SourceFile::new("e.ndjson", String::new());
        let value = serde_json::json!({
            "id": "6f0e", "created_at": "2024-01-01T00:00:00Z", "immutable": false,
            "rule_id": "r1", "name": "n", "description": "d", "risk_score": 21,
            "severity": "low", "type": "new_terms", "language": "kuery", "query": "a:b",
            "new_terms_fields": ["user.name"], "history_window_start": "now-5d",
            "version": 3, "enabled": true, "exceptions_list": [], "setup": "",
            "related_integrations": [{"package": "aws", "version": "^2.0.0", "integration": "cloudtrail"}]
        });
        let (rule, diags) = parse_kibana_object(&file, &value, 0..0);
        let msgs = messages(&diags);
        // Only the non-UUID rule_id is worth a warning.
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        let rule = rule.unwrap();
        assert_eq!(rule.version, Some(3));
        assert_eq!(rule.kibana.as_ref().unwrap().id.as_deref(), Some("6f0e"));
        let json = rule.to_kibana_json();
        assert_eq!(json["new_terms_fields"], serde_json::json!(["user.name"]));
        assert_eq!(json["history_window_start"], "now-5d");
        assert_eq!(json["related_integrations"][0]["integration"], "cloudtrail");
    }
}
