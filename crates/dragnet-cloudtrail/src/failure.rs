//! Where Elastic's pipeline fails on a record's shape, and what the document keeps then.
//!
//! Elasticsearch runs the pipeline's processors in order. When one fails and has neither an
//! `on_failure` of its own nor `ignore_failure`, the pipeline stops there and runs its own
//! `on_failure` (append `error.message`, `event.kind: pipeline_error`, tag
//! `preserve_original_event`, remove `json`/`_conf`/`_tmp`): the document keeps exactly what
//! the processors before the failing one set (`CompoundProcessor`; `default.yml` lines
//! 2657–2677). So every field carries the [`Step`] of the processor that sets it
//! ([`set_at`]), and a field whose step is at or after the failing one is absent.
//!
//! The failures reproduced here ([`detect`]) are the processors that can fail on a JSON type
//! the record's producer chose, in pipeline order. Most are an `if` condition written for a
//! string or an object (`ctx.json.eventSource.endsWith(...)`, `ctx.json?.requestParameters?.userName`)
//! meeting another type: Painless then throws, and the exception of an `if` is not caught by the
//! processor's own `on_failure`, which wraps only the processor inside the condition
//! (`ConditionalProcessor`, type `conditional`). `docs/pipeline-failures.md` has the table.

use crate::mapping::{self, kept, kept_str, processor_error};
use crate::node::Node;

/// A processor's position in `default.yml` (1-based, 135 processors). Fields the agent or the
/// data stream set (`event.dataset`, `event.module`, `data_stream.dataset`) are step 0.
pub type Step = u8;

