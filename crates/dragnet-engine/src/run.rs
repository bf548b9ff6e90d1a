//! The parallel run: reader threads frame records into batches, a bounded channel hands them to
//! rayon workers, each record goes prefilter -> map -> detectors -> alert. Alerts go to a store
//! bounded in memory ([`crate::collect`]) that gives them back deduplicated and sorted, so
//! output is the same whatever the thread count.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use dragnet_event::{Event, JsonEvent};
use dragnet_input::{
    InputOptions, Problem, RecordBatch, RecordKind, RecordLocation, RecordSpan, SegmentBase,
    SegmentStats, Source, Work,
};
use jiff::Timestamp;
use rayon::iter::{ParallelBridge, ParallelIterator};
use serde::Serialize;
use serde_json::{Map, Value};

use dragnet_alert::{
    Alert, CLOUDTRAIL_DATA_STREAM, InputOrder, RuleFields, build_alert_fields, field_strings,
    parse_time, sha256_hex,
};
use dragnet_detect::{Detection, DetectorOptions, RuleReport, RuleStatus};

use crate::alert_store::{Entry, SpillStats};
use crate::collect::{AlertStream, CollectOptions, Collector, SpillError};
use crate::cost::{CostCounters, RuleCost};
use crate::early::{EarlyAlerts, EarlyReport, OrderViolation, count_alert};
use crate::engine::{ActiveRule, Engine};
use crate::problem_keeper::{DEFAULT_MAX_PROBLEMS, OrderedProblem, ProblemKeeper, problem_key};
use crate::suppression::Suppression;
use dragnet_prefilter::Scratch;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Attach `dragnet.explain` (which clauses matched on which values) to each alert.
    pub explain: bool,
    /// Keep only alerts whose event time is at or after this instant.
    pub from: Option<Timestamp>,
    /// Keep only alerts whose event time is before this instant.
    pub to: Option<Timestamp>,
    /// At most this many alerts per rule (the earliest); `None` reports every alert.
    pub max_signals: Option<usize>,
    /// Evaluate every rule on every record, without the raw-bytes prefilter (a baseline for
    /// benchmarks and a soundness check: alerts must not change).
    pub no_prefilter: bool,
    /// Worker threads; `None` uses rayon's default (one per core, or RAYON_NUM_THREADS).
    pub threads: Option<usize>,
    /// Per EQL sequence (or sample) rule, at most this many candidate events are kept for
    /// sorting once they arrived out of time order (`--max-sequence-candidates`; ordered input
    /// streams and is not capped); `None`: the default, 1,000,000.
    pub max_sequence_candidates: Option<usize>,
    /// Per new_terms or threshold rule, at most this many state entries
    /// (`--max-aggregation-entries`); `None`: the default.
    pub max_aggregation_entries: Option<usize>,
    /// Count each rule's evaluation time, candidates and matches into
    /// [`RunOutput::rule_costs`] (`hunt -vv`).
    pub rule_costs: bool,
    /// Large memory-mapped JSON-lines files are cut into segments of about this many bytes,
    /// which the workers frame in parallel ([`dragnet_input::read_work`]); `None`: the default,
    /// [`SEGMENT_BYTES`]; `Some(usize::MAX)` frames every file on one reader thread.
    pub segment_bytes: Option<usize>,
    /// Which evaluated events to hand back in [`RunOutput::events`], with their ECS document
    /// and location (searches: `dragnet kql`/`eql` print the events, not alerts). With
    /// [`Capture::All`] the prefilter is off, so every record is evaluated and listed.
    pub capture: Capture,
    /// Bytes of alerts kept in memory before a sorted run of them is spilled to a temporary
    /// file (`--alert-memory`); `None`: [`crate::DEFAULT_ALERT_MEMORY`].
    pub alert_memory: Option<usize>,
    /// Where spill files go (`--spill-dir`); `None`: the system's temporary folder.
    pub spill_dir: Option<PathBuf>,
    /// Problems about records kept for the report, the first in input order
    /// (`--max-problems`); the others are counted. `None`: [`crate::DEFAULT_MAX_PROBLEMS`].
    pub max_problems: Option<usize>,
    /// `dragnet esql`: ES|QL rules hand their result table back here instead of alerting.
    pub esql_table: Option<dragnet_detect::detector::TableRequest>,
}

/// Which events a run hands back ([`RunOptions::capture`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Capture {
    /// None: a hunt reports alerts only.
    #[default]
    None,
    /// Events some rule's per-event detection matched.
    Matches,
    /// Every event evaluated, matching or not.
    All,
}

/// One event a run captured ([`RunOptions::capture`]).
#[derive(Clone, Debug)]
pub struct CapturedEvent {
    /// The source's display name.
    pub source: Arc<str>,
    pub location: RecordLocation,
    /// The ECS document (raw CloudTrail mapped as the AWS integration does).
    pub doc: Value,
    /// Whether some rule's per-event detection matched it (sequence and sample steps do not
    /// count: they decide at the end of the run, in alerts).
    pub matched: bool,
    /// With [`RunOptions::explain`]: how each rule evaluated on it decided, as text.
    pub explanation: Option<String>,
    order: InputOrder,
    segment: Option<u64>,
}
impl RunOptions {
    /// What the detectors need of these options.
    pub fn detector_options(&self) -> DetectorOptions {
        DetectorOptions {
            from: self.from,
            to: self.to,
            max_signals: self.max_signals,
            max_sequence_candidates: self.max_sequence_candidates,
            max_aggregation_entries: self.max_aggregation_entries,
            esql_table: self.esql_table.clone(),
        }
    }
}

/// Segments fit the workers' L2 cache: framing a segment, then prefiltering and evaluating its
/// records, reads the bytes from memory once.
pub const SEGMENT_BYTES: usize = 1 << 20;

/// Live counters a progress display can poll from another thread.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub records: AtomicU64,
    /// Alerts so far: while records are read, the per-event alerts found (each delivery of an
    /// event counts: telling duplicates apart takes the end-of-run merge); [`Engine::run`]
    /// leaves exactly the alerts of [`RunOutput::alerts`] in it (aggregations and sequences
    /// added, duplicates and limits applied), as does [`RunStream::next_alert`] once it has
    /// given the last alert.
    pub alerts: AtomicU64,
}

