//! The probe contract: what the prefilter asks a framer to note about each record while it
//! frames it, and where the framer leaves its notes.
//!
//! A framer that scans every byte of a line anyway (the JSON-lines fast path in
//! `dragnet-input`) can find, in the same pass, where a member key occurs and whether a few
//! needles do, for almost nothing. The prefilter states what it wants ([`Probes`]: one
//! [`KeyProbe`], up to [`MAX_NEEDLE_PROBES`] [`NeedleProbe`]s); the framer's records answer
//! through [`ProbedRecord`]. Every note is optional: a record whose framer did not look says so
//! (`None`, [`KeyHits::NotLooked`]) and the prefilter searches its bytes itself.

use std::ops::Range;

/// What a prefilter asks a framer to look for in each record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probes {
    /// A member key whose occurrences to note.
    pub key: Option<KeyProbe>,
    /// Needles whose presence to note (none is probed when there are more than
    /// [`MAX_NEEDLE_PROBES`]).
    pub needles: Vec<NeedleProbe>,
}

/// A framed record as the prefilter reads it: where its bytes are in the batch buffer and
/// what the framer noted while framing it.
pub trait ProbedRecord {
    /// The record's bytes in the batch buffer.
    fn range(&self) -> Range<usize>;
    /// Whether the record holds a `\u` or `\/` escape (which can spell a needle another way);
    /// `None` when the framer did not look.
    fn escaped(&self) -> Option<bool>;
    /// Where [`Probes::key`] occurs in the record.
    fn key_hits(&self) -> KeyHits;
    /// Whether one of [`Probes::needles`] occurs in the record; `None` when the framer did
    /// not look.
    fn needle_hit(&self) -> Option<bool>;
    /// When [`ProbedRecord::key_hits`] is [`KeyHits::Once`] and a plain JSON string (no `\`,
    /// ending within 64 bytes) follows the key: its text as (offset from the record's first
    /// byte, length).
    fn key_value(&self) -> Option<(u32, u32)>;
}

/// A member key whose occurrences the line scan records: the quoted key (`"eventName"`),
/// found by testing its opening quote and one rare inner byte at once, then the whole key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyProbe {
    quoted: Box<[u8]>,
    /// Index in `quoted` of the inner byte the kernels test.
    probe: usize,
}

impl KeyProbe {
    /// A probe for `key`; `None` unless `key` is non-empty printable ASCII without `"` or `\`
    /// (a key spelled with escapes cannot be found by its bytes).
    pub fn new(key: &str) -> Option<KeyProbe> {
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            return None;
        }
        let quoted: Box<[u8]> = [b"\"", key.as_bytes(), b"\""].concat().into();
        // Uppercase letters and digits are rarer in CloudTrail JSON than lowercase ones.
        let rarity = |b: u8| match b {
            b'A'..=b'Z' => 3,
            b'0'..=b'9' => 2,
            b'a'..=b'z' => 1,
            _ => 0,
        };
        let probe = (1..quoted.len() - 1)
            .max_by_key(|&i| (rarity(quoted[i]), std::cmp::Reverse(i)))
            .unwrap_or(0);
        Some(KeyProbe { quoted, probe })
    }

    /// The key without its quotes.
    pub fn key(&self) -> &str {
        std::str::from_utf8(&self.quoted[1..self.quoted.len() - 1]).expect("built from a str")
    }

    /// Whether the quoted key is at `buf[at..]`. Keys of 8 to 16 bytes with their quotes
    /// (most CloudTrail keys) are compared as two overlapping words, without a call.
    #[inline(always)]
    pub fn is_at(&self, buf: &[u8], at: usize) -> bool {
        let q = &self.quoted[..];
        let Some(hay) = buf.get(at..at + q.len()) else {
            return false;
        };
        if (8..=16).contains(&q.len()) {
            let word = |b: &[u8], i: usize| u64::from_ne_bytes(b[i..i + 8].try_into().unwrap());
            let tail = q.len() - 8;
            word(hay, 0) == word(q, 0) && word(hay, tail) == word(q, tail)
        } else {
            hay == q
        }
    }

    /// The key with its quotes, as searched for.
    pub fn quoted(&self) -> &[u8] {
        &self.quoted
    }

    /// The index in [`KeyProbe::quoted`] of the rare inner byte a scan tests together with
    /// the opening quote.
    pub fn tested_index(&self) -> usize {
        self.probe
    }
}

