#!/usr/bin/env python3
"""DuckDB baseline for the CloudTrail ES|QL rules: each rule's filter and aggregation as SQL over
the same raw CloudTrail JSON lines, replaying the rule's schedule as `dragnet hunt` and Kibana do.

One `read_json` scan keeps the records any of these rules can read (as `hunt` reads the file
once for all rules); each rule is then one SQL query over that table. Schedule: executions at
multiples of the rule's interval, each over `[t - look-back, t]`; an aggregating rule alerts once
per result row per execution (each event is joined to the executions that see it), a
non-aggregating one once per source event. ECS fields are restated over raw CloudTrail:
  event.provider -> eventSource, event.action -> eventName, cloud.account.id ->
  recipientAccountId, cloud.region -> awsRegion, user_agent.original -> userAgent,
  aws.cloudtrail.user_identity.* -> userIdentity.*, user.name -> userIdentity.userName,
  user.target.name -> requestParameters.userName,
  event.outcome == "success" -> no errorCode and no errorMessage (the integration's script),
  source.ip -> sourceIPAddress when it is an IPv4/IPv6 literal (the pipeline's convert).
Where SQL cannot say what ES|QL says, the query says so (search "differs"): mostly GROK/DISSECT
over `aws.cloudtrail.request_parameters`, which is the pipeline's Java `HashMap.toString()`
rendering of `requestParameters`; SQL reads the JSON fields instead, so a rule whose DISSECT
depends on the rendered key order is matched here regardless of that order.

Usage: duckdb_esql_queries.py FILE [--threads N]
Prints one JSON line: {"RULE NAME": alerts, ...}.
"""
import argparse
import json
import sys

try:
    import duckdb
except ImportError:
    sys.exit("duckdb is not installed: pip install duckdb")

MIN = 60_000

SOURCES = ("lambda", "s3", "ecr", "bedrock", "iam", "sagemaker", "servicequotas", "ecs")

LOAD = f"""
CREATE TEMP TABLE e AS
SELECT
  epoch_ms(CAST(eventTime AS TIMESTAMP)) AS ts,
  eventID AS id,
  eventSource AS src,
  eventName AS name,
  (coalesce(errorCode, '') <> '' OR coalesce(errorMessage, '') <> '') AS failed,
  awsRegion AS region,
  CASE WHEN regexp_matches(sourceIPAddress, '^[0-9]{{1,3}}(\\.[0-9]{{1,3}}){{3}}$')
         OR (contains(sourceIPAddress, ':') AND NOT contains(sourceIPAddress, '.amazonaws.com'))
       THEN sourceIPAddress END AS ip,
  userAgent AS ua,
  recipientAccountId AS acct,
  userIdentity->>'type' AS itype,
  userIdentity->>'arn' AS arn,
  userIdentity->>'accessKeyId' AS akid,
  userIdentity->>'userName' AS uname,
  userIdentity->>'invokedBy' AS invoked_by,
  userIdentity->'sessionContext'->'sessionIssuer'->>'arn' AS issuer_arn,
  requestParameters AS rp,
  CAST(responseElements AS VARCHAR) AS re,
  additionalEventData AS ae,
  json_extract_string(resources, '$[*].ARN') AS res_arns,
  sessionCredentialFromConsole AS console
FROM read_json(?, format = 'newline_delimited',
               columns = {{eventTime: 'VARCHAR', eventID: 'VARCHAR', eventSource: 'VARCHAR',
                          eventName: 'VARCHAR', errorCode: 'VARCHAR', errorMessage: 'VARCHAR',
                          awsRegion: 'VARCHAR', sourceIPAddress: 'VARCHAR', userAgent: 'VARCHAR',
                          recipientAccountId: 'VARCHAR', userIdentity: 'JSON',
                          requestParameters: 'JSON', responseElements: 'JSON',
                          additionalEventData: 'JSON', resources: 'JSON',
                          sessionCredentialFromConsole: 'VARCHAR'}},
               maximum_object_size = 16777216)
WHERE split_part(eventSource, '.', 1) IN {SOURCES}
   OR (userIdentity->>'type' = 'IAMUser' AND starts_with(userIdentity->>'accessKeyId', 'AKIA'))
"""


def windows(interval_ms: int, lookback_ms: int) -> str:
    """The executions `t` that see an event at `ts`: multiples of the interval in
    `[ts, ts + look-back]`."""
    i, lb = interval_ms, lookback_ms
    return (f"unnest(range(CAST(ceil(ts / {i}) AS BIGINT) * {i}, "
            f"CAST(floor((ts + {lb}) / {i}) AS BIGINT) * {i} + 1, {i})) AS t")


