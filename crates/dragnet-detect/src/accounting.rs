//! What happened to every rule of a run: run, not applicable to CloudTrail, unsupported, invalid
//! or not selected, always with the reason. Nothing is dropped silently.

use serde::Serialize;

/// The fate of one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RuleStatus {
    /// Evaluated over every record. `prefiltered`: whether a raw-bytes prefilter narrows the
    /// records it sees. `notes`: caveats (data view without index, ignored settings…).
    Run {
        prefiltered: bool,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// Its `index` / `FROM` patterns cannot cover CloudTrail data.
    NotApplicable { reason: String },
    /// Its type, language or a feature it uses is not implemented by dragnet.
    Unsupported { reason: String },
    /// Its query does not parse or compile.
    Invalid { reason: String },
    /// Excluded by the user's selection (`--rule-id`, `--tag`, `--severity`, `--tactic`).
    NotSelected { reason: String },
}

impl RuleStatus {
    /// A short stable name: `run`, `not_applicable`, `unsupported`, `invalid`, `not_selected`.
    pub fn name(&self) -> &'static str {
        match self {
            RuleStatus::Run { .. } => "run",
            RuleStatus::NotApplicable { .. } => "not_applicable",
            RuleStatus::Unsupported { .. } => "unsupported",
            RuleStatus::Invalid { .. } => "invalid",
            RuleStatus::NotSelected { .. } => "not_selected",
        }
    }

    /// The reason, for statuses that have one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            RuleStatus::Run { .. } => None,
            RuleStatus::NotApplicable { reason }
            | RuleStatus::Unsupported { reason }
            | RuleStatus::Invalid { reason }
            | RuleStatus::NotSelected { reason } => Some(reason),
        }
    }
}

/// One rule's line in the run report.
#[derive(Clone, Debug, Serialize)]
pub struct RuleReport {
    pub rule_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rule_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub severity: String,
    /// The file the rule came from.
    pub source: String,
    #[serde(flatten)]
    pub status: RuleStatus,
    /// Alerts reported (after dedup and `--max-signals`).
    pub alerts: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
}

/// Counts of rules by status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleCounts {
    pub total: usize,
    pub run: usize,
    pub not_applicable: usize,
    pub unsupported: usize,
    pub invalid: usize,
    pub not_selected: usize,
}

impl RuleCounts {
    pub fn of(reports: &[RuleReport]) -> Self {
        let mut c = RuleCounts {
            total: reports.len(),
            ..Default::default()
        };
        for r in reports {
            match r.status {
                RuleStatus::Run { .. } => c.run += 1,
                RuleStatus::NotApplicable { .. } => c.not_applicable += 1,
                RuleStatus::Unsupported { .. } => c.unsupported += 1,
                RuleStatus::Invalid { .. } => c.invalid += 1,
                RuleStatus::NotSelected { .. } => c.not_selected += 1,
            }
        }
        c
    }
}
