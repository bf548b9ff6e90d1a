//! Which rules a command works on: one set of filters for `hunt` and `rules list`, each value
//! checked when the command line is parsed (a typo is a usage error, exit 2, before any rule is
//! loaded), and deprecated rules left out unless asked for.

use dragnet_rules::{Maturity, Rule, RuleType, Severity};

/// The MITRE ATT&CK Enterprise tactics detection rules map to: (id, name).
pub const TACTICS: [(&str, &str); 14] = [
    ("TA0043", "Reconnaissance"),
    ("TA0042", "Resource Development"),
    ("TA0001", "Initial Access"),
    ("TA0002", "Execution"),
    ("TA0003", "Persistence"),
    ("TA0004", "Privilege Escalation"),
    ("TA0005", "Defense Evasion"),
    ("TA0006", "Credential Access"),
    ("TA0007", "Discovery"),
    ("TA0008", "Lateral Movement"),
    ("TA0009", "Collection"),
    ("TA0011", "Command and Control"),
    ("TA0010", "Exfiltration"),
    ("TA0040", "Impact"),
];

/// Rule selection flags. Several values of one flag are alternatives; different flags must all
/// hold. Comparisons ignore case.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RuleFilterArgs {
    /// Only the rule with this rule_id (repeatable).
    #[arg(long = "rule-id", value_name = "ID")]
    pub rule_ids: Vec<String>,
    /// Only rules whose name contains TEXT, ignoring case (repeatable).
    #[arg(long = "name", value_name = "TEXT")]
    pub names: Vec<String>,
    /// Only rules carrying this tag, e.g. "Data Source: AWS SSM" (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Only rules of this type: query, eql, threshold, new_terms, esql, threat_match,
    /// machine_learning, saved_query (repeatable).
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
    pub types: Vec<RuleType>,
    /// Only rules of this severity: low, medium, high, critical (repeatable).
    #[arg(long = "severity", value_name = "LEVEL", value_parser = parse_severity)]
    pub severities: Vec<Severity>,
    /// Only rules mapped to this MITRE ATT&CK tactic, by name ("Initial Access") or id
    /// (TA0001) (repeatable).
    #[arg(long = "tactic", value_name = "TACTIC", value_parser = parse_tactic)]
    pub tactics: Vec<&'static (&'static str, &'static str)>,
    /// Only rules of this integration (`[metadata] integration`, e.g. aws) (repeatable).
    #[arg(long = "integration", value_name = "NAME")]
    pub integrations: Vec<String>,
    /// Only rules of this maturity: development, experimental, beta, production, deprecated
    /// (repeatable; `deprecated` includes deprecated rules).
    #[arg(long = "maturity", value_name = "LEVEL", value_parser = parse_maturity)]
    pub maturities: Vec<Maturity>,
    /// Include deprecated rules (`maturity = "deprecated"`), which are otherwise not selected.
    #[arg(long)]
    pub include_deprecated: bool,
}

fn one_of<T: Copy>(text: &str, all: &[T], name: impl Fn(T) -> &'static str) -> Option<T> {
    all.iter()
        .copied()
        .find(|v| name(*v).eq_ignore_ascii_case(text.trim()))
}

fn parse_type(text: &str) -> Result<RuleType, String> {
    one_of(text, &RuleType::ALL, RuleType::as_str).ok_or_else(|| {
        format!(
            "unknown rule type; use one of: {}",
            RuleType::ALL.map(RuleType::as_str).join(", ")
        )
    })
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    one_of(text, &Severity::ALL, Severity::as_str).ok_or_else(|| {
        format!(
            "unknown severity; use one of: {}",
            Severity::ALL.map(Severity::as_str).join(", ")
        )
    })
}

fn parse_maturity(text: &str) -> Result<Maturity, String> {
    one_of(text, &Maturity::ALL, Maturity::as_str).ok_or_else(|| {
        format!(
            "unknown maturity; use one of: {}",
            Maturity::ALL.map(Maturity::as_str).join(", ")
        )
    })
}

fn parse_tactic(text: &str) -> Result<&'static (&'static str, &'static str), String> {
    let t = text.trim();
    TACTICS
        .iter()
        .find(|(id, name)| id.eq_ignore_ascii_case(t) || name.eq_ignore_ascii_case(t))
        .ok_or_else(|| {
            let all: Vec<String> = TACTICS
                .iter()
                .map(|(id, name)| format!("{name} ({id})"))
                .collect();
            format!(
                "unknown MITRE ATT&CK tactic; use a name or id: {}",
                all.join(", ")
            )
        })
}

/// Whether a rule is deprecated (it stays in the rule repository for history only).
pub fn is_deprecated(rule: &Rule) -> bool {
    rule.metadata.maturity == Some(Maturity::Deprecated)
}

