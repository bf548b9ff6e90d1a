//! The background event mix: which API calls a realistic trail contains, how often, and the
//! shape of their parameters. Weights follow the read-heavy pattern of real trails
//! (Describe*/List*/Get* dominate; AssumeRole, Decrypt, GenerateDataKey and SSM agent calls are
//! the usual top talkers) and were checked against the invictus-ir profile.

/// A value generator for one request parameter.
#[derive(Clone, Copy, Debug)]
pub enum V {
    Lit(&'static str),
    Int(u32, u32),
    Bool,
    Instance,
    InstanceList,
    Vpc,
    Subnet,
    SecurityGroup,
    Volume,
    Snapshot,
    Image,
    Bucket,
    Role,
    RoleArn,
    User,
    PolicyArn,
    Secret,
    SecretArn,
    Parameter,
    ParameterPath,
    KeyArn,
    LogGroup,
    Function,
    Table,
    Cluster,
    Stack,
    DbInstance,
    DbArn,
    TrailArn,
    TargetGroupArn,
    LoadBalancerArn,
    AutoScalingGroup,
    Repository,
    Detector,
    HostedZone,
    Alarm,
    Uuid,
    Account,
    EmptyObject,
    EmptyList,
}

/// How requestParameters / responseElements / resources are built for a call.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// `requestParameters: null`.
    Null,
    /// A flat object of generated values; `responseElements: null`.
    Obj(&'static [(&'static str, V)]),
    /// EC2 Describe* with an item set and a filter set (`{"xSet":{},"filterSet":{...}}`).
    Ec2Describe(&'static str, &'static str),
    Ec2InstanceState(&'static str, u32, &'static str),
    Ec2CreateTags,
    Ec2RunInstances,
    Ec2AuthorizeIngress,
    Ec2CreateSnapshot,
    Ec2NetworkInterface,
    S3Bucket(&'static str),
    /// An S3 data event on one object (`GetObject`: `false`, `PutObject`: `true`), logged
    /// only when the trail records data events (profile `s3-data-events`).
    S3Object(bool),
    S3ListBuckets,
    S3PutBucketPolicy,
    KmsCrypto(bool),
    StsAssumeRole,
    StsWebIdentity,
    SsmUpdateInstanceInformation,
    SsmPutParameter,
    SsmStartSession,
    IamCreateRole,
    IamPutRolePolicy,
    IamCreatePolicy,
    IamCreateAccessKey,
    IamUpdateAssumeRolePolicy,
    ConsoleLogin,
    LogsCreateLogStream,
    MetricData,
    HealthAggregates,
}

/// One API call in the background mix.
#[derive(Clone, Copy, Debug)]
pub struct EventSpec {
    pub service: &'static str,
    pub name: &'static str,
    pub weight: u32,
    pub read_only: bool,
    pub shape: Shape,
    /// A service-specific error this call often returns (code, message, per-mille).
    pub typical_error: Option<(&'static str, &'static str, u32)>,
}

const fn ev(service: &'static str, name: &'static str, weight: u32, shape: Shape) -> EventSpec {
    let read_only = matches!(name.as_bytes()[0], b'D' | b'L' | b'G' | b'H')
        && !starts_with(name, "Delete")
        && !starts_with(name, "Detach")
        && !starts_with(name, "Generate");
    EventSpec {
        service,
        name,
        weight,
        read_only,
        shape,
        typical_error: None,
    }
}

const fn err(
    mut e: EventSpec,
    code: &'static str,
    message: &'static str,
    per_mille: u32,
) -> EventSpec {
    e.typical_error = Some((code, message, per_mille));
    e
}

const fn ro(mut e: EventSpec, read_only: bool) -> EventSpec {
    e.read_only = read_only;
    e
}

const fn starts_with(s: &str, prefix: &str) -> bool {
    let (s, p) = (s.as_bytes(), prefix.as_bytes());
    if s.len() < p.len() {
        return false;
    }
    let mut i = 0;
    while i < p.len() {
        if s[i] != p[i] {
            return false;
        }
        i += 1;
    }
    true
}

