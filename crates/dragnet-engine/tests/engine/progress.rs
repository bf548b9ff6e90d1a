//! The live alert counter a progress display polls ends equal to the run's alerts.

use std::sync::atomic::Ordering;

use dragnet_engine::{Engine, Progress, RunOptions, Selection};

#[test]
fn the_alert_counter_ends_at_the_final_count_with_duplicate_deliveries() {
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples");
    let rules = dragnet_rules::embedded().rules;
    let engine = Engine::compile(&rules, &Selection::default(), Default::default()).unwrap();
    let input = dragnet_input::InputOptions::default();
    // The same folder twice: every event is delivered twice and alerts once.
    let found = dragnet_input::discover(&[samples.to_string(), samples.to_string()], &input);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let progress = Progress::default();
    let out = engine.run(found.sources, &input, &RunOptions::default(), &progress);
    assert!(!out.alerts.is_empty());
    assert!(out.stats.duplicates > 0, "{:?}", out.stats);
    assert_eq!(
        progress.alerts.load(Ordering::Relaxed),
        out.alerts.len() as u64
    );
}
