//! What happened to every rule of a run, as the user reads it: rules the selection flags left
//! out join the engine's report, and rules that did not run are counted by reason category
//! (one line each on stderr; every rule with its exact reason under `-v` and in JSON).

use dragnet_engine::{RuleCounts, RuleReport, RuleStatus};
use dragnet_rules::Rule;
use serde_json::{Value, json};

use crate::cmd::inputs::group_digits;
use crate::cmd::rule_filter::RuleFilterArgs;

/// Splits `rules` into those `filter` selects and the reports of those it does not (accounted
/// as not selected, with the reason).
pub fn select(rules: Vec<Rule>, filter: &RuleFilterArgs) -> (Vec<Rule>, Vec<RuleReport>) {
    let mut selected = Vec::with_capacity(rules.len());
    let mut not_selected = Vec::new();
    for rule in rules {
        match filter.rejects(&rule) {
            None => selected.push(rule),
            Some(reason) => not_selected.push(report(&rule, RuleStatus::NotSelected { reason })),
        }
    }
    (selected, not_selected)
}

fn report(rule: &Rule, status: RuleStatus) -> RuleReport {
    RuleReport {
        rule_id: rule.rule_id.clone(),
        name: rule.name.clone(),
        rule_type: rule.rule_type().as_str().to_string(),
        language: rule.language.map(|l| l.as_str().to_string()),
        severity: rule.severity.as_str().to_string(),
        source: rule.path().display().to_string(),
        status,
        alerts: 0,
        first_seen: None,
        last_seen: None,
    }
}

/// The reason category of a rule that did not run: reasons that differ only in their details
/// (which index patterns, which ML job) are one category. `None` for rules that ran.
pub fn category(status: &RuleStatus) -> Option<String> {
    let reason = status.reason()?;
    let starts = |p: &str| reason.starts_with(p);
    let category = match status {
        RuleStatus::NotApplicable { .. } if reason.contains("cannot cover CloudTrail") => {
            "index patterns cannot cover CloudTrail".to_string()
        }
        RuleStatus::Unsupported { .. } if starts("esql rules") => "ES|QL".to_string(),
        RuleStatus::Unsupported { .. } if starts("machine_learning rules") => {
            "machine learning jobs".to_string()
        }
        RuleStatus::Unsupported { .. } if starts("threat_match needs --indicators") => {
            "needs --indicators (threat_match)".to_string()
        }
        RuleStatus::Unsupported { .. } | RuleStatus::NotSelected { .. }
            if reason.contains("needs --") || starts("deprecated:") || starts("--") =>
        {
            match reason.find("needs --") {
                Some(i) if !starts("deprecated:") && !starts("--") => {
                    let flag = reason[i..].split_whitespace().nth(1).unwrap_or_default();
                    format!("needs {flag}")
                }
                _ => reason.split(':').next().unwrap_or(reason).to_string(),
            }
        }
        RuleStatus::Invalid { .. } => reason.split(':').next().unwrap_or(reason).to_string(),
        _ => generic(reason),
    };
    Some(category)
}

/// A reason without its specifics: bracketed lists and parenthesised details dropped, cut at
/// the first `:`.
fn generic(reason: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in reason.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => break,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Human name of a status in the summary.
fn status_words(status: &RuleStatus) -> &'static str {
    match status {
        RuleStatus::Run { .. } => "run",
        RuleStatus::NotApplicable { .. } => "not applicable",
        RuleStatus::Unsupported { .. } => "unsupported",
        RuleStatus::Invalid { .. } => "invalid",
        RuleStatus::NotSelected { .. } => "not selected",
    }
}

fn status_rank(status: &RuleStatus) -> u8 {
    match status {
        RuleStatus::Run { .. } => 0,
        RuleStatus::NotApplicable { .. } => 1,
        RuleStatus::Unsupported { .. } => 2,
        RuleStatus::Invalid { .. } => 3,
        RuleStatus::NotSelected { .. } => 4,
    }
}

