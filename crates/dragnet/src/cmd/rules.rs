//! `dragnet rules list|show`: what a rule set holds, and one rule in detail (metadata and
//! the triage guide rendered for the terminal, or Kibana JSON with `--format json`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::bail;
use dragnet_rules::{Rule, RuleSet, TypeParams};
use serde_json::json;

use crate::exit::Code;
use crate::output::{Format, GlobalArgs};
use dragnet_printer::{Cell, Column, Doc, Newlines, Printer, Row, escape_controls};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum RulesCommand {
    /// List rules: name, rule_id, type, language, severity, risk, tactics, maturity.
    List(ListArgs),
    /// Show one rule (by path, rule_id or name): metadata and triage guide, or Kibana JSON.
    Show(ShowArgs),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Rule files or folders (default: the rules shipped in dragnet).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Rule files or folders (repeatable; same as PATH).
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    #[command(flatten)]
    pub filter: crate::cmd::rule_filter::RuleFilterArgs,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// A rule file path, a rule_id, a rule file name, or a fragment of a rule name (any case).
    #[arg(value_name = "RULE")]
    pub rule: String,
    /// Rule files or folders to search (repeatable; default: the rules shipped in dragnet).
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<Code> {
    match args.command {
        RulesCommand::List(a) => list(global, a),
        RulesCommand::Show(a) => show(global, a),
    }
}

/// Loads `paths`, or the embedded rules when empty; load problems go to stderr.
pub fn load_rule_set(global: &GlobalArgs, paths: &[PathBuf]) -> RuleSet {
    let set = if paths.is_empty() {
        dragnet_rules::embedded()
    } else {
        dragnet_rules::load_paths(paths)
    };
    let color = global.color_stderr();
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    for d in &set.diagnostics {
        if global.quiet && !d.is_error() {
            continue;
        }
        let _ = super::validate::write_human(&mut err, d, color);
    }
    if set.invalid > 0 && !global.quiet {
        let _ = writeln!(
            err,
            "{} of {} rules skipped because of errors (run `dragnet validate` for details)",
            set.invalid,
            set.total()
        );
    }
    set
}

fn list(global: &GlobalArgs, args: ListArgs) -> anyhow::Result<Code> {
    let mut paths = args.paths.clone();
    paths.extend(args.rules.iter().cloned());
    let set = load_rule_set(global, &paths);
    if !paths.is_empty() && (set.files == 0 || set.files == set.unreadable) {
        bail!("no rule file could be read from the given paths");
    }
    let rules: Vec<&Rule> = set
        .rules
        .iter()
        .filter(|r| args.filter.matches(r))
        .collect();
    // Deprecated rules the other filters select: left out, and said so.
    let with_deprecated = crate::cmd::rule_filter::RuleFilterArgs {
        include_deprecated: true,
        ..args.filter.clone()
    };
    let deprecated = set
        .rules
        .iter()
        .filter(|r| !args.filter.matches(r) && with_deprecated.matches(r))
        .count();
    if deprecated > 0 && !global.quiet {
        diag!("note: {deprecated} deprecated rule(s) not listed (--include-deprecated lists them)");
    }
    let format = global.resolve_format("rules list", &Format::ALL)?;
    let mut out = global.writer()?;
    let mut printer = Printer::new(
        &mut out,
        format,
        list_columns(),
        "rules",
        global.table_options(false),
    );
    for r in &rules {
        printer.row(|| row(r), || Doc::Value(row_json(r)))?;
    }
    let mut summary = serde_json::Map::new();
    summary.insert("summary".into(), json!({ "rules": rules.len() }));
    printer.finish_with(summary, None)?;
    out.finish()?;
    Ok(Code::Ok)
}

/// `rules list` columns: name, rule_id, type, language, severity, risk, tactics, maturity
/// (the CSV header); a narrow table drops maturity, language and tactics first.
fn list_columns() -> Vec<Column> {
    vec![
        Column::new("name", "name").width(20, 70).priority(9),
        Column::new("rule_id", "rule_id").width(36, 36).priority(8),
        Column::new("type", "type").width(5, 12).priority(7),
        Column::new("language", "language").width(5, 8).priority(3),
        Column::new("severity", "severity").width(8, 8).priority(7),
        Column::new("risk", "risk").width(4, 4).priority(5),
        Column::new("tactics", "tactics").width(12, 60).priority(4),
        Column::new("maturity", "maturity")
            .width(10, 12)
            .priority(2),
    ]
}

fn language(rule: &Rule) -> &'static str {
    rule.language.map_or("", |l| l.as_str())
}

