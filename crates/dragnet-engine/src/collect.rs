//! From alerts found to alerts written, in bounded memory: the [`Collector`] takes every alert
//! the workers and the stateful detectors make, the [`AlertStream`] gives them back
//! deduplicated, suppressed, limited by `--max-signals` and in the documented order (time,
//! timestamp text, rule name, event id, uuid).
//!
//! - Alerts go to an [`AlertStore`] sorted by the output order with input order as the last
//!   tiebreak; the deliveries of one alert (same uuid: same rule and event, so same time, rule
//!   name and event id) are adjacent there, and the first in input order wins, as before this
//!   store: no set of uuids is needed. A record whose first alert loses counts as a duplicate.
//! - Alerts of rules with suppression (sequence building blocks excepted) first go to a second
//!   store sorted by (rule, time, uuid), the order Kibana's suppression sees them in; the
//!   [`Suppressor`] streams over it and hands what it keeps to the first store.
//! - With `--max-signals`, per rule only the best N alerts are kept ([`TopN`]); the others are
//!   stored as husks so duplicates and counts stay exact, and sequences whose shell was left
//!   out lose their building blocks.
//! - With early output (`hunt --time-ordered`, [`crate::early`]), alerts are first held by an
//!   [`EarlyRelease`] that writes those the watermark passed as the run goes; what it still
//!   holds at the end (or when it passes its budget) joins the first store, and the stream
//!   goes on from the last alert written.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use dragnet_alert::Alert;

use crate::alert_store::{
    AlertStore, DEFAULT_ALERT_MEMORY, Entry, EntryOrder, Sorted, SpillStats, TopN,
};
use crate::early::{EarlyRelease, EarlyReport, Key, OrderViolation, output_cmp};
use crate::engine::Engine;
use crate::suppression::{Suppression, Suppressor, time_ms};

/// How a run keeps its alerts (from `RunOptions`).
pub(crate) struct CollectOptions {
    /// Bytes of alerts per store kept in memory; `None`: [`DEFAULT_ALERT_MEMORY`].
    pub alert_memory: Option<usize>,
    pub spill_dir: Option<PathBuf>,
    pub max_signals: Option<usize>,
    /// Early output: where alerts go as the run goes on ([`crate::early`]).
    pub early: Option<SyncSender<Alert>>,
}

/// Takes the alerts of a run (from any worker, under a lock).
pub(crate) struct Collector {
    main: AlertStore,
    suppressed: Option<AlertStore>,
    suppressed_rules: HashSet<usize>,
    top: Option<TopN>,
    /// The first error writing a spill file: the run's alerts are incomplete.
    error: Option<io::Error>,
    spill_dir: Option<PathBuf>,
    early: Option<EarlyRelease>,
    /// The first alert that sorted before one already written.
    violation: Option<OrderViolation>,
}

impl Collector {
    pub fn new(engine: &Engine, options: CollectOptions) -> Collector {
        let suppressed_rules: HashSet<usize> = engine
            .rules
            .iter()
            .filter(|r| r.suppression.is_some())
            .map(|r| r.report)
            .collect();
        Collector::with(engine.reports.clone(), suppressed_rules, options)
    }

    /// `reports`: each rule's report by report index; `suppressed_rules`: the report indexes of
    /// the rules with suppression.
    fn with(
        reports: Vec<dragnet_detect::RuleReport>,
        suppressed_rules: HashSet<usize>,
        options: CollectOptions,
    ) -> Collector {
        let names = Arc::new(reports.iter().map(|r| r.name.clone()).collect::<Vec<_>>());
        let budget = options.alert_memory.unwrap_or(DEFAULT_ALERT_MEMORY);
        let early = options.early.map(|sink| {
            EarlyRelease::new(names.clone(), reports, budget, options.max_signals, sink)
        });
        let output_order: EntryOrder = Arc::new(move |a: &Entry, b: &Entry| {
            output_cmp(&names, &Key::of(&a.alert), &Key::of(&b.alert))
        });
        let suppressed = (!suppressed_rules.is_empty()).then(|| {
            let order: EntryOrder = Arc::new(|a: &Entry, b: &Entry| {
                let (a, b) = (&a.alert, &b.alert);
                (a.rule, time_ms(a), &a.uuid, a.order).cmp(&(b.rule, time_ms(b), &b.uuid, b.order))
            });
            AlertStore::new(budget, options.spill_dir.clone(), order)
        });
        Collector {
            main: AlertStore::new(budget, options.spill_dir.clone(), output_order),
            suppressed,
            suppressed_rules,
            top: options.max_signals.map(TopN::new),
            error: None,
            spill_dir: options.spill_dir,
            early,
            violation: None,
        }
    }

