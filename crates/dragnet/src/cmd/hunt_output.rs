//! `dragnet hunt`'s results: the alert row an analyst triages from (one extraction, shared by
//! the table and CSV), the alert table and its closing summary, and the progress bar. Writing
//! itself is `dragnet-printer`'s.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dragnet_engine::{Alert, Progress, RuleReport, RunStream};
use dragnet_printer::{Cell, Column, Doc, Format, Printer, Row, Show, Style, TableOptions};
use serde_json::{Map, Value};

/// What the alert table and CSV show of one alert.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertRow {
    /// The source event's `@timestamp` (RFC 3339).
    pub time: String,
    pub severity: String,
    pub rule: String,
    /// Who acted: `user.name`, else the identity ARN, else the identity type (Root,
    /// AWSService), else the threshold (`field=value`) or new_terms terms.
    pub actor: String,
    pub account: String,
    pub region: String,
    pub source_ip: String,
    pub action: String,
    pub target: String,
    pub event_id: String,
    pub user_agent: String,
    pub rule_id: String,
    pub risk_score: String,
    pub reason: String,
    pub alert_uuid: String,
}

/// The alert table's and CSV's columns, in [`AlertRow::cells`] order. A table fitted to a
/// terminal too narrow for every column at full width leaves out event id, then (when the
/// minimum widths do not fit) region, account, user agent (wide), target; ARNs show their resource part (the account has its own column).
pub fn alert_columns() -> Vec<Column> {
    vec![
        Column::new("time", "time (UTC)").width(19, 19).priority(10),
        Column::new("severity", "severity").width(8, 8).priority(10),
        Column::new("rule", "rule").width(24, 60).priority(9),
        Column::new("actor", "actor").width(14, 48).priority(8),
        Column::new("account", "account").width(12, 12).priority(3),
        Column::new("region", "region").width(9, 14).priority(2),
        // IPv4 addresses are never cut (IPv6 may be, keeping their start).
        Column::new("source_ip", "source ip")
            .width(15, 39)
            .priority(6),
        Column::new("action", "action").width(14, 40).priority(7),
        Column::new("target", "target").width(14, 60).priority(4),
        Column::new("event_id", "event id")
            .width(36, 36)
            .priority(1),
        Column::new("user_agent", "user agent")
            .width(16, 80)
            .priority(2)
            .show(Show::Wide),
        Column::new("rule_id", "rule id").show(Show::Never),
        Column::new("risk_score", "risk score").show(Show::Never),
        Column::new("reason", "reason").show(Show::Never),
        Column::new("alert_uuid", "alert uuid").show(Show::Never),
    ]
}

/// The colour of a severity word.
pub fn severity_style(severity: &str) -> Style {
    match severity {
        "critical" => Style::BoldRed,
        "high" => Style::Red,
        "medium" => Style::Yellow,
        "low" => Style::Green,
        _ => Style::Plain,
    }
}

/// 3 for critical down to 0 for low (unknown words last).
fn severity_rank(severity: &str) -> i8 {
    match severity {
        "critical" => 3,
        "high" => 2,
        "medium" => 1,
        "low" => 0,
        _ => -1,
    }
}

impl AlertRow {
    /// The row of `alert`, raised by the rule `report` describes. The one place the table and
    /// CSV read an alert: the typed values (`dragnet_alert::AlertSummary`: actor with its
    /// fallbacks, account, region, source ip, action, target, user agent, reason), plus the
    /// alert's own severity and risk score (a rule's severity/risk score mapping can change
    /// them per alert) from its document.
    pub fn of(alert: &Alert, report: &RuleReport) -> Self {
        let s = &alert.summary;
        // The alert's own severity (a severity mapping may change the rule's).
        let severity = if s.severity.is_empty() {
            report.severity.clone()
        } else {
            s.severity.clone()
        };
        AlertRow {
            time: alert.timestamp.clone(),
            severity,
            rule: report.name.clone(),
            actor: s.actor.clone(),
            account: s.account.clone(),
            region: s.region.clone(),
            source_ip: s.source_ip.clone(),
            action: s.action.clone(),
            target: s.target.clone(),
            event_id: alert.event_id.clone(),
            user_agent: s.user_agent.clone(),
            rule_id: report.rule_id.clone(),
            risk_score: s.risk_score.clone(),
            reason: s.reason.clone(),
            alert_uuid: alert.uuid.clone(),
        }
    }

    /// One cell per [`alert_columns`] column.
    pub fn cells(self) -> Vec<Cell> {
        let short_time = short_time(&self.time);
        let style = severity_style(&self.severity);
        vec![
            Cell::from(self.time).with_short(short_time),
            Cell::styled(self.severity, style),
            Cell::from(self.rule),
            arn_cell(self.actor),
            Cell::from(self.account),
            Cell::from(self.region),
            Cell::from(self.source_ip),
            Cell::from(self.action),
            arn_cell(self.target),
            Cell::from(self.event_id),
            Cell::from(self.user_agent),
            Cell::from(self.rule_id),
            Cell::from(self.risk_score),
            Cell::from(self.reason),
            Cell::from(self.alert_uuid),
        ]
    }
}