/// Steps of the processors the mapping needs to tell apart (numbers: `default.yml` order).
pub mod step {
    use super::Step;
    pub const EVENT_CREATED: Step = 3;
    pub const ECS_VERSION: Step = 5;
    pub const DATE_EVENT_TIME: Step = 6;
    pub const ENTITY_SCRIPT: Step = 8;
    pub const EVENT_VERSION: Step = 9;
    pub const USER_IDENTITY_TYPE: Step = 10;
    pub const SERVICE_ACTOR_SCRIPT: Step = 11;
    pub const SERVICE_NAME: Step = 12;
    pub const USER_NAME: Step = 13;
    pub const USER_ID: Step = 14;
    pub const USER_IDENTITY_ARN: Step = 15;
    pub const CLOUD_ACCOUNT_FROM_IDENTITY: Step = 16;
    pub const ACCESS_KEY_ID: Step = 17;
    pub const MFA_AUTHENTICATED: Step = 18;
    pub const DATE_CREATION_DATE: Step = 19;
    pub const SESSION_ISSUER_TYPE: Step = 20;
    pub const SESSION_ISSUER_PRINCIPAL_ID: Step = 22;
    pub const SESSION_NAME_GROK: Step = 23;
    pub const RELATED_USER_SESSION_NAME: Step = 24;
    pub const RELATED_USER_SESSION_PREFIX: Step = 26;
    pub const USER_EMAIL_FROM_SESSION: Step = 27;
    pub const ON_BEHALF_OF_USER_ID: Step = 28;
    pub const ON_BEHALF_OF_STORE_ARN: Step = 29;
    pub const USER_ID_IDENTITY_CENTER: Step = 30;
    pub const SESSION_ISSUER_ARN: Step = 31;
    pub const SESSION_ISSUER_ACCOUNT_ID: Step = 32;
    pub const SESSION_CREDENTIAL_FROM_CONSOLE: Step = 33;
    pub const INVOKED_BY: Step = 34;
    pub const INVOKED_BY_DELEGATE: Step = 35;
    pub const CREDENTIAL_ID: Step = 36;
    pub const IDENTITY_PROVIDER: Step = 37;
    pub const IN_SCOPE_OF_ISSUER_TYPE: Step = 38;
    pub const IN_SCOPE_OF_ISSUED_TO: Step = 39;
    pub const IN_SCOPE_OF_SOURCE_ARN: Step = 40;
    pub const IN_SCOPE_OF_SOURCE_ACCOUNT: Step = 41;
    pub const EC2_ROLE_DELIVERY: Step = 42;
    pub const SOURCE_IDENTITY: Step = 43;
    pub const FEDERATED_PROVIDER: Step = 44;
    pub const FEDERATION_ATTRIBUTES: Step = 45;
    pub const ASSUMED_ROOT: Step = 46;
    pub const SIGN_IN_SESSION_ARN: Step = 47;
    pub const CLOUD_SERVICE_NAME: Step = 48;
    pub const EVENT_PROVIDER: Step = 49;
    pub const EVENT_ACTION: Step = 50;
    pub const EVENT_CATEGORY_RAW: Step = 51;
    pub const USER_NAME_USER_AUTHENTICATION: Step = 52;
    pub const CLOUD_PROVIDER: Step = 53;
    pub const CLOUD_REGION: Step = 54;
    pub const SOURCE_ADDRESS: Step = 55;
    pub const SOURCE_IP: Step = 56;
    pub const SOURCE_GEO: Step = 57;
    pub const SOURCE_AS: Step = 58;
    pub const USER_AGENT: Step = 61;
    pub const ERROR_CODE: Step = 62;
    pub const ERROR_MESSAGE: Step = 63;
    pub const RENDERED_AND_FLATTENED: Step = 64;
    pub const REQUEST_ID: Step = 65;
    pub const EVENT_ID: Step = 66;
    pub const EVENT_TYPE: Step = 67;
    pub const API_VERSION: Step = 68;
    pub const MANAGEMENT_EVENT: Step = 69;
    pub const READ_ONLY: Step = 70;
    pub const RESOURCES: Step = 71;
    pub const RECIPIENT_ACCOUNT_ID: Step = 72;
    pub const CLOUD_ACCOUNT_FROM_RECIPIENT: Step = 73;
    pub const SHARED_EVENT_ID: Step = 74;
    pub const VPC_ENDPOINT_ID: Step = 76;
    pub const VPC_ENDPOINT_ACCOUNT_ID: Step = 77;
    pub const ADDENDUM_REASON: Step = 78;
    pub const ADDENDUM_UPDATED_FIELDS: Step = 79;
    pub const ADDENDUM_ORIGINAL_REQUEST_ID: Step = 80;
    pub const ADDENDUM_ORIGINAL_EVENT_ID: Step = 81;
    pub const RELATED_USER_REQUEST_USER_NAME: Step = 82;
    pub const RELATED_USER_NEW_USER_NAME: Step = 83;
    pub const RELATED_USER_RESPONSE_USER_ID: Step = 84;
    pub const CONSOLE_LOGIN_SCRIPT: Step = 85;
    pub const CATEGORIZATION_SCRIPT: Step = 86;
    pub const CLOUD_ACCOUNT_FROM_DIGEST: Step = 87;
    pub const FILE_PATH: Step = 88;
    pub const RELATED_HASH: Step = 92;
    pub const DATE_DIGEST_START: Step = 94;
    pub const DATE_DIGEST_END: Step = 95;
    pub const TIMESTAMP_FROM_DIGEST: Step = 96;
    pub const DATE_NEWEST_EVENT: Step = 98;
    pub const DATE_OLDEST_EVENT: Step = 99;
    pub const GROUP_ID: Step = 105;
    pub const USER_TARGET_ID: Step = 106;
    pub const USER_CHANGES_NAME: Step = 107;
    pub const GROUP_NAME: Step = 108;
    pub const USER_TARGET_NAME: Step = 109;
    pub const FLATTENED_DIGEST: Step = 110;
    pub const INSIGHT_DETAILS: Step = 111;
    pub const REMOVE_PLACEHOLDER_TLS: Step = 112;
    pub const TLS_VERSION: Step = 113;
    pub const TLS_CIPHER: Step = 115;
    pub const TLS_SERVER_NAME: Step = 116;
    pub const TLS_KEY_EXCHANGE: Step = 117;
    pub const USER_EMAIL_FROM_NAME: Step = 118;
    pub const RELATED_USER_ID: Step = 119;
    pub const RELATED_USER_NAME: Step = 120;
    pub const RELATED_USER_CHANGES_NAME: Step = 121;
    pub const RELATED_USER_ON_BEHALF_OF: Step = 122;
    pub const RELATED_IP_SOURCE: Step = 123;
    pub const RELATED_IP_SERVICE_EVENT: Step = 125;
    pub const RELATED_HOSTS_SERVER_NAME: Step = 126;
    pub const RELATED_HOSTS_SOURCE_ADDRESS: Step = 127;
    pub const RELATED_HOSTS_COMPUTER_NAME: Step = 128;
    pub const RELATED_HOSTS_INSTANCE_IDS: Step = 129;
    pub const RETAIN_MINIMAL: Step = 130;
    pub const RETAIN_REMOVE_STRINGS: Step = 131;
    /// No failure: every processor ran.
    pub const NONE: Step = Step::MAX;
}

