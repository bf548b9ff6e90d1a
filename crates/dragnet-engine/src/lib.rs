//! dragnet's detection engine: compiles a rule set once, then runs every record of every input
//! through prefilter -> record view -> matchers -> alert, in parallel, with deterministic output.
//!
//! It accounts for every rule (run / not applicable / unsupported, with the reason), skips records
//! no rule can match by scanning raw bytes for required literals, deduplicates records delivered
//! twice (same CloudTrail `eventID`), and builds alerts in Kibana's security alert shape.
//!
//! Use: [`Engine::compile`] a rule set (with a [`Selection`]), then [`Engine::run`] it over the
//! sources `dragnet_input::discover` found; the [`RunOutput`] holds sorted alerts, input problems
//! in input order, counts, and every rule's [`RuleReport`]. [`Engine::run_stream`] gives the
//! alerts one at a time instead, in bounded memory (see `collect.rs` and `alert_store.rs`).

mod alert_store;
pub mod applicability;
mod collect;
mod cost;
mod early;
mod engine;
mod problem_keeper;
mod run;
mod sample;
mod suppression;

pub use alert_store::{DEFAULT_ALERT_MEMORY, MERGE_FAN_IN, SpillStats};
pub use collect::SpillError;
pub use cost::RuleCost;
pub use early::{EARLY_CHANNEL_ALERTS, EarlyAlerts, EarlyReport, OrderViolation, early_alerts};
pub use problem_keeper::{DEFAULT_MAX_PROBLEMS, is_skipped_input};

pub use dragnet_alert::{Alert, AlertGroup, AlertSummary};
pub use dragnet_detect::{
    DEFAULT_MAX_AGGREGATION_ENTRIES, ExceptionSet, Extras, Indicators, RuleCounts, RuleReport,
    RuleStatus, exceptions, threat_match,
};
pub use engine::{Engine, EngineError, Selection};
pub use run::{
    Capture, CapturedEvent, MAX_THREADS, Progress, RunOptions, RunOutput, RunStats, RunStream,
    max_threads, stack_for_depth,
};
pub use sample::{SAMPLE_BYTES, SAMPLE_FILES};
