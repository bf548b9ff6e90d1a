//! Runtime values and the string primitives EQL needs: `*`/`?` wildcards (always wildcards in
//! EQL: Elasticsearch turns `*`/`?` into a LIKE pattern with an escape character that cannot
//! occur, so `\` is literal), Lucene regular expressions translated to the `regex` crate,
//! CIDR blocks, and date parsing.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::{IpAddr, Ipv6Addr};

/// A value during evaluation: a constant, a field value, or a function result.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
}

impl Val<'_> {
    #[cfg(test)]
    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Int(i) => Val::Int(i),
            Val::Float(f) => Val::Float(f),
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The text `string()`/`concat()` give a value (Java's `toString` of the value).
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Val::Null => return None,
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => java_double(*f),
            Val::Str(s) => s.to_string(),
        })
    }
}

/// Java's `Double.toString` for the common cases (`42.5`, `1.0E10`).
pub fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-3..1e7).contains(&abs) {
        let s = format!("{f:E}");
        // Rust writes `1E10`/`1.5E-5`; Java always has a fraction digit.
        return match s.split_once('E') {
            Some((m, e)) if !m.contains('.') => format!("{m}.0E{e}"),
            _ => s,
        };
    }
    let s = format!("{f:?}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Orders two values of comparable kinds (numbers with numbers, strings by UTF-8 bytes,
/// booleans); `None` for incomparable kinds or null.
pub fn compare(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        _ => {
            let (x, y) = (a.as_f64()?, b.as_f64()?);
            x.partial_cmp(&y)
        }
    }
}

/// Lowercases the way Lucene's case-insensitive term matching folds characters.
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| !c.is_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WTok {
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
    Char(char),
}

/// A `*`/`?` wildcard pattern over characters, anchored at both ends.
#[derive(Clone, Debug)]
pub struct Wildcard {
    pattern: Vec<WTok>,
    insensitive: bool,
    /// No wildcard at all: plain equality.
    literal: Option<String>,
    /// The common shapes `lit*`, `*lit`, `*lit*`, matched without the general algorithm.
    shape: Shape,
}

#[derive(Clone, Debug)]
enum Shape {
    General,
    Prefix(String),
    Suffix(String),
    Contains(Box<memchr::memmem::Finder<'static>>),
}

impl Wildcard {
    /// An EQL pattern (`:`, `like`): `*` and `?` are always wildcards and `\` is literal, as
    /// Elasticsearch turns them into a LIKE pattern whose escape character cannot occur
    /// (`toLikePattern` in the EQL plugin's `StringUtils`).
    pub fn new(pattern: &str, insensitive: bool) -> Wildcard {
        let toks = pattern
            .chars()
            .map(|c| match c {
                '*' => WTok::Star,
                '?' => WTok::One,
                c => WTok::Char(c),
            })
            .collect();
        Self::from_tokens(toks, insensitive)
    }

    /// A Lucene `wildcard` query pattern: `*`, `?`, and `\` escaping the next character.
    /// `stringContains` and `endsWith` on a field reach Elasticsearch as such a query built
    /// from the constant without escaping it (`*constant*`, `*constant`).
    pub fn lucene(pattern: &str, insensitive: bool) -> Wildcard {
        let mut toks = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            toks.push(match c {
                '*' => WTok::Star,
                '?' => WTok::One,
                '\\' => WTok::Char(chars.next().unwrap_or('\\')),
                c => WTok::Char(c),
            });
        }
        Self::from_tokens(toks, insensitive)
    }

