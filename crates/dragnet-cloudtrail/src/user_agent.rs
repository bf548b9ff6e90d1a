//! `user_agent.{name,version,os.*,device.name}` as Elasticsearch's `user_agent` ingest processor
//! writes them (all properties, `extract_device_type` off, as the AWS pipeline configures it).
//!
//! The rules are the uap-core `regexes.yaml` that the `ua-parser` crate (the ua-parser project's
//! Rust port) ships; `build.rs` turns that file into the statics included below. Matching gives
//! exactly what `ua_parser::Extractor` gives over those rules (a test checks it against that crate
//! on every agent of the shared datasets and uap-core's test corpus): the same pattern rewriting,
//! first matching rule of each list, and the same replacement semantics (`$1`..`$9` expansion,
//! trimming, empty captures treated as absent). The field assembly follows `UserAgentProcessor`:
//! name `Other` when no agent rule matches; versions are `major[.minor[.patch[.build]]]`, each
//! part only after the previous one; the OS object only when an OS rule matches, with
//! `version`/`full` only when it has a major; device name `Other` when no device rule matches.
//!
//! Compiling all ~1,200 regexes up front took most of a small run's time (~75 ms), so each rule's
//! regex is compiled on first use, and a rule is tried only on agents that contain one of its
//! necessary literals. Everything about the patterns that does not depend on the input is done by
//! `build.rs` with the code in [`literals`] (which this module shares with it): rewriting each
//! pattern as `ua-parser` compiles it and reading its necessary literals from the text (several ms
//! of CPU when it was done at run time). What is left for the first record that needs one of these
//! fields is building each list's literal automaton from the generated table (~2,700 literals,
//! ~1.5-2 ms on one thread). An AWS tool's agent compiles a handful of regexes, a browser's up to
//! ~200 (most device rules need only `; ` and `) AppleWebKit`); the ~290 distinct agents of the
//! shared datasets and the tests' list compile ~330. A rule set that never reads these fields
//! pays nothing.
//!
//! The patterns are compiled with `regex-lite`, not `regex`: ~6 µs a pattern instead of ~75 µs
//! (`regex` builds forward and reverse NFAs over Unicode classes, extracts literals and builds
//! a prefilter; `regex-lite` parses into one small NFA run by a PikeVM). Its searches are
//! slower, but each distinct agent is parsed once per thread (the cache below). The 8 agents of
//! a 1 GB benchmark's alerts compile ~195 regexes: ~15 ms of CPU with `regex`, ~1.2 ms with
//! `regex-lite`. The answers are `regex`'s (the differential test checks them): by
//! construction every rewritten pattern is ASCII, its shorthand classes are spelled out in
//! ASCII and `\b` is `(?-u:\b)`, which is what `regex-lite`'s `\b` means; both crates read
//! `&str` haystacks by code point (`.` and negated classes match one scalar value, bounded
//! repetitions count scalar values), use leftmost-first semantics with the same capture rules,
//! and expand `$1`/`${name}` with the same code. The one difference left is case folding:
//! `regex-lite` folds ASCII only, while `regex` folds Unicode, where `k` also matches `K` (U+212A)
//! and `s` matches `ſ` (U+017F). On an ASCII agent the two are the same, so a case-insensitive
//! (device) rule runs on `regex-lite` only for ASCII agents, and on `regex` (compiled then) for
//! the others.
//!
//! Where this can differ from Elasticsearch (none of it shows in Elastic's pipeline fixtures):
//! - Rule data: uap-core 0.18.0 as `ua-parser` 0.2.2 ships it, while Elasticsearch bundles its own
//!   copy of `regexes.yaml` whose version follows the Elasticsearch release; an agent whose rule
//!   changed between the two gets another name, version or device.
//! - Replacements: `ua-parser` expands `$1`..`$9` in every replacement, trims the result and treats
//!   empty captures as absent; Elasticsearch substitutes only the first `$1` of the name/OS/device
//!   replacement, uses version replacements literally (three uap-core OS rules have
//!   `os_v1_replacement: '$1'`, which Elasticsearch emits as the text `$1`) and keeps empty
//!   captures as empty strings.
//! - A `userAgent` that is not a string makes the processor fail the document in Elasticsearch:
//!   dragnet reports it the same way (`mapping::user_agent_failure`), but still maps the fields
//!   of the processors after it, which never run in Elasticsearch.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use serde_json::Value;

/// An agent or OS rule: regex, then name and four version replacements.
pub(crate) type Rule = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);
/// A device rule: regex, flag, then device, brand and model replacements.
pub(crate) type DeviceRule = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

mod rules {
    include!(concat!(env!("OUT_DIR"), "/uap_rules.rs"));
}

/// Shared with `build.rs`, which runs all of it but [`literals::fold`] (the only part used here
/// outside the tests).
#[cfg_attr(not(test), allow(dead_code))]
mod literals;

use literals::fold;

/// What `build.rs` read from one rule list with [`literals`]: per rule, its pattern as
/// `ua-parser` compiles it (after [`literals::java_classes`] and [`literals::uap_rewrite`]) and
/// the ids of its necessary literals (`None`: none known, always try the rule); the list's
/// necessary literals (folded), each once, by id.
pub(crate) struct Prefilter {
    pub(crate) patterns: &'static [(&'static str, Option<&'static [u32]>)],
    pub(crate) literals: &'static [&'static str],
}

/// One uap-core rule's pattern (as `ua-parser` compiles it), compiled on first use: with
/// `regex-lite`, or with `regex` for a case-insensitive rule on a non-ASCII agent (see the
/// module doc for why both give `regex`'s answers).
struct LazyRegex {
    pattern: &'static str,
    case_insensitive: bool,
    /// Ids in [`RuleList::literals`] of strings one of which occurs (folded) in every agent the
    /// pattern matches; `None` when no such set is known, i.e. always try the pattern.
    needs: Option<&'static [u32]>,
    lite: OnceLock<regex_lite::Regex>,
    unicode: OnceLock<regex::Regex>,
}

impl LazyRegex {
    fn new(pattern: &'static str, case_insensitive: bool, needs: Option<&'static [u32]>) -> Self {
        LazyRegex {
            pattern,
            case_insensitive,
            needs,
            lite: OnceLock::new(),
            unicode: OnceLock::new(),
        }
    }