/// A literal whose presence in a line the scan notes ([`ProbedRecord::needle_hit`]): a
/// raw-bytes prefilter's gate needle, found by testing up to three of its rarer bytes at once,
/// then the whole literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeedleProbe {
    needle: Box<[u8]>,
    /// Offsets in `needle` of the bytes the kernels test; the first is the smallest, and its
    /// byte is none of `"`, `\` and `\n` (the scan's own events).
    at: Vec<usize>,
}

/// At most this many needles are probed; with more, none is (the consumer searches for them).
pub const MAX_NEEDLE_PROBES: usize = 4;

impl NeedleProbe {
    /// A probe for `needle`; `None` when it is empty, holds a newline (a line cannot), or has
    /// no byte other than `"` and `\` to report it by.
    pub fn new(needle: &[u8]) -> Option<NeedleProbe> {
        if needle.is_empty() || needle.contains(&b'\n') {
            return None;
        }
        // How rare a byte is in CloudTrail JSON, roughly.
        let rarity = |b: u8| match b {
            b'"' | b':' | b',' | b'{' | b'}' | b'[' | b']' | b'.' | b'-' | b'/' => 0,
            b'e'
            | b't'
            | b'a'
            | b'o'
            | b'i'
            | b'n'
            | b's'
            | b'r'
            | b'l'
            | b'c'
            | b'd'
            | b'u'
            | b'm'
            | b'0'..=b'9' => 1,
            b'a'..=b'z' => 2,
            _ => 3,
        };
        let first = (0..needle.len())
            .filter(|&i| !matches!(needle[i], b'"' | b'\\'))
            .max_by_key(|&i| (rarity(needle[i]), std::cmp::Reverse(i)))?;
        let mut rest: Vec<usize> = (first + 1..needle.len()).collect();
        rest.sort_by_key(|&i| (std::cmp::Reverse(rarity(needle[i])), i));
        let mut at = vec![first];
        at.extend(rest.into_iter().take(2));
        Some(NeedleProbe {
            needle: needle.into(),
            at,
        })
    }

    /// The whole needle.
    pub fn bytes(&self) -> &[u8] {
        &self.needle
    }

    /// Offsets in [`NeedleProbe::bytes`] of the (up to three) bytes a scan tests at once; the
    /// first is the smallest, and its byte is none of `"`, `\` and `\n`.
    pub fn tested_offsets(&self) -> &[usize] {
        &self.at
    }

    /// Whether the needle starts at `buf[start..]`.
    #[inline]
    pub fn is_at(&self, buf: &[u8], start: usize) -> bool {
        buf.get(start..)
            .is_some_and(|rest| rest.starts_with(&self.needle))
    }
}

/// Where a record's probed key ([`Probes::key`]) occurs in its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyHits {
    /// The framer did not look (no probe key, or not a fast-path line).
    #[default]
    NotLooked,
    /// Nowhere.
    Absent,
    /// Exactly once, with its opening quote at this offset from the record's first byte.
    Once(u32),
    /// More than once: search the record for them.
    Several,
}

impl KeyHits {
    /// Notes one more occurrence at `offset` from the record's first byte.
    pub fn add(&mut self, offset: usize) {
        *self = match *self {
            KeyHits::Absent | KeyHits::NotLooked => match u32::try_from(offset) {
                Ok(o) => KeyHits::Once(o),
                Err(_) => KeyHits::Several,
            },
            KeyHits::Once(_) | KeyHits::Several => KeyHits::Several,
        };
    }
}
