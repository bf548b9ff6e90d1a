//! The pipeline's actor/target entity enrichment (`script_append_related_entity`, run only when
//! the document carries the tag `actor_target_mapping`): `actor.entity.id`, `target.entity.id`,
//! their `user.*` / `host.*` / `service.*` / generic splits, `host.target.id` and
//! `related.entity`. Lists are Java `TreeSet`s, so sorted by UTF-16 code units.
//!
//! The script reads the record after the first clean-up (dropped values are absent). It fails
//! (Painless `ClassCastException` / `NullPointerException`) when a value it adds is not a string
//! or a container it walks has the wrong shape; the pipeline then records an error and sets none
//! of these fields, which is what [`enrich`] returns as `Err`.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::java_map::java_string_cmp;
use crate::node::Node;

/// A string ordered like Java's `String.compareTo`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct JavaString(String);

impl Ord for JavaString {
    fn cmp(&self, other: &Self) -> Ordering {
        java_string_cmp(&self.0, &other.0)
    }
}

impl PartialOrd for JavaString {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

type TreeSet = BTreeSet<JavaString>;

/// The script failed; the message says why.
pub struct ScriptFailure(pub String);

struct Ctx<'r, 'a> {
    root: &'r Node<'a>,
    related: TreeSet,
    target: TreeSet,
    actor: Option<String>,
}

/// A value after the first clean-up: `None` when absent or dropped.
fn kept<'r, 'a>(node: Option<&'r Node<'a>>) -> Option<&'r Node<'a>> {
    node.filter(|n| !n.is_dropped())
}

impl<'r, 'a> Ctx<'r, 'a> {
    /// Painless `$("json.a.b", null)`.
    fn field(&self, path: &[&str]) -> Option<&'r Node<'a>> {
        // Only the last step needs the clean-up check: a kept value is never below a dropped
        // container, and checking each container would rescan its whole subtree.
        let mut node = self.root;
        for key in path {
            node = node.get(key)?;
        }
        kept(Some(node))
    }

    fn str_field(&self, path: &[&str]) -> Result<Option<String>, ScriptFailure> {
        match self.field(path) {
            None => Ok(None),
            Some(Node::Str(s)) => Ok(Some(s.to_string())),
            Some(_) => Err(fail(path)),
        }
    }

