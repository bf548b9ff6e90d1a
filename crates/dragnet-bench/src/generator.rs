//! Streams synthetic CloudTrail: records are built one at a time from the seeded [`Rng`] and the
//! [`catalog`](crate::catalog), written, and forgotten, so memory stays flat at any size.
//! Seed-rule hits and near misses are injected at fixed fractions of the output size, so their
//! counts are known before the run and equal for every seed.

use std::io::Write;

use serde::Serialize;
use serde_json::{Value, json};

use crate::catalog::{EVENTS, EventSpec, Shape, V};
use crate::profile::{Profile, RecordFacts};
use crate::rng::{Rng, Weighted, format_uuid, mix48};

mod esql_cases;
use esql_cases::{CASES, CaseCtx, CaseRecord};

/// Output framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One record per line.
    Jsonl,
    /// One `{"Records":[...]}` document, as CloudTrail delivers to S3.
    Records,
    /// The `records` document, gzip-compressed (`.json.gz` as delivered to S3).
    RecordsGz,
}

/// What kind of trail to generate (`gen --profile`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TrailProfile {
    /// Management events of a production-like account: 48 principals (IAM users and role
    /// sessions), SSM agents, KMS/STS traffic. Byte-identical to the generator before profiles
    /// existed, for every seed.
    #[default]
    Default,
    /// The default mix plus S3 data events, as a trail with data events on logs them:
    /// `GetObject` in ~15% of the records and `PutObject` in ~6% (`eventCategory: Data`,
    /// `managementEvent: false`, `resources` naming the object and its bucket,
    /// `requestParameters.bucketName`/`key`, `additionalEventData.bytesTransferred*`).
    S3DataEvents,
    /// The default mix where ~60% of the principal calls come from 999 IAM users with
    /// long-term access keys (`AKIA…`), calling from ~120 source addresses.
    ManyKeys,
}

impl TrailProfile {
    /// The name `--profile` takes (and benchmark file names carry).
    pub fn name(self) -> &'static str {
        match self {
            TrailProfile::Default => "default",
            TrailProfile::S3DataEvents => "s3-data-events",
            TrailProfile::ManyKeys => "many-keys",
        }
    }
}

/// Per mille of the `s3-data-events` profile's background records that are `GetObject`
/// (the next [`PUT_OBJECT_PER_MILLE`] are `PutObject`).
const GET_OBJECT_PER_MILLE: usize = 150;
const PUT_OBJECT_PER_MILLE: usize = 60;

/// IAM users with long-term access keys in the `many-keys` profile, and the source addresses
/// they call from.
const MANY_KEYS_USERS: usize = 999;
const MANY_KEYS_ADDRESSES: usize = 120;

/// The seed-rule cases the generator injects (see `rules/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// `ssm.amazonaws.com` SendCommand without error: a hit of "AWS Execution via System Manager".
    SendCommandSuccess,
    /// SendCommand with errorCode: outcome failure, not a hit.
    SendCommandFailure,
    /// ModifyImageAttribute adding `launchPermission.add.items[].userId`: an AMI-share hit.
    AmiShare,
    /// ModifyImageAttribute removing a userId: no `add`, not a hit.
    AmiRemoveNearMiss,
    /// ModifyImageAttribute adding `group: all` (public): no `userId`, not a hit.
    AmiPublicNearMiss,
    /// AMI share that failed (errorCode): outcome failure, not a hit.
    AmiShareFailure,
}

impl Injection {
    pub const ALL: [Injection; 6] = [
        Injection::SendCommandSuccess,
        Injection::SendCommandFailure,
        Injection::AmiShare,
        Injection::AmiRemoveNearMiss,
        Injection::AmiPublicNearMiss,
        Injection::AmiShareFailure,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Injection::SendCommandSuccess => "ssm_send_command_success",
            Injection::SendCommandFailure => "ssm_send_command_failure",
            Injection::AmiShare => "ami_share_user_id",
            Injection::AmiRemoveNearMiss => "ami_remove_near_miss",
            Injection::AmiPublicNearMiss => "ami_add_group_all_near_miss",
            Injection::AmiShareFailure => "ami_share_failure",
        }
    }

    /// Injections per GB of output, and the minimum at any size.
    fn rate(self) -> (f64, u64) {
        match self {
            Injection::SendCommandSuccess => (24.0, 3),
            Injection::SendCommandFailure => (8.0, 2),
            Injection::AmiShare => (12.0, 3),
            Injection::AmiRemoveNearMiss => (6.0, 2),
            Injection::AmiPublicNearMiss => (6.0, 2),
            Injection::AmiShareFailure => (4.0, 1),
        }
    }

    /// How many of this case `gen` injects for a target size.
    pub fn planned(self, size: u64) -> u64 {
        let (per_gb, min) = self.rate();
        ((per_gb * size as f64 / 1e9).round() as u64).max(min)
    }
}

/// What a generation run produced.
pub struct Summary {
    pub records: u64,
    pub bytes_written: u64,
    pub injected: Vec<(Injection, u64)>,
    pub profile: Profile,
    /// `--esql-cases`: per case, how many were injected and the alerts they should raise.
    pub esql: Vec<EsqlCaseCount>,
}

/// One ES|QL case kind of a `--esql-cases` run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EsqlCaseCount {
    pub key: &'static str,
    /// The rule's name, as its alerts carry it.
    pub rule: &'static str,
    pub injected: u64,
    pub expected_alerts: u64,
}

impl Summary {
    pub fn injected(&self, which: Injection) -> u64 {
        self.injected
            .iter()
            .find(|(i, _)| *i == which)
            .map_or(0, |(_, n)| *n)
    }

    /// One machine-readable line (`injected {...}`) benchmark scripts and tests parse.
    pub fn injected_line(&self) -> String {
        let mut m = serde_json::Map::new();
        for (i, n) in &self.injected {
            m.insert(i.key().into(), (*n).into());
        }
        m.insert(
            "expected_hits_ssm_send_command".into(),
            self.injected(Injection::SendCommandSuccess).into(),
        );
        m.insert(
            "expected_hits_ami_shared".into(),
            self.injected(Injection::AmiShare).into(),
        );
        format!("injected {}", Value::Object(m))
    }

    /// `--esql-cases`: one machine-readable line (`esql_cases {...}`): per case its count, and
    /// per rule the alerts the injection should raise (`expected_alerts`).
    pub fn esql_line(&self) -> String {
        let mut cases = serde_json::Map::new();
        let mut expected = serde_json::Map::new();
        for c in &self.esql {
            cases.insert(c.key.into(), c.injected.into());
            let sum = expected.get(c.rule).and_then(Value::as_u64).unwrap_or(0);
            expected.insert(c.rule.into(), (sum + c.expected_alerts).into());
        }
        format!(
            "esql_cases {}",
            json!({"cases": cases, "expected_alerts": expected})
        )
    }
}

const REGIONS: [(&str, u32); 6] = [
    ("us-east-1", 62),
    ("us-west-2", 14),
    ("eu-west-1", 12),
    ("eu-central-1", 6),
    ("ap-southeast-2", 4),
    ("us-east-2", 2),
];

const USER_AGENTS: [&str; 9] = [
    "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.49.6 (go1.21.5; linux; amd64)",
    "aws-cli/2.15.10 Python/3.11.6 Linux/6.2.0-1017-aws exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances",
    "Boto3/1.34.20 md/Botocore#1.34.20 ua/2.0 os/linux#5.10.205-195.807.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.20",
    "aws-sdk-go-v2/1.24.1 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.26.7",
    "aws-sdk-java/1.12.631 Linux/5.10.205-195.807.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS java/17.0.9 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.198-164.748.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard]",
    "aws-sdk-js/2.1520.0 promise",
    "AWS Internal",
];
const SSM_AGENT_UA: &str =
    "aws-sdk-go/1.44.260 (go1.20.11; linux; amd64) amazon-ssm-agent/3.2.2016.0";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    IamUser,
    AssumedRole,
    Root,
}

struct Principal {
    kind: Kind,
    account: usize,
    principal_id: String,
    name: String,
    session: String,
    access_key: String,
    source_ip: String,
    user_agent: &'static str,
    mfa: bool,
    console: bool,
}

