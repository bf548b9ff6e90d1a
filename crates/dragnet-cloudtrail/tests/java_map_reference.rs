//! Differential test of the `toString()` renderer against the reference model in
//! `shared/notes/java_map_tostring.py` on 10,000 generated maps (seeded, deterministic).

use std::fmt::Write as _;
use std::process::Command;

use dragnet_cloudtrail::java_map::{hashmap_capacity, java_string_hash, render};
use dragnet_cloudtrail::node::{Node, parse};

/// xorshift64*: a small deterministic generator (the cases must be identical on every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Keys of equal `String.hashCode` ("Aa" and "BB" collide, so every same-length word over them
/// does too), CloudTrail-like names and random identifiers.
fn key(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => (0..1 + rng.below(3))
            .map(|_| if rng.chance(50) { "Aa" } else { "BB" })
            .collect(),
        1 => [
            "instanceId",
            "imageId",
            "userName",
            "roleArn",
            "policyArn",
            "bucketName",
            "key",
            "groupId",
            "x-amz-server-side-encryption",
            "Host",
            "encryption",
            "items",
            "value",
            "filter",
            "maxResults",
            "dryRun",
            "fromPort",
            "toPort",
            "cidrIp",
            "ipProtocol",
        ][rng.below(20) as usize]
            .to_string(),
        2 => {
            let len = 1 + rng.below(12);
            (0..len)
                .map(|_| {
                    (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
                        [rng.below(65) as usize]) as char
                })
                .collect()
        }
        _ => format!("k{}", rng.below(200)),
    }
}

fn scalar(rng: &mut Rng, out: &mut String) {
    match rng.below(14) {
        0 => out.push_str("null"),
        1 => out.push_str("\"\""),
        2 => out.push_str("\"-\""),
        3 => out.push_str("\"none\""),
        4 => out.push_str(if rng.chance(50) { "true" } else { "false" }),
        5 => write!(out, "{}", rng.below(1000)).unwrap(),
        6 => write!(out, "{}", rng.next() as i64).unwrap(),
        7 => write!(out, "{}", rng.next() | (1 << 63)).unwrap(),
        8 | 9 => {
            // A normal double (subnormals print differently in JDK 19+, see java_double).
            let d = loop {
                let d = f64::from_bits(rng.next());
                if d.is_normal() {
                    break d;
                }
            };
            write!(out, "{d:?}").unwrap()
        }
        10 => {
            let d = [
                1.0,
                1e7,
                9_999_999.0,
                1e-3,
                0.000_999,
                0.5,
                100.0,
                1e21,
                2.5e-5,
                123.0,
            ][rng.below(10) as usize];
            write!(out, "{d:?}").unwrap()
        }
        11 => out.push_str("\"None\""),
        12 => out.push_str("\"héllo wörld, a=b {x}\""),
        _ => write!(out, "\"{}\"", key(rng)).unwrap(),
    }
}

/// Size classes around the HashMap resize thresholds (12 → 32 buckets, 24 → 64, 48 → 128).
fn map_size(rng: &mut Rng, depth: u32) -> usize {
    if depth > 0 && rng.chance(70) {
        return rng.below(5) as usize;
    }
    [0, 1, 3, 7, 11, 12, 13, 14, 23, 24, 25, 26, 37, 48, 49][rng.below(15) as usize]
}

fn value(rng: &mut Rng, depth: u32, out: &mut String) {
    let roll = if depth >= 3 { 0 } else { rng.below(10) };
    match roll {
        7 | 8 => map(rng, depth + 1, out),
        9 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                value(rng, depth + 1, out);
            }
            out.push(']');
        }
        _ => scalar(rng, out),
    }
}

/// A map whose keys never fill one HashMap bucket past 8 entries (Java would then resize or
/// treeify, which the reference model does not simulate).
fn map(rng: &mut Rng, depth: u32, out: &mut String) {
    let size = map_size(rng, depth);
    let mut keys: Vec<String> = Vec::new();
    let mut attempts = 0;
    while keys.len() < size && attempts < size * 20 {
        attempts += 1;
        let k = key(rng);
        if keys.contains(&k) {
            continue;
        }
        let cap = hashmap_capacity(keys.len() + 1) as u32;
        let bucket = |s: &str| {
            let h = java_string_hash(s);
            (h ^ (h >> 16)) & (cap - 1)
        };
        let b = bucket(&k);
        if keys.iter().filter(|o| bucket(o) == b).count() >= 8 {
            continue;
        }
        keys.push(k);
    }
    out.push('{');
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write!(out, "{}:", serde_json::to_string(k).unwrap()).unwrap();
        value(rng, depth, out);
    }
    out.push('}');
}

#[test]
fn renderer_agrees_with_the_reference_model_on_10000_maps() {
    let notes = dragnet_testdata::require_shared!("notes/java_map_tostring.py");
    let mut rng = Rng(0x5EED_D1A6_7E7C_0FFE);
    let cases: Vec<String> = (0..10_000)
        .map(|_| {
            let mut s = String::new();
            map(&mut rng, 0, &mut s);
            s
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let cases_path = dir.path().join("cases.jsonl");
    let out_path = dir.path().join("rendered.jsonl");
    std::fs::write(&cases_path, cases.join("\n") + "\n").unwrap();
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java_map_driver.py");
    let status = Command::new("python3")
        .args([
            driver.as_ref(),
            notes.as_os_str(),
            cases_path.as_os_str(),
            out_path.as_os_str(),
        ])
        .status()
        .expect("python3 is needed to run the reference model");
    assert!(status.success(), "reference model failed: {status}");
    let expected: Vec<Option<String>> = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(expected.len(), cases.len());

    let (mut agree, mut rendered, mut big) = (0, 0, 0);
    for (case, want) in cases.iter().zip(&expected) {
        let node = parse(case.as_bytes()).unwrap();
        let got = (!node.is_dropped()).then(|| render(&node));
        if &got != want {
            let (g, w) = (
                got.clone().unwrap_or_default(),
                want.clone().unwrap_or_default(),
            );
            let at = g.chars().zip(w.chars()).take_while(|(a, b)| a == b).count();
            let near = |s: &str| {
                s.chars()
                    .skip(at.saturating_sub(60))
                    .take(120)
                    .collect::<String>()
            };
            panic!(
                "mismatch at char {at}\n  rust : …{}…\n  model: …{}…\ncase: {case}",
                near(&g),
                near(&w)
            );
        }
        agree += 1;
        rendered += usize::from(got.is_some());
        if let Node::Object(entries) = &node {
            big += usize::from(entries.len() > 12);
        }
    }
    println!(
        "java_map: {agree}/{} strings agree ({rendered} non-empty, {big} maps above 12 keys)",
        cases.len()
    );
    assert!(big > 1000, "the generator must exercise resized maps");
}