/// Counts for the run summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Sources found.
    pub files: u64,
    /// Sources that yielded no record because of a problem (unreadable, not CloudTrail…).
    pub files_skipped: u64,
    /// Decompressed bytes of framed records.
    pub bytes: u64,
    /// Records framed from the input.
    pub records_read: u64,
    /// Records no rule could match, skipped by the raw-bytes prefilter without parsing.
    pub records_prefiltered: u64,
    /// Records the prefilter's batch scan found opening no rule's gate: skipped, or (when
    /// some rules have no gate) evaluated by those rules only.
    pub records_gated_out: u64,
    /// Records parsed and evaluated by at least one rule.
    pub records_evaluated: u64,
    /// Records that produced at least one alert (counted once per delivery).
    pub records_matched: u64,
    /// Records reported as problems (malformed, truncated, not an object…).
    pub records_skipped: u64,
    /// Matched records whose event id had already been seen: the same event delivered twice.
    pub duplicates: u64,
    /// (record, rule) evaluations the prefilter avoided.
    pub rule_evaluations_skipped: u64,
    /// (record, rule) evaluations performed.
    pub rule_evaluations: u64,
    /// Alerts dropped because their event time is outside `--from`/`--to`.
    pub alerts_outside_time_range: u64,
    /// Matched records without a usable time (`@timestamp`, or the rule's
    /// `timestamp_override`) under `--from`/`--to`: their alerts were left out, as a range
    /// query leaves out documents without the field.
    pub records_without_time: u64,
    /// Alerts dropped by `--max-signals`.
    pub alerts_over_max_signals: u64,
    /// Raw CloudTrail records matched by a rule with `timestamp_override` (which cannot be
    /// honoured without `event.ingested`: `@timestamp` is used).
    pub timestamp_override_fallbacks: u64,
    /// Problems about records counted but not kept for the report (past `--max-problems`).
    pub problems_not_kept: u64,
    /// Bytes of alerts written to spill files (0: every alert fitted `--alert-memory`).
    pub alert_spill_bytes: u64,
    /// Spill files written.
    pub alert_spill_files: u64,
    /// Milliseconds spent merging spill files.
    pub alert_merge_ms: u64,
}

impl RunStats {
    fn add(&mut self, o: &RunStats) {
        self.bytes += o.bytes;
        self.records_read += o.records_read;
        self.records_prefiltered += o.records_prefiltered;
        self.records_gated_out += o.records_gated_out;
        self.records_evaluated += o.records_evaluated;
        self.records_matched += o.records_matched;
        self.records_skipped += o.records_skipped;
        self.rule_evaluations_skipped += o.rule_evaluations_skipped;
        self.rule_evaluations += o.rule_evaluations;
        self.alerts_outside_time_range += o.alerts_outside_time_range;
        self.records_without_time += o.records_without_time;
        self.timestamp_override_fallbacks += o.timestamp_override_fallbacks;
    }
}

/// What a run produced.
pub struct RunOutput {
    /// Sorted by (@timestamp, rule name, event id).
    pub alerts: Vec<Alert>,
    /// In input order.
    pub problems: Vec<Problem>,
    pub stats: RunStats,
    /// Per rule (same order as [`Engine::reports`]): alerts, first and last seen.
    pub reports: Vec<RuleReport>,
    /// Limits stateful rules hit (results may be missing), one line each, for stderr.
    pub warnings: Vec<String>,
    /// The events [`RunOptions::capture`] asked for, in input order.
    pub events: Vec<CapturedEvent>,
    /// With [`RunOptions::rule_costs`]: per rule run, what it cost, in engine rule order.
    pub rule_costs: Vec<RuleCost>,
}

struct BatchResult {
    alerts: Vec<Entry>,
    /// Where each alert's record is, in [`BatchResult::alerts`] order (for the message when
    /// early output finds the input out of time order).
    locations: Vec<RecordLocation>,
    source_name: Option<Arc<str>>,
    source: usize,
    /// The segment the batch was framed from (its locations are the segment's own).
    segment: Option<u64>,
    problems: Vec<OrderedProblem>,
    events: Vec<CapturedEvent>,
    stats: RunStats,
    costs: CostCounters,
}

/// Whether the raw-bytes prefilter may skip records: not with `--no-prefilter`, nor when every
/// event is to be captured.
fn prefilter_enabled(options: &RunOptions) -> bool {
    !options.no_prefilter && options.capture != Capture::All
}

#[derive(Default)]
struct Worker {
    scratch: Scratch,
    /// Per record of the batch: may a rule match it ([`dragnet_prefilter::Prefilter::mark_batch`]).
    hit: Vec<bool>,
    /// The record list of the last segment's batch, handed back to frame the next segment
    /// into (see [`dragnet_input::Segment::frame_reusing`]).
    spare_spans: Vec<RecordSpan>,
    candidates: Vec<usize>,
    detections: Vec<Detection>,
    /// This batch's per-rule costs ([`RunOptions::rule_costs`]), handed over in its result.
    costs: CostCounters,
}

/// The most worker threads a run starts: four per core, at most [`MAX_THREADS`]. A larger
/// request (`-j`, `RAYON_NUM_THREADS`) is clamped to it.
pub fn max_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_mul(4).clamp(1, MAX_THREADS)
}

/// The ceiling of [`max_threads`] whatever the core count.
pub const MAX_THREADS: usize = 256;

/// Nesting depth the default worker stack (2 MiB) holds with room to spare (a record level
/// costs about 300 bytes of stack to parse, evaluate and drop; 4000 levels were measured to
/// fit).
const DEFAULT_STACK_DEPTH: usize = 1024;

/// Stack given to each worker per level of `--max-json-depth` past [`DEFAULT_STACK_DEPTH`].
const STACK_PER_LEVEL: usize = 2048;

/// The stack a thread that parses, walks and drops records nested `max_depth` deep needs, when
/// it is more than the default 2 MiB; for commands that map records outside the engine's
/// workers (`normalize`).
/// A `--max-query-depth` raised past the default nesting depths counts too: queries are
/// matched and dropped recursively on the same threads.
pub fn stack_for_depth(max_depth: usize) -> Option<usize> {
    let for_records = (max_depth > DEFAULT_STACK_DEPTH)
        .then(|| (2 << 20) + max_depth.saturating_mul(STACK_PER_LEVEL));
    let for_queries = dragnet_query::limits::raised_query_depth()
        .filter(|&depth| depth > DEFAULT_STACK_QUERY_DEPTH)
        .map(|depth| (2 << 20) + depth.saturating_mul(STACK_PER_QUERY_LEVEL));
    for_records.max(for_queries)
}

/// Query nesting the default worker stack holds with room to spare (512 levels of every
/// shape were measured to fit 2 MiB in a release build).
const DEFAULT_STACK_QUERY_DEPTH: usize = 256;

/// Stack given to each worker per level of a raised `--max-query-depth` (twice the ~4 KiB a
/// level was measured to take).
const STACK_PER_QUERY_LEVEL: usize = 8192;

