//! Rules that read fields only an enrichment database fills. Elastic's AWS integration adds
//! `source.geo.*` (GeoIP City) and `source.as.*` (GeoIP ASN) from `source.ip`; dragnet's mapper
//! does the same only when given the MaxMind databases (`--geoip-db`, `--asn-db`). Without one,
//! a rule reading those fields would see them absent on every event and silently never (or
//! always, under `not`) match, so it is accounted as unsupported for that reason instead.

use dragnet_event::FieldTable;
use dragnet_rules::{Language, Rule, TypeParams};

/// Which enrichment databases the run's CloudTrail mapping has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Databases {
    /// A GeoIP City database: `source.geo.*` is filled.
    pub geoip: bool,
    /// An ASN database: `source.as.*` is filled.
    pub asn: bool,
}

/// Why `rule` cannot run with these databases, when it reads `source.geo.*` without a GeoIP
/// City database or `source.as.*` without an ASN database; `None` otherwise.
pub fn missing(
    rule: &Rule,
    schema: &dragnet_schema::Schema,
    databases: Databases,
) -> Option<String> {
    if databases.geoip && databases.asn {
        return None;
    }
    let fields = read_fields(rule, schema);
    let first = |prefix: &str| fields.iter().find(|f| f.starts_with(prefix)).cloned();
    if !databases.geoip
        && let Some(field) = first("source.geo.")
    {
        return Some(format!(
            "reads {field}: needs --geoip-db (a MaxMind City database, e.g. GeoLite2-City.mmdb; without it source.geo.* is absent from every event)"
        ));
    }
    if !databases.asn
        && let Some(field) = first("source.as.")
    {
        return Some(format!(
            "reads {field}: needs --asn-db (a MaxMind ASN database, e.g. GeoLite2-ASN.mmdb; without it source.as.* is absent from every event)"
        ));
    }
    None
}

/// A note for a rule that runs but lists `source.geo.*`/`source.as.*` among its
/// `investigation_fields` (the fields Kibana shows with its alerts) without the database that
/// fills them: its alerts lack them.
pub fn investigation_note(rule: &Rule, databases: Databases) -> Option<String> {
    let fields = rule.investigation_fields.as_deref().unwrap_or_default();
    let absent: Vec<&str> = fields
        .iter()
        .filter(|f| {
            (!databases.geoip && f.starts_with("source.geo."))
                || (!databases.asn && f.starts_with("source.as."))
        })
        .map(String::as_str)
        .collect();
    (!absent.is_empty()).then(|| {
        format!(
            "investigation fields {} are absent from its alerts without --geoip-db/--asn-db",
            absent.join(", ")
        )
    })
}

/// The fields a rule's query and type-specific settings read, as the compiled queries resolve
/// them. A query that does not compile reads nothing here (the rule is accounted invalid
/// elsewhere).
fn read_fields(rule: &Rule, schema: &dragnet_schema::Schema) -> Vec<String> {
    let text = rule.query.as_ref().map_or("", |q| q.as_str());
    let mut table = FieldTable::new();
    let mut out: Vec<String> = match (&rule.params, rule.language) {
        (
            TypeParams::Eql {
                event_category_override,
                ..
            },
            _,
        ) => {
            let options = dragnet_eql::CompileOptions {
                category_field: event_category_override
                    .clone()
                    .unwrap_or_else(|| dragnet_eql::CompileOptions::default().category_field),
            };
            dragnet_eql::parse(text)
                .ok()
                .and_then(|q| dragnet_eql::compile_with(&q, schema, &mut table, &options).ok())
                .map(|c| c.fields().iter().map(|f| f.name.clone()).collect())
                .unwrap_or_default()
        }
        (_, Some(Language::Kuery) | None) if !text.trim().is_empty() => dragnet_kql::parse(text)
            .ok()
            .and_then(|q| dragnet_kql::compile(&q, schema, &mut table).ok())
            .map(|c| c.fields().iter().map(|f| f.name.clone()).collect())
            .unwrap_or_default(),
        (_, Some(Language::Esql)) => {
            let mut fields = crate::esql::logic_fields(text);
            fields.extend(crate::esql::kql_fields(text, schema));
            fields
        }
        _ => Vec::new(),
    };
    match &rule.params {
        TypeParams::Threshold(t) => {
            out.extend(t.field.iter().cloned());
            out.extend(t.cardinality.iter().map(|c| c.field.clone()));
        }
        TypeParams::NewTerms(n) => out.extend(n.fields.iter().cloned()),
        TypeParams::ThreatMatch(t) => out.extend(
            t.threat_mapping
                .iter()
                .flat_map(|g| &g.entries)
                .map(|e| e.field.clone()),
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(query: &str, extra: &str) -> Rule {
        let text = format!(
            r#"[metadata]
creation_date = "2024/01/01"
maturity = "production"
updated_date = "2024/01/01"

[rule]
author = ["dragnet tests"]
description = "test"
index = ["logs-aws.cloudtrail-*"]
language = "kuery"
license = "Apache-2.0"
name = "geo test"
risk_score = 21
rule_id = "00000000-0000-4000-8000-00000000e001"
severity = "low"
type = "query"
query = '''
{query}
'''
{extra}
"#
        );
        let file = dragnet_rules::SourceFile::new("geo.toml", text);
        let outcome = dragnet_rules::load_source(&file);
        outcome
            .rules
            .into_iter()
            .next()
            .expect("the test rule loads")
    }

    #[test]
    fn geo_and_asn_fields_need_their_databases() {
        let schema = dragnet_schema::Schema::builtin();
        let none = Databases::default();
        let geo = rule(
            "event.action:ConsoleLogin and not source.geo.country_iso_code:US",
            "",
        );
        let reason = missing(&geo, schema, none).expect("needs the City database");
        assert!(reason.contains("source.geo.country_iso_code"), "{reason}");
        assert!(reason.contains("needs --geoip-db"), "{reason}");
        let with_city = Databases {
            geoip: true,
            asn: false,
        };
        assert_eq!(missing(&geo, schema, with_city), None);

        let asn = rule("source.as.organization.name:Amazon*", "");
        let reason = missing(&asn, schema, with_city).expect("needs the ASN database");
        assert!(reason.contains("needs --asn-db"), "{reason}");

        let plain = rule("event.action:ConsoleLogin and source.ip:10.0.0.0/8", "");
        assert_eq!(missing(&plain, schema, none), None);
    }
}