/// An ARN shown as its resource part in tables (`role/admin` for
/// `arn:aws:iam::123456789012:role/admin`); CSV keeps the whole ARN.
fn arn_cell(text: String) -> Cell {
    let resource = text
        .strip_prefix("arn:")
        .and_then(|rest| rest.splitn(5, ':').nth(4))
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    match resource {
        Some(r) => Cell::from(text).with_short(r),
        None => Cell::from(text),
    }
}

/// `2023-07-10T11:57:54.000Z` as `2023-07-10 11:57:54` (UTC is in the column title).
fn short_time(time: &str) -> String {
    match (time.get(..10), time.get(11..19)) {
        (Some(date), Some(clock)) if time.as_bytes().get(10) == Some(&b'T') => {
            format!("{date} {clock}")
        }
        _ => time.to_string(),
    }
}

/// Writes a run's alerts in `format` as they come (every format streams: JSON element by
/// element, tables past their first rows with those rows' widths): first those early output
/// gives while the run goes on ([`AlertWriter::write`]), then the rest of the run's
/// ([`AlertWriter::finish`]). Tables leave out building-block alerts (as Kibana's alerts table
/// does; the other formats carry them) and end with the summary by severity.
pub struct AlertWriter<'w> {
    printer: Printer<'w>,
    format: Format,
    table: TableOptions,
    hidden: usize,
}

impl<'w> AlertWriter<'w> {
    pub fn new(out: &'w mut dyn Write, format: Format, table: TableOptions) -> Self {
        AlertWriter {
            printer: Printer::new(out, format, alert_columns(), "alerts", table).stream_json(),
            format,
            table,
            hidden: 0,
        }
    }

    /// One alert, raised by the rule `report` describes.
    pub fn write(&mut self, a: &Alert, report: &RuleReport) -> std::io::Result<()> {
        if self.format == Format::Table && a.building_block {
            self.hidden += 1;
            return Ok(());
        }
        write_alert(&mut self.printer, a, report)
    }

    /// Hands what was written to the output now (a reader on a pipe sees it).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.printer.flush()
    }

    /// Writes the rest of the run's alerts and completes the output: JSON holds the members
    /// `json_members` makes once the last alert is out (they must sort after `"alerts"`), a
    /// table ends with the summary. Returns the notes for stderr.
    pub fn finish(
        mut self,
        run: &mut RunStream,
        json_members: impl FnOnce(&RunStream) -> Map<String, Value>,
    ) -> anyhow::Result<Vec<String>> {
        while let Some(a) = run.next_alert().map_err(|e| {
            anyhow::anyhow!(
                "{e}; free space there, or give --spill-dir a folder with room (or raise --alert-memory)"
            )
        })? {
            self.write(&a, &run.reports()[a.rule])?;
        }
        let members = if self.format == Format::Json {
            json_members(run)
        } else {
            Map::new()
        };
        let (report, out) = self.printer.finish_returning(members, None)?;
        let mut notes = Vec::new();
        if self.format == Format::Table {
            if !report.dropped.is_empty() {
                notes.push(format!(
                    "note: column(s) {} left out to fit {} columns; widen the terminal, or use --format csv",
                    report.dropped.join(", "),
                    self.table.width.unwrap_or_default()
                ));
            }
            if self.hidden > 0 {
                notes.push(format!(
                    "note: {} building-block alert(s) not shown in the table (use --format json or ndjson)",
                    self.hidden
                ));
            }
            writeln!(out)?;
            write_summary(out, run.reports(), self.table)?;
        }
        Ok(notes)
    }
}

fn write_alert(printer: &mut Printer<'_>, a: &Alert, report: &RuleReport) -> std::io::Result<()> {
    printer.row(
        || Row::new(AlertRow::of(a, report).cells()),
        || Doc::Raw(a.json()),
    )
}

