//! Byte-level JSON value scanner: finds where one JSON value ends without building it.
//!
//! It checks the grammar cheaply (brackets balanced, keys quoted, `:` and `,` where JSON puts
//! them, scalars shaped like numbers or `true`/`false`/`null`) and the nesting depth, so a broken
//! line is caught where it breaks instead of swallowing the lines after it. It does not validate
//! escape sequences, number syntax in detail or control bytes inside strings: the engine's parse of
//! each record reports those.

use std::ops::Range;

/// One direct member of the scanned object: byte ranges of its key (between the quotes, escapes
/// left as they are) and of its value (the whole value text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub key: Range<usize>,
    pub value: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanError {
    /// The bytes ran out before the value ended.
    Incomplete,
    /// The byte at `at` cannot continue a JSON value; `expected` says what could.
    Syntax { at: usize, expected: &'static str },
    /// The value nests deeper than the depth limit at byte `at`.
    TooDeep { at: usize },
}

#[inline]
pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Position of the first non-whitespace byte at or after `from`, if any.
#[inline]
pub(crate) fn skip_ws(buf: &[u8], mut from: usize) -> Option<usize> {
    while from < buf.len() {
        if !is_ws(buf[from]) {
            return Some(from);
        }
        from += 1;
    }
    None
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of the result is set where `word` holds a byte equal to `b` (exact for
/// the lowest such byte, which is all that is used).
#[inline(always)]
fn bytes_equal(word: u64, b: u8) -> u64 {
    let x = word ^ (LOW_BITS * u64::from(b));
    x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS
}

/// The first `"` or `\\` at or after `at`: eight bytes at a time for the short strings CloudTrail
/// is made of, then memchr for long ones.
#[inline]
fn find_quote_or_backslash(buf: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    let short_end = (at + 64).min(buf.len());
    while i + 8 <= short_end {
        let word = u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        let hits = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i + 8 > short_end && short_end == buf.len() {
        return buf[i..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\')
            .map(|k| i + k);
    }
    memchr::memchr2(b'"', b'\\', &buf[i..]).map(|k| i + k)
}

/// Given `at` just past an opening quote, returns the position just past the closing quote.
#[inline(always)]
pub(crate) fn skip_string(buf: &[u8], mut at: usize) -> Result<usize, ScanError> {
    loop {
        let Some(p) = find_quote_or_backslash(buf, at) else {
            return Err(ScanError::Incomplete);
        };
        if buf[p] == b'"' {
            return Ok(p + 1);
        }
        // A backslash escapes the next byte (for `\\uXXXX` the hex digits need no care).
        at = p + 2;
        if at > buf.len() {
            return Err(ScanError::Incomplete);
        }
    }
}

/// Finds the end of the object whose `{` is `buf[start]` without checking its grammar: only
/// strings (with their escapes) and `{`/`}` nesting are followed. Used by
/// [`crate::Validation::Framing`]; on valid JSON it ends exactly where [`Scanner::scan_value`]
/// does. `max_depth` bounds the object nesting (arrays are not counted).
///
/// It jumps from brace to brace: a brace is outside any string when the bytes since the last
/// known outside position hold an even number of quotes and no backslash (counted with
/// vectorised `memchr`); only segments holding a backslash are walked string by string.
pub(crate) fn skip_object_fast(
    buf: &[u8],
    start: usize,
    max_depth: usize,
) -> Result<usize, ScanError> {
    debug_assert_eq!(buf[start], b'{');
    let mut depth = 0usize;
    // Invariant: `at` is outside any string.
    let mut at = start;
    loop {
        let c = at + memchr::memchr2(b'{', b'}', &buf[at..]).ok_or(ScanError::Incomplete)?;
        let segment = &buf[at..c];
        if let Some(b) = memchr::memchr(b'\\', segment) {
            // An escape ahead: quote parity up to the backslash says whether it is inside a
            // string (it is, in valid JSON); step past that string exactly, then look again.
            let b = at + b;
            at = if memchr::memchr_iter(b'"', &buf[at..b]).count() % 2 == 1 {
                skip_string(buf, b)?
            } else {
                b + 1
            };
            continue;
        }
        if memchr::memchr_iter(b'"', segment).count() % 2 == 1 {
            // The brace is inside the string opened by the segment's last quote.
            at = skip_string(buf, c)?;
            continue;
        }
        if buf[c] == b'{' {
            depth += 1;
            if depth > max_depth {
                return Err(ScanError::TooDeep { at: c });
            }
        } else {
            depth -= 1;
            if depth == 0 {
                return Ok(c + 1);
            }
        }
        at = c + 1;
    }
}

#[inline]
fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

/// A number or literal starting at `at`; returns its end.
fn skip_scalar(buf: &[u8], at: usize) -> Result<usize, ScanError> {
    let mut end = at;
    while end < buf.len() && is_scalar_byte(buf[end]) {
        end += 1;
    }
    if end == buf.len() {
        // The token may continue in bytes not read yet.
        return Err(ScanError::Incomplete);
    }
    let token = &buf[at..end];
    let ok = match token[0] {
        b't' => token == b"true",
        b'f' => token == b"false",
        b'n' => token == b"null",
        b'-' | b'0'..=b'9' => token[1..]
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')),
        _ => false,
    };
    if ok {
        Ok(end)
    } else {
        Err(ScanError::Syntax {
            at,
            expected: "a JSON value (object, array, string, number, true, false or null)",
        })
    }
}

/// Reusable scratch space for [`scan_value`].
#[derive(Default)]
pub(crate) struct Scanner {
    stack: Vec<u8>,
    /// Direct members of the last scanned value when it was an object.
    pub members: Vec<Member>,
}

/// The first non-whitespace position at or after `at`, or `Incomplete`.
#[inline(always)]
fn ws(buf: &[u8], at: usize) -> Result<usize, ScanError> {
    skip_ws(buf, at).ok_or(ScanError::Incomplete)
}

const VALUE_EXPECTED: &str = "a JSON value (object, array, string, number, true, false or null)";

impl Scanner {
    /// Scans the JSON value whose first byte is `buf[start]` (not whitespace) and returns the
    /// position just past it. When the value is an object, [`Scanner::members`] lists its direct
    /// members afterwards.
    pub(crate) fn scan_value(
        &mut self,
        buf: &[u8],
        start: usize,
        max_depth: usize,
    ) -> Result<usize, ScanError> {
        self.stack.clear();
        self.members.clear();
        let stack = &mut self.stack;
        let members = &mut self.members;
        let mut i = start;
        // Each pass of 'value frames one value starting at `i`, then consumes what follows it
        // (`,` and the next key, or closing brackets) until another value must start.
        'value: loop {
            let b = *buf.get(i).ok_or(ScanError::Incomplete)?;
            match b {
                b'{' | b'[' => {
                    if stack.len() >= max_depth {
                        return Err(ScanError::TooDeep { at: i });
                    }
                    stack.push(b);
                    i = ws(buf, i + 1)?;
                    let close = if b == b'{' { b'}' } else { b']' };
                    if buf[i] == close {
                        stack.pop();
                        i += 1;
                    } else {
                        if b == b'{' {
                            i = Self::key(buf, i, stack.len() == 1, members)?;
                        }
                        continue 'value;
                    }
                }
                b'"' => i = skip_string(buf, i + 1)?,
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => i = skip_scalar(buf, i)?,
                _ => {
                    return Err(ScanError::Syntax {
                        at: i,
                        expected: VALUE_EXPECTED,
                    });
                }
            }
            // A value ended at `i`.
            loop {
                let Some(&top) = stack.last() else {
                    return Ok(i);
                };
                if stack.len() == 1
                    && top == b'{'
                    && let Some(m) = members.last_mut()
                {
                    m.value.end = i;
                }
                i = ws(buf, i)?;
                match (buf[i], top) {
                    (b',', b'{') => {
                        i = ws(buf, i + 1)?;
                        i = Self::key(buf, i, stack.len() == 1, members)?;
                        continue 'value;
                    }
                    (b',', _) => {
                        i = ws(buf, i + 1)?;
                        continue 'value;
                    }
                    (b'}', b'{') | (b']', b'[') => {
                        stack.pop();
                        i += 1;
                    }
                    _ => {
                        return Err(ScanError::Syntax {
                            at: i,
                            expected: if top == b'{' {
                                "',' or '}' after an object member"
                            } else {
                                "',' or ']' after an array element"
                            },
                        });
                    }
                }
            }
        }
    }

    /// `"key" :` at `i`; returns the position of the member's value (recorded when `direct`).
    #[inline(always)]
    fn key(
        buf: &[u8],
        i: usize,
        direct: bool,
        members: &mut Vec<Member>,
    ) -> Result<usize, ScanError> {
        if buf[i] != b'"' {
            return Err(ScanError::Syntax {
                at: i,
                expected: "a quoted object key",
            });
        }
        let end = skip_string(buf, i + 1)?;
        let colon = ws(buf, end)?;
        if buf[colon] != b':' {
            return Err(ScanError::Syntax {
                at: colon,
                expected: "':' after an object key",
            });
        }
        let value = ws(buf, colon + 1)?;
        if direct {
            members.push(Member {
                key: i + 1..end - 1,
                value: value..value,
            });
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(s: &str) -> Result<usize, ScanError> {
        Scanner::default().scan_value(s.as_bytes(), 0, 256)
    }

    #[test]
    fn ends_of_values() {
        assert_eq!(scan(r#"{"a":1} tail"#), Ok(7));
        assert_eq!(scan(r#"{"a":"x\"}y","b":[1,{"c":null}]}"#), Ok(32));
        assert_eq!(scan(r#"{"a":"\\"}"#), Ok(10));
        assert_eq!(scan(r#"{"a":"{[}]"}"#), Ok(12));
        assert_eq!(scan("[]\n"), Ok(2));
        assert_eq!(scan("{ }\n"), Ok(3));
        assert_eq!(scan("\"s\""), Ok(3));
        assert_eq!(scan("true\n"), Ok(4));
    }

    #[test]
    fn incomplete_and_syntax() {
        assert_eq!(scan(r#"{"a":1"#), Err(ScanError::Incomplete));
        assert_eq!(scan(r#"{"a":"x\"#), Err(ScanError::Incomplete));
        assert_eq!(scan("12"), Err(ScanError::Incomplete));
        assert!(matches!(
            scan("{\"a\":1\n{\"b\":2}"),
            Err(ScanError::Syntax { at: 7, .. })
        ));
        assert!(matches!(
            scan(r#"{"a" 1}"#),
            Err(ScanError::Syntax { at: 5, .. })
        ));
        assert!(matches!(
            scan(r#"{a:1}"#),
            Err(ScanError::Syntax { at: 1, .. })
        ));
        assert!(matches!(
            scan(r#"[1,]"#),
            Err(ScanError::Syntax { at: 3, .. })
        ));
        assert!(matches!(
            scan(r#"[tru]"#),
            Err(ScanError::Syntax { at: 1, .. })
        ));
        assert!(matches!(
            scan(r#"{"a":1]"#),
            Err(ScanError::Syntax { at: 6, .. })
        ));
    }

    #[test]
    fn quote_search_matches_a_plain_search() {
        let text =
            br#"abcdefgh\"ijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789"end"#;
        for at in 0..text.len() {
            for len in at..=text.len() {
                let slice = &text[..len];
                let expected = slice[at..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .map(|k| at + k);
                assert_eq!(find_quote_or_backslash(slice, at), expected, "{at} {len}");
            }
        }
    }

    #[test]
    fn depth_limit() {
        let deep = "[".repeat(10) + &"]".repeat(10);
        assert_eq!(
            Scanner::default().scan_value(deep.as_bytes(), 0, 10),
            Ok(20)
        );
        assert_eq!(
            Scanner::default().scan_value(deep.as_bytes(), 0, 9),
            Err(ScanError::TooDeep { at: 9 })
        );
    }

    #[test]
    fn members_of_top_object() {
        let text = r#"{"a": {"x":1}, "b" : [1,2], "c":"s","d":3}"#;
        let mut s = Scanner::default();
        assert_eq!(s.scan_value(text.as_bytes(), 0, 256), Ok(text.len()));
        let got: Vec<(&str, &str)> = s
            .members
            .iter()
            .map(|m| (&text[m.key.clone()], &text[m.value.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", r#"{"x":1}"#),
                ("b", "[1,2]"),
                ("c", "\"s\""),
                ("d", "3")
            ]
        );
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-100_000i32..100_000).prop_map(|i| Value::from(f64::from(i) / 64.0)),
            "[a-z\\\\\"{}\\[\\]:, \\u{e9}\\u{1F600}\\n\\t]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\\\"{}]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn fast_object_skip_follows_strings_and_escapes() {
        let fast = |s: &str| skip_object_fast(s.as_bytes(), 0, 256);
        assert_eq!(fast(r#"{"a":"}"} tail"#), Ok(9));
        assert_eq!(fast(r#"{"a":"x\"}y","b":[1,{"c":"{"}]}"#), Ok(31));
        assert_eq!(fast(r#"{"a":"\\"}"#), Ok(10));
        assert_eq!(fast(r#"{"p":"{\"V\":{\"x\":1}}","q":{}}"#), Ok(32));
        assert_eq!(fast(r#"{"a":{"b":1}"#), Err(ScanError::Incomplete));
        assert_eq!(fast(r#"{"a":"}"#), Err(ScanError::Incomplete));
        assert_eq!(
            skip_object_fast(b"{{{{}}}}", 0, 3),
            Err(ScanError::TooDeep { at: 3 })
        );
    }

    proptest::proptest! {
        /// On any valid JSON object the fast skipper ends where the full scanner does.
        #[test]
        fn fast_skip_agrees_with_the_scanner(v in json_value(), pretty in proptest::bool::ANY) {
            let v = serde_json::json!({ "k": v, "s": "{\"}" });
            let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
            let padded = format!("{text}\n");
            proptest::prop_assert_eq!(skip_object_fast(padded.as_bytes(), 0, 256), Ok(text.len()));
        }

        /// On any valid JSON, compact or pretty, the scanner ends exactly where serde_json does
        /// and lists the same top-level members.
        #[test]
        fn agrees_with_serde_json(v in json_value(), pretty in proptest::bool::ANY) {
            let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
            let padded = format!("{text}\n");
            let mut s = Scanner::default();
            proptest::prop_assert_eq!(s.scan_value(padded.as_bytes(), 0, 256), Ok(text.len()));
            if let serde_json::Value::Object(map) = &v {
                let keys: Vec<String> = s.members.iter()
                    .map(|m| serde_json::from_str(&format!("\"{}\"", &padded[m.key.clone()])).unwrap())
                    .collect();
                let expected: Vec<String> = map.keys().cloned().collect();
                proptest::prop_assert_eq!(keys, expected);
                for m in &s.members {
                    let value: serde_json::Value = serde_json::from_str(&padded[m.value.clone()]).unwrap();
                    let key: String = serde_json::from_str(&format!("\"{}\"", &padded[m.key.clone()])).unwrap();
                    proptest::prop_assert_eq!(&value, &map[&key]);
                }
            }
        }
    }
}