fn row(rule: &Rule) -> Row {
    let severity = rule.severity.as_str();
    Row::new(vec![
        Cell::from(rule.name.as_str()),
        Cell::from(rule.rule_id.as_str()),
        Cell::from(rule.rule_type().as_str()),
        Cell::from(language(rule)),
        Cell::styled(severity, crate::cmd::hunt_output::severity_style(severity)),
        Cell::from(rule.risk_score.to_string()),
        Cell::from(rule.tactics().join(", ")),
        Cell::from(rule.metadata.maturity.map_or("", |m| m.as_str())),
    ])
}

fn row_json(rule: &Rule) -> serde_json::Value {
    json!({
        "name": rule.name,
        "rule_id": rule.rule_id,
        "type": rule.rule_type().as_str(),
        "language": rule.language.map(|l| l.as_str()),
        "severity": rule.severity.as_str(),
        "risk": rule.risk_score,
        "tactics": rule.tactics(),
        "maturity": rule.metadata.maturity.map(|m| m.as_str()),
        "path": rule.path().display().to_string(),
    })
}

fn show(global: &GlobalArgs, args: ShowArgs) -> anyhow::Result<Code> {
    let as_path = PathBuf::from(&args.rule);
    let (set, key) = if as_path.is_file() {
        (load_rule_set(global, std::slice::from_ref(&as_path)), None)
    } else {
        (load_rule_set(global, &args.rules), Some(args.rule.as_str()))
    };
    let searched = || {
        if args.rules.is_empty() {
            "the shipped rules".to_string()
        } else {
            args.rules
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let rule = match key {
        Some(key) => match find_rule(&set.rules, key) {
            Found::One(rule) => rule,
            Found::Several(rules) => {
                let shown = 10;
                let mut msg = format!(
                    "{} rules in {} have `{key}` in their name; give more of the name or the rule_id:",
                    rules.len(),
                    searched()
                );
                for r in rules.iter().take(shown) {
                    msg.push_str(&format!("\n  {} ({})", r.name, r.rule_id));
                }
                if rules.len() > shown {
                    msg.push_str(&format!("\n  … and {} more", rules.len() - shown));
                }
                bail!(msg);
            }
            Found::None(nearest) => {
                let mut msg = format!(
                    "no valid rule `{key}` in {}: no rule_id, file name or name has it",
                    searched()
                );
                if nearest.is_empty() {
                    msg.push_str("; see `dragnet rules list`");
                } else {
                    msg.push_str("; the nearest names are:");
                    for r in &nearest {
                        msg.push_str(&format!("\n  {} ({})", r.name, r.rule_id));
                    }
                }
                bail!(msg);
            }
        },
        None => match set.rules.first() {
            Some(rule) => rule,
            None => bail!(
                "no valid rule in {}; run `dragnet validate` on it for the errors",
                args.rule
            ),
        },
    };
    let format =
        global.resolve_format("rules show", &[Format::Table, Format::Json, Format::Ndjson])?;
    let mut out = global.writer()?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &rule.to_kibana_json())?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            serde_json::to_writer(&mut out, &rule.to_kibana_json())?;
            writeln!(out)?;
        }
        Format::Table | Format::Csv => {
            let color = global.color_stdout();
            let width = global.table_width().unwrap_or(100).clamp(40, 120);
            render_rule(&mut out, rule, width, color)?;
        }
    }
    out.finish()?;
    Ok(Code::Ok)
}