/// A run whose records are all read: its alerts come one at a time, in output order, from
/// [`RunStream::next_alert`] (memory bounded by `--alert-memory`, see [`crate::collect`]).
/// [`RunStream::stats`] and [`RunStream::reports`] are complete once the last alert is out.
pub struct RunStream {
    /// In input order (the first `--max-problems` about records, and every one about a whole
    /// source).
    pub problems: Vec<Problem>,
    /// Limits stateful rules hit (results may be missing), one line each, for stderr.
    pub warnings: Vec<String>,
    /// The events [`RunOptions::capture`] asked for, in input order.
    pub events: Vec<CapturedEvent>,
    /// With early output ([`Engine::run_stream_early`]): an alert sorted before one already
    /// written, so the input was not in time order; the run stopped there and gives no more
    /// alerts.
    pub order_violation: Option<OrderViolation>,
    /// What early output did.
    pub early: EarlyReport,
    stats: RunStats,
    reports: Vec<RuleReport>,
    alerts: Result<AlertStream, Option<SpillError>>,
    /// Alerts given so far.
    given: u64,
    /// Problems not kept (past `--max-problems`) that skipped input.
    skipped_not_kept: u64,
    costs: CostState,
}

/// What [`RunStream::rule_costs`] reports from: the workers' counters and each rule's state,
/// per engine rule.
struct CostState {
    counters: CostCounters,
    /// Empty unless [`RunOptions::rule_costs`].
    states: Vec<Option<dragnet_detect::DetectorStats>>,
    /// Each engine rule's report index.
    rule_reports: Vec<usize>,
    /// Per engine rule, the nanoseconds its finishing took ([`Engine::finish_alerts`]).
    finish_nanos: Vec<u64>,
}

impl RunStream {
    /// The next alert in output order; `None` once all were given. An error means a spill file
    /// could not be written or read back: the alerts are incomplete.
    pub fn next_alert(&mut self) -> Result<Option<Alert>, SpillError> {
        let stream = match &mut self.alerts {
            Ok(stream) => stream,
            Err(e) => return e.take().map_or(Ok(None), Err),
        };
        let next = stream.next();
        if let Ok(Some(a)) = &next {
            self.given += 1;
            count_alert(&mut self.reports[a.rule], a);
        }
        let spill = stream.spill_stats();
        let stats = &mut self.stats;
        stats.duplicates = stream.duplicates;
        stats.alerts_over_max_signals = stream.over_max_signals;
        stats.alert_spill_bytes = spill.bytes;
        stats.alert_spill_files = spill.files;
        stats.alert_merge_ms = spill.merge.as_millis() as u64;
        next
    }

    /// Counts for the run summary: exact once [`RunStream::next_alert`] gave its last alert.
    pub fn stats(&self) -> RunStats {
        let mut stats = self.stats.clone();
        stats.records_matched = stats.records_matched.saturating_sub(stats.duplicates);
        stats
    }

    /// Per rule (same order as [`Engine::reports`]): alerts, first and last seen, complete once
    /// the last alert is out.
    pub fn reports(&self) -> &[RuleReport] {
        &self.reports
    }

    /// Problems past `--max-problems` (counted, not kept) that skipped input
    /// ([`crate::is_skipped_input`]), for `--strict`.
    pub fn skipped_not_kept(&self) -> u64 {
        self.skipped_not_kept
    }

    /// With [`RunOptions::rule_costs`]: per rule run, what it cost, in engine rule order (its
    /// alert count is complete once the last alert is out).
    pub fn rule_costs(&self) -> Vec<RuleCost> {
        let c = &self.costs;
        c.states
            .iter()
            .zip(&c.rule_reports)
            .enumerate()
            .map(|(i, (state, &report))| {
                let (nanos, candidates, per_event) =
                    c.counters.per_rule.get(i).copied().unwrap_or_default();
                RuleCost {
                    report,
                    nanos,
                    finish_nanos: c.finish_nanos.get(i).copied().unwrap_or_default(),
                    candidates,
                    matches: state.map_or(per_event, |s| s.matched),
                    alerts: self.reports[report].alerts,
                    state: *state,
                }
            })
            .collect()
    }

    /// Alerts given so far.
    pub fn alerts_given(&self) -> u64 {
        self.given
    }

    /// What spilling alerts cost so far.
    pub fn spill_stats(&self) -> SpillStats {
        self.alerts
            .as_ref()
            .map(AlertStream::spill_stats)
            .unwrap_or_default()
    }
}

impl Engine {
    /// Evaluates every record of `sources` and collects every alert. Problems never stop the
    /// run; a spill file that cannot be written or read back is reported in
    /// [`RunOutput::warnings`] (the alerts are then incomplete).
    pub fn run(
        &self,
        sources: Vec<Source>,
        input: &InputOptions,
        options: &RunOptions,
        progress: &Progress,
    ) -> RunOutput {
        let mut stream = self.run_stream(sources, input, options, progress);
        let mut alerts = Vec::new();
        loop {
            match stream.next_alert() {
                Ok(Some(a)) => alerts.push(a),
                Ok(None) => break,
                Err(e) => {
                    stream.warnings.push(format!("alerts are missing: {e}"));
                    break;
                }
            }
        }
        progress
            .alerts
            .store(alerts.len() as u64, Ordering::Relaxed);
        let stats = stream.stats();
        let rule_costs = stream.rule_costs();
        RunOutput {
            alerts,
            rule_costs,
            problems: stream.problems,
            stats,
            reports: stream.reports,
            warnings: stream.warnings,
            events: stream.events,
        }
    }

    /// Evaluates every record of `sources`; the alerts are then given one at a time
    /// ([`RunStream::next_alert`]), so memory does not grow with their number.
    pub fn run_stream(
        &self,
        sources: Vec<Source>,
        input: &InputOptions,
        options: &RunOptions,
        progress: &Progress,
    ) -> RunStream {
        self.run_stream_with(sources, input, options, progress, None)
    }

    /// Why this run cannot write alerts before its end even over time-ordered input (`None`:
    /// it can). Early output needs every alert to be a record's own, known once the record is
    /// evaluated: aggregating rules (threshold, new_terms, EQL sequences and samples, indicator
    /// match) alert only once every record is read, and suppression merges alerts across a
    /// window.
    pub fn early_output_blocker(&self, options: &RunOptions) -> Option<String> {
        if options.capture != Capture::None {
            return Some("a search captures its events".into());
        }
        for rule in &self.rules {
            let report = &self.reports[rule.report];
            let per_event = matches!(report.rule_type.as_str(), "query" | "eql")
                && !rule.detector.decides_in_finish()
                && rule.detector.stats().is_none();
            if !per_event {
                return Some(format!(
                    "rule \"{}\" ({}) alerts only once every record is read",
                    report.name,
                    if report.rule_type == "eql" {
                        "EQL sequence or sample"
                    } else {
                        report.rule_type.as_str()
                    }
                ));
            }
            if rule.suppression.is_some() {
                return Some(format!(
                    "rule \"{}\" suppresses alerts, which needs its whole suppression window",
                    report.name
                ));
            }
        }
        None
    }