    fn from_tokens(toks: Vec<WTok>, insensitive: bool) -> Wildcard {
        let pattern: Vec<WTok> = toks
            .into_iter()
            .flat_map(|t| -> Vec<WTok> {
                match t {
                    WTok::Char(c) if insensitive => {
                        let mut buf = [0u8; 4];
                        fold(c.encode_utf8(&mut buf))
                            .chars()
                            .map(WTok::Char)
                            .collect()
                    }
                    t => vec![t],
                }
            })
            .collect();
        let literal = pattern
            .iter()
            .map(|t| match t {
                WTok::Char(c) => Some(*c),
                _ => None,
            })
            .collect::<Option<String>>();
        let shape = shape_of(&pattern);
        Wildcard {
            pattern,
            insensitive,
            literal,
            shape,
        }
    }

    /// The literal runs between wildcards (for the prefilter).
    pub fn pieces(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for t in &self.pattern {
            match t {
                WTok::Char(c) => cur.push(*c),
                _ => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    pub fn insensitive(&self) -> bool {
        self.insensitive
    }

    pub fn is_literal(&self) -> bool {
        self.literal.is_some()
    }

    pub fn matches(&self, text: &str) -> bool {
        let folded;
        let text = if self.insensitive {
            folded = fold(text);
            &*folded
        } else {
            text
        };
        if let Some(lit) = &self.literal {
            return lit == text;
        }
        match &self.shape {
            Shape::Prefix(p) => return text.starts_with(p.as_str()),
            Shape::Suffix(p) => return text.ends_with(p.as_str()),
            Shape::Contains(f) => return f.find(text.as_bytes()).is_some(),
            Shape::General => {}
        }
        let t: Vec<char> = text.chars().collect();
        let p = &self.pattern;
        let (mut pi, mut ti) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            let step = pi < p.len()
                && match p[pi] {
                    WTok::One => true,
                    WTok::Char(c) => c == t[ti],
                    WTok::Star => false,
                };
            if step {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == WTok::Star {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == WTok::Star)
    }
}

/// Recognizes `lit*`, `*lit` and `*lit*` (one or more stars, no `?`).
fn shape_of(p: &[WTok]) -> Shape {
    let lead = p.iter().take_while(|t| **t == WTok::Star).count();
    let trail = p.iter().rev().take_while(|t| **t == WTok::Star).count();
    if lead == p.len() {
        return Shape::General;
    }
    let mid = &p[lead..p.len() - trail];
    let Some(lit) = mid
        .iter()
        .map(|t| match t {
            WTok::Char(c) => Some(*c),
            _ => None,
        })
        .collect::<Option<String>>()
    else {
        return Shape::General;
    };
    match (lead > 0, trail > 0) {
        (false, true) => Shape::Prefix(lit),
        (true, false) => Shape::Suffix(lit),
        (true, true) => Shape::Contains(Box::new(
            memchr::memmem::Finder::new(lit.as_bytes()).into_owned(),
        )),
        (false, false) => Shape::General,
    }
}

/// Translates a Lucene regular expression (`RegExp`, the syntax of the `regexp` query, which
/// `regex`/`regex~` compile to) into an anchored `regex` crate pattern. Lucene's extra operators
/// (`@` any string, `&` intersection, `~` complement, `<n-m>` intervals) are reported as
/// unsupported rather than mistranslated; `#` (the empty language) matches nothing.
pub fn lucene_regex(pattern: &str, insensitive: bool) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 16);
    out.push_str(if insensitive {
        "(?si)\\A(?:"
    } else {
        "(?s)\\A(?:"
    });
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let push_lit = |out: &mut String, c: char| {
        let mut buf = [0u8; 4];
        out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("regex ends with a lone '\\'".into());
                };
                match n {
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    's' => out.push_str("[ \\t\\n\\r\\x0B\\x0C]"),
                    'S' => out.push_str("[^ \\t\\n\\r\\x0B\\x0C]"),
                    'w' => out.push_str("[a-zA-Z0-9_]"),
                    'W' => out.push_str("[^a-zA-Z0-9_]"),
                    other => push_lit(&mut out, other),
                }
                i += 2;
            }
            '"' => {
                // A quoted literal run.
                let Some(end) = chars[i + 1..].iter().position(|&q| q == '"') else {
                    return Err("unterminated '\"' literal in regex".into());
                };
                for &q in &chars[i + 1..i + 1 + end] {
                    push_lit(&mut out, q);
                }
                i += end + 2;
            }
            '[' => {
                i = class(&chars, i, &mut out)?;
            }
            '.' | '(' | ')' | '|' | '*' | '+' | '?' | '{' | '}' => {
                out.push(c);
                i += 1;
            }
            // The empty language (Lucene's `EMPTY` flag, on in the `ALL` default): matches no
            // string, so `abc RLIKE "#"` is false (csv-spec `rlikeWithEmptyLanguagePattern`).
            '#' => {
                out.push_str("[^\\s\\S]");
                i += 1;
            }
            '@' | '&' | '~' | '<' => {
                return Err(format!(
                    "Lucene regex operator '{c}' is not supported by dragnet; escape it as '\\{c}' to match it literally"
                ));
            }
            other => {
                push_lit(&mut out, other);
                i += 1;
            }
        }
    }
    out.push_str(")\\z");
    regex::RegexBuilder::new(&out)
        .size_limit(dragnet_query::limits::max_regex_bytes())
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => dragnet_query::limits::regex_too_large_message(),
            e => format!("invalid regex: {e}"),
        })
}

