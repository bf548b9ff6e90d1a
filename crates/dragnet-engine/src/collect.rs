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

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use dragnet_alert::Alert;

use crate::alert_store::{
    AlertStore, DEFAULT_ALERT_MEMORY, Entry, EntryOrder, Sorted, SpillStats, TopN,
};
use crate::engine::Engine;
use crate::suppression::{Suppression, Suppressor, time_ms};

/// How a run keeps its alerts (from `RunOptions`).
pub(crate) struct CollectOptions {
    /// Bytes of alerts per store kept in memory; `None`: [`DEFAULT_ALERT_MEMORY`].
    pub alert_memory: Option<usize>,
    pub spill_dir: Option<PathBuf>,
    pub max_signals: Option<usize>,
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
}

impl Collector {
    pub fn new(engine: &Engine, options: CollectOptions) -> Collector {
        let suppressed_rules: HashSet<usize> = engine
            .rules
            .iter()
            .filter(|r| r.suppression.is_some())
            .map(|r| r.report)
            .collect();
        Collector::with(
            engine.reports.iter().map(|r| r.name.clone()).collect(),
            suppressed_rules,
            options,
        )
    }

    /// `names`: each rule's name by report index; `suppressed_rules`: the report indexes of the
    /// rules with suppression.
    fn with(
        names: Vec<String>,
        suppressed_rules: HashSet<usize>,
        options: CollectOptions,
    ) -> Collector {
        let names = Arc::new(names);
        let output_order: EntryOrder = Arc::new(move |a: &Entry, b: &Entry| {
            let (a, b) = (&a.alert, &b.alert);
            a.sort_time
                .cmp(&b.sort_time)
                .then_with(|| a.timestamp.cmp(&b.timestamp))
                .then_with(|| names[a.rule].cmp(&names[b.rule]))
                .then_with(|| a.event_id.cmp(&b.event_id))
                .then_with(|| a.uuid.cmp(&b.uuid))
                .then_with(|| a.order.cmp(&b.order))
        });
        let budget = options.alert_memory.unwrap_or(DEFAULT_ALERT_MEMORY);
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
        }
    }

    /// Takes one alert.
    pub fn push(&mut self, entry: Entry) {
        if self.error.is_some() {
            return;
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
            last_uuid: None,
            removed_groups,
            dropped_groups,
            duplicates,
            over_max_signals: 0,
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

    /// The run's alerts (uuids in output order), duplicates and `--max-signals` drops.
    fn collect(budget: usize, max_signals: Option<usize>) -> (Vec<String>, u64, u64, SpillStats) {
        let names = vec!["b rule".to_string(), "a rule".into(), "seq".into()];
        let mut collector = Collector::with(
            names,
            HashSet::new(),
            CollectOptions {
                alert_memory: Some(budget),
                spill_dir: None,
                max_signals,
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
}
