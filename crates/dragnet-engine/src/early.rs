//! Early output for input the user states is in `@timestamp` order (`hunt --time-ordered`):
//! alerts leave the run while it goes on, in the order and with the content the end of the run
//! would give them.
//!
//! The watermark contract (ARCHITECTURE.md, "Early output"):
//! - Work units (a batch, or a segment of a memory-mapped file) are numbered in input order per
//!   source. The [`Frontier`] knows which are fully evaluated; the watermark is the latest alert
//!   time of the units before the first one not done. Under the promise, every record not yet
//!   evaluated is at or after that time, so every held alert strictly earlier than it can be
//!   written: nothing still to come sorts before it.
//! - The promise is checked, not trusted: an alert that sorts before the last one written is an
//!   [`OrderViolation`] and stops the run. What was written before is then a correct prefix of
//!   the output (every alert written sorted before every alert that arrived before it).
//! - Dedup, `--max-signals` and the per-rule counts are applied as the end-of-run stream applies
//!   them (`collect.rs`), so a run that succeeds writes the same bytes with or without early
//!   output. Only per-event rules without suppression qualify ([`Engine::early_output_blocker`]
//!   in `run.rs`): aggregations alert at the end.
//! - Held alerts are bounded by `--alert-memory`; past it (a worker far behind the others),
//!   early output stops and the held alerts go to the ordinary store, which spills.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use dragnet_alert::{Alert, InputOrder};
use dragnet_detect::RuleReport;
use jiff::Timestamp;

use crate::alert_store::Entry;

/// Alerts the channel to the writer holds before the run waits for it.
pub const EARLY_CHANNEL_ALERTS: usize = 1024;

/// Where a time-ordered run sends the alerts it writes before its end
/// ([`crate::Engine::run_stream_early`]); the other end is a [`Receiver`] of them.
pub struct EarlyAlerts(pub(crate) SyncSender<Alert>);

/// A channel for early output: give the sender to [`crate::Engine::run_stream_early`] and write
/// what the receiver gets as it comes; dropping the receiver stops the run soon after.
pub fn early_alerts() -> (EarlyAlerts, Receiver<Alert>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(EARLY_CHANNEL_ALERTS);
    (EarlyAlerts(tx), rx)
}

/// The documented output order (time, timestamp text, rule name, event id, uuid), input order
/// last so that deliveries of one alert are adjacent, the first first. The one definition the
/// store and the early check share.
pub(crate) fn output_cmp(names: &[String], a: &Key<'_>, b: &Key<'_>) -> Ordering {
    a.sort_time
        .cmp(&b.sort_time)
        .then_with(|| a.timestamp.cmp(b.timestamp))
        .then_with(|| names[a.rule].cmp(&names[b.rule]))
        .then_with(|| a.event_id.cmp(b.event_id))
        .then_with(|| a.uuid.cmp(b.uuid))
        .then_with(|| a.order.cmp(&b.order))
}

/// What the output order reads of an alert.
pub(crate) struct Key<'a> {
    sort_time: Option<Timestamp>,
    timestamp: &'a str,
    rule: usize,
    event_id: &'a str,
    uuid: &'a str,
    order: InputOrder,
}

impl<'a> Key<'a> {
    pub fn of(a: &'a Alert) -> Key<'a> {
        Key {
            sort_time: a.sort_time,
            timestamp: &a.timestamp,
            rule: a.rule,
            event_id: &a.event_id,
            uuid: &a.uuid,
            order: a.order,
        }
    }
}

/// The key of the last alert written, kept without its document.
struct WrittenKey {
    sort_time: Option<Timestamp>,
    timestamp: String,
    rule: usize,
    event_id: String,
    uuid: String,
    order: InputOrder,
}

impl WrittenKey {
    fn key(&self) -> Key<'_> {
        Key {
            sort_time: self.sort_time,
            timestamp: &self.timestamp,
            rule: self.rule,
            event_id: &self.event_id,
            uuid: &self.uuid,
            order: self.order,
        }
    }
}

/// Counts one alert given to the output into its rule's report (alerts, first and last seen).
pub(crate) fn count_alert(report: &mut RuleReport, a: &Alert) {
    report.alerts += 1;
    if report
        .first_seen
        .as_deref()
        .is_none_or(|f| a.timestamp.as_str() < f)
    {
        report.first_seen = Some(a.timestamp.clone());
    }
    if report
        .last_seen
        .as_deref()
        .is_none_or(|l| a.timestamp.as_str() > l)
    {
        report.last_seen = Some(a.timestamp.clone());
    }
}

