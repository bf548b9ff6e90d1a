//! `dragnet hunt`: run detection rules over CloudTrail archives and print the alerts.
//!
//! Glue only: rules come from `dragnet-rules`, inputs from `dragnet-input`, evaluation and
//! alerts from `dragnet-engine`; this module parses flags, prints and picks the exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use dragnet_engine::{Engine, Progress, RuleCounts, RunOptions, Selection};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cmd::{accounting, inputs};
use crate::exit::Code;
use crate::output::{Format, GlobalArgs};

/// Run detection rules over CloudTrail logs (files, folders, `-`, s3://) and report alerts.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub query_limits: crate::output::QueryLimitArgs,
    /// CloudTrail input: files (.json, .json.gz, JSON lines, ECS NDJSON), folders (searched
    /// recursively), `-` for stdin, or s3://bucket/prefix.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,
    /// Rules to run: a TOML file, a folder of them, or a Kibana NDJSON export (repeatable).
    /// Default: the rules shipped with dragnet.
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    #[command(flatten)]
    pub filter: crate::cmd::rule_filter::RuleFilterArgs,
    /// Only events at or after this time: RFC 3339 (2025-03-14T09:00:00Z), a date
    /// (2025-03-14, UTC) or date math (now-90d).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Only events before this time (same forms as --from).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Add to each alert which query clauses matched, on which values.
    #[arg(long)]
    pub explain: bool,
    /// Tables: add the user agent column.
    #[arg(long, short = 'w')]
    pub wide: bool,
    /// Exit with code 1 when there is at least one alert.
    #[arg(long)]
    pub fail_on_alert: bool,
    /// Exit with code 2 when any input was skipped (malformed, truncated, unreadable).
    #[arg(long)]
    pub strict: bool,
    /// Check every record's JSON structure while reading, so a broken record is reported even
    /// when no rule could match it (slower: by default, records the prefilter drops are never
    /// parsed, and only their framing is checked)
    #[arg(long)]
    pub validate_json: bool,
    #[command(flatten)]
    pub read: crate::cmd::inputs::ReadArgs,
    #[command(flatten)]
    pub enrich: crate::cmd::inputs::EnrichArgs,
    /// Report at most N alerts per rule (the earliest ones).
    #[arg(long, value_name = "N")]
    pub max_signals: Option<usize>,
    /// Evaluate every rule on every record, without the raw-bytes prefilter (for benchmarks
    /// and soundness checks: the alerts are the same, only slower).
    #[arg(long)]
    pub no_prefilter: bool,
    /// Bytes per segment when a large JSON-lines file is framed by all workers in parallel
    /// (default 1 MiB). For tests: results must not depend on it.
    #[arg(long, value_name = "BYTES", hide = true)]
    pub segment_bytes: Option<usize>,
    /// Kibana exception list export (NDJSON of lists and items) to apply (repeatable). A rule
    /// gets the items of the lists its `exceptions_list` names; lists no rule names apply to
    /// every rule. With --explain, every suppressed event is listed.
    #[arg(long = "exceptions", value_name = "FILE")]
    pub exceptions: Vec<PathBuf>,
    /// A value list for exception `list` entries: LIST_ID=FILE, FILE being Kibana's value list
    /// export (one value per line) (repeatable).
    #[arg(long = "value-list", value_name = "LIST_ID=FILE")]
    pub value_lists: Vec<String>,
    /// Threat indicators for indicator match (threat_match) rules: ECS NDJSON with
    /// `threat.indicator.*`, e.g. an export of logs-ti_* (repeatable). Without it those rules
    /// are accounted as unsupported.
    #[arg(long = "indicators", value_name = "FILE")]
    pub indicators: Vec<PathBuf>,
    /// Worker threads (default: one per core; RAYON_NUM_THREADS is honoured too); at most 4 per
    /// core and 256: more is clamped with a warning.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// Per EQL sequence rule whose candidate events (those matching a step) arrive out of time
    /// order, keep at most N of them for sorting (input in time order streams and is not
    /// capped); per EQL sample rule, at most N event references. Past it, events are dropped
    /// with a warning and sequences or samples may be missed
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_sequence_candidates: usize,
    /// Per new_terms rule, at most N (term, execution interval) entries of history; per
    /// threshold rule, at most N (event, group) entries. Past it, events are left out of the
    /// rule's state with a warning and its alerts may be missing or wrong
    #[arg(long, value_name = "N", default_value_t = dragnet_engine::DEFAULT_MAX_AGGREGATION_ENTRIES)]
    pub max_aggregation_entries: usize,
    /// Bytes of alerts kept in memory; past it, sorted runs of alerts are spilled to temporary
    /// files (in --spill-dir) and merged when they are written, so memory stays bounded
    /// whatever the alert count
    #[arg(long, value_name = "BYTES", default_value_t = dragnet_engine::DEFAULT_ALERT_MEMORY)]
    pub alert_memory: usize,
    /// Folder for the alert spill files (default: the system's temporary folder, TMPDIR). They
    /// are removed as soon as they are created, so nothing is left behind
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Problems about records (malformed, truncated…) listed at most, the first in input
    /// order; the others are counted in the summary. Problems about whole files are all listed
    #[arg(long, value_name = "N", default_value_t = dragnet_engine::DEFAULT_MAX_PROBLEMS)]
    pub max_problems: usize,
    /// The input is in @timestamp order (one time-ordered file, or files given oldest first):
    /// alerts are written while the run goes on, not once every record is read (`| head -1`
    /// gets the first one early), in the same order. Checked: an alert that would sort before
    /// one already written stops the run with exit 2. Only when every rule alerts per record
    /// (query and EQL event rules, without suppression); -v says whether it is on. CloudTrail's
    /// own log files are not in time order (AWS: "events don't appear in any specific order"):
    /// give a time-sorted export
    #[arg(long)]
    pub time_ordered: bool,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    args.query_limits.apply();
    let format = global.resolve_format("hunt", &Format::ALL)?;
    let now = Timestamp::now();
    let from = args
        .from
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?;
    let to = args.to.as_deref().map(|t| parse_time(t, now)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        bail!("--from ({f}) must be before --to ({t})");
    }

    let (rules, rule_problems, invalid_rules) = load_rules(&args.rules)?;
    // Each problem carries its own severity (`file:line:col: error: …`): one word per message.
    for p in &rule_problems {
        if !global.quiet {
            diag!("{p}");
        }
    }
    // The selection flags decide here, so `hunt` and `rules list` select alike; the rules they
    // leave out are accounted as not selected.
    let (rules, not_selected) = accounting::select(rules, &args.filter);
    let exceptions = crate::cmd::hunt_extras::load_exceptions(
        &args.exceptions,
        &args.value_lists,
        global.quiet,
    )?;
    let engine = Engine::compile_with(
        &rules,
        &Selection::default(),
        args.enrich.mapper_options(),
        &dragnet_engine::Extras {
            exceptions: exceptions.clone(),
            indicators: crate::cmd::hunt_extras::load_indicators(&args.indicators, global.quiet)?,
            from,
            to,
        },
    )
    .context("cannot load the --geoip-db/--asn-db database; give a MaxMind .mmdb file")?;
    let mut reports = engine.reports().to_vec();
    reports.extend(not_selected.iter().cloned());
    let mut counts = RuleCounts::of(&reports);
    // Rule entries the loader rejected (their errors were printed above) are invalid too.
    counts.invalid += invalid_rules;
    counts.total += invalid_rules;
    if engine.active_rules() == 0 {
        accounting::print(&reports, &counts, global.verbose > 0);
        bail!(
            "no rule can run ({} loaded, {} not selected, {} not applicable, {} unsupported, {} invalid); check -r/--rules and the selection flags",
            counts.total,
            counts.not_selected,
            counts.not_applicable,
            counts.unsupported,
            counts.invalid
        );
    }

    let input_options = input_options(&args, from, to);
    let discovered = dragnet_input::discover(&args.inputs, &input_options);
    let sources = discovered.sources;
    let discover_problems = discovered.problems;
    if discovered.pruned_by_date > 0 && global.verbose > 0 {
        diag!(
            "note: {} file(s) not read: their CloudTrail path date is outside --from/--to",
            discovered.pruned_by_date
        );
    }

    if global.verbose > 1 {
        // The gates the run will use: chosen on a sample of these inputs.
        if !args.no_prefilter {
            match engine.measure_gates(&sources, &input_options) {
                0 => diag!(
                    "prefilter: gates chosen by static scores (too few records to sample: stdin, s3:// or small files)"
                ),
                n => diag!("prefilter: gates chosen by their frequency in {n} sampled record(s)"),
            }
        }
        let needles = engine.prefilter_gate_needles();
        diag!(
            "prefilter: every record is scanned for {} gate needle(s): {}",
            needles.len(),
            needles.join(" | ")
        );
        let patterns = engine.prefilter_batch_patterns();
        if !patterns.is_empty() {
            diag!(
                "prefilter: batch scan patterns ({}): {}",
                patterns.len(),
                patterns.join(" | ")
            );
        }
    }

    let progress = Progress::default();
    let started = Instant::now();
    let show_progress = !global.quiet && std::io::stderr().is_terminal();
    let done = std::sync::atomic::AtomicBool::new(false);
    let options = RunOptions {
        explain: args.explain,
        from,
        to,
        max_signals: args.max_signals,
        threads: crate::cmd::inputs::worker_threads(args.threads, global.quiet),
        no_prefilter: args.no_prefilter,
        segment_bytes: args.segment_bytes,
        max_sequence_candidates: Some(args.max_sequence_candidates),
        alert_memory: Some(args.alert_memory),
        spill_dir: args.spill_dir.clone(),
        // -q lists no problem: they are only counted (JSON output still lists them).
        max_problems: Some(if global.quiet && format != Format::Json {
            0
        } else {
            args.max_problems
        }),
        max_aggregation_entries: Some(args.max_aggregation_entries),
        rule_costs: global.verbose > 1,
        ..RunOptions::default()
    };
    // Early output (--time-ordered): on when every rule alerts per record.
    let early = args.time_ordered && {
        let blocker = engine.early_output_blocker(&options);
        if let Some(why) = &blocker
            && global.verbose > 0
            && !global.quiet
        {
            diag!("note: --time-ordered: alerts are written once every record is read: {why}");
        }
        blocker.is_none()
    };
    let mut w = global.writer()?;
    let mut writer =
        crate::cmd::hunt_output::AlertWriter::new(&mut w, format, global.table_options(args.wide));
    let (output, early_write) = std::thread::scope(|scope| {
        let bar = show_progress.then(|| {
            let progress = &progress;
            let done = &done;
            let total = crate::cmd::hunt_output::expected_bytes(&sources);
            scope.spawn(move || crate::cmd::hunt_output::progress_bar(progress, done, total))
        });
        let (output, early_write) = if early {
            let (sink, alerts) = dragnet_engine::early_alerts();
            let (engine, input_options, options, progress) =
                (&engine, &input_options, &options, &progress);
            let run = scope.spawn(move || {
                engine.run_stream_early(sources, input_options, options, progress, sink)
            });
            let written = write_early(&mut writer, &alerts, engine.reports());
            // A failed write drops the receiver: the run stops soon after.
            drop(alerts);
            let output = match run.join() {
                Ok(output) => output,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (output, written)
        } else {
            (
                engine.run_stream(sources, &input_options, &options, &progress),
                Ok(()),
            )
        };
        done.store(true, Ordering::Relaxed);
        if let Some(bar) = bar {
            let _ = bar.join();
        }
        (output, early_write)
    });
    // Writing failed (a closed stdout ends quietly: exit.rs).
    early_write?;
    let mut output = output;
    if !global.quiet {
        for w in &output.warnings {
            diag!("warning: {w}");
        }
        if global.verbose > 0 {
            if output.early.on {
                diag!(
                    "note: --time-ordered: {} alert(s) written while the run went on",
                    output.early.written
                );
                if output.early.overflowed {
                    diag!(
                        "note: --time-ordered: early output stopped: alerts of later records filled --alert-memory ({} bytes) while earlier ones were still read; the rest were written at the end",
                        args.alert_memory
                    );
                }
            } else if !args.time_ordered {
                diag!(
                    "note: alerts are written once every record is read: their order (time, rule, event id) is known only then (with input in time order, --time-ordered writes them as the run goes)"
                );
            }
        }
    }

    // Input problems, in input order: file, line / record, reason.
    let mut problems = discover_problems;
    problems.extend(output.problems.iter().cloned());
    // An input named on the command line that does not exist or cannot be read is an error
    // whatever -q says, reported after everything else (conventions.md: exit codes).
    let named_unreadable = inputs::named_input_errors(&problems, &args.inputs);
    inputs::report_problems(global, &problems, &args.inputs);
    let unlisted = output.stats().problems_not_kept;
    if unlisted > 0 && !global.quiet {
        diag!(
            "note: {} more problem(s) with records not listed (--max-problems {} lists the first in input order)",
            inputs::group_digits(unlisted),
            args.max_problems
        );
    }

    // Made once the last alert is out: the counts are complete then.
    let json_members = |run: &dragnet_engine::RunStream| {
        let mut reports = run.reports().to_vec();
        reports.extend(not_selected.iter().cloned());
        let mut members = serde_json::Map::new();
        members.insert(
            "summary".into(),
            summary_json(&run.stats(), &reports, &counts, started.elapsed()),
        );
        members.insert("rules".into(), accounting::rules_json(&reports));
        members.insert(
            "problems".into(),
            problems.iter().map(inputs::problem_json).collect(),
        );
        // Rule entries that could not be loaded (counted as invalid in the summary).
        members.insert("rule_problems".into(), json!(rule_problems));
        members.insert(
            "exceptions".into(),
            crate::cmd::hunt_extras::exceptions_json(exceptions.as_deref()),
        );
        members
    };
    // The input broke its time-order promise (problems and warnings were reported above).
    if let Some(violation) = &output.order_violation {
        writer.flush()?;
        diag!(
            "error: --time-ordered: {violation}; the {} alert(s) already written are in order among themselves, but this record's alerts (and maybe others') belong before them: rerun without --time-ordered for the run's output",
            output.early.written
        );
        return Ok(Code::Usage);
    }
    let notes = writer.finish(&mut output, json_members)?;
    w.finish()?;
    let elapsed = started.elapsed();
    let alerts = output.alerts_given();
    let stats = output.stats();
    let mut reports = output.reports().to_vec();
    reports.extend(not_selected);
    if !global.quiet {
        for n in &notes {
            diag!("{n}");
        }
    }

    let stats = &stats;
    if !global.quiet {
        if engine.timestamp_override_rules() > 0 && stats.timestamp_override_fallbacks > 0 {
            diag!(
                "note: {} rule(s) set timestamp_override = event.ingested; raw CloudTrail has no ingest time, so @timestamp (eventTime) was used for them",
                engine.timestamp_override_rules()
            );
        }
        if stats.records_without_time > 0 {
            diag!(
                "note: {} matching record(s) had no usable @timestamp; --from/--to could not be applied to them, so their alerts were left out (an Elasticsearch range query does not match a document without the field)",
                stats.records_without_time
            );
        }
        if stats.alerts_over_max_signals > 0 {
            diag!(
                "warning: --max-signals dropped {} alert(s)",
                stats.alerts_over_max_signals
            );
        }
        accounting::print(&reports, &counts, global.verbose > 0);
        crate::cmd::hunt_extras::print_exceptions(exceptions.as_deref(), args.explain);
        let secs = elapsed.as_secs_f64().max(1e-9);
        diag!(
            "hunt: {} alert(s) from {} rule(s) run over {} record(s) in {} file(s) ({:.1} MB, {:.0} records/s); matched {}, prefiltered {}, skipped {}, duplicate {}, files skipped {}",
            alerts,
            counts.run,
            stats.records_read,
            stats.files,
            stats.bytes as f64 / 1e6,
            stats.records_read as f64 / secs,
            stats.records_matched,
            stats.records_prefiltered,
            stats.records_skipped,
            stats.duplicates,
            stats.files_skipped
        );
        if stats.alert_spill_files > 0 {
            diag!(
                "hunt: alerts beyond --alert-memory ({} bytes) were spilled: {:.1} MB in {} temporary file(s), merged in {:.2} s",
                args.alert_memory,
                stats.alert_spill_bytes as f64 / 1e6,
                stats.alert_spill_files,
                stats.alert_merge_ms as f64 / 1e3
            );
        }
        if global.verbose > 1 {
            let costs = crate::cmd::hunt_costs::lines(
                &output.rule_costs(),
                &reports,
                crate::cmd::hunt_costs::TOP_RULES,
            );
            for line in costs {
                diag!("{line}");
            }
        }
    }

    inputs::report_named_errors(&named_unreadable);
    let nothing_processed = stats.records_read == 0
        && (stats.files == 0 || !problems.is_empty() || stats.problems_not_kept > 0);
    if nothing_processed {
        diag!("error: no CloudTrail record could be read from the inputs");
        return Ok(Code::Usage);
    }
    if !named_unreadable.is_empty() {
        return Ok(Code::Usage);
    }
    // Problems past --max-problems are counted, not kept: the engine counts those that skipped
    // input.
    if args.strict && (inputs::any_skipped(&problems) || output.skipped_not_kept() > 0) {
        diag!("error: --strict: some input was skipped (see warnings above)");
        return Ok(Code::Usage);
    }
    if args.fail_on_alert && alerts > 0 {
        return Ok(Code::Findings);
    }
    Ok(Code::Ok)
}

