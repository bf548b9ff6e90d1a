//! Where each field comes from in Elastic's CloudTrail pipeline: the position ([`Step`]) of the
//! processor that sets it, so that a document the pipeline stopped on keeps only the fields
//! of the processors before the failing one (`failure.rs`).

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
