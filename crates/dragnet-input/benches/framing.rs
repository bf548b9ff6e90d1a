//! Framing throughput on ~50 MB of generated CloudTrail-like records, as JSON lines, as a
//! pretty and as a compact `{"Records":[…]}` file, and gzip-compressed, in both validation
//! modes, against baselines over the same bytes: a plain `memchr` newline count (the least any
//! line-based reader must do) and, for gzip, decompression alone into a sink. Run:
//! `cargo bench -p dragnet-input --bench framing`; the ratio is framing time / baseline time.

use std::hint::black_box;
use std::ops::ControlFlow;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::io::{Read, Write};

use dragnet_input::{InputOptions, Validation, read_reader};

const TARGET_BYTES: usize = 50 << 20;

fn record(i: usize) -> String {
    let services = ["iam", "s3", "ec2", "sts", "kms", "lambda", "signin"];
    let service = services[i % services.len()];
    format!(
        concat!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROA{i:012}:session-{i}","#,
            r#""arn":"arn:aws:sts::111122223333:assumed-role/Role{r}/session-{i}","accountId":"111122223333","#,
            r#""accessKeyId":"ASIA{i:016}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{i:012}","#,
            r#""arn":"arn:aws:iam::111122223333:role/Role{r}","accountId":"111122223333","userName":"Role{r}"}},"#,
            r#""attributes":{{"creationDate":"2023-07-10T12:00:00Z","mfaAuthenticated":"false"}}}}}},"#,
            r#""eventTime":"2023-07-10T12:{m:02}:{s:02}Z","eventSource":"{service}.amazonaws.com","eventName":"Op{op}","#,
            r#""awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{ip}","userAgent":"aws-cli/2.13.0 Python/3.11.4 \"quoted\" \\path","#,
            r#""requestParameters":{{"bucketName":"bucket-{r}","key":"logs/{i}/data.json","tags":[{{"k":"a","v":"{{not a brace}}"}}]}},"#,
            r#""responseElements":null,"requestID":"{i:032x}","eventID":"{e:032x}","readOnly":{ro},"#,
            r#""eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#
        ),
        i = i,
        r = i % 17,
        m = i % 60,
        s = (i / 60) % 60,
        service = service,
        op = i % 101,
        ip = i % 250,
        e = i.wrapping_mul(2654435761),
        ro = i.is_multiple_of(3),
    )
}

struct Corpus {
    lines: &'static [u8],
    records: &'static [u8],
    compact: &'static [u8],
    compact_gz: &'static [u8],
}

fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}

fn generate() -> Corpus {
    let mut lines = String::with_capacity(TARGET_BYTES + 4096);
    let mut records = String::with_capacity(TARGET_BYTES + 4096);
    let mut compact = String::with_capacity(TARGET_BYTES + 4096);
    records.push_str("{\n    \"Records\": [\n");
    compact.push_str("{\"Records\":[");
    let mut i = 0;
    while lines.len() < TARGET_BYTES {
        let r = record(i);
        lines.push_str(&r);
        lines.push('\n');
        if i > 0 {
            records.push_str(",\n");
            compact.push(',');
        }
        compact.push_str(&r);
        records.push_str("        ");
        records.push_str(&r);
        i += 1;
    }
    records.push_str("\n    ]\n}\n");
    compact.push_str("]}\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(compact.as_bytes()).unwrap();
    Corpus {
        lines: leak(lines.into_bytes()),
        records: leak(records.into_bytes()),
        compact: leak(compact.into_bytes()),
        compact_gz: leak(gz.finish().unwrap()),
    }
}

fn gunzip_to_sink(bytes: &'static [u8]) -> u64 {
    let mut dec = flate2::read::MultiGzDecoder::new(bytes);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match dec.read(&mut buf).unwrap() {
            0 => return total,
            n => total += black_box(n) as u64,
        }
    }
}

fn frame(bytes: &'static [u8], validate: Validation) -> u64 {
    let opts = InputOptions {
        validate,
        ..InputOptions::default()
    };
    let mut count = 0u64;
    let stats = read_reader(
        Box::new(bytes),
        "bench".into(),
        &opts,
        &mut |batch| {
            count += batch.records.len() as u64;
            black_box(&batch);
            ControlFlow::Continue(())
        },
        &mut |p| panic!("{p}"),
    );
    assert_eq!(stats.records, count);
    count
}

fn bench(c: &mut Criterion) {
    let corpus = generate();
    let expected = frame(corpus.lines, Validation::Full);
    for bytes in [
        corpus.lines,
        corpus.records,
        corpus.compact,
        corpus.compact_gz,
    ] {
        for validate in [Validation::Full, Validation::Framing] {
            assert_eq!(frame(bytes, validate), expected);
        }
    }
    for (name, bytes) in [
        ("json-lines", corpus.lines),
        ("records-pretty", corpus.records),
        ("records-compact", corpus.compact),
    ] {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("baseline-memchr-newlines", |b| {
            b.iter(|| memchr::memchr_iter(b'\n', black_box(bytes)).count())
        });
        group.bench_function("frame-full", |b| {
            b.iter(|| frame(black_box(bytes), Validation::Full))
        });
        group.bench_function("frame-framing", |b| {
            b.iter(|| frame(black_box(bytes), Validation::Framing))
        });
        group.finish();
    }
    let mut group = c.benchmark_group("records-compact-gz");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(corpus.compact.len() as u64));
    group.bench_function("baseline-gunzip-to-sink", |b| {
        b.iter(|| gunzip_to_sink(black_box(corpus.compact_gz)))
    });
    group.bench_function("frame-framing", |b| {
        b.iter(|| frame(black_box(corpus.compact_gz), Validation::Framing))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
