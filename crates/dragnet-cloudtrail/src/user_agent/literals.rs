//! What the user-agent prefilter knows about a uap-core pattern, read from its text: the pattern
//! as it is compiled ([`java_classes`], then [`uap_rewrite`]) and the literals one of which occurs
//! (folded, see [`fold`]) in every agent it matches ([`pattern_literals`]).
//!
//! `build.rs` runs this over every rule (it pulls this file in with `#[path]`) and writes the
//! results into `$OUT_DIR/uap_rules.rs`, so nothing here runs in `dragnet` except [`fold`], which
//! folds the agents as the literals were folded. `user_agent.rs` declares it as a module too, for
//! that and for its tests, which check that the generated statics are what this code gives and
//! that the scanner reads every rule as `regex-syntax`'s syntax tree does.

use std::borrow::Cow;

/// A uap-core regex with Java's meaning of the shorthand classes: Elasticsearch compiles these
/// patterns with `java.util.regex` and no flags, where `\d`, `\w`, `\s` (and `\D`, `\W`, `\S`)
/// are ASCII-only and `\b` is an ASCII word boundary, while the `regex` crate reads them as
/// Unicode classes. Spelling them out in ASCII matches Java, and compiles several times faster
/// (Unicode `\d`/`\w` expand to large UTF-8 automata): the parser's compilation is most of
/// the cost of a run's first alert.
pub(crate) fn java_classes(regex: &str) -> Cow<'_, str> {
    if !regex.contains('\\') {
        return Cow::Borrowed(regex);
    }
    let mut out = String::with_capacity(regex.len() + 16);
    let mut in_class = false;
    let mut chars = regex.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push(c);
                    break;
                };
                let ascii = match (e, in_class) {
                    ('d', false) => Some("[0-9]"),
                    ('d', true) => Some("0-9"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\x0B\\f\\r ]"),
                    ('s', true) => Some("\\t\\n\\x0B\\f\\r "),
                    ('S', false) => Some("[^\\t\\n\\x0B\\f\\r ]"),
                    ('b', false) => Some("(?-u:\\b)"),
                    _ => None,
                };
                match ascii {
                    Some(a) => out.push_str(a),
                    None => {
                        out.push(c);
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal, as in Java.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// What `ua-parser` does to every pattern before compiling it (its `rewrite_regex`), so that the
/// rules compile to exactly the automata they compiled to there: outside a `[...]` class (by its
/// count of unescaped brackets), `{0,N}` / `{1,N}` with a bound of three or more digits becomes
/// `*` / `+`; everywhere, `\d` `\D` `\w` `\W` become ASCII classes. (After [`java_classes`] only the
/// repetitions are left to rewrite, but the same steps are kept so the pattern is the same.) A
/// pattern that starts with `{` is left as it is.
pub(crate) fn uap_rewrite(pattern: Cow<'_, str>) -> Cow<'_, str> {
    let re = pattern.as_ref();
    let mut out = String::new();
    // `re[..copied]` has been accounted for in `out`.
    let mut copied = 0;
    let mut escaped = false;
    let mut depth = 0i32;
    let mut chars = re.char_indices();
    'scan: while let Some((at, c)) = chars.next() {
        if escaped {
            escaped = false;
            let class = match c {
                'd' => "[0-9]",
                'D' => "[^0-9]",
                'w' => "[A-Za-z0-9_]",
                'W' => "[^A-Za-z0-9_]",
                _ => continue,
            };
            // `at - 1` is the backslash.
            out.push_str(&re[copied..at - 1]);
            out.push_str(class);
            copied = at + 1;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' => depth += 1,
            ']' => depth -= 1,
            '{' if depth == 0 => {
                if at == 0 {
                    return pattern;
                }
                // The characters looked at here are consumed whatever they are.
                let Some((_, low)) = chars.next() else {
                    continue;
                };
                if low != '0' && low != '1' || !matches!(chars.next(), Some((_, ','))) {
                    continue;
                }
                let mut digits = 0;
                for (end, d) in chars.by_ref() {
                    match d {
                        '}' if digits > 2 => {
                            out.push_str(&re[copied..at]);
                            out.push(if low == '0' { '*' } else { '+' });
                            copied = end + 1;
                            continue 'scan;
                        }
                        d if d.is_ascii_digit() => digits += 1,
                        _ => continue 'scan,
                    }
                }
            }
            _ => {}
        }
    }
    if copied == 0 {
        return pattern;
    }
    out.push_str(&re[copied..]);
    Cow::Owned(out)
}

/// The character the prefilter compares in place of `c`, in patterns and agents alike: ASCII
/// letters lowercased, and the two non-ASCII characters that case-insensitive matching equates with
/// an ASCII letter (KELVIN SIGN with `k`, LONG S with `s`) mapped to it. Equal characters fold
/// equally, and so does every character a case-insensitive ASCII literal matches.
pub(crate) fn fold(c: char) -> char {
    match c {
        '\u{212A}' => 'k',
        '\u{17F}' => 's',
        c => c.to_ascii_lowercase(),
    }
}

/// Literal sets larger than this are not built (a cross product of alternatives grows fast).
pub(crate) const MAX_LITERALS: usize = 16;

/// What a pattern node tells the prefilter.
#[derive(Default)]
pub(crate) struct Literals {
    /// Every string (folded) the node can match, when that is a small known set.
    pub(crate) exact: Option<Vec<String>>,
    /// Otherwise: strings (folded) one of which occurs in every match, when known.
    pub(crate) necessary: Option<Vec<String>>,
}

impl Literals {
    pub(crate) fn exact(set: Vec<String>) -> Self {
        Literals {
            exact: Some(set),
            necessary: None,
        }
    }

    pub(crate) fn necessary(set: Option<Vec<String>>) -> Self {
        Literals {
            exact: None,
            necessary: set,
        }
    }

    /// Strings one of which occurs in every match; none when a match can be empty.
    pub(crate) fn required(self) -> Option<Vec<String>> {
        match self.exact {
            Some(set) if set.iter().any(String::is_empty) => None,
            Some(set) => Some(set),
            None => self.necessary,
        }
    }
}

/// The better of two necessary sets: longer shortest member (rarer), then fewer members.
pub(crate) fn better(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    let score = |set: &Vec<String>| {
        let shortest = set.iter().map(String::len).min().unwrap_or(0);
        (shortest, usize::MAX - set.len())
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

pub(crate) fn cross(mut left: Vec<String>, right: &[String]) -> Vec<String> {
    if let [single] = right {
        for l in &mut left {
            l.push_str(single);
        }
        return left;
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in &left {
        for r in right {
            let s = format!("{l}{r}");
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// How often the node before a quantifier must occur.
#[derive(Clone, Copy)]
pub(crate) enum Times {
    /// `?`: the node's strings, or nothing.
    Optional,
    /// `*`, `{0}`, `{0,}`, `{0,n}`: nothing is known.
    MaybeNone,
    /// `+`, `{m}`, `{m,}`, `{m,n}` with m ≥ 1: one of the node's necessary strings occurs.
    AtLeastOnce,
}

pub(crate) fn repeated(inner: Literals, times: Times) -> Literals {
    match times {
        Times::Optional => match inner.exact {
            Some(mut set) if set.len() < MAX_LITERALS => {
                if !set.iter().any(String::is_empty) {
                    set.push(String::new());
                }
                Literals::exact(set)
            }
            _ => Literals::default(),
        },
        Times::MaybeNone => Literals::default(),
        Times::AtLeastOnce => Literals::necessary(inner.required()),
    }
}

pub(crate) fn alternation_literals(branches: Vec<Literals>) -> Literals {
    if branches.iter().all(|b| b.exact.is_some()) {
        let mut union: Vec<String> = Vec::new();
        for s in branches.iter().flat_map(|b| b.exact.iter().flatten()) {
            if !union.contains(s) {
                union.push(s.clone());
            }
        }
        if union.len() <= MAX_LITERALS {
            return Literals::exact(union);
        }
    }
    let mut union: Vec<String> = Vec::new();
    for branch in branches {
        let Some(set) = branch.required() else {
            return Literals::default();
        };
        for s in set {
            if !union.contains(&s) {
                union.push(s);
            }
        }
    }
    Literals::necessary(Some(union))
}

/// A concatenation, fed one child at a time.
struct Concat {
    /// The exact strings of the children since the last break.
    run: Vec<String>,
    /// No break yet: `run` is all the concatenation can match.
    whole: bool,
    best: Option<Vec<String>>,
}

impl Concat {
    fn new() -> Self {
        Concat {
            run: vec![String::new()],
            whole: true,
            best: None,
        }
    }

    fn push(&mut self, child: Literals) {
        let run = std::mem::take(&mut self.run);
        match child.exact {
            Some(set) if run.len() * set.len() <= MAX_LITERALS => self.run = cross(run, &set),
            Some(set) => {
                self.best = better(self.best.take(), Literals::exact(run).required());
                self.run = set;
                self.whole = false;
            }
            None => {
                self.best = better(self.best.take(), Literals::exact(run).required());
                self.best = better(self.best.take(), child.necessary);
                self.run = vec![String::new()];
                self.whole = false;
            }
        }
    }

    fn finish(self) -> Literals {
        if self.whole {
            return Literals::exact(self.run);
        }
        Literals::necessary(better(self.best, Literals::exact(self.run).required()))
    }
}

/// The literals of a pattern, read straight from its text (this once ran at run time, where
/// parsing every rule with `regex-syntax` cost several times more; in `build.rs` it keeps
/// `regex-syntax` out of the build dependencies; a test checks this reads every uap-core rule as
/// `regex-syntax`'s syntax tree does). Sound under the whole-pattern case-insensitive flag and
/// inline flags alike because everything is folded; non-ASCII literals are not used (their
/// case-insensitive matches do not fold together). Whatever it does not understand counts as
/// "any text", which only makes the rule a candidate more often.
pub(crate) fn pattern_literals(pattern: &str) -> Literals {
    let mut scan = Scan {
        bytes: pattern.as_bytes(),
        at: 0,
    };
    let literals = scan.alternation();
    if scan.at == scan.bytes.len() {
        literals
    } else {
        // An unbalanced `)`: not a pattern this reads.
        Literals::default()
    }
}

struct Scan<'p> {
    bytes: &'p [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.at += usize::from(hit);
        hit
    }

    /// Branches up to an unmatched `)` or the end.
    fn alternation(&mut self) -> Literals {
        let mut branches = vec![self.concat()];
        while self.eat(b'|') {
            branches.push(self.concat());
        }
        if branches.len() == 1 {
            return branches.pop().expect("one branch");
        }
        alternation_literals(branches)
    }

    fn concat(&mut self) -> Literals {
        let mut concat = Concat::new();
        while let Some(b) = self.peek() {
            if b == b'|' || b == b')' {
                break;
            }
            let mut node = self.atom();
            while let Some(times) = self.quantifier() {
                // A `?` right after a quantifier makes it lazy.
                self.eat(b'?');
                node = repeated(node, times);
            }
            concat.push(node);
        }
        concat.finish()
    }

    fn quantifier(&mut self) -> Option<Times> {
        let times = match self.peek()? {
            b'?' => Times::Optional,
            b'*' => Times::MaybeNone,
            b'+' => Times::AtLeastOnce,
            b'{' => {
                let close = self.bytes[self.at..].iter().position(|&b| b == b'}')?;
                let body = &self.bytes[self.at + 1..self.at + close];
                let min = body.split(|&b| b == b',').next().unwrap_or_default();
                let min = std::str::from_utf8(min).ok()?.trim().parse::<u32>().ok()?;
                self.at += close;
                if min == 0 {
                    Times::MaybeNone
                } else {
                    Times::AtLeastOnce
                }
            }
            _ => return None,
        };
        self.at += 1;
        Some(times)
    }

    fn atom(&mut self) -> Literals {
        let empty = || Literals::exact(vec![String::new()]);
        let Some(b) = self.peek() else {
            return Literals::default();
        };
        self.at += 1;
        match b {
            b'(' => {
                if self.eat(b'?') {
                    if self.eat(b'P') || self.peek() == Some(b'<') {
                        // A named group: skip `<name>`.
                        while let Some(b) = self.peek() {
                            self.at += 1;
                            if b == b'>' {
                                break;
                            }
                        }
                    } else {
                        // Flags, then `:` (a group) or `)` (flags for the rest).
                        while let Some(b) = self.peek() {
                            self.at += 1;
                            if b == b')' {
                                return empty();
                            }
                            if b == b':' {
                                break;
                            }
                        }
                    }
                }
                let inner = self.alternation();
                if !self.eat(b')') {
                    self.at = self.bytes.len();
                    return Literals::default();
                }
                inner
            }
            b'[' => self.class(),
            b'^' | b'$' => empty(),
            b'\\' => self.escape(),
            b'.' => Literals::default(),
            b if b.is_ascii() => Literals::exact(vec![fold(char::from(b)).to_string()]),
            _ => {
                // The rest of a non-ASCII character.
                while self.peek().is_some_and(|b| b & 0xC0 == 0x80) {
                    self.at += 1;
                }
                Literals::default()
            }
        }
    }

    /// After a `\` outside a class.
    fn escape(&mut self) -> Literals {
        let Some(e) = self.peek() else {
            return Literals::default();
        };
        self.at += 1;
        match e {
            b'b' | b'B' | b'A' | b'z' | b'<' | b'>' => {
                if e == b'b' && self.peek() == Some(b'{') {
                    // `\b{start}` and the like: still zero-width.
                    self.skip_braces();
                }
                Literals::exact(vec![String::new()])
            }
            _ => match self.escaped_char(e) {
                Some(c) => Literals::exact(vec![fold(c).to_string()]),
                None => Literals::default(),
            },
        }
    }

    /// The ASCII character an escape stands for (`e` is the byte after `\`); `None` (after
    /// skipping the escape) for classes, hex escapes and anything else.
    fn escaped_char(&mut self, e: u8) -> Option<char> {
        match e {
            b't' => Some('\t'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b'f' => Some('\x0C'),
            b'v' => Some('\x0B'),
            b'a' => Some('\x07'),
            b'x' | b'u' | b'U' => {
                let start = self.at;
                let hex = if self.peek() == Some(b'{') {
                    self.skip_braces();
                    self.bytes.get(start + 1..self.at - 1)
                } else {
                    let digits = match e {
                        b'x' => 2,
                        b'u' => 4,
                        _ => 8,
                    };
                    self.at = (self.at + digits).min(self.bytes.len());
                    self.bytes.get(start..self.at)
                };
                let code = u32::from_str_radix(std::str::from_utf8(hex?).ok()?, 16).ok()?;
                char::from_u32(code).filter(char::is_ascii)
            }
            b'p' | b'P' => {
                if self.peek() == Some(b'{') {
                    self.skip_braces();
                } else {
                    self.at = (self.at + 1).min(self.bytes.len());
                }
                None
            }
            e if e.is_ascii_punctuation() || e == b' ' => Some(char::from(e)),
            _ => None,
        }
    }

    fn skip_braces(&mut self) {
        while let Some(b) = self.peek() {
            self.at += 1;
            if b == b'}' {
                break;
            }
        }
    }

    /// After a `[`: a class of one to four literal ASCII characters (by fold) is their set.
    fn class(&mut self) -> Literals {
        let mut simple = !self.eat(b'^');
        let mut chars: Vec<String> = Vec::new();
        let mut add = |c: char| {
            let s = fold(c).to_string();
            if !chars.contains(&s) {
                chars.push(s);
            }
        };
        let mut first = true;
        if self.eat(b']') {
            add(']');
            first = false;
        }
        loop {
            let Some(b) = self.peek() else {
                return Literals::default();
            };
            self.at += 1;
            match b {
                b']' => break,
                b'[' => {
                    simple = false;
                    self.class();
                }
                b'\\' => {
                    let e = self.peek().unwrap_or(b'\\');
                    self.at += 1;
                    match self.escaped_char(e) {
                        Some(c) => add(c),
                        None => simple = false,
                    }
                }
                b'-' if !(first || self.peek() == Some(b']')) => simple = false,
                b'&' | b'~' | b'-' if self.peek() == Some(b) => simple = false,
                b if b.is_ascii() => add(char::from(b)),
                _ => simple = false,
            }
            first = false;
        }
        if simple && !chars.is_empty() && chars.len() <= 4 {
            Literals::exact(chars)
        } else {
            Literals::default()
        }
    }
}
