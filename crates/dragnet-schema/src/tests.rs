//! Unit tests of the built-in table and the Schema API.

use super::*;
use serde_json::json;

fn builtin(name: &str) -> FieldDef {
    Schema::builtin()
        .get(name)
        .unwrap_or_else(|| panic!("{name} should be in the built-in schema"))
        .into_owned()
}

// Seed-rule fields. Types per ../shared/fixtures/aws-cloudtrail-pipeline/fields/*.yml (AWS
// integration 8.9.0) and ../shared/schemas/ecs/ecs_flat.yml.

#[test]
fn event_dataset_and_module_are_constant_keywords_of_the_data_stream() {
    // base-fields.yml: `event.dataset` constant_keyword, value aws.cloudtrail; `event.module`
    // constant_keyword, value aws (ECS itself says keyword: the integration wins).
    let ds = builtin("event.dataset");
    assert_eq!(ds.ty, FieldType::ConstantKeyword);
    assert_eq!(ds.constant_value.as_deref(), Some("aws.cloudtrail"));
    assert_eq!(ds.origin, Origin::AwsIntegration);
    let module = builtin("event.module");
    assert_eq!(module.ty, FieldType::ConstantKeyword);
    assert_eq!(module.constant_value.as_deref(), Some("aws"));
    for f in [
        "data_stream.type",
        "data_stream.dataset",
        "data_stream.namespace",
    ] {
        let d = builtin(f);
        assert_eq!(d.ty, FieldType::ConstantKeyword, "{f}");
        assert_eq!(
            d.constant_value, None,
            "{f}: value set by the first document"
        );
    }
}

#[test]
fn keyword_fields_of_seed_rules() {
    for f in [
        "event.provider",
        "event.action",
        "event.outcome",
        "event.category",
        "event.type",
        "cloud.account.id",
        "aws.cloudtrail.user_identity.arn",
        "aws.cloudtrail.user_identity.type",
        "user.name",
    ] {
        let d = builtin(f);
        assert_eq!(d.ty, FieldType::Keyword, "{f}");
        assert_eq!(d.ignore_above, Some(1024), "{f}");
        assert!(d.index && d.doc_values, "{f}");
    }
}

#[test]
fn cloudtrail_request_parameters_is_keyword_8191_with_text() {
    let d = builtin("aws.cloudtrail.request_parameters");
    assert_eq!(d.ty, FieldType::Keyword);
    assert_eq!(d.ignore_above, Some(8191));
    assert_eq!(d.multi_fields.len(), 1);
    assert_eq!(d.multi_fields[0].name, "text");
    assert_eq!(d.multi_fields[0].ty, FieldType::Text);
    let text = builtin("aws.cloudtrail.request_parameters.text");
    assert_eq!(text.ty, FieldType::Text);
    assert_eq!(
        text.multi_field_of.as_deref(),
        Some("aws.cloudtrail.request_parameters")
    );
    // No ignore_above in fields.yml: Fleet's keyword default (1024) applies.
    let extra = builtin("aws.cloudtrail.additional_eventdata");
    assert_eq!(extra.ignore_above, Some(1024));
    assert_eq!(
        builtin("aws.cloudtrail.response_elements").ignore_above,
        Some(8191)
    );
}

#[test]
fn user_agent_original_is_keyword_with_match_only_text() {
    let d = builtin("user_agent.original");
    assert_eq!(d.ty, FieldType::Keyword);
    assert_eq!(d.ignore_above, Some(1024));
    let text = builtin("user_agent.original.text");
    assert_eq!(text.ty, FieldType::MatchOnlyText);
    assert_eq!(text.origin, Origin::Derived);
}

