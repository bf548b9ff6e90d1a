//! Records on which a processor of Elastic's AWS CloudTrail pipeline fails (issue 16, item 4).
//!
//! | processor (tag) | inputs tried | outcome in Elasticsearch | source |
//! |---|---|---|---|
//! | `date` `date_json_eventTime_to_timestamp_e9417ba3`, format `ISO8601` | `eventTime` `"2024-10-10 14:50:40Z"` (space), `"2024-10-10t14:50:40Z"` (lower-case `t`), `" 2024-10-10T14:50:40Z"` (leading space), `"2024-10-10T14:50:40Z "` (trailing space) | rejected: `unable to parse date [<value>]`; the processor's own `on_failure` removes `json.eventTime` and appends `Processor date with tag … in pipeline … failed with message: unable to parse date [<value>]` to `error.message`; `@timestamp` keeps the agent's read time (absent in dragnet without `--read-time`, so a time range leaves the record out); the pipeline goes on, and its last processors set `event.kind: pipeline_error` and add tag `preserve_original_event` because `error.message` is set | Elasticsearch `DateFormatters` "iso8601": `STRICT_YEAR_MONTH_DAY_FORMATTER` then `appendLiteral('T')` (case-sensitive, no trimming); `Iso8601Parser`: `if (str.charAt(10) != 'T') return Result.error(10)`; `DateProcessor`: `unable to parse date [" + value + "]`; `default.yml` lines 29–44 and 2646–2656 |
//! | same | `"2024-10-10T14:50:40Z"`, `"2024-10-10"` | accepted (`2024-10-10T14:50:40.000Z`, `2024-10-10T00:00:00.000Z`) | same |
//! | `user_agent` `user_agent_json_userAgent_to_user_agent_12c778f0` (`ignore_missing: true`, no `on_failure`) | `userAgent` `42`, `3000000000`, `1.5`, `true`, `{"a":"b"}`, `["a"]` | fails: `getFieldValue(field, String.class, ignoreMissing)` throws `field [json.userAgent] of type [<Java class>] cannot be cast to [java.lang.String]` (`java.lang.Integer`, `java.lang.Long`, `java.lang.Double`, `java.lang.Boolean`, `java.util.HashMap`, `java.util.ArrayList`: what the `json` processor makes of the value); the pipeline's top-level `on_failure` appends `Processor user_agent with tag … in pipeline … failed with message: …` to `error.message`, sets `event.kind: pipeline_error`, adds tag `preserve_original_event`, removes `json`/`_conf`/`_tmp`; no `user_agent.*` at all (the processor sets `user_agent.original` itself) | Elasticsearch `UserAgentProcessor.execute`; `IngestDocument` cast message; `CompoundProcessor` on-failure metadata (`_ingest.on_failure_message` is the root cause's message); `default.yml` lines 1414–1418 and 2657–2677 |
//! | same | `userAgent` `{}`, `[]`, `null`, `""` | no failure: the null-drop script (step 7) removes them first, `ignore_missing` skips | `default.yml` `script_remove_nulls_before_renames` |
//!
//! (`IngestDocument.getFieldValue` names the processor's `field`, `json.userAgent`.)
//!
//! After a failure that reaches the pipeline's `on_failure`, the processors after the failing
//! one never ran: [`every_processor_failure`] checks, case by case, that the document keeps
//! exactly the fields set before it. The whole table is `docs/pipeline-failures.md`.

use dragnet_cloudtrail::{Mapper, MapperOptions};
use dragnet_event::{Event, FieldTable, OwnedScalar};
use serde_json::{Value, json};

const PIPELINE: &str = "logs-aws.cloudtrail-8.9.0";

fn ecs(raw: &str) -> Value {
    let mapper = Mapper::bind(&FieldTable::new(), MapperOptions::default()).unwrap();
    mapper.map(raw.as_bytes()).unwrap().to_ecs()
}

