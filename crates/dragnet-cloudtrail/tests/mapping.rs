//! Pipeline behaviours the 8.9.0 fixtures do not exercise (digest and Insights records,
//! UserAuthentication, `retain`, odd records) and the lazy field bindings. Expected values follow
//! the pipeline text (`shared/fixtures/aws-cloudtrail-pipeline/elasticsearch/ingest_pipeline/
//! default.yml`), cited per test by processor tag.

use dragnet_cloudtrail::{Mapper, MapperOptions, RecordError, Retain};
use dragnet_event::{Event, FieldTable, OwnedScalar};
use serde_json::{Value, json};

fn ecs(raw: &str, options: MapperOptions) -> Value {
    let mapper = Mapper::bind(&FieldTable::new(), options).unwrap();
    mapper.map(raw.as_bytes()).unwrap().to_ecs()
}

fn s(v: &str) -> OwnedScalar {
    OwnedScalar::Str(v.into())
}

#[test]
fn digest_record() {
    // Processors after script_add_ecs_categorization: awsAccountId, digestS3Object -> file.path,
    // previousDigest* and logFiles, digest dates, @timestamp = digest end time, then the whole
    // aws.cloudtrail.digest moved to aws.cloudtrail.flattened.digest.
    let doc = ecs(
        r#"{"awsAccountId":"111122223333","digestStartTime":"2024-01-01T00:00:00Z","digestEndTime":"2024-01-01T01:00:00Z","digestS3Bucket":"trail-bucket","digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/x.json.gz","digestPublicKeyFingerprint":"fp1","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":"2024-01-01T00:59:00Z","oldestEventTime":"2024-01-01T00:00:05Z","previousDigestS3Bucket":"trail-bucket","previousDigestS3Object":"prev.json.gz","previousDigestHashValue":"abc123","previousDigestHashAlgorithm":"SHA-256","previousDigestSignature":"sig","logFiles":[{"s3Bucket":"trail-bucket","s3Object":"log1.json.gz","hashValue":"h1","hashAlgorithm":"SHA-256"}]}"#,
        MapperOptions::default(),
    );
    assert_eq!(doc["@timestamp"], "2024-01-01T01:00:00.000Z");
    assert_eq!(doc["cloud"]["account"]["id"], "111122223333");
    assert_eq!(
        doc["file"]["path"],
        "AWSLogs/111122223333/CloudTrail-Digest/x.json.gz"
    );
    assert_eq!(doc["related"]["hash"], json!(["abc123"]));
    assert_eq!(
        doc["aws"]["cloudtrail"]["flattened"]["digest"],
        json!({
            "start_time": "2024-01-01T00:00:00.000Z",
            "end_time": "2024-01-01T01:00:00.000Z",
            "newest_event_time": "2024-01-01T00:59:00.000Z",
            "oldest_event_time": "2024-01-01T00:00:05.000Z",
            "s3_bucket": "trail-bucket",
            "public_key_fingerprint": "fp1",
            "signature_algorithm": "SHA256withRSA",
            "previous_s3_bucket": "trail-bucket",
            "previous_s3_object": "prev.json.gz",
            "previous_hash_value": "abc123",
            "previous_hash_algorithm": "SHA-256",
            "previous_signature": "sig",
            "log_files": [{"s3Bucket": "trail-bucket", "s3Object": "log1.json.gz", "hashValue": "h1", "hashAlgorithm": "SHA-256"}]
        })
    );
    assert_eq!(doc["event"]["kind"], "event");
    assert_eq!(doc["event"]["outcome"], "success");
    assert_eq!(doc["event"]["type"], json!(["info"]));
    assert!(doc["event"].get("action").is_none());
    // Kept even with retain none (it is record content, not a duplicate).
    let none = ecs(
        r#"{"digestEndTime":"2024-01-01T01:00:00Z","digestS3Bucket":"b"}"#,
        MapperOptions {
            retain: Retain::None,
            ..Default::default()
        },
    );
    assert_eq!(
        none["aws"]["cloudtrail"]["flattened"]["digest"]["s3_bucket"],
        "b"
    );
}