#[test]
fn other_types_of_seed_rule_fields() {
    assert_eq!(builtin("source.ip").ty, FieldType::Ip);
    assert_eq!(builtin("@timestamp").ty, FieldType::Date);
    assert_eq!(builtin("message").ty, FieldType::MatchOnlyText);
    assert_eq!(builtin("http.response.status_code").ty, FieldType::Long);
    assert_eq!(builtin("aws.cloudtrail.read_only").ty, FieldType::Boolean);
    assert_eq!(
        builtin("aws.cloudtrail.user_identity.session_context.creation_date").ty,
        FieldType::Date
    );
    assert_eq!(builtin("source.geo.location").ty, FieldType::GeoPoint);
    assert_eq!(builtin("url.original").ty, FieldType::Wildcard);
    assert_eq!(builtin("process.command_line").ty, FieldType::Wildcard);
    // `index: false`, `doc_values: false`: not searchable; Fleet drops ignore_above.
    let original = builtin("event.original");
    assert!(!original.is_searchable());
    assert_eq!(original.ignore_above, None);
    // agent.yml overrides ECS for host.os.name: `.text` is `text`, not match_only_text.
    assert_eq!(builtin("host.os.name.text").ty, FieldType::Text);
    assert_eq!(builtin("host.containerized").ty, FieldType::Boolean);
    let usage = builtin("host.cpu.usage");
    assert_eq!(usage.ty, FieldType::ScaledFloat);
    assert_eq!(usage.scaling_factor, Some(1000.0));
}

#[test]
fn flattened_fields_and_their_leaves() {
    let s = Schema::builtin();
    for root in [
        "aws.cloudtrail.flattened.request_parameters",
        "aws.cloudtrail.flattened.response_elements",
        "aws.cloudtrail.flattened.additional_eventdata",
        "aws.cloudtrail.flattened.service_event_details",
        "aws.cloudtrail.flattened.digest",
        "aws.cloudtrail.flattened.insight_details",
        "aws.s3.metadata",
    ] {
        assert_eq!(builtin(root).ty, FieldType::Flattened, "{root}");
    }
    let leaf = s
        .get("aws.cloudtrail.flattened.request_parameters.fromPort")
        .unwrap();
    assert_eq!(leaf.ty, FieldType::Keyword);
    assert_eq!(
        leaf.flattened_root.as_deref(),
        Some("aws.cloudtrail.flattened.request_parameters")
    );
    assert!(matches!(leaf, Cow::Owned(_)));
    let deep = s.resolve("aws.cloudtrail.flattened.request_parameters.a.b.c");
    match deep {
        Resolved::FlattenedLeaf { root } => {
            assert_eq!(root.name, "aws.cloudtrail.flattened.request_parameters")
        }
        other => panic!("expected a flattened leaf, got {other:?}"),
    }
}

#[test]
fn resolve_distinguishes_objects_leaves_and_unknowns() {
    let s = Schema::builtin();
    assert!(matches!(s.resolve("event.action"), Resolved::Known(_)));
    assert_eq!(s.resolve("aws.cloudtrail"), Resolved::Object(None));
    assert_eq!(s.resolve("aws"), Resolved::Object(None));
    assert_eq!(
        s.resolve("aws.cloudtrail.flattened"),
        Resolved::Object(None)
    );
    assert!(matches!(s.resolve("labels"), Resolved::Object(Some(_))));
    assert!(matches!(
        s.resolve("labels.env"),
        Resolved::ObjectLeaf {
            ty: FieldType::Keyword,
            ..
        }
    ));
    assert_eq!(s.get("labels.env").unwrap().ty, FieldType::Keyword);
    assert_eq!(s.resolve("no.such.field"), Resolved::Unknown);
    // A key below a keyword is not a field (it is neither a multi-field nor a flattened key).
    assert!(matches!(
        s.resolve("event.action.extra"),
        Resolved::BelowLeaf { leaf } if leaf.name == "event.action"
    ));
    assert_eq!(
        s.below_leaf("source.geo.location.lat").map(|d| d.ty),
        Some(FieldType::GeoPoint)
    );
    assert!(s.below_leaf("user_agent.original.text").is_none());
    assert!(s.below_leaf("threat.enrichments.matched.field").is_none());
    assert!(
        s.get_or_dynamic("event.action.extra", &json!("x"))
            .is_none()
    );
    // `event.act` is a prefix of a name, not a path.
    assert_eq!(s.resolve("event.act"), Resolved::Unknown);
    assert!(s.get("aws.cloudtrail").is_none());
    assert!(s.get("no.such.field").is_none());
}

#[test]
fn nested_parent_is_found() {
    let s = Schema::builtin();
    assert_eq!(
        s.nested_parent("threat.enrichments.indicator.ip")
            .map(|d| d.name.as_ref()),
        Some("threat.enrichments")
    );
    assert!(s.nested_parent("event.action").is_none());
}

