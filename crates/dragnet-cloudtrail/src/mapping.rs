//! What the pipeline makes of a record, field by field: the catalog of ECS fields this crate
//! produces and, for each, the derivation that computes it.
//!
//! Three kinds of derivation, cheapest first:
//! - [`Source::Const`]: the same value for every record (`event.dataset`, `cloud.provider`…);
//! - [`Source::Raw`]: a rename/copy of one raw key (first present of several for `RawFirst`),
//!   read in place from the parsed record, nothing allocated;
//! - [`Source::Group`]: fields that need logic (identity, rendered strings, entities…). A
//!   group computes all of its fields at once on first access and is cached per record.

use serde_json::{Map, Value};

use crate::entity;
use crate::java_map::{self, java_len};
use crate::node::Node;
use crate::painless::{getter_error, string_cast_error};
use crate::steps::{Step, step};
use crate::time;
use crate::user_agent;
use crate::{CloudTrailEvent, Retain};

/// Groups of fields computed together (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Group {
    Time,
    Digest,
    Identity,
    Outcome,
    Status,
    RequestParameters,
    ResponseElements,
    AdditionalEventdata,
    ServiceEventDetails,
    Flattened,
    Resources,
    Entity,
    Related,
    Source,
    Tls,
    ConsoleLogin,
    UserAgent,
}

pub const GROUP_COUNT: usize = Group::UserAgent as usize + 1;

impl Group {
    pub const ALL: [Group; GROUP_COUNT] = [
        Group::Time,
        Group::Digest,
        Group::Identity,
        Group::Outcome,
        Group::Status,
        Group::RequestParameters,
        Group::ResponseElements,
        Group::AdditionalEventdata,
        Group::ServiceEventDetails,
        Group::Flattened,
        Group::Resources,
        Group::Entity,
        Group::Related,
        Group::Source,
        Group::Tls,
        Group::ConsoleLogin,
        Group::UserAgent,
    ];
}