impl RuleFilterArgs {
    /// `None` when `rule` is selected, else why not: `deprecated: …` or `--flag: …`, the part
    /// before the colon naming the reason's category.
    pub fn rejects(&self, rule: &Rule) -> Option<String> {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let asked_deprecated = self.maturities.contains(&Maturity::Deprecated);
        if is_deprecated(rule) && !self.include_deprecated && !asked_deprecated {
            return Some(
                "deprecated: maturity = \"deprecated\" (--include-deprecated runs it)".into(),
            );
        }
        if !self.rule_ids.is_empty() && !self.rule_ids.iter().any(|id| eq(id, &rule.rule_id)) {
            return Some("--rule-id: its rule_id was not given".into());
        }
        if !self.names.is_empty() {
            let name = rule.name.to_lowercase();
            if !self.names.iter().any(|n| name.contains(&n.to_lowercase())) {
                return Some(format!(
                    "--name: its name contains none of {}",
                    quoted(&self.names)
                ));
            }
        }
        if !self.tags.is_empty()
            && !self
                .tags
                .iter()
                .any(|t| rule.tags.iter().any(|rt| eq(t, rt)))
        {
            return Some(format!("--tag: it carries none of {}", quoted(&self.tags)));
        }
        if !self.types.is_empty() && !self.types.contains(&rule.rule_type()) {
            return Some(format!("--type: its type is {}", rule.rule_type().as_str()));
        }
        if !self.severities.is_empty() && !self.severities.contains(&rule.severity) {
            return Some(format!(
                "--severity: its severity is {}",
                rule.severity.as_str()
            ));
        }
        if !self.tactics.is_empty()
            && !self.tactics.iter().any(|(id, name)| {
                rule.threat
                    .iter()
                    .any(|th| eq(id, &th.tactic.id) || eq(name, &th.tactic.name))
            })
        {
            let tactics = rule.tactics();
            return Some(format!(
                "--tactic: its tactics are {}",
                if tactics.is_empty() {
                    "none".to_string()
                } else {
                    tactics.join(", ")
                }
            ));
        }
        if !self.integrations.is_empty()
            && !self
                .integrations
                .iter()
                .any(|i| rule.metadata.integration.iter().any(|x| eq(x, i)))
        {
            return Some(format!(
                "--integration: its integrations are {}",
                if rule.metadata.integration.is_empty() {
                    "none".to_string()
                } else {
                    rule.metadata.integration.join(", ")
                }
            ));
        }
        if !self.maturities.is_empty()
            && !rule
                .metadata
                .maturity
                .is_some_and(|m| self.maturities.contains(&m))
        {
            return Some(format!(
                "--maturity: its maturity is {}",
                rule.metadata.maturity.map_or("not set", |m| m.as_str())
            ));
        }
        None
    }

    /// Whether `rule` is selected.
    pub fn matches(&self, rule: &Rule) -> bool {
        self.rejects(rule).is_none()
    }
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<Rule> {
        dragnet_rules::embedded().rules
    }

    #[test]
    fn values_are_checked_and_name_the_valid_ones() {
        assert_eq!(parse_severity("HIGH"), Ok(Severity::High));
        let e = parse_severity("bogus").unwrap_err();
        assert!(e.contains("low, medium, high, critical"), "{e}");
        assert_eq!(parse_type("new_terms"), Ok(RuleType::NewTerms));
        assert!(parse_type("kql").unwrap_err().contains("threat_match"));
        assert_eq!(parse_tactic("ta0010").unwrap().1, "Exfiltration");
        assert_eq!(parse_tactic("initial access").unwrap().0, "TA0001");
        assert!(
            parse_tactic("Exfil")
                .unwrap_err()
                .contains("Impact (TA0040)")
        );
        assert!(parse_maturity("stable").unwrap_err().contains("production"));
    }

    #[test]
    fn every_filter_must_hold_and_values_are_alternatives() {
        let rules = rules();
        let ssm = rules
            .iter()
            .find(|r| r.name == "AWS Execution via System Manager")
            .unwrap();
        let by_name = RuleFilterArgs {
            names: vec!["SYSTEM MANAGER".into(), "nothing".into()],
            ..Default::default()
        };
        assert!(by_name.matches(ssm));
        let both = RuleFilterArgs {
            names: vec!["system manager".into()],
            severities: vec![Severity::Critical],
            ..Default::default()
        };
        let reason = both.rejects(ssm).unwrap();
        assert!(
            reason.starts_with("--severity: its severity is "),
            "{reason}"
        );
        let integration = RuleFilterArgs {
            integrations: vec!["okta".into()],
            ..Default::default()
        };
        assert!(
            integration
                .rejects(ssm)
                .unwrap()
                .starts_with("--integration:")
        );
    }

    #[test]
    fn deprecated_rules_need_asking_for() {
        let mut rule = rules().remove(0);
        rule.metadata.maturity = Some(Maturity::Deprecated);
        let default = RuleFilterArgs::default();
        assert!(default.rejects(&rule).unwrap().starts_with("deprecated:"));
        let included = RuleFilterArgs {
            include_deprecated: true,
            ..Default::default()
        };
        assert!(included.matches(&rule));
        let by_maturity = RuleFilterArgs {
            maturities: vec![Maturity::Deprecated],
            ..Default::default()
        };
        assert!(by_maturity.matches(&rule));
    }
}