/// (status words, category, count) of the rules that did not run, by status then count.
pub fn categories(reports: &[RuleReport]) -> Vec<(&'static str, String, usize)> {
    let mut groups: Vec<(u8, &'static str, String, usize)> = Vec::new();
    for r in reports {
        let Some(category) = category(&r.status) else {
            continue;
        };
        let words = status_words(&r.status);
        match groups.iter_mut().find(|g| g.1 == words && g.2 == category) {
            Some(g) => g.3 += 1,
            None => groups.push((status_rank(&r.status), words, category, 1)),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0).then(b.3.cmp(&a.3)).then(a.2.cmp(&b.2)));
    groups.into_iter().map(|(_, w, c, n)| (w, c, n)).collect()
}

/// The rule accounting on stderr: the counts, one line per reason category, and with
/// `list_all` every rule that did not run (or ran with notes) with its exact reason.
pub fn print(reports: &[RuleReport], counts: &RuleCounts, list_all: bool) {
    let n = |v: usize| group_digits(v as u64);
    diag!(
        "rules: {} loaded: {} run, {} not applicable, {} unsupported, {} invalid, {} not selected",
        n(counts.total),
        n(counts.run),
        n(counts.not_applicable),
        n(counts.unsupported),
        n(counts.invalid),
        n(counts.not_selected)
    );
    let groups = categories(reports);
    for (words, category, count) in &groups {
        diag!("  {} {words}: {category}", n(*count));
    }
    if !list_all {
        if !groups.is_empty() {
            diag!("  (-v lists every rule with its reason)");
        }
        return;
    }
    for r in reports {
        let detail = match &r.status {
            RuleStatus::Run { notes, .. } if notes.is_empty() => continue,
            RuleStatus::Run { notes, .. } => notes.join("; "),
            other => other.reason().unwrap_or_default().to_string(),
        };
        diag!(
            "  {:<14} {} ({}): {}",
            r.status.name(),
            r.name,
            r.rule_id,
            detail
        );
    }
}

/// Every rule's report as JSON, with its reason category.
pub fn rules_json(reports: &[RuleReport]) -> Value {
    reports
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
            if let Some(c) = category(&r.status) {
                v["category"] = json!(c);
            }
            v
        })
        .collect()
}

/// The rule part of a JSON summary: counts, counts per reason category, and every rule that
/// did not run with its exact reason.
pub fn summary_json(reports: &[RuleReport], counts: &RuleCounts) -> Value {
    let mut v = serde_json::to_value(counts).unwrap_or(Value::Null);
    v["categories"] = categories(reports)
        .into_iter()
        .map(|(status, category, count)| {
            json!({"status": status.replace(' ', "_"), "category": category, "count": count})
        })
        .collect();
    v["not_run"] = reports
        .iter()
        .filter_map(|r| {
            Some(json!({
                "rule_id": r.rule_id,
                "name": r.name,
                "status": r.status.name(),
                "category": category(&r.status)?,
                "reason": r.status.reason()?,
            }))
        })
        .collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(kind: &str, reason: &str) -> RuleStatus {
        let reason = reason.to_string();
        match kind {
            "na" => RuleStatus::NotApplicable { reason },
            "un" => RuleStatus::Unsupported { reason },
            "ns" => RuleStatus::NotSelected { reason },
            _ => RuleStatus::Invalid { reason },
        }
    }

    #[test]
    fn reasons_collapse_to_categories() {
        let c = |k, r| category(&status(k, r)).unwrap();
        assert_eq!(
            c(
                "na",
                "index patterns [winlogbeat-*, logs-windows.*] cannot cover CloudTrail (logs-aws.cloudtrail-*)"
            ),
            "index patterns cannot cover CloudTrail"
        );
        assert_eq!(
            c(
                "na",
                "ES|QL FROM logs-okta* cannot cover CloudTrail (logs-aws.cloudtrail-*)"
            ),
            "index patterns cannot cover CloudTrail"
        );
        assert_eq!(c("un", "esql rules are not implemented yet"), "ES|QL");
        assert_eq!(
            c(
                "un",
                "machine_learning rules read the anomaly records of Elastic ML job(s) rare_error_code, which exist only inside Elasticsearch"
            ),
            "machine learning jobs"
        );
        assert_eq!(
            c(
                "un",
                "reads source.as.number: needs --asn-db (a MaxMind ASN database)"
            ),
            "needs --asn-db"
        );
        assert_eq!(
            c("ns", "deprecated: maturity = \"deprecated\""),
            "deprecated"
        );
        assert_eq!(c("ns", "--severity: its severity is low"), "--severity");
        assert_eq!(
            c(
                "un",
                "Kibana query DSL filters are not implemented (rule has `filters`)"
            ),
            "Kibana query DSL filters are not implemented"
        );
        assert_eq!(
            category(&RuleStatus::Run {
                prefiltered: true,
                notes: vec![]
            }),
            None
        );
    }
}