    /// Takes one alert. Returns false when it sorts before an alert already written (early
    /// output): the run must stop ([`Collector::violation`]).
    pub fn push(&mut self, entry: Entry) -> bool {
        if self.error.is_some() || self.violation.is_some() {
            return self.violation.is_none();
        }
        if let Some(early) = &mut self.early {
            if let Some(v) = early.sorts_before_written(&entry.alert) {
                self.violation = Some(v);
                return false;
            }
            if !early.overflowed {
                if !early.hold(entry) {
                    // Past the budget: early output ends, the ordinary store takes over.
                    let held: Vec<Entry> = early.take_held().collect();
                    self.hand_over_early();
                    for e in held {
                        if let Err(e) = self.route(e) {
                            self.error = Some(e);
                            break;
                        }
                    }
                }
                return true;
            }
        }
        let result = match &mut self.suppressed {
            Some(store)
                if self.suppressed_rules.contains(&entry.alert.rule)
                    && !entry.alert.is_group_member() =>
            {
                store.push(entry)
            }
            _ => self.route(entry),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
        true
    }

    /// `--max-signals` from here on counts the alerts early output already wrote.
    fn hand_over_early(&mut self) {
        if let (Some(early), Some(top)) = (&self.early, &mut self.top) {
            top.set_taken(early.written_per_rule().clone());
        }
    }

    /// Early output: unit `unit` of `source` is fully evaluated (its alerts pushed); `latest`
    /// is its latest alert time. Writes what the watermark passed.
    pub fn unit_done(&mut self, source: usize, unit: u64, latest: Option<jiff::Timestamp>) {
        if self.violation.is_some() {
            return;
        }
        if let Some(early) = &mut self.early {
            early.frontier.unit_done(source, unit, latest);
            early.release();
        }
    }

    /// Early output: `source` had `units` work units.
    pub fn source_end(&mut self, source: usize, units: u64) {
        if self.violation.is_some() {
            return;
        }
        if let Some(early) = &mut self.early {
            early.frontier.source_end(source, units);
            early.release();
        }
    }

    /// Whether the run should stop reading: the order promise broke, or early output's reader
    /// is gone (a closed stdout).
    pub fn should_stop(&self) -> bool {
        self.violation.is_some() || self.early.as_ref().is_some_and(|e| e.closed)
    }

    /// The alert that sorted before one already written, if any.
    pub fn violation(&mut self) -> Option<&mut OrderViolation> {
        self.violation.as_mut()
    }

    /// What early output did (`on` false without it).
    pub fn early_report(&self) -> EarlyReport {
        self.early
            .as_ref()
            .map(EarlyRelease::report)
            .unwrap_or_default()
    }

    /// Past suppression: `--max-signals`, then the output store.
    fn route(&mut self, entry: Entry) -> io::Result<()> {
        match &mut self.top {
            Some(top) if !entry.alert.is_group_member() => {
                let main = &mut self.main;
                top.insert(entry, &mut |e| main.push(e))
            }
            _ => self.main.push(entry),
        }
    }

    /// Every alert taken: suppression applied, then the stream in output order.
    pub fn finish(
        mut self,
        suppressions: &HashMap<usize, &Suppression>,
    ) -> Result<AlertStream, SpillError> {
        let dir = self.spill_dir.clone();
        let failed = |e: io::Error| SpillError {
            dir: dir.clone(),
            io: e,
        };
        if let Some(e) = self.error.take() {
            return Err(failed(e));
        }
        let mut duplicates = 0u64;
        let mut over_max_signals = 0u64;
        let mut last_uuid = None;
        let mut early_reports = None;
        if let Some(mut early) = self.early.take() {
            // What early output still holds joins the ordinary store; the stream goes on from
            // the last alert written (a later delivery of it is a duplicate).
            let held: Vec<Entry> = early.take_held().collect();
            if let Some(top) = &mut self.top {
                top.set_taken(early.written_per_rule().clone());
            }
            for e in held {
                self.route(e).map_err(failed)?;
            }
            duplicates = early.duplicates;
            over_max_signals = early.over_max_signals;
            last_uuid = early.last_uuid();
            early_reports = Some(early.reports);
        }
        let mut spill = SpillStats::default();
        let mut removed_groups = HashSet::new();
        if let Some(store) = self.suppressed.take() {
            let mut sorted = store.into_sorted().map_err(failed)?;
            let mut suppressor = Suppressor::new(suppressions);
            let mut last_uuid: Option<String> = None;
            let mut done = Vec::new();
            while let Some(entry) = sorted.next().map_err(failed)? {
                if last_uuid.as_deref() == Some(entry.alert.uuid.as_str()) {
                    duplicates += u64::from(entry.first_of_record);
                    continue;
                }
                last_uuid = Some(entry.alert.uuid.clone());
                // Counted as a delivery here: the output store sees it once.
                let entry = Entry::new(entry.alert, false);
                suppressor.push(entry, &mut done);
                for e in done.drain(..) {
                    self.route(e).map_err(failed)?;
                }
            }
            removed_groups = suppressor.finish(&mut done);
            for e in done.drain(..) {
                self.route(e).map_err(failed)?;
            }
            spill.add(&sorted.stats());
        }
        let mut dropped_groups = HashSet::new();
        if let Some(top) = self.top.take() {
            let (kept, dropped) = top.into_parts();
            for e in kept {
                self.main.push(e).map_err(failed)?;
            }
            dropped_groups = dropped;
        }
        let sorted = self.main.into_sorted().map_err(failed)?;
        Ok(AlertStream {
            sorted,
            earlier_spill: spill,
            last_uuid,
            removed_groups,
            dropped_groups,
            duplicates,
            over_max_signals,
            early_reports,
            dir,
        })
    }
}

/// Writing or reading a spill file failed: the run's alerts are incomplete.
#[derive(Debug, thiserror::Error)]
#[error("cannot keep the run's alerts in a temporary file in {}: {io}", dir.as_ref().map_or_else(|| std::env::temp_dir().display().to_string(), |d| d.display().to_string()))]
pub struct SpillError {
    /// The folder given for spill files (`None`: the system's temporary folder).
    pub dir: Option<PathBuf>,
    pub io: io::Error,
}

/// The run's alerts in output order, each once.
pub(crate) struct AlertStream {
    sorted: Sorted,
    earlier_spill: SpillStats,
    last_uuid: Option<String>,
    removed_groups: HashSet<String>,
    dropped_groups: HashSet<String>,
    /// Records delivered again (their first alert was a duplicate), so far.
    pub duplicates: u64,
    /// Alerts `--max-signals` left out, so far.
    pub over_max_signals: u64,
    /// With early output: per rule (report index), the alerts already written.
    pub early_reports: Option<Vec<dragnet_detect::RuleReport>>,
    dir: Option<PathBuf>,
}

impl AlertStream {
    pub fn next(&mut self) -> Result<Option<Alert>, SpillError> {
        loop {
            let entry = match self.sorted.next() {
                Ok(Some(entry)) => entry,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(SpillError {
                        dir: self.dir.clone(),
                        io: e,
                    });
                }
            };
            let alert = &entry.alert;
            if self.last_uuid.as_deref() == Some(alert.uuid.as_str()) {
                self.duplicates += u64::from(entry.first_of_record);
                continue;
            }
            self.last_uuid = Some(alert.uuid.clone());
            if entry.husk {
                self.over_max_signals += 1;
                continue;
            }
            if alert.is_group_member()
                && let Some(group) = alert.group_id()
            {
                if self.removed_groups.contains(group) {
                    continue;
                }
                if self.dropped_groups.contains(group) {
                    self.over_max_signals += 1;
                    continue;
                }
            }
            return Ok(Some(entry.alert));
        }
    }