    /// [`Engine::run_stream`] over input in `@timestamp` order (the caller's promise: sources in
    /// time order, records in each in time order): alerts no record still to come can sort
    /// before go to `early` while the run goes on (see `early.rs`); [`RunStream::next_alert`]
    /// then gives the rest. The output is the same as [`Engine::run_stream`]'s. When an alert
    /// sorts before one already sent, the run stops with [`RunStream::order_violation`]; when
    /// the receiver is dropped, it stops soon. Without effect (the receiver gets nothing) when
    /// [`Engine::early_output_blocker`] says why not.
    pub fn run_stream_early(
        &self,
        sources: Vec<Source>,
        input: &InputOptions,
        options: &RunOptions,
        progress: &Progress,
        early: EarlyAlerts,
    ) -> RunStream {
        let early = self
            .early_output_blocker(options)
            .is_none()
            .then_some(early.0);
        self.run_stream_with(sources, input, options, progress, early)
    }

    fn run_stream_with(
        &self,
        sources: Vec<Source>,
        input: &InputOptions,
        options: &RunOptions,
        progress: &Progress,
        early: Option<mpsc::SyncSender<Alert>>,
    ) -> RunStream {
        // More workers than `max_threads` only cost thread start-up and contention (issue 16:
        // `-j 100000` ran for minutes over two records); the CLI warns when it clamps.
        let requested = options
            .threads
            .or_else(|| Some(rayon::current_num_threads()).filter(|&n| n > max_threads()));
        // Records are parsed, walked and dropped recursively, up to `--max-json-depth` levels:
        // past what the default 2 MiB worker stack holds, the workers get a stack to match.
        let stack = stack_for_depth(input.max_depth);
        let pool = (requested.is_some() || stack.is_some())
            .then(|| {
                let mut builder = rayon::ThreadPoolBuilder::new()
                    .num_threads(requested.map_or(0, |n| n.clamp(1, max_threads())));
                if let Some(stack) = stack {
                    builder = builder.stack_size(stack);
                }
                builder.build().ok()
            })
            .flatten();
        // Let the framer note, while it frames, where the prefilter's member key is and
        // whether its byte gate needles are there when they are few (else the batch is
        // searched for them). Always the prefilter's own: `mark_batch` reads the notes so.
        let mut input = input.clone();
        input.probes = if prefilter_enabled(options) {
            if !self.gates_measured() {
                self.measure_gates(&sources, &input);
            }
            self.prefilter().probes()
        } else {
            Default::default()
        };
        let input = &input;
        match pool {
            Some(pool) => {
                pool.install(|| self.run_in_pool(sources, input, options, progress, early))
            }
            None => self.run_in_pool(sources, input, options, progress, early),
        }
    }