#[test]
fn insight_record() {
    let doc = ecs(
        r#"{"eventVersion":"1.08","eventTime":"2024-02-01T10:00:00Z","awsRegion":"us-east-1","eventID":"i1","eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"s1","insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight","insightContext":{"statistics":{"baseline":{"average":0.01},"insight":{"average":5.0}}}},"eventCategory":"Insight"}"#,
        MapperOptions::default(),
    );
    assert_eq!(doc["aws"]["cloudtrail"]["event_category"], "Insight");
    assert_eq!(doc["aws"]["cloudtrail"]["shared_event_id"], "s1");
    assert_eq!(
        doc["aws"]["cloudtrail"]["flattened"]["insight_details"]["insightType"],
        "ApiCallRateInsight"
    );
    assert_eq!(
        doc["aws"]["cloudtrail"]["flattened"]["insight_details"]["insightContext"]["statistics"]["insight"]
            ["average"],
        5.0
    );
    assert_eq!(doc["cloud"]["account"]["id"], "111122223333");
}

#[test]
fn user_authentication_takes_user_name_out_of_additional_eventdata() {
    // rename_additionalEventData_UserName_to_username_552c89e0 runs before the strings are
    // rendered, so UserName is in user.name and in neither copy of additionalEventData.
    let doc = ecs(
        r#"{"eventTime":"2024-02-01T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"UserAuthentication","userIdentity":{"type":"IdentityCenterUser","accountId":"1"},"additionalEventData":{"UserName":"bob@example.com","CredentialType":"PASSWORD"}}"#,
        MapperOptions::default(),
    );
    assert_eq!(doc["user"]["name"], "bob@example.com");
    assert_eq!(doc["user"]["email"], "bob@example.com");
    assert_eq!(
        doc["aws"]["cloudtrail"]["additional_eventdata"],
        "{CredentialType=PASSWORD}"
    );
    assert_eq!(
        doc["aws"]["cloudtrail"]["flattened"]["additional_eventdata"],
        json!({"CredentialType": "PASSWORD"})
    );
}

#[test]
fn aws_service_caller_is_a_service_not_a_user() {
    // script_aws_service_actor_93211d93 + set_service_name_aws_service_actor_1408990a
    let doc = ecs(
        r#"{"eventTime":"2024-02-01T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com","principalId":"p","userName":"u"},"requestParameters":{"roleArn":"arn:aws:iam::1:role/r","roleSessionName":"s"},"recipientAccountId":"1"}"#,
        MapperOptions::default(),
    );
    assert_eq!(doc["service"]["name"], "ec2.amazonaws.com");
    assert!(
        doc["user"].get("name").is_none() && doc["user"].get("id").is_none(),
        "{doc}"
    );
    assert_eq!(
        doc["user"]["target"]["entity"]["id"],
        json!(["arn:aws:iam::1:role/r"])
    );
    assert_eq!(doc["actor"]["entity"]["id"], json!(["ec2.amazonaws.com"]));
    assert_eq!(doc["service"]["entity"]["id"], json!(["ec2.amazonaws.com"]));
    assert_eq!(doc["event"]["category"], json!(["authentication"]));
}

#[test]
fn retain_decides_which_copies_exist() {
    let raw = r#"{"eventTime":"2024-02-01T10:00:00Z","eventName":"AuthorizeSecurityGroupIngress","requestParameters":{"groupId":"sg-1","cidrIp":"0.0.0.0/0","fromPort":22}}"#;
    let get = |retain| {
        let d = ecs(
            raw,
            MapperOptions {
                retain,
                ..Default::default()
            },
        );
        let ct = d["aws"]["cloudtrail"].clone();
        (
            ct.get("request_parameters").is_some(),
            ct.get("flattened").cloned(),
        )
    };
    assert!(get(Retain::All).0);
    assert_eq!(
        get(Retain::All).1,
        Some(
            json!({"request_parameters": {"groupId": "sg-1", "cidrIp": "0.0.0.0/0", "fromPort": 22}})
        )
    );
    assert_eq!(get(Retain::Keyword), (true, None));
    assert!(!get(Retain::Flattened).0);
    assert!(get(Retain::Flattened).1.is_some());
    assert_eq!(get(Retain::None), (false, None));
    assert_eq!(
        get(Retain::Minimal),
        (
            true,
            Some(json!({"request_parameters": {"cidrIp": "0.0.0.0/0", "fromPort": 22}}))
        )
    );
}

