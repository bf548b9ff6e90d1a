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
        let names: Arc<Vec<String>> =
            Arc::new(engine.reports.iter().map(|r| r.name.clone()).collect());
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
        let suppressed_rules: HashSet<usize> = engine
            .rules
            .iter()
            .filter(|r| r.suppression.is_some())
            .map(|r| r.report)
            .collect();
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
            spill_dir: options.spill_dir.clone(),
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