/// What a `rules show` key found.
enum Found<'a> {
    One(&'a Rule),
    /// Several rules have the key in their name.
    Several(Vec<&'a Rule>),
    /// Nothing has it: the nearest names, best first.
    None(Vec<&'a Rule>),
}

/// A rule by rule_id, file name (with or without `.toml`), exact name, or a fragment of its
/// name; all ignoring case. A fragment that several names contain finds them all (unless one
/// name is exactly the key).
fn find_rule<'a>(rules: &'a [Rule], key: &str) -> Found<'a> {
    let key = key.trim();
    let lower = key.to_lowercase();
    let exact = rules.iter().find(|r| {
        r.rule_id.eq_ignore_ascii_case(key)
            || r.name.eq_ignore_ascii_case(key)
            || r.path()
                .file_name()
                .is_some_and(|f| f.eq_ignore_ascii_case(key))
            || r.path()
                .file_stem()
                .is_some_and(|f| f.eq_ignore_ascii_case(key))
    });
    if let Some(rule) = exact {
        return Found::One(rule);
    }
    let containing: Vec<&Rule> = rules
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&lower))
        .collect();
    match containing.len() {
        1 => Found::One(containing[0]),
        0 => {
            let mut scored: Vec<(usize, &Rule)> = rules
                .iter()
                .map(|r| (fragment_distance(&lower, &r.name.to_lowercase()), r))
                .collect();
            scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
            // Close enough to be a typo or a different word order, not just any name.
            let limit = (key.chars().count() / 2).max(2);
            Found::None(
                scored
                    .into_iter()
                    .filter(|(d, _)| *d <= limit)
                    .take(5)
                    .map(|(_, r)| r)
                    .collect(),
            )
        }
        _ => Found::Several(containing),
    }
}

