//! `hunt -vv`: which rules the run's time and memory went to, so a user can see which rule is
//! slow. One line per rule, most expensive first (evaluation time summed over the workers, plus
//! the time its alerts took to build at the end), the first [`TOP_RULES`] shown and the rest
//! summed on one line.

use dragnet_engine::{RuleCost, RuleReport};

/// Rules listed one per line; the others are summed.
pub const TOP_RULES: usize = 15;

/// The report's lines (for `diag!`), or none when no rule was run.
pub fn lines(costs: &[RuleCost], reports: &[RuleReport], top: usize) -> Vec<String> {
    if costs.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<&RuleCost> = costs.iter().collect();
    let time = |c: &RuleCost| c.nanos + c.finish_nanos;
    sorted.sort_by(|a, b| {
        time(b)
            .cmp(&time(a))
            .then(b.candidates.cmp(&a.candidates))
            .then_with(|| reports[a.report].name.cmp(&reports[b.report].name))
    });
    let total: u64 = sorted.iter().map(|c| time(c)).sum::<u64>().max(1);
    let mut out = vec![format!(
        "rule costs ({} rules; time is evaluation time summed over the workers plus finish, the time an aggregating rule's alerts took to build after the last record; candidates reached the rule's exact test; state is an aggregating rule's after the last record):",
        sorted.len()
    )];
    out.push(format!(
        "  {:>10} {:>6} {:>10} {:>12} {:>10} {:>8}  {:<26} rule",
        "time_ms", "share", "finish_ms", "candidates", "matches", "alerts", "state"
    ));
    for c in sorted.iter().take(top) {
        let state = c.state.map_or_else(
            || "-".to_string(),
            |s| format!("{} entries, ~{}", s.entries, bytes(s.bytes)),
        );
        out.push(format!(
            "  {:>10.1} {:>5.1}% {:>10.1} {:>12} {:>10} {:>8}  {:<26} {}",
            time(c) as f64 / 1e6,
            time(c) as f64 * 100.0 / total as f64,
            c.finish_nanos as f64 / 1e6,
            c.candidates,
            c.matches,
            c.alerts,
            state,
            reports[c.report].name
        ));
    }
    let rest = &sorted[top.min(sorted.len())..];
    if !rest.is_empty() {
        let sum = |f: fn(&RuleCost) -> u64| rest.iter().map(|c| f(c)).sum::<u64>();
        let nanos = sum(|c| c.nanos + c.finish_nanos);
        let state_bytes = sum(|c| c.state.map_or(0, |s| s.bytes));
        out.push(format!(
            "  {:>10.1} {:>5.1}% {:>10.1} {:>12} {:>10} {:>8}  {:<26} {} more rule(s)",
            nanos as f64 / 1e6,
            nanos as f64 * 100.0 / total as f64,
            sum(|c| c.finish_nanos) as f64 / 1e6,
            sum(|c| c.candidates),
            sum(|c| c.matches),
            sum(|c| c.alerts),
            format!("~{}", bytes(state_bytes)),
            rest.len()
        ));
    }
    out
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dragnet_engine::RuleStatus;

    fn report(name: &str) -> RuleReport {
        RuleReport {
            rule_id: "id".into(),
            name: name.into(),
            rule_type: "query".into(),
            language: None,
            severity: "low".into(),
            source: "rule.toml".into(),
            status: RuleStatus::Run {
                prefiltered: true,
                notes: Vec::new(),
            },
            alerts: 1,
            first_seen: None,
            last_seen: None,
        }
    }

    /// A rule whose evaluation is cheap but whose alerts take long to build at the end (a
    /// broad new_terms rule) ranks by both, and shows the finishing time alone.
    #[test]
    fn finishing_time_counts_toward_a_rules_cost() {
        let reports: Vec<RuleReport> = ["query", "new terms"].map(report).into();
        let costs = [
            RuleCost {
                report: 0,
                nanos: 3_000_000,
                candidates: 10,
                ..Default::default()
            },
            RuleCost {
                report: 1,
                nanos: 1_000_000,
                finish_nanos: 4_000_000,
                candidates: 10,
                ..Default::default()
            },
        ];
        let lines = lines(&costs, &reports, 2);
        assert!(lines[2].ends_with(" new terms"), "{lines:#?}");
        assert!(
            lines[2].contains("5.0") && lines[2].contains("62.5%") && lines[2].contains("4.0"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].contains("37.5%") && lines[3].contains(" 0.0 "),
            "{}",
            lines[3]
        );
    }

    #[test]
    fn most_expensive_first_and_the_rest_summed() {
        let reports: Vec<RuleReport> = ["cheap", "slow", "mid", "tiny"].map(report).into();
        let cost = |report, nanos, candidates| RuleCost {
            report,
            nanos,
            finish_nanos: 0,
            candidates,
            matches: 1,
            alerts: 1,
            state: None,
        };
        let costs = [
            cost(0, 1_000_000, 10),
            cost(1, 9_000_000, 99),
            cost(2, 5_000_000, 50),
            cost(3, 0, 1),
        ];
        let lines = lines(&costs, &reports, 2);
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(
            lines[2].ends_with(" slow") && lines[2].contains("60.0%"),
            "{}",
            lines[2]
        );
        assert!(lines[3].ends_with(" mid"), "{}", lines[3]);
        assert!(lines[4].ends_with("2 more rule(s)"), "{}", lines[4]);
        assert!(lines[4].contains(" 11 "), "candidates summed: {}", lines[4]);
    }
}