#[test]
fn every_ecs_and_package_field_is_present() {
    let s = Schema::builtin();
    // 2612 ECS fields + 120 ECS multi-fields + package-only fields, minus overlaps.
    assert!(s.field_count() > 2800, "{}", s.field_count());
    assert!(s.fields().windows(2).all(|w| w[0].name < w[1].name));
    assert_eq!(ECS_VERSION, "9.5.0-dev");
    assert_eq!(AWS_PACKAGE_VERSION, "8.9.0");
    assert_eq!(ECS_COMMIT.len(), 40);
    for f in [
        "user.entity.id",
        "user.target.entity.id",
        "host.target.id",
        "related.entity",
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
        "aws.cloudtrail.console_login.additional_eventdata.mfa_used",
        "aws.cloudtrail.tls_details.key_exchange",
    ] {
        assert_eq!(
            builtin(f).origin,
            Origin::AwsIntegration,
            "{f} comes from fields.yml"
        );
    }
}

// Wildcard field matching (KQL `*.name: x`).

#[test]
fn matching_expands_field_wildcards_like_kibana() {
    let s = Schema::builtin();
    let names = |p: &str| {
        s.matching(p)
            .map(|f| f.name.to_string())
            .collect::<Vec<_>>()
    };
    let ua = names("user_agent.*");
    assert!(ua.contains(&"user_agent.original".to_string()));
    assert!(ua.contains(&"user_agent.original.text".to_string()));
    assert!(ua.iter().all(|n| n.starts_with("user_agent.")));
    // `*` crosses dots.
    let all_names = names("*.name");
    assert!(all_names.contains(&"user.name".to_string()));
    assert!(all_names.contains(&"host.os.name".to_string()));
    assert!(!all_names.contains(&"user.name.text".to_string()));
    assert_eq!(names("event.action"), vec!["event.action".to_string()]);
    assert!(names("Event.action").is_empty(), "case-sensitive");
    assert!(names("event.*ction").contains(&"event.action".to_string()));
    // Objects and nested parents are not data view fields; their leaves are.
    assert!(!names("lab*").contains(&"labels".to_string()));
    let enrich = names("threat.enrichments*");
    assert!(!enrich.contains(&"threat.enrichments".to_string()));
    assert!(enrich.contains(&"threat.enrichments.matched.field".to_string()));
    assert!(names("*").len() > 2700);
}

#[test]
fn glob_match_semantics() {
    assert!(glob_match("*", ""));
    assert!(glob_match("a*c", "abc"));
    assert!(glob_match("a*c", "ac"));
    assert!(glob_match("*.ip", "source.ip"));
    assert!(!glob_match("*.ip", "source.ipx"));
    assert!(glob_match("a**b", "a.x.b"));
    assert!(!glob_match("a?c", "abc"), "`?` is literal");
    assert!(glob_match("a*b*c", "a.b.x.c"));
}

// User mappings.

const MAPPING: &str = r#"{
  "logs-aws.cloudtrail-default-000001": {
    "mappings": {
      "dynamic_templates": [],
      "properties": {
        "event": { "properties": {
          "action": { "type": "text", "fields": { "raw": { "type": "keyword", "ignore_above": 64, "normalizer": "lowercase" } } },
          "custom_score": { "type": "float" }
        } },
        "message": { "type": "text" },
        "source": { "properties": { "ip": { "type": "keyword" } } },
        "custom": { "properties": {
          "tag": { "type": "keyword", "normalizer": "lowercase", "ignore_above": 100 },
          "kv": { "type": "flattened", "ignore_above": 50 },
          "gone": { "type": "keyword", "index": false, "doc_values": "false" },
          "level": { "type": "constant_keyword", "value": "high" },
          "alias_of_tag": { "type": "alias", "path": "custom.tag" },
          "items": { "type": "nested", "properties": { "id": { "type": "long" } } },
          "empty": { "type": "object", "enabled": false }
        } }
      }
    }
  }
}"#;