/// Which work units of a run are fully evaluated, and the watermark behind them.
#[derive(Debug, Default)]
pub(crate) struct Frontier {
    /// Every source before this one is done.
    source: usize,
    /// Units of `source` done, in order.
    next_unit: u64,
    /// Units done ahead of the frontier, with their latest alert time.
    ahead: BTreeMap<(usize, u64), Option<Timestamp>>,
    /// Per source whose reading ended: how many units it had.
    ends: HashMap<usize, u64>,
    watermark: Option<Timestamp>,
}

impl Frontier {
    /// Unit `unit` of `source` is evaluated; `latest`: the latest time of its alerts.
    pub fn unit_done(&mut self, source: usize, unit: u64, latest: Option<Timestamp>) {
        self.ahead.insert((source, unit), latest);
        self.advance();
    }

    /// `source` had `units` units.
    pub fn source_end(&mut self, source: usize, units: u64) {
        self.ends.insert(source, units);
        self.advance();
    }

    /// The latest alert time of the work behind the frontier.
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark
    }

    fn advance(&mut self) {
        loop {
            if let Some(latest) = self.ahead.remove(&(self.source, self.next_unit)) {
                self.watermark = self.watermark.max(latest);
                self.next_unit += 1;
            } else if self.ends.get(&self.source) == Some(&self.next_unit) {
                self.ends.remove(&self.source);
                self.source += 1;
                self.next_unit = 0;
            } else {
                return;
            }
        }
    }
}

/// An alert arrived that sorts before one already written: the input was not in time order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderViolation {
    /// The rule of the late alert.
    pub rule: String,
    /// Its event's id and `@timestamp` (empty when it has none).
    pub event_id: String,
    pub timestamp: String,
    /// The `@timestamp` of the last alert written.
    pub written_timestamp: String,
    /// Alerts written before the run stopped.
    pub written: u64,
    /// The file and where in it the late alert's record is (filled in by the run).
    pub source: String,
    pub location: Option<dragnet_input::RecordLocation>,
    /// (source, segment) when `location` is still the segment's own.
    pub(crate) segment: Option<(usize, u64)>,
}

impl std::fmt::Display for OrderViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = match &self.location {
            Some(l) => format!("{}: {l}", self.source),
            None => self.source.clone(),
        };
        let time = if self.timestamp.is_empty() {
            "no @timestamp".to_string()
        } else {
            format!("@timestamp {}", self.timestamp)
        };
        write!(
            f,
            "the input is not in @timestamp order: {at}: event {} ({time}) alerts for rule \"{}\" before an alert already written (@timestamp {})",
            self.event_id, self.rule, self.written_timestamp
        )
    }
}

/// What became of early output, for the run's notes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EarlyReport {
    /// Early output was on.
    pub on: bool,
    /// Alerts written while the run went on.
    pub written: u64,
    /// Early output stopped because the held alerts passed `--alert-memory`.
    pub overflowed: bool,
}

/// A held alert in a min-heap by output order.
struct Held {
    entry: Entry,
    names: Arc<Vec<String>>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the heap's top is the least.
        output_cmp(
            &self.names,
            &Key::of(&other.entry.alert),
            &Key::of(&self.entry.alert),
        )
    }
}

/// The early side of a run's collector: holds alerts until the watermark passes them, then
/// writes them to `sink` deduplicated and limited by `--max-signals`.
pub(crate) struct EarlyRelease {
    names: Arc<Vec<String>>,
    held: BinaryHeap<Held>,
    held_bytes: usize,
    budget: usize,
    pub frontier: Frontier,
    last: Option<WrittenKey>,
    /// Alerts written per rule (report index), for `--max-signals`.
    written_per_rule: HashMap<usize, usize>,
    max_signals: Option<usize>,
    /// Deliveries dropped as duplicates (their record's first alert), alerts `--max-signals`
    /// left out, as [`crate::collect`]'s stream counts them.
    pub duplicates: u64,
    pub over_max_signals: u64,
    /// Per rule, the alerts written (counts, first and last seen).
    pub reports: Vec<RuleReport>,
    sink: SyncSender<Alert>,
    /// The receiver is gone (the output was closed): the run should stop.
    pub closed: bool,
    /// Past the budget: no more early output; the held alerts went to the ordinary store.
    pub overflowed: bool,
    pub written: u64,
}

impl EarlyRelease {
    pub fn new(
        names: Arc<Vec<String>>,
        reports: Vec<RuleReport>,
        budget: usize,
        max_signals: Option<usize>,
        sink: SyncSender<Alert>,
    ) -> EarlyRelease {
        let reports = reports
            .into_iter()
            .map(|mut r| {
                r.alerts = 0;
                r.first_seen = None;
                r.last_seen = None;
                r
            })
            .collect();
        EarlyRelease {
            names,
            held: BinaryHeap::new(),
            held_bytes: 0,
            budget,
            frontier: Frontier::default(),
            last: None,
            written_per_rule: HashMap::new(),
            max_signals,
            duplicates: 0,
            over_max_signals: 0,
            reports,
            sink,
            closed: false,
            overflowed: false,
            written: 0,
        }
    }

