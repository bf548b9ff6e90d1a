//! Queries that decide one event at a time — KQL query rules and EQL event queries — as one
//! stateless [`Detector`].

use dragnet_event::Event;
use dragnet_query::EventMatcher;

use crate::detector::{Detection, Detector};

/// A rule whose compiled query decides per event.
pub struct QueryDetector<Q> {
    query: Q,
}

impl<Q: EventMatcher> QueryDetector<Q> {
    pub fn new(query: Q) -> Self {
        Self { query }
    }
}

impl<Q: EventMatcher> Detector for QueryDetector<Q> {
    fn on_event(&self, event: &dyn Event, explain: bool, out: &mut Vec<Detection>) {
        if self.query.matches(event) {
            let explanation = explain.then(|| self.query.explain(event).to_json());
            out.push(Detection::ThisEvent { explanation });
        }
    }
}