impl Principal {
    /// The same principal calling with another access key.
    fn clone_with_key(&self, access_key: &str) -> Principal {
        Principal {
            kind: self.kind,
            account: self.account,
            principal_id: self.principal_id.clone(),
            name: self.name.clone(),
            session: self.session.clone(),
            access_key: access_key.to_string(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent,
            mfa: self.mfa,
            console: self.console,
        }
    }
}

/// Deterministic pools of accounts, principals and resource names the records refer to.
struct World {
    accounts: Vec<String>,
    principals: Vec<Principal>,
    principal_weights: Weighted,
    instance_roles: Vec<Principal>,
    instances: Vec<String>,
    buckets: Vec<String>,
    roles: Vec<String>,
    users: Vec<String>,
    secrets: Vec<String>,
    parameters: Vec<String>,
    keys: Vec<String>,
    names: Vec<&'static str>,
}

const NAME_WORDS: [&str; 24] = [
    "payments",
    "orders",
    "billing",
    "auth",
    "search",
    "ingest",
    "reporting",
    "analytics",
    "frontend",
    "gateway",
    "ledger",
    "catalog",
    "inventory",
    "notifications",
    "etl",
    "ml-train",
    "backup",
    "audit",
    "build",
    "deploy",
    "metrics",
    "identity",
    "checkout",
    "shipping",
];
const ENVS: [&str; 4] = ["prod", "staging", "dev", "shared"];

fn public_ip(rng: &mut Rng) -> String {
    let first = *rng.pick(&[3u8, 18, 34, 35, 52, 54, 81, 91, 104, 185, 198, 203]);
    format!(
        "{first}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

impl World {
    fn new(rng: &mut Rng) -> Self {
        let accounts: Vec<String> = (0..3)
            .map(|_| format!("{}", rng.range(100_000_000_000, 999_999_999_999)))
            .collect();
        let mut principals = Vec::new();
        let mut weights = Vec::new();
        for i in 0..48 {
            let kind = match i {
                11 => Kind::Root,
                _ if i % 3 == 0 => Kind::AssumedRole,
                _ => Kind::IamUser,
            };
            let word = NAME_WORDS[i % NAME_WORDS.len()];
            let env = ENVS[i % ENVS.len()];
            let name = match kind {
                Kind::AssumedRole => format!("{word}-{env}-role"),
                Kind::IamUser => format!(
                    "{}.{}",
                    [
                        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"
                    ][i % 8],
                    word
                ),
                Kind::Root => "root".into(),
            };
            let session = match kind {
                Kind::AssumedRole => match i % 3 {
                    0 => format!("{}-session-{}", word, rng.digits(10)),
                    1 => format!("botocore-session-{}", rng.digits(10)),
                    _ => format!("{}@example.com", ["alice", "bob", "carol", "dave"][i % 4]),
                },
                _ => String::new(),
            };
            let prefix = match kind {
                Kind::AssumedRole => "AROA",
                _ => "AIDA",
            };
            let console = i % 7 == 3;
            principals.push(Principal {
                kind,
                account: if i % 5 == 4 { 1 + i % 2 } else { 0 },
                principal_id: format!("{prefix}{}", rng.upper_alnum(17)),
                name,
                session,
                access_key: format!(
                    "{}{}",
                    if kind == Kind::IamUser && i % 2 == 0 {
                        "AKIA"
                    } else {
                        "ASIA"
                    },
                    rng.upper_alnum(16)
                ),
                source_ip: public_ip(rng),
                user_agent: if console {
                    USER_AGENTS[5]
                } else {
                    USER_AGENTS[(i * 7 + 3) % 8]
                },
                mfa: console || kind == Kind::Root,
                console,
            });
            // Zipf-like: a few automation principals produce most of the traffic.
            weights.push(if kind == Kind::Root {
                40
            } else {
                4800 / (i as u32 + 2)
            });
        }
        let instances: Vec<String> = (0..400).map(|_| format!("i-0{}", rng.hex(16))).collect();
        let instance_roles = (0..60)
            .map(|i| Principal {
                kind: Kind::AssumedRole,
                account: if i % 4 == 3 { 1 } else { 0 },
                principal_id: format!("AROA{}", rng.upper_alnum(17)),
                name: format!("{}-{}-instance-role", NAME_WORDS[i % 24], ENVS[i % 4]),
                session: instances[i].clone(),
                access_key: format!("ASIA{}", rng.upper_alnum(16)),
                source_ip: public_ip(rng),
                user_agent: SSM_AGENT_UA,
                mfa: false,
                console: false,
            })
            .collect();
        let mut names = Vec::new();
        for w in NAME_WORDS {
            names.push(w);
        }
        let buckets = (0..80)
            .map(|i| format!("{}-{}-{}", NAME_WORDS[i % 24], ENVS[i % 4], rng.digits(6)))
            .collect();
        let roles = (0..120)
            .map(|i| {
                format!(
                    "{}-{}-{}",
                    NAME_WORDS[i % 24],
                    ENVS[(i / 24) % 4],
                    ["role", "lambda-exec", "task-role", "ci"][i % 4]
                )
            })
            .collect();
        let users = (0..40)
            .map(|i| {
                format!(
                    "{}.{}",
                    ["alice", "bob", "carol", "dave", "erin"][i % 5],
                    NAME_WORDS[i % 24]
                )
            })
            .collect();
        let secrets = (0..60)
            .map(|i| {
                format!(
                    "{}/{}/{}-{}",
                    ENVS[i % 4],
                    NAME_WORDS[i % 24],
                    ["db-credentials", "api-key", "oauth-client"][i % 3],
                    rng.chars(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 6)
                )
            })
            .collect();
        let parameters = (0..120)
            .map(|i| {
                format!(
                    "/{}/{}/{}",
                    ENVS[i % 4],
                    NAME_WORDS[i % 24],
                    [
                        "db/host",
                        "db/password",
                        "feature-flags",
                        "api/endpoint",
                        "cloudwatch-agent-config"
                    ][i % 5]
                )
            })
            .collect();
        let keys = (0..20).map(|_| rng.uuid()).collect();
        World {
            accounts,
            principals,
            principal_weights: Weighted::new(weights),
            instance_roles,
            instances,
            buckets,
            roles,
            users,
            secrets,
            parameters,
            keys,
            names,
        }
    }
}

impl World {
    /// The `many-keys` profile: [`MANY_KEYS_USERS`] IAM users with long-term access keys
    /// calling from [`MANY_KEYS_ADDRESSES`] addresses, together about 60% of the principal
    /// calls.
    fn add_long_term_key_users(&mut self, rng: &mut Rng) {
        let addresses: Vec<String> = (0..MANY_KEYS_ADDRESSES).map(|_| public_ip(rng)).collect();
        let mut weights: Vec<u32> = self.principal_weights.weights();
        let existing: u32 = weights.iter().sum();
        // Uniform-ish weights whose sum is 1.5 times the existing principals'.
        let per_user = (existing * 3 / 2 / MANY_KEYS_USERS as u32).max(2);
        for i in 0..MANY_KEYS_USERS {
            let word = NAME_WORDS[i % NAME_WORDS.len()];
            self.principals.push(Principal {
                kind: Kind::IamUser,
                account: if i % 10 == 9 { 1 } else { 0 },
                principal_id: format!("AIDA{}", rng.upper_alnum(17)),
                name: format!("svc-{word}-{i:03}"),
                session: String::new(),
                access_key: format!("AKIA{}", rng.upper_alnum(16)),
                source_ip: addresses[rng.below(addresses.len())].clone(),
                user_agent: USER_AGENTS[(i * 7 + 3) % 8],
                mfa: false,
                console: false,
            });
            weights.push(per_user / 2 + rng.below(per_user as usize) as u32);
        }
        self.principal_weights = Weighted::new(weights);
    }
}

/// Per-record context handed to the shape builders.
struct Ctx<'w> {
    world: &'w World,
    account: &'w str,
    region: &'static str,
    now: i64,
}

fn iso(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .expect("generated times are in range")
        .to_string()
}

/// CloudTrail's English date rendering used in IAM/STS responses ("Mar 4, 2024, 1:05:09 PM").
fn english_date(secs: i64) -> String {
    let ts = jiff::Timestamp::from_second(secs).expect("in range");
    ts.strftime("%b %-d, %Y, %-I:%M:%S %p").to_string()
}

impl Ctx<'_> {
    fn value(&self, v: V, rng: &mut Rng) -> Value {
        let w = self.world;
        let (acct, region) = (self.account, self.region);
        match v {
            V::Lit(s) => s.into(),
            V::Int(lo, hi) => rng.range(lo as u64, hi as u64).into(),
            V::Bool => rng.chance(0.5).into(),
            V::Instance => rng.pick(&w.instances).as_str().into(),
            V::InstanceList => json!([rng.pick(&w.instances)]),
            V::Vpc => format!("vpc-0{}", rng.hex(16)).into(),
            V::Subnet => format!("subnet-0{}", rng.hex(16)).into(),
            V::SecurityGroup => format!("sg-0{}", rng.hex(16)).into(),
            V::Volume => format!("vol-0{}", rng.hex(16)).into(),
            V::Snapshot => format!("snap-0{}", rng.hex(16)).into(),
            V::Image => format!("ami-0{}", rng.hex(16)).into(),
            V::Bucket => rng.pick(&w.buckets).as_str().into(),
            V::Role => rng.pick(&w.roles).as_str().into(),
            V::RoleArn => format!("arn:aws:iam::{acct}:role/{}", rng.pick(&w.roles)).into(),
            V::User => rng.pick(&w.users).as_str().into(),
            V::PolicyArn => match rng.below(3) {
                0 => format!(
                    "arn:aws:iam::aws:policy/{}",
                    rng.pick(&[
                        "ReadOnlyAccess",
                        "AmazonSSMManagedInstanceCore",
                        "AmazonS3ReadOnlyAccess",
                        "CloudWatchAgentServerPolicy"
                    ])
                ),
                _ => format!(
                    "arn:aws:iam::{acct}:policy/{}-{}-access",
                    rng.pick(&w.names),
                    rng.pick(&ENVS)
                ),
            }
            .into(),
            V::Secret => rng.pick(&w.secrets).as_str().into(),
            V::SecretArn => format!(
                "arn:aws:secretsmanager:{region}:{acct}:secret:{}",
                rng.pick(&w.secrets)
            )
            .into(),
            V::Parameter => rng.pick(&w.parameters).as_str().into(),
            V::ParameterPath => format!("/{}/{}", rng.pick(&ENVS), rng.pick(&w.names)).into(),
            V::KeyArn => format!("arn:aws:kms:{region}:{acct}:key/{}", rng.pick(&w.keys)).into(),
            V::LogGroup => format!(
                "/aws/{}/{}-{}",
                rng.pick(&["lambda", "ecs", "rds/instance", "codebuild"]),
                rng.pick(&w.names),
                rng.pick(&ENVS)
            )
            .into(),
            V::Function => format!(
                "{}-{}-{}",
                rng.pick(&w.names),
                rng.pick(&ENVS),
                rng.pick(&["handler", "worker", "authorizer", "cron"])
            )
            .into(),
            V::Table => format!("{}-{}", rng.pick(&w.names), rng.pick(&ENVS)).into(),
            V::Cluster => format!("{}-{}-cluster", rng.pick(&w.names), rng.pick(&ENVS)).into(),
            V::Stack => format!("{}-{}-stack", rng.pick(&w.names), rng.pick(&ENVS)).into(),
            V::DbInstance => format!("{}-{}-db", rng.pick(&w.names), rng.pick(&ENVS)).into(),
            V::DbArn => format!(
                "arn:aws:rds:{region}:{acct}:db:{}-{}-db",
                rng.pick(&w.names),
                rng.pick(&ENVS)
            )
            .into(),
            V::TrailArn => format!("arn:aws:cloudtrail:{region}:{acct}:trail/org-trail").into(),
            V::TargetGroupArn => format!(
                "arn:aws:elasticloadbalancing:{region}:{acct}:targetgroup/{}-tg/{}",
                rng.pick(&w.names),
                rng.hex(16)
            )
            .into(),
            V::LoadBalancerArn => format!(
                "arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/app/{}-alb/{}",
                rng.pick(&w.names),
                rng.hex(16)
            )
            .into(),
            V::AutoScalingGroup => format!("{}-{}-asg", rng.pick(&w.names), rng.pick(&ENVS)).into(),
            V::Repository => format!("{}/{}", rng.pick(&ENVS), rng.pick(&w.names)).into(),
            V::Detector => rng.hex(32).into(),
            V::HostedZone => format!("Z0{}", rng.upper_alnum(19)).into(),
            V::Alarm => format!("arn:aws:sns:{region}:{acct}:{}-alerts", rng.pick(&w.names)).into(),
            V::Uuid => rng.uuid().into(),
            V::Account => json!([acct]),
            V::EmptyObject => json!({}),
            V::EmptyList => json!([]),
        }
    }
}

/// A policy document as IAM receives it: a pretty-printed JSON *string* (the source of most
/// `\"` and `\n` escapes in real trails).
fn policy_document(rng: &mut Rng, ctx: &Ctx<'_>, trust: bool) -> String {
    let statements = 1 + rng.below(4);
    let mut s = String::from("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n");
    for i in 0..statements {
        if trust {
            let svc = rng.pick(&[
                "ec2.amazonaws.com",
                "lambda.amazonaws.com",
                "ecs-tasks.amazonaws.com",
            ]);
            s.push_str(&format!("    {{\n      \"Effect\": \"Allow\",\n      \"Principal\": {{\n        \"Service\": \"{svc}\"\n      }},\n      \"Action\": \"sts:AssumeRole\"\n    }}"));
        } else {
            let actions = rng.pick(&[
                "\"s3:GetObject\", \"s3:ListBucket\"",
                "\"ssm:GetParameter\", \"ssm:GetParameters\", \"kms:Decrypt\"",
                "\"logs:CreateLogStream\", \"logs:PutLogEvents\"",
                "\"ssm:SendCommand\", \"ssm:ListCommandInvocations\"",
                "\"ec2:DescribeInstances\", \"ec2:DescribeImages\", \"ec2:CreateTags\"",
            ]);
            s.push_str(&format!(
                "    {{\n      \"Sid\": \"Stmt{}\",\n      \"Effect\": \"Allow\",\n      \"Action\": [{actions}],\n      \"Resource\": \"arn:aws:s3:::{}/*\"\n    }}",
                i + 1,
                rng.pick(&ctx.world.buckets)
            ));
        }
        s.push_str(if i + 1 < statements { ",\n" } else { "\n" });
    }
    s.push_str("  ]\n}");
    s
}

/// Built pieces of one record that depend on the call.
struct Built {
    request: Value,
    response: Value,
    resources: Option<Value>,
    additional: Option<Value>,
    /// Serialize with Gson-style HTML-safe escapes (`&` -> `\u0026`, `=` -> `\u003d`).
    html_safe: bool,
}

impl Built {
    fn request(request: Value) -> Self {
        Built {
            request,
            response: Value::Null,
            resources: None,
            additional: None,
            html_safe: false,
        }
    }
}

fn build(spec: &EventSpec, ctx: &Ctx<'_>, rng: &mut Rng) -> Built {
    let (acct, region) = (ctx.account, ctx.region);
    let w = ctx.world;
    match spec.shape {
        Shape::Null => Built::request(Value::Null),
        Shape::Obj(fields) => {
            let mut m = serde_json::Map::new();
            for (k, v) in fields {
                // Real callers omit optional parameters about a third of the time.
                if m.is_empty() || rng.chance(0.7) {
                    m.insert((*k).into(), ctx.value(*v, rng));
                }
            }
            Built::request(Value::Object(m))
        }
        Shape::Ec2Describe(set, filter) => {
            let mut m = serde_json::Map::new();
            match rng.below(3) {
                0 => {
                    m.insert(set.into(), json!({}));
                    m.insert("filterSet".into(), json!({}));
                }
                1 => {
                    m.insert(set.into(), json!({}));
                    m.insert("filterSet".into(), json!({"items": [{"name": filter, "valueSet": {"items": [{"value": ctx.value(V::Vpc, rng)}]}}]}));
                }
                _ => {
                    let id = match set {
                        "instancesSet" => json!({"instanceId": ctx.value(V::Instance, rng)}),
                        "volumeSet" => json!({"volumeId": ctx.value(V::Volume, rng)}),
                        "snapshotSet" => json!({"snapshotId": ctx.value(V::Snapshot, rng)}),
                        "imagesSet" => json!({"imageId": ctx.value(V::Image, rng)}),
                        _ => json!({"item": ctx.value(V::Subnet, rng)}),
                    };
                    m.insert(set.into(), json!({"items": [id]}));
                    m.insert("filterSet".into(), json!({}));
                    if rng.chance(0.5) {
                        m.insert("maxResults".into(), 1000.into());
                    }
                }
            }
            Built::request(Value::Object(m))
        }
        Shape::Ec2InstanceState(_, code, name) => {
            let id = ctx.value(V::Instance, rng);
            let mut b = Built::request(json!({"instancesSet": {"items": [{"instanceId": id}]}}));
            b.response = json!({"requestId": rng.uuid(), "instancesSet": {"items": [{"instanceId": id, "currentState": {"code": code, "name": name}, "previousState": {"code": 16, "name": "running"}}]}});
            b
        }
        Shape::Ec2CreateTags => {
            let mut b = Built::request(
                json!({"resourcesSet": {"items": [{"resourceId": ctx.value(V::Instance, rng)}]}, "tagSet": {"items": [{"key": "Name", "value": ctx.value(V::Function, rng)}, {"key": "Environment", "value": rng.pick(&ENVS)}]}}),
            );
            b.response = json!({"requestId": rng.uuid(), "_return": true});
            b
        }
        Shape::Ec2RunInstances => {
            let id = format!("i-0{}", rng.hex(16));
            let ami = ctx.value(V::Image, rng);
            let subnet = ctx.value(V::Subnet, rng);
            let vpc = ctx.value(V::Vpc, rng);
            let sg = ctx.value(V::SecurityGroup, rng);
            let ip = format!("10.0.{}.{}", rng.below(256), 1 + rng.below(254));
            let mut b = Built::request(
                json!({"instancesSet": {"items": [{"imageId": ami, "minCount": 1, "maxCount": 1}]}, "instanceType": "t3.medium", "blockDeviceMapping": {}, "monitoring": {"enabled": false}, "disableApiTermination": false, "disableApiStop": false, "clientToken": rng.uuid(), "subnetId": subnet, "iamInstanceProfile": {"name": ctx.value(V::Role, rng)}, "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": ctx.value(V::Function, rng)}]}]}}),
            );
            b.response = json!({"requestId": rng.uuid(), "reservationId": format!("r-0{}", rng.hex(16)), "ownerId": acct, "groupSet": {}, "instancesSet": {"items": [{"instanceId": id, "imageId": ami, "currentInstanceBootMode": "legacy-bios", "instanceState": {"code": 0, "name": "pending"}, "privateDnsName": format!("ip-{}.ec2.internal", ip.replace('.', "-")), "amiLaunchIndex": 0, "productCodes": {}, "instanceType": "t3.medium", "launchTime": rng.u64() % 1_000_000_000_000 + 1_700_000_000_000u64, "placement": {"availabilityZone": format!("{region}a"), "tenancy": "default"}, "monitoring": {"state": "disabled"}, "subnetId": subnet, "vpcId": vpc, "privateIpAddress": ip, "stateReason": {"code": "pending", "message": "pending"}, "architecture": "x86_64", "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda", "blockDeviceMapping": {}, "virtualizationType": "hvm", "hypervisor": "xen", "groupSet": {"items": [{"groupId": sg, "groupName": "default"}]}, "networkInterfaceSet": {"items": [{"networkInterfaceId": format!("eni-0{}", rng.hex(16)), "subnetId": subnet, "vpcId": vpc, "ownerId": acct, "status": "in-use", "privateIpAddress": ip, "sourceDestCheck": true, "interfaceType": "interface"}]}, "ebsOptimized": false, "enaSupport": true, "cpuOptions": {"coreCount": 1, "threadsPerCore": 2}, "capacityReservationSpecification": {"capacityReservationPreference": "open"}, "enclaveOptions": {"enabled": false}, "metadataOptions": {"state": "pending", "httpTokens": "required", "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled"}}]}});
            b
        }
        Shape::Ec2AuthorizeIngress => {
            let sg = ctx.value(V::SecurityGroup, rng);
            let port = *rng.pick(&[22u32, 443, 3389, 5432, 8080]);
            let mut b = Built::request(
                json!({"groupId": sg, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {}, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}),
            );
            b.response = json!({"requestId": rng.uuid(), "_return": true, "securityGroupRuleSet": {"items": [{"groupOwnerId": acct, "groupId": sg, "securityGroupRuleId": format!("sgr-0{}", rng.hex(16)), "isEgress": false, "ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": "10.0.0.0/16"}]}});
            b
        }
        Shape::Ec2CreateSnapshot => {
            let vol = ctx.value(V::Volume, rng);
            let mut b = Built::request(json!({"volumeId": vol, "description": "automated backup"}));
            b.response = json!({"requestId": rng.uuid(), "snapshotId": ctx.value(V::Snapshot, rng), "volumeId": vol, "status": "pending", "startTime": ctx.now * 1000, "progress": "", "ownerId": acct, "volumeSize": 8 * (1 + rng.below(16)), "encrypted": true});
            b
        }
        Shape::Ec2NetworkInterface => {
            let subnet = ctx.value(V::Subnet, rng);
            let mut b = Built::request(
                json!({"subnetId": subnet, "description": "AWS Lambda VPC ENI", "groupSet": {"items": [{"groupId": ctx.value(V::SecurityGroup, rng)}]}, "privateIpAddressesSet": {}, "ipv6AddressCount": 0}),
            );
            b.response = json!({"requestId": rng.uuid(), "networkInterface": {"networkInterfaceId": format!("eni-0{}", rng.hex(16)), "subnetId": subnet, "vpcId": ctx.value(V::Vpc, rng), "availabilityZone": format!("{region}b"), "description": "AWS Lambda VPC ENI", "ownerId": acct, "requesterManaged": false, "status": "pending", "privateIpAddress": format!("10.1.{}.{}", rng.below(256), 1 + rng.below(254)), "sourceDestCheck": true, "interfaceType": "lambda"}});
            b
        }
        Shape::S3Bucket(sub) => {
            let bucket = rng.pick(&w.buckets).clone();
            let mut req = serde_json::Map::new();
            req.insert("bucketName".into(), bucket.as_str().into());
            req.insert(
                "Host".into(),
                format!("{bucket}.s3.{region}.amazonaws.com").into(),
            );
            if !sub.is_empty() {
                req.insert(sub.into(), "".into());
            }
            let mut b = Built::request(Value::Object(req));
            b.additional = Some(s3_additional(rng));
            b.resources = Some(
                json!([{"accountId": acct, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
            );
            b
        }
        Shape::S3Object(put) => {
            let bucket = rng.pick(&w.buckets).clone();
            let key = object_key(rng);
            let mut b = Built::request(json!({
                "bucketName": bucket,
                "Host": format!("{bucket}.s3.{region}.amazonaws.com"),
                "key": key,
            }));
            let size = rng.range(200, 5_000_000);
            let mut additional = s3_additional(rng);
            if let Some(m) = additional.as_object_mut() {
                let (inn, out) = if put { (size, 0) } else { (0, size) };
                m.insert("bytesTransferredIn".into(), inn.into());
                m.insert("bytesTransferredOut".into(), out.into());
            }
            b.additional = Some(additional);
            if put {
                b.response = json!({"x-amz-server-side-encryption": "AES256", "x-amz-version-id": rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._", 32)});
            }
            b.resources = Some(json!([
                {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
                {"accountId": acct, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}
            ]));
            b
        }
        Shape::S3ListBuckets => {
            let mut b = Built::request(json!({"Host": format!("s3.{region}.amazonaws.com")}));
            b.additional = Some(s3_additional(rng));
            b
        }
        Shape::S3PutBucketPolicy => {
            let bucket = rng.pick(&w.buckets).clone();
            let mut b = Built::request(
                json!({"bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}, "bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "policy": ""}),
            );
            b.additional = Some(s3_additional(rng));
            b.resources = Some(
                json!([{"accountId": acct, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
            );
            b
        }
        Shape::KmsCrypto(with_key) => {
            let key = format!("arn:aws:kms:{region}:{acct}:key/{}", rng.pick(&w.keys));
            let context = match rng.below(4) {
                0 => {
                    json!({"aws:s3:arn": format!("arn:aws:s3:::{}/{}/{}.parquet", rng.pick(&w.buckets), rng.pick(&w.names), rng.hex(12))})
                }
                1 => {
                    json!({"PARAMETER_ARN": format!("arn:aws:ssm:{region}:{acct}:parameter{}", rng.pick(&w.parameters))})
                }
                2 => {
                    json!({"SecretARN": format!("arn:aws:secretsmanager:{region}:{acct}:secret:{}", rng.pick(&w.secrets)), "SecretVersionId": rng.uuid()})
                }
                _ => json!({"aws:ebs:id": ctx.value(V::Volume, rng)}),
            };
            let mut req = serde_json::Map::new();
            if with_key {
                req.insert("keyId".into(), key.as_str().into());
            }
            req.insert("encryptionContext".into(), context);
            if with_key && rng.chance(0.6) {
                req.insert("keySpec".into(), "AES_256".into());
            } else {
                req.insert("encryptionAlgorithm".into(), "SYMMETRIC_DEFAULT".into());
            }
            let mut b = Built::request(Value::Object(req));
            b.resources = Some(json!([{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key}]));
            b
        }
        Shape::StsAssumeRole => {
            let role = rng.pick(&w.roles).clone();
            let session = format!("{}-{}", rng.pick(&w.names), rng.digits(13));
            let mut req = serde_json::Map::new();
            req.insert(
                "roleArn".into(),
                format!("arn:aws:iam::{acct}:role/{role}").into(),
            );
            req.insert("roleSessionName".into(), session.as_str().into());
            req.insert(
                "durationSeconds".into(),
                (*rng.pick(&[900u32, 3600, 3600, 43200])).into(),
            );
            if rng.chance(0.1) {
                // Inline session policies arrive as a compact JSON string.
                req.insert("policy".into(), format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\"],\"Resource\":\"arn:aws:s3:::{}/*\"}},{{\"Effect\":\"Allow\",\"Action\":\"kms:Decrypt\",\"Resource\":\"*\"}}]}}", rng.pick(&w.buckets)).into());
            }
            let mut b = Built::request(Value::Object(req));
            let role_id = format!("AROA{}", rng.upper_alnum(17));
            b.response = json!({"credentials": {"accessKeyId": format!("ASIA{}", rng.upper_alnum(16)), "sessionToken": session_token(rng), "expiration": english_date(ctx.now + 3600)}, "assumedRoleUser": {"assumedRoleId": format!("{role_id}:{session}"), "arn": format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}")}});
            b.resources = Some(
                json!([{"accountId": acct, "type": "AWS::IAM::Role", "ARN": format!("arn:aws:iam::{acct}:role/{role}")}]),
            );
            b
        }
        Shape::StsWebIdentity => {
            let role = rng.pick(&w.roles).clone();
            let session = format!("botocore-session-{}", rng.digits(10));
            let mut b = Built::request(
                json!({"roleArn": format!("arn:aws:iam::{acct}:role/{role}"), "roleSessionName": session, "durationSeconds": 3600}),
            );
            b.response = json!({"credentials": {"accessKeyId": format!("ASIA{}", rng.upper_alnum(16)), "sessionToken": session_token(rng), "expiration": english_date(ctx.now + 3600)}, "subjectFromWebIdentityToken": format!("system:serviceaccount:{}:{}", rng.pick(&ENVS), rng.pick(&w.names)), "assumedRoleUser": {"assumedRoleId": format!("AROA{}:{session}", rng.upper_alnum(17)), "arn": format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}")}, "provider": format!("arn:aws:iam::{acct}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{}", rng.upper_alnum(32)), "audience": "sts.amazonaws.com"});
            b
        }
        Shape::SsmUpdateInstanceInformation => {
            let ip = format!(
                "10.{}.{}.{}",
                rng.below(8),
                rng.below(256),
                1 + rng.below(254)
            );
            let az = format!("{region}{}", rng.pick(&["a", "b", "c"]));
            Built::request(
                json!({"instanceId": ctx.value(V::Instance, rng), "agentVersion": "3.2.2016.0", "agentStatus": "Active", "platformType": "Linux", "platformName": "Amazon Linux", "platformVersion": "2023", "iPAddress": ip, "computerName": format!("ip-{}.ec2.internal", ip.replace('.', "-")), "agentName": "amazon-ssm-agent", "availabilityZone": az, "availabilityZoneId": format!("use1-az{}", 1 + rng.below(6))}),
            )
        }
        Shape::SsmPutParameter => {
            let mut b = Built::request(
                json!({"name": ctx.value(V::Parameter, rng), "type": "SecureString", "keyId": "alias/aws/ssm", "overwrite": true, "tier": "Standard"}),
            );
            b.response = json!({"version": 1 + rng.below(40), "tier": "Standard"});
            b
        }
        Shape::SsmStartSession => {
            let session = format!("{}-{}", rng.pick(&w.users), rng.hex(17));
            let mut b = Built::request(json!({"target": ctx.value(V::Instance, rng)}));
            b.response = json!({"sessionId": session, "tokenValue": "Value hidden due to security reasons.", "streamUrl": format!("wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session}?role=publish_subscribe&cell-number={}", rng.upper_alnum(88))});
            b.html_safe = true;
            b
        }
        Shape::IamCreateRole => {
            let role = format!("{}-{}-{}", rng.pick(&w.names), rng.pick(&ENVS), rng.hex(6));
            let doc = policy_document(rng, ctx, true);
            let mut b = Built::request(
                json!({"roleName": role, "assumeRolePolicyDocument": doc, "description": "Managed by Terraform"}),
            );
            b.response = json!({"role": {"path": "/", "roleName": role, "roleId": format!("AROA{}", rng.upper_alnum(17)), "arn": format!("arn:aws:iam::{acct}:role/{role}"), "createDate": english_date(ctx.now), "assumeRolePolicyDocument": url_encode(&doc)}});
            b
        }
        Shape::IamPutRolePolicy => Built::request(
            json!({"roleName": ctx.value(V::Role, rng), "policyName": format!("{}-inline", rng.pick(&w.names)), "policyDocument": policy_document(rng, ctx, false)}),
        ),
        Shape::IamUpdateAssumeRolePolicy => Built::request(
            json!({"roleName": ctx.value(V::Role, rng), "policyDocument": policy_document(rng, ctx, true)}),
        ),
        Shape::IamCreatePolicy => {
            let name = format!("{}-{}-access", rng.pick(&w.names), rng.hex(6));
            let mut b = Built::request(
                json!({"policyName": name, "policyDocument": policy_document(rng, ctx, false), "path": "/"}),
            );
            b.response = json!({"policy": {"policyName": name, "policyId": format!("ANPA{}", rng.upper_alnum(17)), "arn": format!("arn:aws:iam::{acct}:policy/{name}"), "path": "/", "defaultVersionId": "v1", "attachmentCount": 0, "permissionsBoundaryUsageCount": 0, "isAttachable": true, "createDate": english_date(ctx.now), "updateDate": english_date(ctx.now)}});
            b
        }
        Shape::IamCreateAccessKey => {
            let user = rng.pick(&w.users).clone();
            let mut b = Built::request(json!({"userName": user}));
            b.response = json!({"accessKey": {"userName": user, "accessKeyId": format!("AKIA{}", rng.upper_alnum(16)), "status": "Active", "createDate": english_date(ctx.now)}});
            b
        }
        Shape::ConsoleLogin => {
            let mut b = Built::request(Value::Null);
            b.response =
                json!({"ConsoleLogin": if rng.chance(0.95) { "Success" } else { "Failure" }});
            b.additional = Some(
                json!({"LoginTo": format!("https://console.aws.amazon.com/console/home?region={region}&state=hashArgs%23&isauthcode=true"), "MobileVersion": "No", "MFAIdentifier": format!("arn:aws:iam::{acct}:mfa/{}", rng.pick(&w.users)), "MFAUsed": "Yes"}),
            );
            b
        }
        Shape::LogsCreateLogStream => {
            let day = iso(ctx.now);
            Built::request(
                json!({"logGroupName": ctx.value(V::LogGroup, rng), "logStreamName": format!("{}/{}/{}/[$LATEST]{}", &day[0..4], &day[5..7], &day[8..10], rng.hex(32))}),
            )
        }
        Shape::MetricData => Built::request(
            json!({"metricDataQueries": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/EC2", "metricName": "CPUUtilization", "dimensions": [{"name": "InstanceId", "value": ctx.value(V::Instance, rng)}]}, "period": 300, "stat": "Average"}, "returnData": true}], "startTime": english_date(ctx.now - 3600), "endTime": english_date(ctx.now)}),
        ),
        Shape::HealthAggregates => Built::request(
            json!({"aggregateField": "eventTypeCategory", "filter": {"eventStatusCodes": ["open", "upcoming"], "startTimes": [{"from": english_date(ctx.now - 7 * 86400)}]}}),
        ),
    }
}

/// An S3 object key as applications write them: dated data partitions, logs, uploads,
/// exports.
fn object_key(rng: &mut Rng) -> String {
    let day = format!("2024/{:02}/{:02}", 1 + rng.below(12), 1 + rng.below(28));
    let word = NAME_WORDS[rng.below(NAME_WORDS.len())];
    match rng.below(5) {
        0 => format!("data/{word}/{day}/part-{:05}.parquet", rng.below(2000)),
        1 => format!("logs/{word}/{day}/{}.log.gz", rng.hex(12)),
        2 => format!("uploads/{}/{}.jpg", rng.uuid(), rng.hex(8)),
        3 => format!("exports/{word}/{}.csv", rng.digits(10)),
        _ => format!("{word}/artifacts/build-{}.zip", rng.digits(6)),
    }
}

fn s3_additional(rng: &mut Rng) -> Value {
    json!({"SignatureVersion": "SigV4", "CipherSuite": "ECDHE-RSA-AES128-GCM-SHA256", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": format!("{}=", rng.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 75)), "bytesTransferredOut": rng.range(0, 2000)})
}

fn session_token(rng: &mut Rng) -> String {
    let len = 400 + rng.below(400);
    format!(
        "IQoJb3JpZ2luX2Vj{}",
        rng.chars(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            len
        )
    )
}

/// IAM echoes policy documents URL-encoded in responses.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TlsDetails<'a> {
    tls_version: &'a str,
    cipher_suite: &'a str,
    client_provided_host_header: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'a str,
    user_identity: UserIdentity<'a>,
    event_time: &'a str,
    event_source: &'a str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    request_parameters: Value,
    response_elements: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_event_data: Option<Value>,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<Value>,
    event_type: &'a str,
    management_event: bool,
    recipient_account_id: &'a str,
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    shared_event_id: Option<String>,
    event_category: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_details: Option<TlsDetails<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_credential_from_console: Option<&'a str>,
}

/// Who made the call, as the record will show it.
enum Caller<'w> {
    Principal(&'w Principal),
    Service(&'static str),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    principal_id: &'a str,
    arn: String,
    account_id: &'a str,
    user_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionAttributes {
    creation_date: String,
    mfa_authenticated: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    /// `{}` for users and root, the role for assumed roles.
    #[serde(serialize_with = "issuer_or_empty")]
    session_issuer: Option<SessionIssuer<'a>>,
    web_id_federation_data: Value,
    attributes: SessionAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    ec2_role_delivery: Option<&'a str>,
}

fn issuer_or_empty<S: serde::Serializer>(
    issuer: &Option<SessionIssuer<'_>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match issuer {
        Some(i) => i.serialize(s),
        None => serde_json::Map::new().serialize(s),
    }
}

/// `userIdentity` in CloudTrail's key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_context: Option<SessionContext<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'a str>,
}

fn identity<'w>(
    caller: &Caller<'w>,
    world: &'w World,
    now: i64,
    rng: &mut Rng,
) -> UserIdentity<'w> {
    match caller {
        Caller::Service(svc) => UserIdentity {
            kind: "AWSService",
            principal_id: None,
            arn: None,
            account_id: None,
            access_key_id: None,
            user_name: None,
            session_context: None,
            invoked_by: Some(svc),
        },
        Caller::Principal(p) => {
            let acct = world.accounts[p.account].as_str();
            let attributes = SessionAttributes {
                creation_date: iso(now - (rng.below(3600) as i64)),
                mfa_authenticated: if p.mfa { "true" } else { "false" },
            };
            let context = |issuer| SessionContext {
                session_issuer: issuer,
                web_id_federation_data: json!({}),
                attributes,
                ec2_role_delivery: (p.user_agent == SSM_AGENT_UA).then_some("2.0"),
            };
            match p.kind {
                Kind::AssumedRole => UserIdentity {
                    kind: "AssumedRole",
                    principal_id: Some(format!("{}:{}", p.principal_id, p.session)),
                    arn: Some(format!(
                        "arn:aws:sts::{acct}:assumed-role/{}/{}",
                        p.name, p.session
                    )),
                    account_id: Some(acct),
                    access_key_id: Some(&p.access_key),
                    user_name: None,
                    session_context: Some(context(Some(SessionIssuer {
                        kind: "Role",
                        principal_id: &p.principal_id,
                        arn: format!("arn:aws:iam::{acct}:role/{}", p.name),
                        account_id: acct,
                        user_name: &p.name,
                    }))),
                    invoked_by: None,
                },
                Kind::IamUser => UserIdentity {
                    kind: "IAMUser",
                    principal_id: Some(p.principal_id.clone()),
                    arn: Some(format!("arn:aws:iam::{acct}:user/{}", p.name)),
                    account_id: Some(acct),
                    access_key_id: Some(&p.access_key),
                    user_name: Some(&p.name),
                    session_context: p.access_key.starts_with("ASIA").then(|| context(None)),
                    invoked_by: None,
                },
                Kind::Root => UserIdentity {
                    kind: "Root",
                    principal_id: Some(acct.to_string()),
                    arn: Some(format!("arn:aws:iam::{acct}:root")),
                    account_id: Some(acct),
                    access_key_id: Some(&p.access_key),
                    user_name: None,
                    session_context: Some(context(None)),
                    invoked_by: None,
                },
            }
        }
    }
}

/// The service principal that invokes a call on a user's behalf, for calls services often make.
fn service_caller(spec: &EventSpec, rng: &mut Rng) -> Option<&'static str> {
    let (p, services): (f64, &[&'static str]) = match (spec.service, spec.name) {
        ("sts", "AssumeRole") => (
            0.45,
            &[
                "ec2.amazonaws.com",
                "lambda.amazonaws.com",
                "ecs-tasks.amazonaws.com",
                "config.amazonaws.com",
            ],
        ),
        ("kms", "Decrypt" | "GenerateDataKey" | "Encrypt") => (
            0.2,
            &[
                "cloudtrail.amazonaws.com",
                "logs.amazonaws.com",
                "secretsmanager.amazonaws.com",
            ],
        ),
        ("logs", "CreateLogStream") => (0.5, &["lambda.amazonaws.com"]),
        ("config", "PutEvaluations") => (1.0, &["config.amazonaws.com"]),
        _ => return None,
    };
    rng.chance(p).then(|| *rng.pick(services))
}

fn error_for(spec: &EventSpec, caller_arn: &str, rng: &mut Rng) -> Option<(&'static str, String)> {
    if let Some((code, msg, per_mille)) = spec.typical_error
        && rng.below(1000) < per_mille as usize
    {
        return Some((code, msg.to_string()));
    }
    if !rng.chance(0.012) {
        return None;
    }
    let svc = spec.service;
    Some(match rng.below(3) {
        0 => ("ThrottlingException", "Rate exceeded".to_string()),
        _ if svc == "ec2" => (
            "Client.UnauthorizedOperation",
            format!(
                "You are not authorized to perform this operation. User: {caller_arn} is not authorized to perform: ec2:{} because no identity-based policy allows the ec2:{} action",
                spec.name, spec.name
            ),
        ),
        _ => (
            "AccessDenied",
            format!(
                "User: {caller_arn} is not authorized to perform: {svc}:{} because no identity-based policy allows the {svc}:{} action",
                spec.name, spec.name
            ),
        ),
    })
}

/// The generator's state: world, clock, counters.
pub struct Generator {
    rng: Rng,
    profile: TrailProfile,
    world: World,
    events: Weighted,
    regions: Weighted,
    millis: i64,
    counter: u64,
    time_cache: (i64, String),
}

const START_SECS: i64 = 1_709_510_400; // 2024-03-04T00:00:00Z

impl Generator {
    pub fn new(seed: u64) -> Self {
        Self::with_profile(seed, TrailProfile::Default)
    }

    /// A generator of `profile`'s trail. The default profile draws exactly what it always
    /// drew; the others draw their additions from a second stream.
    pub fn with_profile(seed: u64, profile: TrailProfile) -> Self {
        let mut rng = Rng::new(seed);
        let mut world = World::new(&mut rng);
        if profile == TrailProfile::ManyKeys {
            world.add_long_term_key_users(&mut Rng::new(seed ^ 0x6d61_6e79_6b65_7973));
        }
        Generator {
            rng,
            profile,
            world,
            events: Weighted::new(EVENTS.iter().map(|e| e.weight)),
            regions: Weighted::new(REGIONS.iter().map(|r| r.1)),
            millis: START_SECS * 1000,
            counter: 0,
            time_cache: (i64::MIN, String::new()),
        }
    }

    fn tick(&mut self) -> i64 {
        self.millis += self.rng.below(120) as i64;
        let secs = self.millis.div_euclid(1000);
        if self.time_cache.0 != secs {
            self.time_cache = (secs, iso(secs));
        }
        secs
    }

    /// Appends the next background record to `out` (no newline) and returns its facts.
    pub fn next_record(&mut self, out: &mut Vec<u8>, profile: &mut Profile) {
        if self.profile == TrailProfile::S3DataEvents {
            let draw = self.rng.below(1000);
            if draw < GET_OBJECT_PER_MILLE + PUT_OBJECT_PER_MILLE {
                let put = draw >= GET_OBJECT_PER_MILLE;
                let spec = EventSpec {
                    service: "s3",
                    name: if put { "PutObject" } else { "GetObject" },
                    weight: 0,
                    read_only: !put,
                    shape: Shape::S3Object(put),
                    typical_error: None,
                };
                self.emit(&spec, None, out, profile);
                return;
            }
        }
        let spec = EVENTS[self.events.sample(&mut self.rng)];
        self.emit(&spec, None, out, profile);
    }

    /// Appends one injected seed-rule record.
    pub fn injected_record(&mut self, which: Injection, out: &mut Vec<u8>, profile: &mut Profile) {
        let name = match which {
            Injection::SendCommandSuccess | Injection::SendCommandFailure => "SendCommand",
            _ => "ModifyImageAttribute",
        };
        let service = if name == "SendCommand" { "ssm" } else { "ec2" };
        let spec = EventSpec {
            service,
            name,
            weight: 0,
            read_only: false,
            shape: Shape::Null,
            typical_error: None,
        };
        self.emit(&spec, Some(which), out, profile);
    }

    /// Appends one `--esql-cases` instance: its records, separated by `separator`. Returns
    /// how many records it wrote and the times (ms) of its first and last.
    fn esql_case(
        &mut self,
        case: usize,
        instance: u64,
        separator: u8,
        out: &mut Vec<u8>,
        profile: &mut Profile,
    ) -> (u64, i64, i64) {
        let (principals, records) = (CASES[case].build)(&mut CaseCtx {
            rng: &mut self.rng,
            accounts: &self.world.accounts,
            instance,
        });
        let mut first = None;
        let mut last = 0;
        for (i, record) in records.iter().enumerate() {
            if i > 0 {
                out.push(separator);
            }
            let secs = if i == 0 {
                self.tick()
            } else {
                self.millis += record.delay_ms;
                let secs = self.millis.div_euclid(1000);
                if self.time_cache.0 != secs {
                    self.time_cache = (secs, iso(secs));
                }
                secs
            };
            first.get_or_insert(secs * 1000);
            last = secs * 1000;
            self.emit_case_record(record, &principals[record.caller], secs, out, profile);
        }
        (records.len() as u64, first.unwrap_or(last), last)
    }

    fn emit_case_record(
        &mut self,
        r: &CaseRecord,
        p: &Principal,
        now: i64,
        out: &mut Vec<u8>,
        profile: &mut Profile,
    ) {
        let rng = &mut self.rng;
        let world = &self.world;
        let user_identity = identity(&Caller::Principal(p), world, now, rng);
        let identity_type = user_identity.kind;
        let account = world.accounts[p.account].as_str();
        let event_source = format!("{}.amazonaws.com", r.service);
        let event_id = {
            self.counter += 1;
            let hi = rng.u64();
            let lo = (rng.u64() & !((1 << 48) - 1)) | mix48(self.counter);
            format_uuid(hi, lo)
        };
        let record = Record {
            event_version: "1.09",
            user_identity,
            event_time: &self.time_cache.1,
            event_source: &event_source,
            event_name: r.name,
            aws_region: r.region,
            source_ip_address: &p.source_ip,
            user_agent: r.user_agent,
            error_code: r.error.as_ref().map(|e| e.0),
            error_message: r.error.as_ref().map(|e| e.1.clone()),
            request_parameters: r.request.clone(),
            response_elements: r.response.clone(),
            additional_event_data: r.additional.clone(),
            request_id: rng.uuid(),
            event_id,
            read_only: r.read_only,
            resources: r.resources.clone(),
            event_type: "AwsApiCall",
            management_event: !r.data,
            recipient_account_id: account,
            shared_event_id: None,
            event_category: if r.data { "Data" } else { "Management" },
            tls_details: Some(TlsDetails {
                tls_version: "TLSv1.3",
                cipher_suite: "TLS_AES_128_GCM_SHA256",
                client_provided_host_header: format!("{}.{}.amazonaws.com", r.service, r.region),
            }),
            session_credential_from_console: None,
        };
        let start = out.len();
        serde_json::to_writer(&mut *out, &record).expect("serializing to a Vec cannot fail");
        if let Some(raw) = &r.request_json {
            // The top-level `"requestParameters":null` (nested text cannot hold it unescaped).
            let text = String::from_utf8_lossy(&out[start..]).replacen(
                "\"requestParameters\":null",
                &format!("\"requestParameters\":{raw}"),
                1,
            );
            out.truncate(start);
            out.extend_from_slice(text.as_bytes());
        }
        profile.observe(
            &RecordFacts {
                event_name: r.name,
                event_source: &event_source,
                identity_type,
                read_only: r.read_only,
                error: r.error.is_some(),
            },
            &out[start..],
        );
    }

    fn emit(
        &mut self,
        spec: &EventSpec,
        injection: Option<Injection>,
        out: &mut Vec<u8>,
        profile: &mut Profile,
    ) {
        let now = self.tick();
        let rng = &mut self.rng;
        let world = &self.world;
        let region = REGIONS[self.regions.sample(rng)].0;
        let agent_call = spec.service == "ssm"
            && matches!(
                spec.name,
                "UpdateInstanceInformation"
                    | "ListInstanceAssociations"
                    | "PutInventory"
                    | "UpdateInstanceAssociationStatus"
            );
        let caller = if injection.is_some() {
            Caller::Principal(&world.principals[rng.below(8)])
        } else if agent_call {
            Caller::Principal(rng.pick(&world.instance_roles))
        } else if let Some(svc) = service_caller(spec, rng) {
            Caller::Service(svc)
        } else {
            Caller::Principal(&world.principals[world.principal_weights.sample(rng)])
        };
        let account = match &caller {
            Caller::Principal(p) => world.accounts[p.account].as_str(),
            Caller::Service(_) => world.accounts[0].as_str(),
        };
        let ctx = Ctx {
            world,
            account,
            region,
            now,
        };
        let user_identity = identity(&caller, world, now, rng);
        let identity_type = user_identity.kind;
        let caller_arn = user_identity.arn.clone().unwrap_or_default();
        let (source_ip, user_agent, console) = match &caller {
            Caller::Service(svc) => (*svc, *svc, false),
            Caller::Principal(p) => {
                if !agent_call && rng.chance(0.08) {
                    ("AWS Internal", "AWS Internal", p.console)
                } else {
                    (p.source_ip.as_str(), p.user_agent, p.console)
                }
            }
        };
        let mut error = None;
        let mut built = match injection {
            Some(which) => {
                let (b, e) = injected(which, &ctx, rng);
                error = e;
                b
            }
            None => build(spec, &ctx, rng),
        };
        if injection.is_none() && !matches!(spec.shape, Shape::ConsoleLogin) {
            error = error_for(spec, &caller_arn, rng);
        }
        if error.is_some() {
            built.response = Value::Null;
        }
        let event_type = match (spec.shape, &caller) {
            (Shape::ConsoleLogin, _) => "AwsConsoleSignIn",
            (_, Caller::Service(_)) if rng.chance(0.3) => "AwsServiceEvent",
            _ => "AwsApiCall",
        };
        let tls =
            (source_ip != "AWS Internal" && !matches!(caller, Caller::Service(_))).then(|| {
                TlsDetails {
                    tls_version: if rng.chance(0.85) {
                        "TLSv1.3"
                    } else {
                        "TLSv1.2"
                    },
                    cipher_suite: if rng.chance(0.85) {
                        "TLS_AES_128_GCM_SHA256"
                    } else {
                        "ECDHE-RSA-AES128-GCM-SHA256"
                    },
                    client_provided_host_header: if spec.service == "s3" {
                        format!("s3.{region}.amazonaws.com")
                    } else {
                        format!("{}.{region}.amazonaws.com", spec.service)
                    },
                }
            });
        let shared_event_id =
            (matches!(caller, Caller::Service(_)) && spec.name == "AssumeRole").then(|| rng.uuid());
        let request_id = if spec.service == "s3" {
            rng.upper_alnum(16)
        } else {
            rng.uuid()
        };
        let version = if rng.chance(0.1) { "1.09" } else { "1.08" };
        let event_source = format!("{}.amazonaws.com", spec.service);
        let event_id = {
            self.counter += 1;
            let hi = self.rng.u64();
            let lo = (self.rng.u64() & !((1 << 48) - 1)) | mix48(self.counter);
            format_uuid(hi, lo)
        };
        let data_event = matches!(spec.shape, Shape::S3Object(_));
        let record = Record {
            event_version: version,
            user_identity,
            event_time: &self.time_cache.1,
            event_source: &event_source,
            event_name: spec.name,
            aws_region: region,
            source_ip_address: source_ip,
            user_agent,
            error_code: error.as_ref().map(|e| e.0),
            error_message: error
                .as_ref()
                .map(|e| e.1.clone())
                .filter(|m| !m.is_empty()),
            request_parameters: built.request,
            response_elements: built.response,
            additional_event_data: built.additional,
            request_id,
            event_id,
            read_only: spec.read_only,
            resources: built.resources,
            event_type,
            management_event: !data_event,
            recipient_account_id: account,
            shared_event_id,
            event_category: if data_event { "Data" } else { "Management" },
            tls_details: tls,
            session_credential_from_console: console.then_some("true"),
        };
        let start = out.len();
        serde_json::to_writer(&mut *out, &record).expect("serializing to a Vec cannot fail");
        if built.html_safe {
            html_safe_escape(out, start);
        }
        profile.observe(
            &RecordFacts {
                event_name: spec.name,
                event_source: &event_source,
                identity_type,
                read_only: spec.read_only,
                error: error.is_some(),
            },
            &out[start..],
        );
    }
}

/// Rewrites `&`, `=`, `<`, `>` from `start` on as `\u00XX`, as Gson's HTML-safe mode does (some
/// services' records arrive this way). Valid because those bytes only occur inside strings.
fn html_safe_escape(out: &mut Vec<u8>, start: usize) {
    let tail = out.split_off(start);
    for b in tail {
        match b {
            b'&' | b'=' | b'<' | b'>' => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            _ => out.push(b),
        }
    }
}

/// An AMI id whose text cannot contain `add` (hex can), so near misses stay near misses.
fn ami_id(rng: &mut Rng) -> String {
    loop {
        let id = format!("ami-0{}", rng.hex(16));
        if !id.contains("add") {
            return id;
        }
    }
}

fn injected(
    which: Injection,
    ctx: &Ctx<'_>,
    rng: &mut Rng,
) -> (Built, Option<(&'static str, String)>) {
    let (acct, region) = (ctx.account, ctx.region);
    match which {
        Injection::SendCommandSuccess | Injection::SendCommandFailure => {
            let instance = ctx.value(V::Instance, rng);
            let document = *rng.pick(&["AWS-RunShellScript", "AWS-RunPowerShellScript"]);
            let mut b = Built::request(
                json!({"instanceIds": [instance], "documentName": document, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "interactive": false, "cloudWatchOutputConfig": {"cloudWatchOutputEnabled": false}}),
            );
            b.resources = Some(
                json!([{"accountId": acct, "type": "AWS::EC2::Instance", "ARN": format!("arn:aws:ec2:{region}:{acct}:instance/{}", instance.as_str().unwrap_or_default())}]),
            );
            if which == Injection::SendCommandFailure {
                let err = if rng.chance(0.5) {
                    (
                        "InvalidInstanceId",
                        "Instances [[".to_string()
                            + instance.as_str().unwrap_or_default()
                            + "]] not in a valid state for account "
                            + acct,
                    )
                } else {
                    (
                        "AccessDenied",
                        format!(
                            "User is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:{region}:{acct}:instance/{}",
                            instance.as_str().unwrap_or_default()
                        ),
                    )
                };
                return (b, Some(err));
            }
            b.response = json!({"command": {"commandId": rng.uuid(), "documentName": document, "documentVersion": "$DEFAULT", "comment": "", "expiresAfter": english_date(ctx.now + 5400), "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "instanceIds": [instance], "targets": [], "requestedDateTime": english_date(ctx.now), "status": "Pending", "statusDetails": "Pending", "outputS3Region": region, "outputS3BucketName": "", "outputS3KeyPrefix": "", "maxConcurrency": "50", "maxErrors": "0", "targetCount": 1, "completedCount": 0, "errorCount": 0, "deliveryTimedOutCount": 0, "serviceRole": "", "notificationConfig": {"notificationArn": "", "notificationEvents": [], "notificationType": ""}, "cloudWatchOutputConfig": {"cloudWatchLogGroupName": "", "cloudWatchOutputEnabled": false}, "timeoutSeconds": 3600, "alarmConfiguration": {"ignorePollAlarmFailure": false, "alarms": []}, "triggeredAlarms": []}});
            (b, None)
        }
        _ => {
            let image = ami_id(rng);
            let target = format!("{}", rng.range(100_000_000_000, 999_999_999_999));
            let permission = match which {
                Injection::AmiRemoveNearMiss => json!({"remove": {"items": [{"userId": target}]}}),
                Injection::AmiPublicNearMiss => json!({"add": {"items": [{"group": "all"}]}}),
                _ => json!({"add": {"items": [{"userId": target}]}}),
            };
            let mut b = Built::request(
                json!({"imageId": image, "launchPermission": permission, "attributeType": "launchPermission"}),
            );
            b.response = json!({"requestId": rng.uuid(), "_return": true});
            let error = (which == Injection::AmiShareFailure).then(|| {
                (
                    "Client.AuthFailure",
                    format!("Not authorized for image:{image}"),
                )
            });
            (b, error)
        }
    }
}

/// Writes records until `size` bytes are out; injections sit at fixed fractions of `size`.
pub fn generate(
    seed: u64,
    size: u64,
    format: Format,
    sink: &mut dyn Write,
) -> std::io::Result<Summary> {
    generate_profile(seed, size, format, TrailProfile::Default, sink)
}

/// [`generate`] for a [`TrailProfile`].
pub fn generate_profile(
    seed: u64,
    size: u64,
    format: Format,
    trail: TrailProfile,
    sink: &mut dyn Write,
) -> std::io::Result<Summary> {
    generate_with(seed, size, format, trail, false, sink)
}

/// [`generate_profile`], with the ES|QL rules' hits and near misses (`--esql-cases`) when
/// `esql_cases` is set: spread evenly through the file like the seed-rule cases, their counts
/// and expected alerts in [`Summary::esql`]. Without it the output is byte-identical to
/// [`generate_profile`]'s.
pub fn generate_with(
    seed: u64,
    size: u64,
    format: Format,
    trail: TrailProfile,
    esql_cases: bool,
    sink: &mut dyn Write,
) -> std::io::Result<Summary> {
    let mut generator = Generator::with_profile(seed, trail);
    // (position, case index, instance number), in position order.
    let mut esql_schedule: Vec<(u64, usize, u64)> = Vec::new();
    if esql_cases {
        for (c, case) in CASES.iter().enumerate() {
            let n = case.planned(size);
            for i in 0..n {
                // Offset from the seed-rule cases' positions by a third of a slot.
                let at = size as u128 * (6 * i as u128 + 2) / (6 * n as u128);
                esql_schedule.push((at as u64, c, i));
            }
        }
        esql_schedule.sort();
    }
    let mut esql: Vec<EsqlCaseCount> = CASES
        .iter()
        .map(|c| EsqlCaseCount {
            key: c.key,
            rule: c.rule,
            injected: 0,
            expected_alerts: 0,
        })
        .collect();
    let mut next_esql = 0;
    let mut profile = Profile::default();
    let mut schedule: Vec<(u64, Injection)> = Vec::new();
    for which in Injection::ALL {
        let n = which.planned(size);
        for i in 0..n {
            schedule.push((
                (size as u128 * (2 * i as u128 + 1) / (2 * n as u128)) as u64,
                which,
            ));
        }
    }
    schedule.sort_by_key(|(at, w)| (*at, Injection::ALL.iter().position(|x| x == w)));
    let mut next = 0;
    let mut injected: Vec<(Injection, u64)> = Injection::ALL.iter().map(|w| (*w, 0)).collect();
    let mut written: u64 = 0;
    let mut records = 0u64;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    if format != Format::Jsonl {
        buf.extend_from_slice(b"{\"Records\":[");
    }
    while written + (buf.len() as u64) < size
        || next < schedule.len()
        || next_esql < esql_schedule.len()
    {
        if records > 0 && format != Format::Jsonl {
            buf.push(b',');
        }
        if next_esql < esql_schedule.len()
            && written + buf.len() as u64 >= esql_schedule[next_esql].0
        {
            let (_, case, instance) = esql_schedule[next_esql];
            let separator = if format == Format::Jsonl { b'\n' } else { b',' };
            let (n, first, last) =
                generator.esql_case(case, instance, separator, &mut buf, &mut profile);
            esql[case].injected += 1;
            esql[case].expected_alerts += CASES[case].alerting.expected(first, last);
            records += n - 1;
            next_esql += 1;
        } else if next < schedule.len() && written + buf.len() as u64 >= schedule[next].0 {
            let which = schedule[next].1;
            generator.injected_record(which, &mut buf, &mut profile);
            injected
                .iter_mut()
                .find(|(w, _)| *w == which)
                .expect("all kinds listed")
                .1 += 1;
            next += 1;
        } else {
            generator.next_record(&mut buf, &mut profile);
        }
        if format == Format::Jsonl {
            buf.push(b'\n');
        }
        records += 1;
        if buf.len() >= (1 << 20) {
            sink.write_all(&buf)?;
            written += buf.len() as u64;
            buf.clear();
        }
    }
    if format != Format::Jsonl {
        buf.extend_from_slice(b"]}\n");
    }
    sink.write_all(&buf)?;
    written += buf.len() as u64;
    sink.flush()?;
    Ok(Summary {
        records,
        bytes_written: written,
        injected,
        profile,
        esql: if esql_cases { esql } else { Vec::new() },
    })
}
