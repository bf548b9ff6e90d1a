//! Benchmark tooling for dragnet: a deterministic, streaming generator of realistic CloudTrail
//! (`gen`), a profiler that measures real trails (`profile`) and a serde_json parse-only baseline.
//!
//! The generator's mix (eventName distribution, record sizes, JSON escape frequency) is tuned
//! against the invictus-ir dataset; it injects a known number of seed-rule hits and near misses
//! so benchmark runs can check alert counts. Same arguments always give the same bytes.

#![recursion_limit = "256"]

pub mod catalog;
pub mod generator;
pub mod parse_only;
pub mod profile;
pub mod rng;
pub mod size;

/// Errors the bench tools report to the user.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: not CloudTrail JSON ({reason}); expected {{\"Records\":[...]}}, JSON lines, or .gz of either"
    )]
    Format { path: String, reason: String },
    #[error("invalid size {0:?}: use a number with an optional unit, e.g. 2MB, 1GB, 500KiB")]
    Size(String),
}
