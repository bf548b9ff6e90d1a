//! Small MaxMind DB (MMDB format 2.0, IPv4 tree, 24-bit records) files for tests: the
//! GeoIP/ASN enrichment reads real databases, which cannot be shipped; a test writes one with
//! exactly the records it needs (format: <https://maxmind.github.io/MaxMind-DB/>).

use std::net::Ipv4Addr;
use std::path::Path;

/// MMDB data-section values.
pub enum D {
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
/// Writes a database of `kind` (`GeoIP2-City`, `GeoLite2-ASN`, …) where each `(network,
/// prefix length)` maps to its record; a longer prefix written later overrides inside a
/// shorter one's range only where the tree is not yet split (write shorter prefixes last).
pub fn write_mmdb(path: &Path, kind: &'static str, records: Vec<((Ipv4Addr, u8), D)>) {
    #[derive(Clone, Copy)]
    enum Child {
        Empty,
        Node(usize),
        Data(usize),
    }
    let mut nodes: Vec<[Child; 2]> = vec![[Child::Empty; 2]];
    let mut data = Vec::new();
    for ((ip, prefix), value) in records {
        assert!(
            (1..=32).contains(&prefix),
            "prefix length {prefix} out of 1..=32"
        );
        let offset = data.len();
        encode(&value, &mut data);
        let bits = u32::from(ip);
        let mut node = 0;
        for depth in 0..usize::from(prefix) {
            let bit = ((bits >> (31 - depth)) & 1) as usize;
            if depth + 1 == usize::from(prefix) {
                if matches!(nodes[node][bit], Child::Empty) {
                    nodes[node][bit] = Child::Data(offset);
                }
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

/// `{"en": name}`, as MaxMind's `names` maps.
pub fn names(en: &'static str) -> D {
    D::Map(vec![("en", D::Str(en))])
}

/// A GeoIP2-City record.
#[allow(clippy::too_many_arguments)]
pub fn city(
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
