//! Picks and builds a rule's detector by its type and language.

use dragnet_event::FieldTable;
use dragnet_event::literals::Cnf;
use dragnet_rules::{Language, Rule, TypeParams};

use crate::accounting::RuleStatus;
use crate::detector::Detector;
use crate::exceptions::Prepared;
use crate::query::QueryDetector;

/// Builds the detector of `rule` (any type), compiled against `schema` into the shared field
/// table `fields`, with its required literals for the prefilter; or says why it cannot run.
/// `notes` collects what the report should say about how the rule runs.
pub fn build_detector(
    rule: &Rule,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
    extras: &Prepared,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    let unsupported = |reason: String| Err(RuleStatus::Unsupported { reason });
    match (&rule.params, rule.language) {
        (TypeParams::Query { saved_id }, Some(Language::Kuery) | None) => {
            if saved_id.is_some() {
                notes.push("saved_id ignored: the rule's own query is used".into());
            }
            if !rule.filters.is_empty() {
                return unsupported(
                    "Kibana query DSL filters are not implemented (rule has `filters`)".into(),
                );
            }
            if rule.alert_suppression.is_some() {
                notes
                    .push("alert_suppression not applied: every matching event is reported".into());
            }
            if !rule.exceptions_list.is_empty() {
                notes.push("exception lists live in Kibana and are not applied".into());
            }
            let text = rule.query.as_ref().map(|q| q.as_str()).unwrap_or("");
            let query = dragnet_kql::parse(text).map_err(|e| RuleStatus::Invalid {
                reason: format!("KQL does not parse: {e}"),
            })?;
            let compiled =
                dragnet_kql::compile(&query, schema, fields).map_err(|e| RuleStatus::Invalid {
                    reason: format!("KQL does not compile: {e}"),
                })?;
            let cnf = compiled.required_literals();
            Ok((Box::new(QueryDetector::new(compiled)), cnf))
        }
        (TypeParams::Eql { .. }, _) => crate::eql::build(rule, schema, fields, notes),
        (TypeParams::Threshold(t), _) => {
            crate::threshold::build(rule, t, schema, fields, notes, extras)
        }
        (TypeParams::NewTerms(n), _) => {
            crate::new_terms::build(rule, n, schema, fields, notes, extras)
        }
        (TypeParams::Esql, _) => crate::esql::build(rule, schema, fields, notes, extras),
        (TypeParams::ThreatMatch(t), _) => {
            crate::threat_match::build(rule, t, schema, fields, notes, extras)
        }
        (TypeParams::MachineLearning(ml), _) => unsupported(format!(
            "machine_learning rules read the anomaly records of Elastic ML job(s) {}, which exist only inside Elasticsearch",
            ml.machine_learning_job_id.join(", ")
        )),
        (TypeParams::Query { .. }, Some(Language::Lucene)) => {
            unsupported("query rules in the lucene language are not implemented".into())
        }
        (params, _) => {
            let what = params.rule_type().as_str();
            unsupported(format!("{what} rules are not implemented yet"))
        }
    }
}
