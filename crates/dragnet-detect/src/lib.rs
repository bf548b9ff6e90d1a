//! dragnet's detectors: one per rule type, each evaluating the events of a run for one rule.
//!
//! A [`Detector`] is handed every event that passed the prefilter for its rule and reports
//! [`Detection`]s: per event (KQL and EQL event queries), or at the end of the run out of the
//! state it kept (EQL sequences and samples, threshold, new_terms, indicator match). Detectors
//! know nothing of inputs, threads or alert output: the engine drives them and turns their
//! detections into alerts (`dragnet-alert`).
//!
//! Modules, each depending only on those before it: [`accounting`] (a rule's status and why),
//! [`detector`] (the trait and its options), [`aggregate`] (shared by the aggregating types),
//! [`indicators`], [`exceptions`] (Kibana rule exceptions, compiled), [`query`] (KQL),
//! `sequence_order`, `eql_sample`, [`eql`], `threshold`, `new_terms`, [`threat_match`], and `build`,
//! which picks a rule's detector ([`build_detector`]).

pub mod accounting;
pub mod aggregate;
mod build;
pub mod detector;
pub mod enrichment;
pub mod eql;
mod eql_sample;
pub mod esql;
pub mod exceptions;
pub mod indicators;
mod new_terms;
pub mod query;
mod sequence_order;
pub mod threat_match;
mod threshold;

pub use accounting::{RuleCounts, RuleReport, RuleStatus};
pub use build::build_detector;
pub use detector::{
    DEFAULT_MAX_AGGREGATION_ENTRIES, DEFAULT_MAX_SEQUENCE_CANDIDATES, Detection, Detector,
    DetectorOptions, DetectorStats,
};
pub use exceptions::{ExceptionSet, Extras, Prepared};
pub use indicators::Indicators;