    fn run_in_pool(
        &self,
        sources: Vec<Source>,
        input: &InputOptions,
        options: &RunOptions,
        progress: &Progress,
        early: Option<mpsc::SyncSender<Alert>>,
    ) -> RunStream {
        let threads = rayon::current_num_threads().max(1);
        let early_on = early.is_some();
        // Set when the run must end before reading everything: the input broke its time-order
        // promise, or early output's reader went away (a closed stdout).
        let stop = AtomicBool::new(false);
        let detector_options = options.detector_options();
        for rule in &self.rules {
            rule.detector.prepare(&detector_options);
        }
        let readers = sources.len().clamp(1, threads.max(2));
        let (tx, rx) = mpsc::sync_channel::<(usize, u64, Work)>(threads * 2);
        let next_source = AtomicUsize::new(0);
        let problems = Mutex::new(ProblemKeeper::new(
            options.max_problems.unwrap_or(DEFAULT_MAX_PROBLEMS),
        ));
        let skipped_files = AtomicU64::new(0);
        let sources = &sources;
        let segment_bytes = options.segment_bytes.unwrap_or(SEGMENT_BYTES);
        // Per source: (segment ordinal, what framing it found), to rebase locations.
        let segments_framed: Mutex<HashMap<usize, Vec<(u64, SegmentStats)>>> =
            Mutex::new(HashMap::new());

        let collector = Mutex::new(Collector::new(
            self,
            CollectOptions {
                alert_memory: options.alert_memory,
                spill_dir: options.spill_dir.clone(),
                max_signals: options.max_signals,
                early,
            },
        ));
        let collector_op = |op: &mut dyn FnMut(&mut Collector)| {
            let mut collector = collector.lock().unwrap();
            op(&mut collector);
            if collector.should_stop() {
                stop.store(true, Ordering::Relaxed);
            }
        };
        let totals: Mutex<(RunStats, Vec<CapturedEvent>)> = Mutex::default();
        let costs: Mutex<CostCounters> = Mutex::new(CostCounters::default());
        // Takes a batch's results; with early output and `unit` (the batch is a whole work
        // unit), marks the unit done.
        let keep = |mut result: BatchResult, unit: Option<(usize, u64)>| {
            progress
                .bytes
                .fetch_add(result.stats.bytes, Ordering::Relaxed);
            progress
                .records
                .fetch_add(result.stats.records_read, Ordering::Relaxed);
            if !result.alerts.is_empty() || (early_on && unit.is_some()) {
                progress
                    .alerts
                    .fetch_add(result.alerts.len() as u64, Ordering::Relaxed);
                let latest = latest_time(&result.alerts);
                collector_op(&mut |collector| {
                    for (entry, location) in result.alerts.drain(..).zip(&result.locations) {
                        if !collector.push(entry) {
                            // The first violation's record (later pushes only return false).
                            if let Some(v) = collector.violation()
                                && v.location.is_none()
                            {
                                v.source = result.source_name.as_deref().unwrap_or("").to_string();
                                v.location = Some(*location);
                                v.segment = result.segment.map(|s| (result.source, s));
                            }
                            return;
                        }
                    }
                    if let Some((source, unit)) = unit {
                        collector.unit_done(source, unit, latest);
                    }
                });
            }
            if !result.costs.per_rule.is_empty() {
                costs.lock().unwrap().merge(&result.costs);
            }
            if !result.problems.is_empty() {
                let mut problems = problems.lock().unwrap();
                for p in result.problems {
                    problems.push(p);
                }
            }
            if !result.events.is_empty() || result.stats != RunStats::default() {
                let mut totals = totals.lock().unwrap();
                totals.0.add(&result.stats);
                totals.1.extend(result.events);
            }
        };
        std::thread::scope(|scope| {
            for _ in 0..readers {
                let tx = tx.clone();
                let next_source = &next_source;
                let problems = &problems;
                let skipped_files = &skipped_files;
                let stop = &stop;
                let collector_op = &collector_op;
                scope.spawn(move || {
                    loop {
                        let i = next_source.fetch_add(1, Ordering::Relaxed);
                        let Some(source) = sources.get(i) else { break };
                        let mut seq = 0u64;
                        let mut problem_seq = 0u64;
                        let mut segmented = false;
                        let stats = dragnet_input::read_work(
                            source,
                            input,
                            segment_bytes,
                            &mut |work: Work| {
                                if stop.load(Ordering::Relaxed) {
                                    return ControlFlow::Break(());
                                }
                                segmented |= matches!(work, Work::Segments(_));
                                // A closed channel means the workers are gone: stop reading.
                                match tx.send((i, seq, work)) {
                                    Ok(()) => {
                                        seq += 1;
                                        ControlFlow::Continue(())
                                    }
                                    Err(_) => ControlFlow::Break(()),
                                }
                            },
                            &mut |problem: Problem| {
                                problems.lock().unwrap().push(OrderedProblem {
                                    source: i,
                                    seq: problem_seq,
                                    problem,
                                    segment: None,
                                });
                                problem_seq += 1;
                            },
                        );
                        if stats.skipped_file {
                            skipped_files.fetch_add(1, Ordering::Relaxed);
                        }
                        // Early output: the source's work units are its batches (a mapped
                        // file's are its segments, counted once they are all framed).
                        if early_on && !segmented {
                            collector_op(&mut |c| c.source_end(i, seq));
                        }
                    }
                });
            }
            drop(tx);
            rx.into_iter().par_bridge().for_each_init(
                Worker::default,
                |worker, (source, seq, work)| match work {
                    _ if stop.load(Ordering::Relaxed) => {}
                    Work::Batch(batch) => {
                        keep(
                            self.process_batch(source, seq, &batch, (input, options), worker),
                            Some((source, seq)),
                        );
                    }
                    Work::Segments(segments) => {
                        // Both workers take the segments in file order (so memory is released
                        // behind them and EQL sequences see time order); each frames its
                        // segment, then evaluates every batch while the bytes are still in
                        // its cache. Batch numbers within a segment keep the (source, seq,
                        // index) input order.
                        let cut = AtomicU64::new(0);
                        segments
                            .par_bridge()
                            .for_each_init(Worker::default, |worker, segment| {
                                cut.fetch_add(1, Ordering::Relaxed);
                                let ordinal = segment.ordinal;
                                // A stopped run frames (without evaluating) only the segments
                                // before the record out of time order, for its line number.
                                if stop.load(Ordering::Relaxed)
                                    && !collector
                                        .lock()
                                        .unwrap()
                                        .violation()
                                        .and_then(|v| v.segment)
                                        .is_some_and(|(s, o)| s == source && ordinal < o)
                                {
                                    return;
                                }
                                let mut latest = None;
                                let mut batch_no = 0u64;
                                let mut framing_problems = Vec::new();
                                let spans = std::mem::take(&mut worker.spare_spans);
                                let stats = segment.frame_reusing(
                                    input,
                                    spans,
                                    &mut |batch| {
                                        // A stopped run still frames the segment to its
                                        // end: later segments' locations (the message about
                                        // a record out of time order) count its lines.
                                        if stop.load(Ordering::Relaxed) {
                                            return ControlFlow::Continue(());
                                        }
                                        let seq = (ordinal << 24) | batch_no;
                                        batch_no += 1;
                                        let mut result = self.process_batch(
                                            source,
                                            seq,
                                            &batch,
                                            (input, options),
                                            worker,
                                        );
                                        for p in &mut result.problems {
                                            p.segment = Some(ordinal);
                                        }
                                        for e in &mut result.events {
                                            e.segment = Some(ordinal);
                                        }
                                        result.segment = Some(ordinal);
                                        latest = latest.max(latest_time(&result.alerts));
                                        keep(result, None);
                                        if batch.records.capacity() > worker.spare_spans.capacity()
                                        {
                                            worker.spare_spans = batch.records;
                                        }
                                        ControlFlow::Continue(())
                                    },
                                    &mut |problem| framing_problems.push(problem),
                                );
                                segment.release_pages_behind();
                                if early_on {
                                    collector_op(&mut |c| c.unit_done(source, ordinal, latest));
                                }
                                if !framing_problems.is_empty() {
                                    let mut all = problems.lock().unwrap();
                                    for (n, problem) in framing_problems.into_iter().enumerate() {
                                        all.push(OrderedProblem {
                                            source,
                                            seq: (ordinal << 24) | n as u64,
                                            problem,
                                            segment: Some(ordinal),
                                        });
                                    }
                                }
                                segments_framed
                                    .lock()
                                    .unwrap()
                                    .entry(source)
                                    .or_default()
                                    .push((ordinal, stats));
                            });
                        if early_on {
                            let units = cut.into_inner();
                            collector_op(&mut |c| c.source_end(source, units));
                        }
                    }
                },
            );
        });

        let (batch_stats, mut events) = totals.into_inner().unwrap();
        let mut stats = RunStats {
            files: sources.len() as u64,
            ..Default::default()
        };
        stats.add(&batch_stats);
        let keeper = problems.into_inner().unwrap();
        stats.records_skipped = keeper.records_skipped;
        stats.problems_not_kept = keeper.not_kept;
        let skipped_not_kept = keeper.not_kept_skipped_input;
        let mut all_problems = keeper.into_kept();
        let mut collector = collector.into_inner().unwrap();
        let mut order_violation = collector.violation().cloned();
        rebase_segments(
            segments_framed.into_inner().unwrap(),
            &mut all_problems,
            &mut events,
            order_violation.as_mut(),
        );
        events.sort_by_key(|e| e.order);
        stats.files_skipped = skipped_files.into_inner();
        all_problems.sort_by(|a, b| {
            (a.source, problem_key(&a.problem), a.seq).cmp(&(
                b.source,
                problem_key(&b.problem),
                b.seq,
            ))
        });

        // Aggregating rules' state, read before finishing consumes it.
        let states: Vec<_> = if options.rule_costs {
            self.rules.iter().map(|r| r.detector.stats()).collect()
        } else {
            Vec::new()
        };
        let stopped = stop.into_inner();
        let early = collector.early_report();
        // A stopped run (broken order promise, closed output) gives no more alerts.
        let finish_nanos = if stopped {
            Vec::new()
        } else {
            self.finish_alerts(&mut collector, options)
        };
        let mut reports = self.reports.clone();
        let mut warnings = Vec::new();
        for rule in &self.rules {
            for w in rule.detector.warnings() {
                warnings.push(format!("rule {}: {w}", reports[rule.report].name));
                if let RuleStatus::Run { notes, .. } = &mut reports[rule.report].status {
                    notes.push(w);
                }
            }
        }
        let suppressions: HashMap<usize, &Suppression> = self
            .rules
            .iter()
            .filter_map(|r| r.suppression.as_ref().map(|s| (r.report, s)))
            .collect();
        let alerts = if stopped {
            Err(None)
        } else {
            collector.finish(&suppressions).map_err(Some)
        };
        // The alerts early output wrote count as given.
        if let Ok(AlertStream {
            early_reports: Some(written),
            ..
        }) = &alerts
        {
            // Nothing was counted into `reports` yet: the written counts are the counts so far.
            for (report, written) in reports.iter_mut().zip(written) {
                report.alerts = written.alerts;
                report.first_seen = written.first_seen.clone();
                report.last_seen = written.last_seen.clone();
            }
        }
        RunStream {
            problems: all_problems.into_iter().map(|p| p.problem).collect(),
            warnings,
            events,
            order_violation,
            given: early.written,
            early,
            stats,
            reports,
            alerts,
            skipped_not_kept,
            costs: CostState {
                counters: costs.into_inner().unwrap(),
                states,
                rule_reports: self.rules.iter().map(|r| r.report).collect(),
                finish_nanos,
            },
        }
    }

