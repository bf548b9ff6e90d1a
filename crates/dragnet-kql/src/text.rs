//! String matching primitives: `*` globs (Lucene wildcard terms after Kibana's escaping) and
//! the `standard` analyzer (UAX#29 words, lowercased, tokens split at 255 characters).

use memchr::memmem::Finder;
use unicode_segmentation::UnicodeSegmentation;

use crate::ast::{Pattern, PatternPart};

/// Lucene's StandardTokenizer default `max_token_length`: longer words are split.
pub const MAX_TOKEN_LENGTH: usize = 255;

/// A compiled `*`-only glob, anchored at both ends.
#[derive(Clone, Debug)]
pub struct Glob {
    prefix: String,
    suffix: String,
    middles: Vec<Finder<'static>>,
    /// No star at all: the glob is an equality test on `prefix`.
    exact: bool,
    min_len: usize,
}

impl Glob {
    pub fn new(pattern: &Pattern) -> Glob {
        Self::from_parts(&pattern.parts)
    }

    pub fn from_parts(parts: &[PatternPart]) -> Glob {
        let first_star = parts.iter().position(|p| *p == PatternPart::Star);
        let Some(first_star) = first_star else {
            let text: String = parts.iter().map(|p| p.to_string()).collect();
            let min_len = text.len();
            return Glob {
                prefix: text,
                suffix: String::new(),
                middles: Vec::new(),
                exact: true,
                min_len,
            };
        };
        let last_star = parts
            .iter()
            .rposition(|p| *p == PatternPart::Star)
            .expect("a star exists");
        let concat = |ps: &[PatternPart]| -> String {
            ps.iter()
                .filter_map(|p| match p {
                    PatternPart::Text(t) => Some(t.as_str()),
                    PatternPart::Star => None,
                })
                .collect()
        };
        let prefix = concat(&parts[..first_star]);
        let suffix = concat(&parts[last_star + 1..]);
        let middles: Vec<Finder<'static>> = parts[first_star..=last_star]
            .iter()
            .filter_map(|p| match p {
                PatternPart::Text(t) if !t.is_empty() => {
                    Some(Finder::new(t.as_bytes()).into_owned())
                }
                _ => None,
            })
            .collect();
        let min_len =
            prefix.len() + suffix.len() + middles.iter().map(|f| f.needle().len()).sum::<usize>();
        Glob {
            prefix,
            suffix,
            middles,
            exact: false,
            min_len,
        }
    }

    /// Whether the whole of `text` matches (case-sensitive).
    pub fn matches(&self, text: &str) -> bool {
        let t = text.as_bytes();
        if self.exact {
            return t == self.prefix.as_bytes();
        }
        if t.len() < self.min_len
            || !t.starts_with(self.prefix.as_bytes())
            || !t.ends_with(self.suffix.as_bytes())
        {
            return false;
        }
        // Leftmost placement of each middle piece is optimal for `*`-only globs.
        let mut rest = &t[self.prefix.len()..t.len() - self.suffix.len()];
        for finder in &self.middles {
            match finder.find(rest) {
                Some(i) => rest = &rest[i + finder.needle().len()..],
                None => return false,
            }
        }
        true
    }

    /// The literal pieces (prefix, middles, suffix; possibly empty) every match contains.
    pub fn pieces(&self) -> Vec<&str> {
        if self.exact {
            return vec![self.prefix.as_str()];
        }
        let mut out = vec![self.prefix.as_str()];
        out.extend(
            self.middles
                .iter()
                .map(|f| std::str::from_utf8(f.needle()).expect("built from a str")),
        );
        out.push(self.suffix.as_str());
        out
    }

    /// Number of literal pieces, a proxy for the matching cost.
    pub fn piece_count(&self) -> usize {
        self.middles.len() + 2
    }
}

/// The `standard` analyzer: Unicode word segmentation, lowercase, long words split.
pub fn analyze(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.unicode_words() {
        let lower = word.to_lowercase();
        if lower.chars().count() <= MAX_TOKEN_LENGTH {
            out.push(lower);
        } else {
            let chars: Vec<char> = lower.chars().collect();
            for chunk in chars.chunks(MAX_TOKEN_LENGTH) {
                out.push(chunk.iter().collect());
            }
        }
    }
    out
}

/// Whether `phrase` occurs as consecutive tokens in `tokens` (`match_phrase`, slop 0).
pub fn contains_phrase(tokens: &[String], phrase: &[String]) -> bool {
    if phrase.is_empty() {
        return false;
    }
    tokens.windows(phrase.len()).any(|w| w == phrase)
}

/// Length of a string as Elasticsearch's `ignore_above` counts it (Java UTF-16 units).
pub fn es_char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn glob(p: &str) -> Glob {
        let q = parse(&format!("f:{p}")).unwrap();
        match q.root {
            Some(crate::Expr::Match {
                values: crate::ValueList::One(v),
                ..
            }) => match v.kind {
                crate::LiteralKind::Wildcard(p) => Glob::new(&p),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn globs_are_anchored_and_case_sensitive() {
        assert!(glob("*imageId*").matches("{imageId=ami-1, launchPermission={add=…}}"));
        assert!(!glob("*imageid*").matches("{imageId=ami-1}"));
        assert!(glob("a*b*c").matches("abc"));
        assert!(glob("a*b*c").matches("aXbYc"));
        assert!(!glob("a*b*c").matches("aXbYcd"));
        assert!(!glob("ab*ba").matches("aba"));
        assert!(glob("**").matches(""));
        assert!(glob("*é*").matches("café au lait"));
    }

    #[test]
    fn standard_analyzer_tokens() {
        assert_eq!(
            analyze("Hello, World! 192.168.1.1"),
            ["hello", "world", "192.168.1.1"]
        );
        assert_eq!(analyze("Mozilla/5.0 (X11)"), ["mozilla", "5.0", "x11"]);
        assert_eq!(analyze(&"a".repeat(300)).len(), 2);
        assert!(contains_phrase(
            &analyze("the quick brown fox"),
            &analyze("Quick Brown")
        ));
        assert!(!contains_phrase(
            &analyze("the quick brown fox"),
            &analyze("brown quick")
        ));
    }
}
