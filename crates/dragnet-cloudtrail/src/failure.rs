//! Where Elastic's pipeline fails on a record's shape, and what the document keeps then.
//!
//! Elasticsearch runs the pipeline's processors in order. When one fails and has neither an
//! `on_failure` of its own nor `ignore_failure`, the pipeline stops there and runs its own
//! `on_failure` (append `error.message`, `event.kind: pipeline_error`, tag
//! `preserve_original_event`, remove `json`/`_conf`/`_tmp`): the document keeps exactly what
//! the processors before the failing one set (`CompoundProcessor`; `default.yml` lines
//! 2657–2677). So every field carries the [`Step`] of the processor that sets it
//! ([`crate::steps::set_at`]), and a field whose step is at or after the failing one is absent.
//!
//! The failures reproduced here ([`detect`]) are the processors that can fail on a JSON type
//! the record's producer chose, in pipeline order. Most are an `if` condition written for a
//! string or an object (`ctx.json.eventSource.endsWith(...)`, `ctx.json?.requestParameters?.userName`)
//! meeting another type: Painless then throws, and the exception of an `if` is not caught by the
//! processor's own `on_failure`, which wraps only the processor inside the condition
//! (`ConditionalProcessor`, type `conditional`). `docs/pipeline-failures.md` has the table.

use crate::mapping::{self, kept, kept_str, processor_error};
use crate::node::Node;
use crate::painless::{getter_error, method_error};
use crate::steps::{Step, step};

/// The processor at which the pipeline stopped, and the `error.message` entry its top-level
/// `on_failure` appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineFailure {
    pub step: Step,
    pub message: String,
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
            assert!(crate::steps::set_at(name).is_some(), "{name} has no step");
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