    /// Hands the stateful detectors' results to the collector (dedup, suppression, sorting and
    /// `--max-signals` follow in [`Collector::finish`]).
    ///
    /// Building an alert (reading its document back, the Kibana fields, the JSON) is most of
    /// what finishing costs, so rules finish on the run's worker threads at once, at most
    /// that many rules ahead of the one being collected, the built alerts waiting for the
    /// collector at most [`FINISH_ALERTS_WAITING`] in all (whatever the thread count); the
    /// collector takes them rule by rule in the detectors' order, the sequence a one-thread
    /// finish pushes (so ties in the store's order resolve alike, and the output is the same
    /// bytes).
    ///
    /// Returns, per rule, the nanoseconds its finishing took (for `hunt -vv`).
    fn finish_alerts(&self, collector: &mut Collector, options: &RunOptions) -> Vec<u64> {
        let capture = options.capture;
        let rules = self.rules.len();
        // The run's pool (its threads' allocator arenas already hold the evaluation's memory).
        let threads = rayon::current_num_threads().clamp(1, rules.max(1));
        if threads == 1 {
            return (0..rules)
                .map(|i| {
                    self.finish_rule(i, capture, &mut |entry| {
                        let start = Instant::now();
                        collector.push(entry);
                        start.elapsed()
                    })
                })
                .collect();
        }
        let nanos: Vec<AtomicU64> = (0..rules).map(|_| AtomicU64::new(0)).collect();
        // (the next rule to start, the rule being collected): a rule starts once it is at most
        // `threads` ahead, so at most `threads + 1` channels hold alerts.
        let gate = (Mutex::new((0usize, 0usize)), std::sync::Condvar::new());
        let per_rule = (FINISH_ALERTS_WAITING / (threads + 1)).max(1);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..rules)
            .map(|_| {
                let (tx, rx) = mpsc::sync_channel::<Entry>(per_rule);
                (Mutex::new(Some(tx)), rx)
            })
            .unzip();
        rayon::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|_| {
                    loop {
                        let rule = {
                            let mut g = gate.0.lock().unwrap_or_else(|e| e.into_inner());
                            while g.0 < rules && g.0 > g.1 + threads {
                                g = gate.1.wait(g).unwrap_or_else(|e| e.into_inner());
                            }
                            if g.0 >= rules {
                                break;
                            }
                            g.0 += 1;
                            g.0 - 1
                        };
                        let taken = senders[rule]
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .take();
                        let Some(tx) = taken else { continue };
                        // The receiver lives until the scope ends: a send only waits for room.
                        let took = self.finish_rule(rule, capture, &mut |entry| {
                            let start = Instant::now();
                            let _ = tx.send(entry);
                            start.elapsed()
                        });
                        nanos[rule].store(took, Ordering::Relaxed);
                        // `tx` dropped: the collector moves on to the next rule.
                    }
                });
            }
            // Moved in (the closure may run on a pool thread; a receiver is not shared).
            for (rule, rx) in receivers.into_iter().enumerate() {
                for entry in rx {
                    collector.push(entry);
                }
                let mut g = gate.0.lock().unwrap_or_else(|e| e.into_inner());
                g.1 = rule + 1;
                gate.1.notify_all();
            }
        });
        nanos.into_iter().map(AtomicU64::into_inner).collect()
    }

    /// Rule `i`'s detections from [`Detector::finish_into`](dragnet_detect::Detector), built
    /// into alerts one at a time: a rule with many alerts never holds all their documents.
    /// `sink` says how long it waited to hand an alert over; returns the nanoseconds taken
    /// without those waits.
    fn finish_rule(
        &self,
        i: usize,
        capture: Capture,
        sink: &mut dyn FnMut(Entry) -> Duration,
    ) -> u64 {
        let start = Instant::now();
        let mut waited = Duration::ZERO;
        self.rules[i].detector.finish_into(&mut |d| {
            let (ecs, id, index, timestamp, explanation, fields) = match d {
                Detection::Document {
                    ecs,
                    id,
                    index,
                    timestamp,
                    explanation,
                } => (ecs, id, index, timestamp, explanation, None),
                Detection::Composed {
                    ecs,
                    id,
                    index,
                    timestamp,
                    explanation,
                    fields,
                } => (ecs, id, index, timestamp, explanation, Some(fields)),
                Detection::ThisEvent { .. } => return,
            };
            let event = (capture != Capture::None).then(|| ecs.clone());
            let source = AlertSource {
                ecs,
                id: &id,
                index: &index,
                timestamp,
            };
            let mut alert = alert_of(&self.rules[i], source, explanation, fields, ORDER_LAST);
            if let Some(event) = &event {
                alert.set_event(event);
            }
            // Not a record's alert: never counted as a duplicate record.
            waited += sink(Entry::new(alert, false));
        });
        start.elapsed().saturating_sub(waited).as_nanos() as u64
    }

    fn process_batch(
        &self,
        source: usize,
        seq: u64,
        batch: &RecordBatch,
        (input, options): (&InputOptions, &RunOptions),
        worker: &mut Worker,
    ) -> BatchResult {
        let mut out = BatchResult {
            alerts: Vec::new(),
            locations: Vec::new(),
            source_name: Some(batch.source.clone()),
            source,
            segment: None,
            problems: Vec::new(),
            events: Vec::new(),
            stats: RunStats::default(),
            costs: CostCounters::default(),
        };
        let prefilter = prefilter_enabled(options);
        let gates = self.prefilter();
        let batch_filtered =
            prefilter && gates.mark_batch(&batch.buf, &batch.records, &mut worker.hit);
        for (index, span) in batch.records.iter().enumerate() {
            let bytes = &batch.buf[span.range.clone()];
            out.stats.records_read += 1;
            out.stats.bytes += bytes.len() as u64;
            let order = (source, seq, index);
            match span.kind {
                RecordKind::CloudTrail => {
                    if batch_filtered && !worker.hit[index] {
                        // No gate opens: only the rules without one see the record.
                        out.stats.records_gated_out += 1;
                        worker.candidates.clear();
                        worker.candidates.extend_from_slice(gates.ungated_rules());
                    } else if !prefilter {
                        worker.candidates.clear();
                        worker.candidates.extend(0..self.rules.len());
                    } else {
                        gates.candidates(bytes, &mut worker.scratch, &mut worker.candidates);
                    }
                    let n = worker.candidates.len();
                    out.stats.rule_evaluations_skipped += (self.rules.len() - n) as u64;
                    if n == 0 {
                        out.stats.records_prefiltered += 1;
                        continue;
                    }
                    let event = match self.mapper.map_within(bytes, input.max_depth) {
                        Ok(event) => event,
                        Err(err) => {
                            let problem = match err {
                                dragnet_cloudtrail::RecordError::TooDeep(max) => {
                                    Problem::too_deep(batch.source.clone(), span.location, max)
                                }
                                err => Problem::malformed_record(
                                    batch.source.clone(),
                                    span.location,
                                    err,
                                ),
                            };
                            out.problems.push(OrderedProblem {
                                source,
                                seq: u64::MAX,
                                problem,
                                segment: None,
                            });
                            continue;
                        }
                    };
                    out.stats.records_evaluated += 1;
                    let matched = self.evaluate(&event, options, worker, &mut out.stats);
                    let capture = captures(options, &matched);
                    if matched.is_empty() && !capture {
                        continue;
                    }
                    let ecs = event.to_ecs();
                    if capture {
                        out.events.push(self.capture(
                            &event,
                            &ecs,
                            (&batch.source, span.location),
                            !matched.is_empty(),
                            options,
                            worker,
                            order,
                        ));
                    }
                    if matched.is_empty() {
                        continue;
                    }
                    let id = match field_strings(&ecs, "event.id").into_iter().next() {
                        Some(id) => id,
                        None => sha256_hex(bytes),
                    };
                    self.emit(
                        &matched,
                        &ecs,
                        &id,
                        CLOUDTRAIL_DATA_STREAM,
                        true,
                        order,
                        options,
                        &mut out,
                    );
                    out.locations.resize(out.alerts.len(), span.location);
                }
                RecordKind::Ecs => {
                    let parsed = match dragnet_input::parse_json_within(bytes, input.max_depth) {
                        Ok(v) => v,
                        Err(problem) => {
                            out.problems.push(OrderedProblem {
                                source,
                                seq: u64::MAX,
                                problem: problem.at(batch.source.clone(), span.location),
                                segment: None,
                            });
                            continue;
                        }
                    };
                    // A search hit (`{"_id":…,"_index":…,"_source":{…}}`) carries the document
                    // in `_source`.
                    let (doc, hit_id, hit_index) = match parsed.get("_source") {
                        Some(src @ Value::Object(_)) => (
                            src.clone(),
                            parsed
                                .get("_id")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                            parsed
                                .get("_index")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                        ),
                        _ => (parsed, None, None),
                    };
                    let n = self.rules.len();
                    worker.candidates.clear();
                    worker.candidates.extend(0..n);
                    out.stats.records_evaluated += 1;
                    let event = JsonEvent::new(&doc, &self.paths);
                    let matched = self.evaluate(&event, options, worker, &mut out.stats);
                    if captures(options, &matched) {
                        out.events.push(self.capture(
                            &event,
                            &doc,
                            (&batch.source, span.location),
                            !matched.is_empty(),
                            options,
                            worker,
                            order,
                        ));
                    }
                    if matched.is_empty() {
                        continue;
                    }
                    let id = hit_id
                        .or_else(|| field_strings(&doc, "event.id").into_iter().next())
                        .unwrap_or_else(|| sha256_hex(bytes));
                    let index = hit_index.unwrap_or_else(|| CLOUDTRAIL_DATA_STREAM.to_string());
                    self.emit(&matched, &doc, &id, &index, false, order, options, &mut out);
                    out.locations.resize(out.alerts.len(), span.location);
                }
            }
        }
        out.costs = std::mem::take(&mut worker.costs);
        out
    }

    /// The captured form of an evaluated event ([`RunOptions::capture`]).
    #[allow(clippy::too_many_arguments)]
    fn capture(
        &self,
        event: &dyn Event,
        doc: &Value,
        (source, location): (&Arc<str>, RecordLocation),
        matched: bool,
        options: &RunOptions,
        worker: &Worker,
        order: InputOrder,
    ) -> CapturedEvent {
        let explanation = options.explain.then(|| {
            worker
                .candidates
                .iter()
                .filter_map(|&rule| self.rules[rule].detector.explain_text(event))
                .map(|text| text.trim_end().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        });
        CapturedEvent {
            source: source.clone(),
            location,
            doc: doc.clone(),
            matched,
            explanation,
            order,
            segment: None,
        }
    }

    /// Runs the candidate rules' detectors; returns (rule, explanation) per detection.
    fn evaluate(
        &self,
        event: &dyn Event,
        options: &RunOptions,
        worker: &mut Worker,
        stats: &mut RunStats,
    ) -> Vec<(usize, Option<Value>)> {
        let mut matched = Vec::new();
        for &rule in &worker.candidates {
            stats.rule_evaluations += 1;
            worker.detections.clear();
            let detector = &self.rules[rule].detector;
            if options.rule_costs {
                let detections = &mut worker.detections;
                worker.costs.time(self.rules.len(), rule, || {
                    detector.on_event(event, options.explain, detections);
                    detections.len()
                });
            } else {
                detector.on_event(event, options.explain, &mut worker.detections);
            }
            for d in worker.detections.drain(..) {
                if let Detection::ThisEvent { explanation } = d {
                    matched.push((rule, explanation));
                }
            }
        }
        matched
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        matched: &[(usize, Option<Value>)],
        ecs: &Value,
        id: &str,
        index: &str,
        raw_cloudtrail: bool,
        order: InputOrder,
        options: &RunOptions,
        out: &mut BatchResult,
    ) {
        let timestamp = field_strings(ecs, "@timestamp").into_iter().next();
        let mut any = false;
        let mut untimed = false;
        for (rule, explanation) in matched {
            let meta = &self.rules[*rule].meta;
            // The time the rule's look-back would filter on: `timestamp_override` when the
            // document carries it (ECS exports with event.ingested), else @timestamp.
            let rule_time = match &meta.timestamp_override {
                Some(field) => match field_strings(ecs, field).into_iter().next() {
                    Some(t) => Some(t),
                    None => {
                        if raw_cloudtrail {
                            out.stats.timestamp_override_fallbacks += 1;
                        }
                        timestamp.clone()
                    }
                },
                None => timestamp.clone(),
            };
            let parsed_rule_time = rule_time.as_deref().and_then(parse_time);
            match parsed_rule_time {
                Some(t) => {
                    let before = options.from.is_some_and(|from| t < from);
                    let after = options.to.is_some_and(|to| t >= to);
                    if before || after {
                        out.stats.alerts_outside_time_range += 1;
                        continue;
                    }
                }
                // As in Elasticsearch, a range query on the time field does not match a
                // document without a (parsable) value for it: `--from`/`--to` exclude the
                // event, and the run says how many records that was.
                None if options.from.is_some() || options.to.is_some() => {
                    untimed = true;
                    continue;
                }
                None => {}
            }
            let source = AlertSource {
                ecs: ecs.clone(),
                id,
                index,
                timestamp: timestamp.clone(),
            };
            let mut alert = alert_of(&self.rules[*rule], source, explanation.clone(), None, order);
            if options.capture != Capture::None {
                alert.set_event(ecs);
            }
            // The record's first alert stands for it in duplicate counting.
            out.alerts.push(Entry::new(alert, !any));
            any = true;
        }
        if any {
            out.stats.records_matched += 1;
        }
        if untimed {
            out.stats.records_without_time += 1;
        }
    }
}

