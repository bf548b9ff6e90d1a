//! Records on which a processor of Elastic's AWS CloudTrail pipeline fails (issue 16, item 4).
//!
//! | processor (tag) | inputs tried | outcome in Elasticsearch | source |
//! |---|---|---|---|
//! | `date` `date_json_eventTime_to_timestamp_e9417ba3`, format `ISO8601` | `eventTime` `"2024-10-10 14:50:40Z"` (space), `"2024-10-10t14:50:40Z"` (lower-case `t`), `" 2024-10-10T14:50:40Z"` (leading space), `"2024-10-10T14:50:40Z "` (trailing space) | rejected: `unable to parse date [<value>]`; the processor's own `on_failure` removes `json.eventTime` and appends `Processor date with tag … in pipeline … failed with message: unable to parse date [<value>]` to `error.message`; `@timestamp` keeps the agent's read time (absent in dragnet without `--read-time`, so a time range leaves the record out); the pipeline goes on, and its last processors set `event.kind: pipeline_error` and add tag `preserve_original_event` because `error.message` is set | Elasticsearch `DateFormatters` "iso8601": `STRICT_YEAR_MONTH_DAY_FORMATTER` then `appendLiteral('T')` (case-sensitive, no trimming); `Iso8601Parser`: `if (str.charAt(10) != 'T') return Result.error(10)`; `DateProcessor`: `unable to parse date [" + value + "]`; `default.yml` lines 29–44 and 2646–2656 |
//! | same | `"2024-10-10T14:50:40Z"`, `"2024-10-10"` | accepted (`2024-10-10T14:50:40.000Z`, `2024-10-10T00:00:00.000Z`) | same |
//! | `user_agent` `user_agent_json_userAgent_to_user_agent_12c778f0` (`ignore_missing: true`, no `on_failure`) | `userAgent` `42`, `3000000000`, `1.5`, `true`, `{"a":"b"}`, `["a"]` | fails: `getFieldValue(field, String.class, ignoreMissing)` throws `field [userAgent] of type [<Java class>] cannot be cast to [java.lang.String]` (`java.lang.Integer`, `java.lang.Long`, `java.lang.Double`, `java.lang.Boolean`, `java.util.HashMap`, `java.util.ArrayList`: what the `json` processor makes of the value); the pipeline's top-level `on_failure` appends `Processor user_agent with tag … in pipeline … failed with message: …` to `error.message`, sets `event.kind: pipeline_error`, adds tag `preserve_original_event`, removes `json`/`_conf`/`_tmp`; no `user_agent.*` at all (the processor sets `user_agent.original` itself) | Elasticsearch `UserAgentProcessor.execute`; `IngestDocument` cast message; `CompoundProcessor` on-failure metadata (`_ingest.on_failure_message` is the root cause's message); `default.yml` lines 1414–1418 and 2657–2677 |
//! | same | `userAgent` `{}`, `[]`, `null`, `""` | no failure: the null-drop script (step 7) removes them first, `ignore_missing` skips | `default.yml` `script_remove_nulls_before_renames` |
//!
//! Not reproduced yet: after the `user_agent` failure the processors after it never run, so
//! Elasticsearch's document lacks every field they would set (`aws.cloudtrail.error_code`,
//! `request_parameters`, `event.id`, `event.outcome`, `event.category`, `related.*`, `tls.*`…);
//! dragnet still maps those.

use dragnet_cloudtrail::{Mapper, MapperOptions};
use dragnet_event::{Event, FieldTable, OwnedScalar};
use serde_json::{Value, json};

const PIPELINE: &str = "logs-aws.cloudtrail-8.9.0";

fn ecs(raw: &str) -> Value {
    let mapper = Mapper::bind(&FieldTable::new(), MapperOptions::default()).unwrap();
    mapper.map(raw.as_bytes()).unwrap().to_ecs()
}

fn s(v: &str) -> OwnedScalar {
    OwnedScalar::Str(v.into())
}

fn date_error(value: &str) -> String {
    format!(
        "Processor date with tag date_json_eventTime_to_timestamp_e9417ba3 in pipeline {PIPELINE} failed with message: unable to parse date [{value}]"
    )
}

fn ua_error(class: &str) -> String {
    format!(
        "Processor user_agent with tag user_agent_json_userAgent_to_user_agent_12c778f0 in pipeline {PIPELINE} failed with message: field [userAgent] of type [{class}] cannot be cast to [java.lang.String]"
    )
}