    /// `$(path, [])` used with `.stream()`: a list (its kept elements) or nothing.
    fn list(&self, path: &[&str]) -> Result<Vec<&'r Node<'a>>, ScriptFailure> {
        match self.field(path) {
            None => Ok(Vec::new()),
            Some(Node::Array(items)) => Ok(items.iter().filter(|n| !n.is_dropped()).collect()),
            Some(_) => Err(fail(path)),
        }
    }
}

fn fail(path: &[&str]) -> ScriptFailure {
    ScriptFailure(format!(
        "json.{} has a type the entity script cannot handle",
        path.join(".")
    ))
}

/// `addValue(Set, String)`: a non-string argument is a `ClassCastException`.
fn add_value(set: &mut TreeSet, value: Option<&Node<'_>>) -> Result<(), ScriptFailure> {
    match kept(value) {
        None => Ok(()),
        Some(Node::Str(s)) => {
            set.insert(JavaString(s.to_string()));
            Ok(())
        }
        Some(_) => Err(ScriptFailure(
            "a value added to an entity set is not a string".into(),
        )),
    }
}

fn add_field(ctx: &Ctx<'_, '_>, set: &mut TreeSet, path: &[&str]) -> Result<(), ScriptFailure> {
    add_value(set, ctx.field(path))
}

/// `i.key` on a list element: the element must be a map (or the access fails).
fn member<'r, 'a>(item: &'r Node<'a>, key: &str) -> Result<Option<&'r Node<'a>>, ScriptFailure> {
    match item {
        Node::Object(_) => Ok(kept(item.get(key))),
        _ => Err(ScriptFailure(format!(
            "cannot read .{key} of a non-map list element"
        ))),
    }
}

/// `i.a?.b` (null-safe on the inner step).
fn member2<'r, 'a>(
    item: &'r Node<'a>,
    a: &str,
    b: &str,
) -> Result<Option<&'r Node<'a>>, ScriptFailure> {
    match member(item, a)? {
        None => Ok(None),
        Some(inner @ Node::Object(_)) => Ok(kept(inner.get(b))),
        Some(_) => Err(ScriptFailure(format!("cannot read .{b} of {a}"))),
    }
}

const RP: &str = "requestParameters";
const RE: &str = "responseElements";

fn related_fields(
    ctx: &Ctx<'_, '_>,
    set: &mut TreeSet,
    fields: &[&[&str]],
) -> Result<(), ScriptFailure> {
    for f in fields {
        add_field(ctx, set, f)?;
    }
    Ok(())
}

fn resources_arns(ctx: &Ctx<'_, '_>, set: &mut TreeSet) -> Result<(), ScriptFailure> {
    for r in ctx.list(&["resources"])? {
        add_value(set, member(r, "ARN")?)?;
    }
    Ok(())
}

fn per_service(ctx: &mut Ctx<'_, '_>, source: &str, name: &str) -> Result<(), ScriptFailure> {
    let mut related = std::mem::take(&mut ctx.related);
    let mut target = std::mem::take(&mut ctx.target);
    let result = per_service_sets(ctx, source, name, &mut related, &mut target);
    ctx.related = related;
    ctx.target = target;
    result
}

#[allow(clippy::too_many_lines)]
fn per_service_sets(
    ctx: &mut Ctx<'_, '_>,
    source: &str,
    name: &str,
    rel: &mut TreeSet,
    tgt: &mut TreeSet,
) -> Result<(), ScriptFailure> {
    let acct: &[&str] = &["recipientAccountId"];
    match source {
        "cloudformation.amazonaws.com" => match name {
            "CreateStackSet" => add_field(ctx, tgt, &[RE, "stackSetId"])?,
            "CreateStack" => add_field(ctx, tgt, &[RE, "stackId"])?,
            _ => {}
        },
        "cloudtrail.amazonaws.com" => {
            related_fields(
                ctx,
                rel,
                &[
                    &[RP, "name"],
                    &[RP, "s3BucketName"],
                    &[RE, "cloudWatchLogsLogGroupArn"],
                    &[RE, "cloudWatchLogsRoleArn"],
                    &[RE, "kmsKeyId"],
                    &[RE, "snsTopicARN"],
                    &[RE, "trailARN"],
                    &[RE, "name"],
                ],
            )?;
            match name {
                "DeleteTrail" | "StopLogging" => add_field(ctx, tgt, &[RP, "name"])?,
                "DescribeTrails" => add_field(ctx, tgt, acct)?,
                _ => {}
            }
        }
        "config.amazonaws.com" => {
            add_field(ctx, rel, &[RP, "configurationRecorderName"])?;
            if matches!(
                name,
                "StopConfigurationRecorder" | "StartConfigurationRecorder"
            ) {
                add_field(ctx, tgt, &[RP, "configurationRecorderName"])?;
            }
        }
        "ec2-instance-connect.amazonaws.com" => {
            if matches!(name, "SendSSHPublicKey" | "SendSerialConsoleSSHPublicKey") {
                add_field(ctx, tgt, &[RP, "instanceId"])?;
            }
        }
        "ec2.amazonaws.com" => ec2(ctx, name, rel, tgt)?,
        "elasticfilesystem.amazonaws.com" => match name {
            "DeleteFileSystem" => add_field(ctx, tgt, &[RP, "fileSystemId"])?,
            "DeleteMountTarget" => add_field(ctx, tgt, &[RP, "mountTargetId"])?,
            _ => {}
        },
        "events.amazonaws.com" if name == "DeleteRule" => {
            add_field(ctx, tgt, &[RP, "name"])?;
        }
        "guardduty.amazonaws.com" => {
            related_fields(ctx, rel, &[&[RP, "detectorId"], &[RE, "detectorId"]])?;
            match name {
                "CreateDetector" => add_field(ctx, tgt, &[RE, "detectorId"])?,
                "DeleteDetector" => add_field(ctx, tgt, &[RP, "detectorId"])?,
                _ => {}
            }
        }
        "iam.amazonaws.com" => {
            related_fields(
                ctx,
                rel,
                &[
                    &[RP, "userName"],
                    &[RP, "serialNumber"],
                    &[RP, "accessKeyId"],
                    &[RP, "policyArn"],
                    &[RP, "roleName"],
                    &[RP, "policyName"],
                    &[RE, "accessKey", "userName"],
                    &[RE, "accessKey", "accessKeyId"],
                    &[RE, "user", "arn"],
                    &[RE, "user", "userId"],
                    &[RE, "user", "userName"],
                    &[RE, "userId"],
                    &[RE, "role", "arn"],
                    &[RE, "serialNumber"],
                ],
            )?;
            match name {
                "AttachGroupPolicy" => add_field(ctx, tgt, &[RP, "groupName"])?,
                "AttachRolePolicy" | "ListAttachedRolePolicies" | "UpdateAssumeRolePolicy" => {
                    add_field(ctx, tgt, &[RP, "roleName"])?
                }
                "AttachUserPolicy" => {
                    related_fields(ctx, tgt, &[&[RP, "policyArn"], &[RP, "userName"]])?
                }
                "CreateAccessKey" => related_fields(
                    ctx,
                    tgt,
                    &[&[RE, "accessKey", "accessKeyId"], &[RP, "userName"]],
                )?,
                "CreateUser" | "DeactivateMFADevice" => add_field(ctx, tgt, &[RP, "userName"])?,
                "DeleteVirtualMFADevice" => add_field(ctx, tgt, &[RP, "serialNumber"])?,
                "GetPolicy" => add_field(ctx, tgt, &[RP, "policyArn"])?,
                "CreatePolicy" => add_field(ctx, tgt, &[RE, "policy", "arn"])?,
                "ListRoles" | "ListUsers" => add_field(ctx, tgt, acct)?,
                _ => {}
            }
        }
        "kms.amazonaws.com" => {
            related_fields(
                ctx,
                rel,
                &[
                    &[RP, "keyId"],
                    &[RE, "keyId"],
                    &[RE, "keyMetadata", "arn"],
                    &[RE, "keyMetadata", "keyId"],
                ],
            )?;
            if matches!(name, "DisableKey" | "ScheduleKeyDeletion") {
                resources_arns(ctx, tgt)?;
            }
        }
        "lambda.amazonaws.com" => {
            related_fields(
                ctx,
                rel,
                &[
                    &[RP, "functionName"],
                    &[RE, "functionArn"],
                    &[RE, "functionName"],
                    &[RE, "role"],
                ],
            )?;
            for path in [
                [RE, "vpcConfig", "securityGroupIds"],
                [RE, "vpcConfig", "subnetIds"],
            ] {
                for v in ctx.list(&path)? {
                    add_value(rel, Some(v))?;
                }
            }
            if name.contains("AddPermission") {
                add_field(ctx, tgt, &[RP, "functionName"])?;
            } else if name.contains("ListFunctions") {
                add_field(ctx, tgt, acct)?;
            }
        }
        "logs.amazonaws.com" => match name {
            "DeleteLogGroup" => add_field(ctx, tgt, &[RP, "logGroupName"])?,
            "DeleteLogStream" => add_field(ctx, tgt, &[RP, "logStreamName"])?,
            _ => {}
        },
        "monitoring.amazonaws.com" if name == "DeleteAlarms" => {
            for v in ctx.list(&[RP, "alarmNames"])? {
                add_value(tgt, Some(v))?;
            }
        }
        "rds.amazonaws.com" => {
            related_fields(
                ctx,
                rel,
                &[
                    &[RP, "dBInstanceIdentifier"],
                    &[RP, "dBInstanceArn"],
                    &[RE, "dBInstanceIdentifier"],
                    &[RE, "dbInstanceArn"],
                    &[RE, "dBSubnetGroup", "vpcId"],
                    &[RE, "vpcSecurityGroups", "vpcSecurityGroupId"],
                ],
            )?;
            for i in ctx.list(&[RE, "dBSubnetGroup", "subnets"])? {
                add_value(rel, member(i, "subnetIdentifier")?)?;
            }
            for i in ctx.list(&[RE, "vpcSecurityGroups"])? {
                add_value(rel, member(i, "vpcSecurityGroupId")?)?;
            }
            match name {
                "DeleteDBCluster" | "ModifyDBCluster" | "StopDBCluster" => {
                    add_field(ctx, tgt, &[RE, "dBClusterArn"])?
                }
                "DeleteDBInstance"
                | "ModifyDBInstance"
                | "RestoreDBInstanceFromDBSnapshot"
                | "RestoreDBInstanceFromS3"
                | "StopDBInstance" => add_field(ctx, tgt, &[RE, "dBInstanceArn"])?,
                "DeleteGlobalCluster" => add_field(ctx, tgt, &[RE, "globalClusterArn"])?,
                "ModifyDBClusterSnapshotAttribute" => {
                    add_field(ctx, tgt, &[RE, "dBClusterSnapshotIdentifier"])?
                }
                "ModifyDBSnapshotAttribute" => add_field(ctx, tgt, &[RE, "dBSnapshotIdentifier"])?,
                "DescribeDBInstances" => add_field(ctx, tgt, acct)?,
                _ => {}
            }
        }
        "rolesanywhere.amazonaws.com" if name == "CreateTrustAnchor" => {
            add_field(ctx, tgt, &[RE, "trustAnchor", "trustAnchorArn"])?;
        }
        "route53resolver.amazonaws.com" if name == "DeleteResolverQueryLogConfig" => {
            add_field(ctx, tgt, &[RE, "resolverQueryLogConfig", "arn"])?;
        }
        "s3.amazonaws.com" => {
            add_field(ctx, rel, &[RP, "bucketName"])?;
            match name {
                "CopyObject"
                | "PutBucketLogging"
                | "PutBucketVersioning"
                | "PutObject"
                | "GetBucketPolicy"
                | "ListObjects"
                | "HeadObject"
                | "GetObject"
                | "DeleteObject"
                | "DeleteBucket" => resources_arns(ctx, tgt)?,
                "PutBucketReplication" => {
                    resources_arns(ctx, tgt)?;
                    add_field(
                        ctx,
                        tgt,
                        &[
                            RP,
                            "ReplicationConfiguration",
                            "Rule",
                            "Destination",
                            "Bucket",
                        ],
                    )?;
                }
                "ListBuckets" => add_field(ctx, tgt, acct)?,
                _ => {}
            }
        }
        "secretsmanager.amazonaws.com" => match name {
            "BatchGetSecretValue" => {
                for v in ctx.list(&[RP, "secretIdList"])? {
                    add_value(tgt, Some(v))?;
                }
            }
            "GetSecretValue" => add_field(ctx, tgt, &[RP, "secretId"])?,
            _ => {}
        },
        "signin.amazonaws.com" if name == "ConsoleLogin" => {
            add_field(ctx, tgt, acct)?;
        }
        "ssm.amazonaws.com" => match name {
            "GetParameter" | "GetParameters" | "CreateControlChannel" | "OpenControlChannel" => {
                resources_arns(ctx, tgt)?
            }
            "StartSession" => add_field(ctx, tgt, &[RP, "target"])?,
            "CreateDocument" => add_field(ctx, tgt, &[RP, "name"])?,
            "TerminateSession" | "OpenDataChannel" => add_field(ctx, tgt, &[RP, "sessionId"])?,
            "SendCommand" => {
                let mut ids: Vec<Option<&Node<'_>>> = ctx
                    .list(&[RP, "instanceIds"])?
                    .into_iter()
                    .map(Some)
                    .collect();
                if ids.is_empty() {
                    for t in ctx.list(&[RP, "targets"])? {
                        match member(t, "values")? {
                            Some(Node::Array(values)) => {
                                ids.extend(values.iter().filter(|v| !v.is_dropped()).map(Some))
                            }
                            _ => {
                                return Err(ScriptFailure(
                                    "SendCommand target without a values list".into(),
                                ));
                            }
                        }
                    }
                }
                if ids.len() == 1 && ids[0].and_then(Node::as_str) == Some("*") {
                    ids = vec![ctx.field(acct)];
                }
                for id in ids {
                    add_value(tgt, id)?;
                }
            }
            "ListInstanceAssociations" => add_field(ctx, tgt, acct)?,
            _ => {}
        },
        "sts.amazonaws.com" => {
            related_fields(
                ctx,
                rel,
                &[
                    &[RP, "roleArn"],
                    &["sourceIdentity"],
                    &["additionalEventData", "MFAIdentifier"],
                    &[RE, "assumedRoleUser", "arn"],
                    &[RP, "roleSessionName"],
                    &[RE, "accessKeyId"],
                ],
            )?;
            if name == "AssumeRole" {
                let user_type = ctx.str_field(&["userIdentity", "type"])?;
                ctx.actor = match user_type.as_deref() {
                    Some("AWSService") => ctx.str_field(&["userIdentity", "invokedBy"])?,
                    Some("AssumedRole") => {
                        ctx.str_field(&["userIdentity", "sessionContext", "sessionIssuer", "arn"])?
                    }
                    _ => ctx.str_field(&["userIdentity", "arn"])?,
                };
                add_field(ctx, tgt, &[RP, "roleArn"])?;
            } else if name == "GetCallerIdentity" {
                add_field(ctx, tgt, acct)?;
                ctx.actor = ctx.str_field(&["userIdentity", "arn"])?;
            }
        }
        "wafv2.amazonaws.com" => {
            related_fields(ctx, rel, &[&[RP, "id"], &[RE, "summary"]])?;
            if matches!(name, "DeleteRuleGroup" | "DeleteWebACL") {
                add_field(ctx, tgt, &[RP, "id"])?;
            }
        }
        "sns.amazonaws.com" => match name {
            "CreateTopic" => add_field(ctx, tgt, &[RE, "topicArn"])?,
            "Subscribe" | "Publish" => add_field(ctx, tgt, &[RP, "topicArn"])?,
            _ => {}
        },
        "bedrock.amazonaws.com" if name == "Converse" => {
            add_field(ctx, tgt, &[RP, "modelId"])?;
        }
        "elasticloadbalancing.amazonaws.com" if name == "DescribeLoadBalancers" => {
            add_field(ctx, tgt, acct)?;
        }
        "dynamodb.amazonaws.com" if name == "ListTables" => {
            add_field(ctx, tgt, acct)?;
        }
        _ => {}
    }
    Ok(())
}

fn ec2(
    ctx: &Ctx<'_, '_>,
    name: &str,
    rel: &mut TreeSet,
    tgt: &mut TreeSet,
) -> Result<(), ScriptFailure> {
    related_fields(
        ctx,
        rel,
        &[
            &[RP, "groupId"],
            &[RP, "groupName"],
            &[RP, "roleName"],
            &[RP, "subnetId"],
            &[RP, "volumeId"],
            &[RP, "networkInterfaceId"],
            &[RP, "vpcId"],
            &[RP, "snapshotId"],
            &[RE, "groupId"],
            &[RE, "reservationId"],
            &[RE, "vpc", "vpcId"],
            &[RE, "vpc", "dhcpOptionsId"],
            &[RE, "snapshotId"],
            &[RE, "volumeId"],
        ],
    )?;
    for i in ctx.list(&[RE, "securityGroupRuleSet", "items"])? {
        add_value(rel, member(i, "groupId")?)?;
        add_value(rel, member2(i, "referencedGroupInfo", "groupId")?)?;
        add_value(rel, member(i, "securityGroupRuleId")?)?;
    }
    for i in ctx.list(&[RE, "groupSet", "items"])? {
        add_value(rel, member(i, "groupId")?)?;
    }
    for i in ctx.list(&[RP, "groupSet", "items"])? {
        add_value(rel, member(i, "groupId")?)?;
    }
    for i in ctx.list(&[RP, "instancesSet", "items"])? {
        add_value(rel, member(i, "instanceId")?)?;
    }
    for inst in ctx.list(&[RE, "instancesSet", "items"])? {
        for key in ["subnetId", "vpcId", "instanceId", "imageId"] {
            add_value(rel, member(inst, key)?)?;
        }
        add_value(rel, member2(inst, "iamInstanceProfile", "arn")?)?;
        let Some(nets) = member2(inst, "networkInterfaceSet", "items")? else {
            continue;
        };
        let Node::Array(nets) = nets else {
            return Err(ScriptFailure(
                "networkInterfaceSet.items is not a list".into(),
            ));
        };
        for net in nets.iter().filter(|n| !n.is_dropped()) {
            for key in ["networkInterfaceId", "vpcId", "subnetId"] {
                add_value(rel, member(net, key)?)?;
            }
            let Some(groups) = member2(net, "groupSet", "items")? else {
                continue;
            };
            let Node::Array(groups) = groups else {
                return Err(ScriptFailure("groupSet.items is not a list".into()));
            };
            for g in groups.iter().filter(|n| !n.is_dropped()) {
                add_value(rel, member(g, "groupId")?)?;
            }
        }
    }
    for i in ctx.list(&[RP, "revokedSecurityGroupRuleSet", "items"])? {
        add_value(rel, member(i, "securityGroupRuleId")?)?;
        add_value(rel, member(i, "groupId")?)?;
    }
    match name {
        "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress" => {
            add_field(ctx, tgt, &[RP, "groupId"])?;
            for f in ctx.list(&[RE, "securityGroupRuleSet", "items"])? {
                add_value(tgt, member(f, "securityGroupRuleId")?)?;
            }
        }
        "CreateTrafficMirrorFilter" => add_field(
            ctx,
            tgt,
            &[
                RE,
                "CreateTrafficMirrorFilterResponse",
                "trafficMirrorFilter",
                "trafficMirrorFilterId",
            ],
        )?,
        "CreateTrafficMirrorFilterRule" => add_field(
            ctx,
            tgt,
            &[
                RE,
                "CreateTrafficMirrorFilterRuleResponse",
                "trafficMirrorFilterRule",
                "trafficMirrorFilterRuleId",
            ],
        )?,
        "CreateTrafficMirrorSession" => add_field(
            ctx,
            tgt,
            &[
                RE,
                "CreateTrafficMirrorSessionResponse",
                "trafficMirrorSession",
                "trafficMirrorSessionId",
            ],
        )?,
        "CreateTrafficMirrorTarget" => add_field(
            ctx,
            tgt,
            &[
                RE,
                "CreateTrafficMirrorTargetResponse",
                "trafficMirrorTarget",
                "trafficMirrorTargetId",
            ],
        )?,
        "DeleteFlowLogs" => add_field(
            ctx,
            tgt,
            &[RP, "DeleteFlowLogsRequest", "FlowLogId", "content"],
        )?,
        "DeleteNetworkAcl" => add_field(ctx, tgt, &[RP, "networkAclId"])?,
        "DeleteNetworkAclEntry" => {
            add_field(ctx, tgt, &[RP, "networkAclId"])?;
            if let Some(n) = ctx.field(&[RP, "ruleNumber"]) {
                // String.valueOf(ruleNumber)
                let text = n
                    .scalar_text()
                    .map_or_else(|| crate::java_map::render(n), |t| t.into_owned());
                if !text.is_empty() {
                    tgt.insert(JavaString(text));
                }
            }
        }
        "GetPasswordData" => add_field(ctx, tgt, &[RP, "instanceId"])?,
        "ModifyImageAttribute" => add_field(ctx, tgt, &[RP, "imageId"])?,
        "ModifySnapshotAttribute" => add_field(ctx, tgt, &[RP, "snapshotId"])?,
        "DescribeSecurityGroups"
        | "DescribeNetworkInterfaces"
        | "DescribeRegions"
        | "DescribeVpcs"
        | "DescribeNetworkAcls"
        | "DescribeVolumes" => add_field(ctx, tgt, &["recipientAccountId"])?,
        _ => {}
    }
    Ok(())
}

const USER_RESOURCE_TYPES: &[&str] = &[
    "user",
    "role",
    "assumed-role",
    "federated-user",
    "instance-profile",
    "mfa",
    "serialNumber",
];
const SERVICE_RESOURCE_TYPES: &[&str] = &[
    "stack",
    "stack-set",
    "trail",
    "configuration-recorder",
    "file-system",
    "mount-target",
    "rule",
    "detector",
    "key",
    "function",
    "log-group",
    "log-stream",
    "alarm",
    "db",
    "cluster",
    "global-cluster",
    "trust-anchor",
    "resolver-query-log-config",
    "secret",
    "parameter",
    "document",
    "session",
    "webacl",
    "rulegroup",
    "ipset",
    "topic",
    "model",
    "loadbalancer",
    "table",
    "group",
    "policy",
    "security-group",
    "network-interface",
    "vpc",
    "subnet",
    "network-acl",
    "dhcp-options",
];
const SERVICE_ID_PREFIXES: &[&str] = &[
    "sg-", "sgr-", "eni-", "vpc-", "subnet-", "acl-", "rtb-", "igw-", "nat-", "vpce-", "tgw-",
    "pcx-",
];

/// Painless `String.splitOnToken(":")`: every piece, empty ones included.
fn arn_parts(s: &str) -> Vec<&str> {
    s.split(':').collect()
}

fn resource_type(part: &str) -> &str {
    match part.find('/') {
        Some(i) if i > 0 => &part[..i],
        _ => part,
    }
}

fn list(set: TreeSet) -> Value {
    Value::Array(set.into_iter().map(|s| Value::String(s.0)).collect())
}

/// Runs the script. `Ok` holds the fields it sets (lists, never empty).
pub fn enrich(root: &Node<'_>) -> Result<Vec<(&'static str, Value)>, ScriptFailure> {
    let mut ctx = Ctx {
        root,
        related: TreeSet::new(),
        target: TreeSet::new(),
        actor: None,
    };
    let event_name = match kept(root.get("eventName")) {
        None => return Ok(Vec::new()),
        Some(n) => n,
    };
    ctx.actor = ctx.str_field(&["userIdentity", "arn"])?;
    if ctx.actor.is_none() {
        ctx.actor = ctx.str_field(&["userIdentity", "onBehalfOf", "userId"])?;
    }
    let mut related = std::mem::take(&mut ctx.related);
    related_fields(
        &ctx,
        &mut related,
        &[
            &["userIdentity", "accessKeyId"],
            &["userIdentity", "arn"],
            &["userIdentity", "userName"],
            &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
            &[
                "userIdentity",
                "sessionContext",
                "sessionIssuer",
                "userName",
            ],
        ],
    )?;
    let user_type = ctx.field(&["userIdentity", "type"]);
    if user_type.and_then(Node::as_str) == Some("IdentityCenterUser") {
        add_field(
            &ctx,
            &mut related,
            &["userIdentity", "onBehalfOf", "identityStoreArn"],
        )?;
    }
    resources_arns(&ctx, &mut related)?;
    ctx.related = related;

    let source = match kept(root.get("eventSource")) {
        None => None,
        Some(Node::Str(s)) => Some(s.to_string()),
        // `String eventSource = $("json.eventSource", null);`: a checkcast.
        Some(other) => return Err(ScriptFailure(crate::painless::string_cast_error(other))),
    };
    let name = match event_name {
        Node::Str(s) => s.to_string(),
        other => return Err(ScriptFailure(crate::painless::string_cast_error(other))),
    };
    if let Some(source) = source {
        per_service(&mut ctx, &source, &name)?;
    }

    let mut out: Vec<(&'static str, Value)> = Vec::new();
    if !ctx.target.is_empty() {
        out.push(("target.entity.id", list(ctx.target.clone())));
        let (mut users, mut hosts, mut services, mut generic) = (
            TreeSet::new(),
            TreeSet::new(),
            TreeSet::new(),
            TreeSet::new(),
        );
        for t in &ctx.target {
            let target = t.0.as_str();
            let mut classified = false;
            if target.starts_with("arn:") {
                let parts = arn_parts(target);
                if parts.len() >= 6 {
                    let rtype = resource_type(parts[5]);
                    let bucket = if target.contains("/AWSServiceRoleFor")
                        || target.contains("/aws-service-role/")
                    {
                        Some(&mut services)
                    } else if USER_RESOURCE_TYPES.contains(&rtype) {
                        Some(&mut users)
                    } else if rtype == "instance" {
                        Some(&mut hosts)
                    } else if SERVICE_RESOURCE_TYPES.contains(&rtype) || parts[2] == "s3" {
                        Some(&mut services)
                    } else {
                        None
                    };
                    if let Some(set) = bucket {
                        set.insert(t.clone());
                        classified = true;
                    }
                }
            } else if target.len() == 20 && target.starts_with("AKIA") {
                users.insert(t.clone());
                classified = true;
            } else if target.starts_with("i-") {
                hosts.insert(t.clone());
                classified = true;
            } else if SERVICE_ID_PREFIXES.iter().any(|p| target.starts_with(p)) {
                services.insert(t.clone());
                classified = true;
            }
            if !classified {
                generic.insert(t.clone());
            }
        }
        if !users.is_empty() {
            out.push(("user.target.entity.id", list(users)));
        }
        if !hosts.is_empty() {
            let mut ids = TreeSet::new();
            for h in &hosts {
                let mut id = h.0.as_str();
                if id.starts_with("arn:") {
                    let parts = arn_parts(id);
                    if parts.len() < 6 || parts[2] != "ec2" || !parts[5].starts_with("instance/") {
                        continue;
                    }
                    id = &parts[5]["instance/".len()..];
                }
                if id.starts_with("i-") {
                    ids.insert(JavaString(id.to_string()));
                }
            }
            out.push(("host.target.entity.id", list(hosts)));
            if !ids.is_empty() {
                out.push(("host.target.id", list(ids)));
            }
        }
        if !services.is_empty() {
            out.push(("service.target.entity.id", list(services)));
        }
        if !generic.is_empty() {
            out.push(("entity.target.id", list(generic)));
        }
        let targets = std::mem::take(&mut ctx.target);
        ctx.related.extend(targets);
    }

    if let Some(actor) = ctx.actor.clone() {
        out.push((
            "actor.entity.id",
            Value::Array(vec![Value::String(actor.clone())]),
        ));
        let user_type = ctx.str_field(&["userIdentity", "type"])?;
        let mut user_entity = actor.clone();
        if user_type.as_deref() == Some("AssumedRole")
            && let Some(role) =
                ctx.str_field(&["userIdentity", "sessionContext", "sessionIssuer", "arn"])?
        {
            user_entity = role;
        }
        let one = |s: &str| Value::Array(vec![Value::String(s.to_string())]);
        let field = if user_type.as_deref() == Some("AWSService")
            || actor.contains("/AWSServiceRoleFor")
            || actor.contains("/aws-service-role/")
        {
            Some(("service.entity.id", one(&actor)))
        } else if matches!(
            user_type.as_deref(),
            Some("IAMUser" | "Root" | "AssumedRole")
        ) {
            Some(("user.entity.id", one(&user_entity)))
        } else {
            None
        };
        let field = field.or_else(|| {
            if !actor.starts_with("arn:") {
                return None;
            }
            let parts = arn_parts(&actor);
            if parts.len() < 6 {
                return None;
            }
            match resource_type(parts[5]) {
                "user" | "role" | "assumed-role" | "federated-user" => {
                    Some(("user.entity.id", one(&user_entity)))
                }
                "instance" => Some(("host.entity.id", one(&actor))),
                _ => None,
            }
        });
        let field = field.unwrap_or_else(|| {
            if actor.starts_with("i-") {
                ("host.entity.id", one(&actor))
            } else {
                ("entity.id", one(&actor))
            }
        });
        out.push(field);
    }
    if !ctx.related.is_empty() {
        out.push(("related.entity", list(ctx.related)));
    }
    Ok(out)
}