    /// What spilling cost, so far.
    pub fn spill_stats(&self) -> SpillStats {
        let mut stats = self.earlier_spill;
        stats.add(&self.sorted.stats());
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A per-event alert of `rule` on event `event` at second `second`, delivered at `order`.
    fn event_alert(rule: usize, event: &str, second: u32, order: (usize, u64, usize)) -> Alert {
        let time = format!("2024-01-01T00:00:{second:02}Z");
        let doc = json!({"kibana.alert.uuid": format!("{rule}-{event}"), "@timestamp": time});
        Alert::new(rule, &doc, event, Some(time), order)
    }

    /// A sequence of rule 2: its shell at `second` and two building blocks.
    fn sequence(id: &str, second: u32) -> Vec<Alert> {
        let time = format!("2024-01-01T00:00:{second:02}Z");
        let mut out = Vec::new();
        for index in [None, Some(0), Some(1)] {
            let mut doc = json!({
                "kibana.alert.uuid": format!("{id}-{index:?}"),
                "kibana.alert.group.id": id,
            });
            if let Some(i) = index {
                doc["kibana.alert.group.index"] = json!(i);
                doc["kibana.alert.building_block_type"] = json!("default");
            }
            out.push(Alert::new(
                2,
                &doc,
                &format!("{id}-e"),
                Some(time.clone()),
                (usize::MAX, 0, 0),
            ));
        }
        out
    }

    fn reports(names: &[&str]) -> Vec<dragnet_detect::RuleReport> {
        names
            .iter()
            .map(|name| dragnet_detect::RuleReport {
                rule_id: format!("id {name}"),
                name: name.to_string(),
                rule_type: "query".into(),
                language: None,
                severity: "low".into(),
                source: String::new(),
                status: dragnet_detect::RuleStatus::Run {
                    prefiltered: false,
                    notes: Vec::new(),
                },
                alerts: 0,
                first_seen: None,
                last_seen: None,
            })
            .collect()
    }

    /// The run's alerts (uuids in output order), duplicates and `--max-signals` drops.
    fn collect(budget: usize, max_signals: Option<usize>) -> (Vec<String>, u64, u64, SpillStats) {
        let mut collector = Collector::with(
            reports(&["b rule", "a rule", "seq"]),
            HashSet::new(),
            CollectOptions {
                alert_memory: Some(budget),
                spill_dir: None,
                max_signals,
                early: None,
            },
        );
        let mut entries = Vec::new();
        // Events 0..20, each matched by rules 0 and 1; every third delivered again later
        // (a second trail), and event 3 arriving from the second trail first.
        for e in 0..20u32 {
            let event = format!("ev{e:02}");
            let second = 59 - e;
            for delivery in [0usize, 1] {
                if delivery == 1 && e % 3 != 0 {
                    continue;
                }
                let source = if e == 3 { 1 - delivery } else { delivery };
                let order = (source, u64::from(e), 0);
                entries.push(Entry::new(event_alert(0, &event, second, order), true));
                entries.push(Entry::new(event_alert(1, &event, second, order), false));
            }
        }
        for (id, second) in [("s1", 30), ("s2", 10), ("s3", 50)] {
            entries.extend(
                sequence(id, second)
                    .into_iter()
                    .map(|a| Entry::new(a, false)),
            );
        }
        for entry in entries {
            collector.push(entry);
        }
        let mut stream = collector.finish(&HashMap::new()).unwrap();
        let mut uuids = Vec::new();
        while let Some(a) = stream.next().unwrap() {
            uuids.push(format!("{} {:?}", a.uuid, a.order));
        }
        (
            uuids,
            stream.duplicates,
            stream.over_max_signals,
            stream.spill_stats(),
        )
    }

    #[test]
    fn spilled_or_not_the_stream_is_the_same_deduplicated_and_in_order() {
        let (in_memory, duplicates, dropped, spill) = collect(usize::MAX, None);
        assert_eq!(spill, SpillStats::default());
        // 20 events x 2 rules, 3 sequences x 3 alerts; 7 events delivered twice.
        assert_eq!(in_memory.len(), 49);
        assert_eq!((duplicates, dropped), (7, 0));
        // In time: sequence s2 (second 10: its shell, then its blocks), s1 (30), then the
        // earliest event, ev19 (40); at one time, "a rule" before "b rule".
        assert_eq!(in_memory[0], "s2-None (18446744073709551615, 0, 0)");
        assert_eq!(in_memory[2], "s2-Some(1) (18446744073709551615, 0, 0)");
        assert!(in_memory[6..].starts_with(&[
            "1-ev19 (0, 19, 0)".to_string(),
            "0-ev19 (0, 19, 0)".to_string(),
        ]));
        // The first delivery in input order wins, whatever the arrival order.
        assert!(in_memory.contains(&"0-ev03 (0, 3, 0)".to_string()));
        assert!(!in_memory.contains(&"0-ev03 (1, 3, 0)".to_string()));
        let (spilled, spilled_duplicates, _, spill) = collect(1, None);
        assert_eq!(spilled, in_memory);
        assert_eq!(spilled_duplicates, 7);
        assert!(spill.files > 50, "{spill:?}");
    }

    #[test]
    fn max_signals_keeps_the_first_per_rule_and_sequences_count_once() {
        for budget in [usize::MAX, 1] {
            let (alerts, duplicates, dropped, _) = collect(budget, Some(2));
            // Two per rule; the sequences' first shell (s2, second 10) keeps its two blocks.
            assert_eq!(alerts.len(), 2 + 2 + 2 * 3, "{alerts:#?}");
            assert!(alerts.iter().any(|a| a.starts_with("s2-Some(1)")));
            assert!(alerts.iter().any(|a| a.starts_with("s1-None")));
            assert!(!alerts.iter().any(|a| a.starts_with("s3-")));
            // 18 + 18 per-event alerts and one sequence (3 alerts) left out; duplicates still
            // counted exactly.
            assert_eq!((duplicates, dropped), (7, 18 + 18 + 3));
            assert!(alerts.contains(&"0-ev19 (0, 19, 0)".to_string()));
        }
    }

    /// One record's alert in a test of early output: (rule, event, second, first of record).
    type Spec = (usize, &'static str, u32, bool);

    /// What a run of `units` (the work units of source 0, each its alerts in input order)
    /// writes: every alert as "uuid order", the early ones first; duplicates, `--max-signals`
    /// drops, alerts written early, and the early reports' (alerts, first, last) per rule.
    struct Written {
        alerts: Vec<String>,
        duplicates: u64,
        over: u64,
        early: u64,
        counts: Vec<(u64, Option<String>, Option<String>)>,
    }

    /// Runs `units` through a collector, the units completing in `completion` order; with
    /// `early`, what early output writes is taken as it comes.
    fn through_units(
        units: &[Vec<Spec>],
        completion: &[usize],
        early: bool,
        budget: usize,
        max_signals: Option<usize>,
    ) -> Result<Written, Box<OrderViolation>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(100_000);
        let mut collector = Collector::with(
            reports(&["b rule", "a rule"]),
            HashSet::new(),
            CollectOptions {
                alert_memory: Some(budget),
                spill_dir: None,
                max_signals,
                early: early.then_some(tx),
            },
        );
        let mut written = Vec::new();
        let take = |written: &mut Vec<String>| {
            written.extend(
                rx.try_iter()
                    .map(|a: Alert| format!("{} {:?}", a.uuid, a.order)),
            );
        };
        for &u in completion {
            for (i, &(rule, event, second, first)) in units[u].iter().enumerate() {
                let order = (0, u as u64, i);
                if !collector.push(Entry::new(event_alert(rule, event, second, order), first)) {
                    return Err(Box::new(collector.violation().unwrap().clone()));
                }
            }
            collector.unit_done(0, u as u64, latest(&units[u]));
            take(&mut written);
        }
        collector.source_end(0, units.len() as u64);
        take(&mut written);
        let early_written = written.len() as u64;
        let mut stream = collector.finish(&HashMap::new()).unwrap();
        let mut counts: Vec<_> = stream
            .early_reports
            .clone()
            .unwrap_or_else(|| reports(&["b rule", "a rule"]))
            .into_iter()
            .map(|r| (r.alerts, r.first_seen, r.last_seen))
            .collect();
        while let Some(a) = stream.next().unwrap() {
            let c = &mut counts[a.rule];
            c.0 += 1;
            c.1 = Some(
                c.1.take()
                    .map_or(a.timestamp.clone(), |f| f.min(a.timestamp.clone())),
            );
            c.2 = Some(
                c.2.take()
                    .map_or(a.timestamp.clone(), |l| l.max(a.timestamp.clone())),
            );
            written.push(format!("{} {:?}", a.uuid, a.order));
        }
        Ok(Written {
            alerts: written,
            duplicates: stream.duplicates,
            over: stream.over_max_signals,
            early: early_written,
            counts,
        })
    }

    fn latest(unit: &[Spec]) -> Option<jiff::Timestamp> {
        unit.iter()
            .map(|&(_, _, second, _)| format!("2024-01-01T00:00:{second:02}Z").parse().unwrap())
            .max()
    }

    /// A time-ordered input: 30 events, one a second, in units of 5; rule 0 ("b rule") alerts
    /// on every one, rule 1 on the even ones; e14, the last of unit 2, is delivered again (a
    /// second trail) first in unit 3.
    fn ordered_units() -> Vec<Vec<Spec>> {
        const EVENTS: [&str; 30] = [
            "e00", "e01", "e02", "e03", "e04", "e05", "e06", "e07", "e08", "e09", "e10", "e11",
            "e12", "e13", "e14", "e15", "e16", "e17", "e18", "e19", "e20", "e21", "e22", "e23",
            "e24", "e25", "e26", "e27", "e28", "e29",
        ];
        let mut units = vec![Vec::new(); 6];
        for (e, event) in EVENTS.iter().enumerate() {
            let second = e as u32;
            let unit = &mut units[e / 5];
            unit.push((0, *event, second, true));
            if e % 2 == 0 {
                unit.push((1, *event, second, false));
            }
        }
        units[3].insert(0, (0, "e14", 14, true));
        units[3].insert(1, (1, "e14", 14, false));
        units
    }

    #[test]
    fn early_output_writes_what_the_end_of_the_run_writes() {
        let units = ordered_units();
        // Units complete in order, or workers finish them out of order.
        for completion in [
            vec![0, 1, 2, 3, 4, 5],
            vec![1, 0, 3, 2, 5, 4],
            vec![2, 1, 0, 5, 4, 3],
        ] {
            for max_signals in [None, Some(3), Some(0)] {
                let end =
                    through_units(&units, &completion, false, usize::MAX, max_signals).unwrap();
                assert_eq!(end.early, 0);
                for budget in [usize::MAX, 3_000] {
                    let early =
                        through_units(&units, &completion, true, budget, max_signals).unwrap();
                    let what = format!("{completion:?} {max_signals:?} {budget}");
                    assert_eq!(early.alerts, end.alerts, "{what}");
                    assert_eq!(
                        (early.duplicates, early.over),
                        (end.duplicates, end.over),
                        "{what}"
                    );
                    assert_eq!(early.counts, end.counts, "{what}");
                    if budget == usize::MAX {
                        // Whatever the completion order, the alerts before second 24 (the
                        // last unit's first) went out early: 24 of rule 0, 12 of rule 1.
                        let before_last_unit = end.alerts.len().min(36) as u64;
                        assert!(early.early >= before_last_unit, "{what}: {}", early.early);
                    }
                }
                if max_signals.is_none() {
                    // 30 + 15 alerts, the second delivery of e14 (2 alerts) a duplicate.
                    assert_eq!(end.alerts.len(), 45);
                    assert_eq!(end.duplicates, 1);
                }
            }
        }
    }

    #[test]
    fn a_later_delivery_of_an_alert_already_written_is_a_duplicate() {
        // Unit 0 ends at second 4, so e03 is written once unit 0 is done; unit 1 delivers e03
        // again (same second, later in the input): not out of order, a duplicate.
        let units: Vec<Vec<Spec>> = vec![
            vec![(0, "e03", 3, true), (0, "e04", 4, true)],
            vec![
                (0, "e03", 3, true),
                (0, "e05", 5, true),
                (0, "e06", 6, true),
            ],
        ];
        let early = through_units(&units, &[0, 1], true, usize::MAX, None).unwrap();
        let end = through_units(&units, &[0, 1], false, usize::MAX, None).unwrap();
        assert_eq!(early.alerts, end.alerts);
        assert_eq!(early.alerts.len(), 4);
        assert_eq!((early.duplicates, end.duplicates), (1, 1));
        // e03 after unit 0 (whose latest second is 4), e04 and e05 after unit 1, e06 at the end.
        assert_eq!(early.early, 3);
    }

    #[test]
    fn an_alert_sorting_before_one_written_is_a_violation() {
        // Unit 1 holds a record of second 1 after unit 0 wrote seconds up to 3.
        let units: Vec<Vec<Spec>> = vec![
            vec![
                (0, "e02", 2, true),
                (0, "e03", 3, true),
                (0, "e04", 4, true),
            ],
            vec![(0, "e05", 5, true), (1, "e01", 1, true)],
        ];
        let v = match through_units(&units, &[0, 1], true, usize::MAX, None) {
            Err(v) => v,
            Ok(w) => panic!("no violation: {:?}", w.alerts),
        };
        assert_eq!(
            (v.rule.as_str(), v.event_id.as_str(), v.written),
            ("a rule", "e01", 2)
        );
        assert_eq!(v.written_timestamp, "2024-01-01T00:00:03Z");
        // Without early output nothing was written: the same input is fine.
        assert!(through_units(&units, &[0, 1], false, usize::MAX, None).is_ok());
        // Units done out of order are not a violation while nothing after them was written.
        assert!(through_units(&units, &[1, 0], true, usize::MAX, None).is_ok());
    }
}
