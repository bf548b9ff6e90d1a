//! Rule-set compilation: selection, accounting, one shared field table, detectors, prefilter.

use dragnet_event::{FieldTable, JsonPaths};
use dragnet_rules::{Rule, RuleType};
use serde_json::{Value, json};

use dragnet_alert::{RuleFields, RuleMeta};
use dragnet_detect::{Detector, Extras, RuleReport, RuleStatus, build_detector};
use dragnet_event::literals::Cnf;

use crate::applicability::{Coverage, esql_from_patterns, index_patterns_cover_cloudtrail};
use dragnet_input::{InputOptions, Source};
use dragnet_prefilter::{Needle, Prefilter, RuleFiltering};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// Why a rule set cannot be run at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Mapper(#[from] dragnet_cloudtrail::MapperError),
}

/// Which rules the user asked for. Empty lists select everything; several kinds of filter must
/// all pass; several values of one filter are alternatives. Comparisons ignore ASCII case.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub rule_ids: Vec<String>,
    pub tags: Vec<String>,
    pub severities: Vec<String>,
    /// MITRE tactic names (`Initial Access`) or ids (`TA0001`).
    pub tactics: Vec<String>,
}

impl Selection {
    /// `None` when `rule` is selected, else why not.
    fn rejects(&self, rule: &Rule) -> Option<String> {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        if !self.rule_ids.is_empty() && !self.rule_ids.iter().any(|id| eq(id, &rule.rule_id)) {
            return Some("rule_id not given to --rule-id".into());
        }
        if !self.tags.is_empty()
            && !self
                .tags
                .iter()
                .any(|t| rule.tags.iter().any(|rt| eq(t, rt)))
        {
            return Some("no tag given to --tag".into());
        }
        if !self.severities.is_empty()
            && !self
                .severities
                .iter()
                .any(|s| eq(s, rule.severity.as_str()))
        {
            return Some(format!(
                "severity {} not given to --severity",
                rule.severity.as_str()
            ));
        }
        if !self.tactics.is_empty()
            && !self.tactics.iter().any(|t| {
                rule.threat
                    .iter()
                    .any(|th| eq(t, &th.tactic.name) || eq(t, &th.tactic.id))
            })
        {
            return Some("no tactic given to --tactic".into());
        }
        None
    }
}

/// A rule that runs, with everything the workers need.
pub(crate) struct ActiveRule {
    pub report: usize,
    pub meta: RuleMeta,
    /// `meta`'s `kibana.alert.rule.*` fields, serialized once for all of its alerts (on its
    /// first alert: most rules of a run have none).
    pub fields: OnceLock<RuleFields>,
    pub detector: Box<dyn Detector>,
    pub suppression: Option<crate::suppression::Suppression>,
}

/// A compiled rule set, ready to evaluate records.
pub struct Engine {
    pub(crate) rules: Vec<ActiveRule>,
    pub(crate) reports: Vec<RuleReport>,
    /// The prefilter in force: built with static gate choices, replaced by one whose gates
    /// were chosen on a sample of the input ([`Engine::measure_gates`]).
    prefilter: RwLock<Arc<Prefilter>>,
    /// Per running rule, its CNF as needles: what the prefilter is built from.
    needles: Vec<Vec<Vec<Needle>>>,
    /// Whether [`Engine::measure_gates`] ran.
    gates_measured: AtomicBool,
    pub(crate) mapper: dragnet_cloudtrail::Mapper,
    pub(crate) paths: JsonPaths,
    pub(crate) fields: FieldTable,
}

impl Engine {
    /// Compiles `rules` (selected by `selection`) against the builtin schema. Never fails on a
    /// bad rule: it is accounted for as invalid or unsupported, with the reason. Fails only when
    /// the CloudTrail mapper cannot be set up (an unreadable GeoIP database in `mapper`).
    pub fn compile(
        rules: &[Rule],
        selection: &Selection,
        mapper: dragnet_cloudtrail::MapperOptions,
    ) -> Result<Engine, EngineError> {
        Self::compile_with(rules, selection, mapper, &Extras::default())
    }

    /// [`Engine::compile`] with inputs from outside the rules (exception lists).
    pub fn compile_with(
        rules: &[Rule],
        selection: &Selection,
        mapper: dragnet_cloudtrail::MapperOptions,
        extras: &Extras,
    ) -> Result<Engine, EngineError> {
        Self::compile_with_schema(
            rules,
            selection,
            mapper,
            extras,
            dragnet_schema::Schema::builtin(),
        )
    }

