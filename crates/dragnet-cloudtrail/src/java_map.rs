//! Java's `toString()` of the maps Elasticsearch's `json` processor builds, which is how the
//! pipeline renders `aws.cloudtrail.request_parameters` and its siblings.
//!
//! `AbstractMap.toString()` walks a `java.util.HashMap`: bucket by bucket, where a key's bucket
//! is `spread(String.hashCode(key)) & (capacity - 1)`, and within a bucket in insertion order.
//! The capacity starts at 16 and doubles whenever the size exceeds ¾ of it while the JSON parser
//! fills the map; entries deleted afterwards (the pipeline's clean-up of `null`, `""`, `"-"`,
//! `"none"`, empty maps/lists) still counted, and removal never shrinks a table. Values: strings
//! raw (no quotes or escaping), integers in decimal, booleans, lists as `[a, b]`, nested maps
//! alike, doubles as `Double.toString`.
//!
//! Not modelled: a bucket that reaches 9 entries (which makes Java resize a small table or
//! turn the bucket into a tree); it needs 9 keys with equal low hash bits in one object.

use std::cmp::Ordering;

use crate::java_double::java_double;
use crate::node::Node;

/// `java.lang.String.hashCode()`: over UTF-16 code units, wrapping.
pub fn java_string_hash(s: &str) -> u32 {
    s.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    })
}

/// `HashMap.hash()`: the high half folded into the low half.
fn spread(h: u32) -> u32 {
    h ^ (h >> 16)
}

/// The table size a `HashMap` reaches after `inserted` distinct keys were put into it.
pub fn hashmap_capacity(inserted: usize) -> usize {
    let mut cap = 16usize;
    while inserted > cap / 4 * 3 {
        cap *= 2;
    }
    cap
}

/// Iteration order of a `HashMap` whose table grew to `capacity`, holding `keys` (given in
/// insertion order): the permutation of indices into `keys`.
pub fn hashmap_order<S: AsRef<str>>(keys: &[S], capacity: usize) -> Vec<usize> {
    let mask = (capacity - 1) as u32;
    let mut order: Vec<(u32, usize)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (spread(java_string_hash(k.as_ref())) & mask, i))
        .collect();
    // Stable by (bucket, insertion index).
    order.sort_unstable();
    order.into_iter().map(|(_, i)| i).collect()
}

