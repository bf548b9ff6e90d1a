//! The rule model: one typed struct per table of the elastic/detection-rules TOML format
//! (`[metadata]`, `[rule]` and its sub-tables, `[transform]`), with the type-specific keys
//! in [`TypeParams`]. Free-form JSON appears only where the format itself is free-form
//! (Elasticsearch query DSL in filters, Kibana `meta`, connector `params`).

use std::sync::Arc;

use crate::datemath::{DateMath, Interval};
use crate::source::SourceFile;
use crate::text::SourceText;

/// A detection rule, from a TOML file or a Kibana export line.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Where the rule was read from.
    pub origin: RuleOrigin,
    pub metadata: Metadata,
    pub rule_id: String,
    pub name: String,
    pub description: String,
    pub author: Vec<String>,
    pub license: Option<String>,
    /// 0..=100.
    pub risk_score: u8,
    pub severity: Severity,
    /// The rule type with its type-specific keys.
    pub params: TypeParams,
    /// Query language (`kuery`, `lucene`, `eql`, `esql`); absent for machine_learning.
    pub language: Option<Language>,
    /// The query, with its position in the file for parsers' error messages.
    pub query: Option<SourceText>,
    pub index: Option<Vec<String>>,
    pub data_view_id: Option<String>,
    pub filters: Vec<Filter>,
    /// Look-back start (`now-9m`); Kibana's default is `now-6m`.
    pub from: Option<DateMath>,
    /// Look-back end; Kibana's default is `now`.
    pub to: Option<DateMath>,
    /// Schedule; Kibana's default is `5m`.
    pub interval: Option<Interval>,
    pub timestamp_override: Option<String>,
    pub timestamp_override_fallback_disabled: Option<bool>,
    pub max_signals: Option<u32>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub false_positives: Vec<String>,
    pub threat: Vec<Threat>,
    /// Investigation guide (Markdown).
    pub note: Option<String>,
    /// Setup guide (Markdown).
    pub setup: Option<String>,
    /// `default` for building-block rules (their alerts are hidden by default).
    pub building_block_type: Option<String>,
    pub enabled: Option<bool>,
    pub exceptions_list: Vec<ExceptionListRef>,
    pub investigation_fields: Option<Vec<String>>,
    pub alert_suppression: Option<AlertSuppression>,
    pub risk_score_mapping: Vec<RiskScoreMapping>,
    pub severity_mapping: Vec<SeverityMapping>,
    pub rule_name_override: Option<String>,
    pub timeline_id: Option<String>,
    pub timeline_title: Option<String>,
    pub related_integrations: Vec<RelatedIntegration>,
    pub required_fields: Vec<RequiredField>,
    /// Kibana's rule version (a TOML `version` key, or the export's value).
    pub version: Option<u32>,
    pub revision: Option<u32>,
    pub throttle: Option<String>,
    /// Kibana rule actions (connector `params` are free-form per connector type).
    pub actions: Vec<serde_json::Value>,
    pub response_actions: Vec<serde_json::Value>,
    /// Kibana's free-form `meta` object.
    pub meta: Option<serde_json::Value>,
    pub output_index: Option<String>,
    pub namespace: Option<String>,
    /// `[transform]`: osquery and investigate entries referenced from `note`.
    pub transform: Option<Transform>,
    /// Saved-object attributes a Kibana export carries (id, timestamps, …).
    pub kibana: Option<KibanaAttributes>,
}