#[test]
fn odd_records() {
    let mapper = Mapper::bind(&FieldTable::new(), MapperOptions::default()).unwrap();
    assert!(matches!(
        mapper.map(b"[1,2]"),
        Err(RecordError::NotAnObject("an array"))
    ));
    assert!(matches!(
        mapper.map(b"\"x\""),
        Err(RecordError::NotAnObject("a string"))
    ));
    assert!(matches!(mapper.map(b"{\"a\":"), Err(RecordError::Json(_))));
    // An empty message: the pipeline still indexes a near-empty document.
    let empty = mapper.map(b"  ").unwrap().to_ecs();
    assert_eq!(
        empty,
        json!({"cloud": {"provider": "aws"}, "ecs": {"version": "8.11.0"}, "data_stream": {"dataset": "aws.cloudtrail"},
               "event": {"kind": "event", "outcome": "success", "type": ["info"], "dataset": "aws.cloudtrail", "module": "aws"}})
    );
    // Bad eventTime: kept, with the date processor's error, no @timestamp.
    let bad = mapper
        .map(br#"{"eventName":"GetObject","eventTime":"tuesday"}"#)
        .unwrap()
        .to_ecs();
    assert!(bad.get("@timestamp").is_none());
    assert_eq!(bad["event"]["kind"], "pipeline_error");
    assert_eq!(bad["tags"], json!(["preserve_original_event"]));
    assert!(
        bad["error"]["message"][0]
            .as_str()
            .unwrap()
            .contains("date_json_eventTime_to_timestamp")
    );
    // "-" / "none" / "" values are dropped before anything is mapped.
    let dropped = mapper
        .map(br#"{"eventName":"X","sourceIPAddress":"-","errorCode":"","awsRegion":"none"}"#)
        .unwrap()
        .to_ecs();
    assert!(dropped.get("source").is_none());
    assert_eq!(dropped["event"]["outcome"], "success");
    assert!(dropped["cloud"].get("region").is_none());
}

#[test]
fn lazy_bindings_answer_single_fields() {
    let mut table = FieldTable::new();
    let action = table.intern("event.action");
    let dataset = table.intern("event.dataset");
    let instance = table.intern("aws.cloudtrail.flattened.request_parameters.instanceIds");
    let user = table.intern("user");
    let unknown = table.intern("no.such.field");
    let original = table.intern("event.original");
    let rp = table.intern("aws.cloudtrail.request_parameters");
    let raw = br#"{"eventName":"SendCommand","eventSource":"ssm.amazonaws.com","userIdentity":{"type":"IAMUser","userName":"alice","principalId":"AIDA1"},"requestParameters":{"instanceIds":["i-1","i-2"],"x":""}}"#;
    let mapper = Mapper::bind(&table, MapperOptions::default()).unwrap();
    let ev = mapper.map(raw).unwrap();
    assert_eq!(ev.values(action), vec![s("SendCommand")]);
    assert_eq!(ev.values(dataset), vec![s("aws.cloudtrail")]);
    assert_eq!(ev.values(instance), vec![s("i-1"), s("i-2")]);
    assert_eq!(ev.values(rp), vec![s("{instanceIds=[i-1, i-2]}")]);
    let mut users = ev.values(user);
    users.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(users, vec![s("AIDA1"), s("alice")]);
    assert!(ev.values(unknown).is_empty());
    assert!(
        ev.values(original).is_empty(),
        "event.original only when asked"
    );
    let with = Mapper::bind(
        &table,
        MapperOptions {
            include_original: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        with.map(raw).unwrap().values(original),
        vec![s(std::str::from_utf8(raw).unwrap())]
    );
}