#[test]
fn from_mapping_json_reads_properties_fields_and_parameters() {
    let s = Schema::from_mapping_json(MAPPING).unwrap();
    let action = s.get("event.action").unwrap();
    assert_eq!(action.ty, FieldType::Text);
    assert_eq!(action.origin, Origin::UserMapping);
    let raw = s.get("event.action.raw").unwrap();
    assert_eq!(raw.ty, FieldType::Keyword);
    assert_eq!(raw.ignore_above, Some(64));
    assert_eq!(raw.normalizer.as_deref(), Some("lowercase"));
    let tag = s.get("custom.tag").unwrap();
    assert_eq!(tag.normalizer.as_deref(), Some("lowercase"));
    assert_eq!(tag.ignore_above, Some(100));
    let kv_leaf = s.get("custom.kv.a.b").unwrap();
    assert_eq!(kv_leaf.ty, FieldType::Keyword);
    assert_eq!(kv_leaf.ignore_above, Some(50));
    assert!(!s.get("custom.gone").unwrap().is_searchable());
    assert_eq!(
        s.get("custom.level").unwrap().constant_value.as_deref(),
        Some("high")
    );
    let alias = s.get("custom.alias_of_tag").unwrap();
    assert_eq!(alias.ty, FieldType::Keyword);
    assert_eq!(alias.normalizer.as_deref(), Some("lowercase"));
    assert_eq!(s.get("custom.items").unwrap().ty, FieldType::Nested);
    assert_eq!(s.get("custom.items.id").unwrap().ty, FieldType::Long);
    assert_eq!(
        s.nested_parent("custom.items.id").unwrap().name,
        "custom.items"
    );
    assert_eq!(
        s.resolve("custom"),
        Resolved::Object(Some(s.get("custom").unwrap().as_ref()))
    );
    assert!(matches!(
        s.resolve("custom.empty"),
        Resolved::Object(Some(_))
    ));
}