    /// The rules are fixed at build time and covered by the tests, so a failure to compile is a
    /// build defect, not bad input.
    const COMPILES: &str = "uap-core regexes.yaml compiles";

    fn lite(&self) -> &regex_lite::Regex {
        self.lite.get_or_init(|| {
            regex_lite::RegexBuilder::new(self.pattern)
                .case_insensitive(self.case_insensitive)
                .build()
                .expect(Self::COMPILES)
        })
    }

    fn unicode(&self) -> &regex::Regex {
        self.unicode.get_or_init(|| {
            regex::RegexBuilder::new(self.pattern)
                .case_insensitive(self.case_insensitive)
                .build()
                .expect(Self::COMPILES)
        })
    }

    /// `regex`'s captures of the pattern in `agent` (`regex-lite` folds case in ASCII only, so
    /// a case-insensitive rule goes to `regex` when the agent is not ASCII).
    fn captures<'h>(&self, agent: &'h str) -> Option<Captures<'h>> {
        if self.case_insensitive && !agent.is_ascii() {
            self.unicode().captures(agent).map(Captures::Unicode)
        } else {
            self.lite().captures(agent).map(Captures::Lite)
        }
    }
}

/// A rule's match, from whichever engine ran it.
enum Captures<'h> {
    Lite(regex_lite::Captures<'h>),
    Unicode(regex::Captures<'h>),
}

impl<'h> Captures<'h> {
    /// Group `index`'s text, if it took part in the match.
    fn get(&self, index: usize) -> Option<&'h str> {
        match self {
            Captures::Lite(c) => c.get(index).map(|m| m.as_str()),
            Captures::Unicode(c) => c.get(index).map(|m| m.as_str()),
        }
    }

    /// `template` with `$1`, `${name}`... replaced (both crates' `expand` are the same code).
    fn expand(&self, template: &str, out: &mut String) {
        match self {
            Captures::Lite(c) => c.expand(template, out),
            Captures::Unicode(c) => c.expand(template, out),
        }
    }
}

/// One rule list with its prefilter: a rule's regex is compiled and run only when one of its
/// necessary literals occurs in the agent (or it has none), in list order, first match wins,
/// which gives the same answer as trying every rule in order.
struct RuleList {
    rules: Vec<LazyRegex>,
    /// Every necessary literal of the list's rules (folded), by id.
    literals: AhoCorasick,
}

impl RuleList {
    /// The list `prefilter` describes; rule `i` matches case-insensitively when
    /// `case_insensitive(i)`.
    fn new(prefilter: &'static Prefilter, case_insensitive: impl Fn(usize) -> bool) -> Self {
        let rules = prefilter
            .patterns
            .iter()
            .enumerate()
            .map(|(index, &(pattern, needs))| {
                LazyRegex::new(pattern, case_insensitive(index), needs)
            })
            .collect();
        // The non-contiguous NFA is the cheapest to build, and fast enough for a few hundred
        // bytes per distinct agent.
        let literals = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::NoncontiguousNFA))
            .build(prefilter.literals)
            .expect("a few thousand short literals build");
        RuleList { rules, literals }
    }

    /// The first rule that matches `agent` (whose fold is `folded`), with its captures.
    fn first<'h>(&self, agent: &'h str, folded: &str) -> Option<(usize, Captures<'h>)> {
        let mut present = vec![false; self.literals.patterns_len()];
        for found in self.literals.find_overlapping_iter(folded) {
            present[found.pattern().as_usize()] = true;
        }
        self.rules.iter().enumerate().find_map(|(index, rule)| {
            if let Some(needs) = rule.needs
                && !needs.iter().any(|&id| present[id as usize])
            {
                return None;
            }
            rule.captures(agent).map(|c| (index, c))
        })
    }
}

/// The three rule lists. They are built on the calling thread: with the patterns and literals
/// read at build time, that is only the literal automata (~1.5-2 ms for ~2,700 literals), which
/// spreading over three threads did not make faster on two cores (the spawns cost, and in a
/// hunt the threads compete with the workers).
struct Matcher {
    agents: RuleList,
    systems: RuleList,
    devices: RuleList,
}

impl Matcher {
    fn new() -> Self {
        Matcher {
            agents: RuleList::new(&rules::USER_AGENT_PREFILTER, |_| false),
            systems: RuleList::new(&rules::OS_PREFILTER, |_| false),
            devices: RuleList::new(&rules::DEVICE_PREFILTER, |index| {
                rules::DEVICE_PARSERS[index].1 == Some("i")
            }),
        }
    }
}

static MATCHER: LazyLock<Matcher> = LazyLock::new(Matcher::new);

/// Group `index`'s text; a group that did not take part or matched nothing counts as absent.
fn group<'h>(captures: &Captures<'h>, index: usize) -> Option<&'h str> {
    captures.get(index).filter(|s| !s.is_empty())
}

/// A replacement with `$` followed by a digit somewhere is a template.
fn is_template(replacement: &str) -> bool {
    replacement
        .as_bytes()
        .windows(2)
        .any(|pair| pair[0] == b'$' && pair[1].is_ascii_digit())
}

/// A templated OS or device field: the expansion of the template, trimmed.
fn expand(captures: &Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    captures.expand(template, &mut out);
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_string()
    }
}

/// An OS or device field that always has a value (`ua-parser`'s fully templated resolver): a
/// non-blank replacement (expanded and trimmed when it is a template, else as it is), otherwise
/// group `index`, otherwise empty.
fn required_field<'h>(
    replacement: Option<&'static str>,
    captures: &Captures<'h>,
    index: usize,
) -> Cow<'h, str> {
    match replacement.filter(|r| !r.trim().is_empty()) {
        Some(template) if is_template(template) => Cow::Owned(expand(captures, template)),
        Some(literal) => Cow::Borrowed(literal),
        None => Cow::Borrowed(group(captures, index).unwrap_or("")),
    }
}