/// The table below runs without the `actor_target_mapping` option: the entity script (step 8,
/// own on_failure) reads the same fields, and its failures are another table's subject.
fn without_entities() -> MapperOptions {
    MapperOptions {
        actor_target_mapping: false,
        ..MapperOptions::default()
    }
}

fn ecs_without_entities(raw: &str) -> Value {
    let mapper = Mapper::bind(&FieldTable::new(), without_entities()).unwrap();
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
        "Processor user_agent with tag user_agent_json_userAgent_to_user_agent_12c778f0 in pipeline {PIPELINE} failed with message: field [json.userAgent] of type [{class}] cannot be cast to [java.lang.String]"
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
        // Set after it, so absent: the pipeline stopped at the user_agent processor (61).
        assert!(doc["event"].get("outcome").is_none(), "{agent}: {doc}");
        assert!(doc["event"].get("type").is_none(), "{agent}: {doc}");

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

/// A record that sets a field for most stretches of the pipeline, so a stop shows.
fn base() -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAALICE", "userName": "alice",
            "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333",
            "accessKeyId": "AKIAALICE"
        },
        "eventTime": "2024-10-10T14:50:40Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17.60",
        "requestParameters": {"userName": "bob"},
        "responseElements": {"user": {"userId": "AIDABOB", "userName": "bob"}},
        "requestID": "r-1",
        "eventID": "e-1",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "444455556666",
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "iam.amazonaws.com"
        }
    })
}

/// Fields of [`base`]'s document and the step (position in `default.yml`) of the processor
/// that sets each.
const PROBES: &[(&str, u8)] = &[
    ("ecs.version", 5),
    ("@timestamp", 6),
    ("aws.cloudtrail.event_version", 9),
    ("aws.cloudtrail.user_identity.type", 10),
    ("user.name", 13),
    ("user.id", 14),
    ("aws.cloudtrail.user_identity.arn", 15),
    ("cloud.account.id", 16),
    ("aws.cloudtrail.user_identity.access_key_id", 17),
    ("cloud.service.name", 48),
    ("event.provider", 49),
    ("event.action", 50),
    ("aws.cloudtrail.event_category", 51),
    ("cloud.provider", 53),
    ("cloud.region", 54),
    ("source.address", 55),
    ("source.ip", 56),
    ("user_agent.original", 61),
    ("user_agent.name", 61),
    ("aws.cloudtrail.request_parameters", 64),
    ("aws.cloudtrail.flattened.request_parameters", 64),
    ("aws.cloudtrail.request_id", 65),
    ("event.id", 66),
    ("aws.cloudtrail.event_type", 67),
    ("aws.cloudtrail.management_event", 69),
    ("aws.cloudtrail.read_only", 70),
    ("aws.cloudtrail.recipient_account_id", 72),
    ("related.user", 82),
    ("event.outcome", 86),
    ("event.category", 86),
    ("event.type", 86),
    ("user.target.id", 106),
    ("user.target.name", 109),
    ("tls.version", 113),
    ("tls.version_protocol", 113),
    ("tls.cipher", 115),
    ("tls.client.server_name", 116),
    ("related.ip", 123),
];

/// One row: the processor that fails, the field and JSON type that fail it, and what
/// Elasticsearch then indexes.
struct Case {
    /// Step and tag of the failing processor.
    processor: &'static str,
    /// Changes to [`base`] (dotted path, value; `null` removes the key's value).
    set: &'static [(&'static str, &'static str)],
    /// The step the pipeline stops at (255: it runs to the end, the processor having an
    /// `on_failure` of its own).
    stop: u8,
    /// `error.message`, in order (`Processor <type> with tag <tag> in pipeline … failed with
    /// message: ` is prefixed from the first two words).
    errors: &'static [(&'static str, &'static str, &'static str)],
    /// Fields whose value differs from [`base`]'s (`None`: absent) where their step ran.
    changed: &'static [(&'static str, Option<&'static str>)],
    /// Why: the Elasticsearch code and pipeline lines this row follows.
    source: &'static str,
}

const CREATION_DATE_TAG: &str = "date_json_userIdentity_sessionContext_attributes_creationDate_to_aws_cloudtrail_user_identity_session_context_creation_date_7cf57f10";