    /// Whether `alert` sorts before the last alert written: the promise of time order broke.
    pub fn sorts_before_written(&self, alert: &Alert) -> Option<OrderViolation> {
        let last = self.last.as_ref()?;
        (output_cmp(&self.names, &Key::of(alert), &last.key()) == Ordering::Less).then(|| {
            OrderViolation {
                rule: self.names[alert.rule].clone(),
                event_id: alert.event_id.clone(),
                timestamp: alert.timestamp.clone(),
                written_timestamp: last.timestamp.clone(),
                written: self.written,
                source: String::new(),
                location: None,
                segment: None,
            }
        })
    }

    /// Holds `entry` (checked by [`EarlyRelease::sorts_before_written`]). Returns false when the
    /// held alerts pass the budget: the caller then takes them back ([`EarlyRelease::take_held`]).
    pub fn hold(&mut self, mut entry: Entry) -> bool {
        // Its rule already wrote its N: it cannot be written, only counted.
        if let Some(max) = self.max_signals
            && !entry.husk
            && self.written_per_rule.get(&entry.alert.rule).copied() >= Some(max)
        {
            entry.alert.strip_document();
            entry.husk = true;
        }
        self.held_bytes += entry.footprint();
        self.held.push(Held {
            entry,
            names: self.names.clone(),
        });
        self.held_bytes <= self.budget
    }

    /// Gives up early output: the held alerts, for the ordinary store.
    pub fn take_held(&mut self) -> impl Iterator<Item = Entry> + use<> {
        self.overflowed = true;
        self.held_bytes = 0;
        std::mem::take(&mut self.held)
            .into_vec()
            .into_iter()
            .map(|h| h.entry)
    }

    /// Per rule, the alerts already written (the end-of-run `--max-signals` counts them).
    pub fn written_per_rule(&self) -> &HashMap<usize, usize> {
        &self.written_per_rule
    }

    /// The uuid of the last alert written: a later delivery of it is a duplicate.
    pub fn last_uuid(&self) -> Option<String> {
        self.last.as_ref().map(|l| l.uuid.clone())
    }

    /// Writes every held alert strictly before the watermark, in output order.
    pub fn release(&mut self) {
        if self.overflowed || self.closed {
            return;
        }
        let Some(watermark) = self.frontier.watermark() else {
            return;
        };
        while let Some(top) = self.held.peek()
            && top.entry.alert.sort_time < Some(watermark)
        {
            let entry = self.held.pop().expect("peeked").entry;
            self.held_bytes = self.held_bytes.saturating_sub(entry.footprint());
            let alert = entry.alert;
            // As the end-of-run stream does: dedup, then `--max-signals`.
            if self.last.as_ref().is_some_and(|l| l.uuid == alert.uuid) {
                self.duplicates += u64::from(entry.first_of_record);
                continue;
            }
            self.last = Some(WrittenKey {
                sort_time: alert.sort_time,
                timestamp: alert.timestamp.clone(),
                rule: alert.rule,
                event_id: alert.event_id.clone(),
                uuid: alert.uuid.clone(),
                order: alert.order,
            });
            let written = self.written_per_rule.entry(alert.rule).or_default();
            if entry.husk || self.max_signals.is_some_and(|max| *written >= max) {
                self.over_max_signals += 1;
                continue;
            }
            *written += 1;
            self.written += 1;
            count_alert(&mut self.reports[alert.rule], &alert);
            if self.sink.send(alert).is_err() {
                self.closed = true;
                return;
            }
        }
    }

    pub fn report(&self) -> EarlyReport {
        EarlyReport {
            on: true,
            written: self.written,
            overflowed: self.overflowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(second: i64) -> Option<Timestamp> {
        Some(Timestamp::from_second(1_700_000_000 + second).unwrap())
    }

    #[test]
    fn the_watermark_waits_for_the_first_unit_not_done() {
        let mut f = Frontier::default();
        f.unit_done(0, 1, t(5));
        assert_eq!(f.watermark(), None, "unit 0 is not done");
        f.unit_done(0, 0, t(2));
        assert_eq!(f.watermark(), t(5));
        // Source 1 is done ahead, source 0 has one more unit, not yet done.
        f.unit_done(1, 0, t(9));
        f.source_end(1, 1);
        f.source_end(0, 3);
        assert_eq!(f.watermark(), t(5));
        // A unit without alerts moves the frontier without moving the watermark back.
        f.unit_done(0, 2, None);
        assert_eq!(f.watermark(), t(9));
    }

    #[test]
    fn sources_without_units_pass() {
        let mut f = Frontier::default();
        f.source_end(0, 0);
        f.unit_done(1, 0, t(1));
        assert_eq!(f.watermark(), t(1));
    }
}
