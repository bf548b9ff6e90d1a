//! dragnet's detection engine: compiles a rule set once, then runs every record of every input
//! through prefilter -> record view -> matchers -> alert, in parallel, with deterministic output.
//!
//! It accounts for every rule (run / not applicable / unsupported, with the reason), skips records
//! no rule can match by scanning raw bytes for required literals, deduplicates records delivered
//! twice (same CloudTrail `eventID`), and builds alerts in Kibana's security alert shape.
//!
//! Use: [`Engine::compile`] a rule set (with a [`Selection`]), then [`Engine::run`] it over the
//! sources `dragnet_input::discover` found; the [`RunOutput`] holds sorted alerts, input problems
//! in input order, counts, and every rule's [`RuleReport`].

pub mod accounting;
mod aggregate;
pub mod alert;
pub mod applicability;
pub mod detector;
mod engine;
mod eql;
mod eql_sample;
pub mod exceptions;
mod new_terms;
mod query;
mod run;
mod sequence_order;
mod suppression;
pub mod threat_match;
mod threshold;

pub use accounting::{RuleCounts, RuleReport, RuleStatus};
pub use detector::{Detection, Detector};
pub use engine::{Engine, EngineError, Selection};
pub use exceptions::{ExceptionSet, Extras};
pub use run::{Alert, Progress, RunOptions, RunOutput, RunStats};
pub use threat_match::Indicators;