/// The earliest step [`detect`] can report: fields set before it never need the check.
pub const EARLIEST_FAILURE: Step = step::DATE_CREATION_DATE;

/// The processor at which the pipeline stopped, and the `error.message` entry its top-level
/// `on_failure` appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineFailure {
    pub step: Step,
    pub message: String,
}

/// The step of the (first) processor that sets a catalog field. Fields several processors set
/// (`user.name`, `user.id`, `user.email`, `related.*`, `cloud.account.id`, `@timestamp`)
/// carry their first setter here; the group that computes them leaves out the later setters
/// that did not run. `event.kind`, `error.message` and `tags` are step 0: the pipeline's
/// `on_failure` sets them.
pub fn set_at(field: &str) -> Option<Step> {
    use step::*;
    let on = |prefix: &str| field.starts_with(prefix);
    Some(match field {
        "data_stream.dataset"
        | "event.dataset"
        | "event.module"
        | "event.kind"
        | "error.message"
        | "tags" => 0,
        "event.created" => EVENT_CREATED,
        "ecs.version" => ECS_VERSION,
        "@timestamp" => DATE_EVENT_TIME,
        "aws.cloudtrail.event_version" => EVENT_VERSION,
        "aws.cloudtrail.user_identity.type" => USER_IDENTITY_TYPE,
        "service.name" => SERVICE_NAME,
        "user.name" => USER_NAME,
        "user.id" => USER_ID,
        "aws.cloudtrail.user_identity.arn" => USER_IDENTITY_ARN,
        "cloud.account.id" => CLOUD_ACCOUNT_FROM_IDENTITY,
        "aws.cloudtrail.user_identity.access_key_id" => ACCESS_KEY_ID,
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated" => MFA_AUTHENTICATED,
        "aws.cloudtrail.user_identity.session_context.creation_date" => DATE_CREATION_DATE,
        "aws.cloudtrail.user_identity.session_context.session_issuer.type" => SESSION_ISSUER_TYPE,
        "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id" => {
            SESSION_ISSUER_PRINCIPAL_ID
        }
        "related.user" => RELATED_USER_SESSION_NAME,
        "user.email" => USER_EMAIL_FROM_SESSION,
        "aws.cloudtrail.user_identity.on_behalf_of.user_id" => ON_BEHALF_OF_USER_ID,
        "aws.cloudtrail.user_identity.on_behalf_of.identity_store_arn" => ON_BEHALF_OF_STORE_ARN,
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn" => SESSION_ISSUER_ARN,
        "aws.cloudtrail.user_identity.session_context.session_issuer.account_id" => {
            SESSION_ISSUER_ACCOUNT_ID
        }
        "aws.cloudtrail.session_credential_from_console" => SESSION_CREDENTIAL_FROM_CONSOLE,
        "aws.cloudtrail.user_identity.invoked_by" => INVOKED_BY,
        "aws.cloudtrail.user_identity.invoked_by_delegate.account_id" => INVOKED_BY_DELEGATE,
        "aws.cloudtrail.user_identity.credential_id" => CREDENTIAL_ID,
        "aws.cloudtrail.user_identity.identity_provider" => IDENTITY_PROVIDER,
        "aws.cloudtrail.user_identity.in_scope_of.issuer_type" => IN_SCOPE_OF_ISSUER_TYPE,
        "aws.cloudtrail.user_identity.in_scope_of.credentials_issued_to" => IN_SCOPE_OF_ISSUED_TO,
        "aws.cloudtrail.user_identity.in_scope_of.source_arn" => IN_SCOPE_OF_SOURCE_ARN,
        "aws.cloudtrail.user_identity.in_scope_of.source_account" => IN_SCOPE_OF_SOURCE_ACCOUNT,
        "aws.cloudtrail.user_identity.session_context.ec2_role_delivery" => EC2_ROLE_DELIVERY,
        "aws.cloudtrail.user_identity.session_context.source_identity" => SOURCE_IDENTITY,
        "aws.cloudtrail.user_identity.session_context.web_id_federation_data.federated_provider" => {
            FEDERATED_PROVIDER
        }
        "aws.cloudtrail.user_identity.session_context.web_id_federation_data.attributes" => {
            FEDERATION_ATTRIBUTES
        }
        "aws.cloudtrail.user_identity.session_context.assumed_root" => ASSUMED_ROOT,
        "aws.cloudtrail.user_identity.session_context.sign_in_session_arn" => SIGN_IN_SESSION_ARN,
        "cloud.service.name" => CLOUD_SERVICE_NAME,
        "event.provider" => EVENT_PROVIDER,
        "event.action" => EVENT_ACTION,
        "aws.cloudtrail.event_category" => EVENT_CATEGORY_RAW,
        "cloud.provider" => CLOUD_PROVIDER,
        "cloud.region" => CLOUD_REGION,
        "source.address" => SOURCE_ADDRESS,
        "source.ip" => SOURCE_IP,
        _ if on("source.geo.") => SOURCE_GEO,
        _ if on("source.as.") => SOURCE_AS,
        _ if on("user_agent.") => USER_AGENT,
        "aws.cloudtrail.error_code" => ERROR_CODE,
        "aws.cloudtrail.error_message" => ERROR_MESSAGE,
        "aws.cloudtrail.request_parameters"
        | "aws.cloudtrail.response_elements"
        | "aws.cloudtrail.additional_eventdata"
        | "aws.cloudtrail.service_event_details"
        | "aws.cloudtrail.flattened.request_parameters"
        | "aws.cloudtrail.flattened.response_elements"
        | "aws.cloudtrail.flattened.additional_eventdata"
        | "aws.cloudtrail.flattened.service_event_details" => RENDERED_AND_FLATTENED,
        "aws.cloudtrail.request_id" => REQUEST_ID,
        "event.id" => EVENT_ID,
        "aws.cloudtrail.event_type" => EVENT_TYPE,
        "aws.cloudtrail.api_version" => API_VERSION,
        "aws.cloudtrail.management_event" => MANAGEMENT_EVENT,
        "aws.cloudtrail.read_only" => READ_ONLY,
        "aws.cloudtrail.resources" => RESOURCES,
        "aws.cloudtrail.recipient_account_id" => RECIPIENT_ACCOUNT_ID,
        "aws.cloudtrail.shared_event_id" => SHARED_EVENT_ID,
        "aws.cloudtrail.vpc_endpoint_id" => VPC_ENDPOINT_ID,
        "aws.cloudtrail.vpc_endpoint_account_id" => VPC_ENDPOINT_ACCOUNT_ID,
        "aws.cloudtrail.addendum.reason" => ADDENDUM_REASON,
        "aws.cloudtrail.addendum.updated_fields" => ADDENDUM_UPDATED_FIELDS,
        "aws.cloudtrail.addendum.original_request_id" => ADDENDUM_ORIGINAL_REQUEST_ID,
        "aws.cloudtrail.addendum.original_event_id" => ADDENDUM_ORIGINAL_EVENT_ID,
        _ if on("aws.cloudtrail.console_login.") => CONSOLE_LOGIN_SCRIPT,
        "event.outcome" | "event.category" | "event.type" => CATEGORIZATION_SCRIPT,
        "file.path" => FILE_PATH,
        "related.hash" => RELATED_HASH,
        // Renamed there from `aws.cloudtrail.digest`, filled by steps 89–104.
        "aws.cloudtrail.flattened.digest" => FLATTENED_DIGEST,
        "aws.cloudtrail.flattened.insight_details" => INSIGHT_DETAILS,
        "group.id" => GROUP_ID,
        "user.target.id" => USER_TARGET_ID,
        "user.changes.name" => USER_CHANGES_NAME,
        "group.name" => GROUP_NAME,
        "user.target.name" => USER_TARGET_NAME,
        "tls.version" | "tls.version_protocol" => TLS_VERSION,
        "tls.cipher" => TLS_CIPHER,
        "tls.client.server_name" => TLS_SERVER_NAME,
        "aws.cloudtrail.tls_details.key_exchange" => TLS_KEY_EXCHANGE,
        "related.ip" => RELATED_IP_SOURCE,
        "related.hosts" => RELATED_HOSTS_SERVER_NAME,
        "related.entity"
        | "actor.entity.id"
        | "target.entity.id"
        | "user.entity.id"
        | "host.entity.id"
        | "service.entity.id"
        | "entity.id"
        | "user.target.entity.id"
        | "host.target.entity.id"
        | "host.target.id"
        | "service.target.entity.id"
        | "entity.target.id" => ENTITY_SCRIPT,
        _ => return None,
    })
}

