//! JSON `\u` escapes of UTF-16 surrogates that do not form a pair (`"\ud800"`, `"\udc00x"`):
//! serde_json rejects the whole record, but Filebeat and Elastic Agent (Go) decode each as
//! U+FFFD and index the record. Go's `encoding/json` documents it: "invalid UTF-8 or invalid
//! UTF-16 surrogate pairs are not treated as an error. Instead, they are replaced by the
//! Unicode replacement character U+FFFD" (<https://pkg.go.dev/encoding/json#Unmarshal>); its
//! `unquote` replaces a surrogate that does not pair with the next escape and goes on with
//! that escape. Elasticsearch itself stores an unpaired surrogate of a string as U+FFFD too
//! (Lucene's `UnicodeUtil.UTF16toUTF8`). dragnet rewrites such an escape to `\ufffd` before
//! parsing, so the record is evaluated as Elastic indexes it.

/// `json` with every unpaired surrogate escape rewritten to `\ufffd`, and how many were; `None`
/// when there is none (the common case: one `memchr` pass when there is no `\u` at all).
pub(crate) fn repair_surrogate_escapes(json: &[u8]) -> Option<(Vec<u8>, usize)> {
    let first = first_unpaired(json, 0)?;
    let mut out = Vec::with_capacity(json.len());
    let mut copied = 0;
    let mut replaced = 0;
    let mut next = Some(first);
    while let Some(at) = next {
        out.extend_from_slice(&json[copied..at]);
        out.extend_from_slice(b"\\ufffd");
        replaced += 1;
        copied = at + 6;
        next = first_unpaired(json, copied);
    }
    out.extend_from_slice(&json[copied..]);
    Some((out, replaced))
}

/// Whether `json` holds an unpaired surrogate escape.
pub(crate) fn has_unpaired_surrogate(json: &[u8]) -> bool {
    first_unpaired(json, 0).is_some()
}

/// Where the first unpaired surrogate escape (`\uXXXX`, 6 bytes) at or after `from` starts.
/// Only a `\` that is not itself escaped starts an escape; backslashes appear only in strings
/// in valid JSON, so no string tracking is needed.
fn first_unpaired(json: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = memchr::memchr(b'\\', &json[i..]) {
        let at = i + off;
        match json.get(at + 1) {
            Some(b'u') => match hex4(json, at + 2) {
                Some(0xD800..=0xDBFF) => {
                    let paired = json.get(at + 6) == Some(&b'\\')
                        && json.get(at + 7) == Some(&b'u')
                        && matches!(hex4(json, at + 8), Some(0xDC00..=0xDFFF));
                    if !paired {
                        return Some(at);
                    }
                    i = at + 12;
                }
                Some(0xDC00..=0xDFFF) => return Some(at),
                _ => i = at + 2,
            },
            Some(_) => i = at + 2,
            None => return None,
        }
    }
    None
}

/// The value of four hex digits at `at`, if they are.
fn hex4(json: &[u8], at: usize) -> Option<u16> {
    let digits = json.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    u16::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(json: &str) -> Option<(String, usize)> {
        repair_surrogate_escapes(json.as_bytes()).map(|(b, n)| (String::from_utf8(b).unwrap(), n))
    }

    #[test]
    fn unpaired_surrogates_become_the_replacement_character() {
        assert_eq!(
            repaired(r#"{"a":"x\ud800y"}"#),
            Some((r#"{"a":"x\ufffdy"}"#.into(), 1))
        );
        // A lone low surrogate, and a high one at the very end of a string.
        assert_eq!(repaired(r#"{"a":"\uDC00","b":"\uD83D"}"#).unwrap().1, 2);
        // A high surrogate followed by an escape that is not a low one: only the high one is
        // replaced, the next escape is read on its own (Go's `unquote`).
        assert_eq!(
            repaired(r#"{"a":"\ud800\u0041"}"#),
            Some((r#"{"a":"\ufffd\u0041"}"#.into(), 1))
        );
        // Two high surrogates in a row: both replaced.
        assert_eq!(repaired(r#"{"a":"\ud800\ud800"}"#).unwrap().1, 2);
        let fixed = repaired(r#"{"a":"x\ud800y"}"#).unwrap().0;
        let value: serde_json::Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(value["a"], "x\u{FFFD}y");
    }

    #[test]
    fn valid_escapes_are_left_alone() {
        for json in [
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":"\u00e9\n\"\\"}"#,
            // An escaped backslash followed by text that looks like an escape.
            r#"{"a":"\\ud800"}"#,
            r#"{"a":"plain"}"#,
            // Truncated escapes are the JSON parser's to report.
            r#"{"a":"\u12"#,
            "\\",
        ] {
            assert_eq!(repaired(json), None, "{json}");
            assert!(!has_unpaired_surrogate(json.as_bytes()));
        }
    }
}