    /// [`Engine::compile_with`] against `schema` instead of the builtin one (a user's
    /// `_mapping` laid over it: `dragnet kql --mapping`).
    pub fn compile_with_schema(
        rules: &[Rule],
        selection: &Selection,
        mapper: dragnet_cloudtrail::MapperOptions,
        extras: &Extras,
        schema: &dragnet_schema::Schema,
    ) -> Result<Engine, EngineError> {
        let extras = extras.prepare(rules);
        let mut fields = FieldTable::new();
        let mut reports = Vec::with_capacity(rules.len());
        let mut active = Vec::new();
        let mut cnfs: Vec<Cnf> = Vec::new();

        for rule in rules {
            let mut report = RuleReport {
                rule_id: rule.rule_id.clone(),
                name: rule.name.clone(),
                rule_type: rule.rule_type().as_str().to_string(),
                language: rule.language.map(|l| l.as_str().to_string()),
                severity: rule.severity.as_str().to_string(),
                source: rule.path().display().to_string(),
                status: RuleStatus::Run {
                    prefiltered: false,
                    notes: Vec::new(),
                },
                alerts: 0,
                first_seen: None,
                last_seen: None,
            };
            let verdict = (|| -> Result<Compiled, RuleStatus> {
                if let Some(reason) = selection.rejects(rule) {
                    return Err(RuleStatus::NotSelected { reason });
                }
                let mut notes = applicability(rule)?;
                let (detector, cnf) =
                    build_detector(rule, schema, &mut fields, &mut notes, &extras)?;
                let detector = extras.wrap(rule, detector, schema, &mut fields, &mut notes)?;
                let databases = dragnet_detect::enrichment::Databases {
                    geoip: mapper.geoip_db.is_some(),
                    asn: mapper.asn_db.is_some(),
                };
                if let Some(reason) = dragnet_detect::enrichment::missing(rule, schema, databases) {
                    return Err(RuleStatus::Unsupported { reason });
                }
                notes.extend(dragnet_detect::enrichment::investigation_note(
                    rule, databases,
                ));
                crate::suppression::Suppression::notes(rule, &mut notes);
                Ok((detector, notes, cnf))
            })();
            match verdict {
                Ok((detector, notes, cnf)) => {
                    report.status = RuleStatus::Run {
                        prefiltered: false,
                        notes,
                    };
                    active.push(ActiveRule {
                        report: reports.len(),
                        fields: OnceLock::new(),
                        meta: rule_meta(rule),
                        detector,
                        suppression: crate::suppression::Suppression::of(rule),
                    });
                    cnfs.push(cnf);
                }
                Err(status) => report.status = status,
            }
            reports.push(report);
        }

        let needles: Vec<Vec<Vec<Needle>>> = cnfs
            .iter()
            .map(|cnf| {
                let mut clauses: Vec<Vec<Needle>> = cnf
                    .iter()
                    .map(|clause| {
                        clause
                            .iter()
                            .map(|l| {
                                needle(&l.field, &l.literal, l.exact, l.prefix, l.case_sensitive)
                            })
                            .collect()
                    })
                    .collect();
                // A clause whose literals are all on one flattened field needs that field, so
                // the raw key too: often far rarer than the literal (`"true"`).
                for clause in cnf {
                    if let Some(field) = clause.first().map(|l| &l.field)
                        && clause.iter().all(|l| &l.field == field)
                        && let Some(key) = dragnet_cloudtrail::raw_key_needle(field)
                    {
                        clauses.push(vec![Needle::Bytes(key)]);
                    }
                }
                clauses
            })
            .collect();
        let prefilter = Prefilter::build(&needles);
        for (i, rule) in active.iter().enumerate() {
            if let RuleStatus::Run { prefiltered, .. } = &mut reports[rule.report].status {
                *prefiltered = !matches!(prefilter.filtering(i), RuleFiltering::Always);
            }
        }
        let mapper = dragnet_cloudtrail::Mapper::bind(&fields, mapper)?;
        let paths = JsonPaths::bind(&fields);
        Ok(Engine {
            rules: active,
            reports,
            prefilter: RwLock::new(Arc::new(prefilter)),
            needles,
            gates_measured: AtomicBool::new(false),
            mapper,
            paths,
            fields,
        })
    }

