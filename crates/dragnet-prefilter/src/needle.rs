//! The one needle type: what a raw record must contain for a literal to be present in a field
//! of its mapped document, and how a member's raw string value is read.
//!
//! The source mapping (`dragnet-cloudtrail`) answers, per (field, literal), with a [`Needle`];
//! the [`crate::Prefilter`] compiles rules' needles into byte searches and member look-ups.

/// What a raw record must contain for the mapped field to hold the literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Needle {
    /// These bytes, verbatim (unless the record contains a `\u` or `\/` escape: such records
    /// are never prefiltered).
    Bytes(Vec<u8>),
    /// These bytes, ASCII-case-insensitively (same escape caveat).
    CaseInsensitive(Vec<u8>),
    /// The field is the same constant for every record: `true` when it holds the literal
    /// (every record satisfies the condition), `false` when it never does.
    Constant(bool),
    /// The record has a member named `key` whose value is a JSON string spelled exactly
    /// these bytes (unless the record contains a `\u` escape): the field is that top-level
    /// string, copied verbatim, and equals the literal. Stronger than [`Needle::Bytes`] (the
    /// bytes may occur anywhere; `DeleteFunction` is inside `DeleteFunctionConcurrency`),
    /// and testable with one search for the key (see [`member_values`]).
    Member { key: &'static str, value: Vec<u8> },
    /// Like [`Needle::Member`], ASCII-case-insensitively: the value lowercased equals these
    /// (lowercase ASCII) bytes. A value with non-ASCII bytes (which Unicode case folding could
    /// map onto ASCII) must be taken as a possible match.
    MemberFolded { key: &'static str, value: Vec<u8> },
    /// Like [`Needle::Member`], but the member's string value starts with these bytes (a
    /// keyword glob `X*`: Lambda's `DeleteFunction20150331`): the value is the verbatim field.
    MemberPrefix { key: &'static str, value: Vec<u8> },
    /// Like [`Needle::MemberPrefix`], ASCII-case-insensitively (`value` is lowercase ASCII).
    /// A value whose first `value.len()` bytes are not all ASCII must be taken as a match.
    MemberFoldedPrefix { key: &'static str, value: Vec<u8> },
    /// Cannot say: never filter on this.
    Unknown,
}

/// What follows one occurrence of a quoted key in a raw record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberValue<'r> {
    /// No `:` follows: the quoted text was a string value, not a key.
    NotAKey,
    /// A JSON string without escapes: its raw bytes.
    String(&'r [u8]),
    /// Another kind of value, a string holding a backslash escape, or a cut record.
    Undecidable,
}

/// Reads the value after the quoted key ending at `after_key` in `record` (blanks allowed
/// around the `:`).
pub fn member_value_at(record: &[u8], after_key: usize) -> MemberValue<'_> {
    let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = after_key;
    while i < record.len() && blank(record[i]) {
        i += 1;
    }
    if record.get(i) != Some(&b':') {
        return MemberValue::NotAKey;
    }
    i += 1;
    while i < record.len() && blank(record[i]) {
        i += 1;
    }
    if record.get(i) != Some(&b'"') {
        return MemberValue::Undecidable;
    }
    let start = i + 1;
    // Most values (event names, service endpoints) end within a few dozen bytes: a plain loop
    // finds their end sooner than a SIMD search is set up.
    let near = &record[start..record.len().min(start + 64)];
    let end = match near.iter().position(|&b| b == b'"' || b == b'\\') {
        Some(len) => Some(len),
        None if near.len() < 64 => None,
        None => memchr::memchr2(b'"', b'\\', &record[start + 64..]).map(|len| 64 + len),
    };
    match end {
        Some(len) if record[start + len] == b'"' => {
            MemberValue::String(&record[start..start + len])
        }
        _ => MemberValue::Undecidable,
    }
}

/// Calls `found` with the raw bytes of every JSON string that follows `"key"` and a `:` in
/// `record` (`key_finder` searches for the quoted key, e.g. `"eventName"`). Occurrences
/// nested deeper or inside other strings are reported too: the caller gets a superset of the
/// top-level member's value. Returns `false` when some occurrence cannot be read that way (a
/// value that is not a string, a string holding a backslash escape, a cut record): then
/// nothing may be concluded from the values seen.
pub fn member_values<'r>(
    record: &'r [u8],
    key_finder: &memchr::memmem::Finder<'_>,
    found: &mut dyn FnMut(&'r [u8]),
) -> bool {
    let mut decidable = true;
    for at in key_finder.find_iter(record) {
        match member_value_at(record, at + key_finder.needle().len()) {
            MemberValue::NotAKey => {}
            MemberValue::String(v) => found(v),
            MemberValue::Undecidable => decidable = false,
        }
    }
    decidable
}

/// Whether a member value `v` (raw bytes of an unescaped JSON string) may start with the
/// lowercase ASCII `prefix` once lowercased: decided by ASCII case folding when the value's
/// first `prefix.len()` bytes are ASCII (a value made of fewer ASCII bytes cannot); otherwise
/// (Unicode lowercasing could give ASCII, as the Kelvin sign gives `k`) taken as a match.
pub fn folded_prefix_may_match(v: &[u8], prefix: &[u8]) -> bool {
    let head = &v[..v.len().min(prefix.len())];
    if !head.is_ascii() {
        return true;
    }
    head.len() == prefix.len() && head.eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_prefixes_decide_by_ascii_case_only_when_they_can() {
        assert!(folded_prefix_may_match(
            b"DeleteFunction20150331",
            b"deletefunction20"
        ));
        assert!(folded_prefix_may_match(
            b"DELETEFUNCTION20",
            b"deletefunction20"
        ));
        assert!(!folded_prefix_may_match(
            b"DeleteFunctionX",
            b"deletefunction20"
        ));
        assert!(!folded_prefix_may_match(b"Delete", b"deletefunction20"));
        // Non-ASCII within the prefix's length: could fold onto it.
        assert!(folded_prefix_may_match("\u{212A}ey".as_bytes(), b"key"));
        // Non-ASCII after it changes nothing.
        assert!(!folded_prefix_may_match("Lock\u{212A}".as_bytes(), b"key"));
        assert!(folded_prefix_may_match("Key\u{212A}".as_bytes(), b"key"));
    }

    fn members(record: &str) -> (Vec<String>, bool) {
        let finder = memchr::memmem::Finder::new(b"\"eventName\"");
        let mut seen = Vec::new();
        let decidable = member_values(record.as_bytes(), &finder, &mut |v| {
            seen.push(String::from_utf8_lossy(v).into_owned())
        });
        (seen, decidable)
    }

    #[test]
    fn member_values_read_every_occurrence_or_say_they_cannot() {
        assert_eq!(
            members(r#"{"eventName":"A","x":{"eventName" : "B"}}"#),
            (vec!["A".to_string(), "B".to_string()], true)
        );
        // A string value spelled "eventName" is not a key.
        assert_eq!(members(r#"{"k":"eventName","eventName":"A"}"#).0, vec!["A"]);
        assert_eq!(members(r#"{"other":1}"#), (vec![], true));
        for undecidable in [
            r#"{"eventName":5}"#,
            r#"{"eventName":["A"]}"#,
            r#"{"eventName":"A\"B"}"#,
            r#"{"eventName":"cut"#,
        ] {
            assert!(!members(undecidable).1, "{undecidable}");
        }
        // Values ending past the first 64 bytes, with and without an escape there; a value
        // of exactly 64 bytes; one cut after 64 bytes.
        for len in [63, 64, 65, 200] {
            let long = "x".repeat(len);
            let record = format!(r#"{{"eventName":"{long}","y":1}}"#);
            assert_eq!(members(&record), (vec![long.clone()], true), "{len}");
            let escaped = format!(r#"{{"eventName":"{long}\"q","y":1}}"#);
            assert!(!members(&escaped).1, "{len}");
            let cut = format!(r#"{{"eventName":"{long}"#);
            assert!(!members(&cut).1, "{len}");
        }
    }
}