fn cases() -> Vec<Case> {
    let identity_gone: &[(&str, Option<&str>)] = &[
        ("aws.cloudtrail.user_identity.type", None),
        ("user.name", None),
        ("user.id", None),
        ("aws.cloudtrail.user_identity.arn", None),
        ("cloud.account.id", None),
        ("aws.cloudtrail.user_identity.access_key_id", None),
    ];
    vec![
        // --- stops the pipeline: a processor without on_failure (or its `if`) fails ---
        Case {
            processor: "19 date creationDate (if)",
            set: &[("userIdentity", r#""alice""#)],
            stop: 19,
            errors: &[
                (
                    "script",
                    "script_aws_service_actor_93211d93",
                    "dynamic getter [java.lang.String, invokedBy] not found",
                ),
                (
                    "conditional",
                    CREATION_DATE_TAG,
                    "dynamic getter [java.lang.String, sessionContext] not found",
                ),
            ],
            changed: identity_gone,
            source: "Painless Def.lookupGetter (`dynamic getter [<class>, <name>] not found`); ConditionalProcessor.execute hands the if's exception to the pipeline (type `conditional`); CompoundProcessor.newCompoundProcessorException; default.yml lines 1078-1108 (service-actor script, own on_failure) and 1149-1168",
        },
        Case {
            processor: "19 date creationDate (if)",
            set: &[("userIdentity", "42")],
            stop: 19,
            errors: &[
                (
                    "script",
                    "script_aws_service_actor_93211d93",
                    "dynamic getter [java.lang.Integer, invokedBy] not found",
                ),
                (
                    "conditional",
                    CREATION_DATE_TAG,
                    "dynamic getter [java.lang.Integer, sessionContext] not found",
                ),
            ],
            changed: identity_gone,
            source: "same; Jackson/XContentParser.map(): an int literal is java.lang.Integer",
        },
        Case {
            processor: "19 date creationDate (if)",
            set: &[("userIdentity", r#"["alice"]"#)],
            stop: 19,
            errors: &[
                (
                    "script",
                    "script_aws_service_actor_93211d93",
                    "Illegal list shortcut value [invokedBy].",
                ),
                (
                    "conditional",
                    CREATION_DATE_TAG,
                    "Illegal list shortcut value [sessionContext].",
                ),
            ],
            changed: identity_gone,
            source: "Painless Def.lookupGetter: a List takes only an integer shortcut",
        },
        Case {
            processor: "19 date creationDate (if)",
            set: &[("userIdentity.sessionContext", "true")],
            stop: 19,
            errors: &[(
                "conditional",
                CREATION_DATE_TAG,
                "dynamic getter [java.lang.Boolean, attributes] not found",
            )],
            changed: &[],
            source: "same (`ctx.json?.userIdentity?.sessionContext?.attributes`)",
        },
        Case {
            processor: "19 date creationDate (if)",
            set: &[("userIdentity.sessionContext", r#"{"attributes": 1.5}"#)],
            stop: 19,
            errors: &[(
                "conditional",
                CREATION_DATE_TAG,
                "dynamic getter [java.lang.Double, creationDate] not found",
            )],
            changed: &[],
            source: "same; a number with a fraction is java.lang.Double",
        },
        Case {
            processor: "23 grok session name (if)",
            set: &[
                ("userIdentity.type", r#""AssumedRole""#),
                ("userIdentity.arn", "7"),
            ],
            stop: 23,
            errors: &[(
                "conditional",
                "extract_session_name_from_arn",
                "dynamic method [java.lang.Integer, contains/1] not found",
            )],
            changed: &[
                ("aws.cloudtrail.user_identity.type", Some("AssumedRole")),
                ("aws.cloudtrail.user_identity.arn", Some("7")),
            ],
            source: "Painless Def.lookupMethod (`dynamic method [<class>, <name>/<arity>] not found`); default.yml lines 1194-1211 (the grok's own on_failure wraps only the grok, not its if)",
        },
        Case {
            processor: "23 grok session name (if)",
            set: &[
                ("userIdentity.type", r#""FederatedUser""#),
                ("userIdentity.arn", r#"{"a": "b"}"#),
            ],
            stop: 23,
            errors: &[(
                "conditional",
                "extract_session_name_from_arn",
                "dynamic method [org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestData, contains/1] not found",
            )],
            changed: &[
                ("aws.cloudtrail.user_identity.type", Some("FederatedUser")),
                ("aws.cloudtrail.user_identity.arn", Some(r#"{"a":"b"}"#)),
            ],
            source: "ConditionalProcessor.wrapUnmodifiable: a map in an if is an UnmodifiableIngestData (no contains)",
        },
        Case {
            processor: "48 dissect eventSource (if)",
            set: &[("eventSource", "5")],
            stop: 48,
            errors: &[(
                "conditional",
                "dissect_json_eventSource_to_cloud_service_name_5d2b7c94",
                "dynamic method [java.lang.Integer, endsWith/1] not found",
            )],
            changed: &[],
            source: "Painless Def.lookupMethod; default.yml lines 1338-1344",
        },
        Case {
            processor: "48 dissect eventSource (if)",
            set: &[("eventSource", "false")],
            stop: 48,
            errors: &[(
                "conditional",
                "dissect_json_eventSource_to_cloud_service_name_5d2b7c94",
                "dynamic method [java.lang.Boolean, endsWith/1] not found",
            )],
            changed: &[],
            source: "same",
        },
        Case {
            processor: "48 dissect eventSource (if)",
            set: &[("eventSource", r#"["iam.amazonaws.com"]"#)],
            stop: 48,
            errors: &[(
                "conditional",
                "dissect_json_eventSource_to_cloud_service_name_5d2b7c94",
                concat!(
                    "dynamic method [",
                    "org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestList",
                    ", endsWith/1] not found"
                ),
            )],
            changed: &[],
            source: "ConditionalProcessor.wrapUnmodifiable: a list in an if is an UnmodifiableIngestList",
        },
        Case {
            processor: "52 rename additionalEventData.UserName (if)",
            set: &[
                ("eventName", r#""UserAuthentication""#),
                ("userIdentity.userName", "null"),
                ("additionalEventData", r#""x""#),
            ],
            stop: 52,
            errors: &[(
                "conditional",
                "rename_additionalEventData_UserName_to_username_552c89e0",
                "dynamic getter [java.lang.String, UserName] not found",
            )],
            changed: &[
                ("user.name", None),
                ("event.action", Some("UserAuthentication")),
            ],
            source: "Painless Def.lookupGetter; default.yml lines 1356-1360",
        },
        Case {
            processor: "61 user_agent",
            set: &[("userAgent", r#"{"a": 1}"#)],
            stop: 61,
            errors: &[(
                "user_agent",
                "user_agent_json_userAgent_to_user_agent_12c778f0",
                "field [json.userAgent] of type [java.util.HashMap] cannot be cast to [java.lang.String]",
            )],
            changed: &[],
            source: "UserAgentProcessor.execute: getFieldValue(field, String.class, ignoreMissing); IngestDocument.cast message; default.yml lines 1414-1418",
        },
        Case {
            processor: "82 append related.user (if)",
            set: &[("requestParameters", r#""userName=bob""#)],
            stop: 82,
            errors: &[(
                "conditional",
                "append_related_user_0121b806",
                "dynamic getter [java.lang.String, userName] not found",
            )],
            changed: &[
                ("aws.cloudtrail.request_parameters", Some("userName=bob")),
                (
                    "aws.cloudtrail.flattened.request_parameters",
                    Some("userName=bob"),
                ),
            ],
            source: "Painless Def.lookupGetter; default.yml lines 1605-1610",
        },
        Case {
            processor: "82 append related.user (if)",
            set: &[("requestParameters", r#"["bob"]"#)],
            stop: 82,
            errors: &[(
                "conditional",
                "append_related_user_0121b806",
                "Illegal list shortcut value [userName].",
            )],
            changed: &[
                ("aws.cloudtrail.request_parameters", Some("[bob]")),
                (
                    "aws.cloudtrail.flattened.request_parameters",
                    Some(r#"["bob"]"#),
                ),
            ],
            source: "same; the rendered string is ArrayList.toString()",
        },
        Case {
            processor: "84 append related.user (if)",
            set: &[("responseElements", r#"{"user": "bob"}"#)],
            stop: 84,
            errors: &[(
                "conditional",
                "append_related_user_e323b1c9",
                "dynamic getter [java.lang.String, userId] not found",
            )],
            changed: &[
                ("related.user", Some(r#"["bob"]"#)),
                ("user.target.id", None),
            ],
            source: "Painless Def.lookupGetter; default.yml lines 1617-1622",
        },
        Case {
            processor: "112 remove tlsDetails (if)",
            set: &[("tlsDetails", r#""TLSv1.3""#)],
            stop: 112,
            errors: &[(
                "conditional",
                "remove_json_tlsDetails_d5e86911",
                "dynamic getter [java.lang.String, tlsVersion] not found",
            )],
            // The appends of user.id and user.name (119, 120) come after.
            changed: &[("related.user", Some(r#"["bob","AIDABOB"]"#))],
            source: "Painless Def.lookupGetter; default.yml lines 2363-2366",
        },
        Case {
            processor: "118 set user.email (if)",
            set: &[("userIdentity.userName", "42")],
            stop: 118,
            errors: &[(
                "conditional",
                "set_user_email_d6b77481",
                "dynamic method [java.lang.Integer, indexOf/1] not found",
            )],
            changed: &[
                ("user.name", Some("42")),
                ("related.user", Some(r#"["bob","AIDABOB"]"#)),
            ],
            source: "Painless Def.lookupMethod; default.yml lines 2397-2403; related.user keeps the appends of steps 82-84 only",
        },
        Case {
            processor: "118 set user.email (if)",
            set: &[("userIdentity.userName", r#"{"first": "alice"}"#)],
            stop: 118,
            errors: &[(
                "conditional",
                "set_user_email_d6b77481",
                concat!(
                    "dynamic method [",
                    "org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestData",
                    ", indexOf/1] not found"
                ),
            )],
            changed: &[
                ("user.name", Some(r#"{"first":"alice"}"#)),
                ("related.user", Some(r#"["bob","AIDABOB"]"#)),
            ],
            source: "same",
        },
        Case {
            processor: "126 append related.hosts (if)",
            set: &[("tlsDetails.clientProvidedHostHeader", "5")],
            stop: 126,
            errors: &[(
                "conditional",
                "append_related_hosts_tls_client_server_name",
                "dynamic method [java.lang.Integer, endsWith/1] not found",
            )],
            changed: &[("tls.client.server_name", Some("5"))],
            source: "Painless Def.lookupMethod; default.yml lines 2453-2461",
        },
        Case {
            processor: "127 append related.hosts (if)",
            set: &[("sourceIPAddress", "5")],
            stop: 127,
            errors: &[(
                "conditional",
                "append_related_hosts_source_address",
                "dynamic method [java.lang.Integer, contains/1] not found",
            )],
            changed: &[
                ("source.address", Some("5")),
                ("source.ip", None),
                ("related.ip", None),
            ],
            source: "ConvertProcessor type ip fails on 5 (ignore_failure: no source.ip); Painless Def.lookupMethod; default.yml lines 2462-2470",
        },
        Case {
            processor: "127 append related.hosts (if)",
            set: &[("sourceIPAddress", r#"[".", "x"]"#)],
            stop: 127,
            errors: &[(
                "conditional",
                "append_related_hosts_source_address",
                concat!(
                    "dynamic method [",
                    "org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestList",
                    ", endsWith/1] not found"
                ),
            )],
            changed: &[
                ("source.address", Some(r#"[".","x"]"#)),
                ("source.ip", None),
                ("related.ip", None),
            ],
            source: "a list has contains (true for \".\") but no endsWith",
        },
        // --- a processor's own on_failure: the pipeline goes on, error.message makes it a pipeline_error ---
        Case {
            processor: "6 date eventTime (own on_failure)",
            set: &[("eventTime", r#"{"a": "b"}"#)],
            stop: 255,
            errors: &[(
                "date",
                "date_json_eventTime_to_timestamp_e9417ba3",
                "unable to parse date [{a=b}]",
            )],
            changed: &[("@timestamp", None)],
            source: "DateProcessor: value = getFieldValue(field, Object.class).toString() (HashMap.toString); default.yml lines 29-44",
        },
        Case {
            processor: "11 script service actor (own on_failure)",
            set: &[
                ("userIdentity.type", r#""AWSService""#),
                ("userIdentity.invokedBy", "5"),
            ],
            stop: 255,
            errors: &[(
                "script",
                "script_aws_service_actor_93211d93",
                "class java.lang.Integer cannot be cast to class java.lang.String (java.lang.Integer and java.lang.String are in module java.base of loader 'bootstrap')",
            )],
            changed: &[("aws.cloudtrail.user_identity.type", Some("AWSService"))],
            source: "`String invokedBy = identity.invokedBy;` is a checkcast (JDK ClassCastException text); no service.name, so user.* are renamed; default.yml lines 1078-1108",
        },
        Case {
            processor: "85 script ConsoleLogin (own on_failure)",
            set: &[
                ("eventName", r#""ConsoleLogin""#),
                ("additionalEventData", "3"),
            ],
            stop: 255,
            errors: &[(
                "script",
                "script_console_login_additional_eventdata",
                "dynamic getter [java.lang.Integer, MobileVersion] not found",
            )],
            changed: &[
                ("event.action", Some("ConsoleLogin")),
                ("event.category", Some(r#"["authentication"]"#)),
                ("event.type", Some(r#"["info"]"#)),
            ],
            source: "Painless Def.lookupGetter; default.yml lines 1623-1649",
        },
        Case {
            processor: "86 script categorization (own on_failure)",
            set: &[
                ("eventName", r#""ConsoleLogin""#),
                (
                    "responseElements",
                    r#"{"ConsoleLogin": 1, "user": {"userId": "AIDABOB"}}"#,
                ),
            ],
            stop: 255,
            errors: &[(
                "script",
                "script_add_ecs_categorization",
                "class java.lang.Integer cannot be cast to class java.lang.String (java.lang.Integer and java.lang.String are in module java.base of loader 'bootstrap')",
            )],
            changed: &[
                ("event.action", Some("ConsoleLogin")),
                ("event.category", None),
                ("event.type", Some(r#"["info"]"#)),
            ],
            source: "`Processors.lowercase(String)` on an Integer: checkcast; kind, type and outcome were set before it, category after; default.yml lines 1650-2186",
        },
    ]
}

/// Sets `value` (JSON text) at the dotted `path`.
fn set_path(doc: &mut Value, path: &str, value: &str) {
    let value: Value = serde_json::from_str(value).unwrap();
    let mut node = doc;
    let keys: Vec<&str> = path.split('.').collect();
    for key in &keys[..keys.len() - 1] {
        node = node.get_mut(*key).unwrap();
    }
    node[keys[keys.len() - 1]] = value;
}

fn lookup<'v>(doc: &'v Value, field: &str) -> Option<&'v Value> {
    field.split('.').try_fold(doc, |v, k| v.get(k))
}

/// A field's value as the `changed` column spells it: strings bare, anything else JSON.
fn spelled(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn every_processor_failure() {
    let happy = ecs_without_entities(&base().to_string());
    assert_eq!(
        happy["event"]["kind"], "event",
        "the base record maps cleanly: {happy}"
    );
    for (field, _) in PROBES {
        assert!(
            lookup(&happy, field).is_some(),
            "base sets {field}: {happy}"
        );
    }
    let mut table = FieldTable::new();
    let ids: Vec<_> = PROBES.iter().map(|(f, _)| table.intern(f)).collect();
    let kind_id = table.intern("event.kind");
    let mapper = Mapper::bind(&table, without_entities()).unwrap();
    let mut failures = Vec::new();
    for case in cases() {
        let mut record = base();
        for (path, value) in case.set {
            set_path(&mut record, path, value);
        }
        let raw = record.to_string();
        let doc = ecs_without_entities(&raw);
        let ev = mapper.map(raw.as_bytes()).unwrap();
        let row = format!("{} {:?}", case.processor, case.set);
        let mut check = |ok: bool, what: String| {
            if !ok {
                failures.push(format!(
                    "{row}: {what}\n  document: {doc}\n  source: {}",
                    case.source
                ));
            }
        };
        let errors: Vec<String> = case
            .errors
            .iter()
            .map(|(kind, tag, message)| {
                format!("Processor {kind} with tag {tag} in pipeline {PIPELINE} failed with message: {message}")
            })
            .collect();
        check(
            doc["error"]["message"] == json!(errors),
            format!("error.message should be {errors:?}"),
        );
        check(
            doc["event"]["kind"] == "pipeline_error",
            "event.kind".into(),
        );
        check(
            doc["tags"] == json!(["preserve_original_event"]),
            "tags".into(),
        );
        check(
            ev.values(kind_id) == vec![s("pipeline_error")],
            "rules see event.kind:pipeline_error".into(),
        );
        for ((field, step), id) in PROBES.iter().zip(&ids) {
            let changed = case.changed.iter().find(|(f, _)| f == field);
            let expected: Option<String> = if *step >= case.stop {
                None
            } else {
                match changed {
                    Some((_, v)) => v.map(str::to_owned),
                    None => lookup(&happy, field).map(spelled),
                }
            };
            let got = lookup(&doc, field).map(spelled);
            check(
                got == expected,
                format!("{field} (step {step}) is {got:?}, expected {expected:?}"),
            );
            // What rules see agrees with the document: a value exactly when present.
            check(
                ev.values(*id).is_empty() == expected.is_none(),
                format!("rules see {field}: {:?}", ev.values(*id)),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_list_user_agent_date_or_name_that_elastic_accepts_is_no_failure() {
    // Shapes a Painless `if` answers without throwing: a list has contains/indexOf, the date
    // processor's `if` compares with `!=` only, a string eventSource not ending in
    // .amazonaws.com just skips the dissect.
    for (path, value) in [
        ("userIdentity.arn", r#"["arn:aws:iam::1:user/a"]"#),
        ("userIdentity.userName", r#"["alice"]"#),
        ("eventSource", r#""example.com""#),
        ("sourceIPAddress", r#"["x"]"#),
    ] {
        let mut record = base();
        set_path(&mut record, path, value);
        if path == "userIdentity.arn" {
            set_path(&mut record, "userIdentity.type", r#""AssumedRole""#);
        }
        let doc = ecs_without_entities(&record.to_string());
        assert_eq!(doc["event"]["kind"], "event", "{path}={value}: {doc}");
        assert!(doc.get("error").is_none(), "{path}={value}: {doc}");
    }
}

#[test]
fn fixture_records_fail_no_processor() {
    // The fixtures' records are well-formed: Elastic indexed each without `error.message` and
    // with `event.kind: event` (their expected documents), and so does dragnet.
    let dir =
        dragnet_testdata::require_shared!("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let expected_path = path.with_file_name(format!(
            "{}-expected.json",
            path.file_name().unwrap().to_string_lossy()
        ));
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let docs = expected["expected"].as_array().unwrap();
        assert_eq!(lines.len(), docs.len(), "{}", path.display());
        for (line, want) in lines.iter().zip(docs) {
            let got = ecs(line);
            assert!(want.get("error").is_none(), "{}", path.display());
            assert!(got.get("error").is_none(), "{}: {got}", path.display());
            assert_eq!(
                got["event"]["kind"],
                want["event"]["kind"],
                "{}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} fixture records");
}
