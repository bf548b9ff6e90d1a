//! GeoIP/ASN fields from MaxMind-format databases. The test writes two small databases (the
//! MMDB format, IPv4 tree) holding, for the fixture addresses, the records that make
//! Elasticsearch's test databases produce the fixtures' `source.geo.*` / `source.as.*`, then
//! checks that every fixture document's `source.*` agrees with Elastic's expected output.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use dragnet_cloudtrail::{Mapper, MapperError, MapperOptions};
use dragnet_event::FieldTable;
use dragnet_testdata::mmdb::{D, city, write_mmdb};
use serde_json::Value;

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
                (Ipv4Addr::new(89, 160, 20, 156), 32),
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
                (Ipv4Addr::new(216, 160, 83, 56), 32),
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
                (Ipv4Addr::new(81, 2, 69, 144), 32),
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
                (Ipv4Addr::new(89, 160, 20, 156), 32),
                D::Map(vec![
                    ("autonomous_system_number", D::U32(29518)),
                    ("autonomous_system_organization", D::Str("Bredband2 AB")),
                ]),
            ),
            (
                (Ipv4Addr::new(216, 160, 83, 56), 32),
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
