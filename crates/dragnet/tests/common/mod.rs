//! Helpers shared by the `hunt` integration tests (each test file that needs them declares
//! `mod common;`).

use serde_json::Value;

/// `hunt --format json`'s document without what depends on the run's timing and spilling
/// (elapsed time, spill bytes and files, merge time), each of which must be present.
pub fn without_timing(stdout: &str) -> Value {
    let mut doc: Value = serde_json::from_str(stdout).unwrap();
    let summary = doc["summary"].as_object_mut().unwrap();
    for key in [
        "elapsed_seconds",
        "alert_spill_bytes",
        "alert_spill_files",
        "alert_merge_ms",
    ] {
        assert!(summary.remove(key).is_some(), "summary.{key}");
    }
    doc
}