#[test]
fn event_time_spellings_iso8601_rejects() {
    for value in [
        "2024-10-10 14:50:40Z",
        "2024-10-10t14:50:40Z",
        " 2024-10-10T14:50:40Z",
        "2024-10-10T14:50:40Z ",
    ] {
        let raw = json!({"eventTime": value, "eventName": "ConsoleLogin"}).to_string();
        let doc = ecs(&raw);
        assert!(doc.get("@timestamp").is_none(), "{value:?}: {doc}");
        assert_eq!(
            doc["error"]["message"],
            json!([date_error(value)]),
            "{value:?}"
        );
        assert_eq!(doc["event"]["kind"], "pipeline_error", "{value:?}");
        assert_eq!(doc["tags"], json!(["preserve_original_event"]), "{value:?}");
        // The pipeline goes on after the processor's own on_failure.
        assert_eq!(doc["event"]["action"], "ConsoleLogin", "{value:?}");

        // What rules see: no @timestamp, so a time range leaves the record out.
        let mut table = FieldTable::new();
        let ts = table.intern("@timestamp");
        let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
        let ev = mapper.map(raw.as_bytes()).unwrap();
        assert!(ev.values(ts).is_empty(), "{value:?}");
    }
}

#[test]
fn event_time_spellings_iso8601_accepts() {
    for (value, ts) in [
        ("2024-10-10T14:50:40Z", "2024-10-10T14:50:40.000Z"),
        ("2024-10-10", "2024-10-10T00:00:00.000Z"),
    ] {
        let doc = ecs(&json!({ "eventTime": value }).to_string());
        assert_eq!(doc["@timestamp"], ts, "{value:?}");
        assert!(doc.get("error").is_none(), "{value:?}");
        assert_eq!(doc["event"]["kind"], "event", "{value:?}");
    }
}

#[test]
fn user_agent_not_a_string_fails_the_pipeline() {
    for (agent, class) in [
        (json!(42), "java.lang.Integer"),
        (json!(3_000_000_000_i64), "java.lang.Long"),
        (json!(1.5), "java.lang.Double"),
        (json!(true), "java.lang.Boolean"),
        (json!({"a": "b"}), "java.util.HashMap"),
        (json!(["a"]), "java.util.ArrayList"),
    ] {
        let raw = json!({
            "eventTime": "2024-10-10T14:50:40Z",
            "eventName": "ConsoleLogin",
            "sourceIPAddress": "example.com",
            "userAgent": agent,
        })
        .to_string();
        let doc = ecs(&raw);
        assert_eq!(doc["error"]["message"], json!([ua_error(class)]), "{agent}");
        assert_eq!(doc["event"]["kind"], "pipeline_error", "{agent}");
        assert_eq!(doc["tags"], json!(["preserve_original_event"]), "{agent}");
        assert!(doc.get("user_agent").is_none(), "{agent}: {doc}");
        // Set before the user_agent processor, so kept.
        assert_eq!(doc["@timestamp"], "2024-10-10T14:50:40.000Z", "{agent}");
        assert_eq!(doc["event"]["action"], "ConsoleLogin", "{agent}");
        assert_eq!(doc["source"]["address"], "example.com", "{agent}");

        // What rules see.
        let mut table = FieldTable::new();
        let original = table.intern("user_agent.original");
        let kind = table.intern("event.kind");
        let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
        let ev = mapper.map(raw.as_bytes()).unwrap();
        assert!(ev.values(original).is_empty(), "{agent}");
        assert_eq!(ev.values(kind), vec![s("pipeline_error")], "{agent}");
    }
}

#[test]
fn user_agent_dropped_before_the_processor_is_no_failure() {
    for agent in [json!({}), json!([]), Value::Null, json!("")] {
        let doc = ecs(&json!({ "eventName": "ConsoleLogin", "userAgent": agent }).to_string());
        assert_eq!(doc["event"]["kind"], "event", "{agent}");
        assert!(doc.get("error").is_none(), "{agent}");
        assert!(doc.get("user_agent").is_none(), "{agent}");
    }
    let doc = ecs(r#"{"userAgent":"aws-cli/2.17.60"}"#);
    assert_eq!(doc["user_agent"]["original"], "aws-cli/2.17.60");
    assert_eq!(doc["event"]["kind"], "event");
}