/// Writes the alerts early output gives until the run ends, handing them to the output whenever
/// none is waiting (so `| head -1` gets the first at once). An error stops writing.
fn write_early(
    writer: &mut crate::cmd::hunt_output::AlertWriter<'_>,
    alerts: &std::sync::mpsc::Receiver<dragnet_engine::Alert>,
    reports: &[dragnet_engine::RuleReport],
) -> std::io::Result<()> {
    loop {
        let alert = match alerts.try_recv() {
            Ok(alert) => alert,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                writer.flush()?;
                match alerts.recv() {
                    Ok(alert) => alert,
                    Err(_) => return Ok(()),
                }
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return Ok(()),
        };
        writer.write(&alert, &reports[alert.rule])?;
    }
}

/// The rules to run: `-r` paths, or the rules shipped with dragnet. Returns the rules and
/// the problems of rules that could not be loaded (reported, not fatal).
fn load_rules(paths: &[PathBuf]) -> anyhow::Result<(Vec<dragnet_rules::Rule>, Vec<String>, usize)> {
    let set = if paths.is_empty() {
        dragnet_rules::embedded()
    } else {
        dragnet_rules::load_paths(paths)
    };
    let problems: Vec<String> = set
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    if set.rules.is_empty() && !problems.is_empty() {
        for p in &problems {
            diag!("{p}");
        }
        bail!("no rule could be loaded from {}", join_paths(paths));
    }
    Ok((set.rules, problems, set.invalid))
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn input_options(
    args: &Args,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> dragnet_input::InputOptions {
    // The input crate prunes files by the dates in CloudTrail delivery paths; an open end of
    // the range is the end of representable time.
    let time_range = (from.is_some() || to.is_some())
        .then(|| (from.unwrap_or(Timestamp::MIN), to.unwrap_or(Timestamp::MAX)));
    dragnet_input::InputOptions {
        time_range,
        // Records the prefilter drops are never parsed, so hunt frames without a structural
        // scan unless --validate-json asks for one; the engine's parse reports broken records
        // that reach it (dragnet-input doc).
        validate: if args.validate_json {
            dragnet_input::Validation::Full
        } else {
            dragnet_input::Validation::Framing
        },
        ..args.read.options()
    }
}

/// `--from`/`--to`: RFC 3339, a bare date (UTC midnight), or Elasticsearch date math.
fn parse_time(text: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return Ok(d.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    if let Ok(dt) = text.parse::<jiff::civil::DateTime>() {
        return Ok(dt.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    let math = dragnet_rules::DateMath::parse(text).map_err(|e| {
        if let dragnet_rules::TimeParseError::OutOfRange { .. } = e {
            return anyhow::anyhow!("invalid time {text:?}: {e}");
        }
        anyhow::anyhow!(
            "invalid time {text:?}: {e}; use RFC 3339 (2025-03-14T09:00:00Z), a date (2025-03-14) or date math (now-90d)"
        )
    })?;
    math.resolve(now).map_err(|_| {
        anyhow::anyhow!(
            "invalid time {text:?}: it falls outside the supported range, -9999-01-01 to 9999-12-31"
        )
    })
}

fn summary_json(
    stats: &dragnet_engine::RunStats,
    reports: &[dragnet_engine::RuleReport],
    counts: &RuleCounts,
    elapsed: Duration,
) -> Value {
    let mut v = serde_json::to_value(stats).unwrap_or(Value::Null);
    v["rules"] = accounting::summary_json(reports, counts);
    v["elapsed_seconds"] = json!(elapsed.as_secs_f64());
    v
}
