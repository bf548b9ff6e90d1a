//! The rule-evaluation interface every rule type implements.
//!
//! A [`Detector`] sees each record that passed the prefilter for its rule, as an [`Event`], and
//! reports detections. Stateless operators (KQL query rules) decide per event and are called
//! concurrently from many worker threads. Stateful operators (EQL sequences, threshold, new_terms)
//! keep their state behind their own synchronisation, or per worker and merged, and report what
//! they found at the end of the run from [`Detector::finish`], carrying the source documents they
//! need since the events themselves are gone by then.

use dragnet_event::Event;
use jiff::Timestamp;
use serde_json::Value;

/// What detectors need to know about the run before the first record.
#[derive(Clone, Debug, Default)]
pub struct DetectorOptions {
    /// Only events at or after this instant take part (stateful detectors filter their
    /// candidates; per-event detections are filtered by the caller).
    pub from: Option<Timestamp>,
    /// Only events before this instant take part.
    pub to: Option<Timestamp>,
    /// At most this many alerts per rule (EQL samples stop collecting past it).
    pub max_signals: Option<usize>,
    /// Per EQL sequence (or sample) rule, at most this many out-of-order candidate events are
    /// kept for sorting; `None`: [`DEFAULT_MAX_SEQUENCE_CANDIDATES`].
    pub max_sequence_candidates: Option<usize>,
    /// Per new_terms or threshold rule, at most this many state entries
    /// (`--max-aggregation-entries`); past it, events are left out of the rule's state with a
    /// warning naming the rule and the flag. `None`: [`DEFAULT_MAX_AGGREGATION_ENTRIES`].
    pub max_aggregation_entries: Option<usize>,
    /// `dragnet esql`: ES|QL rules run their query once over every event (no schedule) and
    /// hand the result table back here instead of reporting alerts.
    pub esql_table: Option<TableRequest>,
}

/// The default of [`DetectorOptions::max_sequence_candidates`].
pub const DEFAULT_MAX_SEQUENCE_CANDIDATES: usize = 1_000_000;

/// The default of [`DetectorOptions::max_aggregation_entries`]: per new_terms or threshold
/// rule, the entries of its state (new_terms: one per term and execution interval it occurs in,
/// about 60 bytes plus the term's text; threshold: one per matching event and group, 32 bytes
/// plus each group's text once). Sized so the AWS pack over 10 GB of CloudTrail stays far
/// inside it, while a hostile input cannot grow one rule past a few hundred MB.
pub const DEFAULT_MAX_AGGREGATION_ENTRIES: usize = 4_000_000;

/// What a detector holds and has seen, for `hunt -vv`'s per-rule cost report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Events that passed the rule's query (and exceptions) and went into its state.
    pub matched: u64,
    /// Entries of its state (new_terms: terms x intervals; threshold: events x groups).
    pub entries: u64,
    /// An estimate of the bytes its state holds in memory.
    pub bytes: u64,
}

/// One detection reported by a [`Detector`].
#[derive(Clone, Debug)]
pub enum Detection {
    /// The event passed to [`Detector::on_event`] matched. `explanation`: which clauses matched
    /// on which values, when the run asked for explanations.
    ThisEvent { explanation: Option<Value> },
    /// A detection reported from [`Detector::finish`] (aggregations, sequences): the alert's
    /// source document and its identity.
    Document {
        ecs: Value,
        id: String,
        index: String,
        timestamp: Option<String>,
        explanation: Option<Value>,
    },
    /// A [`Detection::Document`] whose built alert then takes `fields` over its own (EQL
    /// sequences: building blocks and shell alerts carry their own uuid, ancestors and group).
    Composed {
        ecs: Value,
        id: String,
        index: String,
        timestamp: Option<String>,
        explanation: Option<Value>,
        fields: serde_json::Map<String, Value>,
    },
}

/// Evaluates one rule over the records of a run.
pub trait Detector: Send + Sync {
    /// Called for each record that can match this rule (after the prefilter), from any worker
    /// thread, in no particular order. Pushes its detections onto `out`.
    fn on_event(&self, event: &dyn Event, explain: bool, out: &mut Vec<Detection>);

    /// Called once, after the last record. Stateless detectors report nothing here.
    fn finish(&self, _out: &mut Vec<Detection>) {}

    /// [`Detector::finish`], handing each detection to `sink` as it is made: a rule with many
    /// alerts (a broad new_terms rule) then never holds all their documents at once. The
    /// default collects [`Detector::finish`]'s.
    fn finish_into(&self, sink: &mut dyn FnMut(Detection)) {
        let mut out = Vec::new();
        self.finish(&mut out);
        out.into_iter().for_each(sink);
    }

    /// Called once before the first record with the run's options (limits, time range).
    fn prepare(&self, _options: &DetectorOptions) {}

    /// Warnings for the user after [`Detector::finish`] (a limit was hit: results may be missing).
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// For a detector that keeps state (aggregations): its counts and size so far, read after
    /// the last record and before [`Detector::finish`]. `None` for stateless detectors.
    fn stats(&self) -> Option<DetectorStats> {
        None
    }

    /// Whether this detector alerts only from [`Detector::finish`], out of the events it
    /// collected (EQL sequences and samples). Rule exceptions then keep excepted events from
    /// reaching [`Detector::on_event`] at all — Kibana sends exceptions as a filter of the EQL
    /// search, so an excepted event takes part in no sequence or sample — where per-event
    /// detectors have their detections on excepted events dropped.
    fn decides_in_finish(&self) -> bool {
        false
    }

    /// For a detector that decides in finish: whether `event` is one it would collect (it
    /// matches some step), so that exceptions count only the events they kept from the rule.
    fn collects(&self, _event: &dyn Event) -> bool {
        true
    }

    /// How the rule's query decides on `event`, as text (which clauses matched or did not, on
    /// which values), whether or not it matches: for searches that list every event with the
    /// reason (`dragnet kql --all --explain`). `None` for detectors without a per-event query.
    fn explain_text(&self, _event: &dyn Event) -> Option<String> {
        None
    }
}

/// `dragnet esql`: run the query once over every event, with `NOW()` at `now_ms` and
/// ES|QL's implicit `LIMIT` (`limit`), and put the result table in `result`.
#[derive(Clone, Debug, Default)]
pub struct TableRequest {
    pub now_ms: i64,
    pub limit: Option<usize>,
    pub result: std::sync::Arc<std::sync::Mutex<Option<TableResult>>>,
}

/// What an ad-hoc query gave: its table, ES|QL's warnings, or why it failed.
#[derive(Clone, Debug)]
pub struct TableResult {
    pub table: Result<dragnet_esql_exec::ResultTable, String>,
    pub warnings: Vec<String>,
    /// Rows DataFusion was fed (events that passed the prefilter).
    pub rows_fed: usize,
}
