//! dragnet's alerts, the last stage before output.
//!
//! - [`document`]: the alert document in the shape Kibana's security detection engine writes
//!   it (`kibana.alert.*` over the source event's ECS fields), with a deterministic uuid;
//! - [`alert`]: [`Alert`], one alert of a run, typed (rule, time, group, building block, the
//!   values an analyst triages by) with its document beside it.
//!
//! Nothing here knows about rules' queries, inputs or detectors: a detector says which event
//! (or aggregate) to alert on, the engine hands it here with the rule's [`RuleMeta`].

pub mod alert;
pub mod document;
pub mod group;

pub use alert::{Alert, AlertGroup, AlertSummary, InputOrder, parse_time};
pub use document::{
    CLOUDTRAIL_DATA_STREAM, RuleFields, RuleMeta, SourceDoc, alert_uuid, build_alert,
    build_alert_fields, field_strings, reason_message, sha256_hex,
};