/// An optional OS version part: as [`required_field`], but absent instead of empty (a template
/// that expands to blanks, or a missing group).
fn optional_field<'h>(
    replacement: Option<&'static str>,
    captures: &Captures<'h>,
    index: usize,
) -> Option<Cow<'h, str>> {
    match replacement.filter(|r| !r.trim().is_empty()) {
        Some(template) if is_template(template) => Some(expand(captures, template))
            .filter(|s| !s.is_empty())
            .map(Cow::Owned),
        Some(literal) => Some(Cow::Borrowed(literal)),
        None => group(captures, index).map(Cow::Borrowed),
    }
}

/// The agent family: a replacement containing `$1` gets group 1 (or nothing) in place of every
/// `$1`, untrimmed; another non-empty replacement is used as it is; else group 1 or empty.
fn family<'h>(replacement: Option<&'static str>, captures: &Captures<'h>) -> Cow<'h, str> {
    match replacement {
        Some(template) if template.contains("$1") => {
            Cow::Owned(template.replace("$1", group(captures, 1).unwrap_or("")))
        }
        Some(literal) if !literal.is_empty() => Cow::Borrowed(literal),
        _ => Cow::Borrowed(group(captures, 1).unwrap_or("")),
    }
}

/// An agent version part: a non-empty replacement as it is (never expanded), else group `index`.
fn agent_version<'h>(
    replacement: Option<&'static str>,
    captures: &Captures<'h>,
    index: usize,
) -> Option<&'h str> {
    replacement
        .filter(|r| !r.is_empty())
        .or_else(|| group(captures, index))
}

/// `major[.minor[.patch[.build]]]`, or nothing without a major (the processor's joining).
fn joined(parts: [Option<&str>; 4]) -> Option<String> {
    let mut version = String::from(parts[0]?);
    for part in &parts[1..] {
        let Some(part) = part else { break };
        version.push('.');
        version.push_str(part);
    }
    Some(version)
}

/// Distinct agents remembered per thread; CloudTrail repeats a handful of agents endlessly
/// (Elasticsearch keeps a similar cache in front of its parser).
const CACHE_ENTRIES: usize = 1024;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Fields>> =
        RefCell::new(HashMap::new());
}