/// Where a rule came from.
#[derive(Clone, Debug)]
pub struct RuleOrigin {
    pub file: Arc<SourceFile>,
    pub format: RuleFormat,
    /// The span of the rule in the file (whole file for TOML, one line for NDJSON).
    pub span: std::ops::Range<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleFormat {
    Toml,
    /// One line of a Kibana rule export (`.ndjson`).
    KibanaNdjson,
}

/// `[metadata]`: repository bookkeeping, not sent to Kibana.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    pub creation_date: Option<jiff::civil::Date>,
    pub updated_date: Option<jiff::civil::Date>,
    pub deprecation_date: Option<jiff::civil::Date>,
    pub deprecated_reason: Option<String>,
    pub maturity: Option<Maturity>,
    /// Integration package names (`aws`); the format allows one string or a list.
    pub integration: Vec<String>,
    pub min_stack_version: Option<String>,
    pub min_stack_comments: Option<String>,
    pub comments: Option<String>,
    pub bypass_bbr_timing: Option<bool>,
    pub promotion: Option<bool>,
    pub os_type_list: Vec<String>,
    pub query_schema_validation: Option<bool>,
    pub related_endpoint_rules: Vec<String>,
    /// `extended`: arbitrary by definition of the format.
    pub extended: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Maturity {
    Development,
    Experimental,
    Beta,
    Production,
    Deprecated,
}

impl Maturity {
    pub const ALL: [Maturity; 5] = [
        Maturity::Development,
        Maturity::Experimental,
        Maturity::Beta,
        Maturity::Production,
        Maturity::Deprecated,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Maturity::Development => "development",
            Maturity::Experimental => "experimental",
            Maturity::Beta => "beta",
            Maturity::Production => "production",
            Maturity::Deprecated => "deprecated",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleType {
    Query,
    SavedQuery,
    Eql,
    Threshold,
    NewTerms,
    Esql,
    ThreatMatch,
    MachineLearning,
}

impl RuleType {
    pub const ALL: [RuleType; 8] = [
        RuleType::Query,
        RuleType::SavedQuery,
        RuleType::Eql,
        RuleType::Threshold,
        RuleType::NewTerms,
        RuleType::Esql,
        RuleType::ThreatMatch,
        RuleType::MachineLearning,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Query => "query",
            RuleType::SavedQuery => "saved_query",
            RuleType::Eql => "eql",
            RuleType::Threshold => "threshold",
            RuleType::NewTerms => "new_terms",
            RuleType::Esql => "esql",
            RuleType::ThreatMatch => "threat_match",
            RuleType::MachineLearning => "machine_learning",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    Kuery,
    Lucene,
    Eql,
    Esql,
}

impl Language {
    pub const ALL: [Language; 4] = [
        Language::Kuery,
        Language::Lucene,
        Language::Eql,
        Language::Esql,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Kuery => "kuery",
            Language::Lucene => "lucene",
            Language::Eql => "eql",
            Language::Esql => "esql",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

/// The rule type and the keys only that type has.
#[derive(Clone, Debug)]
pub enum TypeParams {
    Query {
        saved_id: Option<String>,
    },
    SavedQuery {
        saved_id: String,
    },
    Eql {
        event_category_override: Option<String>,
        tiebreaker_field: Option<String>,
        timestamp_field: Option<String>,
    },
    Threshold(Threshold),
    NewTerms(NewTerms),
    Esql,
    ThreatMatch(Box<ThreatMatch>),
    MachineLearning(MachineLearning),
}

impl TypeParams {
    pub fn rule_type(&self) -> RuleType {
        match self {
            TypeParams::Query { .. } => RuleType::Query,
            TypeParams::SavedQuery { .. } => RuleType::SavedQuery,
            TypeParams::Eql { .. } => RuleType::Eql,
            TypeParams::Threshold(_) => RuleType::Threshold,
            TypeParams::NewTerms(_) => RuleType::NewTerms,
            TypeParams::Esql => RuleType::Esql,
            TypeParams::ThreatMatch(_) => RuleType::ThreatMatch,
            TypeParams::MachineLearning(_) => RuleType::MachineLearning,
        }
    }
}

/// `[rule.threshold]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// Group-by fields (may be empty: one group).
    pub field: Vec<String>,
    /// Minimum number of events per group.
    pub value: u64,
    pub cardinality: Vec<ThresholdCardinality>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdCardinality {
    pub field: String,
    pub value: u64,
}

/// `[rule.new_terms]` (`field = "new_terms_fields"`, `value = [...]`,
/// `[[rule.new_terms.history_window_start]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTerms {
    pub fields: Vec<String>,
    pub history_window_start: DateMath,
}

/// Indicator-match keys.
#[derive(Clone, Debug)]
pub struct ThreatMatch {
    pub threat_index: Vec<String>,
    pub threat_query: Option<SourceText>,
    pub threat_language: Option<Language>,
    pub threat_mapping: Vec<ThreatMappingGroup>,
    pub threat_indicator_path: Option<String>,
    pub threat_filters: Vec<Filter>,
    pub concurrent_searches: Option<u32>,
    pub items_per_search: Option<u32>,
}

/// One `threat_mapping` entry: its entries are AND-ed, groups are OR-ed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreatMappingGroup {
    pub entries: Vec<ThreatMappingEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreatMappingEntry {
    /// Source event field.
    pub field: String,
    /// Always `mapping`.
    pub entry_type: String,
    /// Indicator field.
    pub value: String,
    pub negate: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineLearning {
    pub anomaly_threshold: u32,
    pub machine_learning_job_id: Vec<String>,
    /// Whether the job id was written as a single string (Kibana keeps the shape).
    pub job_id_is_list: bool,
}

/// `[[rule.threat]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Threat {
    pub framework: String,
    pub tactic: ThreatEntry,
    pub technique: Vec<Technique>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreatEntry {
    pub id: String,
    pub name: String,
    pub reference: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Technique {
    pub id: String,
    pub name: String,
    pub reference: String,
    /// `None` when the key is absent (Kibana keeps absent and empty apart).
    pub subtechnique: Option<Vec<ThreatEntry>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionListRef {
    pub id: String,
    pub list_id: String,
    /// `single` or `agnostic`.
    pub namespace_type: String,
    /// `detection`, `endpoint`, `rule_default`, …
    pub list_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertSuppression {
    /// Empty for threshold rules (they suppress per threshold group).
    pub group_by: Vec<String>,
    pub duration: Option<SuppressionDuration>,
    pub missing_fields_strategy: Option<MissingFieldsStrategy>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuppressionDuration {
    pub value: u64,
    /// `s`, `m` or `h`.
    pub unit: char,
}

impl SuppressionDuration {
    pub fn as_duration(self) -> std::time::Duration {
        let secs = match self.unit {
            's' => 1,
            'm' => 60,
            _ => 3_600,
        };
        std::time::Duration::from_secs(self.value.saturating_mul(secs))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingFieldsStrategy {
    Suppress,
    DoNotSuppress,
}

impl MissingFieldsStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingFieldsStrategy::Suppress => "suppress",
            MissingFieldsStrategy::DoNotSuppress => "doNotSuppress",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskScoreMapping {
    pub field: String,
    pub operator: String,
    pub value: String,
    pub risk_score: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeverityMapping {
    pub field: String,
    pub operator: String,
    pub value: String,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelatedIntegration {
    pub package: String,
    pub version: String,
    pub integration: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredField {
    pub name: String,
    pub field_type: String,
    pub ecs: bool,
}

/// A Kibana filter (the search bar's pills): `meta`, `$state` and an Elasticsearch query.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub meta: FilterMeta,
    pub state_store: Option<String>,
    /// The query DSL clause (`query = {…}`): free-form Elasticsearch DSL.
    pub query: Option<serde_json::Value>,
    /// Legacy filters put the DSL clause at the top level (`exists`, `range`, …).
    pub legacy_clauses: Vec<(String, serde_json::Value)>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterMeta {
    pub alias: Option<String>,
    pub disabled: Option<bool>,
    pub negate: Option<bool>,
    pub controlled_by: Option<String>,
    pub group: Option<String>,
    pub index: Option<String>,
    pub index_ref_name: Option<String>,
    pub is_multi_index: Option<bool>,
    pub filter_type: Option<String>,
    pub key: Option<String>,
    pub params: Option<serde_json::Value>,
    pub value: Option<String>,
    pub field: Option<String>,
}

/// `[transform]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transform {
    pub osquery: Vec<OsqueryEntry>,
    pub investigate: Vec<InvestigateEntry>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OsqueryEntry {
    pub label: String,
    pub query: String,
    pub ecs_mapping: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvestigateEntry {
    pub label: String,
    pub description: Option<String>,
    /// OR of AND groups.
    pub providers: Vec<Vec<InvestigateProvider>>,
    pub relative_from: Option<String>,
    pub relative_to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvestigateProvider {
    pub excluded: bool,
    pub field: String,
    pub query_type: String,
    pub value: String,
    pub value_type: String,
}

/// Saved-object attributes of a rule exported from Kibana.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KibanaAttributes {
    pub id: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
    pub immutable: Option<bool>,
    pub rule_source: Option<serde_json::Value>,
    pub execution_summary: Option<serde_json::Value>,
}

impl Rule {
    pub fn rule_type(&self) -> RuleType {
        self.params.rule_type()
    }

    /// The MITRE tactic names, in file order, without duplicates.
    pub fn tactics(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for threat in &self.threat {
            if !out.contains(&threat.tactic.name.as_str()) {
                out.push(&threat.tactic.name);
            }
        }
        out
    }

    pub fn is_building_block(&self) -> bool {
        self.building_block_type.is_some()
    }

    /// The file the rule was read from.
    pub fn path(&self) -> &std::path::Path {
        self.origin.file.path()
    }
}