#[test]
fn from_mapping_json_accepts_bare_and_legacy_shapes() {
    let bare = Schema::from_mapping_json(r#"{"properties": {"a": {"type": "ip"}}}"#).unwrap();
    assert_eq!(bare.get("a").unwrap().ty, FieldType::Ip);
    let body =
        Schema::from_mapping_json(r#"{"mappings": {"properties": {"a": {"type": "long"}}}}"#)
            .unwrap();
    assert_eq!(body.get("a").unwrap().ty, FieldType::Long);
    let legacy = Schema::from_mapping_json(
        r#"{"idx": {"mappings": {"_doc": {"properties": {"a": {"type": "date"}}}}}}"#,
    )
    .unwrap();
    assert_eq!(legacy.get("a").unwrap().ty, FieldType::Date);
}

#[test]
fn from_mapping_json_merges_indices_and_reports_conflicts() {
    let s = Schema::from_mapping_json(
        r#"{
          "a": {"mappings": {"properties": {"x": {"type": "keyword"}, "y": {"type": "long"}}}},
          "b": {"mappings": {"properties": {"x": {"type": "text"}, "z": {"type": "ip"}}}}
        }"#,
    )
    .unwrap();
    assert_eq!(s.get("x").unwrap().ty, FieldType::Keyword);
    assert_eq!(s.get("y").unwrap().ty, FieldType::Long);
    assert_eq!(s.get("z").unwrap().ty, FieldType::Ip);
    assert_eq!(s.conflicts().len(), 1);
    assert!(s.conflicts()[0].contains("x"), "{:?}", s.conflicts());
}

#[test]
fn from_mapping_json_errors_name_the_problem() {
    let err = Schema::from_mapping_json("{not json").unwrap_err();
    assert!(matches!(err, SchemaError::Json(_)));
    let err = Schema::from_mapping_json(r#"{"properties": {"a": {"type": "bogus"}}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`a`") && err.contains("bogus"), "{err}");
    let err = Schema::from_mapping_json(r#"{"idx": {"settings": {}}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("idx") && err.contains("mappings"), "{err}");
    let err = Schema::from_mapping_json(r#"{"properties": {"a": {"type": "alias", "path": "b"}}}"#)
        .unwrap_err();
    assert!(matches!(err, SchemaError::DanglingAlias { .. }));
    assert!(Schema::from_mapping_json("[]").is_err());
}

#[test]
fn overlay_lets_the_user_mapping_win() {
    let user = Schema::from_mapping_json(MAPPING).unwrap();
    let merged = Schema::builtin().overlay(&user);
    // Replaced by name.
    assert_eq!(merged.get("event.action").unwrap().ty, FieldType::Text);
    assert_eq!(merged.get("message").unwrap().ty, FieldType::Text);
    assert_eq!(merged.get("source.ip").unwrap().ty, FieldType::Keyword);
    // The user's multi-fields replace ours: `event.action.raw` exists, no stale sub-fields.
    assert!(merged.get("event.action.raw").is_some());
    // Untouched built-ins remain.
    assert_eq!(merged.get("event.provider").unwrap().ty, FieldType::Keyword);
    assert_eq!(
        merged
            .get("aws.cloudtrail.request_parameters")
            .unwrap()
            .ignore_above,
        Some(8191)
    );
    assert!(merged.get("custom.tag").is_some());
    assert!(merged.field_count() > Schema::builtin().field_count());

    // A user leaf replaces our multi-field sub-fields of the same parent.
    let plain_ua = Schema::from_mapping_json(
        r#"{"properties": {"user_agent": {"properties": {"original": {"type": "keyword"}}}}}"#,
    )
    .unwrap();
    let merged = Schema::builtin().overlay(&plain_ua);
    assert!(merged.get("user_agent.original.text").is_none());
    // A user leaf where we have an object drops our children.
    let flat_dns =
        Schema::from_mapping_json(r#"{"properties": {"dns": {"type": "flattened"}}}"#).unwrap();
    let merged = Schema::builtin().overlay(&flat_dns);
    assert!(merged.get("dns.question.name").unwrap().is_flattened_leaf());
    // User children where we have a leaf drop our leaf.
    let deeper = Schema::from_mapping_json(
        r#"{"properties": {"event": {"properties": {"action": {"properties": {"verb": {"type": "keyword"}}}}}}}"#,
    )
    .unwrap();
    let merged = Schema::builtin().overlay(&deeper);
    assert_eq!(
        merged.resolve("event.action"),
        Resolved::Object(Some(merged.get("event.action").unwrap().as_ref()))
    );
}

#[test]
fn dynamic_mapping_through_the_schema() {
    let s = Schema::builtin();
    assert_eq!(s.dynamic_policy(), DynamicPolicy::LogsDataStream);
    // A mapped field ignores the value's JSON type.
    assert_eq!(
        s.get_or_dynamic("source.ip", &json!("10.0.0.1"))
            .unwrap()
            .ty,
        FieldType::Ip
    );
    let unknown = s.get_or_dynamic("foo.bar", &json!("x")).unwrap();
    assert_eq!(unknown.ty, FieldType::Keyword);
    assert_eq!(unknown.origin, Origin::Dynamic);
    let plain = s.clone().with_dynamic_policy(DynamicPolicy::PlainIndex);
    let unknown = plain.get_or_dynamic("foo.bar", &json!("x")).unwrap();
    assert_eq!(unknown.ty, FieldType::Text);
    assert_eq!(unknown.multi_fields[0].ignore_above, Some(256));
    assert!(s.get_or_dynamic("foo.bar", &json!(null)).is_none());
}

#[test]
fn from_mapping_json_rejects_malformed_entries_without_panicking() {
    for bad in [
        r#"{"idx": {"mappings": {"properties": {"a": 5}}}}"#,
        r#"{"idx": {"mappings": {"properties": []}}}"#,
        r#"{"idx": {"mappings": 3}}"#,
        r#"{"idx": 3}"#,
        r#"{"properties": {"a": {"type": "keyword", "fields": {"raw": 1}}}}"#,
        r#"{"properties": {"a": {"type": 7}}}"#,
        r#"{"properties": {"a": {"type": "alias"}}}"#,
        "",
        "null",
    ] {
        assert!(
            Schema::from_mapping_json(bad).is_err(),
            "{bad} should be rejected"
        );
    }
    // Odd but legal: numbers as strings, an empty mapping, dotted keys (subobjects: false).
    let s = Schema::from_mapping_json(
        r#"{"idx": {"mappings": {"subobjects": false, "properties": {
            "a.b": {"type": "keyword", "ignore_above": "12"},
            "c": {"properties": {"d.e": {"type": "long"}}}
        }}}, "empty": {"mappings": {}}}"#,
    )
    .unwrap();
    assert_eq!(s.get("a.b").unwrap().ignore_above, Some(12));
    assert_eq!(s.get("c.d.e").unwrap().ty, FieldType::Long);
    assert_eq!(s.resolve("a"), Resolved::Object(None));
}