use Shape::*;
use V::*;

const EC2: &str = "ec2";
const SSM: &str = "ssm";
const IAM: &str = "iam";
const S3: &str = "s3";
const KMS: &str = "kms";
const STS: &str = "sts";
const SM: &str = "secretsmanager";
const LOGS: &str = "logs";
const CW: &str = "monitoring";
const RDS: &str = "rds";
const LAMBDA: &str = "lambda";
const CT: &str = "cloudtrail";

/// The background catalog. SendCommand and ModifyImageAttribute are absent on purpose: they
/// appear only where the generator injects seed-rule hits and near misses, so counts are exact.
pub static EVENTS: &[EventSpec] = &[
    // EC2: the largest read-only producer in most trails.
    ev(
        EC2,
        "DescribeInstances",
        420,
        Ec2Describe("instancesSet", "instance-state-name"),
    ),
    ev(
        EC2,
        "DescribeRouteTables",
        230,
        Ec2Describe("routeTableIdSet", "vpc-id"),
    ),
    ev(EC2, "DescribeVpcs", 160, Ec2Describe("vpcSet", "isDefault")),
    ev(
        EC2,
        "DescribeSubnets",
        180,
        Ec2Describe("subnetSet", "vpc-id"),
    ),
    ev(
        EC2,
        "DescribeSecurityGroups",
        220,
        Ec2Describe("securityGroupIdSet", "vpc-id"),
    ),
    ev(
        EC2,
        "DescribeNetworkInterfaces",
        170,
        Ec2Describe("networkInterfaceIdSet", "attachment.instance-id"),
    ),
    ev(
        EC2,
        "DescribeVolumes",
        150,
        Ec2Describe("volumeSet", "attachment.instance-id"),
    ),
    ev(
        EC2,
        "DescribeSnapshots",
        90,
        Ec2Describe("snapshotSet", "owner-id"),
    ),
    ev(EC2, "DescribeImages", 110, Ec2Describe("imagesSet", "name")),
    ev(
        EC2,
        "DescribeInstanceStatus",
        170,
        Ec2Describe("instancesSet", "instance-status.status"),
    ),
    ev(
        EC2,
        "DescribeTags",
        100,
        Ec2Describe("tagSet", "resource-id"),
    ),
    ev(
        EC2,
        "DescribeAvailabilityZones",
        80,
        Ec2Describe("availabilityZoneSet", "region-name"),
    ),
    ev(
        EC2,
        "DescribeAccountAttributes",
        60,
        Ec2Describe("accountAttributeNameSet", "attribute-name"),
    ),
    ev(
        EC2,
        "DescribeNatGateways",
        70,
        Ec2Describe("natGatewayIdSet", "vpc-id"),
    ),
    ev(
        EC2,
        "DescribeVpcAttribute",
        50,
        Obj(&[("vpcId", Vpc), ("attribute", Lit("enableDnsSupport"))]),
    ),
    ev(
        EC2,
        "DescribeNetworkAcls",
        50,
        Ec2Describe("networkAclIdSet", "vpc-id"),
    ),
    ev(
        EC2,
        "DescribeAddresses",
        50,
        Ec2Describe("publicIpsSet", "domain"),
    ),
    ev(
        EC2,
        "DescribeKeyPairs",
        35,
        Ec2Describe("keySet", "key-name"),
    ),
    ev(
        EC2,
        "DescribeLaunchTemplates",
        35,
        Ec2Describe("launchTemplateIdSet", "tag:Name"),
    ),
    ev(
        EC2,
        "DescribeRegions",
        50,
        Ec2Describe("regionSet", "opt-in-status"),
    ),
    ev(
        EC2,
        "DescribeInstanceAttribute",
        25,
        Obj(&[("instanceId", Instance), ("attribute", Lit("userData"))]),
    ),
    err(
        ev(
            EC2,
            "DescribeImageAttribute",
            8,
            Obj(&[("imageId", Image), ("attribute", Lit("launchPermission"))]),
        ),
        "Client.InvalidAMIID.NotFound",
        "The image id does not exist",
        100,
    ),
    ev(EC2, "CreateTags", 40, Ec2CreateTags),
    ev(EC2, "RunInstances", 10, Ec2RunInstances),
    ev(
        EC2,
        "StartInstances",
        7,
        Ec2InstanceState("StartInstances", 0, "pending"),
    ),
    ev(
        EC2,
        "StopInstances",
        7,
        Ec2InstanceState("StopInstances", 64, "stopping"),
    ),
    ev(
        EC2,
        "TerminateInstances",
        6,
        Ec2InstanceState("TerminateInstances", 32, "shutting-down"),
    ),
    ev(EC2, "AuthorizeSecurityGroupIngress", 6, Ec2AuthorizeIngress),
    ev(EC2, "CreateSnapshot", 8, Ec2CreateSnapshot),
    ev(EC2, "CreateNetworkInterface", 10, Ec2NetworkInterface),
    ro(
        ev(
            EC2,
            "DeleteNetworkInterface",
            10,
            Obj(&[("networkInterfaceId", Uuid)]),
        ),
        false,
    ),
    ev(EC2, "GetPasswordData", 2, Obj(&[("instanceId", Instance)])),
    // SSM: agents check in constantly; parameters are read everywhere.
    ev(
        SSM,
        "UpdateInstanceInformation",
        380,
        SsmUpdateInstanceInformation,
    ),
    err(
        ev(
            SSM,
            "GetParameter",
            240,
            Obj(&[("name", Parameter), ("withDecryption", Bool)]),
        ),
        "ParameterNotFound",
        "",
        30,
    ),
    ev(
        SSM,
        "GetParameters",
        110,
        Obj(&[("names", Parameter), ("withDecryption", Bool)]),
    ),
    ev(
        SSM,
        "GetParametersByPath",
        75,
        Obj(&[
            ("path", ParameterPath),
            ("recursive", Bool),
            ("withDecryption", Bool),
        ]),
    ),
    ev(
        SSM,
        "DescribeParameters",
        95,
        Obj(&[("maxResults", Int(10, 50)), ("parameterFilters", EmptyList)]),
    ),
    ev(
        SSM,
        "DescribeInstanceInformation",
        75,
        Obj(&[
            ("maxResults", Int(5, 50)),
            ("instanceInformationFilterList", EmptyList),
        ]),
    ),
    ev(
        SSM,
        "ListInstanceAssociations",
        60,
        Obj(&[("instanceId", Instance), ("maxResults", Int(20, 50))]),
    ),
    ev(
        SSM,
        "ListAssociations",
        50,
        Obj(&[("maxResults", Int(10, 50))]),
    ),
    ev(
        SSM,
        "DescribeAssociation",
        35,
        Obj(&[("associationId", Uuid), ("instanceId", Instance)]),
    ),
    ev(SSM, "ListCommands", 28, Obj(&[("commandId", Uuid)])),
    ev(
        SSM,
        "ListCommandInvocations",
        28,
        Obj(&[("commandId", Uuid), ("details", Bool)]),
    ),
    ev(
        SSM,
        "GetCommandInvocation",
        20,
        Obj(&[("commandId", Uuid), ("instanceId", Instance)]),
    ),
    ro(
        ev(
            SSM,
            "PutInventory",
            35,
            Obj(&[("instanceId", Instance), ("items", EmptyList)]),
        ),
        false,
    ),
    ro(
        ev(
            SSM,
            "UpdateInstanceAssociationStatus",
            35,
            Obj(&[("associationId", Uuid), ("instanceId", Instance)]),
        ),
        false,
    ),
    ev(SSM, "PutParameter", 12, SsmPutParameter),
    err(
        ev(SSM, "DeleteParameter", 6, Obj(&[("name", Parameter)])),
        "ParameterNotFound",
        "",
        100,
    ),
    ev(SSM, "StartSession", 5, SsmStartSession),
    ev(SSM, "GetConnectionStatus", 5, Obj(&[("target", Instance)])),
    // IAM: reads from auditing tools and IaC plans; writes are rare but carry policy documents.
    err(
        ev(IAM, "GetUser", 95, Obj(&[("userName", User)])),
        "NoSuchEntityException",
        "The user with name ops-deploy cannot be found.",
        20,
    ),
    err(
        ev(IAM, "GetRole", 115, Obj(&[("roleName", Role)])),
        "NoSuchEntityException",
        "The role with name app-role cannot be found.",
        20,
    ),
    ev(IAM, "ListRoles", 50, Obj(&[("maxItems", Int(100, 1000))])),
    ev(IAM, "ListUsers", 35, Obj(&[("maxItems", Int(100, 1000))])),
    ev(
        IAM,
        "ListAttachedRolePolicies",
        80,
        Obj(&[("roleName", Role)]),
    ),
    ev(IAM, "ListRolePolicies", 60, Obj(&[("roleName", Role)])),
    ev(
        IAM,
        "GetRolePolicy",
        40,
        Obj(&[("roleName", Role), ("policyName", Lit("inline-access"))]),
    ),
    ev(IAM, "GetPolicy", 55, Obj(&[("policyArn", PolicyArn)])),
    ev(
        IAM,
        "GetPolicyVersion",
        55,
        Obj(&[("policyArn", PolicyArn), ("versionId", Lit("v1"))]),
    ),
    ev(
        IAM,
        "ListPolicies",
        25,
        Obj(&[("scope", Lit("Local")), ("onlyAttached", Bool)]),
    ),
    ev(IAM, "ListAccessKeys", 40, Obj(&[("userName", User)])),
    ev(IAM, "GetAccountSummary", 12, Null),
    ev(
        IAM,
        "ListInstanceProfilesForRole",
        30,
        Obj(&[("roleName", Role)]),
    ),
    ev(IAM, "ListGroupsForUser", 20, Obj(&[("userName", User)])),
    ev(IAM, "ListMFADevices", 20, Obj(&[("userName", User)])),
    ev(IAM, "GetAccountPasswordPolicy", 8, Null),
    ev(IAM, "CreateRole", 14, IamCreateRole),
    ev(IAM, "PutRolePolicy", 14, IamPutRolePolicy),
    ev(IAM, "CreatePolicy", 8, IamCreatePolicy),
    ev(IAM, "UpdateAssumeRolePolicy", 6, IamUpdateAssumeRolePolicy),
    ev(
        IAM,
        "AttachRolePolicy",
        8,
        Obj(&[("roleName", Role), ("policyArn", PolicyArn)]),
    ),
    ev(
        IAM,
        "DetachRolePolicy",
        4,
        Obj(&[("roleName", Role), ("policyArn", PolicyArn)]),
    ),
    ev(IAM, "DeleteRole", 4, Obj(&[("roleName", Role)])),
    ev(
        IAM,
        "TagRole",
        4,
        Obj(&[("roleName", Role), ("tags", EmptyList)]),
    ),
    ev(IAM, "CreateAccessKey", 3, IamCreateAccessKey),
    // S3 bucket-level management calls (config scanners ask for every sub-resource).
    ev(S3, "GetBucketAcl", 140, S3Bucket("acl")),
    ev(S3, "GetBucketLocation", 140, S3Bucket("location")),
    ev(S3, "ListBuckets", 70, S3ListBuckets),
    err(
        ev(S3, "GetBucketPolicy", 55, S3Bucket("policy")),
        "NoSuchBucketPolicy",
        "The bucket policy does not exist",
        450,
    ),
    ev(S3, "GetBucketVersioning", 55, S3Bucket("versioning")),
    err(
        ev(S3, "GetBucketEncryption", 45, S3Bucket("encryption")),
        "ServerSideEncryptionConfigurationNotFoundError",
        "The server side encryption configuration was not found",
        150,
    ),
    err(
        ev(S3, "GetBucketTagging", 55, S3Bucket("tagging")),
        "NoSuchTagSet",
        "The TagSet does not exist",
        400,
    ),
    err(
        ev(
            S3,
            "GetBucketPublicAccessBlock",
            55,
            S3Bucket("publicAccessBlock"),
        ),
        "NoSuchPublicAccessBlockConfiguration",
        "The public access block configuration was not found",
        300,
    ),
    ev(S3, "GetBucketLogging", 35, S3Bucket("logging")),
    err(
        ev(
            S3,
            "GetBucketOwnershipControls",
            25,
            S3Bucket("ownershipControls"),
        ),
        "OwnershipControlsNotFoundError",
        "The bucket ownership controls were not found",
        300,
    ),
    err(
        ev(S3, "GetBucketCors", 25, S3Bucket("cors")),
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
        700,
    ),
    err(
        ev(S3, "GetBucketLifecycle", 25, S3Bucket("lifecycle")),
        "NoSuchLifecycleConfiguration",
        "The lifecycle configuration does not exist",
        600,
    ),
    err(
        ev(S3, "GetBucketWebsite", 22, S3Bucket("website")),
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
        900,
    ),
    err(
        ev(
            S3,
            "GetBucketObjectLockConfiguration",
            18,
            S3Bucket("object-lock"),
        ),
        "ObjectLockConfigurationNotFoundError",
        "Object Lock configuration does not exist for this bucket",
        900,
    ),
    err(
        ev(S3, "GetBucketReplication", 18, S3Bucket("replication")),
        "ReplicationConfigurationNotFoundError",
        "The replication configuration was not found",
        900,
    ),
    ev(S3, "GetBucketNotification", 18, S3Bucket("notification")),
    ev(S3, "HeadBucket", 35, S3Bucket("")),
    ev(S3, "PutBucketPolicy", 4, S3PutBucketPolicy),
    ro(ev(S3, "PutBucketTagging", 4, S3Bucket("tagging")), false),
    ro(ev(S3, "CreateBucket", 2, S3Bucket("")), false),
    ro(
        ev(
            S3,
            "PutBucketPublicAccessBlock",
            2,
            S3Bucket("publicAccessBlock"),
        ),
        false,
    ),
    // KMS: envelope encryption behind S3, SSM SecureString, Secrets Manager, EBS.
    ev(KMS, "Decrypt", 560, KmsCrypto(false)),
    ro(ev(KMS, "GenerateDataKey", 330, KmsCrypto(true)), true),
    ro(ev(KMS, "Encrypt", 70, KmsCrypto(true)), true),
    ev(KMS, "DescribeKey", 75, Obj(&[("keyId", KeyArn)])),
    ev(KMS, "ListAliases", 28, Obj(&[("limit", Int(50, 100))])),
    ev(KMS, "ListKeys", 18, Obj(&[("limit", Int(50, 1000))])),
    ev(
        KMS,
        "GetKeyPolicy",
        14,
        Obj(&[("keyId", KeyArn), ("policyName", Lit("default"))]),
    ),
    ev(KMS, "GetKeyRotationStatus", 14, Obj(&[("keyId", KeyArn)])),
    ev(KMS, "ListResourceTags", 10, Obj(&[("keyId", KeyArn)])),
    ro(
        ev(
            KMS,
            "CreateGrant",
            8,
            Obj(&[
                ("keyId", KeyArn),
                ("granteePrincipal", RoleArn),
                ("operations", EmptyList),
            ]),
        ),
        false,
    ),
    // STS: every role session starts here.
    err(
        ro(ev(STS, "AssumeRole", 560, StsAssumeRole), true),
        "AccessDenied",
        "User: arn:aws:sts::111122223333:assumed-role/ci-runner/build is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/prod-admin",
        15,
    ),
    ro(ev(STS, "GetCallerIdentity", 230, Null), true),
    ro(
        ev(STS, "AssumeRoleWithWebIdentity", 75, StsWebIdentity),
        true,
    ),
    ev(
        STS,
        "GetSessionToken",
        9,
        Obj(&[("durationSeconds", Int(900, 43200))]),
    ),
    // Secrets Manager.
    err(
        ev(SM, "GetSecretValue", 230, Obj(&[("secretId", SecretArn)])),
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
        20,
    ),
    ev(SM, "DescribeSecret", 75, Obj(&[("secretId", Secret)])),
    ev(SM, "ListSecrets", 38, Obj(&[("maxResults", Int(20, 100))])),
    ev(SM, "GetResourcePolicy", 20, Obj(&[("secretId", SecretArn)])),
    ro(
        ev(
            SM,
            "PutSecretValue",
            5,
            Obj(&[("secretId", SecretArn), ("clientRequestToken", Uuid)]),
        ),
        false,
    ),
    ro(
        ev(SM, "RotateSecret", 2, Obj(&[("secretId", SecretArn)])),
        false,
    ),
    // CloudWatch Logs and metrics.
    ev(
        LOGS,
        "DescribeLogGroups",
        140,
        Obj(&[("logGroupNamePrefix", LogGroup), ("limit", Int(1, 50))]),
    ),
    ev(
        LOGS,
        "DescribeLogStreams",
        95,
        Obj(&[
            ("logGroupName", LogGroup),
            ("descending", Bool),
            ("orderBy", Lit("LastEventTime")),
        ]),
    ),
    err(
        ev(LOGS, "CreateLogStream", 75, LogsCreateLogStream),
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
        80,
    ),
    ev(
        LOGS,
        "CreateLogGroup",
        9,
        Obj(&[("logGroupName", LogGroup)]),
    ),
    ro(
        ev(
            LOGS,
            "PutRetentionPolicy",
            9,
            Obj(&[("logGroupName", LogGroup), ("retentionInDays", Int(7, 365))]),
        ),
        false,
    ),
    ev(
        LOGS,
        "FilterLogEvents",
        28,
        Obj(&[
            ("logGroupName", LogGroup),
            ("limit", Int(50, 10000)),
            ("interleaved", Bool),
        ]),
    ),
    ev(
        LOGS,
        "DescribeMetricFilters",
        18,
        Obj(&[("logGroupName", LogGroup)]),
    ),
    ev(
        CW,
        "DescribeAlarms",
        110,
        Obj(&[("maxRecords", Int(50, 100)), ("alarmNamePrefix", Alarm)]),
    ),
    ev(CW, "GetMetricData", 75, MetricData),
    ev(
        CW,
        "ListMetrics",
        38,
        Obj(&[
            ("namespace", Lit("AWS/EC2")),
            ("metricName", Lit("CPUUtilization")),
        ]),
    ),
    ro(
        ev(
            CW,
            "PutMetricAlarm",
            9,
            Obj(&[
                ("alarmName", Alarm),
                ("namespace", Lit("AWS/EC2")),
                ("threshold", Int(50, 95)),
                ("period", Int(60, 300)),
            ]),
        ),
        false,
    ),
    ev(
        CW,
        "DescribeAlarmsForMetric",
        18,
        Obj(&[
            ("metricName", Lit("CPUUtilization")),
            ("namespace", Lit("AWS/EC2")),
        ]),
    ),
    // RDS.
    ev(
        RDS,
        "DescribeDBInstances",
        95,
        Obj(&[("dBInstanceIdentifier", DbInstance)]),
    ),
    ev(
        RDS,
        "DescribeDBClusters",
        55,
        Obj(&[("maxRecords", Int(20, 100))]),
    ),
    ev(
        RDS,
        "DescribeDBSnapshots",
        28,
        Obj(&[
            ("dBInstanceIdentifier", DbInstance),
            ("includeShared", Bool),
            ("includePublic", Bool),
        ]),
    ),
    ev(
        RDS,
        "DescribeOrderableDBInstanceOptions",
        20,
        Obj(&[
            ("engine", Lit("postgres")),
            ("engineVersion", Lit("14.7")),
            ("dBInstanceClass", Lit("db.t3.micro")),
            ("vpc", Bool),
        ]),
    ),
    ev(
        RDS,
        "DescribeDBEngineVersions",
        18,
        Obj(&[("engine", Lit("postgres")), ("defaultOnly", Bool)]),
    ),
    ev(
        RDS,
        "ListTagsForResource",
        40,
        Obj(&[("resourceName", DbArn)]),
    ),
    ev(
        RDS,
        "DescribeEvents",
        18,
        Obj(&[
            ("sourceType", Lit("db-instance")),
            ("duration", Int(60, 1440)),
        ]),
    ),
    // Lambda.
    ev(
        LAMBDA,
        "ListFunctions20150331",
        75,
        Obj(&[("maxItems", Int(50, 50))]),
    ),
    ev(
        LAMBDA,
        "GetFunction20150331v2",
        55,
        Obj(&[("functionName", Function)]),
    ),
    err(
        ev(
            LAMBDA,
            "GetPolicy20150331v2",
            18,
            Obj(&[("functionName", Function)]),
        ),
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        300,
    ),
    ev(
        LAMBDA,
        "ListEventSourceMappings20150331",
        18,
        Obj(&[("functionName", Function)]),
    ),
    ev(
        LAMBDA,
        "ListTags20170331",
        18,
        Obj(&[("resource", Function)]),
    ),
    ev(
        LAMBDA,
        "GetFunctionConfiguration20150331v2",
        18,
        Obj(&[("functionName", Function)]),
    ),
    ro(
        ev(
            LAMBDA,
            "UpdateFunctionCode20150331v2",
            3,
            Obj(&[("functionName", Function), ("publish", Bool)]),
        ),
        false,
    ),
    // CloudTrail itself, Health, and the long tail of services.
    ev(
        CT,
        "DescribeTrails",
        55,
        Obj(&[("includeShadowTrails", Bool), ("trailNameList", EmptyList)]),
    ),
    ev(CT, "GetTrailStatus", 45, Obj(&[("name", TrailArn)])),
    ev(CT, "LookupEvents", 45, Obj(&[("maxResults", Int(50, 50))])),
    ev(CT, "GetEventSelectors", 28, Obj(&[("trailName", TrailArn)])),
    ev(CT, "ListTrails", 18, Null),
    ev("health", "DescribeEventAggregates", 50, HealthAggregates),
    ev(
        "health",
        "DescribeEvents",
        35,
        Obj(&[("maxResults", Int(10, 100)), ("locale", Lit("en"))]),
    ),
    ev(
        "ecr",
        "GetAuthorizationToken",
        75,
        Obj(&[("registryIds", Account)]),
    ),
    ev(
        "ecr",
        "DescribeRepositories",
        28,
        Obj(&[("repositoryNames", Repository)]),
    ),
    ev(
        "ecr",
        "DescribeImages",
        28,
        Obj(&[
            ("repositoryName", Repository),
            ("maxResults", Int(100, 1000)),
        ]),
    ),
    ev(
        "ecr",
        "BatchGetImage",
        20,
        Obj(&[("repositoryName", Repository), ("imageIds", EmptyList)]),
    ),
    ev(
        "elasticloadbalancing",
        "DescribeLoadBalancers",
        45,
        Obj(&[("pageSize", Int(400, 400))]),
    ),
    ev(
        "elasticloadbalancing",
        "DescribeTargetGroups",
        38,
        Obj(&[("loadBalancerArn", LoadBalancerArn)]),
    ),
    ev(
        "elasticloadbalancing",
        "DescribeTargetHealth",
        45,
        Obj(&[("targetGroupArn", TargetGroupArn)]),
    ),
    ev(
        "elasticloadbalancing",
        "DescribeListeners",
        18,
        Obj(&[("loadBalancerArn", LoadBalancerArn)]),
    ),
    ev(
        "autoscaling",
        "DescribeAutoScalingGroups",
        55,
        Obj(&[
            ("autoScalingGroupNames", AutoScalingGroup),
            ("maxRecords", Int(50, 100)),
        ]),
    ),
    ev(
        "autoscaling",
        "DescribeScalingActivities",
        18,
        Obj(&[("autoScalingGroupName", AutoScalingGroup)]),
    ),
    ev(
        "dynamodb",
        "DescribeTable",
        45,
        Obj(&[("tableName", Table)]),
    ),
    ev(
        "dynamodb",
        "ListTables",
        28,
        Obj(&[("limit", Int(100, 100))]),
    ),
    ev(
        "dynamodb",
        "DescribeContinuousBackups",
        9,
        Obj(&[("tableName", Table)]),
    ),
    ev("ecs", "ListClusters", 28, Null),
    ev("ecs", "DescribeClusters", 28, Obj(&[("clusters", Cluster)])),
    ev(
        "ecs",
        "ListTaskDefinitions",
        18,
        Obj(&[("familyPrefix", Cluster), ("status", Lit("ACTIVE"))]),
    ),
    ev(
        "ecs",
        "DescribeServices",
        18,
        Obj(&[("cluster", Cluster), ("services", EmptyList)]),
    ),
    ev("eks", "ListClusters", 18, Null),
    ev("eks", "DescribeCluster", 18, Obj(&[("name", Cluster)])),
    ev(
        "cloudformation",
        "DescribeStacks",
        45,
        Obj(&[("stackName", Stack)]),
    ),
    ev(
        "cloudformation",
        "ListStacks",
        18,
        Obj(&[("stackStatusFilter", EmptyList)]),
    ),
    ev(
        "cloudformation",
        "DescribeStackEvents",
        18,
        Obj(&[("stackName", Stack)]),
    ),
    ev(
        "cloudformation",
        "GetTemplate",
        9,
        Obj(&[("stackName", Stack), ("templateStage", Lit("Original"))]),
    ),
    ro(
        ev(
            "config",
            "PutEvaluations",
            38,
            Obj(&[("resultToken", Uuid), ("testMode", Bool)]),
        ),
        false,
    ),
    ev(
        "config",
        "DescribeConfigRules",
        18,
        Obj(&[("configRuleNames", EmptyList)]),
    ),
    ev("config", "DescribeConfigurationRecorders", 9, Null),
    ev(
        "route53",
        "ListHostedZones",
        18,
        Obj(&[("maxItems", Int(100, 100))]),
    ),
    ev(
        "route53",
        "ListResourceRecordSets",
        18,
        Obj(&[("hostedZoneId", HostedZone)]),
    ),
    ev("route53", "GetHostedZone", 9, Obj(&[("id", HostedZone)])),
    ro(
        ev(
            "route53",
            "ChangeResourceRecordSets",
            3,
            Obj(&[("hostedZoneId", HostedZone), ("changeBatch", EmptyObject)]),
        ),
        false,
    ),
    ev("guardduty", "ListDetectors", 18, Null),
    ev(
        "guardduty",
        "GetDetector",
        9,
        Obj(&[("detectorId", Detector)]),
    ),
    ev(
        "guardduty",
        "ListFindings",
        9,
        Obj(&[("detectorId", Detector), ("maxResults", Int(50, 50))]),
    ),
    ev("organizations", "DescribeOrganization", 18, Null),
    ev("organizations", "ListAccounts", 9, Null),
    ev("sns", "ListTopics", 18, Null),
    ev("sns", "GetTopicAttributes", 18, Obj(&[("topicArn", Alarm)])),
    ev("signin", "ConsoleLogin", 14, ConsoleLogin),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_rule_calls_are_not_in_the_background() {
        for e in EVENTS {
            assert_ne!(e.name, "SendCommand");
            assert_ne!(e.name, "ModifyImageAttribute");
        }
    }

    #[test]
    fn read_heavy() {
        let total: u32 = EVENTS.iter().map(|e| e.weight).sum();
        let read: u32 = EVENTS
            .iter()
            .filter(|e| e.read_only)
            .map(|e| e.weight)
            .sum();
        let share = read as f64 / total as f64;
        assert!((0.75..0.95).contains(&share), "read-only share {share}");
    }
}
