//! KQL query rules as a stateless [`Detector`].

use dragnet_event::{Event, OwnedScalar};
use dragnet_kql::{CompiledQuery, Explanation};
use serde_json::{Value, json};

use crate::detector::{Detection, Detector};

/// A `type = "query"`, `language = "kuery"` rule: the compiled query decides per event.
pub struct KqlDetector {
    query: CompiledQuery,
}

impl KqlDetector {
    pub fn new(query: CompiledQuery) -> Self {
        Self { query }
    }
}

impl Detector for KqlDetector {
    fn on_event(&self, event: &dyn Event, explain: bool, out: &mut Vec<Detection>) {
        if self.query.matches(event) {
            let explanation = explain.then(|| explanation_json(&self.query, event));
            out.push(Detection::ThisEvent { explanation });
        }
    }
}

fn explanation_json(query: &CompiledQuery, event: &dyn Event) -> Value {
    to_json(&query.explain(event))
}

/// `{"matched", "clause", "how", "values", "children"}`, recursively; the rendered text too at
/// the top, as `--explain` prints it.
fn to_json(e: &Explanation) -> Value {
    let values: Vec<Value> = e
        .values
        .iter()
        .map(|v| match v {
            OwnedScalar::Str(s) => json!(s),
            OwnedScalar::Int(i) => json!(i),
            OwnedScalar::Float(f) => json!(f),
            OwnedScalar::Bool(b) => json!(b),
        })
        .collect();
    let mut out = json!({
        "matched": e.matched,
        "clause": e.clause,
    });
    if !e.how.is_empty() {
        out["how"] = json!(e.how);
        out["values"] = Value::Array(values);
    }
    if !e.children.is_empty() {
        out["children"] = e.children.iter().map(to_json).collect();
    }
    out
}