/// The Java class of a value as the `json` processor builds it (Jackson through
/// `XContentParser.map()`: `Integer`/`Long`/`BigInteger`/`Double`, `HashMap`, `ArrayList`).
/// In an `if` condition maps and lists are seen through `ConditionalProcessor`'s read-only
/// wrappers (`wrapUnmodifiable`), whose classes then name the receiver.
pub fn java_class(node: &Node<'_>, in_condition: bool) -> &'static str {
    match node {
        Node::Str(_) => "java.lang.String",
        Node::Bool(_) => "java.lang.Boolean",
        Node::Int(i) if i32::try_from(*i).is_ok() => "java.lang.Integer",
        Node::Int(_) => "java.lang.Long",
        Node::UInt(_) => "java.math.BigInteger",
        Node::Float(_) => "java.lang.Double",
        Node::Array(_) if in_condition => {
            "org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestList"
        }
        Node::Array(_) => "java.util.ArrayList",
        Node::Object(_) if in_condition => {
            "org.elasticsearch.ingest.ConditionalProcessor.UnmodifiableIngestData"
        }
        Node::Object(_) => "java.util.HashMap",
        Node::Null => "null",
    }
}

/// Painless `receiver.name` on a value that is not a map (`Def.lookupGetter`): a list takes
/// only an index, anything else has no such getter.
pub fn getter_error(receiver: &Node<'_>, name: &str) -> String {
    match receiver {
        Node::Array(_) => format!("Illegal list shortcut value [{name}]."),
        other => format!(
            "dynamic getter [{}, {name}] not found",
            java_class(other, false)
        ),
    }
}

/// Painless `receiver.name(…)` on a class without that method (`Def.lookupMethod`).
pub fn method_error(receiver: &Node<'_>, name: &str, arity: usize, in_condition: bool) -> String {
    format!(
        "dynamic method [{}, {name}/{arity}] not found",
        java_class(receiver, in_condition)
    )
}

/// A Painless implicit cast of a non-string value to `String` (a JVM `checkcast`: the
/// JDK's `ClassCastException` text; every class the `json` processor makes is in java.base).
pub fn string_cast_error(value: &Node<'_>) -> String {
    let class = java_class(value, false);
    format!(
        "class {class} cannot be cast to class java.lang.String ({class} and java.lang.String are in module java.base of loader 'bootstrap')"
    )
}

fn conditional(step: Step, tag: &str, message: String) -> Option<PipelineFailure> {
    Some(PipelineFailure {
        step,
        message: processor_error("conditional", tag, &message),
    })
}

/// The record's top-level values [`detect`] reads, found in one pass over its keys (the
/// first occurrence of a key, as [`Node::get`]; `None` when missing or deleted by step 7).
#[derive(Default)]
struct Top<'r, 'a> {
    identity: Option<&'r Node<'a>>,
    event_source: Option<&'r Node<'a>>,
    event_name: Option<&'r Node<'a>>,
    additional: Option<&'r Node<'a>>,
    user_agent: Option<&'r Node<'a>>,
    request: Option<&'r Node<'a>>,
    response: Option<&'r Node<'a>>,
    tls: Option<&'r Node<'a>>,
    source_address: Option<&'r Node<'a>>,
}

impl<'r, 'a> Top<'r, 'a> {
    fn of(root: &'r Node<'a>) -> Self {
        let mut top = Top::default();
        let Node::Object(entries) = root else {
            return top;
        };
        for (key, value) in entries {
            let slot = match &**key {
                "userIdentity" => &mut top.identity,
                "eventSource" => &mut top.event_source,
                "eventName" => &mut top.event_name,
                "additionalEventData" => &mut top.additional,
                "userAgent" => &mut top.user_agent,
                "requestParameters" => &mut top.request,
                "responseElements" => &mut top.response,
                "tlsDetails" => &mut top.tls,
                "sourceIPAddress" => &mut top.source_address,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        for slot in [
            &mut top.identity,
            &mut top.event_source,
            &mut top.event_name,
            &mut top.additional,
            &mut top.user_agent,
            &mut top.request,
            &mut top.response,
            &mut top.tls,
            &mut top.source_address,
        ] {
            if slot.is_some_and(Node::is_dropped) {
                *slot = None;
            }
        }
        top
    }
}

/// The first processor of the pipeline that fails on this record into the pipeline's own
/// `on_failure`, if any. Cheap for a well-formed record: one pass over the top-level keys and
/// a few lookups below them, nothing allocated.
pub fn detect(root: &Node<'_>) -> Option<PipelineFailure> {
    use step::*;
    let top = Top::of(root);
    // 19: date creationDate, `if: ctx.json?.userIdentity?.sessionContext?.attributes?.creationDate != null`.
    if let Some(ui) = top.identity {
        let error = match ui {
            Node::Object(_) => match kept(ui, &["sessionContext"]) {
                Some(sc @ Node::Object(_)) => match kept(sc, &["attributes"]) {
                    Some(Node::Object(_)) | None => None,
                    Some(attributes) => Some(getter_error(attributes, "creationDate")),
                },
                Some(sc) => Some(getter_error(sc, "attributes")),
                None => None,
            },
            other => Some(getter_error(other, "sessionContext")),
        };
        if let Some(e) = error {
            return conditional(
                DATE_CREATION_DATE,
                "date_json_userIdentity_sessionContext_attributes_creationDate_to_aws_cloudtrail_user_identity_session_context_creation_date_7cf57f10",
                e,
            );
        }
    }
    let kind = top.identity.and_then(|ui| kept_str(ui, &["type"]));
    // 23: grok session name, `if: … && ctx.aws.cloudtrail.user_identity.arn.contains(':sts:')`
    // (a list has `contains`; the grok then fails into its own on_failure, not modelled).
    if matches!(
        kind,
        Some("AssumedRole" | "FederatedUser" | "IdentityCenterUser")
    ) && let Some(arn) = top.identity.and_then(|ui| kept(ui, &["arn"]))
        && !matches!(arn, Node::Str(_) | Node::Array(_))
    {
        return conditional(
            SESSION_NAME_GROK,
            "extract_session_name_from_arn",
            method_error(arn, "contains", 1, true),
        );
    }
    // 48: dissect eventSource, `if: … && ctx.json.eventSource.endsWith('.amazonaws.com')`.
    if let Some(source) = top.event_source
        && !matches!(source, Node::Str(_))
    {
        return conditional(
            CLOUD_SERVICE_NAME,
            "dissect_json_eventSource_to_cloud_service_name_5d2b7c94",
            method_error(source, "endsWith", 1, true),
        );
    }
    // 52: rename additionalEventData.UserName, `if: ctx.event?.action == 'UserAuthentication'
    // && ctx.user?.name == null && ctx.json?.additionalEventData?.UserName != null`.
    if let Some(data) = top.additional
        && !matches!(data, Node::Object(_))
        && top.event_name.and_then(Node::as_str) == Some("UserAuthentication")
        && mapping::user_name_from_identity(root).is_none()
    {
        return conditional(
            USER_NAME_USER_AUTHENTICATION,
            "rename_additionalEventData_UserName_to_username_552c89e0",
            getter_error(data, "UserName"),
        );
    }
    // 61: user_agent (no `if`, no on_failure of its own).
    if let Some(message) = top.user_agent.and_then(mapping::user_agent_failure) {
        return Some(PipelineFailure {
            step: USER_AGENT,
            message,
        });
    }
    // 82: append related.user, `if: ctx.json?.requestParameters?.userName != null`.
    if let Some(request) = top.request
        && !matches!(request, Node::Object(_))
    {
        return conditional(
            RELATED_USER_REQUEST_USER_NAME,
            "append_related_user_0121b806",
            getter_error(request, "userName"),
        );
    }
    // 84: append related.user, `if: ctx.json?.responseElements?.user?.userId != null`.
    if let Some(response) = top.response {
        let error = match response {
            Node::Object(_) => match kept(response, &["user"]) {
                Some(Node::Object(_)) | None => None,
                Some(user) => Some(getter_error(user, "userId")),
            },
            other => Some(getter_error(other, "user")),
        };
        if let Some(e) = error {
            return conditional(
                RELATED_USER_RESPONSE_USER_ID,
                "append_related_user_e323b1c9",
                e,
            );
        }
    }
    // 112: remove tlsDetails, `if: ctx.json?.tlsDetails?.tlsVersion == 'tlsVersion'`.
    if let Some(details) = top.tls
        && !matches!(details, Node::Object(_))
    {
        return conditional(
            REMOVE_PLACEHOLDER_TLS,
            "remove_json_tlsDetails_d5e86911",
            getter_error(details, "tlsVersion"),
        );
    }
    // 118: set user.email, `if: ctx.user?.email == null && ctx.user?.name != null &&
    // ctx.user.name.indexOf("@") > 0` (a list has `indexOf`).
    if mapping::odd_user_name_candidate(top.identity, top.additional)
        && !mapping::email_from_session_name(root)
        && let Some(name) = mapping::user_name_final(root)
        && !matches!(name, Node::Str(_) | Node::Array(_))
    {
        return conditional(
            USER_EMAIL_FROM_NAME,
            "set_user_email_d6b77481",
            method_error(name, "indexOf", 1, true),
        );
    }
    // 126: append related.hosts, `if: ctx.tls?.client?.server_name != null &&
    // !ctx.tls.client.server_name.endsWith('.amazonaws.com')`.
    if let Some(details) = top.tls
        && let Some(host) = kept(details, &["clientProvidedHostHeader"])
        && !matches!(host, Node::Str(_))
        && kept_str(details, &["tlsVersion"]) != Some("tlsVersion")
    {
        return conditional(
            RELATED_HOSTS_SERVER_NAME,
            "append_related_hosts_tls_client_server_name",
            method_error(host, "endsWith", 1, true),
        );
    }
    // 127: append related.hosts, `if: ctx.source?.ip == null && ctx.source?.address != null &&
    // ctx.source.address.contains('.') && !ctx.source.address.contains(' ') &&
    // !ctx.source.address.endsWith('.amazonaws.com')`. A string always answers; a list
    // answers `contains` (and has no IP when it holds "."), then lacks `endsWith`.
    if let Some(address) = top.source_address {
        let error = match address {
            Node::Str(_) => None,
            Node::Array(items) => {
                let has = |s: &str| items.iter().any(|i| i.as_str() == Some(s));
                (has(".") && !has(" ")).then(|| method_error(address, "endsWith", 1, true))
            }
            other => Some(method_error(other, "contains", 1, true)),
        };
        if let Some(e) = error {
            return conditional(
                RELATED_HOSTS_SOURCE_ADDRESS,
                "append_related_hosts_source_address",
                e,
            );
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_field_has_a_step() {
        for (name, _) in mapping::CATALOG {
            assert!(set_at(name).is_some(), "{name} has no step");
        }
    }

    #[test]
    fn steps_follow_the_pipeline() {
        // The processors named by the step constants, at their position in default.yml.
        let path = dragnet_testdata::require_shared!(
            "fixtures/aws-cloudtrail-pipeline/elasticsearch/ingest_pipeline/default.yml"
        );
        let yml = std::fs::read_to_string(path).unwrap();
        // A top-level processor starts with "  - "; its tag is its first `tag:` line indented
        // by 6 spaces (nested on_failure processors are indented further).
        let mut per_processor: Vec<Option<&str>> = Vec::new();
        for line in yml.lines().take_while(|l| !l.starts_with("on_failure:")) {
            if line.starts_with("  - ") {
                per_processor.push(None);
            } else if let Some(t) = line.strip_prefix("      tag: ")
                && let Some(last) = per_processor.last_mut()
                && last.is_none()
            {
                *last = Some(t.trim());
            }
        }
        assert_eq!(per_processor.len(), 135);
        let tag = |s: Step| per_processor[usize::from(s) - 1].unwrap_or("");
        assert!(tag(step::DATE_CREATION_DATE).starts_with("date_json_userIdentity_sessionContext"));
        assert_eq!(
            tag(step::SESSION_NAME_GROK),
            "extract_session_name_from_arn"
        );
        assert_eq!(
            tag(step::CLOUD_SERVICE_NAME),
            "dissect_json_eventSource_to_cloud_service_name_5d2b7c94"
        );
        assert_eq!(
            tag(step::USER_NAME_USER_AUTHENTICATION),
            "rename_additionalEventData_UserName_to_username_552c89e0"
        );
        assert_eq!(
            tag(step::USER_AGENT),
            "user_agent_json_userAgent_to_user_agent_12c778f0"
        );
        assert_eq!(
            tag(step::RELATED_USER_REQUEST_USER_NAME),
            "append_related_user_0121b806"
        );
        assert_eq!(
            tag(step::RELATED_USER_RESPONSE_USER_ID),
            "append_related_user_e323b1c9"
        );
        assert_eq!(
            tag(step::REMOVE_PLACEHOLDER_TLS),
            "remove_json_tlsDetails_d5e86911"
        );
        assert_eq!(tag(step::USER_EMAIL_FROM_NAME), "set_user_email_d6b77481");
        assert_eq!(
            tag(step::RELATED_HOSTS_SERVER_NAME),
            "append_related_hosts_tls_client_server_name"
        );
        assert_eq!(
            tag(step::RELATED_HOSTS_SOURCE_ADDRESS),
            "append_related_hosts_source_address"
        );
        assert_eq!(
            tag(step::SERVICE_ACTOR_SCRIPT),
            "script_aws_service_actor_93211d93"
        );
        assert_eq!(
            tag(step::CONSOLE_LOGIN_SCRIPT),
            "script_console_login_additional_eventdata"
        );
        assert_eq!(
            tag(step::CATEGORIZATION_SCRIPT),
            "script_add_ecs_categorization"
        );
        assert_eq!(
            tag(step::TIMESTAMP_FROM_DIGEST),
            "set_timestamp_from_digest_end_time_3953c970"
        );
        assert_eq!(
            tag(step::RETAIN_MINIMAL),
            "script_retain_minimal_flattened_3d24add8"
        );
        assert_eq!(tag(step::RETAIN_REMOVE_STRINGS), "remove_9365dd2c");
        assert_eq!(
            tag(step::RELATED_IP_SERVICE_EVENT),
            "append_related_ip_service_event_source_ip"
        );
    }
}