/// A parse result: (field name, value) pairs.
type Fields = Vec<(&'static str, Value)>;

/// The detail fields for one user-agent string, in the processor's field names.
pub fn details(agent: &str) -> Fields {
    if let Some(hit) = CACHE.with_borrow(|cache| cache.get(agent).cloned()) {
        return hit;
    }
    let fields = parse(agent);
    CACHE.with_borrow_mut(|cache| {
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(agent.into(), fields.clone());
    });
    fields
}

fn parse(agent: &str) -> Fields {
    let matcher = &*MATCHER;
    let folded: String = agent.chars().map(fold).collect();
    let mut out = Vec::with_capacity(6);
    match matcher.agents.first(agent, &folded) {
        Some((index, c)) => {
            let (_, name, v1, v2, v3, v4) = rules::USER_AGENT_PARSERS[index];
            out.push(("user_agent.name", Value::from(family(name, &c).as_ref())));
            if let Some(version) = joined([
                agent_version(v1, &c, 2),
                agent_version(v2, &c, 3),
                agent_version(v3, &c, 4),
                agent_version(v4, &c, 5),
            ]) {
                out.push(("user_agent.version", Value::String(version)));
            }
        }
        None => out.push(("user_agent.name", Value::from("Other"))),
    }
    if let Some((index, c)) = matcher.systems.first(agent, &folded) {
        let (_, name, v1, v2, v3, v4) = rules::OS_PARSERS[index];
        let name = required_field(name, &c, 1);
        let parts = [
            optional_field(v1, &c, 2),
            optional_field(v2, &c, 3),
            optional_field(v3, &c, 4),
            optional_field(v4, &c, 5),
        ];
        out.push(("user_agent.os.name", Value::from(name.as_ref())));
        if let Some(version) = joined(parts.each_ref().map(|p| p.as_deref())) {
            out.push((
                "user_agent.os.full",
                Value::String(format!("{name} {version}")),
            ));
            out.push(("user_agent.os.version", Value::String(version)));
        }
    }
    let device = matcher.devices.first(agent, &folded).map(|(index, c)| {
        let (_, _, name, _, _) = rules::DEVICE_PARSERS[index];
        required_field(name, &c, 1).into_owned()
    });
    out.push((
        "user_agent.device.name",
        Value::from(device.as_deref().unwrap_or("Other")),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::literals::{
        Literals, MAX_LITERALS, Times, alternation_literals, better, cross, java_classes,
        pattern_literals, repeated, uap_rewrite,
    };
    use super::*;
    use regex_syntax::ast::{self, Ast};

    /// A bracketed class that is a few literal ASCII characters (`[Kk]`, `[-_]`): their folds.
    fn class_chars(class: &ast::ClassBracketed) -> Option<Vec<String>> {
        use ast::{ClassSet, ClassSetItem};
        if class.negated {
            return None;
        }
        let ClassSet::Item(item) = &class.kind else {
            return None;
        };
        let items = match item {
            ClassSetItem::Union(union) => union.items.as_slice(),
            single => std::slice::from_ref(single),
        };
        let mut out: Vec<String> = Vec::new();
        for item in items {
            let ClassSetItem::Literal(literal) = item else {
                return None;
            };
            if !literal.c.is_ascii() {
                return None;
            }
            let s = fold(literal.c).to_string();
            if !out.contains(&s) {
                out.push(s);
            }
        }
        (!out.is_empty() && out.len() <= 4).then_some(out)
    }

    /// The reference for [`pattern_literals`]: the same reading of `regex-syntax`'s syntax tree.
    /// Literals of a parsed pattern. Sound for the whole-pattern case-insensitive flag and inline
    /// flags alike because everything is folded; non-ASCII literals are not used (their case-
    /// insensitive matches do not fold together).
    fn ast_literals(node: &Ast) -> Literals {
        use ast::{RepetitionKind, RepetitionRange};
        match node {
            Ast::Empty(_) | Ast::Flags(_) | Ast::Assertion(_) => {
                Literals::exact(vec![String::new()])
            }
            Ast::Literal(literal) if literal.c.is_ascii() => {
                Literals::exact(vec![fold(literal.c).to_string()])
            }
            Ast::ClassBracketed(class) => match class_chars(class) {
                Some(set) => Literals::exact(set),
                None => Literals::default(),
            },
            Ast::Literal(_) | Ast::Dot(_) | Ast::ClassUnicode(_) | Ast::ClassPerl(_) => {
                Literals::default()
            }
            Ast::Group(group) => ast_literals(&group.ast),
            Ast::Repetition(repetition) => {
                // How a repetition combines is shared with the scanner too; the reference
                // is in which quantifier the pattern holds.
                let times = match &repetition.op.kind {
                    RepetitionKind::ZeroOrOne => Times::Optional,
                    RepetitionKind::ZeroOrMore
                    | RepetitionKind::Range(
                        RepetitionRange::Exactly(0)
                        | RepetitionRange::AtLeast(0)
                        | RepetitionRange::Bounded(0, _),
                    ) => Times::MaybeNone,
                    RepetitionKind::OneOrMore | RepetitionKind::Range(_) => Times::AtLeastOnce,
                };
                repeated(ast_literals(&repetition.ast), times)
            }
            // How alternatives combine is shared with the scanner; the reference is in how
            // the pattern is read.
            Ast::Alternation(alternation) => {
                alternation_literals(alternation.asts.iter().map(ast_literals).collect())
            }
            Ast::Concat(concat) => {
                // `run`: the exact strings of the children since the last break.
                let mut run = vec![String::new()];
                let mut whole = true;
                let mut best = None;
                for child in &concat.asts {
                    let child = ast_literals(child);
                    match child.exact {
                        Some(set) if run.len() * set.len() <= MAX_LITERALS => {
                            run = cross(run, &set)
                        }
                        Some(set) => {
                            best = better(best, Literals::exact(run).required());
                            run = set;
                            whole = false;
                        }
                        None => {
                            best = better(best, Literals::exact(run).required());
                            best = better(best, child.necessary);
                            run = vec![String::new()];
                            whole = false;
                        }
                    }
                }
                if whole {
                    return Literals::exact(run);
                }
                Literals::necessary(better(best, Literals::exact(run).required()))
            }
        }
    }

    fn get(fields: &[(&'static str, Value)], name: &str) -> Option<String> {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str().unwrap().to_string())
    }

    fn check(agent: &str, want: &[(&str, Option<&str>)]) {
        let fields = details(agent);
        for (name, value) in want {
            assert_eq!(
                get(&fields, name).as_deref(),
                *value,
                "{name} of {agent:?} (all: {fields:?})"
            );
        }
    }

    #[test]
    fn shorthand_classes_are_spelled_as_java_reads_them() {
        assert_eq!(java_classes(r"(\d+)\.(\w)"), r"([0-9]+)\.([0-9A-Za-z_])");
        assert_eq!(java_classes(r"[\d.]+\b"), r"[0-9.]+(?-u:\b)");
        assert_eq!(
            java_classes(r"[^.\s]\S"),
            r"[^.\t\n\x0B\f\r ][^\t\n\x0B\f\r ]"
        );
        // Escaped backslashes and other escapes stay as they are.
        assert_eq!(java_classes(r"a\\d\/\p{L}"), r"a\\d\/\p{L}");
        assert!(matches!(java_classes("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn digits_are_ascii_as_in_java() {
        // Java's `\d` is [0-9]: an Arabic-Indic major version is not a version.
        let fields = parse("Firefox/\u{0663}\u{0664}.0");
        assert!(
            !fields.iter().any(|(k, _)| *k == "user_agent.version"),
            "{fields:?}"
        );
        let fields = parse("Firefox/34.0");
        assert!(
            fields.contains(&("user_agent.version", Value::from("34.0"))),
            "{fields:?}"
        );
    }

    #[test]
    fn aws_cli_v2_is_named_aws_cli_without_an_os() {
        check(
            "aws-cli/2.13.5 Python/3.11.4 Linux/5.10.184-175.749.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/s3.ls",
            &[
                ("user_agent.name", Some("aws-cli")),
                ("user_agent.version", Some("2.13.5")),
                ("user_agent.device.name", Some("Other")),
            ],
        );
    }

    #[test]
    fn aws_cli_v1_with_botocore_is_a_spider_device_on_linux() {
        // Elastic's own pipeline test expects exactly this (test-assume-role-email-session).
        check(
            "aws-cli/1.16.248 Python/3.4.7 Linux/4.9.184-0.1.ac.235.83.329.metal1.x86_64 botocore/1.12.239",
            &[
                ("user_agent.name", Some("aws-cli")),
                ("user_agent.version", Some("1.16.248")),
                ("user_agent.os.name", Some("Linux")),
                ("user_agent.os.version", Some("4.9.184")),
                ("user_agent.os.full", Some("Linux 4.9.184")),
                ("user_agent.device.name", Some("Spider")),
            ],
        );
    }

    #[test]
    fn boto3_is_named_boto3() {
        check(
            "Boto3/1.28.2 md/Botocore#1.31.2 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.11.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.2",
            &[
                ("user_agent.name", Some("Boto3")),
                ("user_agent.version", Some("1.28.2")),
            ],
        );
    }

    #[test]
    fn chrome_console_keeps_four_version_parts() {
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
            &[
                ("user_agent.name", Some("Chrome")),
                ("user_agent.version", Some("134.0.0.0")),
                ("user_agent.os.name", Some("Windows")),
                ("user_agent.os.version", Some("10")),
                ("user_agent.os.full", Some("Windows 10")),
                ("user_agent.device.name", Some("Other")),
            ],
        );
    }

    #[test]
    fn firefox_has_a_two_part_version() {
        check(
            "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0",
            &[
                ("user_agent.name", Some("Firefox")),
                ("user_agent.version", Some("24.0")),
                ("user_agent.os.full", Some("Windows 7")),
            ],
        );
    }

    #[test]
    fn aws_service_agents_are_other() {
        for agent in [
            "AWS Internal",
            "console.amazonaws.com",
            "ssm.amazonaws.com",
            "signin.amazonaws.com",
        ] {
            check(
                agent,
                &[
                    ("user_agent.name", Some("Other")),
                    ("user_agent.version", None),
                    ("user_agent.os.name", None),
                    ("user_agent.device.name", Some("Other")),
                ],
            );
        }
    }

    #[test]
    fn cached_answers_equal_fresh_ones() {
        let agent = "Boto3/1.28.2 md/Botocore#1.31.2 ua/2.0 os/linux#5.10.0 Botocore/1.31.2";
        let fresh = parse(agent);
        assert_eq!(details(agent), fresh);
        assert_eq!(details(agent), fresh);
    }

    #[test]
    fn version_parts_stop_at_the_first_missing_one() {
        assert_eq!(joined([None, Some("1"), None, None]), None);
        assert_eq!(
            joined([Some("1"), None, Some("3"), None]).as_deref(),
            Some("1")
        );
        assert_eq!(
            joined([Some("1"), Some("2"), Some("3"), Some("4")]).as_deref(),
            Some("1.2.3.4")
        );
    }

    /// Every character that a case-insensitive ASCII literal matches folds to what the literal
    /// folds to: what makes folding both sides sound for the `i` device rules.
    #[test]
    fn case_insensitive_matches_fold_like_their_literal() {
        use regex_syntax::hir::{Class, HirKind};
        for byte in 0x20u8..0x7f {
            let c = char::from(byte);
            let pattern = format!("(?i){}", regex_syntax::escape(&c.to_string()));
            let hir = regex_syntax::parse(&pattern).unwrap();
            let chars: Vec<char> = match hir.kind() {
                HirKind::Literal(literal) => {
                    std::str::from_utf8(&literal.0).unwrap().chars().collect()
                }
                HirKind::Class(Class::Unicode(class)) => class
                    .iter()
                    .flat_map(|range| range.start()..=range.end())
                    .collect(),
                other => panic!("{pattern}: {other:?}"),
            };
            for m in chars {
                assert_eq!(fold(m), fold(c), "{pattern} matches {m:?}");
            }
        }
    }

    #[test]
    fn uap_rewrite_turns_long_bounded_repetitions_unbounded() {
        let rewrite = |p: &'static str| uap_rewrite(Cow::Borrowed(p)).into_owned();
        assert_eq!(rewrite(".{0,2}x"), ".{0,2}x");
        assert_eq!(rewrite(".{0,20}x"), ".{0,20}x");
        assert_eq!(rewrite("(.{0,100})"), "(.*)");
        assert_eq!(rewrite("(.{1,50})"), "(.{1,50})");
        assert_eq!(rewrite(".{1,300}x"), ".+x");
        assert_eq!(
            rewrite("; {0,2}(SH\\-?[0-9][^;/]{1,100}|SBM[0-9][^;/]{1,100}?)(?: Build)"),
            "; {0,2}(SH\\-?[0-9][^;/]+|SBM[0-9][^;/]+?)(?: Build)"
        );
        assert_eq!(rewrite(r"\{1,200}"), r"\{1,200}");
        assert_eq!(rewrite("[.{1,100}]"), "[.{1,100}]");
        assert_eq!(rewrite(r"\dx\W"), "[0-9]x[^A-Za-z0-9_]");
        assert_eq!(rewrite(r"[\D]\\d"), r"[[^0-9]]\\d");
        assert_eq!(rewrite("{0,100}a\\d"), "{0,100}a\\d");
        assert!(matches!(uap_rewrite(Cow::Borrowed("a+")), Cow::Borrowed(_)));
    }

    fn necessary(pattern: &str) -> Option<Vec<String>> {
        let mut set = pattern_literals(pattern).required()?;
        set.sort();
        let mut reference =
            ast_literals(&ast::parse::Parser::new().parse(pattern).unwrap()).required()?;
        reference.sort();
        assert_eq!(set, reference, "{pattern}");
        Some(set)
    }

    /// The prefilter statics `build.rs` wrote hold, for every shipped rule, the pattern as
    /// `ua-parser` compiles it and exactly the literals the text scan reads from it, and the scan
    /// reads every rule exactly as the syntax tree reads it.
    #[test]
    fn generated_prefilters_are_the_scan_of_every_rule_and_agree_with_the_syntax_tree() {
        let sorted = |set: Option<Vec<String>>| {
            set.map(|mut s| {
                s.sort();
                s
            })
        };
        let lists = [
            (
                &rules::USER_AGENT_PREFILTER,
                rules::USER_AGENT_PARSERS
                    .iter()
                    .map(|r| r.0)
                    .collect::<Vec<_>>(),
            ),
            (
                &rules::OS_PREFILTER,
                rules::OS_PARSERS.iter().map(|r| r.0).collect(),
            ),
            (
                &rules::DEVICE_PREFILTER,
                rules::DEVICE_PARSERS.iter().map(|r| r.0).collect(),
            ),
        ];
        for (prefilter, regexes) in lists {
            assert_eq!(prefilter.patterns.len(), regexes.len());
            let mut used = vec![false; prefilter.literals.len()];
            for (&(generated, needs), regex) in prefilter.patterns.iter().zip(regexes) {
                let pattern = uap_rewrite(java_classes(regex));
                assert_eq!(generated, pattern, "{regex}");
                let scanned = sorted(pattern_literals(&pattern).required());
                let tree = ast::parse::Parser::new().parse(&pattern).unwrap();
                assert_eq!(scanned, sorted(ast_literals(&tree).required()), "{pattern}");
                let needs = needs.map(|ids| {
                    ids.iter()
                        .map(|&id| {
                            used[id as usize] = true;
                            prefilter.literals[id as usize].to_string()
                        })
                        .collect()
                });
                assert_eq!(sorted(needs), scanned, "{pattern}");
            }
            // Each literal once, and each one some rule's.
            let distinct: std::collections::HashSet<_> = prefilter.literals.iter().collect();
            assert_eq!(distinct.len(), prefilter.literals.len());
            assert!(used.iter().all(|&u| u));
        }
    }

    #[test]
    fn necessary_literals_of_patterns() {
        let set = |items: &[&str]| Some(items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(necessary("(Firefox)/(\\d+)"), set(&["firefox/"]));
        assert_eq!(necessary("(?:Mobile|Tablet);.*Firefox"), set(&["firefox"]));
        assert_eq!(necessary("(Fire|Ice)fox"), set(&["firefox", "icefox"]));
        assert_eq!(necessary("colou?r"), set(&["color", "colour"]));
        assert_eq!(necessary("[Kk]indle"), set(&["kindle"]));
        assert_eq!(necessary("^(\\w+)/(\\d+)"), set(&["/"]));
        // Optional or repeated-from-zero parts give nothing.
        assert_eq!(necessary("(?:abc)?"), None);
        assert_eq!(necessary("(?:abc)*x?"), None);
        assert_eq!(necessary("abc|.+"), None);
        assert_eq!(necessary("abc|"), None);
        assert_eq!(necessary("[^a]+"), None);
        // Non-ASCII literals are never used.
        assert_eq!(necessary("é"), None);
        assert_eq!(necessary("xé(?:yz)+"), set(&["yz"]));
    }

    /// Rule indices whose regex has been compiled so far, per list.
    fn compiled() -> [usize; 3] {
        let m = &*MATCHER;
        [&m.agents, &m.systems, &m.devices].map(|list| {
            list.rules
                .iter()
                .filter(|r| r.lite.get().is_some() || r.unicode.get().is_some())
                .count()
        })
    }

    #[test]
    fn prefilter_setup_is_cheap_and_covers_every_rule() {
        let start = std::time::Instant::now();
        let matcher = Matcher::new();
        let elapsed = start.elapsed();
        let all = [&matcher.agents, &matcher.systems, &matcher.devices];
        let without = all.map(|list| list.rules.iter().filter(|r| r.needs.is_none()).count());
        eprintln!(
            "prefilter: {} literals for {} rules ({without:?} without literals) in {elapsed:?}",
            all.iter().map(|l| l.literals.patterns_len()).sum::<usize>(),
            all.iter().map(|l| l.rules.len()).sum::<usize>(),
        );
        // Every uap-core rule has a necessary literal today; a rule without one would still be
        // correct (always tried), just slower.
        assert_eq!(without, [0, 0, 0]);
    }

    /// What makes `regex-lite` give `regex`'s answers (module doc): every rule is ASCII, and
    /// compiles with `regex-lite` (and the case-insensitive ones with `regex` too).
    #[test]
    fn every_rule_is_ascii_and_compiles_with_both_engines() {
        let matcher = Matcher::new();
        for list in [&matcher.agents, &matcher.systems, &matcher.devices] {
            for rule in &list.rules {
                assert!(rule.pattern.is_ascii(), "{}", rule.pattern);
                rule.lite();
                if rule.case_insensitive {
                    rule.unicode();
                }
            }
        }
    }

    /// A case-insensitive rule sees `K` (Kelvin sign) as `k` only through `regex`: the
    /// non-ASCII path is taken.
    #[test]
    fn case_insensitive_rules_fold_unicode_on_non_ascii_agents() {
        let rule = LazyRegex::new("(kindle)", true, None);
        let agent = "Mozilla/5.0 (\u{212A}INDLE)";
        assert_eq!(
            rule.captures(agent).and_then(|c| c.get(1)),
            Some("\u{212A}INDLE")
        );
        assert!(rule.lite().captures(agent).is_none());
        assert_eq!(
            rule.captures("(KINDLE)").and_then(|c| c.get(1)),
            Some("KINDLE")
        );
    }

    /// The lazy compilation the module doc describes, on a matcher of its own (the shared one
    /// holds whatever the other tests compiled): a rule's regex is compiled only when one of
    /// its necessary literals occurs in the (folded) agent, and only up to the list's first
    /// matching rule. The expected set is worked out here without the prefilter: the first
    /// match by trying every rule's pattern in order with `regex`, the literals by `contains`.
    /// The module doc's claim that "an AWS tool's agent compiles a handful of regexes" is held
    /// to at most 10 of the ~1,200 rules.
    #[test]
    fn an_aws_cli_agent_compiles_few_regexes() {
        let agent = "aws-cli/2.13.5 Python/3.11.4 Linux/5.10.184-175.749.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/s3.ls";
        let folded: String = agent.chars().map(fold).collect();
        let matcher = Matcher::new();
        let lists = [
            ("agent", &matcher.agents, &rules::USER_AGENT_PREFILTER),
            ("os", &matcher.systems, &rules::OS_PREFILTER),
            ("device", &matcher.devices, &rules::DEVICE_PREFILTER),
        ];
        let mut total = 0;
        for (name, rule_list, prefilter) in lists {
            let case_insensitive =
                |index: usize| name == "device" && rules::DEVICE_PARSERS[index].1 == Some("i");
            let first_match = prefilter
                .patterns
                .iter()
                .enumerate()
                .position(|(index, p)| {
                    regex::RegexBuilder::new(p.0)
                        .case_insensitive(case_insensitive(index))
                        .build()
                        .expect("uap-core rule compiles")
                        .is_match(agent)
                });
            let tried_up_to = first_match.map_or(prefilter.patterns.len(), |m| m + 1);
            let expected: Vec<usize> = (0..tried_up_to)
                .filter(|&index| match prefilter.patterns[index].1 {
                    None => true,
                    Some(needs) => needs
                        .iter()
                        .any(|&id| folded.contains(prefilter.literals[id as usize])),
                })
                .collect();
            assert_eq!(
                rule_list.first(agent, &folded).map(|(index, _)| index),
                first_match,
                "{name} list: first matching rule"
            );
            let compiled: Vec<usize> = rule_list
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.lite.get().is_some() || r.unicode.get().is_some())
                .map(|(index, _)| index)
                .collect();
            assert_eq!(compiled, expected, "{name} list: regexes compiled");
            eprintln!("{name} list: first match {first_match:?}, compiled {compiled:?}");
            total += compiled.len();
        }
        let all =
            rules::USER_AGENT_PARSERS.len() + rules::OS_PARSERS.len() + rules::DEVICE_PARSERS.len();
        assert!(
            total <= 10,
            "an aws-cli agent compiled {total} of {all} regexes"
        );
    }

    /// The `ua-parser` crate's eager extractor, built as this module built it before matching
    /// became lazy, and the fields as they were assembled from it: the reference for
    /// [`parse`].
    mod reference {
        use super::*;
        use ua_parser::{Extractor, device, os, user_agent};

        fn borrowed(s: Option<&'static str>) -> Option<Cow<'static, str>> {
            s.map(Cow::Borrowed)
        }

        pub(super) fn extractor() -> Extractor<'static> {
            const BUILDS: &str = "uap-core regexes.yaml compiles";
            let ua = rules::USER_AGENT_PARSERS
                .iter()
                .map(|&(regex, family, v1, v2, v3, v4)| user_agent::Parser {
                    regex: java_classes(regex),
                    family_replacement: borrowed(family),
                    v1_replacement: borrowed(v1),
                    v2_replacement: borrowed(v2),
                    v3_replacement: borrowed(v3),
                    v4_replacement: borrowed(v4),
                })
                .try_fold(user_agent::Builder::new(), |b, p| b.push(p))
                .expect(BUILDS)
                .build()
                .expect(BUILDS);
            let os = rules::OS_PARSERS
                .iter()
                .map(|&(regex, name, v1, v2, v3, v4)| os::Parser {
                    regex: java_classes(regex),
                    os_replacement: borrowed(name),
                    os_v1_replacement: borrowed(v1),
                    os_v2_replacement: borrowed(v2),
                    os_v3_replacement: borrowed(v3),
                    os_v4_replacement: borrowed(v4),
                })
                .try_fold(os::Builder::new(), |b, p| b.push(p))
                .expect(BUILDS)
                .build()
                .expect(BUILDS);
            let dev = rules::DEVICE_PARSERS
                .iter()
                .map(|&(regex, flag, name, brand, model)| device::Parser {
                    regex: java_classes(regex),
                    regex_flag: (flag == Some("i")).then_some(device::Flag::IgnoreCase),
                    device_replacement: borrowed(name),
                    brand_replacement: borrowed(brand),
                    model_replacement: borrowed(model),
                })
                .try_fold(device::Builder::new(), |b, p| b.push(p))
                .expect(BUILDS)
                .build()
                .expect(BUILDS);
            Extractor { ua, os, dev }
        }

        pub(super) fn parse(parser: &Extractor<'static>, agent: &str) -> Fields {
            let (ua, os, device) = parser.extract(agent);
            let mut out = Vec::with_capacity(6);
            let name = ua.as_ref().map_or("Other", |ua| &ua.family);
            out.push(("user_agent.name", Value::from(name)));
            if let Some(version) = ua
                .as_ref()
                .and_then(|ua| joined([ua.major, ua.minor, ua.patch, ua.patch_minor]))
            {
                out.push(("user_agent.version", Value::String(version)));
            }
            if let Some(os) = &os {
                out.push(("user_agent.os.name", Value::from(os.os.as_ref())));
                if let Some(version) = joined([
                    os.major.as_deref(),
                    os.minor.as_deref(),
                    os.patch.as_deref(),
                    os.patch_minor.as_deref(),
                ]) {
                    out.push((
                        "user_agent.os.full",
                        Value::String(format!("{} {version}", os.os)),
                    ));
                    out.push(("user_agent.os.version", Value::String(version)));
                }
            }
            let device = device.as_ref().map_or("Other", |d| &d.device);
            out.push(("user_agent.device.name", Value::from(device)));
            out
        }
    }

    /// Hand-picked agents: browsers, mobiles, bots, AWS tools and SDKs, odd strings.
    const AGENTS: &[&str] = &[
        "",
        " ",
        "-",
        "AWS Internal",
        "console.amazonaws.com",
        "signin.amazonaws.com",
        "ssm.amazonaws.com",
        "cloudformation.amazonaws.com",
        "[aws-cli/2.15.0 Python/3.11.6 Darwin/23.1.0 exe/x86_64 prompt/off command/sts.get-caller-identity]",
        "aws-cli/2.13.5 Python/3.11.4 Linux/5.10.184-175.749.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/s3.ls",
        "aws-cli/1.16.248 Python/3.4.7 Linux/4.9.184-0.1.ac.235.83.329.metal1.x86_64 botocore/1.12.239",
        "aws-cli/1.18.69 Python/2.7.18 Windows/10 botocore/1.17.0",
        "Boto3/1.28.2 md/Botocore#1.31.2 ua/2.0 os/linux#5.10.0 md/arch#x86_64 lang/python#3.11.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.2",
        "Boto3/1.9.201 Python/2.7.16 Linux/4.14.133-113.105.amzn2.x86_64 exec-env/AWS_Lambda_python2.7 Botocore/1.12.201",
        "aws-sdk-go/1.44.122 (go1.19.2; linux; amd64)",
        "aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.22.0",
        "aws-sdk-java/1.12.470 Linux/5.10.178-162.673.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b07 java/1.8.0_372 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
        "aws-sdk-js/2.1386.0 promise",
        "aws-sdk-nodejs/2.1386.0 linux/v18.16.0 exec-env/AWS_Lambda_nodejs18.x",
        "aws-sdk-dotnet-coreclr/3.7.100.1 aws-sdk-dotnet-core/3.7.100.1 .NET_Core/6.0.16 OS/Microsoft_Windows_10.0.17763 ClientAsync",
        "aws-sdk-ruby3/3.171.0 ruby/3.1.2 x86_64-linux aws-sdk-s3/1.119.0",
        "aws-sdk-rust/0.56.1 os/linux lang/rust/1.72.0",
        "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.17.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.45.11 (go1.20.8; linux; amd64)",
        "aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.184 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372",
        "S3Console/0.4, aws-internal/3 aws-sdk-java/1.11.1002",
        "AWSPowerShell.Common/4.1.90.0 .NET_Runtime/4.0 .NET_Framework/4.0 OS/Microsoft_Windows_NT_10.0.19045.0 WindowsPowerShell/5.0 ClientSync",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.3.3 like Chrome/120.0.6099.230 Safari/537.36",
        "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
        "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
        "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "curl/8.4.0",
        "Wget/1.21.4",
        "python-requests/2.31.0",
        "Go-http-client/1.1",
        "okhttp/4.12.0",
        "Apache-HttpClient/4.5.13 (Java/17.0.8)",
        "PostmanRuntime/7.36.0",
        "Dalvik/2.1.0 (Linux; U; Android 11; SM-A515F Build/RP1A.200720.012)",
        "SAMSUNG SM-G960F/G960FXXU1ARC5 Tizen/3.0 Profile/MIDP-2.0",
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/2.2 Chrome/63.0.3239.84 TV Safari/537.36",
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.15063",
        "SznProhlizec/7.0.1 Seznam prohlížeč",
        "Mozilla/5.0 (Linux; Android 7.0; \u{212A}INDLE Fire) Safari/537.36",
        "Firefox/\u{0663}\u{0664}.0",
        "Mozilla/5.0 (ſamſung; Android 12) Chrome/100.0",
        "日本語のユーザーエージェント/1.0 (テスト)",
        "🦀 Rust/1.95 (emoji; ünïcödé)",
        "Mozilla/5.0 (Linux; Android 4.4.2; SAMSUNG-SM-T537A Build/KOT49H) AppleWebKit/537.36",
        "HTC_Touch_3G Mozilla/4.0 (compatible; MSIE 6.0; Windows CE; IEMobile 7.11)",
        "BlackBerry9700/5.0.0.351 Profile/MIDP-2.1 Configuration/CLDC-1.1 VendorID/123",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Amazon CloudFront",
        "ELB-HealthChecker/2.0",
    ];

    fn dataset_agents(dir: &std::path::Path, out: &mut std::collections::BTreeSet<String>) {
        use std::io::Read;
        fn collect(value: &Value, out: &mut std::collections::BTreeSet<String>) {
            match value {
                Value::Object(map) => {
                    for (key, v) in map {
                        match v {
                            Value::String(s) if key == "userAgent" => {
                                out.insert(s.clone());
                            }
                            _ => collect(v, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
                _ => {}
            }
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dataset_agents(&path, out);
                continue;
            }
            let name = path.to_string_lossy();
            if !(name.ends_with(".json") || name.ends_with(".json.gz") || name.ends_with(".jsonl"))
            {
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            if bytes.starts_with(&[0x1f, 0x8b]) {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_end(&mut plain)
                    .unwrap();
                bytes = plain;
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(value) => collect(&value, out),
                Err(_) => {
                    for line in bytes.split(|&b| b == b'\n') {
                        if let Ok(value) = serde_json::from_slice::<Value>(line) {
                            collect(&value, out);
                        }
                    }
                }
            }
        }
    }

    /// `user_agent_string:` values of uap-core's test files (and the lines of its plain-text
    /// lists) in the `ua-parser` package, found as build.rs finds it; none when cargo cannot say.
    fn uap_core_test_agents() -> Vec<String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // Only this platform's packages are on disk (build.rs filters the same way).
        let host = std::process::Command::new("rustc")
            .arg("-vV")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
            })
            .unwrap_or_default();
        let Ok(output) = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline"])
            .args(["--filter-platform", &host, "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .output()
        else {
            return Vec::new();
        };
        let Ok(metadata) = serde_json::from_slice::<Value>(&output.stdout) else {
            return Vec::new();
        };
        let Some(manifest) = metadata["packages"].as_array().and_then(|packages| {
            packages
                .iter()
                .find(|p| p["name"] == "ua-parser")
                .and_then(|p| p["manifest_path"].as_str())
        }) else {
            return Vec::new();
        };
        let core = std::path::Path::new(manifest).with_file_name("uap-core");
        let mut agents = Vec::new();
        for dir in ["tests", "test_resources"] {
            let Ok(entries) = std::fs::read_dir(core.join(dir)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if path.extension().is_some_and(|e| e == "txt") {
                    // `name<TAB>version<TAB>agent` lines, or one agent per line.
                    agents.extend(
                        text.lines()
                            .map(|l| l.rsplit('\t').next().unwrap().to_string()),
                    );
                    continue;
                }
                for line in text.lines() {
                    let Some(rest) = line.trim_start().strip_prefix("- user_agent_string:") else {
                        continue;
                    };
                    let rest = rest.trim();
                    // Quoting is undone roughly: any string is a valid input here.
                    let agent = if let Some(s) = rest.strip_prefix('\'') {
                        s.strip_suffix('\'').unwrap_or(s).replace("''", "'")
                    } else if rest.starts_with('"') {
                        serde_json::from_str::<String>(rest)
                            .unwrap_or_else(|_| rest.trim_matches('"').to_string())
                    } else {
                        rest.to_string()
                    };
                    agents.push(agent);
                }
            }
        }
        agents
    }

    #[test]
    fn lazy_matching_equals_the_ua_parser_extractor() {
        let reference = reference::extractor();
        let mut agents: std::collections::BTreeSet<String> =
            AGENTS.iter().map(|s| s.to_string()).collect();
        let hand_written = agents.len();
        if let Some(datasets) = dragnet_testdata::shared("datasets/cloudtrail") {
            dataset_agents(&datasets, &mut agents);
        }
        let from_datasets = agents.len() - hand_written;
        let corpus = uap_core_test_agents();
        eprintln!(
            "{hand_written} hand-written agents, {from_datasets} more from the datasets, {} from uap-core's tests",
            corpus.len()
        );
        assert!(from_datasets > 20 || dragnet_testdata::shared("datasets/cloudtrail").is_none());
        let mut mismatches = Vec::new();
        for agent in &agents {
            parse(agent);
        }
        let [a, o, d] = compiled();
        eprintln!(
            "regexes compiled for those {} agents (and other tests running): {a} + {o} + {d} of {}",
            agents.len(),
            MATCHER.agents.rules.len() + MATCHER.systems.rules.len() + MATCHER.devices.rules.len()
        );
        for agent in agents.iter().chain(&corpus) {
            let want = reference::parse(&reference, agent);
            let got = parse(agent);
            if got != want {
                mismatches.push(format!("{agent:?}\n  lazy:  {got:?}\n  eager: {want:?}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{} mismatches:\n{}",
            mismatches.len(),
            mismatches[..mismatches.len().min(20)].join("\n")
        );
    }
}