/// The latest time of `alerts` (`None`: none has one).
fn latest_time(alerts: &[Entry]) -> Option<Timestamp> {
    alerts.iter().filter_map(|e| e.alert.sort_time).max()
}

/// Built alerts of the rules finishing ahead of the collector, waiting for it, in all (shared
/// by the at most threads + 1 rules in flight; [`Engine::finish_alerts`]).
const FINISH_ALERTS_WAITING: usize = 256;

/// The input order of alerts reported at the end of the run (aggregations, sequences): after
/// every record's.
const ORDER_LAST: InputOrder = (usize::MAX, 0, 0);

/// What an alert is built from: the source's ECS document (owned: it becomes the alert's) and
/// its identity.
struct AlertSource<'a> {
    ecs: Value,
    id: &'a str,
    index: &'a str,
    timestamp: Option<String>,
}

/// The alert of `rule` on `source`: [`dragnet_alert::build_alert`]'s document, then `composed`
/// fields over it (sequences), serialized with the rule's shared fields written from
/// [`ActiveRule::fields`] (the same bytes as serializing the whole document, which is done
/// instead when a key of the source sorts among them).
fn alert_of(
    rule: &ActiveRule,
    source: AlertSource<'_>,
    explanation: Option<Value>,
    composed: Option<Map<String, Value>>,
    order: InputOrder,
) -> Alert {
    let AlertSource {
        ecs,
        id,
        index,
        timestamp,
    } = source;
    let mut doc = build_alert_fields(
        &rule.meta,
        ecs,
        id,
        index,
        timestamp.as_deref(),
        explanation,
    );
    let fields = rule.fields.get_or_init(|| RuleFields::of(&rule.meta));
    let shared = composed
        .as_ref()
        .is_none_or(|c| !c.keys().any(|k| fields.interleaves(k)));
    if !shared {
        // As build_alert then the composed fields: the rule's replace the source's, the
        // composed ones the rule's.
        RuleFields::insert_into(&rule.meta, &mut doc);
    }
    doc.extend(composed.unwrap_or_default());
    let json = if shared { fields.to_json(&doc) } else { None };
    let json = match json {
        Some(json) => json,
        None => {
            if shared {
                RuleFields::insert_into(&rule.meta, &mut doc);
            }
            serde_json::to_string(&doc).expect("a JSON value serializes")
        }
    };
    Alert::with_json(rule.report, &Value::Object(doc), json, id, timestamp, order)
}