/// How far `fragment` is from the closest part of `name`: the fewest single-character edits
/// that turn it into some substring of `name` (Levenshtein distance where the match may start
/// and end anywhere in `name`).
fn fragment_distance(fragment: &str, name: &str) -> usize {
    let f: Vec<char> = fragment.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // prev[j]: edits to turn f[..i] into a substring of n ending at j.
    let mut prev = vec![0usize; n.len() + 1];
    let mut cur = vec![0usize; n.len() + 1];
    for i in 1..=f.len() {
        cur[0] = i;
        for j in 1..=n.len() {
            let substitute = prev[j - 1] + usize::from(f[i - 1] != n[j - 1]);
            cur[j] = substitute.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.into_iter().min().unwrap_or(f.len())
}

/// One line of rule text for the terminal: control characters and bidi controls escaped
/// (`\x1b`, `\u{202e}`), line feeds and tabs too.
fn line(text: &str) -> String {
    escape_controls(text, Newlines::Escape).into_owned()
}

/// Rule text that may span lines: escaped as [`line`], but line feeds and tabs kept.
fn text(text: &str) -> String {
    escape_controls(text, Newlines::Keep).into_owned()
}

/// The human view: a header, key facts, the query, then the note and setup guides. Every
/// piece of rule text is escaped ([`line`], [`text`]): a rule file is untrusted input too.
fn render_rule(out: &mut dyn Write, rule: &Rule, width: usize, color: bool) -> std::io::Result<()> {
    let (bold, off) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let name = line(&rule.name);
    writeln!(out, "{bold}{name}{off}")?;
    writeln!(out, "{}", "=".repeat(name.chars().count().min(width)))?;
    let mut facts: Vec<(&str, String)> = vec![
        ("rule_id", rule.rule_id.clone()),
        ("file", rule.path().display().to_string()),
        ("type", rule.rule_type().as_str().to_string()),
    ];
    if let Some(l) = rule.language {
        facts.push(("language", l.as_str().to_string()));
    }
    facts.push((
        "severity",
        format!("{} (risk {})", rule.severity.as_str(), rule.risk_score),
    ));
    if let Some(m) = rule.metadata.maturity {
        facts.push(("maturity", m.as_str().to_string()));
    }
    if !rule.metadata.integration.is_empty() {
        facts.push(("integration", rule.metadata.integration.join(", ")));
    }
    if let Some(index) = &rule.index {
        facts.push(("index", index.join(", ")));
    }
    let schedule = format!(
        "every {} looking back to {}",
        rule.interval
            .as_ref()
            .map_or("5m (default)", |i| i.as_str()),
        rule.from
            .as_ref()
            .map_or("now-6m (default)", |f| f.as_str())
    );
    facts.push(("schedule", schedule));
    if let Some(t) = &rule.timestamp_override {
        facts.push(("timestamp", t.clone()));
    }
    let tactics = rule.tactics();
    if !tactics.is_empty() {
        facts.push(("tactics", tactics.join(", ")));
    }
    let techniques: Vec<String> = rule
        .threat
        .iter()
        .flat_map(|t| &t.technique)
        .map(|t| format!("{} {}", t.id, t.name))
        .collect();
    if !techniques.is_empty() {
        facts.push(("techniques", techniques.join(", ")));
    }
    match &rule.params {
        TypeParams::Threshold(t) => facts.push((
            "threshold",
            format!("{} events by [{}]", t.value, t.field.join(", ")),
        )),
        TypeParams::NewTerms(n) => facts.push((
            "new terms",
            format!(
                "[{}] not seen since {}",
                n.fields.join(", "),
                n.history_window_start
            ),
        )),
        _ => {}
    }
    if let (Some(c), Some(u)) = (rule.metadata.creation_date, rule.metadata.updated_date) {
        facts.push(("dates", format!("created {c}, updated {u}")));
    }
    if !rule.tags.is_empty() {
        facts.push(("tags", rule.tags.join(", ")));
    }
    let label_width = facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in &facts {
        let lines = wrap(&line(value), width.saturating_sub(label_width + 2).max(20));
        for (i, line) in lines.iter().enumerate() {
            let label = if i == 0 { *key } else { "" };
            writeln!(out, "{bold}{label:>label_width$}{off}  {line}")?;
        }
    }
    writeln!(out)?;
    for para in wrap(&text(&rule.description), width) {
        writeln!(out, "{para}")?;
    }
    if let Some(q) = &rule.query {
        writeln!(out)?;
        writeln!(out, "{bold}Query{off}")?;
        for query_line in text(q.trim()).lines() {
            writeln!(out, "    {query_line}")?;
        }
    }
    let (note, setup) = (rule.note.as_deref(), rule.setup.as_deref());
    for text in [note, setup].into_iter().flatten() {
        writeln!(out)?;
        render_markdown(out, text, width, color)?;
    }
    if !rule.references.is_empty() {
        writeln!(out)?;
        writeln!(out, "{bold}References{off}")?;
        for r in &rule.references {
            writeln!(out, "  • {}", line(r))?;
        }
    }
    Ok(())
}

/// Greedy word wrap; words longer than `width` stay whole.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Renders Markdown for a terminal: underlined headings, wrapped paragraphs, bullets and
/// numbers with hanging indents, indented code blocks, links as `text (url)`. The text the
/// parser yields is escaped (character references such as `&#27;` decode to controls).
pub fn render_markdown(
    out: &mut dyn Write,
    markdown: &str,
    width: usize,
    color: bool,
) -> std::io::Result<()> {
    use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
    let (bold, off) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let mut text = String::new(); // current inline run
    let mut lists: Vec<Option<u64>> = Vec::new(); // None = bullets, Some(n) = next number
    let mut item_prefix: Option<String> = None;
    let mut in_code = false;
    let mut link_urls: Vec<String> = Vec::new();
    let mut blank_pending = false;

    let flush = |out: &mut dyn Write,
                 text: &mut String,
                 lists: &Vec<Option<u64>>,
                 prefix: &mut Option<String>,
                 blank: &mut bool|
     -> std::io::Result<()> {
        if text.trim().is_empty() {
            text.clear();
            return Ok(());
        }
        if *blank {
            writeln!(out)?;
            *blank = false;
        }
        let indent = "  ".repeat(lists.len().saturating_sub(1));
        let first = prefix.take().map(|p| format!("{indent}{p}"));
        let hang = match &first {
            Some(f) => " ".repeat(f.chars().count()),
            None => " ".repeat(if lists.is_empty() {
                0
            } else {
                indent.len() + 2
            }),
        };
        let avail = width.saturating_sub(hang.chars().count()).max(20);
        for (i, line) in wrap(text, avail).iter().enumerate() {
            match (&first, i) {
                (Some(f), 0) => writeln!(out, "{f}{line}")?,
                _ => writeln!(out, "{hang}{line}")?,
            }
        }
        text.clear();
        Ok(())
    };

    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    ) {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
            }
            Event::End(TagEnd::Heading(level)) => {
                let title = text.trim().to_string();
                text.clear();
                writeln!(out)?;
                writeln!(out, "{bold}{title}{off}")?;
                let rule = match level {
                    HeadingLevel::H1 => Some('='),
                    HeadingLevel::H2 => Some('-'),
                    _ => None,
                };
                if let Some(c) = rule {
                    writeln!(
                        out,
                        "{}",
                        c.to_string().repeat(title.chars().count().min(width))
                    )?;
                }
                blank_pending = false;
            }
            Event::Start(Tag::Paragraph) => {}
            Event::End(TagEnd::Paragraph) => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
                if lists.is_empty() {
                    blank_pending = true;
                }
            }
            Event::Start(Tag::List(start)) => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
                lists.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
                lists.pop();
                if lists.is_empty() {
                    blank_pending = true;
                }
            }
            Event::Start(Tag::Item) => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
                item_prefix = Some(match lists.last_mut() {
                    Some(Some(n)) => {
                        let p = format!("{n}. ");
                        *n += 1;
                        p
                    }
                    _ => "• ".to_string(),
                });
            }
            Event::End(TagEnd::Item) => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
                in_code = true;
                if let CodeBlockKind::Fenced(_) = kind {
                    writeln!(out)?;
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                blank_pending = true;
            }
            Event::Start(Tag::Link { dest_url, .. }) => link_urls.push(line(&dest_url)),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link_urls.pop()
                    && !text.ends_with(url.as_str())
                {
                    text.push_str(&format!(" ({url})"));
                }
            }
            Event::Text(t) if in_code => {
                for code_line in escape_controls(&t, Newlines::Keep).lines() {
                    writeln!(out, "    {code_line}")?;
                }
            }
            Event::Text(t) => text.push_str(&escape_controls(&t, Newlines::Keep)),
            Event::Code(c) => {
                text.push('`');
                text.push_str(&escape_controls(&c, Newlines::Keep));
                text.push('`');
            }
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::Rule => {
                flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
                writeln!(out, "{}", "-".repeat(width.min(40)))?;
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                text.push_str(&escape_controls(&h, Newlines::Keep));
            }
            _ => {}
        }
    }
    flush(out, &mut text, &lists, &mut item_prefix, &mut blank_pending)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_distance_finds_the_closest_part_of_a_name() {
        assert_eq!(
            fragment_distance("system manager", "aws execution via system manager"),
            0
        );
        assert_eq!(
            fragment_distance("sytem manager", "aws execution via system manager"),
            1
        );
        assert_eq!(
            fragment_distance("ami shared", "ec2 ami shared with another account"),
            0
        );
        assert!(fragment_distance("kerberos", "ec2 ami shared with another account") > 4);
    }

    #[test]
    fn rules_are_found_by_id_file_name_and_fragment() {
        let rules = dragnet_rules::embedded().rules;
        let name = |f: Found<'_>| match f {
            Found::One(r) => r.name.clone(),
            Found::Several(v) => format!("{} rules", v.len()),
            Found::None(v) => format!(
                "none, nearest {:?}",
                v.iter().map(|r| &r.name).collect::<Vec<_>>()
            ),
        };
        assert_eq!(
            name(find_rule(&rules, "SYSTEM manager")),
            "AWS Execution via System Manager"
        );
        assert_eq!(
            name(find_rule(&rules, "initial_access_via_system_manager")),
            "AWS Execution via System Manager"
        );
        assert_eq!(name(find_rule(&rules, "a")), "2 rules");
        assert_eq!(
            name(find_rule(&rules, "sytem manger")),
            "none, nearest [\"AWS Execution via System Manager\"]"
        );
    }

    #[test]
    fn markdown_renders_headings_bullets_and_wraps() {
        let md = "## Triage\n### Steps\n- first item that is long enough to wrap around the width\n- second\n\nA [link](https://x.y) and `code`.\n";
        let mut out = Vec::new();
        render_markdown(&mut out, md, 30, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "\nTriage\n------\n\nSteps\n• first item that is long\n  enough to wrap around the\n  width\n• second\n\nA link (https://x.y) and\n`code`.\n"
        );
    }
}
