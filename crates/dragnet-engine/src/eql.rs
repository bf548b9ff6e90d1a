//! EQL rules (`type = "eql"`) as detectors.
//!
//! Event queries (`category where condition`) decide per event, like KQL query rules.
//! `sequence` and `sample` rules are accounted for as unsupported in `hunt`: a sequence alert
//! is built from its events' source documents at the end of the run, and [`Detector::on_event`]
//! gives only the [`Event`] view (the standalone `dragnet eql` command runs sequences).

use dragnet_eql::{CompileOptions, CompiledQuery, Explanation, QueryKind};
use dragnet_event::{Event, FieldTable, OwnedScalar};
use dragnet_rules::{Rule, TypeParams};
use serde_json::{Value, json};

use crate::accounting::RuleStatus;
use crate::detector::{Detection, Detector};

/// An EQL event query: the compiled query decides per event.
pub struct EqlDetector {
    query: CompiledQuery,
}

impl Detector for EqlDetector {
    fn on_event(&self, event: &dyn Event, explain: bool, out: &mut Vec<Detection>) {
        if self.query.matches(event) {
            let explanation = explain.then(|| to_json(&self.query.explain(event)));
            out.push(Detection::ThisEvent { explanation });
        }
    }
}

/// Required literals as `(field, literal, exact, case_sensitive)` CNF, for the prefilter.
pub(crate) type Cnf = Vec<Vec<(String, String, bool, bool)>>;

/// Compiles an EQL rule into its detector and prefilter facts, or says why it cannot run.
pub(crate) fn build(
    rule: &Rule,
    schema: &dragnet_schema::Schema,
    fields: &mut FieldTable,
    notes: &mut Vec<String>,
) -> Result<(Box<dyn Detector>, Cnf), RuleStatus> {
    let unsupported = |reason: String| Err(RuleStatus::Unsupported { reason });
    let TypeParams::Eql {
        event_category_override,
        tiebreaker_field,
        ..
    } = &rule.params
    else {
        return unsupported("not an EQL rule".into());
    };
    if !rule.filters.is_empty() {
        return unsupported(
            "Kibana query DSL filters are not implemented (rule has `filters`)".into(),
        );
    }
    if !rule.exceptions_list.is_empty() {
        notes.push("exception lists live in Kibana and are not applied".into());
    }
    if rule.alert_suppression.is_some() {
        notes.push("alert_suppression not applied: every matching event is reported".into());
    }
    let text = rule.query.as_ref().map(|q| q.as_str()).unwrap_or("");
    let query = dragnet_eql::parse(text).map_err(|e| RuleStatus::Invalid {
        reason: format!("EQL does not parse: {e}"),
    })?;
    let options = CompileOptions {
        category_field: event_category_override
            .clone()
            .unwrap_or_else(|| CompileOptions::default().category_field),
    };
    // Compile into a scratch table first so an unsupported rule interns nothing.
    let mut scratch = fields.clone();
    let compiled =
        dragnet_eql::compile_with(&query, schema, &mut scratch, &options).map_err(|e| {
            RuleStatus::Invalid {
                reason: format!("EQL does not compile: {e}"),
            }
        })?;
    match compiled.kind() {
        QueryKind::Event => {}
        QueryKind::Sequence => {
            return unsupported(
                "EQL sequence rules are not run by hunt yet (use `dragnet eql`); the detector interface does not carry source documents to finish()".into(),
            );
        }
        QueryKind::Sample => return unsupported("EQL sample rules are not implemented".into()),
    }
    *fields = scratch;
    if tiebreaker_field.is_some() {
        notes.push("tiebreaker_field only orders sequences; this rule is an event query".into());
    }
    if !compiled.pipes().is_empty() {
        notes.push("pipes (| head, | tail) limit a search's results, not alerts; ignored".into());
    }
    let cnf = compiled
        .required_literals()
        .into_iter()
        .map(|clause| {
            clause
                .into_iter()
                .map(|l| (l.field, l.literal, l.exact, l.case_sensitive))
                .collect()
        })
        .collect();
    Ok((Box::new(EqlDetector { query: compiled }), cnf))
}

/// `{"matched", "clause", "how", "values", "children"}`, recursively.
fn to_json(e: &Explanation) -> Value {
    let mut out = json!({"matched": e.matched, "clause": e.clause});
    if !e.how.is_empty() {
        out["how"] = json!(e.how);
        out["values"] = e
            .values
            .iter()
            .map(|v| match v {
                OwnedScalar::Str(s) => json!(s),
                OwnedScalar::Int(i) => json!(i),
                OwnedScalar::Float(f) => json!(f),
                OwnedScalar::Bool(b) => json!(b),
            })
            .collect();
    }
    if !e.children.is_empty() {
        out["children"] = e.children.iter().map(to_json).collect();
    }
    out
}