OUTCOME_SUCCESS = "NOT failed"
NOT_IAC = "NOT (ua LIKE '%Terraform%' OR ua LIKE '%Ansible%' OR ua LIKE '%Pulumi%')"

QUERIES = {
    # execution_lambda_function_invoked_cross_account.toml (interval 60m, from now-61m)
    "AWS Lambda Function Invoked Cross-Account": f"""
      WITH x AS (
        SELECT *, nullif(regexp_extract(arn, ':([0-9]{{12}}):', 1), '') AS caller_account,
               -- differs: GROK over the rendered map; SQL reads requestParameters.functionName
               nullif(regexp_extract(rp->>'functionName', '^arn:aws:lambda:[a-z0-9-]*:([0-9]{{12}}):', 1), '') AS function_account
        FROM e WHERE src = 'lambda.amazonaws.com' AND name LIKE 'Invoke%' AND {OUTCOME_SUCCESS}
          AND arn IS NOT NULL AND invoked_by IS NULL AND rp IS NOT NULL)
      SELECT count(*) FROM (
        SELECT t FROM (SELECT *, {windows(60 * MIN, 61 * MIN)} FROM x
                       WHERE caller_account IS NOT NULL AND function_account IS NOT NULL
                         AND caller_account <> function_account)
        GROUP BY t, arn, caller_account, function_account)""",
    # impact_lambda_high_frequency_invocation.toml (interval 60m, from now-61m)
    "AWS Lambda Function High-Frequency Invocation by a Single Principal": f"""
      SELECT count(*) FROM (
        SELECT t FROM (SELECT *, {windows(60 * MIN, 61 * MIN)} FROM e
                       WHERE src = 'lambda.amazonaws.com' AND name LIKE 'Invoke%'
                         AND {OUTCOME_SUCCESS} AND arn IS NOT NULL)
        GROUP BY t, arn HAVING count(*) >= 1000)""",
    # impact_s3_static_site_js_file_uploaded.toml (non-aggregating)
    "AWS S3 Static Site JavaScript File Uploaded": f"""
      SELECT count(DISTINCT id) FROM e
      WHERE src = 's3.amazonaws.com' AND name = 'PutObject' AND {OUTCOME_SUCCESS}
        AND itype IN ('IAMUser', 'AssumedRole') AND {NOT_IAC}
        -- differs: LIKE + DISSECT over the rendered three-entry map; SQL reads the three fields
        AND list_sort(json_keys(rp)) = ['Host', 'bucketName', 'key']
        AND rp->>'key' LIKE '%static/js/%.js%'
        AND ends_with(regexp_extract(rp->>'key', 'static/js/(.*)$', 1), '.js')""",
    # exfiltration_ecr_repository_policy_granted_public_access.toml (non-aggregating)
    "AWS ECR Repository or Registry Policy Granted Public Access": f"""
      SELECT count(DISTINCT id) FROM e
      WHERE src = 'ecr.amazonaws.com' AND name IN ('SetRepositoryPolicy', 'PutRegistryPolicy')
        AND {OUTCOME_SUCCESS} AND (itype IS NULL OR itype <> 'AWSService')
        -- differs: RLIKE over the rendered map; SQL searches the policy text
        AND regexp_matches(rp->>'policyText', '"Effect": *"Allow"')
        AND (regexp_matches(rp->>'policyText', '"Principal": *"\\*"')
             OR regexp_matches(rp->>'policyText', '"Principal": *\\{{ *"AWS": *"\\*"'))""",
    # impact_bedrock_api_key_destructive_action.toml (non-aggregating)
    "AWS Bedrock API Key Used for Destructive or Anti-Recovery Action": """
      SELECT count(DISTINCT id) FROM e
      WHERE src = 'bedrock.amazonaws.com'
        AND ae->>'callWithBearerToken' = 'true'
        AND name IN ('DeleteGuardrail', 'DeleteModelInvocationLoggingConfiguration',
                     'PutModelInvocationLoggingConfiguration', 'DeleteImportedModel',
                     'DeleteCustomModel', 'DeleteModelCustomizationJob',
                     'DeleteProvisionedModelThroughput', 'DeleteMarketplaceModelEndpoint')""",
    # privilege_escalation_bedrock_phantom_user_credentials_added.toml (non-aggregating)
    "AWS IAM Credentials Added to a Bedrock API Key Phantom User": f"""
      SELECT count(DISTINCT id) FROM e
      WHERE src = 'iam.amazonaws.com'
        AND name IN ('CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile')
        AND {OUTCOME_SUCCESS} AND rp->>'userName' LIKE 'BedrockAPIKey-%'""",
    # persistence_sagemaker_lifecycle_config_suspicious_script_content.toml (non-aggregating)
    "AWS SageMaker Notebook Lifecycle Configuration With Suspicious Script Content": f"""
      SELECT count(DISTINCT id) FROM (
        SELECT id, lower(decode(from_base64(b64))) AS script FROM (
          SELECT id, nullif(regexp_extract(CAST(rp AS VARCHAR), '"[Cc]ontent":"([A-Za-z0-9+/=]+)', 1), '') AS b64
          FROM e
          WHERE src = 'sagemaker.amazonaws.com'
            AND name IN ('CreateNotebookInstanceLifecycleConfig', 'UpdateNotebookInstanceLifecycleConfig')
            AND {OUTCOME_SUCCESS} AND itype <> 'AWSService')
        WHERE b64 IS NOT NULL)
      WHERE regexp_matches(script, '(/dev/tcp/|/dev/udp/|bash -i|sh -i|nc -e|ncat |socat |mkfifo|169\\.254\\.169\\.254|/latest/meta-data/|/latest/api/token|\\| ?sh|\\| ?bash|base64 -d|import socket|pty\\.spawn|perl -e|ruby -rsocket|php -r|xmrig|minerd|stratum\\+|authorized_keys|/etc/cron|crontab )')""",
    # persistence_iam_user_self_created_access_key_subsequently_used.toml (interval 5m, from now-35m)
    "AWS IAM User Self-Created Access Key Subsequently Used": f"""
      WITH x AS (
        SELECT *, nullif(regexp_extract(re, '"accessKeyId":"(AKIA[A-Z0-9]{{16}})"', 1), '') AS new_key,
               src = 'iam.amazonaws.com' AND name = 'CreateAccessKey' AS is_create
        FROM e
        WHERE (src = 'iam.amazonaws.com' AND name = 'CreateAccessKey' AND {OUTCOME_SUCCESS} AND itype = 'IAMUser')
           OR (itype = 'IAMUser' AND akid LIKE 'AKIA%' AND NOT (src = 'iam.amazonaws.com' AND name = 'CreateAccessKey'))),
      f AS (
        SELECT *,
          (is_create AND {OUTCOME_SUCCESS} AND itype = 'IAMUser'
           AND (rp->>'userName' IS NULL OR uname = rp->>'userName') AND new_key IS NOT NULL) AS created,
          (itype = 'IAMUser' AND akid LIKE 'AKIA%' AND NOT is_create) AS used
        FROM x),
      g AS (SELECT *, CASE WHEN created THEN new_key ELSE akid END AS corr FROM f)
      SELECT count(*) FROM (
        SELECT t FROM (SELECT *, {windows(5 * MIN, 35 * MIN)} FROM g WHERE corr IS NOT NULL AND arn IS NOT NULL)
        GROUP BY t, acct, arn, corr
        HAVING count(*) FILTER (WHERE created) > 0 AND count(*) FILTER (WHERE used) > 0
           AND min(ts) FILTER (WHERE used) > min(ts) FILTER (WHERE created)
           AND (min(ts) FILTER (WHERE used) - min(ts) FILTER (WHERE created)) / 1000 <= 3600)""",
    # privilege_escalation_sagemaker_execution_role_passed_by_unusual_principal.toml
    # (interval 10m, from now-7d; event.ingested falls back to @timestamp for raw CloudTrail)
    "AWS SageMaker Execution Role Passed by Unusual Principal": f"""
      WITH x AS (
        SELECT *, coalesce(issuer_arn, arn) AS principal,
               -- differs: GROK over the rendered map; SQL reads the JSON text
               nullif(regexp_extract(CAST(rp AS VARCHAR), '"roleArn":"(arn:aws[a-z-]*:iam::[0-9]{{12}}:role/[^,}}"]+)"', 1), '') AS role
        FROM e
        WHERE src = 'sagemaker.amazonaws.com'
          AND name IN ('CreateNotebookInstance', 'CreateTrainingJob', 'CreateProcessingJob', 'CreateAutoMLJob', 'CreatePipeline')
          AND {OUTCOME_SUCCESS} AND itype <> 'AWSService')
      SELECT count(*) FROM (
        SELECT t FROM (SELECT *, {windows(10 * MIN, 7 * 24 * 60 * MIN)} FROM x WHERE role IS NOT NULL)
        GROUP BY t, principal, role HAVING min(ts) >= t - {10 * MIN})""",
    # impact_s3_object_encryption_with_external_key.toml (non-aggregating)
    "AWS S3 Object Encryption Using External KMS Key": f"""
      SELECT count(DISTINCT id) FROM e
      WHERE src = 's3.amazonaws.com' AND name = 'CopyObject' AND {OUTCOME_SUCCESS}
        -- differs: DISSECT over the rendered six-entry map (its key order matters there)
        AND split_part(rp->>'x-amz-server-side-encryption-aws-kms-key-id', ':', 5) <> acct""",
    # discovery_s3_rapid_bucket_posture_api_calls.toml (interval 5m, from now-6m)
    "AWS S3 Rapid Bucket Posture API Calls from a Single Principal": f"""
      SELECT count(*) FROM (
        SELECT t FROM (
          SELECT *, unnest(res_arns) AS res_arn, {windows(5 * MIN, 6 * MIN)} FROM e
          WHERE src = 's3.amazonaws.com' AND {OUTCOME_SUCCESS}
            AND name IN ('GetBucketAcl', 'GetBucketPublicAccessBlock', 'GetBucketPolicy', 'GetBucketPolicyStatus', 'GetBucketVersioning')
            AND itype <> 'AWSService' AND ip IS NOT NULL AND len(res_arns) > 0
            AND arn IS NOT NULL AND console IS NULL)
        GROUP BY t, ts // 10000, arn, ip HAVING count(DISTINCT res_arn) > 15)""",
    # discovery_servicequotas_multi_region_service_quota_requests.toml (interval 5m, from now-6m)
    "AWS Service Quotas Multi-Region GetServiceQuota Requests": f"""
      SELECT count(*) FROM (
        SELECT t FROM (
          SELECT *, {windows(5 * MIN, 6 * MIN)} FROM e
          WHERE src = 'servicequotas.amazonaws.com' AND name = 'GetServiceQuota'
            -- differs: DISSECT over the rendered two-entry map; SQL reads the fields
            AND rp->>'serviceCode' = 'ec2' AND rp->>'quotaCode' = 'L-1216C47A')
        GROUP BY t, ts // 30000, arn
        HAVING count(DISTINCT region) >= 10 AND count(*) >= 10)""",
    # exfiltration_bedrock_high_frequency_inference_api_probing.toml (interval 10m, from now-60m)
    "AWS Bedrock High-Frequency Single-Model Inference API Probing": f"""
      SELECT count(*) FROM (
        SELECT t FROM (
          SELECT *, nullif(regexp_extract(CAST(rp AS VARCHAR), '"modelId":"([^,}}"]+)"', 1), '') AS model,
                 {windows(10 * MIN, 60 * MIN)} FROM e
          WHERE src = 'bedrock.amazonaws.com'
            AND name IN ('InvokeModel', 'Converse', 'ConverseStream', 'InvokeModelWithResponseStream')
            AND {OUTCOME_SUCCESS} AND arn IS NOT NULL AND rp IS NOT NULL)
        WHERE model IS NOT NULL
        GROUP BY t, arn, acct, model HAVING count(*) >= 500)""",
    # impact_ecs_cryptomining_task_definition_deployment.toml (interval 5m, from now-30m)
    "AWS Potential Cryptomining via ECS Task Definition Deployment": f"""
      SELECT count(*) FROM (
        SELECT t FROM (
          SELECT *, CAST(rp AS VARCHAR) AS text, {windows(5 * MIN, 30 * MIN)} FROM e
          WHERE src = 'ecs.amazonaws.com' AND name IN ('RegisterTaskDefinition', 'RunTask', 'StartTask', 'CreateService'))
        GROUP BY t, arn
        HAVING sum(CASE WHEN name = 'RegisterTaskDefinition'
                  -- differs: RLIKE over the rendered map; SQL searches the JSON text
                  AND (regexp_matches(text, '"image":"(docker.io|index.docker.io|ghcr.io|quay.io|public.ecr.aws)/')
                       OR regexp_matches(text, '"image":"[-a-zA-Z0-9_]+(/|[,}} :"])'))
                  AND regexp_matches(text, '"cpu":"?(8192|16384)[,}}" ]') THEN 1 ELSE 0 END) >= 1
           AND sum(CASE WHEN name IN ('RunTask', 'StartTask', 'CreateService') THEN 1 ELSE 0 END) >= 1)""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.threads)}")
    con.execute(LOAD, [args.file])
    counts = {rule: con.execute(sql).fetchone()[0] for rule, sql in QUERIES.items()}
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main()