/// `String.compareTo`: lexicographic over UTF-16 code units (the order of a Java `TreeSet`).
pub fn java_string_cmp(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The rendered string of a value as the pipeline's `toString()` prints it, after the first
/// clean-up (dropped values are skipped). Call only on a value that is not itself dropped.
pub fn render(node: &Node<'_>) -> String {
    let mut out = String::new();
    render_into(node, &mut out);
    out
}

fn render_into(node: &Node<'_>, out: &mut String) {
    if !render_kept(node, out) {
        // Only a nested value is dropped; this one is rendered as it is.
        out.push_str(match node {
            Node::Null => "null",
            Node::Str(s) => s,
            Node::Array(_) => "[]",
            _ => "{}",
        });
    }
}

/// Renders `node` unless the clean-up drops it ([`Node::is_dropped`]); whether it was rendered
/// (when not, `out` is as it was). Deciding while rendering keeps this linear in the value's
/// size: asking `is_dropped` at every level was quadratic in the nesting depth (a record
/// nested 100,000 deep took 100 s, issue 16).
fn render_kept(node: &Node<'_>, out: &mut String) -> bool {
    let start = out.len();
    match node {
        Node::Null => return false,
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::UInt(u) => out.push_str(&u.to_string()),
        Node::Float(f) => out.push_str(&java_double(*f)),
        Node::Str(s) if matches!(&**s, "" | "-" | "none") => return false,
        Node::Str(s) => out.push_str(s),
        Node::Array(items) => {
            out.push('[');
            let mut any = false;
            for item in items.iter() {
                push_member(out, &mut any, None, item);
            }
            if !any {
                out.truncate(start);
                return false;
            }
            out.push(']');
        }
        Node::Object(entries) => {
            out.push('{');
            let capacity = hashmap_capacity(entries.len());
            let keys: Vec<&str> = entries.iter().map(|(k, _)| &**k).collect();
            let mut any = false;
            for i in hashmap_order(&keys, capacity) {
                let (k, v) = &entries[i];
                push_member(out, &mut any, Some(k), v);
            }
            if !any {
                out.truncate(start);
                return false;
            }
            out.push('}');
        }
    }
    true
}

/// Renders one list element or map entry (`key=value`) after a `, ` when one came before,
/// unless the clean-up drops its value; `any` says whether one came before.
fn push_member(out: &mut String, any: &mut bool, key: Option<&str>, value: &Node<'_>) {
    let mark = out.len();
    if *any {
        out.push_str(", ");
    }
    if let Some(key) = key {
        out.push_str(key);
        out.push('=');
    }
    if render_kept(value, out) {
        *any = true;
    } else {
        out.truncate(mark);
    }
}

/// Length of a string in UTF-16 code units (Java's `String.length()`).
pub fn java_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parse;

    fn r(json: &str) -> String {
        render(&parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn string_hash_matches_java() {
        // Values from java.lang.String#hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        assert_eq!(java_string_hash("hello") as i32, 99162322);
        // Surrogate pairs hash as two code units.
        assert_eq!(
            java_string_hash("😀"),
            0xD83D_u32.wrapping_mul(31).wrapping_add(0xDE00)
        );
    }

    #[test]
    fn renders_the_fixture_examples() {
        // aws 8.9.0 test-modify-image-attribute-json.log-expected.json
        assert_eq!(
            r(
                r#"{"attributeType":"launchPermission","imageId":"ami-0beb42caf02660314","launchPermission":{"remove":{"items":[{"group":"all"}]}}}"#
            ),
            "{imageId=ami-0beb42caf02660314, attributeType=launchPermission, launchPermission={remove={items=[{group=all}]}}}"
        );
        // test-send-command-targets-json.log-expected.json
        assert_eq!(
            r(
                r#"{"targets":[{"key":"instanceids","values":["i-0ddf9acf8eeb33959"]}],"documentName":"EncryptFilesAndUploadRansomNote","interactive":false}"#
            ),
            "{interactive=false, documentName=EncryptFilesAndUploadRansomNote, targets=[{values=[i-0ddf9acf8eeb33959], key=instanceids}]}"
        );
        // test-console-login-json.log-expected.json
        assert_eq!(
            r(
                r#"{"MobileVersion":"No","LoginTo":"https://console.aws.amazon.com/s3/","MFAUsed":"No"}"#
            ),
            "{LoginTo=https://console.aws.amazon.com/s3/, MobileVersion=No, MFAUsed=No}"
        );
    }

    #[test]
    fn removed_values_vanish_but_keep_the_capacity() {
        assert_eq!(
            r(r#"{"a":"","b":[],"c":{"d":null},"e":"none","f":"-","g":1}"#),
            "{g=1}"
        );
        assert_eq!(hashmap_capacity(12), 16);
        assert_eq!(hashmap_capacity(13), 32);
        assert_eq!(hashmap_capacity(24), 32);
        assert_eq!(hashmap_capacity(25), 64);
        // A 13-key map grew to 32 buckets; with "zeta" removed it still iterates over 32
        // (expected strings printed by java.util.HashMap on OpenJDK 17).
        let keys = [
            "zeta",
            "alpha",
            "instanceType",
            "imageId",
            "keyName",
            "monitoring",
            "subnetId",
            "groupSet",
            "userData",
            "blockDevice",
            "placement",
            "ebsOptimized",
            "clientToken",
        ];
        let body = |skip_first: bool| {
            keys.iter()
                .enumerate()
                .skip(usize::from(skip_first))
                .map(|(i, k)| {
                    if i == 0 {
                        format!("\"{k}\":\"\"")
                    } else {
                        format!("\"{k}\":{i}")
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            r(&format!("{{{}}}", body(false))),
            "{subnetId=6, ebsOptimized=11, imageId=3, userData=8, clientToken=12, instanceType=2, \
             keyName=4, monitoring=5, groupSet=7, blockDevice=9, alpha=1, placement=10}"
        );
        assert_eq!(
            r(&format!("{{{}}}", body(true))),
            "{subnetId=6, blockDevice=9, ebsOptimized=11, imageId=3, userData=8, clientToken=12, \
             alpha=1, instanceType=2, keyName=4, placement=10, monitoring=5, groupSet=7}"
        );
    }

    #[test]
    fn scalars_and_lists() {
        assert_eq!(
            r(r#"[1, "a", true, [], [null], [[2]]]"#),
            "[1, a, true, [[2]]]"
        );
        assert_eq!(r(r#""plain""#), "plain");
        assert_eq!(r("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(r("18446744073709551615"), "18446744073709551615");
    }

    #[test]
    fn doubles_print_like_java() {
        for (d, want) in [
            (1.0, "1.0"),
            (1e7, "1.0E7"),
            (9_999_999.0, "9999999.0"),
            (1e-3, "0.001"),
            (1e-4, "1.0E-4"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (1.5e300, "1.5E300"),
            (5e-324, "4.9E-324"),
            (f64::MAX, "1.7976931348623157E308"),
            (100.0, "100.0"),
            (12345678.9, "1.23456789E7"),
            (-0.0, "-0.0"),
            (2e22, "2.0E22"),
            (1e-5, "1.0E-5"),
            (0.00123, "0.00123"),
            (0.002, "0.002"),
            (1927220481940758.3, "1.9272204819407582E15"),
        ] {
            assert_eq!(java_double(d), want, "{d:?}");
        }
    }

    #[test]
    fn java_string_order_is_utf16() {
        assert_eq!(java_string_cmp("B", "a"), Ordering::Less);
        // U+FF5E (one unit 0xFF5E) sorts after U+1F600 (units 0xD83D…) in Java, not in UTF-8.
        assert_eq!(java_string_cmp("\u{ff5e}", "😀"), Ordering::Greater);
    }
}