    /// Every rule's line in the report, in input order.
    pub fn reports(&self) -> &[RuleReport] {
        &self.reports
    }

    /// How many rules run.
    pub fn active_rules(&self) -> usize {
        self.rules.len()
    }

    /// The prefilter in force (see [`Engine::measure_gates`]).
    pub(crate) fn prefilter(&self) -> Arc<Prefilter> {
        Arc::clone(&self.prefilter.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Chooses every rule's prefilter gate by how often its clauses hold in a sample of
    /// `sources` (the heads of a few files: [`crate::SAMPLE_BYTES`], [`crate::SAMPLE_FILES`]),
    /// instead of by the static score alone, so a rule gated on a call that is common in this
    /// input (`GetObject` where S3 data events are logged) is gated on a rarer clause when it
    /// has one. Alerts do not depend on it. [`Engine::run`] does it first unless it was done;
    /// returns how many records were measured (0: too few, the static choice stands).
    pub fn measure_gates(&self, sources: &[Source], input: &InputOptions) -> usize {
        self.gates_measured.store(true, Ordering::Relaxed);
        if self.prefilter().has_gates() {
            let sample = crate::sample::sample_records(sources, input);
            let records: Vec<&[u8]> = sample.iter().map(Vec::as_slice).collect();
            let measured = self.prefilter().measure(&records);
            if let Some(m) = measured {
                let chosen = Prefilter::build_for(&self.needles, &m);
                *self.prefilter.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(chosen);
                return m.records as usize;
            }
        }
        0
    }

    /// Whether [`Engine::measure_gates`] ran already.
    pub(crate) fn gates_measured(&self) -> bool {
        self.gates_measured.load(Ordering::Relaxed)
    }

    /// The needles the prefilter scans every record for (see [`dragnet_prefilter`]).
    pub fn prefilter_gate_needles(&self) -> Vec<String> {
        self.prefilter().gate_needles()
    }

    /// The byte patterns the prefilter's batch scan looks for in every record.
    pub fn prefilter_batch_patterns(&self) -> Vec<String> {
        self.prefilter().batch_patterns()
    }

    /// How many running rules the prefilter narrows.
    pub fn prefiltered_rules(&self) -> usize {
        let prefilter = self.prefilter();
        (0..self.rules.len())
            .filter(|&i| matches!(prefilter.filtering(i), RuleFiltering::Prefiltered { .. }))
            .count()
    }

    /// Names the rules whose `timestamp_override` cannot be honoured on raw CloudTrail.
    pub fn timestamp_override_rules(&self) -> usize {
        self.rules
            .iter()
            .filter(|r| r.meta.timestamp_override.is_some())
            .count()
    }

    /// The shared field table every rule was compiled against.
    pub fn fields(&self) -> &FieldTable {
        &self.fields
    }
}

fn needle(field: &str, literal: &str, exact: bool, prefix: bool, case_sensitive: bool) -> Needle {
    if prefix && !exact {
        dragnet_cloudtrail::raw_prefix_needle(field, literal, case_sensitive)
    } else {
        dragnet_cloudtrail::raw_needle(field, literal, exact, case_sensitive)
    }
}

/// Whether the rule's data sources cover CloudTrail; notes to carry when it runs.
fn applicability(rule: &Rule) -> Result<Vec<String>, RuleStatus> {
    let mut notes = Vec::new();
    if rule.rule_type() == RuleType::Esql {
        let query = rule.query.as_ref().map(|q| q.as_str()).unwrap_or("");
        if let Some(patterns) = esql_from_patterns(query)
            && let Coverage::NotCovered(p) = index_patterns_cover_cloudtrail(&patterns)
        {
            return Err(RuleStatus::NotApplicable {
                reason: format!(
                    "ES|QL FROM {} cannot cover CloudTrail (logs-aws.cloudtrail-*)",
                    p.join(", ")
                ),
            });
        }
        return Ok(notes);
    }
    match &rule.index {
        Some(index) if !index.is_empty() => {
            if let Coverage::NotCovered(p) = index_patterns_cover_cloudtrail(index) {
                return Err(RuleStatus::NotApplicable {
                    reason: format!(
                        "index patterns [{}] cannot cover CloudTrail (logs-aws.cloudtrail-*)",
                        p.join(", ")
                    ),
                });
            }
        }
        _ => {
            if let Some(view) = &rule.data_view_id {
                notes.push(format!(
                    "data view {view} cannot be resolved outside Kibana; assumed to cover CloudTrail"
                ));
            } else if rule.rule_type() != RuleType::MachineLearning {
                notes.push(
                    "no index patterns: Kibana would use the default security indices, which include logs-*"
                        .into(),
                );
            }
        }
    }
    Ok(notes)
}

/// A runnable rule: its detector, notes for its report, and its required literals.
type Compiled = (Box<dyn Detector>, Vec<String>, Cnf);

/// The rule fields an alert carries.
fn rule_meta(rule: &Rule) -> RuleMeta {
    let threat: Vec<Value> = rule
        .threat
        .iter()
        .map(|t| {
            json!({
                "framework": t.framework,
                "tactic": {"id": t.tactic.id, "name": t.tactic.name, "reference": t.tactic.reference},
                "technique": t.technique.iter().map(|tech| {
                    let mut v = json!({"id": tech.id, "name": tech.name, "reference": tech.reference});
                    if let Some(subs) = &tech.subtechnique {
                        v["subtechnique"] = subs.iter().map(|s| json!({"id": s.id, "name": s.name, "reference": s.reference})).collect();
                    }
                    v
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    RuleMeta {
        rule_id: rule.rule_id.clone(),
        name: rule.name.clone(),
        rule_type: rule.rule_type().as_str().to_string(),
        description: rule.description.clone(),
        severity: rule.severity.as_str().to_string(),
        risk_score: f64::from(rule.risk_score),
        tags: rule.tags.clone(),
        threat: Value::Array(threat),
        references: rule.references.clone(),
        author: rule.author.clone(),
        false_positives: rule.false_positives.clone(),
        license: rule.license.clone(),
        from: rule
            .from
            .as_ref()
            .map_or("now-6m".to_string(), |d| d.as_str().to_string()),
        to: rule
            .to
            .as_ref()
            .map_or("now".to_string(), |d| d.as_str().to_string()),
        interval: rule
            .interval
            .as_ref()
            .map_or("5m".to_string(), |i| i.as_str().to_string()),
        index: rule.index.clone().unwrap_or_default(),
        language: rule.language.map(|l| l.as_str().to_string()),
        query: rule.query.as_ref().map(|q| q.as_str().to_string()),
        max_signals: rule.max_signals.map(u64::from),
        timestamp_override: rule.timestamp_override.clone(),
        building_block_type: rule.building_block_type.clone(),
        version: rule.version.map(u64::from),
        uuid: rule.kibana.as_ref().and_then(|k| k.id.clone()),
        parameters: Some(rule.to_kibana_json()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_rules() -> Vec<Rule> {
        dragnet_rules::embedded().rules
    }

    #[test]
    fn seed_rules_run_and_are_prefiltered() {
        let engine = Engine::compile(&seed_rules(), &Selection::default(), Default::default())
            .expect("no GeoIP database to open");
        assert_eq!(engine.active_rules(), 2);
        assert_eq!(engine.prefiltered_rules(), 2);
        for r in engine.reports() {
            assert_eq!(
                r.status,
                RuleStatus::Run {
                    prefiltered: true,
                    notes: vec![]
                },
                "{}",
                r.name
            );
        }
    }

    #[test]
    fn selection_filters_are_accounted_for() {
        let rules = seed_rules();
        let by_tag = Selection {
            tags: vec!["data source: aws ssm".into()],
            ..Default::default()
        };
        let engine = Engine::compile(&rules, &by_tag, Default::default()).unwrap();
        assert_eq!(engine.active_rules(), 1);
        let names: Vec<_> = engine
            .reports()
            .iter()
            .map(|r| (r.name.as_str(), r.status.name()))
            .collect();
        assert!(names.contains(&("AWS Execution via System Manager", "run")));
        assert!(names.contains(&("EC2 AMI Shared with Another Account", "not_selected")));

        let by_tactic = Selection {
            tactics: vec!["TA0010".into()],
            severities: vec!["MEDIUM".into()],
            ..Default::default()
        };
        let engine = Engine::compile(&rules, &by_tactic, Default::default()).unwrap();
        assert_eq!(engine.active_rules(), 1);
        assert_eq!(engine.reports().len(), 2, "every rule is reported");
    }
}