/// The closing summary: one row per rule that alerted, by severity (critical first) then
/// alert count, then the totals per severity.
pub fn write_summary(
    out: &mut dyn Write,
    reports: &[RuleReport],
    table: TableOptions,
) -> std::io::Result<()> {
    let mut alerted: Vec<&RuleReport> = reports.iter().filter(|r| r.alerts > 0).collect();
    alerted.sort_by(|a, b| {
        severity_rank(&b.severity)
            .cmp(&severity_rank(&a.severity))
            .then(b.alerts.cmp(&a.alerts))
            .then(a.name.cmp(&b.name))
    });
    let columns = vec![
        Column::new("severity", "severity").width(8, 8).priority(10),
        Column::new("alerts", "alerts").width(6, 8).priority(10),
        Column::new("rule", "rule").width(24, 80).priority(9),
        Column::new("first_seen", "first seen")
            .width(19, 19)
            .priority(5),
        Column::new("last_seen", "last seen")
            .width(19, 19)
            .priority(4),
    ];
    let rows: Vec<Row> = alerted
        .iter()
        .map(|r| {
            let seen = |t: &Option<String>| {
                let t = t.clone().unwrap_or_default();
                let short = short_time(&t);
                Cell::from(t).with_short(short)
            };
            Row::new(vec![
                Cell::styled(r.severity.clone(), severity_style(&r.severity)),
                Cell::from(r.alerts.to_string()),
                Cell::from(r.name.clone()),
                seen(&r.first_seen),
                seen(&r.last_seen),
            ])
        })
        .collect();
    dragnet_printer::write_table(out, &columns, &rows, &table)?;
    let mut totals: Vec<(&str, u64)> = Vec::new();
    for r in &alerted {
        match totals.iter_mut().find(|(s, _)| *s == r.severity) {
            Some((_, n)) => *n += r.alerts,
            None => totals.push((&r.severity, r.alerts)),
        }
    }
    let total: u64 = totals.iter().map(|t| t.1).sum();
    let parts: Vec<String> = totals
        .iter()
        .map(|(s, n)| format!("{n} {}", severity_style(s).paint(s, table.color)))
        .collect();
    if parts.is_empty() {
        writeln!(out, "0 alerts")?;
    } else {
        writeln!(
            out,
            "{total} alert(s) from {} rule(s): {}",
            alerted.len(),
            parts.join(", ")
        )?;
    }
    Ok(())
}

/// Bytes the run will frame, when every source is a local file: plain files by their size,
/// gzip files by the size their trailer records (exact below 4 GiB). `None` when unknown
/// (stdin, S3, a file that cannot be sized) or too many files to size up front.
pub fn expected_bytes(sources: &[dragnet_input::Source]) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const MAX_FILES: usize = 10_000;
    if sources.len() > MAX_FILES {
        return None;
    }
    let mut total = 0u64;
    for s in sources {
        let dragnet_input::Source::File(path) = s else {
            return None;
        };
        let mut file = std::fs::File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut magic = [0u8; 2];
        let gzip = len >= 18 && file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
        total += if gzip {
            let mut isize = [0u8; 4];
            file.seek(SeekFrom::End(-4)).ok()?;
            file.read_exact(&mut isize).ok()?;
            u64::from(u32::from_le_bytes(isize))
        } else {
            len
        };
    }
    Some(total)
}

/// The progress bar on stderr until `done`: % and time left when `total` bytes are known,
/// else a spinner; the alerts found so far (per-event alerts, each delivery counted: duplicates
/// are told apart when the alerts are merged, after reading; the summary line has the final
/// count), records read and rate.
pub fn progress_bar(progress: &Progress, done: &AtomicBool, total: Option<u64>) {
    let bar = match total {
        Some(total) if total > 0 => {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{bar:20}] {percent:>3}% {eta} left  {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        }
        _ => {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        }
    };
    let started = Instant::now();
    let draw = || {
        let records = progress.records.load(Ordering::Relaxed);
        let bytes = progress.bytes.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        if let Some(total) = total {
            bar.set_position(bytes.min(total));
        }
        // Most important first: a narrow terminal cuts the end.
        bar.set_message(format!(
            "{} alerts, {records} records, {:.0} MB ({:.0} records/s)",
            progress.alerts.load(Ordering::Relaxed),
            bytes as f64 / 1e6,
            records as f64 / secs,
        ));
        bar.tick();
    };
    while !done.load(Ordering::Relaxed) {
        draw();
        std::thread::sleep(Duration::from_millis(100));
    }
    // The last count of the reading phase.
    draw();
    bar.finish_and_clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_times() {
        assert_eq!(
            short_time("2023-07-10T11:57:54.000Z"),
            "2023-07-10 11:57:54"
        );
        assert_eq!(short_time("2023-07-10"), "2023-07-10");
        assert_eq!(short_time(""), "");
    }

    #[test]
    fn arns_show_their_resource() {
        let c = arn_cell("arn:aws:iam::123456789012:role/admin".into());
        assert_eq!(c.short.as_deref(), Some("role/admin"));
        assert_eq!(c.text, "arn:aws:iam::123456789012:role/admin");
        let c = arn_cell("arn:aws:sts::1:assumed-role/R/s:x".into());
        assert_eq!(c.short.as_deref(), Some("assumed-role/R/s:x"));
        assert_eq!(arn_cell("bert-jan".into()).short, None);
        assert_eq!(arn_cell("i-0abc".into()).short, None);
    }

    #[test]
    fn columns_and_cells_line_up() {
        let cells = AlertRow::default().cells();
        assert_eq!(cells.len(), alert_columns().len());
    }
}