/// Where a catalog field comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    Const(&'static str),
    /// The raw value at this path (any JSON type), after the pipeline's clean-up.
    Raw(&'static [&'static str]),
    /// Like `Raw`, but only a string value: `user_agent.original`, which the `user_agent`
    /// processor sets from a string only (any other type fails the processor).
    RawString(&'static [&'static str]),
    /// Like `Raw`, but the value as a string (mustache templates, `convert type: string`).
    RawText(&'static [&'static str]),
    /// The first of these raw paths that has a value.
    RawFirst(&'static [&'static [&'static str]]),
    Group(Group),
}

use Source::{Const, Group as G, Raw, RawFirst, RawString, RawText};

/// Every field the mapping can produce. Order is irrelevant except that it is the order
/// [`CloudTrailEvent::to_ecs`] fills the document in.
pub const CATALOG: &[(&str, Source)] = &[
    ("@timestamp", G(Group::Time)),
    ("data_stream.dataset", Const("aws.cloudtrail")),
    ("event.dataset", Const("aws.cloudtrail")),
    ("event.module", Const("aws")),
    ("ecs.version", Const("8.11.0")),
    ("cloud.provider", Const("aws")),
    ("event.created", G(Group::Time)),
    ("event.action", RawText(&["eventName"])),
    ("event.provider", Raw(&["eventSource"])),
    ("event.id", Raw(&["eventID"])),
    ("event.kind", G(Group::Status)),
    ("event.outcome", G(Group::Outcome)),
    ("event.category", G(Group::Outcome)),
    ("event.type", G(Group::Outcome)),
    ("error.message", G(Group::Status)),
    ("tags", G(Group::Status)),
    ("cloud.region", Raw(&["awsRegion"])),
    (
        "cloud.account.id",
        RawFirst(&[
            &["userIdentity", "accountId"],
            &["recipientAccountId"],
            &["awsAccountId"],
        ]),
    ),
    ("cloud.service.name", G(Group::Identity)),
    ("service.name", G(Group::Identity)),
    ("user.name", G(Group::Identity)),
    ("user.id", G(Group::Identity)),
    ("user.email", G(Group::Identity)),
    ("related.user", G(Group::Identity)),
    (
        "user.target.id",
        Raw(&["responseElements", "user", "userId"]),
    ),
    ("user.target.name", Raw(&["requestParameters", "userName"])),
    (
        "user.changes.name",
        Raw(&["requestParameters", "newUserName"]),
    ),
    ("group.id", Raw(&["responseElements", "group", "groupId"])),
    ("group.name", Raw(&["requestParameters", "groupName"])),
    ("file.path", Raw(&["digestS3Object"])),
    ("source.address", Raw(&["sourceIPAddress"])),
    ("source.ip", G(Group::Source)),
    ("source.geo.city_name", G(Group::Source)),
    ("source.geo.continent_name", G(Group::Source)),
    ("source.geo.country_iso_code", G(Group::Source)),
    ("source.geo.country_name", G(Group::Source)),
    ("source.geo.location", G(Group::Source)),
    ("source.geo.region_iso_code", G(Group::Source)),
    ("source.geo.region_name", G(Group::Source)),
    ("source.as.number", G(Group::Source)),
    ("source.as.organization.name", G(Group::Source)),
    ("user_agent.original", RawString(&["userAgent"])),
    ("user_agent.name", G(Group::UserAgent)),
    ("user_agent.version", G(Group::UserAgent)),
    ("user_agent.os.name", G(Group::UserAgent)),
    ("user_agent.os.version", G(Group::UserAgent)),
    ("user_agent.os.full", G(Group::UserAgent)),
    ("user_agent.device.name", G(Group::UserAgent)),
    ("tls.version", G(Group::Tls)),
    ("tls.version_protocol", G(Group::Tls)),
    ("tls.cipher", G(Group::Tls)),
    ("tls.client.server_name", G(Group::Tls)),
    ("aws.cloudtrail.tls_details.key_exchange", G(Group::Tls)),
    ("related.ip", G(Group::Related)),
    ("related.hosts", G(Group::Related)),
    ("related.hash", G(Group::Digest)),
    ("related.entity", G(Group::Entity)),
    ("actor.entity.id", G(Group::Entity)),
    ("target.entity.id", G(Group::Entity)),
    ("user.entity.id", G(Group::Entity)),
    ("host.entity.id", G(Group::Entity)),
    ("service.entity.id", G(Group::Entity)),
    ("entity.id", G(Group::Entity)),
    ("user.target.entity.id", G(Group::Entity)),
    ("host.target.entity.id", G(Group::Entity)),
    ("host.target.id", G(Group::Entity)),
    ("service.target.entity.id", G(Group::Entity)),
    ("entity.target.id", G(Group::Entity)),
    ("aws.cloudtrail.event_version", Raw(&["eventVersion"])),
    ("aws.cloudtrail.event_category", Raw(&["eventCategory"])),
    ("aws.cloudtrail.event_type", Raw(&["eventType"])),
    ("aws.cloudtrail.request_id", Raw(&["requestID"])),
    ("aws.cloudtrail.api_version", Raw(&["apiVersion"])),
    (
        "aws.cloudtrail.management_event",
        RawText(&["managementEvent"]),
    ),
    ("aws.cloudtrail.read_only", Raw(&["readOnly"])),
    (
        "aws.cloudtrail.recipient_account_id",
        Raw(&["recipientAccountId"]),
    ),
    ("aws.cloudtrail.error_code", Raw(&["errorCode"])),
    ("aws.cloudtrail.error_message", Raw(&["errorMessage"])),
    (
        "aws.cloudtrail.session_credential_from_console",
        Raw(&["sessionCredentialFromConsole"]),
    ),
    (
        "aws.cloudtrail.shared_event_id",
        RawFirst(&[&["sharedEventID"], &["sharedEventId"]]),
    ),
    ("aws.cloudtrail.vpc_endpoint_id", Raw(&["vpcEndpointId"])),
    (
        "aws.cloudtrail.vpc_endpoint_account_id",
        Raw(&["vpcEndpointAccountId"]),
    ),
    (
        "aws.cloudtrail.addendum.reason",
        Raw(&["addendum", "reason"]),
    ),
    (
        "aws.cloudtrail.addendum.updated_fields",
        Raw(&["addendum", "updatedFields"]),
    ),
    (
        "aws.cloudtrail.addendum.original_request_id",
        Raw(&["addendum", "originalRequestID"]),
    ),
    (
        "aws.cloudtrail.addendum.original_event_id",
        Raw(&["addendum", "originalEventID"]),
    ),
    (
        "aws.cloudtrail.user_identity.type",
        Raw(&["userIdentity", "type"]),
    ),
    (
        "aws.cloudtrail.user_identity.arn",
        Raw(&["userIdentity", "arn"]),
    ),
    (
        "aws.cloudtrail.user_identity.access_key_id",
        Raw(&["userIdentity", "accessKeyId"]),
    ),
    (
        "aws.cloudtrail.user_identity.invoked_by",
        Raw(&["userIdentity", "invokedBy"]),
    ),
    (
        "aws.cloudtrail.user_identity.invoked_by_delegate.account_id",
        Raw(&["userIdentity", "invokedByDelegate", "accountId"]),
    ),
    (
        "aws.cloudtrail.user_identity.credential_id",
        Raw(&["userIdentity", "credentialId"]),
    ),
    (
        "aws.cloudtrail.user_identity.identity_provider",
        Raw(&["userIdentity", "identityProvider"]),
    ),
    (
        "aws.cloudtrail.user_identity.in_scope_of.issuer_type",
        Raw(&["userIdentity", "inScopeOf", "issuerType"]),
    ),
    (
        "aws.cloudtrail.user_identity.in_scope_of.credentials_issued_to",
        Raw(&["userIdentity", "inScopeOf", "credentialsIssuedTo"]),
    ),
    (
        "aws.cloudtrail.user_identity.in_scope_of.source_arn",
        Raw(&["userIdentity", "inScopeOf", "sourceArn"]),
    ),
    (
        "aws.cloudtrail.user_identity.in_scope_of.source_account",
        Raw(&["userIdentity", "inScopeOf", "sourceAccount"]),
    ),
    (
        "aws.cloudtrail.user_identity.on_behalf_of.user_id",
        Raw(&["userIdentity", "onBehalfOf", "userId"]),
    ),
    (
        "aws.cloudtrail.user_identity.on_behalf_of.identity_store_arn",
        Raw(&["userIdentity", "onBehalfOf", "identityStoreArn"]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        Raw(&[
            "userIdentity",
            "sessionContext",
            "attributes",
            "mfaAuthenticated",
        ]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.creation_date",
        G(Group::Time),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.type",
        Raw(&["userIdentity", "sessionContext", "sessionIssuer", "type"]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id",
        Raw(&[
            "userIdentity",
            "sessionContext",
            "sessionIssuer",
            "principalId",
        ]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.arn",
        Raw(&["userIdentity", "sessionContext", "sessionIssuer", "arn"]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.session_issuer.account_id",
        Raw(&[
            "userIdentity",
            "sessionContext",
            "sessionIssuer",
            "accountId",
        ]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.ec2_role_delivery",
        Raw(&["userIdentity", "sessionContext", "ec2RoleDelivery"]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.source_identity",
        Raw(&["userIdentity", "sessionContext", "sourceIdentity"]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.web_id_federation_data.federated_provider",
        Raw(&[
            "userIdentity",
            "sessionContext",
            "webIdFederationData",
            "federatedProvider",
        ]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.web_id_federation_data.attributes",
        Raw(&[
            "userIdentity",
            "sessionContext",
            "webIdFederationData",
            "attributes",
        ]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.assumed_root",
        Raw(&["userIdentity", "sessionContext", "assumedRoot"]),
    ),
    (
        "aws.cloudtrail.user_identity.session_context.sign_in_session_arn",
        Raw(&["userIdentity", "sessionContext", "signInSessionArn"]),
    ),
    (
        "aws.cloudtrail.request_parameters",
        G(Group::RequestParameters),
    ),
    (
        "aws.cloudtrail.response_elements",
        G(Group::ResponseElements),
    ),
    (
        "aws.cloudtrail.additional_eventdata",
        G(Group::AdditionalEventdata),
    ),
    (
        "aws.cloudtrail.service_event_details",
        G(Group::ServiceEventDetails),
    ),
    (
        "aws.cloudtrail.flattened.request_parameters",
        G(Group::Flattened),
    ),
    (
        "aws.cloudtrail.flattened.response_elements",
        G(Group::Flattened),
    ),
    (
        "aws.cloudtrail.flattened.additional_eventdata",
        G(Group::Flattened),
    ),
    (
        "aws.cloudtrail.flattened.service_event_details",
        G(Group::Flattened),
    ),
    ("aws.cloudtrail.flattened.digest", G(Group::Digest)),
    (
        "aws.cloudtrail.flattened.insight_details",
        Raw(&["insightDetails"]),
    ),
    ("aws.cloudtrail.resources", G(Group::Resources)),
    (
        "aws.cloudtrail.console_login.additional_eventdata.mobile_version",
        G(Group::ConsoleLogin),
    ),
    (
        "aws.cloudtrail.console_login.additional_eventdata.login_to",
        G(Group::ConsoleLogin),
    ),
    (
        "aws.cloudtrail.console_login.additional_eventdata.mfa_used",
        G(Group::ConsoleLogin),
    ),
];

/// The fields one group computed for one record, and the `error.message` entries its
/// processors' own `on_failure` appended, each with the step of the processor that failed.
#[derive(Debug, Default)]
pub struct Out {
    pub fields: Vec<(&'static str, Value)>,
    pub errors: Vec<(Step, String)>,
}

impl Out {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    fn set(&mut self, name: &'static str, v: Value) {
        self.fields.push((name, v));
    }
    fn set_str(&mut self, name: &'static str, s: impl Into<String>) {
        let s = s.into();
        if !s.is_empty() {
            self.fields.push((name, Value::String(s)));
        }
    }
}

const PIPELINE: &str = "logs-aws.cloudtrail-8.9.0";

/// The `error.message` entry the pipeline's `on_failure` templates write: `Processor
/// {{{_ingest.on_failure_processor_type}}} with tag {{{_ingest.on_failure_processor_tag}}} in
/// pipeline {{{_ingest.on_failure_pipeline}}} failed with message:
/// {{{_ingest.on_failure_message}}}` (the message is the root cause's, `CompoundProcessor`).
pub(crate) fn processor_error(kind: &str, tag: &str, message: &str) -> String {
    format!("Processor {kind} with tag {tag} in pipeline {PIPELINE} failed with message: {message}")
}

/// A raw value after the clean-up.
pub fn kept<'r, 'a>(root: &'r Node<'a>, path: &[&str]) -> Option<&'r Node<'a>> {
    let mut node = root;
    for key in path {
        node = node.get(key)?;
    }
    (!node.is_dropped()).then_some(node)
}

pub(crate) fn kept_str<'r>(root: &'r Node<'_>, path: &[&str]) -> Option<&'r str> {
    kept(root, path).and_then(Node::as_str)
}

/// The value a mustache template `{{{json.a.b}}}` renders for a raw path.
fn text(root: &Node<'_>, path: &[&str]) -> Option<String> {
    kept(root, path)
        .and_then(|n| n.scalar_text())
        .map(|t| t.into_owned())
}

/// The `user_agent` processor (no `on_failure` of its own) reads `json.userAgent` with
/// `getFieldValue(field, String.class, ignoreMissing)`: a present value of another type fails
/// it with `IngestDocument`'s cast message, naming the Java class the `json` processor made of
/// the value (`agent` is the value after the clean-up). The pipeline's `on_failure` then
/// appends this to `error.message`.
pub(crate) fn user_agent_failure(agent: &Node<'_>) -> Option<String> {
    if matches!(agent, Node::Str(_)) {
        return None;
    }
    let class = crate::painless::java_class(agent, false);
    Some(processor_error(
        "user_agent",
        "user_agent_json_userAgent_to_user_agent_12c778f0",
        // `IngestDocument.getFieldValue` names the processor's `field` path.
        &format!("field [json.userAgent] of type [{class}] cannot be cast to [java.lang.String]"),
    ))
}

/// What the `date` processor parses: `DateProcessor` takes `getFieldValue(field,
/// Object.class).toString()`, so a map or list is tried as its Java `toString()` (and fails).
fn date_text<'n>(node: &'n Node<'_>) -> std::borrow::Cow<'n, str> {
    node.scalar_text()
        .unwrap_or_else(|| std::borrow::Cow::Owned(java_map::render(node)))
}

fn date_field(
    root: &Node<'_>,
    key: &'static str,
    (step, tag): (Step, &str),
    parse: fn(&str) -> Option<String>,
    out_errors: &mut Vec<(Step, String)>,
) -> Option<String> {
    // `if: value != null && value != ''`; "-"/"none" were dropped before.
    let node = kept(root, &[key])?;
    let raw = date_text(node);
    match parse(&raw) {
        Some(ts) => Some(ts),
        None => {
            out_errors.push((
                step,
                processor_error("date", tag, &format!("unable to parse date [{raw}]")),
            ));
            None
        }
    }
}

pub fn compute(ev: &CloudTrailEvent<'_>, group: Group) -> Out {
    let root = &ev.root;
    let mut out = Out::default();
    match group {
        Group::Time => {
            let opts = &ev.mapper.options;
            let mut ts = date_field(
                root,
                "eventTime",
                (
                    step::DATE_EVENT_TIME,
                    "date_json_eventTime_to_timestamp_e9417ba3",
                ),
                time::iso8601,
                &mut out.errors,
            );
            if let Some(end) = ev.group(Group::Digest).get("_end_time")
                && ev.failure_step() > step::TIMESTAMP_FROM_DIGEST
            {
                ts = end.as_str().map(str::to_owned);
            }
            if let Some(ts) = ts.or_else(|| opts.read_time.clone()) {
                out.set_str("@timestamp", ts);
            }
            if let Some(read) = &opts.read_time {
                out.set_str("event.created", read.clone());
            }
            if let Some(node) = kept(
                root,
                &[
                    "userIdentity",
                    "sessionContext",
                    "attributes",
                    "creationDate",
                ],
            ) {
                let raw = date_text(node);
                match time::iso8601_or_basic(&raw) {
                    Some(t) => {
                        out.set_str("aws.cloudtrail.user_identity.session_context.creation_date", t)
                    }
                    None => out.errors.push((step::DATE_CREATION_DATE, processor_error(
                        "date",
                        "date_json_userIdentity_sessionContext_attributes_creationDate_to_aws_cloudtrail_user_identity_session_context_creation_date_7cf57f10",
                        &format!("unable to parse date [{raw}]"),
                    ))),
                }
            }
        }
        Group::Digest => digest(root, &mut out),
        Group::Identity => identity(root, ev.failure_step(), &mut out),
        Group::Outcome => {
            let failed =
                kept(root, &["errorCode"]).is_some() || kept(root, &["errorMessage"]).is_some();
            let mut outcome = if failed {
                "failure".to_string()
            } else {
                "success".to_string()
            };
            let action = text(root, &["eventName"]);
            let mut category = None;
            if let Some(action) = action.as_deref() {
                let mut failed = false;
                if action == "ConsoleLogin"
                    && let Some(v) = kept(root, &["responseElements", "ConsoleLogin"])
                {
                    // `Processors.lowercase(String)`: another type fails the script after it
                    // set kind, type and outcome; its on_failure keeps those (no category).
                    match v.as_str() {
                        Some(v) => outcome = v.to_lowercase(),
                        None => {
                            failed = true;
                            out.errors.push((
                                step::CATEGORIZATION_SCRIPT,
                                processor_error(
                                    "script",
                                    "script_add_ecs_categorization",
                                    &string_cast_error(v),
                                ),
                            ));
                        }
                    }
                }
                if !failed {
                    category = crate::categories::lookup(action);
                }
            }
            out.set_str("event.outcome", outcome);
            let strings = |l: &[&str]| Value::Array(l.iter().map(|s| Value::from(*s)).collect());
            match category {
                Some((cat, typ)) => {
                    out.set("event.category", strings(cat));
                    out.set("event.type", strings(typ));
                }
                None => out.set("event.type", strings(&["info"])),
            }
        }
        Group::Status => {
            // Entries in pipeline order: the processors' own on_failure entries of the steps
            // that ran, then the pipeline's on_failure entry of the step that stopped it.
            let stop = ev.failure_step();
            let mut steps: Vec<(Step, String)> = Vec::new();
            for g in [
                Group::Time,
                Group::Digest,
                Group::Identity,
                Group::Entity,
                Group::Outcome,
            ] {
                steps.extend(
                    ev.group(g)
                        .errors
                        .iter()
                        .filter(|(s, _)| *s < stop)
                        .cloned(),
                );
            }
            if stop > step::CONSOLE_LOGIN_SCRIPT
                && let Some(e) = console_login_failure(root)
            {
                steps.push((step::CONSOLE_LOGIN_SCRIPT, e));
            }
            steps.sort_by_key(|(s, _)| *s);
            let mut errors: Vec<String> = steps.into_iter().map(|(_, e)| e).collect();
            errors.extend(ev.failure().map(|f| f.message.clone()));
            let mut tags: Vec<String> = ev.mapper.options.tags.clone();
            if !errors.is_empty() {
                out.set(
                    "error.message",
                    Value::Array(errors.into_iter().map(Value::String).collect()),
                );
                out.set_str("event.kind", "pipeline_error");
                if !tags.iter().any(|t| t == "preserve_original_event") {
                    tags.push("preserve_original_event".into());
                }
            } else {
                out.set_str("event.kind", "event");
            }
            if !tags.is_empty() {
                out.set(
                    "tags",
                    Value::Array(tags.into_iter().map(Value::String).collect()),
                );
            }
        }
        Group::RequestParameters => rendered(
            ev,
            "requestParameters",
            "aws.cloudtrail.request_parameters",
            &mut out,
        ),
        Group::ResponseElements => rendered(
            ev,
            "responseElements",
            "aws.cloudtrail.response_elements",
            &mut out,
        ),
        Group::AdditionalEventdata => rendered(
            ev,
            "additionalEventData",
            "aws.cloudtrail.additional_eventdata",
            &mut out,
        ),
        Group::ServiceEventDetails => rendered(
            ev,
            "serviceEventDetails",
            "aws.cloudtrail.service_event_details",
            &mut out,
        ),
        Group::Flattened => flattened(ev, &mut out),
        Group::Resources => {
            if let Some(v) = resources(root) {
                out.set("aws.cloudtrail.resources", v);
            }
        }
        Group::Entity => {
            if ev.mapper.options.actor_target_mapping {
                match entity::enrich(root) {
                    Ok(fields) => out.fields = fields,
                    Err(entity::ScriptFailure(msg)) => out.errors.push((
                        step::ENTITY_SCRIPT,
                        processor_error("script", "script_append_related_entity_31dc3369", &msg),
                    )),
                }
            }
        }
        Group::Related => related(ev, &mut out),
        Group::Source => source(ev, &mut out),
        Group::Tls => tls(root, &mut out),
        // The processor (ignore_missing) runs on a string `userAgent` only; any other type
        // fails it (`user_agent_failure`).
        Group::UserAgent => {
            if let Some(agent) = kept_str(root, &["userAgent"]) {
                out.fields = user_agent::details(agent);
            }
        }
        Group::ConsoleLogin => {
            if text(root, &["eventName"]).as_deref() == Some("ConsoleLogin") {
                let aed = |k: &str| kept(root, &["additionalEventData", k]);
                if let Some(v) = aed("MobileVersion") {
                    out.set(
                        "aws.cloudtrail.console_login.additional_eventdata.mobile_version",
                        Value::Bool(v.as_str() != Some("No")),
                    );
                }
                if let Some(v) = aed("LoginTo").and_then(Node::pruned) {
                    out.set(
                        "aws.cloudtrail.console_login.additional_eventdata.login_to",
                        v,
                    );
                }
                if let Some(v) = aed("MFAUsed") {
                    out.set(
                        "aws.cloudtrail.console_login.additional_eventdata.mfa_used",
                        Value::Bool(v.as_str() != Some("No")),
                    );
                }
            }
        }
    }
    out
}

/// `script_aws_service_actor` (step 11): the AWS service behind the call, if it is one. `Err`
/// holds the script's exception message when a value has a type it does not expect (its own
/// `on_failure` appends it and the pipeline goes on, with no service set).
pub(crate) fn service_actor(root: &Node<'_>) -> Result<Option<String>, String> {
    // `if: ctx.json?.userIdentity != null`
    let Some(identity) = kept(root, &["userIdentity"]) else {
        return Ok(None);
    };
    // `String identityType = ctx.aws?.cloudtrail?.user_identity?.type;` (renamed from a map
    // only, at step 10).
    let kind = match kept(identity, &["type"]) {
        None => None,
        Some(Node::Str(s)) => Some(&**s),
        Some(other) => return Err(string_cast_error(other)),
    };
    // `String invokedBy = identity.invokedBy;`
    if !matches!(identity, Node::Object(_)) {
        return Err(getter_error(identity, "invokedBy"));
    }
    let invoked_by = match kept(identity, &["invokedBy"]) {
        None => None,
        Some(Node::Str(s)) => Some(&**s),
        Some(other) => return Err(string_cast_error(other)),
    };
    let name = match kind {
        Some("AWSService") => invoked_by.map(str::to_owned),
        Some("AssumedRole") => {
            // `String issuerArn = identity.sessionContext?.sessionIssuer?.arn;`
            let issuer = match kept(identity, &["sessionContext"]) {
                None => None,
                Some(context @ Node::Object(_)) => match kept(context, &["sessionIssuer"]) {
                    None => None,
                    Some(issuer @ Node::Object(_)) => match kept(issuer, &["arn"]) {
                        None => None,
                        Some(Node::Str(s)) => Some(&**s),
                        Some(other) => return Err(string_cast_error(other)),
                    },
                    Some(other) => return Err(getter_error(other, "arn")),
                },
                Some(other) => return Err(getter_error(other, "sessionIssuer")),
            };
            let marker = ":role/aws-service-role/";
            match issuer.and_then(|arn| arn.find(marker).map(|i| &arn[i + marker.len()..])) {
                None => None,
                Some(rest) => match invoked_by {
                    Some(by) => Some(by.to_owned()),
                    None => match rest.find('/') {
                        Some(slash) if slash > 0 => Some(rest[..slash].to_string()),
                        _ => None,
                    },
                },
            }
        }
        _ => None,
    };
    Ok(name.filter(|s| !s.is_empty()))
}

/// `user.name` after steps 13 (`userIdentity.userName`) and 21 (`sessionIssuer.userName` for
/// assumed roles and federated users), neither for an AWS-service actor.
pub(crate) fn user_name_from_identity<'r, 'a>(root: &'r Node<'a>) -> Option<&'r Node<'a>> {
    if matches!(service_actor(root), Ok(Some(_))) {
        return None;
    }
    identity_user_name(root)
}

/// `user.name`'s source for an actor that is not an AWS service: `sessionIssuer.userName` for
/// assumed roles and federated users (step 21), else `userIdentity.userName` (step 13).
fn identity_user_name<'r, 'a>(root: &'r Node<'a>) -> Option<&'r Node<'a>> {
    let kind = kept_str(root, &["userIdentity", "type"]);
    if matches!(kind, Some("AssumedRole" | "FederatedUser"))
        && let Some(v) = kept(
            root,
            &[
                "userIdentity",
                "sessionContext",
                "sessionIssuer",
                "userName",
            ],
        )
    {
        return Some(v);
    }
    kept(root, &["userIdentity", "userName"])
}

/// `user.name` once step 52 (`additionalEventData.UserName` for `UserAuthentication`) ran.
/// Cheap when no candidate is of a type that fails step 118.
pub(crate) fn user_name_final<'r, 'a>(root: &'r Node<'a>) -> Option<&'r Node<'a>> {
    let authentication = kept_str(root, &["eventName"]) == Some("UserAuthentication");
    user_name_from_identity(root).or_else(|| {
        authentication
            .then(|| kept(root, &["additionalEventData", "UserName"]))
            .flatten()
    })
}

/// True when a `user.name` candidate (in `userIdentity`, or `UserName` in
/// `additionalEventData`) is neither a string nor a list: only then can step 118
/// (`ctx.user.name.indexOf("@")`) fail, so the caller skips the full derivation otherwise.
pub(crate) fn odd_user_name_candidate(
    identity: Option<&Node<'_>>,
    additional: Option<&Node<'_>>,
) -> bool {
    let odd = |node: Option<&Node<'_>>, path: &[&str]| {
        node.and_then(|n| kept(n, path))
            .is_some_and(|n| !matches!(n, Node::Str(_) | Node::Array(_)))
    };
    odd(identity, &["userName"])
        || odd(identity, &["sessionContext", "sessionIssuer", "userName"])
        || odd(additional, &["UserName"])
}

/// The session name the grok of step 23 extracts, when its `if` holds and it matches.
fn grok_session_name<'r>(root: &'r Node<'_>) -> Option<Result<&'r str, &'r str>> {
    let kind = kept_str(root, &["userIdentity", "type"]);
    if !matches!(
        kind,
        Some("AssumedRole" | "FederatedUser" | "IdentityCenterUser")
    ) {
        return None;
    }
    let arn = kept_str(root, &["userIdentity", "arn"])?;
    if !(arn.contains(":sts:") && arn.contains('/')) {
        return None;
    }
    Some(session_name(arn).ok_or(arn))
}

/// True when steps 24–27 set `user.email` from a session name holding `@`.
pub(crate) fn email_from_session_name(root: &Node<'_>) -> bool {
    matches!(grok_session_name(root), Some(Ok(s)) if s.contains('@'))
}

/// `script_console_login_additional_eventdata` (step 85, ConsoleLogin only) reads
/// `ctx.json?.additionalEventData?.MobileVersion`: an `additionalEventData` that is not a map
/// fails it (its own on_failure appends the message; it sets nothing).
fn console_login_failure(root: &Node<'_>) -> Option<String> {
    if kept_str(root, &["eventName"]) != Some("ConsoleLogin") {
        return None;
    }
    let data = kept(root, &["additionalEventData"])?;
    if matches!(data, Node::Object(_)) {
        return None;
    }
    Some(processor_error(
        "script",
        "script_console_login_additional_eventdata",
        &getter_error(data, "MobileVersion"),
    ))
}

fn push_unique(list: &mut Vec<String>, v: Option<String>) {
    if let Some(v) = v
        && !v.is_empty()
        && !list.contains(&v)
    {
        list.push(v);
    }
}

/// Steps 11–33, 52, 118–122: service actor, `user.*`, `related.user`. `stop` is the step the
/// pipeline stopped at ([`step::NONE`] when it did not): later steps are left out.
fn identity(root: &Node<'_>, stop: Step, out: &mut Out) {
    let ran = |s: Step| s < stop;
    if let Some(source) = kept_str(root, &["eventSource"])
        && let Some(name) = source.strip_suffix(".amazonaws.com")
    {
        out.set_str("cloud.service.name", name);
    }
    let service = match service_actor(root) {
        Ok(s) => s,
        Err(message) => {
            out.errors.push((
                step::SERVICE_ACTOR_SCRIPT,
                processor_error("script", "script_aws_service_actor_93211d93", &message),
            ));
            None
        }
    };
    let kind = kept_str(root, &["userIdentity", "type"]);
    let mut user_name: Option<Value> = None;
    let mut user_id: Option<Value> = None;
    if service.is_none() {
        user_name = identity_user_name(root).and_then(Node::pruned);
        user_id = kept(root, &["userIdentity", "principalId"]).and_then(Node::pruned);
    }
    if ran(step::USER_NAME_USER_AUTHENTICATION)
        && text(root, &["eventName"]).as_deref() == Some("UserAuthentication")
        && user_name.is_none()
        && let Some(v) = kept(root, &["additionalEventData", "UserName"])
    {
        user_name = v.pruned();
        // The rename takes UserName out of additionalEventData before it is rendered.
        out.set("_moved_additional_user_name", Value::Bool(true));
    }
    // Session name: grok `^arn:[a-z0-9-]+:sts:.*/%{GREEDYDATA}$` on the identity ARN.
    let mut related: Vec<String> = Vec::new();
    let mut email: Option<String> = None;
    match grok_session_name(root) {
        Some(Ok(session)) if ran(step::SESSION_NAME_GROK) => {
            if ran(step::RELATED_USER_SESSION_NAME) {
                push_unique(&mut related, Some(session.to_string()));
            }
            if let Some(at) = session.find('@') {
                if ran(step::RELATED_USER_SESSION_PREFIX) {
                    push_unique(&mut related, Some(session[..at].to_string()));
                }
                if ran(step::USER_EMAIL_FROM_SESSION) && !session.is_empty() {
                    email = Some(session.to_string());
                }
            }
        }
        Some(Err(arn)) if ran(step::SESSION_NAME_GROK) => out.errors.push((
            step::SESSION_NAME_GROK,
            processor_error(
                "grok",
                "extract_session_name_from_arn",
                &format!("Provided Grok expressions do not match field value: [{arn}]"),
            ),
        )),
        _ => {}
    }
    if ran(step::USER_ID_IDENTITY_CENTER) && kind == Some("IdentityCenterUser") && user_id.is_none()
    {
        user_id = kept(root, &["userIdentity", "onBehalfOf", "userId"]).and_then(Node::pruned);
    }
    let mut append = |s: Step, v: Option<String>| {
        if ran(s) {
            push_unique(&mut related, v);
        }
    };
    append(
        step::RELATED_USER_REQUEST_USER_NAME,
        text(root, &["requestParameters", "userName"]),
    );
    append(
        step::RELATED_USER_NEW_USER_NAME,
        text(root, &["requestParameters", "newUserName"]),
    );
    append(
        step::RELATED_USER_RESPONSE_USER_ID,
        text(root, &["responseElements", "user", "userId"]),
    );
    let scalar = |v: &Option<Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    };
    append(step::RELATED_USER_ID, scalar(&user_id));
    append(step::RELATED_USER_NAME, scalar(&user_name));
    append(
        step::RELATED_USER_CHANGES_NAME,
        text(root, &["requestParameters", "newUserName"]),
    );
    append(
        step::RELATED_USER_ON_BEHALF_OF,
        text(root, &["userIdentity", "onBehalfOf", "userId"]),
    );
    if ran(step::USER_EMAIL_FROM_NAME)
        && email.is_none()
        && let Some(Value::String(name)) = &user_name
        && name.find('@').is_some_and(|i| i > 0)
    {
        email = Some(name.clone());
    }
    if let Some(s) = service {
        out.set_str("service.name", s);
    }
    if let Some(v) = user_name {
        out.set("user.name", v);
    }
    if let Some(v) = user_id {
        out.set("user.id", v);
    }
    if let Some(e) = email {
        out.set_str("user.email", e);
    }
    if !related.is_empty() {
        out.set(
            "related.user",
            Value::Array(related.into_iter().map(Value::String).collect()),
        );
    }
}

/// The greedy `.*/(.*)` of the session-name grok, after checking its `^arn:[a-z0-9-]+:sts:`.
fn session_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let colon = rest.find(':')?;
    let partition = &rest[..colon];
    if partition.is_empty()
        || !partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    let rest = rest[colon + 1..].strip_prefix("sts:")?;
    if rest.contains('\n') {
        return None;
    }
    rest.rfind('/').map(|i| &rest[i + 1..])
}

/// `aws.cloudtrail.<field>` = the raw object's `toString()` (unless `retain` removes it), and
/// the pruned object kept aside for the flattened copy.
fn rendered(ev: &CloudTrailEvent<'_>, key: &str, field: &'static str, out: &mut Out) {
    let Some(node) = kept(&ev.root, &[key]) else {
        return;
    };
    let moved = key == "additionalEventData"
        && ev
            .group(Group::Identity)
            .get("_moved_additional_user_name")
            .is_some();
    let text = if moved {
        let Node::Object(entries) = node else { return };
        // The entry is removed from the HashMap after it was built: the capacity stays.
        let mut without = entries.clone();
        for e in &mut without {
            if e.0 == "UserName" {
                e.1 = Node::Null;
            }
        }
        // An emptied map is still a map: it renders as "{}" (its flattened copy is empty).
        let node = Node::Object(without);
        out.set("_flattened", node.pruned().unwrap_or(Value::Null));
        java_map::render(&node)
    } else {
        java_map::render(node)
    };
    out.set("_length", Value::from(java_len(&text)));
    // Step 131 removes the strings for retain `flattened`/`none`, unless the pipeline
    // stopped before it.
    if !matches!(ev.mapper.options.retain, Retain::Flattened | Retain::None)
        || ev.failure_step() <= step::RETAIN_REMOVE_STRINGS
    {
        out.set(field, Value::String(text));
    }
}

const MINIMAL: &[(&str, &str)] = &[
    ("additionalEventData", "SSEApplied"),
    ("requestParameters", "cidrIp"),
    ("requestParameters", "dryRun"),
    ("requestParameters", "fromPort"),
    ("requestParameters", "includeDeprecated"),
    ("requestParameters", "policyArn"),
    ("requestParameters", "serialNumber"),
    ("requestParameters", "withDecryption"),
    (
        "requestParameters",
        "x-amz-server-side-encryption-customer-algorithm",
    ),
];

fn flattened(ev: &CloudTrailEvent<'_>, out: &mut Out) {
    let retain = ev.mapper.options.retain;
    if matches!(retain, Retain::Keyword | Retain::None) {
        return;
    }
    let sources = [
        (
            "requestParameters",
            Group::RequestParameters,
            "aws.cloudtrail.flattened.request_parameters",
        ),
        (
            "responseElements",
            Group::ResponseElements,
            "aws.cloudtrail.flattened.response_elements",
        ),
        (
            "additionalEventData",
            Group::AdditionalEventdata,
            "aws.cloudtrail.flattened.additional_eventdata",
        ),
        (
            "serviceEventDetails",
            Group::ServiceEventDetails,
            "aws.cloudtrail.flattened.service_event_details",
        ),
    ];
    for (key, group, field) in sources {
        let g = ev.group(group);
        let Some(len) = g.get("_length").and_then(Value::as_u64) else {
            continue;
        };
        if len >= 32766 {
            continue;
        }
        let value = match g.get("_flattened") {
            Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
            None => kept(&ev.root, &[key]).and_then(Node::pruned),
        };
        let Some(value) = value else { continue };
        // Step 130 reduces the copies for retain `minimal`, unless the pipeline stopped before.
        if retain == Retain::Minimal && ev.failure_step() > step::RETAIN_MINIMAL {
            let Value::Object(map) = &value else { continue };
            let mut reduced = Map::new();
            for (src, leaf) in MINIMAL {
                if *src == key
                    && let Some(v) = map.get(*leaf)
                {
                    reduced.insert((*leaf).to_string(), v.clone());
                }
            }
            if !reduced.is_empty() {
                out.set(field, Value::Object(reduced));
            }
        } else {
            out.set(field, value);
        }
    }
}

/// `script_deduplicate_json_resources`: ARN→arn, accountId→account_id, de-duplicated by
/// `arn_account_type` through a HashMap, emitted in its iteration order.
fn resources(root: &Node<'_>) -> Option<Value> {
    let node = kept(root, &["resources"])?;
    let Node::Array(items) = node else {
        return node.pruned();
    };
    let mut keys: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    for item in items.iter().filter(|n| !n.is_dropped()) {
        let Node::Object(_) = item else { continue };
        let Some(Value::Object(mut map)) = item.pruned() else {
            continue;
        };
        if let Some(v) = map.remove("ARN") {
            map.insert("arn".into(), v);
        }
        if let Some(v) = map.remove("accountId") {
            map.insert("account_id".into(), v);
        }
        let part = |k: &str| match map.get(k) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let key = format!("{}_{}_{}", part("arn"), part("account_id"), part("type"));
        match keys.iter().position(|k| *k == key) {
            Some(i) => values[i] = Value::Object(map),
            None => {
                keys.push(key);
                values.push(Value::Object(map));
            }
        }
    }
    let capacity = java_map::hashmap_capacity(keys.len());
    let ordered: Vec<Value> = java_map::hashmap_order(&keys, capacity)
        .into_iter()
        .map(|i| values[i].clone())
        .collect();
    (!ordered.is_empty()).then_some(Value::Array(ordered))
}

fn digest(root: &Node<'_>, out: &mut Out) {
    let mut d = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            d.insert(k.to_string(), v);
        }
    };
    let raw = |k: &str| kept(root, &[k]).and_then(Node::pruned);
    put("previous_s3_object", raw("previousDigestS3Object"));
    put("previous_signature", raw("previousDigestSignature"));
    put("previous_hash_value", raw("previousDigestHashValue"));
    put("log_files", raw("logFiles"));
    let mut errors = Vec::new();
    let mut date = |key: &'static str, at: (Step, &str)| {
        date_field(root, key, at, time::iso8601, &mut errors).map(Value::String)
    };
    let start = date(
        "digestStartTime",
        (
            step::DATE_DIGEST_START,
            "date_json_digestStartTime_to_aws_cloudtrail_digest_start_time_3c1d2845",
        ),
    );
    let end = date(
        "digestEndTime",
        (
            step::DATE_DIGEST_END,
            "date_json_digestEndTime_to_aws_cloudtrail_digest_end_time_d95ac027",
        ),
    );
    let newest = date(
        "newestEventTime",
        (
            step::DATE_NEWEST_EVENT,
            "date_json_newestEventTime_to_aws_cloudtrail_digest_newest_event_time_66ba4c38",
        ),
    );
    let oldest = date(
        "oldestEventTime",
        (
            step::DATE_OLDEST_EVENT,
            "date_json_oldestEventTime_to_aws_cloudtrail_digest_oldest_event_time_51f01072",
        ),
    );
    put("start_time", start);
    if let Some(e) = &end {
        out.set("_end_time", e.clone());
    }
    put("end_time", end);
    put("s3_bucket", raw("digestS3Bucket"));
    put("newest_event_time", newest);
    put("oldest_event_time", oldest);
    put("previous_s3_bucket", raw("previousDigestS3Bucket"));
    put(
        "previous_hash_algorithm",
        raw("previousDigestHashAlgorithm"),
    );
    put(
        "public_key_fingerprint",
        raw("digestPublicKeyFingerprint").or_else(|| raw("publicKeyFingerprint")),
    );
    put("signature_algorithm", raw("digestSignatureAlgorithm"));
    out.errors = errors;
    if let Some(h) = text(root, &["previousDigestHashValue"]) {
        out.set("related.hash", Value::Array(vec![Value::String(h)]));
    }
    if !d.is_empty() {
        out.set("aws.cloudtrail.flattened.digest", Value::Object(d));
    }
}

fn source(ev: &CloudTrailEvent<'_>, out: &mut Out) {
    let Some(address) = kept_str(&ev.root, &["sourceIPAddress"]) else {
        return;
    };
    let Ok(ip) = address.parse::<std::net::IpAddr>() else {
        return;
    };
    out.set_str("source.ip", address);
    if let Some(geo) = &ev.mapper.geo {
        geo.lookup(ip, &mut out.fields);
    }
}

fn tls(root: &Node<'_>, out: &mut Out) {
    let Some(details) = kept(root, &["tlsDetails"]) else {
        return;
    };
    let field = |k: &str| kept(details, &[k]);
    if field("tlsVersion").and_then(Node::as_str) == Some("tlsVersion") {
        return;
    }
    if let Some(version) = field("tlsVersion") {
        match version.as_str().and_then(|v| v.split_once('v')) {
            Some((protocol, number)) => {
                out.set_str("tls.version_protocol", protocol.to_lowercase());
                out.set_str("tls.version", number);
            }
            None => {
                if let Some(v) = version.pruned() {
                    out.set("tls.version", v);
                }
            }
        }
    }
    let mut copy = |k: &str, name: &'static str| {
        if let Some(v) = field(k).and_then(Node::pruned) {
            out.set(name, v);
        }
    };
    copy("cipherSuite", "tls.cipher");
    copy("clientProvidedHostHeader", "tls.client.server_name");
    copy("keyExchange", "aws.cloudtrail.tls_details.key_exchange");
}

/// Steps 123–129; those at or after `ev.failure_step()` did not run.
fn related(ev: &CloudTrailEvent<'_>, out: &mut Out) {
    let root = &ev.root;
    let stop = ev.failure_step();
    let mut ips: Vec<String> = Vec::new();
    let src = ev.group(Group::Source);
    let source_ip = src.get("source.ip").and_then(Value::as_str);
    push_unique(&mut ips, source_ip.map(str::to_owned));
    if step::RELATED_IP_SERVICE_EVENT < stop
        && let Some(s) = kept_str(root, &["serviceEventDetails", "sourceIpAddress"])
        && s.parse::<std::net::IpAddr>().is_ok()
    {
        push_unique(&mut ips, Some(s.to_string()));
    }
    let mut hosts: Vec<String> = Vec::new();
    if step::RELATED_HOSTS_SERVER_NAME < stop
        && let Some(Value::String(sni)) = ev.group(Group::Tls).get("tls.client.server_name")
        && !sni.ends_with(".amazonaws.com")
    {
        push_unique(&mut hosts, Some(sni.clone()));
    }
    if step::RELATED_HOSTS_SOURCE_ADDRESS < stop
        && source_ip.is_none()
        && let Some(address) = kept_str(root, &["sourceIPAddress"])
        && address.contains('.')
        && !address.contains(' ')
        && !address.ends_with(".amazonaws.com")
    {
        push_unique(&mut hosts, Some(address.to_string()));
    }
    if step::RELATED_HOSTS_COMPUTER_NAME < stop {
        push_unique(
            &mut hosts,
            text(root, &["requestParameters", "computerName"]),
        );
    }
    // EC2 instance ids from resources and request/response containers.
    let mut found: Vec<String> = Vec::new();
    let mut add = |v: Option<&str>| {
        if let Some(v) = v
            && v.encode_utf16().count() >= 10
            && v.starts_with("i-")
            && !found.iter().any(|f| f == v)
        {
            found.push(v.to_string());
        }
    };
    if let Some(Value::Array(resources)) =
        ev.group(Group::Resources).get("aws.cloudtrail.resources")
    {
        for r in resources {
            if let Some(arn) = r.get("arn").and_then(Value::as_str)
                && arn.contains(":instance/")
            {
                add(arn.rsplit('/').next());
            }
        }
    }
    for key in ["requestParameters", "responseElements"] {
        let Some(container @ Node::Object(_)) = kept(root, &[key]) else {
            continue;
        };
        for k in ["instanceId", "target", "resourceId"] {
            add(kept(container, &[k]).and_then(Node::as_str));
        }
        if let Some(Node::Array(ids)) = kept(container, &["instanceIds"]) {
            for id in ids.iter().filter(|n| !n.is_dropped()) {
                add(id.as_str());
            }
        }
        if let Some(Node::Array(items)) = kept(container, &["instancesSet", "items"]) {
            for item in items.iter().filter(|n| !n.is_dropped()) {
                if let Node::Object(_) = item {
                    add(kept(item, &["instanceId"]).and_then(Node::as_str));
                }
            }
        }
    }
    // Step 129 (the instance-id script) runs only when the pipeline got there.
    for f in found
        .into_iter()
        .filter(|_| step::RELATED_HOSTS_INSTANCE_IDS < stop)
    {
        push_unique(&mut hosts, Some(f));
    }
    if !ips.is_empty() {
        out.set(
            "related.ip",
            Value::Array(ips.into_iter().map(Value::String).collect()),
        );
    }
    if !hosts.is_empty() {
        out.set(
            "related.hosts",
            Value::Array(hosts.into_iter().map(Value::String).collect()),
        );
    }
}
