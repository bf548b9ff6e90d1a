//! Per-rule cost accounting for `hunt -vv`: how long each rule's evaluation took (summed over
//! workers), how many records reached its exact test, how many it matched, and what state an
//! aggregating rule holds. Counted per worker and merged once per batch, and only when asked
//! ([`crate::RunOptions::rule_costs`]): otherwise the evaluation path pays one branch.

use std::time::Instant;

use dragnet_detect::DetectorStats;

/// What one rule cost over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleCost {
    /// The rule's index in [`crate::RunOutput::reports`].
    pub report: usize,
    /// Nanoseconds spent in its evaluation, summed over the workers.
    pub nanos: u64,
    /// Nanoseconds spent after the last record turning its state into alerts (aggregations and
    /// sequences: reading documents back, building the alerts), waits for the collector left
    /// out.
    pub finish_nanos: u64,
    /// Records that reached its exact test (passed the prefilter for it).
    pub candidates: u64,
    /// Records its per-event test matched (query and EQL event rules); for aggregating rules,
    /// the events that went into its state.
    pub matches: u64,
    /// Alerts it reported (after dedup, suppression and `--max-signals`).
    pub alerts: u64,
    /// Aggregating rules: their state after the last record (entries, bytes estimate).
    pub state: Option<DetectorStats>,
}

/// Per-rule counters of one worker's batch, indexed by the engine's rule index.
#[derive(Clone, Debug, Default)]
pub(crate) struct CostCounters {
    /// (nanos, candidates, matches) per rule; empty when costs are not counted.
    pub per_rule: Vec<(u64, u64, u64)>,
}

impl CostCounters {
    /// Times one evaluation of `rule` (`run` returns how many detections it made).
    pub fn time(&mut self, rules: usize, rule: usize, run: impl FnOnce() -> usize) {
        if self.per_rule.len() < rules {
            self.per_rule.resize(rules, (0, 0, 0));
        }
        let start = Instant::now();
        let matched = run();
        let c = &mut self.per_rule[rule];
        c.0 += start.elapsed().as_nanos() as u64;
        c.1 += 1;
        c.2 += matched as u64;
    }

    /// Adds `other` into these counters.
    pub fn merge(&mut self, other: &CostCounters) {
        if self.per_rule.len() < other.per_rule.len() {
            self.per_rule.resize(other.per_rule.len(), (0, 0, 0));
        }
        for (a, b) in self.per_rule.iter_mut().zip(&other.per_rule) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_per_rule_and_merge() {
        let mut a = CostCounters::default();
        a.time(3, 1, || 1);
        a.time(3, 1, || 0);
        a.time(3, 2, || 2);
        let mut total = CostCounters::default();
        total.merge(&a);
        total.merge(&a);
        assert_eq!(total.per_rule.len(), 3);
        assert_eq!(total.per_rule[0], (0, 0, 0));
        assert_eq!((total.per_rule[1].1, total.per_rule[1].2), (4, 2));
        assert_eq!((total.per_rule[2].1, total.per_rule[2].2), (2, 4));
    }
}