/// A `[…]` class starting at `start`; returns the index after `]`.
fn class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated '[' class in regex".into());
        };
        if c == ']' && !first {
            out.push(']');
            return Ok(i + 1);
        }
        first = false;
        let (lit, next) = match c {
            '\\' => match chars.get(i + 1) {
                Some('d') => {
                    out.push_str("0-9");
                    i += 2;
                    continue;
                }
                Some('s') => {
                    out.push_str(" \\t\\n\\r\\x0B\\x0C");
                    i += 2;
                    continue;
                }
                Some('w') => {
                    out.push_str("a-zA-Z0-9_");
                    i += 2;
                    continue;
                }
                Some(&n) => (n, i + 2),
                None => return Err("regex ends with a lone '\\'".into()),
            },
            c => (c, i + 1),
        };
        // A range `a-z` (a `-` before `]` is literal).
        if chars.get(next) == Some(&'-') && chars.get(next + 1).is_some_and(|&e| e != ']') {
            let (hi, after) = match chars[next + 1] {
                '\\' => (
                    *chars.get(next + 2).ok_or("regex ends with a lone '\\'")?,
                    next + 3,
                ),
                e => (e, next + 2),
            };
            if hi < lit {
                return Err(format!("invalid range {lit}-{hi} in regex class"));
            }
            class_lit(out, lit);
            out.push('-');
            class_lit(out, hi);
            i = after;
        } else {
            class_lit(out, lit);
            i = next;
        }
    }
}

fn class_lit(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        out.push('\\');
        out.push(c);
    }
}

/// An IP network for `cidrMatch` (IPv4 mapped into IPv6 space).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: u128,
    prefix: u32,
}

pub fn parse_ip(s: &str) -> Option<Ipv6Addr> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => Some(v6),
    }
}

impl IpNet {
    /// `a.b.c.d/n`, `x::/n`, or a lone address.
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u32>().ok()?)),
            None => (s, None),
        };
        let is_v4 = addr.contains('.') && !addr.contains(':');
        let ip = parse_ip(addr)?;
        let prefix = match prefix {
            Some(p) if is_v4 && p <= 32 => p + 96,
            Some(p) if !is_v4 && p <= 128 => p,
            Some(_) => return None,
            None => 128,
        };
        let mask = if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        };
        Some(IpNet {
            addr: u128::from(ip) & mask,
            prefix,
        })
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - self.prefix)
        };
        u128::from(ip) & mask == self.addr
    }
}