/// Whether an evaluated event with these detections is captured ([`RunOptions::capture`]).
fn captures(options: &RunOptions, matched: &[(usize, Option<Value>)]) -> bool {
    match options.capture {
        Capture::None => false,
        Capture::Matches => !matched.is_empty(),
        Capture::All => true,
    }
}

/// Turns the segment-local locations of problems (and captured events) into their files' (the
/// bases are only known once every segment of a file is framed).
fn rebase_segments(
    segments: HashMap<usize, Vec<(u64, SegmentStats)>>,
    problems: &mut [OrderedProblem],
    events: &mut [CapturedEvent],
    violation: Option<&mut OrderViolation>,
) {
    if segments.is_empty() {
        return;
    }
    let mut bases: HashMap<(usize, u64), SegmentBase> = HashMap::new();
    for (source, mut stats) in segments {
        stats.sort_by_key(|(ordinal, _)| *ordinal);
        let mut base = SegmentBase::default();
        for (ordinal, s) in &stats {
            bases.insert((source, *ordinal), base);
            base = base.after(s);
        }
    }
    for p in problems {
        if let (Some(segment), Some(at)) = (p.segment, p.problem.at.as_mut())
            && let Some(base) = bases.get(&(p.source, segment))
        {
            base.rebase(at);
        }
    }
    for e in events {
        if let Some(segment) = e.segment
            && let Some(base) = bases.get(&(e.order.0, segment))
        {
            base.rebase(&mut e.location);
        }
    }
    if let Some(v) = violation
        && let (Some(key), Some(at)) = (v.segment.take(), v.location.as_mut())
        && let Some(base) = bases.get(&key)
    {
        base.rebase(at);
    }
}
