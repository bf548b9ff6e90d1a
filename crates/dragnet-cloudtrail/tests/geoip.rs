//! GeoIP/ASN fields from MaxMind-format databases. The test writes two small databases (the
//! MMDB format, IPv4 tree) holding, for the fixture addresses, the records that make
//! Elasticsearch's test databases produce the fixtures' `source.geo.*` / `source.as.*`, then
//! checks that every fixture document's `source.*` agrees with Elastic's expected output.

use std::collections::BTreeMap;
use std::path::Path;

use dragnet_cloudtrail::{Mapper, MapperError, MapperOptions};
use dragnet_event::FieldTable;
use serde_json::Value;

/// MMDB data-section values.
enum D {
    Str(&'static str),
    F64(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'static str, D)>),
    Array(Vec<D>),
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let (first, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else {
        (29, vec![(size - 29) as u8])
    };
    if kind <= 7 {
        out.push((kind << 5) | first);
    } else {
        out.push(first);
        out.push(kind - 7);
    }
    out.extend(extra);
}

fn encode(v: &D, out: &mut Vec<u8>) {
    match v {
        D::Str(s) => {
            control(out, 2, s.len());
            out.extend(s.as_bytes());
        }
        D::F64(f) => {
            control(out, 3, 8);
            out.extend(f.to_be_bytes());
        }
        D::U16(n) => {
            control(out, 5, 2);
            out.extend(n.to_be_bytes());
        }
        D::U32(n) => {
            control(out, 6, 4);
            out.extend(n.to_be_bytes());
        }
        D::U64(n) => {
            control(out, 9, 8);
            out.extend(n.to_be_bytes());
        }
        D::Map(entries) => {
            control(out, 7, entries.len());
            for (k, v) in entries {
                encode(&D::Str(k), out);
                encode(v, out);
            }
        }
        D::Array(items) => {
            control(out, 11, items.len());
            for i in items {
                encode(i, out);
            }
        }
    }
}

/// An IPv4 MMDB with one record per /32.
fn write_mmdb(path: &Path, kind: &'static str, records: Vec<([u8; 4], D)>) {
    #[derive(Clone, Copy)]
    enum Child {
        Empty,
        Node(usize),
        Data(usize),
    }
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
    let mut data = Vec::new();
    for (ip, value) in records {
        let offset = data.len();
        encode(&value, &mut data);
        let bits = u32::from_be_bytes(ip);
        let mut node = 0;
        for depth in 0..32 {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth == 31 {
                nodes[node][bit] = Child::Data(offset);
            } else {
                node = match nodes[node][bit] {
                    Child::Node(n) => n,
                    _ => {
                        nodes.push([Child::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][bit] = Child::Node(n);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for n in &nodes {
        for c in n {
            let v = match *c {
                Child::Empty => count,
                Child::Node(i) => i,
                Child::Data(off) => count + 16 + off,
            } as u32;
            out.extend(&v.to_be_bytes()[1..]);
        }
    }
    out.extend([0u8; 16]);
    out.extend(&data);
    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    encode(
        &D::Map(vec![
            ("binary_format_major_version", D::U16(2)),
            ("binary_format_minor_version", D::U16(0)),
            ("build_epoch", D::U64(1_700_000_000)),
            ("database_type", D::Str(kind)),
            (
                "description",
                D::Map(vec![("en", D::Str("dragnet test database"))]),
            ),
            ("ip_version", D::U16(4)),
            ("languages", D::Array(vec![D::Str("en")])),
            ("node_count", D::U32(count as u32)),
            ("record_size", D::U16(24)),
        ]),
        &mut out,
    );
    std::fs::write(path, out).unwrap();
}

fn names(en: &'static str) -> D {
    D::Map(vec![("en", D::Str(en))])
}

#[allow(clippy::too_many_arguments)]
fn city(
    city: &'static str,
    continent: &'static str,
    iso: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    sub_iso: &'static str,
    sub: &'static str,
) -> D {
    D::Map(vec![
        ("city", D::Map(vec![("names", names(city))])),
        (
            "continent",
            D::Map(vec![("code", D::Str("XX")), ("names", names(continent))]),
        ),
        (
            "country",
            D::Map(vec![("iso_code", D::Str(iso)), ("names", names(country))]),
        ),
        (
            "location",
            D::Map(vec![("latitude", D::F64(lat)), ("longitude", D::F64(lon))]),
        ),
        (
            "subdivisions",
            D::Array(vec![D::Map(vec![
                ("iso_code", D::Str(sub_iso)),
                ("names", names(sub)),
            ])]),
        ),
    ])
}

fn leaves(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(&format!("{prefix}.{k}"), v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

#[test]
fn source_fields_agree_with_elastic_given_the_same_database_records() {
    let dir =
        dragnet_testdata::require_shared!("fixtures/aws-cloudtrail-pipeline/_dev/test/pipeline");
    let tmp = tempfile::tempdir().unwrap();
    let (city_db, asn_db) = (tmp.path().join("city.mmdb"), tmp.path().join("asn.mmdb"));
    write_mmdb(
        &city_db,
        "GeoIP2-City",
        vec![
            (
                [89, 160, 20, 156],
                city(
                    "Linköping",
                    "Europe",
                    "SE",
                    "Sweden",
                    58.4167,
                    15.6167,
                    "E",
                    "Östergötland County",
                ),
            ),
            (
                [216, 160, 83, 56],
                city(
                    "Milton",
                    "North America",
                    "US",
                    "United States",
                    47.2513,
                    -122.3149,
                    "WA",
                    "Washington",
                ),
            ),
            (
                [81, 2, 69, 144],
                city(
                    "London",
                    "Europe",
                    "GB",
                    "United Kingdom",
                    51.5142,
                    -0.0931,
                    "ENG",
                    "England",
                ),
            ),
        ],
    );
    write_mmdb(
        &asn_db,
        "GeoLite2-ASN",
        vec![
            (
                [89, 160, 20, 156],
                D::Map(vec![
                    ("autonomous_system_number", D::U32(29518)),
                    ("autonomous_system_organization", D::Str("Bredband2 AB")),
                ]),
            ),
            (
                [216, 160, 83, 56],
                D::Map(vec![("autonomous_system_number", D::U32(209))]),
            ),
        ],
    );
    let mapper = Mapper::bind(
        &FieldTable::new(),
        MapperOptions {
            geoip_db: Some(city_db),
            asn_db: Some(asn_db),
            ..MapperOptions::default()
        },
    )
    .unwrap();
    let (mut agree, mut docs) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "log") {
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{}-expected.json", path.display())).unwrap(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, want) in text.lines().zip(expected["expected"].as_array().unwrap()) {
            let got = mapper.map(line.as_bytes()).unwrap().to_ecs();
            let (mut g, mut w) = (BTreeMap::new(), BTreeMap::new());
            leaves("source", &got["source"], &mut g);
            leaves("source", &want["source"], &mut w);
            g.retain(|_, v| !v.is_null());
            w.retain(|_, v| !v.is_null());
            assert_eq!(g, w, "{}: {line}", path.display());
            agree += w.len();
            docs += 1;
        }
    }
    assert!(agree > 100, "{agree}");
    println!("geoip: {agree} source.* fields agree over {docs} fixture documents");
}

#[test]
fn an_unreadable_database_is_a_clear_error() {
    let err = Mapper::bind(
        &FieldTable::new(),
        MapperOptions {
            geoip_db: Some("/nonexistent/City.mmdb".into()),
            ..MapperOptions::default()
        },
    )
    .err()
    .expect("a missing database fails");
    assert!(matches!(err, MapperError::Database { .. }));
    assert!(err.to_string().contains("/nonexistent/City.mmdb"), "{err}");
}
