//! Which needles occur in a record, all at once, for measuring gate selectivity on a sample of
//! the input ([`crate::Prefilter::measure`]). Decides exactly what [`crate::Prefilter::candidates`]
//! decides per needle: bytes anywhere (exactly or ASCII-case-insensitively), a member's string
//! values (equal, equal ignoring ASCII case, starting with), a member value that cannot be read
//! counting as holding every value.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use memchr::memmem;

use crate::needle::{folded_prefix_may_match, member_values};

/// One needle's test.
#[derive(Clone, Debug)]
pub(crate) enum Test {
    Bytes(Vec<u8>),
    /// Lowercase ASCII bytes, in any case.
    Folded(Vec<u8>),
    Member(Vec<u8>),
    /// The member's value lowercased equals these (lowercase) bytes.
    MemberFolded(Vec<u8>),
    MemberPrefix(Vec<u8>),
    /// The member's value lowercased starts with these (lowercase) bytes.
    MemberFoldedPrefix(Vec<u8>),
}

/// The member tests of one key.
struct KeyTests {
    finder: memmem::Finder<'static>,
    tests: Vec<(Test, u32)>,
}

/// Finds every needle of a set in a record in one pass per kind.
pub(crate) struct NeedlePresence {
    /// Overlapping automata over the byte needles (exact, then case-insensitive), with the
    /// needle id of each pattern.
    automata: Vec<(AhoCorasick, Vec<u32>)>,
    keys: Vec<KeyTests>,
}

impl NeedlePresence {
    /// `needles[id]`: the test of needle `id` and, for member tests, its key.
    pub(crate) fn new(needles: &[(Test, &str)]) -> Self {
        let mut exact: Vec<(&[u8], u32)> = Vec::new();
        let mut folded: Vec<(&[u8], u32)> = Vec::new();
        let mut keys: Vec<(String, KeyTests)> = Vec::new();
        for (id, (test, key)) in needles.iter().enumerate() {
            let id = id as u32;
            match test {
                Test::Bytes(b) => exact.push((b, id)),
                Test::Folded(b) => folded.push((b, id)),
                _ => {
                    let at = match keys.iter().position(|(k, _)| k == key) {
                        Some(at) => at,
                        None => {
                            let quoted = format!("\"{key}\"");
                            keys.push((
                                (*key).to_owned(),
                                KeyTests {
                                    finder: memmem::Finder::new(quoted.as_bytes()).into_owned(),
                                    tests: Vec::new(),
                                },
                            ));
                            keys.len() - 1
                        }
                    };
                    keys[at].1.tests.push((test.clone(), id));
                }
            }
        }
        let automata = [(exact, false), (folded, true)]
            .into_iter()
            .filter(|(patterns, _)| !patterns.is_empty())
            .map(|(patterns, insensitive)| {
                let ac = AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(insensitive)
                    .build(patterns.iter().map(|(b, _)| *b))
                    .expect("needle automaton within default size limits");
                (ac, patterns.iter().map(|(_, id)| *id).collect())
            })
            .collect();
        NeedlePresence {
            automata,
            keys: keys.into_iter().map(|(_, k)| k).collect(),
        }
    }

    /// Calls `found` with the id of every needle present in `record` (an id may come more
    /// than once).
    pub(crate) fn found_in(&self, record: &[u8], found: &mut dyn FnMut(u32)) {
        for (ac, ids) in &self.automata {
            for m in ac.find_overlapping_iter(record) {
                found(ids[m.pattern().as_usize()]);
            }
        }
        for key in &self.keys {
            let decidable = member_values(record, &key.finder, &mut |v| {
                for (test, id) in &key.tests {
                    if value_passes(test, v) {
                        found(*id);
                    }
                }
            });
            if !decidable {
                // As the prefilter does: an unreadable value may be any value.
                for (_, id) in &key.tests {
                    found(*id);
                }
            }
        }
    }
}

/// Whether a member value (the raw bytes of an unescaped JSON string) passes a member test.
fn value_passes(test: &Test, v: &[u8]) -> bool {
    match test {
        Test::Member(want) => v == want.as_slice(),
        // Non-ASCII could fold onto ASCII (the Kelvin sign gives `k`): a possible match.
        Test::MemberFolded(want) => !v.is_ascii() || v.eq_ignore_ascii_case(want),
        Test::MemberPrefix(want) => v.starts_with(want),
        Test::MemberFoldedPrefix(want) => folded_prefix_may_match(v, want),
        Test::Bytes(_) | Test::Folded(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(needles: &[(Test, &str)], record: &str) -> Vec<u32> {
        let p = NeedlePresence::new(needles);
        let mut out = Vec::new();
        p.found_in(record.as_bytes(), &mut |id| out.push(id));
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn every_kind_of_needle_is_found_as_the_prefilter_decides_it() {
        let needles = [
            (Test::Bytes(b"/.aws/credentials".to_vec()), ""),
            (Test::Folded(b"trufflehog".to_vec()), ""),
            (Test::Member(b"GetObject".to_vec()), "eventName"),
            (Test::MemberFolded(b"putobject".to_vec()), "eventName"),
            (Test::MemberPrefix(b"Invoke".to_vec()), "eventName"),
            (Test::MemberFoldedPrefix(b"s3.".to_vec()), "eventSource"),
        ];
        assert_eq!(
            present(
                &needles,
                r#"{"eventName":"GetObject","eventSource":"S3.amazonaws.com","userAgent":"TruffleHog","requestParameters":{"key":"home/.aws/credentials"}}"#
            ),
            vec![0, 1, 2, 5]
        );
        assert_eq!(
            present(&needles, r#"{"eventName":"PUTOBJECT","x":"GetObject"}"#),
            vec![3]
        );
        assert_eq!(present(&needles, r#"{"eventName":"InvokeModel"}"#), vec![4]);
        // An unreadable value holds every value of its key.
        assert_eq!(
            present(
                &needles,
                r#"{"eventName":5,"eventSource":"ec2.amazonaws.com"}"#
            ),
            vec![2, 3, 4]
        );
        assert_eq!(present(&needles, r#"{"other":1}"#), Vec::<u32>::new());
    }
}