/// A date value as epoch milliseconds: RFC 3339 / ISO 8601 text (`2024-05-21T10:00:00Z`,
/// date-only `2024-05-21`), or a number of milliseconds.
pub fn parse_date_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        return d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let w = Wildcard::new("doc*", true);
        assert!(w.matches("DOCS") && w.matches("doc") && !w.matches("dos"));
        let w = Wildcard::new("d?c", false);
        assert!(w.matches("doc") && w.matches("dOc") && !w.matches("disc") && !w.matches("DOC"));
        let w = Wildcard::new("C:\\Windows\\*", false);
        assert!(w.matches("C:\\Windows\\x.exe"));
        assert!(!w.matches("C:Windows*"));
        let w = Wildcard::new("*a*b?", false);
        assert!(w.matches("xxaxxbz") && !w.matches("xxaxxb"));
        let w = Wildcard::lucene("*C:\\Windows\\*", false);
        assert!(
            w.matches("xC:Windows*"),
            "Lucene: \\W is W and \\* a literal star"
        );
        assert!(!w.matches("C:\\Windows\\cmd.exe"));
        let w = Wildcard::new("*.EXE", true);
        assert!(w.matches("cmd.exe") && !w.matches("cmd.exe "));
        let w = Wildcard::new("**é*", false);
        assert!(w.matches("caféx") && w.matches("é") && !w.matches("cafe"));
        let w = Wildcard::new("**", false);
        assert!(w.matches("") && w.matches("x"));
        let w = Wildcard::lucene("*a\\?b*", true);
        assert!(w.matches("XA?BX") && !w.matches("xaxbx"));
    }

    #[test]
    fn regexes() {
        let r = lucene_regex(r"[0-9]{1,3}\.[0-9]+", false).unwrap();
        assert!(r.is_match("10.5") && !r.is_match("x10.5"));
        let r = lucene_regex(r#"\".*\.exe[^\"].*"#, true).unwrap();
        assert!(r.is_match("\"C:\\A.EXE x\""));
        assert!(
            !r.is_match("\"C:\\A.EXE\" x"),
            "the character after .exe must not be a quote"
        );
        let r = lucene_regex(r"php?[0-9]?\.?[0-9]{0,2}", true).unwrap();
        assert!(r.is_match("PHP7.4") && r.is_match("ph"));
        let r = lucene_regex(r"/var/run/\w+\.(pid|lock)", false).unwrap();
        assert!(r.is_match("/var/run/abc_1.pid"));
        let r = lucene_regex(r"[^ -~]+", false).unwrap();
        assert!(r.is_match("\u{1}\u{2}") && !r.is_match("abc"));
        let r = lucene_regex("a.b", false).unwrap();
        assert!(r.is_match("a\nb"), "Lucene '.' matches any character");
        assert!(lucene_regex("a@", false).is_err());
        // `#`: the empty language, alone or as one branch.
        assert!(!lucene_regex("#", false).unwrap().is_match("abc"));
        assert!(!lucene_regex("#", false).unwrap().is_match(""));
        assert!(lucene_regex("a|#", false).unwrap().is_match("a"));
        assert!(lucene_regex("a\\#", false).unwrap().is_match("a#"));
        assert!(lucene_regex("a\\@", false).unwrap().is_match("a@"));
    }

    #[test]
    fn cidrs() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(parse_ip("10.1.2.3").unwrap()));
        assert!(!n.contains(parse_ip("11.1.2.3").unwrap()));
        let n = IpNet::parse("fe80::/10").unwrap();
        assert!(n.contains(parse_ip("fe80::1").unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(42.5), "42.5");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(1e10), "1.0E10");
    }

    /// Issue 16: the regex size limit named no flag.
    #[test]
    fn regex_program_size_limit_names_its_flag() {
        let e = lucene_regex("(((a{100}){100}){100})", false).unwrap_err();
        assert!(
            e.contains("over 4194304 bytes")
                && e.contains("raise the limit with --max-regex-bytes"),
            "{e}"
        );
        assert!(lucene_regex("a{100}", false).is_ok());
    }
}
